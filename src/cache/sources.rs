//! Which files of the build context a COPY, ADD or bind mount reads: its
//! source patterns matched as BuildKit matches them (Go's `filepath.Match`
//! per path segment, a directory bringing everything under it), and the
//! files themselves with their checksums when the context is on disk.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::context::wildcard_match;
use crate::dockerignore::{clean, DockerIgnore};

/// Whether `source` (cleaned: relative to the context root, empty for
/// the root) takes `path` (relative to the context
/// root): the path, or one of the directories above it, matches.
pub fn selects(source: &str, path: &str) -> bool {
    if source.is_empty() {
        return true;
    }
    let path = clean(path);
    let parts: Vec<&str> = path.split('/').collect();
    let depth = source.split('/').count();
    depth <= parts.len() && matches(source, &parts[..depth].join("/"))
}

/// Go's `filepath.Match` on slash paths: segment by segment, so `*` and
/// `?` stay within one.
fn matches(pattern: &str, name: &str) -> bool {
    let (mut pattern, mut name) = (pattern.split('/'), name.split('/'));
    loop {
        match (pattern.next(), name.next()) {
            (None, None) => return true,
            (Some(p), Some(n)) if wildcard_match(p, n) => {}
            _ => return false,
        }
    }
}

/// A file of the build context a step reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextFile {
    /// Relative to the context root, `/`-separated.
    pub path: String,
    pub size: u64,
    /// SHA-256 of the content, in hex.
    pub sha256: String,
}

/// The files under `context` that `sources` take and neither
/// `.dockerignore` nor `excludes` leave out, in path order, with their
/// checksums. Symbolic links are listed, not followed (BuildKit sends them
/// as links).
pub fn files(
    context: &Path,
    ignore: &DockerIgnore,
    sources: &[String],
    excludes: &DockerIgnore,
) -> std::io::Result<Vec<ContextFile>> {
    paths(context, ignore, sources, excludes)?
        .into_iter()
        .map(|path| {
            let full = context.join(&path);
            let mut hash = Sha256::new();
            let size = if std::fs::symlink_metadata(&full)?.file_type().is_symlink() {
                let target = std::fs::read_link(&full)?;
                let target = target.to_string_lossy();
                hash.update(target.as_bytes());
                target.len() as u64
            } else {
                // Streamed: a context may hold files of any size. Only a
                // regular file, opened without waiting on a FIFO.
                let mut file = crate::context::open_regular(&full, false)?;
                std::io::copy(&mut file, &mut hash)?
            };
            Ok(ContextFile {
                path,
                size,
                sha256: format!("{:x}", hash.finalize()),
            })
        })
        .collect()
}

/// The paths (relative to `context`, `/`-separated) of the files `files`
/// lists, in path order, without reading them.
pub fn paths(
    context: &Path,
    ignore: &DockerIgnore,
    sources: &[String],
    excludes: &DockerIgnore,
) -> std::io::Result<Vec<String>> {
    // A directory left out is walked still where a `!` pattern may bring
    // back a file under it; each file is then judged alone.
    let exceptions = ignore.has_exceptions() || excludes.has_exceptions();
    let mut found = Vec::new();
    let mut pending = vec![String::new()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(context.join(&dir))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = if dir.is_empty() {
                name
            } else {
                format!("{dir}/{name}")
            };
            let kind = entry.file_type()?;
            let excluded = ignore.excludes(&path) || excludes.excludes(&path);
            if excluded && !(kind.is_dir() && exceptions) {
                continue;
            }
            if kind.is_dir() {
                // A directory is walked only when a source may take
                // something under it.
                if sources.iter().any(|s| may_hold(s, &path)) {
                    pending.push(path);
                }
            } else if sources.iter().any(|s| selects(s, &path)) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Whether `source` may take a file under the directory `dir`: it takes
/// the directory itself or a parent, or its leading segments match.
fn may_hold(source: &str, dir: &str) -> bool {
    if selects(source, dir) {
        return true;
    }
    let parts: Vec<&str> = source.split('/').collect();
    let dirs: Vec<&str> = dir.split('/').collect();
    dirs.len() < parts.len() && dirs.iter().zip(&parts).all(|(d, p)| wildcard_match(p, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_as_go_filepath_match() {
        for (pattern, name, expected) in [
            ("*.json", "package.json", true),
            ("*.json", "src/package.json", false),
            ("src/*", "src/app.py", true),
            ("src/*", "src/app/main.py", false),
            ("?.txt", "a.txt", true),
            ("?.txt", "ab.txt", false),
            ("[ab].txt", "b.txt", true),
            ("[^ab].txt", "b.txt", false),
            ("[a-c].txt", "b.txt", true),
            ("[a-c].txt", "d.txt", false),
            ("\\*.txt", "*.txt", true),
            ("\\*.txt", "a.txt", false),
            ("[a.txt", "a.txt", false),
            ("requirements*.txt", "requirements-dev.txt", true),
        ] {
            assert_eq!(matches(pattern, name), expected, "{pattern} {name}");
        }
    }

    #[test]
    fn a_source_takes_its_directory_s_files() {
        assert!(selects("", "anything/at/all"));
        assert!(selects(&clean("./"), "src/app.py"));
        assert!(selects(&clean("/src/"), "src/app.py"));
        assert!(selects("src", "src/deep/app.py"));
        assert!(!selects("src", "srcs/app.py"));
        assert!(selects("package*.json", "package-lock.json"));
        assert!(!selects("package*.json", "web/package.json"));
        assert!(selects("web/*.json", "web/package.json"));
        assert!(selects("*", "src/app.py"), "`*` takes the directory src");
        assert!(!selects("requirements.txt", "src/requirements.txt"));
    }

    #[test]
    fn files_are_listed_with_checksums_without_ignored_ones() {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in [
            ("package.json", "{}\n"),
            ("src/app.js", "x\n"),
            ("src/skip.log", "log\n"),
            ("node_modules/a/index.js", "y\n"),
        ] {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let ignore = DockerIgnore::parse("node_modules\n");
        let excludes = DockerIgnore::parse("**/*.log\n");
        let all = files(dir.path(), &ignore, &[clean(".")], &excludes).unwrap();
        let paths: Vec<&str> = all.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["package.json", "src/app.js"]);
        // sha256("{}\n")
        assert_eq!(
            all[0].sha256,
            "ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356"
        );
        assert_eq!(all[0].size, 3);
        let some = files(
            dir.path(),
            &ignore,
            &["src/*.js".into()],
            &DockerIgnore::default(),
        )
        .unwrap();
        assert_eq!(some.len(), 1);
        assert_eq!(some[0].path, "src/app.js");
    }
}
