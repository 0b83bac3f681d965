//! Pinning base images: which tags float, which version tag stands for a
//! floating one today, and the registry answers DF401 and DF402 read.
//! The registry is asked only when pinning is asked for.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use crate::registry::cache::Cache;
use crate::registry::{Client, Reference};
use crate::transforms;

/// What `--pin` rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PinMode {
    /// Floating tags (`latest`, none, `lts`, `alpine`) to version tags.
    Version,
    /// Tags to `tag@sha256:digest`.
    Digest,
    /// Both: a version tag, then its digest.
    Both,
}

impl PinMode {
    /// The mode that pins versions, digests, both, or nothing.
    pub fn of(versions: bool, digests: bool) -> Option<PinMode> {
        match (versions, digests) {
            (true, true) => Some(PinMode::Both),
            (true, false) => Some(PinMode::Version),
            (false, true) => Some(PinMode::Digest),
            (false, false) => None,
        }
    }

    pub fn versions(self) -> bool {
        self != PinMode::Digest
    }

    pub fn digests(self) -> bool {
        self != PinMode::Version
    }
}

/// The variant a floating tag asks for: `""` for none or `latest`,
/// `alpine` for `lts-alpine`. `None` when the tag has a version or names a
/// release (`18`, `3.12-slim`, `bookworm`); see `transforms/pinning.toml`.
pub fn floating_variant(tag: Option<&str>) -> Option<String> {
    let Some(tag) = tag else {
        return Some(String::new());
    };
    let table = transforms::pinning();
    let mut floats = false;
    let mut variant = Vec::new();
    for word in tag.split('-') {
        if table.floating.iter().any(|f| f == word) {
            floats = true;
        } else if table.flavors.iter().any(|f| f == word) {
            variant.push(word);
        } else {
            return None;
        }
    }
    (floats || !variant.is_empty()).then(|| variant.join("-"))
}

static VERSION_TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^v?(\d+(?:\.\d+)*)(?:-(.+))?$").expect("valid"));

/// Numbers this large are dates or build numbers (`20240101`), not
/// version components: a date tag is no release to pin to.
const LARGEST_COMPONENT: u64 = 9999;

/// The version numbers of a tag in `variant`: `22.11.0-alpine` is
/// `[22, 11, 0]` in `alpine`, `v3.2` is `[3, 2]`; `3.13.0rc1` and
/// `20240101` have none.
fn version_numbers(tag: &str, variant: &str) -> Option<Vec<u64>> {
    let caps = VERSION_TAG.captures(tag)?;
    let suffix = caps.get(2).map_or("", |m| m.as_str());
    if suffix != variant {
        return None;
    }
    caps[1]
        .split('.')
        .map(|n| n.parse().ok().filter(|&n| n <= LARGEST_COMPONENT))
        .collect()
}

/// Most registry questions one version lookup may ask before it settles
/// for the most specific tag found so far.
const MAX_PROBES: usize = 40;

/// The most specific version tag in `variant` that `same` confirms has the
/// floating tag's digest. Narrows one version component at a time, newest
/// first (`22`, then `22.11`, then `22.11.0`), so few tags are asked about.
pub fn version_tag(
    tags: &[String],
    variant: &str,
    same: &mut dyn FnMut(&str) -> Result<bool, String>,
) -> Result<Option<String>, String> {
    let mut candidates: Vec<(Vec<u64>, &String)> = tags
        .iter()
        .filter_map(|t| version_numbers(t, variant).map(|v| (v, t)))
        .collect();
    candidates.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    let deepest = candidates.iter().map(|c| c.0.len()).max().unwrap_or(0);
    let mut best: Option<(Vec<u64>, String)> = None;
    let mut probes = 0;
    for depth in 1..=deepest {
        let prefix = best.as_ref().map_or(&[][..], |b| &b.0[..]);
        let level: Vec<_> = candidates
            .iter()
            .filter(|(v, _)| v.len() == depth && v.starts_with(prefix))
            .collect();
        for (numbers, tag) in level {
            if probes == MAX_PROBES {
                return match best {
                    Some(best) => Ok(Some(best.1)),
                    None => Err(format!(
                        "none of the {MAX_PROBES} newest version tags asked about has its digest"
                    )),
                };
            }
            probes += 1;
            if same(tag)? {
                best = Some((numbers.clone(), tag.to_string()));
                break;
            }
        }
    }
    Ok(best.map(|b| b.1))
}

/// A registry client with the disk cache in front of it.
pub struct Resolver {
    client: Client,
    cache: Cache,
}

impl Resolver {
    pub fn new(client: Client, cache: Cache) -> Resolver {
        Resolver { client, cache }
    }

    /// See `Client::digest`: `None` when the registry has no such tag.
    pub fn digest(&mut self, image: &Reference) -> Result<Option<String>, String> {
        let target = image.digest.as_deref().unwrap_or(image.tag_or_latest());
        let key = format!("digest {}:{target}", self.client.locate(image));
        self.cached(key, |client| client.digest(image))
    }

    pub fn tags(&mut self, image: &Reference) -> Result<Vec<String>, String> {
        let key = format!("tags {}", self.client.locate(image));
        self.cached(key, |client| client.tags(image))
    }

    /// The cached answer to a question, or the registry's (then cached).
    fn cached<T>(
        &mut self,
        key: String,
        ask: impl FnOnce(&Client) -> Result<T, String>,
    ) -> Result<T, String>
    where
        T: serde::Serialize + serde::de::DeserializeOwned,
    {
        if let Some(answer) = self.cache.get(&key) {
            return Ok(answer);
        }
        let answer = ask(&self.client)?;
        self.cache.put(key, &answer);
        Ok(answer)
    }

    /// Where the image's registry API is asked: its registry or a mirror.
    pub fn api_origin(&self, image: &Reference) -> String {
        self.client.api_origin(image)
    }

    /// Keeps the answers for the next run.
    pub fn save(&mut self) -> std::io::Result<()> {
        self.cache.save()
    }
}

/// What the registry said about one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub digest: String,
    /// For a floating tag, when versions are pinned: the version tag with
    /// the same digest, if one has it.
    pub version: Result<Option<String>, String>,
}

/// The registry answers for a run, by image (`docker.io/library/node:latest`).
pub struct Pins {
    pub mode: PinMode,
    /// Whether images named through an `ARG` default are pinned too.
    pub args: bool,
    answers: HashMap<String, Result<Resolved, String>>,
}

fn key(image: &Reference) -> String {
    image.with_tag(image.tag_or_latest()).to_string()
}

impl Pins {
    pub fn new(mode: PinMode, args: bool) -> Pins {
        Pins {
            mode,
            args,
            answers: HashMap::new(),
        }
    }

    pub fn answer(&self, image: &Reference) -> Option<&Result<Resolved, String>> {
        self.answers.get(&key(image))
    }

    /// Records an answer; a version tag found for a floating one has the
    /// same digest, so it is recorded too (the next fix round pins it).
    pub fn insert(&mut self, image: &Reference, answer: Result<Resolved, String>) {
        if let Ok(Resolved {
            digest,
            version: Ok(Some(version)),
        }) = &answer
        {
            let pinned = Resolved {
                digest: digest.clone(),
                version: Ok(None),
            };
            self.answers
                .insert(key(&image.with_tag(version)), Ok(pinned));
        }
        self.answers.insert(key(image), answer);
    }

    /// Asks the registry about an image not asked about yet.
    pub fn resolve(&mut self, image: &Reference, resolver: &mut Resolver) {
        if self.answer(image).is_some() {
            return;
        }
        let versions = self.mode.versions();
        let found = resolver
            .digest(image)
            .and_then(|digest| digest.ok_or_else(|| format!("{image}: not found in the registry")));
        let answer = found.map(|digest| {
            let version = match floating_variant(image.tag.as_deref()) {
                Some(variant) if versions => resolver.tags(image).and_then(|tags| {
                    // A listed tag whose manifest is gone is not the one.
                    version_tag(&tags, &variant, &mut |tag| {
                        Ok(resolver.digest(&image.with_tag(tag))?.as_ref() == Some(&digest))
                    })
                }),
                _ => Ok(None),
            };
            Resolved { digest, version }
        });
        self.insert(image, answer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floating_tags_and_their_variants() {
        assert_eq!(floating_variant(None).as_deref(), Some(""));
        assert_eq!(floating_variant(Some("latest")).as_deref(), Some(""));
        assert_eq!(
            floating_variant(Some("lts-alpine")).as_deref(),
            Some("alpine")
        );
        assert_eq!(floating_variant(Some("alpine")).as_deref(), Some("alpine"));
        for pinned in ["18", "3.12-slim", "bookworm", "lts-bookworm", "alpine3.20"] {
            assert_eq!(floating_variant(Some(pinned)), None, "{pinned}");
        }
    }

    fn pick(
        tags: &[&str],
        variant: &str,
        digest_of: &[(&str, u8)],
    ) -> (Option<String>, Vec<String>) {
        let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
        let mut asked = Vec::new();
        let found = version_tag(&tags, variant, &mut |tag| {
            asked.push(tag.to_string());
            Ok(digest_of.iter().any(|(t, d)| *t == tag && *d == 1))
        })
        .unwrap();
        (found, asked)
    }

    #[test]
    fn the_most_specific_version_with_the_digest() {
        let tags = [
            "latest",
            "22",
            "22.11",
            "22.11.0",
            "22.10.0",
            "23",
            "23.1",
            "23.1.0",
            "23.1.0-alpine",
            "23.2.0rc1",
            "lts",
        ];
        // `lts` is 22.11.0 today: 23 is asked about first and does not match.
        let (found, asked) = pick(&tags, "", &[("22", 1), ("22.11", 1), ("22.11.0", 1)]);
        assert_eq!(found.as_deref(), Some("22.11.0"));
        assert_eq!(asked, ["23", "22", "22.11", "22.11.0"]);
        // The variant is kept: only `-alpine` tags stand for `alpine`.
        let (found, _) = pick(&tags, "alpine", &[("23.1.0-alpine", 1), ("23.1.0", 1)]);
        assert_eq!(found.as_deref(), Some("23.1.0-alpine"));
        // Date stamps are no versions; `v` prefixes are.
        let (found, asked) = pick(
            &["20240101", "3", "3.20", "3.20.3"],
            "",
            &[("20240101", 1), ("3", 1), ("3.20", 1), ("3.20.3", 1)],
        );
        assert_eq!(found.as_deref(), Some("3.20.3"));
        assert!(!asked.contains(&"20240101".to_string()));
        let (found, _) = pick(
            &["v3", "v3.2", "v3.2.1"],
            "",
            &[("v3", 1), ("v3.2", 1), ("v3.2.1", 1)],
        );
        assert_eq!(found.as_deref(), Some("v3.2.1"));
        // A missing level is skipped, not the end of the search.
        let (found, _) = pick(&["3", "3.12.4", "3.11.9"], "", &[("3", 1), ("3.12.4", 1)]);
        assert_eq!(found.as_deref(), Some("3.12.4"));
        let (found, _) = pick(&tags, "", &[]);
        assert_eq!(found, None);
    }

    #[test]
    fn a_search_that_runs_out_of_questions_says_so() {
        let tags: Vec<String> = (0..50).map(|n| format!("{n}.0")).collect();
        let error = version_tag(&tags, "", &mut |_| Ok(false)).unwrap_err();
        assert!(error.contains("none of the 40"), "{error}");
    }

    #[test]
    fn a_registry_error_ends_the_lookup() {
        let tags = vec!["1".to_string()];
        let result = version_tag(&tags, "", &mut |_| Err("429".into()));
        assert_eq!(result, Err("429".into()));
    }

    #[test]
    fn a_found_version_is_answered_for_too() {
        let node = Reference::parse("node").unwrap();
        let mut pins = Pins::new(PinMode::Both, false);
        pins.insert(
            &node,
            Ok(Resolved {
                digest: "sha256:1".into(),
                version: Ok(Some("22.11.0".into())),
            }),
        );
        let pinned = Reference::parse("docker.io/library/node:22.11.0").unwrap();
        assert_eq!(
            pins.answer(&pinned).cloned(),
            Some(Ok(Resolved {
                digest: "sha256:1".into(),
                version: Ok(None)
            }))
        );
        assert!(pins
            .answer(&Reference::parse("node:latest").unwrap())
            .is_some());
    }
}
