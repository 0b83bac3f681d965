//! What `cargo fetch` reads: the manifest of every crate of the workspace
//! and of every path dependency, and the lockfile. cargo refuses a manifest
//! whose crate has no target file, so the download step gives each crate an
//! empty `src/lib.rs` and removes it after.

use std::path::{Component, Path, PathBuf};

use crate::dockerignore::DockerIgnore;

/// The crates `cargo fetch` loads, as directories of the build context
/// (`""` for the root), in the order found.
#[derive(Debug, PartialEq, Eq)]
pub struct Crates {
    /// Each crate's `Cargo.toml` (a virtual workspace root has one too).
    pub manifests: Vec<String>,
    /// Directories that need a stub `src/lib.rs`: those of packages.
    pub packages: Vec<String>,
    /// Stub files for targets declared without a path (`[[example]] name
    /// = "x"`), where cargo looks for them (`examples/x.rs`).
    pub targets: Vec<String>,
}

pub fn crates(context: &Path, ignore: &DockerIgnore) -> Result<Crates, String> {
    let mut found = Crates {
        manifests: Vec::new(),
        packages: Vec::new(),
        targets: Vec::new(),
    };
    let mut queue = vec![String::new()];
    while let Some(dir) = queue.pop() {
        let manifest = join(&dir, "Cargo.toml");
        if found.manifests.contains(&manifest) {
            continue;
        }
        if ignore.excludes(&manifest) {
            return Err(format!("{manifest} is excluded by .dockerignore"));
        }
        let text = crate::context::read_to_string(context, context.join(&manifest))
            .map_err(|_| format!("{manifest} is not in the build context"))?;
        let toml: toml::Table = text
            .parse()
            .map_err(|e| format!("{manifest} is not valid TOML ({e})"))?;
        found.manifests.push(manifest.clone());
        if toml.contains_key("package") {
            for target in targets_without_paths(&manifest, &toml)? {
                found.targets.push(join(&dir, &target));
            }
            found.packages.push(dir.clone());
        }
        if dir.is_empty() {
            queue.extend(members(context, &toml)?);
        }
        for path in path_dependencies(&toml) {
            let member = within(&dir, &path).ok_or_else(|| {
                format!("{manifest} depends on {path}, outside the build context")
            })?;
            queue.push(member);
        }
    }
    if found.packages.is_empty() {
        return Err("the workspace has no crates in the build context".into());
    }
    if found.manifests.len() > MAX_CRATES {
        return Err(format!(
            "the workspace has {} crates: a COPY and a stub for each would not read like a careful human's Dockerfile; cargo-chef is the usual way to cache a large workspace's dependencies",
            found.manifests.len()
        ));
    }
    Ok(found)
}

/// The most manifests dockfix copies one by one.
const MAX_CRATES: usize = 8;

/// The download step for `crates` (with at least one package): each
/// package gets an empty `src/lib.rs`, and each target without a path an
/// empty file where cargo looks for it, for `fetch` (`mkdir` fails rather
/// than reuse a directory that is there), removed after it, with the
/// lockfile cargo writes when the build context has none (the build then
/// resolves as it did).
pub fn fetch_with_stubs(fetch: &str, crates: &Crates, lockfile_copied: bool) -> String {
    let mut made: Vec<String> = crates.packages.iter().map(|p| join(p, "src")).collect();
    // The directories made at the top, which `rm -r` takes away.
    let mut removed = made.clone();
    let mut files: Vec<String> = made.iter().map(|d| format!("{d}/lib.rs")).collect();
    for target in &crates.targets {
        let dir = target.rsplit_once('/').map_or("", |(d, _)| d).to_string();
        let mut parents: Vec<String> = Vec::new();
        let mut at = dir.as_str();
        while !at.is_empty()
            && !made.iter().any(|m| m == at)
            && !crates.packages.iter().any(|p| p == at)
        {
            parents.push(at.to_string());
            at = at.rsplit_once('/').map_or("", |(d, _)| d);
        }
        // Inside a directory made before, it goes with that one.
        let inside_made = made.iter().any(|m| m == at);
        if let Some(top) = parents.last().filter(|_| !inside_made) {
            removed.push(top.clone());
        }
        made.extend(parents.into_iter().rev());
        files.push(target.clone());
    }
    let mut removed = removed.join(" ");
    if !lockfile_copied {
        removed += " Cargo.lock";
    }
    format!(
        "mkdir {} && touch {} && {fetch} && rm -r {}",
        made.join(" "),
        files.join(" "),
        removed
    )
}

/// `a/b` under `dir`, or `None` when it leaves the build context.
fn within(dir: &str, path: &str) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for component in Path::new(dir).join(path).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// Where cargo looks for each target declared without a `path` (`[[bin]]
/// name = "x"` in `src/bin/x.rs`): the stub sources need a file there.
fn targets_without_paths(manifest: &str, toml: &toml::Table) -> Result<Vec<String>, String> {
    let mut stubs = Vec::new();
    for (kind, dir) in [
        ("bin", "src/bin"),
        ("example", "examples"),
        ("test", "tests"),
        ("bench", "benches"),
    ] {
        let targets = toml.get(kind).and_then(|t| t.as_array());
        for target in targets.into_iter().flatten() {
            if target.get("path").is_some() {
                continue;
            }
            let name = target
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or_default();
            let plain = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !plain {
                return Err(format!(
                    "{manifest} declares a {kind} target named {name:?} without a path, which dockfix does not stub"
                ));
            }
            stubs.push(format!("{dir}/{name}.rs"));
        }
    }
    Ok(stubs)
}

/// The workspace's member directories: `members` with its globs expanded
/// against the build context, less `exclude`.
fn members(context: &Path, toml: &toml::Table) -> Result<Vec<String>, String> {
    let Some(workspace) = toml.get("workspace").and_then(|w| w.as_table()) else {
        return Ok(Vec::new());
    };
    let strings = |key: &str| -> Vec<String> {
        let values = workspace.get(key).and_then(|v| v.as_array());
        values
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .map(|s| s.trim_end_matches('/').to_string())
            .collect()
    };
    let excluded = strings("exclude");
    let mut dirs = Vec::new();
    for pattern in strings("members") {
        let mut expanded = expand(context, &pattern)?;
        expanded.retain(|d| context.join(d).join("Cargo.toml").is_file());
        if expanded.is_empty() && !pattern.contains(['*', '?', '[']) {
            return Err(format!(
                "the workspace member {pattern} is not in the build context"
            ));
        }
        dirs.extend(expanded);
    }
    dirs.retain(|d| !excluded.contains(d));
    Ok(dirs)
}

/// The directories of the build context that `pattern` names, one path
/// component at a time.
fn expand(context: &Path, pattern: &str) -> Result<Vec<String>, String> {
    let mut dirs = vec![String::new()];
    for part in pattern.split('/').filter(|p| !p.is_empty() && *p != ".") {
        if part == ".." {
            return Err(format!(
                "the workspace member {pattern} is outside the build context"
            ));
        }
        let matcher = globset::Glob::new(part)
            .map_err(|e| format!("the workspace member pattern {pattern}: {e}"))?
            .compile_matcher();
        let mut next = Vec::new();
        for dir in &dirs {
            let path: PathBuf = context.join(dir);
            let mut names: Vec<String> = std::fs::read_dir(&path)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| matcher.is_match(name))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|name| join(dir, &name)));
        }
        dirs = next;
    }
    Ok(dirs)
}

/// The `path` of every dependency table: `[dependencies]` and its dev,
/// build, target-specific, workspace and patch variants.
fn path_dependencies(toml: &toml::Table) -> Vec<String> {
    let mut paths = Vec::new();
    let mut tables: Vec<&toml::Table> = vec![toml];
    if let Some(workspace) = toml.get("workspace").and_then(|w| w.as_table()) {
        tables.push(workspace);
    }
    let targets = toml.get("target").and_then(|t| t.as_table());
    tables.extend(
        targets
            .into_iter()
            .flat_map(|t| t.values().filter_map(|v| v.as_table())),
    );
    let patches = toml.get("patch").and_then(|t| t.as_table());
    let mut deps: Vec<&toml::Table> = patches
        .into_iter()
        .flat_map(|p| p.values().filter_map(|v| v.as_table()))
        .collect();
    for table in tables {
        for key in ["dependencies", "dev-dependencies", "build-dependencies"] {
            deps.extend(table.get(key).and_then(|d| d.as_table()));
        }
    }
    for dep in deps.into_iter().flat_map(|d| d.values()) {
        if let Some(path) = dep.get("path").and_then(|p| p.as_str()) {
            paths.push(path.to_string());
        }
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    fn read(dir: &tempfile::TempDir) -> Result<Crates, String> {
        crates(dir.path(), &DockerIgnore::load(dir.path()))
    }

    const PACKAGE: &str = "[package]\nname = \"p\"\nversion = \"0.1.0\"\n";

    #[test]
    fn one_package() {
        let dir = context(&[("Cargo.toml", PACKAGE)]);
        assert_eq!(
            read(&dir),
            Ok(Crates {
                manifests: vec!["Cargo.toml".into()],
                packages: vec!["".into()],
                targets: vec![],
            })
        );
    }

    #[test]
    fn targets_without_paths_get_stubs_where_cargo_looks() {
        let client = format!(
            "{PACKAGE}[[example]]\nname = \"search-async\"\n[[bin]]\nname = \"tool\"\n\
             [[test]]\nname = \"it\"\npath = \"checks/it.rs\"\n"
        );
        let dir = context(&[
            (
                "Cargo.toml",
                "[workspace]\nmembers = [\"client\", \"core\"]\n",
            ),
            ("client/Cargo.toml", &client),
            (
                "core/Cargo.toml",
                &format!("{PACKAGE}[[bench]]\nname = \"speed\"\n"),
            ),
        ]);
        let crates = read(&dir).unwrap();
        let mut targets = crates.targets.clone();
        targets.sort();
        assert_eq!(
            targets,
            [
                "client/examples/search-async.rs",
                "client/src/bin/tool.rs",
                "core/benches/speed.rs"
            ]
        );
        let step = fetch_with_stubs("cargo fetch", &crates, true);
        // Each directory is made once, parents first, and what was made at
        // the top is removed.
        let mkdir = step.split(" && ").next().unwrap();
        let made: Vec<&str> = mkdir.split_whitespace().skip(1).collect();
        let bin = made.iter().position(|d| *d == "client/src/bin").unwrap();
        let src = made.iter().position(|d| *d == "client/src").unwrap();
        assert!(src < bin, "{mkdir}");
        assert_eq!(made.len(), 5, "{mkdir}");
        let rm = step.rsplit(" && ").next().unwrap();
        assert!(
            rm.contains("client/examples") && rm.contains("core/benches"),
            "{rm}"
        );
        assert!(!rm.contains("client/src/bin"), "{rm}");
        let bad = context(&[(
            "Cargo.toml",
            &format!("{PACKAGE}[[bin]]\nname = \"../x\"\n"),
        )]);
        assert!(read(&bad).unwrap_err().contains("does not stub"));
    }

    #[test]
    fn workspace_members_globs_excludes_and_path_dependencies() {
        let root = "[workspace]\nmembers = [\"crates/*\", \"cli\"]\nexclude = [\"crates/old\"]\n\
                    [workspace.dependencies]\nshared = { path = \"lib/shared\" }\n";
        let cli = format!("{PACKAGE}[dependencies]\nutil = {{ path = \"../crates/util\" }}\n");
        let dir = context(&[
            ("Cargo.toml", root),
            ("crates/util/Cargo.toml", PACKAGE),
            ("crates/old/Cargo.toml", PACKAGE),
            ("crates/notes/README.md", ""),
            ("cli/Cargo.toml", &cli),
            ("lib/shared/Cargo.toml", PACKAGE),
        ]);
        let crates = read(&dir).unwrap();
        let mut manifests = crates.manifests.clone();
        manifests.sort();
        assert_eq!(
            manifests,
            [
                "Cargo.toml",
                "cli/Cargo.toml",
                "crates/util/Cargo.toml",
                "lib/shared/Cargo.toml"
            ]
        );
        // The virtual root needs no stub.
        assert!(!crates.packages.contains(&String::new()));
        assert_eq!(crates.packages.len(), 3);
    }

    #[test]
    fn refusals() {
        let outside = context(&[(
            "Cargo.toml",
            &format!("{PACKAGE}[dependencies]\nx = {{ path = \"../x\" }}\n"),
        )]);
        assert!(read(&outside)
            .unwrap_err()
            .contains("outside the build context"));
        let with_path = context(&[(
            "Cargo.toml",
            &format!("{PACKAGE}[[bin]]\nname = \"x\"\npath = \"bin/x.rs\"\n"),
        )]);
        assert!(read(&with_path).is_ok());
        let missing = context(&[("Cargo.toml", "[workspace]\nmembers = [\"gone\"]\n")]);
        assert!(read(&missing).unwrap_err().contains("gone"));
        let ignored = context(&[
            ("Cargo.toml", "[workspace]\nmembers = [\"a\"]\n"),
            ("a/Cargo.toml", PACKAGE),
            (".dockerignore", "a/Cargo.toml\n"),
        ]);
        assert!(read(&ignored).unwrap_err().contains("excluded"));
    }
}
