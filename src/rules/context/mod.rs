//! Build context hygiene (DF6xx): what a copy of the build context sends
//! to the builder and puts into the image that no build needs (DF601), or
//! that no image should hold (DF602). Both propose `.dockerignore` lines.

pub mod secrets_in_context;
pub mod unneeded_context;

use std::path::Path;
use std::rc::Rc;

use crate::cache::{context_reads, selects, ContextRead};
use crate::context::wildcard_match;
use crate::deps::DepCommand;
use crate::dockerignore::DockerIgnore;
use crate::facts::context_files::Listing;
use crate::rules::{Append, Applicability, Context, Finding, Fix, Rule};
use crate::syntax::Instruction;

/// The build context on disk, as its `.dockerignore` leaves it, and the
/// instructions that read it.
struct Sent<'f> {
    root: &'f Path,
    ignore: Rc<DockerIgnore>,
    listing: Rc<Listing>,
    reads: Vec<ContextRead<'f>>,
    /// What each read's `--exclude` flags leave out, read once.
    excludes: Vec<DockerIgnore>,
}

impl<'f> Sent<'f> {
    /// None without a build context on disk that fixes may write to, or
    /// when nothing reads it.
    fn of(cx: &Context<'f>) -> Option<Sent<'f>> {
        let root = cx.build_context.filter(|_| cx.companions)?;
        let reads = context_reads(cx.stages());
        if reads.is_empty() {
            return None;
        }
        let ignore = cx.dockerignore();
        let listing = cx.file_fact("context listing", || Rc::new(Listing::of(root, &ignore)));
        let excludes = reads
            .iter()
            .map(|read| match &read.sources {
                Ok((_, excludes)) => DockerIgnore::parse(&excludes.join("\n")),
                Err(_) => DockerIgnore::default(),
            })
            .collect();
        Some(Sent {
            root,
            ignore,
            listing,
            reads,
            excludes,
        })
    }

    /// The reads that take `path` (or may: sources dockfix cannot read).
    fn takers(&self, path: &str) -> Vec<&ContextRead<'f>> {
        self.reads
            .iter()
            .zip(&self.excludes)
            .filter(|(read, excludes)| match &read.sources {
                Ok((sources, _)) => {
                    sources.iter().any(|s| selects(s, path)) && !excludes.excludes(path)
                }
                Err(_) => true,
            })
            .map(|(read, _)| read)
            .collect()
    }

    /// Whether a line for `path` may be added: `.dockerignore` does not
    /// bring back anything under it with a `!` pattern (appended after
    /// that pattern, the line would undo it).
    fn may_append(&self, path: &str) -> bool {
        !self.ignore.exception_under(path)
    }

    /// Whether `path` is a directory whose contents `.dockerignore` leaves
    /// out already (`target/*`): a line for it would change nothing.
    fn contents_left_out(&self, path: &str) -> bool {
        self.listing.is_dir(path) && self.ignore.excludes(&format!("{path}/dockfix-probe"))
    }
}

/// Why a read takes `path` on purpose, not as part of a directory or of
/// everything: a source that is the path or lies under it, or names it
/// by more than `*`.
fn names(read: &ContextRead, path: &str) -> bool {
    let Ok((sources, _)) = &read.sources else {
        return false;
    };
    let parts: Vec<&str> = path.split('/').collect();
    sources.iter().any(|source| {
        if source.is_empty() {
            return false;
        }
        let segments: Vec<&str> = source.split('/').collect();
        if segments.len() < parts.len() {
            return false;
        }
        let leading = parts
            .iter()
            .zip(&segments)
            .all(|(part, segment)| wildcard_match(segment, part));
        leading && (segments.len() > parts.len() || segments[parts.len() - 1] != "*")
    })
}

/// Whether `text` names `name` as a whole path part: not inside a longer
/// word (`.git` is not named by `.github`).
fn mentions(text: &[u8], name: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let name = name.as_bytes();
    text.windows(name.len()).enumerate().any(|(at, window)| {
        window == name
            && (at == 0 || !word(text[at - 1]))
            && text.get(at + name.len()).is_none_or(|&b| !word(b))
    })
}

/// The first line of an instruction of the file that names `name`.
fn named_at(cx: &Context, name: &str) -> Option<usize> {
    cx.file
        .instructions()
        .find(|i| mentions(&cx.file.source[i.span()], name))
        .map(|i| i.start_line)
}

/// A finding at `at` whose fix adds `lines` to the context's
/// `.dockerignore`.
fn finding(
    rule: &'static Rule,
    cx: &Context,
    at: &ContextRead,
    message: String,
    lines: Vec<String>,
    applicability: Option<Applicability>,
) -> Finding {
    let root = cx.build_context.expect("Sent::of needs a build context");
    let path = root.join(".dockerignore");
    let (message, applicability) = match crate::context::writable(&path) {
        Err(e) if applicability.is_some() => {
            (format!("{message}; not fixed: .dockerignore: {e}"), None)
        }
        _ => (message, applicability),
    };
    let fix = applicability.map(|applicability| Fix {
        appends: vec![Append { path, lines }],
        ..Fix::new(applicability, Vec::new())
    });
    Finding {
        rule,
        range: at.instruction.keyword_range(),
        message,
        fix,
    }
}

/// The first `limit` bytes of a regular file; never through a link, nor
/// from a pipe or a device, which could block or lead out of the context
/// (see `context::open_regular`).
fn first_bytes(path: &Path, limit: u64) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut text = Vec::new();
    crate::context::open_regular(path, false)
        .ok()?
        .take(limit)
        .read_to_end(&mut text)
        .ok()?;
    Some(text)
}

/// What may be done with a path: its line added, safely or not, or no
/// line, each with why.
enum Verdict {
    Safe,
    Unsafe(String),
    Kept(String),
}

impl Verdict {
    /// The clause a finding's message ends with, `safe` for a safe fix,
    /// and the fix's applicability (none: reported only).
    fn said(self, safe: &str) -> (String, Option<Applicability>) {
        match self {
            Verdict::Safe => (safe.to_string(), Some(Applicability::Safe)),
            Verdict::Unsafe(why) => (
                format!("the fix is unsafe: {why}"),
                Some(Applicability::Unsafe),
            ),
            Verdict::Kept(why) => (format!("not fixed: {why}"), None),
        }
    }
}

/// An install or build of a known ecosystem that a RUN of the file runs.
struct DepRun<'a> {
    stage: usize,
    instruction: &'a Instruction,
    dep: DepCommand<'a>,
    /// A `cd` or `pushd` of its RUN comes before it.
    moved: bool,
}

/// Every install and build of a known ecosystem in the file's RUNs, in
/// file order, from the commands the rules of a round share.
fn dep_runs<'a>(cx: &Context<'a>) -> Vec<DepRun<'a>> {
    let mut found = Vec::new();
    for (stage, body) in cx.stages().iter().enumerate() {
        for (_, instruction) in body.each(&["run"]).filter(|(_, i)| i.command.name == "run") {
            let mut moved = false;
            for command in cx.commands_of(instruction, stage).iter() {
                moved |= matches!(command.program(), Some("cd" | "pushd"));
                let words = command.literal_words();
                if let Some(dep) = words.and_then(|w| cx.ecosystems().recognise(&w)) {
                    found.push(DepRun {
                        stage,
                        instruction,
                        dep,
                        moved,
                    });
                }
            }
        }
    }
    found
}

/// `a, b and c`.
fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read<'f>(file: &'f crate::syntax::Dockerfile, sources: &[&str]) -> ContextRead<'f> {
        ContextRead {
            stage: 0,
            instruction: file.instructions().last().unwrap(),
            sources: Ok((sources.iter().map(|s| s.to_string()).collect(), Vec::new())),
        }
    }

    #[test]
    fn a_source_names_a_path_only_on_purpose() {
        let file = crate::syntax::parse(b"FROM scratch\nCOPY . /app\n").unwrap();
        // The whole context, a parent directory or a bare `*`: incidental.
        assert!(!names(&read(&file, &[""]), ".git"));
        assert!(!names(&read(&file, &["src"]), "src/__pycache__"));
        assert!(!names(&read(&file, &["*"]), ".git"));
        // The path itself, something under it, or a pattern for it.
        assert!(names(&read(&file, &[".git"]), ".git"));
        assert!(names(&read(&file, &[".git/HEAD"]), ".git"));
        assert!(names(&read(&file, &["certs/*.key"]), "certs/server.key"));
        assert!(names(&read(&file, &["*/__pycache__"]), "src/__pycache__"));
        assert!(!names(&read(&file, &["docs"]), ".git"));
    }

    #[test]
    fn hostile_contexts_neither_hang_nor_lead_out() {
        use std::os::unix::fs::symlink;
        let context = tempfile::tempdir().unwrap();
        let root = context.path().to_path_buf();
        std::fs::write(root.join("Dockerfile"), "FROM scratch\nCOPY . /app\n").unwrap();
        std::fs::write(root.join(".env"), "TOKEN=x\n").unwrap();
        // A pipe where a token file would be: reading it would block.
        let fifo = std::process::Command::new("mkfifo")
            .arg(root.join(".npmrc"))
            .status()
            .unwrap();
        assert!(fifo.success());
        // A key that leads out of the context, and a directory loop.
        symlink("/dev/zero", root.join("id_rsa")).unwrap();
        symlink(".", root.join("loop")).unwrap();
        let (sent, found) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let file =
                crate::syntax::parse(&std::fs::read(root.join("Dockerfile")).unwrap()).unwrap();
            let settings = crate::engine::Settings {
                rules: crate::rules::selection(
                    &["DF601".into(), "DF602".into()],
                    &[],
                    crate::rules::CacheStyle::Cleanup,
                    &[],
                )
                .unwrap(),
                unsafe_fixes: false,
                build_context: Some(&root),
                companions: true,
                dockerfile: None,
                pins: None,
                ecosystems: None,
                runtime_images: &crate::config::NO_RUNTIME_IMAGES,
            };
            let messages: Vec<String> = crate::engine::lint(&file, &settings)
                .into_iter()
                .map(|f| f.message)
                .collect();
            sent.send(messages).unwrap();
        });
        let messages = found
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the rules finish on a context with a pipe and links");
        let secrets: Vec<&String> = messages
            .iter()
            .filter(|m| m.contains("into the image;"))
            .collect();
        assert_eq!(secrets.len(), 1, "{messages:?}");
        assert!(secrets[0].contains(" .env "), "{messages:?}");
    }

    #[test]
    fn a_name_is_mentioned_only_as_a_whole_word() {
        assert!(mentions(b"RUN cat .env", ".env"));
        assert!(mentions(
            b"ssl_certificate_key /etc/certs/server.key;",
            "server.key"
        ));
        assert!(!mentions(b"COPY .github /x", ".git"));
        assert!(!mentions(b"RUN echo my_git", "git"));
        assert!(mentions(b"\"dotenv\": \"16\"", "dotenv"));
        assert!(!mentions(b"RUN next_step", "next"));
    }
}
