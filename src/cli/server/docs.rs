//! Each rule's documentation (the text of `dockfix explain`) as a Markdown
//! file a diagnostic links to: dockfix has no web documentation, and an
//! editor opens a file link in a tab. The files go in dockfix's cache
//! directory, under the version that wrote them, and are written again
//! only when their text differs.

use std::collections::HashMap;
use std::path::Path;

use lsp_types::CodeDescription;

use super::uri;
use crate::rules::{ALL, OPT_IN};

#[derive(Default)]
pub struct Docs {
    links: HashMap<&'static str, lsp_types::Uri>,
}

impl Docs {
    /// The documentation files, written where dockfix keeps its cache;
    /// none when there is no such place or it cannot be written.
    pub fn written() -> Docs {
        let Some(dir) = crate::registry::cache::default_dir() else {
            return Docs::default();
        };
        Docs::written_in(&dir.join("rules").join(env!("CARGO_PKG_VERSION")))
    }

    fn written_in(dir: &Path) -> Docs {
        if std::fs::create_dir_all(dir).is_err() {
            return Docs::default();
        }
        let mut links = HashMap::new();
        for rule in ALL.iter().chain(OPT_IN) {
            let path = dir.join(format!("{}.md", rule.id));
            let current = std::fs::read_to_string(&path).ok();
            if current.as_deref() != Some(rule.doc) && write(dir, &path, rule.doc).is_err() {
                continue;
            }
            if let Some(link) = std::fs::canonicalize(&path)
                .ok()
                .and_then(|p| uri::from_path(&p))
            {
                links.insert(rule.id, link);
            }
        }
        Docs { links }
    }

    pub fn link(&self, rule: &str) -> Option<CodeDescription> {
        self.links
            .get(rule)
            .map(|href| CodeDescription { href: href.clone() })
    }
}

/// Written whole or not at all, so a second server never reads half a file.
fn write(dir: &Path, path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(text.as_bytes())?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_links_to_its_documentation() {
        let dir = tempfile::tempdir().unwrap();
        let docs = Docs::written_in(dir.path());
        for rule in ALL.iter().chain(OPT_IN) {
            let link = docs.link(rule.id).expect("a link for every rule");
            let path = uri::path(&link.href).unwrap();
            assert_eq!(std::fs::read_to_string(path).unwrap(), rule.doc);
        }
        let unwritable = Docs::written_in(Path::new("/proc/dockfix-docs"));
        assert!(unwritable.link("DF201").is_none());
    }
}
