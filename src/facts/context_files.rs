//! The build context as the builder would receive it: its files and
//! directories, listed once for the rules about what a build sends
//! (DF601, DF602). Dependency folders and version-control histories are
//! listed but not entered: a developer's `node_modules` can hold a
//! hundred thousand files and no secret of theirs.

use std::path::Path;

use crate::dockerignore::DockerIgnore;

/// Directories listed, never entered.
const NOT_ENTERED: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    "node_modules",
    ".venv",
    "__pycache__",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
];

/// Entries listed before the walk stops: enough for any source tree, and a
/// bound on the time a rule spends on a context holding much more.
const LIMIT: usize = 20_000;

#[derive(Debug, Default)]
pub struct Listing {
    /// Paths relative to the context root, `/`-separated, with whether
    /// each is a directory (a symbolic link is not), in path order.
    pub entries: Vec<(String, bool)>,
    /// False when the walk stopped at its limit or at a directory it could
    /// not read.
    pub complete: bool,
}

impl Listing {
    /// The context under `root`, without what `ignore` leaves out (a
    /// directory it leaves out is walked still where a `!` pattern may
    /// bring back something under it).
    pub fn of(root: &Path, ignore: &DockerIgnore) -> Listing {
        let exceptions = ignore.has_exceptions();
        let mut listing = Listing {
            entries: Vec::new(),
            complete: true,
        };
        let mut pending = vec![String::new()];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(root.join(&dir)) else {
                listing.complete = false;
                continue;
            };
            for entry in entries.flatten() {
                if listing.entries.len() == LIMIT {
                    listing.complete = false;
                    pending.clear();
                    break;
                }
                let name = entry.file_name().to_string_lossy().into_owned();
                let path = if dir.is_empty() {
                    name.clone()
                } else {
                    format!("{dir}/{name}")
                };
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                let excluded = ignore.excludes(&path);
                if is_dir && !NOT_ENTERED.contains(&name.as_str()) && (!excluded || exceptions) {
                    pending.push(path.clone());
                }
                if !excluded {
                    listing.entries.push((path, is_dir));
                }
            }
        }
        listing.entries.sort();
        listing
    }

    /// The files, not directories.
    pub fn files(&self) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .filter(|(_, is_dir)| !is_dir)
            .map(|(p, _)| p.as_str())
    }

    pub fn has(&self, path: &str) -> bool {
        self.find(path).is_some()
    }

    pub fn is_dir(&self, path: &str) -> bool {
        self.find(path).is_some_and(|(_, is_dir)| *is_dir)
    }

    fn find(&self, path: &str) -> Option<&(String, bool)> {
        self.entries
            .binary_search_by(|(p, _)| p.as_str().cmp(path))
            .ok()
            .map(|i| &self.entries[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_what_the_build_sees_without_entering_dependency_folders() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for file in [
            "app.py",
            "src/main.py",
            "node_modules/x/index.js",
            ".git/HEAD",
            "dist/out.js",
            "secrets/keep.txt",
            "secrets/key.pem",
        ] {
            let path = root.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        let ignore = DockerIgnore::parse("dist\nsecrets\n!secrets/keep.txt\n");
        let listing = Listing::of(root, &ignore);
        let paths: Vec<&str> = listing.entries.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                ".git",
                "app.py",
                "node_modules",
                "secrets/keep.txt",
                "src",
                "src/main.py"
            ]
        );
        assert!(listing.complete);
        assert!(listing.has("node_modules") && !listing.has("dist"));
        assert_eq!(listing.files().count(), 3);
    }
}
