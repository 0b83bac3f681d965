//! `dockfix pr --measure` on the engine: a git checkout of a fixture, the
//! engine reached through a `docker` first on PATH, and the body's measured
//! sentence read back and checked.

use std::path::Path;
use std::process::Command;

use super::{copy_dir, Result};

/// The fixture measured: its rewrite moves the install before the copy.
pub const FIXTURE: &str = "python-pip";

pub struct Checked {
    /// The body's sentence, as dockfix wrote it.
    pub sentence: String,
    pub problems: Vec<String>,
}

/// Runs `dockfix pr --dry-run --measure` in a checkout of `fixture` under
/// `work` (which the engine sees at the same path), the engine's docker
/// reached through `engine_script docker`.
pub fn check(dockfix: &Path, engine_script: &Path, fixture: &Path, work: &Path) -> Result<Checked> {
    let _ = std::fs::remove_dir_all(work);
    let repo = work.join("repo");
    copy_dir(fixture, &repo)?;
    let git = |args: &[&str]| -> Result<()> {
        let status = Command::new("git")
            .current_dir(&repo)
            .args([
                "-c",
                "user.name=dockfix e2e",
                "-c",
                "user.email=e2e@localhost",
            ])
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .status()
            .map_err(|e| format!("git: {e}"))?;
        status
            .success()
            .then_some(())
            .ok_or_else(|| format!("git {}: {status}", args.join(" ")))
    };
    git(&["init", "-q", "-b", "main"])?;
    git(&["add", "-A"])?;
    git(&["commit", "-q", "-m", "fixture"])?;
    git(&[
        "remote",
        "add",
        "origin",
        "https://github.com/e2e/fixture.git",
    ])?;
    git(&["update-ref", "refs/remotes/origin/main", "HEAD"])?;
    // Temporary copies go where the engine sees them.
    let (bin, tmp) = (work.join("bin"), work.join("tmp"));
    for dir in [&bin, &tmp] {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let docker = bin.join("docker");
    std::fs::write(
        &docker,
        format!(
            "#!/bin/sh\nexec bash '{}' docker \"$@\"\n",
            engine_script.display()
        ),
    )
    .map_err(|e| format!("{}: {e}", docker.display()))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("{}: {e}", docker.display()))?;
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new(dockfix)
        .current_dir(&repo)
        .args(["pr", "--dry-run", "--measure"])
        .env("PATH", path)
        .env("TMPDIR", &tmp)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .map_err(|e| format!("dockfix pr: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    std::fs::write(work.join("body.md"), stdout.as_bytes()).map_err(|e| e.to_string())?;
    let mut problems = Vec::new();
    if !output.status.success() {
        problems.push(format!(
            "dockfix pr failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let sentence = stdout
        .lines()
        .find(|l| l.starts_with("Measured on Docker ") || l.starts_with("Not measured"))
        .unwrap_or_default()
        .to_string();
    match read(&sentence) {
        Some(figures) => problems.extend(figures.problems()),
        None => problems.push(format!(
            "no measured sentence in the body (see {})",
            work.join("body.md").display()
        )),
    }
    if tmp.read_dir().map_or(true, |mut d| d.next().is_some()) {
        problems.push(format!("{} was not cleaned up", tmp.display()));
    }
    let status = Command::new("git")
        .current_dir(&repo)
        .args(["status", "--porcelain"])
        .output()
        .map_err(|e| format!("git status: {e}"))?;
    if !status.stdout.is_empty() {
        problems.push(format!(
            "the checkout changed: {}",
            String::from_utf8_lossy(&status.stdout).trim()
        ));
    }
    Ok(Checked { sentence, problems })
}

/// The figures of the measured sentence.
#[derive(Debug, PartialEq)]
struct Figures {
    sizes: (f64, f64),
    /// Each side's rebuild: seconds, cached steps, steps.
    rebuilds: [(f64, usize, usize); 2],
}

impl Figures {
    /// The rewrite moves the install before the copy: its rebuild after a
    /// source edit serves more steps from the cache, and is faster.
    fn problems(&self) -> Vec<String> {
        let [before, after] = self.rebuilds;
        let mut problems = Vec::new();
        if self.sizes.0 <= 0.0 || self.sizes.1 <= 0.0 {
            problems.push(format!("image sizes {:?}", self.sizes));
        }
        if after.1 <= before.1 || before.2 == 0 {
            problems.push(format!(
                "cached steps after a source edit: {} of {} before, {} of {} after",
                before.1, before.2, after.1, after.2
            ));
        }
        if after.0 >= before.0 {
            problems.push(format!(
                "the rebuild took {} s before and {} s after",
                before.0, after.0
            ));
        }
        problems
    }
}

/// `Measured on Docker V (...): the image is A MB before the rewrite and B
/// MB after it; after a source edit, the rebuild took X s (c of n steps
/// cached) before and Y s (c of n steps cached) after.`
fn read(sentence: &str) -> Option<Figures> {
    let numbers: Vec<f64> = sentence
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter(|w| !w.is_empty() && w.chars().any(|c| c.is_ascii_digit()))
        .filter_map(|w| w.trim_end_matches('.').parse().ok())
        .collect();
    // The engine's version comes first, in as many parts as it has.
    let figures = numbers.get(numbers.len().checked_sub(8)?..)?;
    if !sentence.starts_with("Measured on Docker ") {
        return None;
    }
    let side = |at: usize| {
        (
            figures[at],
            figures[at + 1] as usize,
            figures[at + 2] as usize,
        )
    };
    Some(Figures {
        sizes: (figures[0], figures[1]),
        rebuilds: [side(2), side(5)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_sentence_dockfix_writes() {
        let sentence = "Measured on Docker 26.1.5 (`--measure`): the image is 160.1 MB before the rewrite and 138.9 MB after it; after a source edit, the rebuild took 12.3 s (1 of 5 steps cached) before and 1.1 s (4 of 6 steps cached) after.";
        let figures = read(sentence).unwrap();
        assert_eq!(
            figures,
            Figures {
                sizes: (160.1, 138.9),
                rebuilds: [(12.3, 1, 5), (1.1, 4, 6)],
            }
        );
        assert!(figures.problems().is_empty());
        let worse = Figures {
            sizes: (1.0, 1.0),
            rebuilds: [(1.0, 4, 5), (2.0, 1, 5)],
        };
        assert_eq!(worse.problems().len(), 2);
        assert!(read("Not measured (`--measure`): no Docker engine answered.").is_none());
    }
}
