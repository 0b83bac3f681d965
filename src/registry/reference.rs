//! Image references as Docker reads them: `node` is
//! `docker.io/library/node:latest`, served by `registry-1.docker.io`.

use std::fmt;
/// Docker Hub's name in references, and the host that serves its API.
pub const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// The grammar of `distribution/reference`: lower-case path components
/// joined by `/`, a tag of word characters, dots and dashes, a digest.
/// Written out rather than as regexes: every FROM asks, and compiling the
/// three was a fifth of a one-line file's run.
///
/// A path component: `[a-z0-9]+((?:[._]|__|-+)[a-z0-9]+)*`.
fn is_component(text: &str) -> bool {
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = text.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    bytes.split(alnum).all(|separator| {
        matches!(separator, b"" | b"." | b"_" | b"__") || separator.iter().all(|&b| b == b'-')
    })
}

/// A tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn is_tag(text: &str) -> bool {
    let word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    let bytes = text.as_bytes();
    bytes.first().is_some_and(word)
        && bytes.len() <= 128
        && bytes.iter().all(|b| word(b) || matches!(b, b'.' | b'-'))
}

/// A digest: `sha256:` and 64 lower-case hex digits.
fn is_digest(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// `docker.io`, `ghcr.io`, `localhost:5000`.
    pub domain: String,
    /// The repository inside the registry: `library/node`.
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl Reference {
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = |why: &str| format!("`{text}` is not an image reference: {why}");
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) if is_digest(digest) => (rest, Some(digest.to_string())),
            Some(_) => return Err(invalid("the digest is not `sha256:` and 64 hex digits")),
            None => (text, None),
        };
        let (name, tag) = match rest.rfind(':') {
            Some(colon) if !rest[colon..].contains('/') => {
                (&rest[..colon], Some(rest[colon + 1..].to_string()))
            }
            _ => (rest, None),
        };
        if tag.as_deref().is_some_and(|t| !is_tag(t)) {
            return Err(invalid("bad tag"));
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, path))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                (first.to_string(), path.to_string())
            }
            Some(_) => (DOCKER_HUB.to_string(), name.to_string()),
            None => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let domain = if domain == "index.docker.io" {
            DOCKER_HUB.to_string()
        } else {
            domain
        };
        // Docker Hub's official images live under `library/`.
        let path = if domain == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        if path.is_empty() || !path.split('/').all(is_component) {
            return Err(invalid(
                "repository names are lower-case words joined by `/`",
            ));
        }
        Ok(Reference {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// The tag Docker pulls: the one written, or `latest`.
    pub fn tag_or_latest(&self) -> &str {
        self.tag.as_deref().unwrap_or("latest")
    }

    /// The host whose `/v2/` API serves this reference.
    pub fn api_host(&self) -> &str {
        if self.domain == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.domain
        }
    }

    /// The same repository at another tag, without a digest.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }

    /// `docker.io/library/node`: the repository, without tag or digest.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }
}

/// The full form: `docker.io/library/node:latest`.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.repository(), self.tag_or_latest())?;
        match &self.digest {
            Some(digest) => write!(f, "@{digest}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The written-out grammar answers as the regexes of
    /// `distribution/reference` do, on every string over a small alphabet
    /// that holds each class's edges.
    #[test]
    fn grammar_matches_the_reference_regexes() {
        let component = regex::Regex::new(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$").unwrap();
        let tag = regex::Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$").unwrap();
        let alphabet = ['a', '0', 'Z', '.', '_', '-', ':', '/', 'é'];
        // Every string of up to five characters.
        let mut words = vec![String::new()];
        let mut longest = words.clone();
        for _ in 0..5 {
            longest = longest
                .iter()
                .flat_map(|w| alphabet.iter().map(move |c| format!("{w}{c}")))
                .collect();
            words.extend(longest.iter().cloned());
        }
        assert!(words.len() > 60_000);
        for word in &words {
            assert_eq!(is_component(word), component.is_match(word), "{word:?}");
            assert_eq!(is_tag(word), tag.is_match(word), "{word:?}");
        }
        for (text, long) in [("a", 128), ("a", 127), ("_", 129)] {
            let word = text.repeat(long);
            assert_eq!(is_tag(&word), tag.is_match(&word), "{long}");
        }
        let hex = "0123456789abcdef".repeat(4);
        assert!(is_digest(&format!("sha256:{hex}")));
        for bad in [
            format!("sha256:{}", &hex[1..]),
            format!("sha256:{hex}0"),
            format!("sha256:{}", hex.to_uppercase()),
            format!("sha512:{hex}"),
            hex.clone(),
        ] {
            assert!(!is_digest(&bad), "{bad}");
        }
    }

    fn parts(text: &str) -> (String, String, Option<String>, Option<String>) {
        let r = Reference::parse(text).unwrap();
        (r.domain, r.path, r.tag, r.digest)
    }

    #[test]
    fn docker_hub_names_are_expanded() {
        let node = Reference::parse("node").unwrap();
        assert_eq!(node.to_string(), "docker.io/library/node:latest");
        assert_eq!(node.api_host(), "registry-1.docker.io");
        assert_eq!(parts("bitnami/redis:7").1, "bitnami/redis");
        assert_eq!(parts("docker.io/node").1, "library/node");
        assert_eq!(parts("index.docker.io/library/node").0, "docker.io");
    }

    #[test]
    fn other_registries_ports_tags_and_digests() {
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            parts(&format!("localhost:5000/team/app:1.2@{digest}")),
            (
                "localhost:5000".into(),
                "team/app".into(),
                Some("1.2".into()),
                Some(digest.clone())
            )
        );
        assert_eq!(parts("ghcr.io/o/r").0, "ghcr.io");
        assert_eq!(parts("localhost/app").0, "localhost");
        assert_eq!(parts("127.0.0.1:5000/app").2, None, "a port is not a tag");
    }

    #[test]
    fn invalid_references_are_errors() {
        for bad in ["Node", "node:", "node@sha256:12", "node:a b", "a//b", ""] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }
}
