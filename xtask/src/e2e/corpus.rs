//! Corpus acceptance on the modern engine: every `../shared/corpus/real`
//! file that `dockfix --write --unsafe` changes, in either cache style, must
//! still be accepted by the engine's Dockerfile frontend wherever the
//! original is.
//!
//! Builds run for a platform no local image has (`linux/arm64`), so they
//! stop when BuildKit resolves the base images, after it parsed and converted
//! the whole Dockerfile, without running anything. A failure to find or
//! pull an image is therefore an accepted file, not a parse failure.

use std::path::Path;

/// What the frontend made of a Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Parsed and converted; the build then stopped (or finished) for
    /// another reason, named here.
    Accepted(&'static str),
    /// The frontend rejected the Dockerfile, with its message.
    Rejected(String),
}

/// Reads a `docker build --progress=plain` log.
pub fn classify(succeeded: bool, log: &str) -> Verdict {
    if succeeded {
        return Verdict::Accepted("built");
    }
    if let Some(line) = log.lines().find(|l| l.contains("dockerfile parse error")) {
        return Verdict::Rejected(line.trim().to_string());
    }
    let resolving = [
        "failed to resolve source metadata",
        "does not match the specified platform",
        "pull access denied",
        "failed to do request",
        "no match for platform",
    ];
    if resolving.iter().any(|m| log.contains(m)) {
        return Verdict::Accepted("stopped resolving a base image");
    }
    if log.contains("exec format error") || log.lines().any(|l| l.contains("] RUN ")) {
        return Verdict::Accepted("stopped running a step");
    }
    Verdict::Rejected(
        log.lines()
            .rev()
            .find(|l| l.contains("ERROR"))
            .unwrap_or("unknown failure")
            .trim()
            .to_string(),
    )
}

/// The corpus files to check: every regular file under `real/`.
pub fn real_files(corpus: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(corpus.join("real"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pull_failure_is_not_a_parse_failure() {
        let log = "#2 [internal] load metadata for docker.io/library/node:20-alpine\n#2 ERROR: failed to do request: Head \"https://registry-1.docker.io/v2/library/node/manifests/20-alpine\": dial tcp: lookup registry-1.docker.io: no such host\nERROR: failed to solve: node:20-alpine: failed to resolve source metadata for docker.io/library/node:20-alpine";
        assert_eq!(
            classify(false, log),
            Verdict::Accepted("stopped resolving a base image")
        );
        let local = "ERROR: failed to solve: debian:bookworm: image with reference debian:bookworm was found but does not match the specified platform: wanted linux/arm64, actual: linux/amd64";
        assert_eq!(
            classify(false, local),
            Verdict::Accepted("stopped resolving a base image")
        );
    }

    #[test]
    fn parse_errors_are_rejections() {
        let log = "#1 [internal] load build definition from Dockerfile\n#1 DONE 0.0s\nDockerfile:3\n--------------------\nERROR: failed to solve: dockerfile parse error on line 3: unknown instruction: CPY";
        assert_eq!(
            classify(false, log),
            Verdict::Rejected("ERROR: failed to solve: dockerfile parse error on line 3: unknown instruction: CPY".into())
        );
    }

    #[test]
    fn steps_that_ran_mean_the_file_was_accepted() {
        let log = "#5 [2/3] RUN echo hi\n#5 0.101 exec /bin/sh: exec format error\n#5 ERROR: process \"/bin/sh -c echo hi\" did not complete successfully: exit code: 1";
        assert_eq!(
            classify(false, log),
            Verdict::Accepted("stopped running a step")
        );
        assert_eq!(classify(true, ""), Verdict::Accepted("built"));
        assert!(matches!(
            classify(false, "ERROR: failed to solve: something else"),
            Verdict::Rejected(_)
        ));
    }
}
