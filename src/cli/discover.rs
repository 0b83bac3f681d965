//! Which files to read: explicit files as given, directories walked for
//! Dockerfile names (honouring `.gitignore`), `-` for standard input.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    File(PathBuf),
}

/// Names dockfix looks for when walking a directory: `Dockerfile`,
/// `Containerfile`, `*.Dockerfile`, `*.dockerfile` and `Dockerfile.*`
/// (except `Dockerfile.dockerignore`, an ignore file).
pub fn is_dockerfile_name(name: &str) -> bool {
    matches!(name, "Dockerfile" | "Containerfile")
        || name.ends_with(".Dockerfile")
        || name.ends_with(".dockerfile")
        || (name.starts_with("Dockerfile.") && !name.ends_with(".dockerignore"))
}

/// Expands the command-line paths. Paths that do not exist are returned as
/// errors; the rest are still read.
pub fn inputs(paths: &[PathBuf]) -> (Vec<Input>, Vec<(PathBuf, String)>) {
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    let mut add = |inputs: &mut Vec<Input>, path: PathBuf| {
        let key = path.canonicalize().unwrap_or_else(|_| path.clone());
        if seen.insert(key) {
            inputs.push(Input::File(path));
        }
    };
    for path in paths {
        if path.as_os_str() == "-" {
            inputs.push(Input::Stdin);
        } else if path.is_dir() {
            for file in walk(path) {
                add(&mut inputs, file);
            }
        } else if path.exists() {
            add(&mut inputs, path.clone());
        } else {
            errors.push((path.clone(), "no such file or directory".to_string()));
        }
    }
    (inputs, errors)
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let walker = ignore::WalkBuilder::new(dir)
        .hidden(false)
        .require_git(false)
        .filter_entry(|entry| entry.file_name() != ".git")
        .build();
    let mut files: Vec<PathBuf> = walker
        .flatten()
        // Through symlinks too: a linked Dockerfile is a Dockerfile.
        .filter(|e| e.path().is_file())
        .filter(|e| is_dockerfile_name(&e.file_name().to_string_lossy()))
        .map(|e| {
            let path = e.into_path();
            path.strip_prefix(".").map(PathBuf::from).unwrap_or(path)
        })
        .collect();
    files.sort();
    files
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
            "Dockerfile.dev",
        ] {
            assert!(is_dockerfile_name(name), "{name}");
        }
        for name in [
            "Dockerfile.dockerignore",
            "README.md",
            "dockerfile-lint",
            "Makefile",
        ] {
            assert!(!is_dockerfile_name(name), "{name}");
        }
    }
}
