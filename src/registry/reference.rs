//! Image references as Docker reads them: `node` is
//! `docker.io/library/node:latest`, served by `registry-1.docker.io`.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

/// Docker Hub's name in references, and the host that serves its API.
pub const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// The grammar of `distribution/reference`: lower-case path components
/// joined by `/`, a tag of word characters, dots and dashes, a digest.
static COMPONENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$").expect("valid"));
static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$").expect("valid"));
static DIGEST: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^sha256:[0-9a-f]{64}$").expect("valid"));

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
            Some((rest, digest)) if DIGEST.is_match(digest) => (rest, Some(digest.to_string())),
            Some(_) => return Err(invalid("the digest is not `sha256:` and 64 hex digits")),
            None => (text, None),
        };
        let (name, tag) = match rest.rfind(':') {
            Some(colon) if !rest[colon..].contains('/') => {
                (&rest[..colon], Some(rest[colon + 1..].to_string()))
            }
            _ => (rest, None),
        };
        if tag.as_deref().is_some_and(|t| !TAG.is_match(t)) {
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
        if path.is_empty() || !path.split('/').all(|c| COMPONENT.is_match(c)) {
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
