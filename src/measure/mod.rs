//! `dockfix pr --measure`: the rewrite measured on the Docker engine the
//! `docker` command reaches. Each side, the original and the rewrite, is
//! built from a copy of the files its build context sends (its own
//! `.dockerignore` applied), then built again after a source edit: a new
//! file at the context root, which only a copy of the whole context takes,
//! as the cache model's source edit. The image's size, the rebuild's time
//! and its cached steps go into the pull request's body.
//!
//! The checkout is never written, and the engine's build cache is kept:
//! each side's rebuild follows that side's own first build, so the two
//! rebuilds compare alike whatever the cache held before.

pub mod progress;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::cache::files;
use crate::dockerignore::DockerIgnore;

/// The file the source edit adds to each side's copy of the context.
pub const EDIT: &str = "dockfix-measure-edit.txt";

/// What one side measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Side {
    /// The image's size in bytes, as the engine reports it.
    pub size: u64,
    /// Seconds the rebuild after the source edit took.
    pub rebuild_s: f64,
    /// The rebuild's steps, and how many the cache served.
    pub steps: progress::Steps,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// The engine's version.
    pub engine: String,
    pub before: Side,
    pub after: Side,
}

/// The Dockerfile and `.dockerignore` of one side.
pub struct Sources<'a> {
    pub dockerfile: &'a [u8],
    pub dockerignore: Option<&'a [u8]>,
}

/// The version of the engine `docker` reaches, or why there is none.
pub fn engine() -> Result<String, String> {
    let output = docker(&["version", "--format", "{{.Server.Version}}"])
        .map_err(|e| format!("no Docker engine answered `docker version` ({e})"))?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if !output.status.success() || version.is_empty() {
        return Err(format!(
            "no Docker engine answered `docker version` ({})",
            last_line(&output.stderr)
        ));
    }
    Ok(version)
}

/// Builds both sides of the Dockerfile at `dockerfile` (a path inside
/// `context`, or outside it) with the build context `context`.
pub fn measure(
    engine: &str,
    context: &Path,
    dockerfile: &Path,
    before: &Sources,
    after: &Sources,
) -> Result<Measured, String> {
    let inside = std::path::absolute(dockerfile)
        .ok()
        .zip(std::path::absolute(context).ok())
        .and_then(|(file, root)| file.strip_prefix(root).ok().map(Path::to_path_buf));
    let tag = |side: &str| format!("dockfix-measure:{}-{side}", std::process::id());
    let measure_side = |sources: &Sources, side: &str| {
        side_of(context, inside.as_deref(), sources, &tag(side))
            .map_err(|e| format!("the {side} side: {e}"))
    };
    let before = measure_side(before, "original")?;
    let after = measure_side(after, "rewrite")?;
    Ok(Measured {
        engine: engine.to_string(),
        before,
        after,
    })
}

fn side_of(
    context: &Path,
    inside: Option<&Path>,
    sources: &Sources,
    tag: &str,
) -> Result<Side, String> {
    let dir = tempfile::Builder::new()
        .prefix("dockfix-measure-")
        .tempdir()
        .map_err(|e| format!("a temporary directory: {e}"))?;
    let copy = dir.path().join("context");
    let ignore_text = sources
        .dockerignore
        .map(|t| String::from_utf8_lossy(t).into_owned());
    let ignore = DockerIgnore::parse(ignore_text.as_deref().unwrap_or_default());
    copy_context(context, &copy, &ignore).map_err(|e| format!("copying the build context: {e}"))?;
    let write = |path: &Path, bytes: &[u8]| {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
    };
    if let Some(text) = sources.dockerignore {
        write(&copy.join(".dockerignore"), text)?;
    }
    // The Dockerfile the build reads lies beside the copy; where the
    // context holds it, the copy holds this side's text too.
    let dockerfile = dir.path().join("Dockerfile");
    write(&dockerfile, sources.dockerfile)?;
    if let Some(inside) = inside.filter(|p| !ignore.excludes(&slashed(p))) {
        write(&copy.join(inside), sources.dockerfile)?;
    }
    let build = || -> Result<(f64, String), String> {
        let start = Instant::now();
        let args = [
            "build",
            "--progress=plain",
            "-f",
            &dockerfile.to_string_lossy(),
            "-t",
            tag,
            &copy.to_string_lossy(),
        ]
        .map(|a| a.to_string());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = docker(&args).map_err(|e| format!("docker build: {e}"))?;
        let seconds = start.elapsed().as_secs_f64();
        let log = String::from_utf8_lossy(&output.stderr).into_owned();
        if !output.status.success() {
            return Err(format!(
                "docker build failed: {}",
                last_line(&output.stderr)
            ));
        }
        Ok((seconds, log))
    };
    build()?;
    let inspect = docker(&["image", "inspect", "--format", "{{.Size}}", tag])
        .map_err(|e| format!("docker image inspect: {e}"))?;
    let size = String::from_utf8_lossy(&inspect.stdout)
        .trim()
        .parse::<u64>()
        .map_err(|_| format!("docker image inspect: {}", last_line(&inspect.stderr)))?;
    write(&copy.join(EDIT), b"a source edit\n")?;
    let rebuilt = build();
    let _ = docker(&["image", "rm", "--force", tag]);
    let (rebuild_s, log) = rebuilt?;
    Ok(Side {
        size,
        rebuild_s,
        steps: progress::steps(&log),
    })
}

/// Copies the files of `context` a build sends (with `ignore` applied)
/// into `to`, keeping their modes; symbolic links are copied as links.
fn copy_context(context: &Path, to: &Path, ignore: &DockerIgnore) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for file in files(context, ignore, &[String::new()], &DockerIgnore::default())? {
        let (from, dest) = (context.join(&file.path), to.join(&file.path));
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if std::fs::symlink_metadata(&from)?.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &dest)?;
        } else {
            std::fs::copy(&from, &dest)?;
        }
    }
    Ok(())
}

fn slashed(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

fn docker(args: &[&str]) -> std::io::Result<std::process::Output> {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
}

fn last_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output")
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_holds_what_the_build_sends() {
        let context = tempfile::tempdir().unwrap();
        let root = context.path();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::create_dir_all(root.join("node_modules/x")).unwrap();
        std::fs::write(root.join("src/app.js"), "x").unwrap();
        std::fs::write(root.join("node_modules/x/i.js"), "y").unwrap();
        std::fs::write(root.join("run.sh"), "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root.join("run.sh"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        std::os::unix::fs::symlink("src/app.js", root.join("link.js")).unwrap();
        let to = tempfile::tempdir().unwrap();
        let copy = to.path().join("c");
        copy_context(root, &copy, &DockerIgnore::parse("node_modules\n")).unwrap();
        assert_eq!(
            std::fs::read_to_string(copy.join("src/app.js")).unwrap(),
            "x"
        );
        assert!(!copy.join("node_modules").exists());
        let mode = std::fs::metadata(copy.join("run.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(
            std::fs::read_link(copy.join("link.js")).unwrap(),
            Path::new("src/app.js")
        );
    }
}
