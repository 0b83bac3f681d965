//! BuildKit's verdict on many Dockerfiles from few tally processes.
//!
//! tally embeds BuildKit's Dockerfile parser and its checks. One `tally
//! lint` lints many files, but it stops at the first one BuildKit rejects
//! (exit 2 for a parse error, 4 for a later check such as a file with no
//! stage), naming that file in its last message (`Error: failed to lint
//! FILE: ...` or `Error: FILE:LINE: ...`); it parses every file before it
//! checks any, so the file it names is not always the first rejected one in
//! order. So a batch is linted in one process; a named file is recorded as
//! rejected and the rest is split in two and linted again, and a failure
//! that names no file of the batch is split until one file is left. Nearly
//! all files are accepted, so a batch of hundreds takes a few processes.
//! Its lint rules are all turned off (`--ignore '*'`): they only report,
//! never reject, and they are nine tenths of its time.
//!
//! tally refuses a file that is not UTF-8 ("does not appear to be valid
//! UTF-8 text"); BuildKit does not (a Latin-1 comment and RUN build on
//! Docker 26, the RUN's byte read as U+FFFD). BuildKit's parser reads an
//! invalid byte as U+FFFD, a character it never looks at, except in the
//! flags before a RUN's command, which it reads byte by byte, where 0x85 and
//! 0xA0 are blanks. So tally gets each invalid byte as U+FFFD, unless one of
//! them is 0x85 or 0xA0, and then the bytes as they are (and its refusal).

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Tally {
    path: PathBuf,
    /// tally processes run so far.
    pub processes: std::cell::Cell<usize>,
}

impl Tally {
    /// tally from `DOCKFIX_TALLY`, None when it is not set; a path that does
    /// not exist fails.
    pub fn from_env() -> Option<Tally> {
        let path = PathBuf::from(std::env::var_os("DOCKFIX_TALLY")?);
        assert!(
            path.is_file(),
            "DOCKFIX_TALLY={} does not exist",
            path.display()
        );
        Some(Tally::new(path))
    }

    pub fn new(path: PathBuf) -> Tally {
        Tally {
            path,
            processes: Default::default(),
        }
    }

    /// For each file, None when BuildKit accepts it, else tally's message.
    pub fn verdicts(&self, files: &[&[u8]]) -> Vec<Option<String>> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let width = files.len().to_string().len().max(6);
        let names: Vec<String> = (0..files.len())
            .map(|i| format!("{i:0width$}.Dockerfile"))
            .collect();
        for (name, contents) in names.iter().zip(files) {
            std::fs::write(dir.path().join(name), as_buildkit_reads(contents))
                .expect("a temporary file");
        }
        let mut verdicts = vec![None; files.len()];
        let all: Vec<usize> = (0..files.len()).collect();
        self.settle(dir.path(), &names, &all, &mut verdicts);
        verdicts
    }

    /// Lints `batch` (indices into `names`) in one process, and the parts
    /// of it still unsettled after a failure in further ones.
    fn settle(
        &self,
        dir: &Path,
        names: &[String],
        batch: &[usize],
        verdicts: &mut [Option<String>],
    ) {
        if batch.is_empty() {
            return;
        }
        self.processes.set(self.processes.get() + 1);
        let output = Command::new(&self.path)
            .args([
                "lint",
                "--slow-checks",
                "off",
                "--no-config",
                "--ignore",
                "*",
            ])
            .args(batch.iter().map(|&i| &names[i]))
            .current_dir(dir)
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", self.path.display()));
        if matches!(output.status.code(), Some(0 | 1)) {
            return;
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let message = stderr
            .lines()
            .rev()
            .find(|l| l.starts_with("Error: "))
            .unwrap_or(&stderr);
        let named = batch.iter().position(|&i| {
            let name = format!("{}:", names[i]);
            message
                .split_whitespace()
                .any(|word| word.starts_with(&name))
        });
        let rest: Vec<usize> = match named {
            Some(at) => {
                verdicts[batch[at]] = Some(message.to_string());
                batch.iter().copied().filter(|&i| i != batch[at]).collect()
            }
            None if batch.len() == 1 => {
                verdicts[batch[0]] = Some(format!("{}: {}", output.status, stderr.trim()));
                return;
            }
            None => batch.to_vec(),
        };
        let (left, right) = rest.split_at(rest.len() / 2);
        self.settle(dir, names, left, verdicts);
        self.settle(dir, names, right, verdicts);
    }
}

/// Whether a rejection is tally's own, not BuildKit's: tally crashed, its
/// checks of the syntax directive (spelling, white space: BuildKit takes
/// any directive, and only fails when it cannot pull the image it names),
/// or its refusal of a file that is not UTF-8 (given as it is; see the
/// module's comment).
pub fn is_tally_own(message: &str) -> bool {
    message.contains("panic: ")
        || message.contains(": syntax directive \"")
        || message.contains("does not appear to be valid UTF-8 text")
}

/// The bytes tally is given for a file (see the module's comment).
fn as_buildkit_reads(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let blank =
        |chunk: std::str::Utf8Chunk| chunk.invalid().iter().any(|b| matches!(b, 0x85 | 0xa0));
    if bytes.utf8_chunks().any(blank) {
        return bytes.into();
    }
    match String::from_utf8_lossy(bytes) {
        std::borrow::Cow::Borrowed(_) => bytes.into(),
        std::borrow::Cow::Owned(text) => text.into_bytes().into(),
    }
}
