//! `file://` URIs, as editors name documents, and the paths they stand for.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use lsp_types::Uri;

/// The path a `file:` URI names; `None` for any other scheme (an unsaved
/// buffer), which is linted without a build context.
pub fn path(uri: &Uri) -> Option<PathBuf> {
    let rest = uri.as_str().strip_prefix("file://")?;
    // `file:///p` or `file://localhost/p`.
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    if !rest.starts_with('/') {
        return None;
    }
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let bytes = rest.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (b, _) => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    use std::os::unix::ffi::OsStringExt;
    Some(PathBuf::from(std::ffi::OsString::from_vec(decoded)))
}

/// The `file:` URI of an absolute path.
pub fn from_path(path: &Path) -> Option<Uri> {
    let text = path.to_str()?;
    if !text.starts_with('/') {
        return None;
    }
    Uri::from_str(&format!(
        "file://{}",
        crate::http::percent_encode(text, "/")
    ))
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_uris_and_paths_convert_both_ways() {
        let path = Path::new("/work/my app/Dockerfile.é");
        let uri = from_path(path).unwrap();
        assert_eq!(uri.as_str(), "file:///work/my%20app/Dockerfile.%C3%A9");
        assert_eq!(super::path(&uri).as_deref(), Some(path));
        let other = Uri::from_str("untitled:Untitled-1").unwrap();
        assert_eq!(super::path(&other), None);
        let local = Uri::from_str("file://localhost/srv/Dockerfile").unwrap();
        assert_eq!(
            super::path(&local).as_deref(),
            Some(Path::new("/srv/Dockerfile"))
        );
    }
}
