//! Pinned base images. The `pinned` variant (`dockfix --write --pin both`,
//! with the harness's registry as Docker Hub's mirror) must leave every FROM
//! that names an image on a digest the registry reports for it, and the
//! engine must build from that digest, fetched through the mirror rather
//! than found among its local images.

use super::registry::Registry;
use super::Result;

/// An image a FROM names, read as Docker reads a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    /// As written (`debian:12@sha256:...`).
    pub text: String,
    /// The Docker Hub repository (`library/debian`); none for an image of
    /// another registry.
    pub hub_repo: Option<String>,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl Base {
    pub fn parse(text: &str) -> Base {
        let (name, digest) = match text.split_once('@') {
            Some((name, digest)) => (name, Some(digest.to_string())),
            None => (text, None),
        };
        // A colon after the last slash starts the tag (`localhost:5000/app`
        // has none).
        let (name, tag) = match name.rsplit_once(':') {
            Some((n, t)) if !t.contains('/') => (n, Some(t.to_string())),
            _ => (name, None),
        };
        // The first component is a registry when it looks like a host.
        let (domain, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first, rest)
            }
            _ => ("docker.io", name),
        };
        let hub_repo = matches!(domain, "docker.io" | "index.docker.io").then(|| {
            if path.contains('/') {
                path.to_string()
            } else {
                format!("library/{path}")
            }
        });
        Base {
            text: text.to_string(),
            hub_repo,
            tag,
            digest,
        }
    }

    /// The name BuildKit prints in its `FROM` step: `docker.io/library/debian:12@sha256:...`.
    fn buildkit_name(&self) -> Option<String> {
        let repo = self.hub_repo.as_ref()?;
        let tag = self.tag.as_ref().map_or(String::new(), |t| format!(":{t}"));
        Some(format!("docker.io/{repo}{tag}@{}", self.digest.as_ref()?))
    }
}

/// The images the FROMs of a Dockerfile name, in order, read from `dockfix
/// parse --dump` (BuildKit's AST: `(from ["--platform=..."] "image" "AS"
/// "name")`): neither `scratch` nor an earlier stage.
pub fn bases(dump: &str) -> Vec<Base> {
    let mut stages: Vec<String> = vec![];
    let mut bases = vec![];
    for line in dump.lines() {
        let Some(mut rest) = line.strip_prefix("(from ") else {
            continue;
        };
        if rest.starts_with('[') {
            rest = rest.split_once(']').map_or("", |(_, r)| r);
        }
        // Quoted strings sit between every other pair of quotes.
        let words: Vec<&str> = rest.split('"').skip(1).step_by(2).collect();
        let Some(&image) = words.first() else {
            continue;
        };
        if !image.eq_ignore_ascii_case("scratch")
            && !stages.iter().any(|s| s.eq_ignore_ascii_case(image))
        {
            bases.push(Base::parse(image));
        }
        if let [_, as_, name, ..] = words[..] {
            if as_.eq_ignore_ascii_case("as") {
                stages.push(name.to_string());
            }
        }
    }
    bases
}

/// What is wrong with a pinned Dockerfile's bases: one without a digest,
/// one the mirror does not stand in for, a digest the registry does not
/// report, or a tag the registry reports another digest for.
pub fn check_rewrite(bases: &[Base], registry: &Registry) -> Result<Vec<String>> {
    let mut problems = vec![];
    if bases.is_empty() {
        problems.push("no FROM names an image".to_string());
    }
    for base in bases {
        let (Some(repo), Some(digest)) = (&base.hub_repo, &base.digest) else {
            problems.push(match base.hub_repo {
                None => format!(
                    "{}: not a Docker Hub image, which the registry stands in for",
                    base.text
                ),
                Some(_) => format!("{}: no digest", base.text),
            });
            continue;
        };
        if registry.digest(repo, digest)?.as_ref() != Some(digest) {
            problems.push(format!(
                "{}: the registry has no manifest {digest}",
                base.text
            ));
        }
        if let Some(tag) = &base.tag {
            match registry.digest(repo, tag)? {
                Some(d) if d == *digest => {}
                Some(d) => problems.push(format!("{}: the registry's {tag} is {d}", base.text)),
                None => problems.push(format!("{}: the registry has no tag {tag}", base.text)),
            }
        }
    }
    Ok(problems)
}

/// A Dockerfile on a floating tag, which no fixture has: `FROM debian`
/// means `debian:latest` (which `e2e/engine.sh` gives the newest Debian
/// image, as Docker Hub does), so `--pin both` must give it a version tag
/// that names what `latest` names, and that digest.
pub const FLOATING: &str = "FROM debian\nCMD [\"cat\", \"/etc/debian_version\"]\n";

/// What is wrong with the pins of [`FLOATING`] beyond [`check_rewrite`]: a
/// tag that still floats, a digest that is not `latest`'s.
pub fn check_version(bases: &[Base], registry: &Registry) -> Result<Vec<String>> {
    let [base] = bases else {
        return Ok(vec![format!(
            "{} FROMs name an image, not one",
            bases.len()
        )]);
    };
    let mut problems = vec![];
    if matches!(base.tag.as_deref(), None | Some("latest")) {
        problems.push(format!("{}: no version tag", base.text));
    }
    if let Some(repo) = &base.hub_repo {
        let latest = registry.digest(repo, "latest")?;
        if latest.is_none() || latest != base.digest {
            problems.push(format!(
                "{}: the registry's latest is {}",
                base.text,
                latest.as_deref().unwrap_or("missing")
            ));
        }
    }
    Ok(problems)
}

/// What the build shows against the pins: the engine's FROM step must name
/// each pinned digest, and the engine must have fetched that manifest from
/// the registry as Docker Hub's mirror (`mirrored`: `repo@reference` of what
/// it fetched during the build).
pub fn check_built(bases: &[Base], build_log: &str, mirrored: &[String]) -> Vec<String> {
    let mut problems = vec![];
    for base in bases {
        let (Some(name), Some(repo), Some(digest)) =
            (base.buildkit_name(), &base.hub_repo, &base.digest)
        else {
            continue;
        };
        if !build_log.contains(&format!("FROM {name}")) {
            problems.push(format!("{}: the build has no step FROM {name}", base.text));
        }
        if !mirrored.contains(&format!("{repo}@{digest}")) {
            problems.push(format!(
                "{}: the engine did not fetch {digest} through the mirror",
                base.text
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e755fbf6fa7ef87e48c3e929370b23dd0316398249152a7dcdf5dce06dba4a36";

    #[test]
    fn references_read_as_docker_reads_them() {
        let base = Base::parse(&format!("debian:12.15@{D}"));
        assert_eq!(base.hub_repo.as_deref(), Some("library/debian"));
        assert_eq!(base.tag.as_deref(), Some("12.15"));
        assert_eq!(base.digest.as_deref(), Some(D));
        assert_eq!(
            base.buildkit_name().unwrap(),
            format!("docker.io/library/debian:12.15@{D}")
        );
        let plain = Base::parse("debian");
        assert_eq!(
            (plain.hub_repo.as_deref(), plain.tag, plain.digest),
            (Some("library/debian"), None, None)
        );
        assert_eq!(
            Base::parse("docker.io/bitnami/redis:7").hub_repo.as_deref(),
            Some("bitnami/redis")
        );
        assert_eq!(
            Base::parse(&format!("grafana/grafana@{D}"))
                .buildkit_name()
                .unwrap(),
            format!("docker.io/grafana/grafana@{D}")
        );
        for other in ["ghcr.io/o/app:1", "localhost:5000/app", "localhost/app:1"] {
            let base = Base::parse(other);
            assert_eq!(base.hub_repo, None, "{other}");
        }
        assert_eq!(Base::parse("localhost:5000/app").tag, None);
    }

    #[test]
    fn bases_skip_scratch_and_earlier_stages() {
        let dump = format!(
            "(from \"golang:1.19@{D}\" \"AS\" \"build\")\n(workdir \"/src\")\n\
             (copy [\"--from=build\"] \"/out/hello\" \"/usr/local/bin/hello\")\n\
             (from [\"--platform=linux/amd64\"] \"debian:bookworm-slim@{D}\")\n\
             (from \"BUILD\" \"as\" \"again\")\n(from \"scratch\")\n(from \"node:18\")\n"
        );
        let texts: Vec<_> = bases(&dump).into_iter().map(|b| b.text).collect();
        assert_eq!(
            texts,
            [
                format!("golang:1.19@{D}"),
                format!("debian:bookworm-slim@{D}"),
                "node:18".into()
            ]
        );
    }

    #[test]
    fn pins_must_be_digests_the_registry_reports_for_their_tags() {
        let latest = "sha256:f292";
        let registry = crate::e2e::registry::fake(&[
            ("/v2/library/debian/manifests/bookworm", D),
            (&format!("/v2/library/debian/manifests/{D}"), D),
            ("/v2/library/debian/manifests/13.8", latest),
            ("/v2/library/debian/manifests/latest", latest),
            (&format!("/v2/library/debian/manifests/{latest}"), latest),
        ]);
        let check = |text: &str| check_rewrite(&[Base::parse(text)], &registry).unwrap();
        assert!(check(&format!("debian:bookworm@{D}")).is_empty());
        assert!(check(&format!("debian@{D}")).is_empty());
        assert_eq!(check("debian:bookworm"), ["debian:bookworm: no digest"]);
        assert_eq!(
            check(&format!("debian:13.8@{D}")),
            [format!("debian:13.8@{D}: the registry's 13.8 is {latest}")]
        );
        assert_eq!(
            check("debian:sid@sha256:0"),
            [
                "debian:sid@sha256:0: the registry has no manifest sha256:0",
                "debian:sid@sha256:0: the registry has no tag sid"
            ]
        );
        assert!(check(&format!("ghcr.io/o/app:1@{D}"))[0].contains("not a Docker Hub image"));
        assert_eq!(
            check_rewrite(&[], &registry).unwrap(),
            ["no FROM names an image"]
        );

        // A floating tag must end on a version tag with latest's digest.
        let version = |text: &str| check_version(&[Base::parse(text)], &registry).unwrap();
        assert!(version(&format!("debian:13.8@{latest}")).is_empty());
        assert_eq!(
            version(&format!("debian:latest@{latest}")),
            [format!("debian:latest@{latest}: no version tag")]
        );
        assert_eq!(
            version(&format!("debian:bookworm@{D}")),
            [format!(
                "debian:bookworm@{D}: the registry's latest is {latest}"
            )]
        );
    }

    #[test]
    fn a_build_must_name_the_digest_and_fetch_it_through_the_mirror() {
        let base = Base::parse(&format!("debian:bookworm@{D}"));
        let log = format!("#4 [1/2] FROM docker.io/library/debian:bookworm@{D}\n");
        let fetched = vec![format!("library/debian@{D}")];
        assert!(check_built(std::slice::from_ref(&base), &log, &fetched).is_empty());
        let problems = check_built(std::slice::from_ref(&base), &log, &[]);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("did not fetch"), "{problems:?}");
        let problems = check_built(
            &[base],
            "#4 [1/2] FROM docker.io/library/debian:bookworm\n",
            &fetched,
        );
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("no step FROM"), "{problems:?}");
    }
}
