//! Reading the build context: which files a COPY/ADD source names,
//! whether a file is an archive that ADD would unpack, and the files
//! themselves. A repository may be hostile: reading one of its files never
//! waits on a FIFO, never reads a device or an endless file into memory,
//! and never follows a link out of the build context, which the build
//! could not see either.

use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

/// The most bytes dockfix reads of one file: the largest lockfiles of
/// real projects hold tens of megabytes.
pub const READ_LIMIT: u64 = 64 << 20;

/// An error unless `metadata` is a regular file's.
pub fn regular(metadata: &Metadata) -> std::io::Result<()> {
    let kind = metadata.file_type();
    let what = if kind.is_file() {
        return Ok(());
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_symlink() {
        // Only a link to nothing is still a link once followed.
        "a symbolic link to nothing"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else {
        "a special file"
    };
    Err(std::io::Error::other(format!(
        "not a regular file ({what})"
    )))
}

/// Opens a regular file for reading, or says what else it is. Opening
/// does not wait for a FIFO's writer, and what was opened is what is
/// checked, so a file swapped in between cannot slip through. `follow`:
/// whether a link as the last component is followed.
pub fn open_regular(path: &Path, follow: bool) -> std::io::Result<File> {
    open_sized(path, follow).map(|(file, _)| file)
}

/// [`open_regular`], with the file's size from the same check.
fn open_sized(path: &Path, follow: bool) -> std::io::Result<(File, u64)> {
    let flags = match follow {
        true => libc::O_NONBLOCK,
        false => libc::O_NONBLOCK | libc::O_NOFOLLOW,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)?;
    let metadata = file.metadata()?;
    regular(&metadata)?;
    Ok((file, metadata.len()))
}

/// Whether dockfix may add lines to `path` (a `.dockerignore`): it is
/// absent, or a regular file, through links as the write goes.
pub fn writable(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        // A link to nothing stays a link once followed.
        Ok(link) => regular(&std::fs::metadata(path).unwrap_or(link)),
    }
}

/// The bytes of a regular file (through links), at most [`READ_LIMIT`].
pub fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
    let (file, size) = open_sized(path, true)?;
    up_to_the_limit(file, size)
}

/// The bytes of an open file of `size` bytes, at most [`READ_LIMIT`].
fn up_to_the_limit(file: File, size: u64) -> std::io::Result<Vec<u8>> {
    // Sized from the file: read through `take`, it would otherwise grow
    // from a few bytes, a read each time.
    let mut bytes = Vec::with_capacity(size.min(READ_LIMIT) as usize + 1);
    file.take(READ_LIMIT + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > READ_LIMIT {
        return Err(std::io::Error::other(format!(
            "larger than {} MiB",
            READ_LIMIT >> 20
        )));
    }
    Ok(bytes)
}

/// The bytes of `path`, a file of the build context `root`, as the build
/// finds it: a regular file, or a link to one inside the context. The file
/// is opened first (most files asked for are absent, which one call says),
/// then where the opened file really is decides.
pub fn read(root: &Path, path: impl AsRef<Path>) -> std::io::Result<Vec<u8>> {
    let path = path.as_ref();
    let (file, size) = open_sized(path, true)?;
    let real = opened_path(&file).or_else(|_| path.canonicalize())?;
    if !real.starts_with(canonical(root)?) {
        return Err(std::io::Error::other("a link out of the build context"));
    }
    up_to_the_limit(file, size)
}

/// Where an open file is, as Linux names it: one call, where resolving
/// its path takes one per component. Elsewhere an error, and the caller
/// resolves the path.
fn opened_path(file: &File) -> std::io::Result<PathBuf> {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

/// `root` resolved, once per run: every file read asks.
fn canonical(root: &Path) -> std::io::Result<PathBuf> {
    thread_local! {
        static ROOTS: std::cell::RefCell<std::collections::HashMap<PathBuf, PathBuf>> =
            Default::default();
    }
    if let Some(known) = ROOTS.with(|roots| roots.borrow().get(root).cloned()) {
        return Ok(known);
    }
    let real = root.canonicalize()?;
    ROOTS.with(|roots| roots.borrow_mut().insert(root.to_path_buf(), real.clone()));
    Ok(real)
}

/// [`read`] of a UTF-8 text file.
pub fn read_to_string(root: &Path, path: impl AsRef<Path>) -> std::io::Result<String> {
    utf8(read(root, path)?)
}

/// The text of bytes read, or the error the standard library gives.
pub fn utf8(bytes: Vec<u8>) -> std::io::Result<String> {
    String::from_utf8(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

/// The paths in `root` that a COPY/ADD source pattern names (Go
/// `filepath.Match` wildcards per path segment). Empty when nothing
/// matches or the pattern leaves the context.
pub fn resolve(root: &Path, pattern: &str) -> Vec<PathBuf> {
    let mut segments = Vec::new();
    for component in Path::new(pattern).components() {
        match component {
            Component::Normal(s) => segments.push(s.to_string_lossy().into_owned()),
            Component::ParentDir if segments.pop().is_none() => return Vec::new(),
            _ => {}
        }
    }
    let mut found = vec![root.to_path_buf()];
    for segment in &segments {
        let mut next = Vec::new();
        for dir in &found {
            if !has_wildcard(segment) {
                let path = dir.join(unescape(segment));
                if path.symlink_metadata().is_ok() {
                    next.push(path);
                }
                continue;
            }
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut matched: Vec<PathBuf> = entries
                .flatten()
                .filter(|e| wildcard_match(segment, &e.file_name().to_string_lossy()))
                .map(|e| e.path())
                .collect();
            matched.sort();
            next.extend(matched);
        }
        found = next;
    }
    found
}

fn has_wildcard(segment: &str) -> bool {
    segment.contains(['*', '?', '[', '\\'])
}

fn unescape(segment: &str) -> String {
    let mut out = String::new();
    let mut chars = segment.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' {
            chars.next().unwrap_or('\\')
        } else {
            c
        });
    }
    out
}

/// Go's `filepath.Match` for one path segment.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_at(&p, &n)
}

fn match_at(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => (0..=n.len()).any(|i| match_at(&p[1..], &n[i..])),
        Some('?') => !n.is_empty() && match_at(&p[1..], &n[1..]),
        Some('[') => {
            let Some(&c) = n.first() else { return false };
            let mut i = 1;
            let negate = p.get(i) == Some(&'^');
            if negate {
                i += 1;
            }
            let mut matched = false;
            let mut first = true;
            while i < p.len() && (first || p[i] != ']') {
                first = false;
                let lo = if p[i] == '\\' {
                    i += 1;
                    *p.get(i).unwrap_or(&'\\')
                } else {
                    p[i]
                };
                i += 1;
                let hi = if p.get(i) == Some(&'-') && p.get(i + 1).is_some_and(|&h| h != ']') {
                    i += 1;
                    let h = if p[i] == '\\' {
                        i += 1;
                        *p.get(i).unwrap_or(&'\\')
                    } else {
                        p[i]
                    };
                    i += 1;
                    h
                } else {
                    lo
                };
                matched |= lo <= c && c <= hi;
            }
            if i >= p.len() {
                return false; // unterminated class: Go reports a bad pattern
            }
            matched != negate && match_at(&p[i + 1..], &n[1..])
        }
        Some('\\') if p.len() > 1 => n.first() == Some(&p[1]) && match_at(&p[2..], &n[1..]),
        Some(&c) => n.first() == Some(&c) && match_at(&p[1..], &n[1..]),
    }
}

/// True when ADD would treat the file as an archive to unpack: a tar file,
/// or a compressed stream (gzip, bzip2, xz, zstd) that may hold one.
pub fn is_archive(path: &Path) -> std::io::Result<bool> {
    let mut header = Vec::with_capacity(512);
    open_regular(path, true)?
        .take(512)
        .read_to_end(&mut header)?;
    let compressed = header.starts_with(&[0x1f, 0x8b])
        || header.starts_with(b"BZh")
        || header.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00])
        || header.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        // A zstd skippable frame (0x184D2A50 to 0x184D2A5F, little endian),
        // which zstd readers skip to the data frame (pzstd writes one).
        || (header.len() >= 4 && header[0] & 0xf0 == 0x50 && header[1..4] == [0x2a, 0x4d, 0x18]);
    Ok(compressed || is_tar_header(&header))
}

/// A 512-byte tar header whose checksum field matches its bytes.
fn is_tar_header(header: &[u8]) -> bool {
    if header.len() < 512 || header.iter().all(|&b| b == 0) {
        return false;
    }
    let field = &header[148..156];
    let digits: String = field
        .iter()
        .map(|&b| b as char)
        .filter(|c| !matches!(c, '\0' | ' '))
        .collect();
    let Ok(expected) = u32::from_str_radix(&digits, 8) else {
        return false;
    };
    // Tar readers accept the sum of the bytes read as unsigned or as signed.
    let byte = |i: usize, b: u8| if (148..156).contains(&i) { 0x20 } else { b };
    let unsigned: i64 = header[..512]
        .iter()
        .enumerate()
        .map(|(i, &b)| byte(i, b) as i64)
        .sum();
    let signed: i64 = header[..512]
        .iter()
        .enumerate()
        .map(|(i, &b)| byte(i, b) as i8 as i64)
        .sum();
    expected as i64 == unsigned || expected as i64 == signed
}

/// Names that usually hold archives, for sources dockfix cannot read.
pub fn looks_like_archive(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [
        ".tar", ".tgz", ".tbz", ".tbz2", ".txz", ".tzst", ".gz", ".bz2", ".xz", ".zst", ".lz",
        ".lzma", ".z",
    ]
    .iter()
    .any(|ext| lower.ends_with(ext))
        || lower.contains(".tar.")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hostile context: a FIFO, links out of the context (to a file, to
    /// a directory, to an endless device) and a file past the limit.
    #[test]
    fn reads_stay_in_the_context_and_never_wait() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.json"), "{}").unwrap();
        let context = tempfile::tempdir().unwrap();
        let root = context.path().to_path_buf();
        std::fs::write(root.join("package.json"), "{\"name\":\"app\"}").unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        let link = |target: &Path, name: &str| std::os::unix::fs::symlink(target, root.join(name));
        link(Path::new("../package.json"), "sub/package.json").unwrap();
        link(&outside.path().join("secret.json"), "out.json").unwrap();
        link(outside.path(), "escape").unwrap();
        link(Path::new("/dev/zero"), "zero").unwrap();
        let fifo = std::process::Command::new("mkfifo")
            .arg(root.join("fifo"))
            .status()
            .unwrap();
        assert!(fifo.success());
        let large = std::fs::File::create(root.join("large")).unwrap();
        large.set_len(READ_LIMIT + 1).unwrap();
        let (sent, answers) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let read = |name: &str| match read_to_string(&root, root.join(name)) {
                Ok(text) => text,
                Err(e) => format!("error: {e}"),
            };
            let names = [
                "package.json",
                "sub/package.json",
                "out.json",
                "escape/secret.json",
            ];
            let mut seen: Vec<String> = names.iter().map(|n| read(n)).collect();
            seen.extend(["zero", "fifo", "large"].map(read));
            sent.send(seen).unwrap();
        });
        let seen = answers
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("no read waits or runs on");
        let out = "error: a link out of the build context";
        assert_eq!(
            seen,
            [
                "{\"name\":\"app\"}",
                "{\"name\":\"app\"}",
                out,
                out,
                "error: not a regular file (a device)",
                "error: not a regular file (a FIFO)",
                "error: larger than 64 MiB",
            ]
        );
    }

    #[test]
    fn go_wildcards() {
        assert!(wildcard_match("*.txt", "a.txt"));
        assert!(!wildcard_match("*.txt", "a.txt.bak"));
        assert!(wildcard_match("req?.txt", "req1.txt"));
        assert!(wildcard_match("[a-c]x", "bx"));
        assert!(!wildcard_match("[^a-c]x", "bx"));
        assert!(wildcard_match("a\\*", "a*"));
    }

    #[test]
    fn resolves_patterns_and_sniffs_archives() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/a.py"), "print(1)").unwrap();
        std::fs::write(dir.path().join("src/b.py"), "print(2)").unwrap();
        std::fs::write(dir.path().join("data.bin"), [0x1f, 0x8b, 8, 0]).unwrap();
        let mut tar = vec![0u8; 512];
        tar[..5].copy_from_slice(b"hello");
        tar[148..156].copy_from_slice(b"        ");
        let sum: u32 = tar.iter().map(|&b| b as u32).sum();
        tar[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        std::fs::write(dir.path().join("plain"), &tar).unwrap();

        assert_eq!(resolve(dir.path(), "src/*.py").len(), 2);
        assert_eq!(resolve(dir.path(), "./src/../src/a.py").len(), 1);
        assert!(resolve(dir.path(), "../etc/passwd").is_empty());
        assert!(is_archive(&dir.path().join("data.bin")).unwrap());
        assert!(is_archive(&dir.path().join("plain")).unwrap());
        // A skippable zstd frame first, as pzstd writes.
        std::fs::write(
            dir.path().join("app.pz"),
            [0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0],
        )
        .unwrap();
        assert!(is_archive(&dir.path().join("app.pz")).unwrap());
        // A header whose checksum was summed over signed bytes.
        let mut signed = vec![0u8; 512];
        signed[..4].copy_from_slice(b"caf\xe9");
        signed[148..156].copy_from_slice(b"        ");
        let sum: i64 = signed.iter().map(|&b| b as i8 as i64).sum();
        signed[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        std::fs::write(dir.path().join("signed"), &signed).unwrap();
        assert!(is_archive(&dir.path().join("signed")).unwrap());
        assert!(!is_archive(&dir.path().join("src/a.py")).unwrap());
    }
}
