//! npm, yarn and pnpm workspaces: which packages of the build context a
//! workspace root installs, so that their manifests can be copied before
//! the install.

use std::path::Path;

/// The most workspace members whose manifests dockfix copies one by one.
const MAX_MEMBERS: usize = 8;

/// The member directories (relative to `root`, sorted) of the workspace
/// `root` declares: package.json's `workspaces` (a list, or an object with
/// `packages`) and pnpm-workspace.yaml's `packages`. `None` when it
/// declares none; an error for patterns dockfix does not expand (`**`,
/// `*` inside a name) or too many members. `excluded` tells the paths
/// `.dockerignore` leaves out of the build context, as the install then
/// does not see them either.
pub fn members(
    root: &Path,
    package: &serde_json::Value,
    excluded: &dyn Fn(&str) -> bool,
) -> Result<Option<Vec<String>>, String> {
    let mut patterns: Vec<String> = Vec::new();
    let mut declared = false;
    if let Some(workspaces) = package.get("workspaces") {
        declared = true;
        let list = workspaces.get("packages").unwrap_or(workspaces);
        let list = list
            .as_array()
            .ok_or("package.json's `workspaces` is neither a list nor has `packages`")?;
        for pattern in list {
            let pattern = pattern
                .as_str()
                .ok_or("package.json's `workspaces` holds something else than a pattern")?;
            patterns.push(pattern.to_string());
        }
    }
    if let Ok(text) = crate::context::read_to_string(root, root.join("pnpm-workspace.yaml")) {
        if !excluded("pnpm-workspace.yaml") {
            declared = true;
            patterns.extend(pnpm_packages(&text)?);
        }
    }
    if !declared {
        return Ok(None);
    }
    let mut members: Vec<String> = Vec::new();
    let (negated, plain): (Vec<&String>, Vec<&String>) =
        patterns.iter().partition(|p| p.starts_with('!'));
    for pattern in plain {
        for dir in expand(root, pattern)? {
            let manifest = format!("{dir}/package.json");
            if root.join(&manifest).is_file() && !excluded(&manifest) && !members.contains(&dir) {
                members.push(dir);
            }
        }
    }
    for pattern in negated {
        let out = expand(root, &pattern[1..])?;
        members.retain(|m| !out.contains(m));
    }
    members.sort();
    if members.len() > MAX_MEMBERS {
        return Err(format!(
            "the workspace has {} packages: a COPY of each manifest would not read like a careful human's Dockerfile",
            members.len()
        ));
    }
    Ok(Some(members))
}

/// The directories a workspace pattern names: each segment a literal name
/// or `*` (any directory at that level).
fn expand(root: &Path, pattern: &str) -> Result<Vec<String>, String> {
    let pattern = pattern.trim_start_matches("./").trim_end_matches('/');
    let mut dirs = vec![String::new()];
    for segment in pattern.split('/') {
        let literal = !segment.contains(['*', '?', '[', '{', '!']);
        if segment.is_empty() || segment == ".." || !(literal || segment == "*") {
            return Err(format!(
                "the workspace pattern `{pattern}` is one dockfix does not expand yet"
            ));
        }
        let mut next = Vec::new();
        for dir in &dirs {
            let join = |name: &str| match dir.as_str() {
                "" => name.to_string(),
                dir => format!("{dir}/{name}"),
            };
            // A symlink is copied as one, so it is no member's directory.
            let real_dir =
                |path: &str| std::fs::symlink_metadata(root.join(path)).is_ok_and(|m| m.is_dir());
            if literal {
                if real_dir(&join(segment)) {
                    next.push(join(segment));
                }
                continue;
            }
            let entries = std::fs::read_dir(root.join(dir)).map_err(|e| format!("{dir}: {e}"))?;
            let mut names: Vec<String> = entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.') && n != "node_modules")
                .collect();
            names.sort();
            next.extend(names.iter().map(|n| join(n)));
        }
        dirs = next;
    }
    Ok(dirs)
}

/// The patterns of pnpm-workspace.yaml's `packages`: a block list of
/// plain or quoted scalars. Any other shape is an error, not a guess.
fn pnpm_packages(text: &str) -> Result<Vec<String>, String> {
    let mut patterns = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let content = line.split(" #").next().unwrap_or_default().trim_end();
        if content.trim().is_empty() || content.trim_start().starts_with('#') {
            continue;
        }
        let top = !content.starts_with([' ', '\t', '-']);
        if top {
            inside = content == "packages:";
            if !inside && content.starts_with("packages:") {
                return Err(
                    "pnpm-workspace.yaml lists `packages` in a form dockfix does not read yet"
                        .into(),
                );
            }
            continue;
        }
        if !inside {
            continue;
        }
        let item = content
            .trim_start()
            .strip_prefix("- ")
            .ok_or("pnpm-workspace.yaml lists `packages` in a form dockfix does not read yet")?
            .trim();
        let unquoted = match item.as_bytes() {
            [b'\'', .., b'\''] | [b'"', .., b'"'] if item.len() >= 2 => &item[1..item.len() - 1],
            _ => item,
        };
        patterns.push(unquoted.to_string());
    }
    Ok(patterns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for path in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "{}").unwrap();
        }
        dir
    }

    #[test]
    fn members_are_the_matching_directories_with_a_manifest() {
        let dir = context(&[
            "packages/a/package.json",
            "packages/b/package.json",
            "packages/c/README.md",
            "packages/skip/package.json",
            "apps/web/package.json",
            "elsewhere/linked/package.json",
        ]);
        // Symlinked directories are copied as links, not members.
        std::os::unix::fs::symlink(
            dir.path().join("elsewhere/linked"),
            dir.path().join("packages/linked"),
        )
        .unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), dir.path().join("tools")).unwrap();
        let package = serde_json::json!({"workspaces": ["tools/linked"]});
        assert_eq!(
            members(dir.path(), &package, &|_: &str| false).unwrap(),
            Some(vec![])
        );
        let none = |_: &str| false;
        let package =
            serde_json::json!({"workspaces": ["packages/*", "apps/web", "!packages/skip"]});
        assert_eq!(
            members(dir.path(), &package, &none).unwrap(),
            Some(vec![
                "apps/web".into(),
                "packages/a".into(),
                "packages/b".into()
            ])
        );
        let object = serde_json::json!({"workspaces": {"packages": ["packages/*"]}});
        let ignored = |p: &str| p.starts_with("packages/b/");
        assert_eq!(
            members(dir.path(), &object, &ignored).unwrap(),
            Some(vec!["packages/a".into(), "packages/skip".into()])
        );
        assert_eq!(
            members(dir.path(), &serde_json::json!({}), &none).unwrap(),
            None
        );
        for pattern in ["packages/**", "packages/a*", "../x"] {
            let package = serde_json::json!({ "workspaces": [pattern] });
            assert!(members(dir.path(), &package, &none).is_err(), "{pattern}");
        }
    }

    #[test]
    fn pnpm_workspace_packages_are_read_or_refused() {
        let text = "packages:\n  - 'packages/*'\n  - \"apps/web\" # the site\n  - tools\nonlyBuiltDependencies:\n  - esbuild\n";
        assert_eq!(
            pnpm_packages(text).unwrap(),
            ["packages/*", "apps/web", "tools"]
        );
        assert!(pnpm_packages("packages: [a, b]\n").is_err());
        assert_eq!(
            pnpm_packages("catalog:\n  react: ^18\n").unwrap(),
            Vec::<String>::new()
        );
    }
}
