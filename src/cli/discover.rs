//! Which files to read: explicit files as given, directories walked for
//! Dockerfile names (honouring `.gitignore`), `-` for standard input.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    File(PathBuf),
}

/// Names dockfix looks for when walking a directory: those ending in
/// `Dockerfile` or `Containerfile` (`Dockerfile`, `api.Dockerfile`,
/// `owner__repo__Dockerfile`) or in `.dockerfile` or `.containerfile`, and
/// those starting with `Dockerfile` or `Containerfile` and `.`, `-` or `_`
/// (`Dockerfile.dev`, `Dockerfile-prod`), except ignore files (ending in
/// `.dockerignore` or `.containerignore`).
pub fn is_dockerfile_name(name: &str) -> bool {
    let stems = ["Dockerfile", "Containerfile"];
    let ends = stems.iter().any(|stem| name.ends_with(stem))
        || name.ends_with(".dockerfile")
        || name.ends_with(".containerfile");
    let starts = stems.iter().any(|stem| {
        name.strip_prefix(stem)
            .is_some_and(|rest| rest.starts_with(['.', '-', '_']))
    });
    (ends || starts) && !name.ends_with(".dockerignore") && !name.ends_with(".containerignore")
}

/// What the command-line paths name.
#[derive(Default)]
pub struct Found {
    pub inputs: Vec<Input>,
    /// Paths that cannot be read (or walked), and why.
    pub errors: Vec<(PathBuf, String)>,
    /// Directories whose walk found no Dockerfile.
    pub empty: Vec<PathBuf>,
}

/// What makes two paths one file: its device and inode (through links, so
/// `Dockerfile`, `./Dockerfile` and a link to it are one), or the path as
/// given when it cannot be read. One `stat`, where resolving the path
/// asked for each of its directories in turn.
#[derive(PartialEq, Eq, Hash)]
enum FileKey {
    Inode(u64, u64),
    Path(PathBuf),
}

impl FileKey {
    fn of(path: &Path) -> FileKey {
        use std::os::unix::fs::MetadataExt;
        match std::fs::metadata(path) {
            Ok(metadata) => FileKey::Inode(metadata.dev(), metadata.ino()),
            Err(_) => FileKey::Path(path.to_path_buf()),
        }
    }
}

/// Expands the command-line paths. Paths that cannot be read are errors;
/// the rest are still read.
pub fn inputs(paths: &[PathBuf]) -> Found {
    let mut found = Found::default();
    let mut seen = HashSet::new();
    let mut add = |inputs: &mut Vec<Input>, path: PathBuf| {
        if seen.insert(FileKey::of(&path)) {
            inputs.push(Input::File(path));
        }
    };
    for path in paths {
        if path.as_os_str() == "-" {
            found.inputs.push(Input::Stdin);
            continue;
        }
        match std::fs::metadata(path) {
            Ok(metadata) if metadata.is_dir() => {
                let (files, errors) = walk(path);
                if files.is_empty() && errors.is_empty() {
                    found.empty.push(path.clone());
                }
                for file in files {
                    add(&mut found.inputs, file);
                }
                found.errors.extend(errors);
            }
            // Read whatever it is: reading says what is wrong with it.
            Ok(_) => add(&mut found.inputs, path.clone()),
            Err(e) => found.errors.push((path.clone(), unreadable(&e))),
        }
    }
    found
}

/// Why a path cannot be read, in words.
fn unreadable(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::NotFound => "no such file or directory".into(),
        ErrorKind::PermissionDenied => "permission denied".into(),
        _ if e.raw_os_error() == Some(libc::ELOOP) => "a loop of symbolic links".into(),
        _ => e.to_string(),
    }
}

/// The Dockerfiles under `dir`, and the paths the walk could not read.
fn walk(dir: &Path) -> (Vec<PathBuf>, Vec<(PathBuf, String)>) {
    let walker = ignore::WalkBuilder::new(dir)
        .hidden(false)
        .require_git(false)
        .filter_entry(|entry| entry.file_name() != ".git")
        .build();
    let shown = |path: &Path| {
        path.strip_prefix(".")
            .map(PathBuf::from)
            .unwrap_or(path.to_path_buf())
    };
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                let (path, why) = walk_error(e);
                errors.push((shown(path.as_deref().unwrap_or(dir)), why));
                continue;
            }
        };
        if !is_dockerfile_name(&entry.file_name().to_string_lossy()) {
            continue;
        }
        // Through symlinks too: a linked Dockerfile is a Dockerfile.
        match std::fs::metadata(entry.path()) {
            Ok(metadata) if metadata.is_dir() => {}
            Ok(metadata) => match crate::context::regular(&metadata) {
                Ok(()) => files.push(shown(entry.path())),
                Err(e) => errors.push((shown(entry.path()), e.to_string())),
            },
            Err(e) => errors.push((shown(entry.path()), unreadable(&e))),
        }
    }
    files.sort();
    (files, errors)
}

/// The path a walk error is about, if it names one, and why.
fn walk_error(e: ignore::Error) -> (Option<PathBuf>, String) {
    match e {
        ignore::Error::WithPath { path, err } => {
            let (_, why) = walk_error(*err);
            (Some(path), why)
        }
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            walk_error(*err)
        }
        ignore::Error::Io(e) => (None, unreadable(&e)),
        ignore::Error::Loop { child, .. } => (Some(child), "a loop of symbolic links".into()),
        other => (None, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerfile_names() {
        for name in [
            "Dockerfile",
            "Containerfile",
            "api.Dockerfile",
            "x.dockerfile",
            "x.Containerfile",
            "x.containerfile",
            "Dockerfile.dev",
            "Containerfile.dev",
            "owner__repo__Dockerfile",
            "Dockerfile-prod",
            "Dockerfile_prod",
            "Containerfile-prod",
        ] {
            assert!(is_dockerfile_name(name), "{name}");
        }
        for name in [
            "Dockerfile.dockerignore",
            "Dockerfile-prod.dockerignore",
            "Containerfile.containerignore",
            "README.md",
            "dockerfile-lint",
            "Dockerfiles",
            "Makefile",
        ] {
            assert!(!is_dockerfile_name(name), "{name}");
        }
    }
}
