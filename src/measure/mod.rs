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

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::cache::paths;
use crate::dockerignore::{slashed, DockerIgnore};

/// The file the source edit adds to each side's copy of the context: no
/// extension, so that no pattern of a manifest COPY (`*.txt`) takes it,
/// as none takes the model's source edit.
pub const EDIT: &str = "dockfix-measure-edit";

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
    let version = crate::syntax::lossy(&output.stdout).trim().to_string();
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
    // Where the context holds the Dockerfile, with links resolved: a path
    // with `..` or through a link is no place to write.
    let inside = dockerfile
        .canonicalize()
        .ok()
        .zip(context.canonicalize().ok())
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
        .map(|t| crate::syntax::lossy(t).into_owned());
    let ignore = DockerIgnore::parse(ignore_text.as_deref().unwrap_or_default());
    copy_context(context, &copy, &ignore).map_err(|e| format!("copying the build context: {e}"))?;
    let failed = |path: &Path, e: std::io::Error| format!("{}: {e}", path.display());
    if let Some(text) = sources.dockerignore {
        replace_in(&copy, Path::new(".dockerignore"), text).map_err(|e| failed(&copy, e))?;
    }
    // The Dockerfile the build reads lies beside the copy; where the
    // context holds it, the copy holds this side's text too.
    let dockerfile = dir.path().join("Dockerfile");
    std::fs::write(&dockerfile, sources.dockerfile).map_err(|e| failed(&dockerfile, e))?;
    if let Some(inside) = inside.filter(|p| !ignore.excludes(&slashed(p))) {
        replace_in(&copy, inside, sources.dockerfile).map_err(|e| failed(&copy, e))?;
    }
    let build = || -> Result<(f64, String), String> {
        let start = Instant::now();
        let args = [
            "build".as_ref(),
            "--progress=plain".as_ref(),
            "-f".as_ref(),
            dockerfile.as_os_str(),
            "-t".as_ref(),
            tag.as_ref(),
            copy.as_os_str(),
        ];
        let output = docker(&args).map_err(|e| format!("docker build: {e}"))?;
        let seconds = start.elapsed().as_secs_f64();
        let log = crate::syntax::lossy(&output.stderr).into_owned();
        if !output.status.success() {
            return Err(format!(
                "docker build failed: {}",
                last_line(&output.stderr)
            ));
        }
        Ok((seconds, log))
    };
    // The image goes however the measurement ends.
    struct Removed<'t>(&'t str);
    impl Drop for Removed<'_> {
        fn drop(&mut self) {
            let _ = docker(&["image", "rm", "--force", self.0]);
        }
    }
    let _removed = Removed(tag);
    build()?;
    let inspect = docker(&["image", "inspect", "--format", "{{.Size}}", tag])
        .map_err(|e| format!("docker image inspect: {e}"))?;
    let size = crate::syntax::lossy(&inspect.stdout)
        .trim()
        .parse::<u64>()
        .map_err(|_| format!("docker image inspect: {}", last_line(&inspect.stderr)))?;
    let edit = copy.join(EDIT);
    std::fs::write(&edit, b"a source edit\n").map_err(|e| failed(&edit, e))?;
    let (rebuild_s, log) = build()?;
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
    for path in paths(context, ignore, &[String::new()], &DockerIgnore::default())? {
        let (from, dest) = (context.join(&path), to.join(&path));
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

/// Writes `bytes` at `relative` in the copy `root`, in place of what the
/// copy holds there. Nothing is written through a link: a link the context
/// holds there, or on the way, is left as the build would send it.
fn replace_in(root: &Path, relative: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut at = root.to_path_buf();
    let parts: Vec<_> = relative.components().collect();
    for (i, part) in parts.iter().enumerate() {
        let std::path::Component::Normal(name) = part else {
            return Ok(());
        };
        at.push(name);
        let existing = std::fs::symlink_metadata(&at);
        if existing.as_ref().is_ok_and(|m| m.file_type().is_symlink()) {
            return Ok(());
        }
        if i + 1 < parts.len() && existing.is_err() {
            std::fs::create_dir(&at)?;
        }
    }
    std::fs::write(&at, bytes)
}

fn docker<A: AsRef<OsStr>>(args: &[A]) -> std::io::Result<std::process::Output> {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
}

fn last_line(bytes: &[u8]) -> String {
    let text = crate::syntax::lossy(bytes);
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
        // A file a `!` pattern brings back from a directory left out.
        std::fs::write(root.join("node_modules/keep.js"), "k").unwrap();
        let again = to.path().join("again");
        let ignore = DockerIgnore::parse("node_modules\n!node_modules/keep.js\n");
        copy_context(root, &again, &ignore).unwrap();
        assert!(again.join("node_modules/keep.js").is_file());
        assert!(!again.join("node_modules/x").exists());
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

    #[test]
    fn nothing_is_written_through_a_link() {
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("Dockerfile");
        std::fs::write(&target, "FROM original\n").unwrap();
        let copy = tempfile::tempdir().unwrap();
        let root = &copy.path().join("context");
        std::fs::create_dir(root).unwrap();
        std::os::unix::fs::symlink(&target, root.join("Dockerfile")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("dir")).unwrap();
        replace_in(root, Path::new("Dockerfile"), b"FROM rewrite\n").unwrap();
        replace_in(root, Path::new("dir/Dockerfile"), b"FROM rewrite\n").unwrap();
        replace_in(root, Path::new("../Dockerfile"), b"FROM rewrite\n").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "FROM original\n");
        assert!(!copy.path().join("Dockerfile").exists());
        // A file, and one in a directory the copy lacks, are written.
        replace_in(root, Path::new("sub/Dockerfile"), b"FROM rewrite\n").unwrap();
        replace_in(root, Path::new(".dockerignore"), b"x\n").unwrap();
        replace_in(root, Path::new(".dockerignore"), b"y\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(root.join("sub/Dockerfile")).unwrap(),
            "FROM rewrite\n"
        );
        assert_eq!(
            std::fs::read_to_string(root.join(".dockerignore")).unwrap(),
            "y\n"
        );
    }
}
