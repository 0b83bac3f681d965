//! Writing a rewrite in place atomically: a temporary file in the same
//! directory, the original's permissions, then a rename over the target
//! (through symlinks, so a linked Dockerfile stays a link).

use std::io::Write;
use std::path::Path;

/// Creates a new file atomically, readable by all as files usually are.
pub fn create(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(contents)?;
    temp.as_file().sync_all()?;
    std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(0o644))?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Keeps the file's owner and permissions. A file with several hard links
/// is rewritten in place instead, so the links stay one file.
pub fn atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let target = std::fs::canonicalize(path)?;
    let dir = target.parent().unwrap_or(Path::new("."));
    let metadata = std::fs::metadata(&target)?;
    if metadata.nlink() > 1 {
        return std::fs::write(&target, contents);
    }
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(contents)?;
    temp.as_file().sync_all()?;
    std::fs::set_permissions(temp.path(), metadata.permissions())?;
    // Only root may give a file away; others keep what they can.
    let _ = std::os::unix::fs::chown(temp.path(), Some(metadata.uid()), Some(metadata.gid()));
    temp.persist(&target).map_err(|e| e.error)?;
    Ok(())
}
