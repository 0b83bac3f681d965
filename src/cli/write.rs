//! Reading Dockerfiles and writing their rewrite in place. Only regular
//! files are read or written. A rewrite (a Dockerfile and its
//! `.dockerignore`) is written all or nothing: every new version is first
//! written to a temporary file beside its target and synced, then each
//! target is checked against what dockfix read and renamed over (through
//! symlinks, so a linked Dockerfile stays a link); when a later file
//! fails, the earlier ones get back their original bytes.

use std::fs::Metadata;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::context::{read_regular, regular};

/// One file of a rewrite.
pub struct Target<'a> {
    /// As given (a symlink is written through).
    pub path: &'a Path,
    /// The bytes dockfix read; `None` for a file the rewrite creates.
    pub before: Option<&'a [u8]>,
    pub after: &'a [u8],
}

/// Why a rewrite was not written, and of which file.
#[derive(Debug)]
pub struct Failure {
    pub path: PathBuf,
    pub why: Why,
    /// Files left rewritten: their original could not be put back.
    pub written: Vec<PathBuf>,
}

#[derive(Debug)]
pub enum Why {
    /// Another process changed the file after dockfix read it.
    Changed,
    Io(String),
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::Changed => f.write_str("changed while dockfix ran"),
            Why::Io(e) => f.write_str(e),
        }
    }
}

/// Writes every target or none (see the module's comment).
pub fn replace(targets: &[Target]) -> Result<(), Failure> {
    prepare(targets)?.commit()
}

/// The new versions, written and synced, not yet in place.
pub struct Prepared<'a> {
    files: Vec<(Staged, &'a Target<'a>)>,
}

struct Staged {
    /// Where the rename goes: the file a symlink points to.
    target: PathBuf,
    temp: NamedTempFile,
}

fn prepare<'a>(targets: &'a [Target<'a>]) -> Result<Prepared<'a>, Failure> {
    let files = targets
        .iter()
        .map(|t| {
            stage(t).map(|staged| (staged, t)).map_err(|why| Failure {
                path: t.path.to_path_buf(),
                why,
                written: vec![],
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Prepared { files })
}

fn io(e: std::io::Error) -> Why {
    Why::Io(e.to_string())
}

/// The new version of `target` in a temporary file beside it.
fn stage(target: &Target) -> Result<Staged, Why> {
    let (path, metadata) = match target.before {
        Some(_) => {
            let path = std::fs::canonicalize(target.path).map_err(io)?;
            let metadata = std::fs::metadata(&path).map_err(io)?;
            regular(&metadata).map_err(io)?;
            if metadata.nlink() > 1 {
                return Err(Why::Io(format!(
                    "has {} hard links: replacing it would part them, and writing it in place \
                     would not be atomic",
                    metadata.nlink()
                )));
            }
            (path, Some(metadata))
        }
        None => {
            match std::fs::symlink_metadata(target.path) {
                Ok(metadata) => {
                    regular(&metadata).map_err(io)?;
                    // Created by someone else since dockfix looked.
                    return Err(Why::Changed);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(e)),
            }
            (target.path.to_path_buf(), None)
        }
    };
    let temp = beside(&path, target.after, metadata.as_ref()).map_err(io)?;
    Ok(Staged { target: path, temp })
}

/// `contents` in a synced temporary file in `path`'s directory, with the
/// permissions and owner of `metadata`'s file (a new file is readable by
/// all).
fn beside(
    path: &Path,
    contents: &[u8],
    metadata: Option<&Metadata>,
) -> std::io::Result<NamedTempFile> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp = NamedTempFile::new_in(dir)?;
    temp.write_all(contents)?;
    temp.as_file().sync_all()?;
    let permissions = metadata.map_or(
        std::fs::Permissions::from_mode(0o644),
        Metadata::permissions,
    );
    std::fs::set_permissions(temp.path(), permissions)?;
    if let Some(metadata) = metadata {
        // Only root may give a file away; others keep what they can.
        let _ = std::os::unix::fs::chown(temp.path(), Some(metadata.uid()), Some(metadata.gid()));
    }
    Ok(temp)
}

impl Prepared<'_> {
    /// Puts each file in place, checking just before its rename that it
    /// still holds what dockfix read; on a failure, puts the earlier ones
    /// back.
    pub fn commit(self) -> Result<(), Failure> {
        let mut done: Vec<(PathBuf, &Target)> = Vec::new();
        for (staged, target) in self.files {
            let Staged { target: path, temp } = staged;
            if let Err(why) = put(&path, temp, target.before) {
                let written = done
                    .into_iter()
                    .filter(|(path, target)| restore(path, target.before).is_err())
                    .map(|(_, target)| target.path.to_path_buf())
                    .collect();
                return Err(Failure {
                    path: target.path.to_path_buf(),
                    why,
                    written,
                });
            }
            done.push((path, target));
        }
        Ok(())
    }
}

/// Renames `temp` over `path` if it still holds `before` (or, for a new
/// file, still does not exist).
fn put(path: &Path, temp: NamedTempFile, before: Option<&[u8]>) -> Result<(), Why> {
    match before {
        Some(before) => {
            let now = read_regular(path).map_err(io)?;
            if now != before {
                return Err(Why::Changed);
            }
            temp.persist(path).map_err(|e| io(e.error))?;
        }
        None => {
            // Never over a file that appeared meanwhile.
            temp.persist_noclobber(path)
                .map_err(|e| match e.error.kind() {
                    std::io::ErrorKind::AlreadyExists => Why::Changed,
                    _ => io(e.error),
                })?;
        }
    }
    Ok(())
}

/// Undoes `put`: the original bytes back (by the same atomic rename), or
/// a created file removed.
fn restore(path: &Path, before: Option<&[u8]>) -> std::io::Result<()> {
    match before {
        Some(before) => {
            let metadata = std::fs::metadata(path)?;
            let temp = beside(path, before, Some(&metadata))?;
            temp.persist(path).map_err(|e| e.error)?;
            Ok(())
        }
        None => std::fs::remove_file(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileTypeExt;

    fn target<'a>(path: &'a Path, before: &'a str, after: &'a str) -> Target<'a> {
        Target {
            path,
            before: Some(before.as_bytes()),
            after: after.as_bytes(),
        }
    }

    /// The directory's entries, to see no temporary file is left.
    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_file_changed_since_it_was_read_is_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Dockerfile");
        // Another process appended a line after dockfix read the file.
        std::fs::write(&path, "FROM a\nCMD b\nRUN c\n").unwrap();
        let failure =
            replace(&[target(&path, "FROM a\nCMD b\n", "FROM a\nCMD [\"b\"]\n")]).unwrap_err();
        assert!(matches!(failure.why, Why::Changed), "{failure:?}");
        assert_eq!(failure.path, path);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "FROM a\nCMD b\nRUN c\n"
        );
        assert_eq!(entries(dir.path()), ["Dockerfile"]);
        // Unchanged, it is written.
        replace(&[target(&path, "FROM a\nCMD b\nRUN c\n", "x\n")]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "x\n");
    }

    #[test]
    fn a_pair_is_put_back_when_its_second_file_fails() {
        let dir = tempfile::tempdir().unwrap();
        let dockerfile = dir.path().join("Dockerfile");
        let ignore = dir.path().join(".dockerignore");
        std::fs::write(&dockerfile, "old\n").unwrap();
        std::fs::write(&ignore, ".git\n").unwrap();
        let targets = [
            target(&dockerfile, "old\n", "new\n"),
            target(&ignore, ".git\n", ".git\nnode_modules\n"),
        ];
        let prepared = prepare(&targets).unwrap();
        // The second file changes after both were staged, so the first
        // is renamed before the second is found changed.
        std::fs::write(&ignore, ".git\n*.log\n").unwrap();
        let failure = prepared.commit().unwrap_err();
        assert!(matches!(failure.why, Why::Changed), "{failure:?}");
        assert_eq!(failure.path, ignore);
        assert!(failure.written.is_empty(), "{failure:?}");
        assert_eq!(std::fs::read_to_string(&dockerfile).unwrap(), "old\n");
        assert_eq!(std::fs::read_to_string(&ignore).unwrap(), ".git\n*.log\n");
        assert_eq!(entries(dir.path()), [".dockerignore", "Dockerfile"]);
    }

    #[test]
    fn a_created_file_is_removed_again_when_a_later_one_fails() {
        let dir = tempfile::tempdir().unwrap();
        let created = dir.path().join(".dockerignore");
        let other = dir.path().join("other");
        std::fs::write(&other, "a\n").unwrap();
        let targets = [
            Target {
                path: &created,
                before: None,
                after: b"node_modules\n",
            },
            target(&other, "a\n", "b\n"),
        ];
        let prepared = prepare(&targets).unwrap();
        std::fs::write(&other, "c\n").unwrap();
        prepared.commit().unwrap_err();
        assert!(!created.exists());
        assert_eq!(entries(dir.path()), ["other"]);
    }

    #[test]
    fn a_file_to_create_that_appeared_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".dockerignore");
        let targets = [Target {
            path: &path,
            before: None,
            after: b"node_modules\n",
        }];
        let prepared = prepare(&targets).unwrap();
        std::fs::write(&path, "mine\n").unwrap();
        let failure = prepared.commit().unwrap_err();
        assert!(matches!(failure.why, Why::Changed), "{failure:?}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "mine\n");
    }

    #[test]
    fn nothing_is_written_when_a_file_of_the_pair_is_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let dockerfile = dir.path().join("Dockerfile");
        let ignore = dir.path().join(".dockerignore");
        std::fs::write(&dockerfile, "old\n").unwrap();
        std::fs::create_dir(&ignore).unwrap();
        let targets = [
            target(&dockerfile, "old\n", "new\n"),
            Target {
                path: &ignore,
                before: None,
                after: b"node_modules\n",
            },
        ];
        let failure = replace(&targets).unwrap_err();
        assert_eq!(failure.path, ignore);
        assert_eq!(failure.why.to_string(), "not a regular file (a directory)");
        assert_eq!(std::fs::read_to_string(&dockerfile).unwrap(), "old\n");
        assert_eq!(entries(dir.path()), [".dockerignore", "Dockerfile"]);
    }

    #[test]
    fn a_file_to_create_is_not_written_through_a_link_to_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".dockerignore");
        std::os::unix::fs::symlink("elsewhere", &path).unwrap();
        let targets = [Target {
            path: &path,
            before: None,
            after: b"node_modules\n",
        }];
        let failure = replace(&targets).unwrap_err();
        assert_eq!(
            failure.why.to_string(),
            "not a regular file (a symbolic link to nothing)"
        );
        assert!(!dir.path().join("elsewhere").exists());
        assert_eq!(entries(dir.path()), [".dockerignore"]);
    }

    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("Dockerfile");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        let e = read_regular(&fifo).unwrap_err();
        assert_eq!(e.to_string(), "not a regular file (a FIFO)");
        let failure = replace(&[target(&fifo, "a", "b")]).unwrap_err();
        assert_eq!(failure.why.to_string(), "not a regular file (a FIFO)");
        assert!(std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo());
    }

    #[test]
    fn a_file_with_other_hard_links_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Dockerfile");
        std::fs::write(&path, "old\n").unwrap();
        std::fs::hard_link(&path, dir.path().join("linked")).unwrap();
        let failure = replace(&[target(&path, "old\n", "new\n")]).unwrap_err();
        assert!(
            failure.why.to_string().starts_with("has 2 hard links"),
            "{failure:?}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\n");
    }
}
