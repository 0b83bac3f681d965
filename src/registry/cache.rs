//! Registry answers kept on disk, so pinning many files, or pinning
//! again, does not ask the registry the same question twice within the
//! expiry. One JSON file, rewritten atomically.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long an answer is trusted: tags move, but not often within an hour.
pub const EXPIRY: Duration = Duration::from_secs(3600);

#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    /// Seconds since the Unix epoch when the registry answered.
    at: u64,
    value: serde_json::Value,
}

pub struct Cache {
    file: Option<PathBuf>,
    entries: BTreeMap<String, Entry>,
    expiry: Duration,
    changed: bool,
}

/// `$DOCKFIX_CACHE_DIR`, else `$XDG_CACHE_HOME/dockfix`, else `~/.cache/dockfix`.
pub fn default_dir() -> Option<PathBuf> {
    let var = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("DOCKFIX_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("dockfix")))
        .or_else(|| var("HOME").map(|h| h.join(".cache/dockfix")))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Cache {
    /// The cache in `dir`; none (every question goes to the registry) when
    /// `dir` is `None`. An unreadable cache file is treated as empty.
    pub fn open(dir: Option<PathBuf>, expiry: Duration) -> Cache {
        let file = dir.map(|d| d.join("registry.json"));
        let entries = file
            .as_ref()
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Cache {
            file,
            entries,
            expiry,
            changed: false,
        }
    }

    pub fn get<T: serde::de::DeserializeOwned>(&self, key: &str) -> Option<T> {
        let entry = self.entries.get(key)?;
        let age = now().saturating_sub(entry.at);
        if age >= self.expiry.as_secs() {
            return None;
        }
        serde_json::from_value(entry.value.clone()).ok()
    }

    pub fn put<T: serde::Serialize>(&mut self, key: String, value: &T) {
        let value = serde_json::to_value(value).expect("cache values serialize");
        self.entries.insert(key, Entry { at: now(), value });
        self.changed = true;
    }

    /// Writes the answers back, dropping expired ones.
    pub fn save(&mut self) -> std::io::Result<()> {
        let Some(file) = self.file.as_ref().filter(|_| self.changed) else {
            return Ok(());
        };
        let limit = self.expiry.as_secs();
        self.entries
            .retain(|_, e| now().saturating_sub(e.at) < limit);
        let dir = file.parent().expect("the cache file is in a directory");
        std::fs::create_dir_all(dir)?;
        let mut temp = tempfile::NamedTempFile::new_in(dir)?;
        serde_json::to_writer(&mut temp, &self.entries)?;
        temp.persist(file).map_err(|e| e.error)?;
        self.changed = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_survive_a_reopen_until_they_expire() {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = Cache::open(Some(dir.path().into()), EXPIRY);
        cache.put("digest a".into(), &"sha256:1");
        cache.save().unwrap();
        let cache = Cache::open(Some(dir.path().into()), EXPIRY);
        assert_eq!(cache.get::<String>("digest a").as_deref(), Some("sha256:1"));
        assert_eq!(cache.get::<String>("digest b"), None);
        let expired = Cache::open(Some(dir.path().into()), Duration::ZERO);
        assert_eq!(expired.get::<String>("digest a"), None);
        std::fs::write(dir.path().join("registry.json"), "{not json").unwrap();
        assert_eq!(
            Cache::open(Some(dir.path().into()), EXPIRY).get::<String>("digest a"),
            None,
            "a damaged cache is an empty one"
        );
    }
}
