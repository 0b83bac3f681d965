//! Reading manifests for what makes an install need more than them.

use std::path::Path;

use super::node_workspaces;
use crate::dockerignore::DockerIgnore;

/// What a reader found: more files the install needs, or why the install
/// cannot be moved before the full copy.
pub type Reading = Result<Vec<String>, String>;

/// package.json: lifecycle scripts run arbitrary code that may read any
/// file, and `file:`/`link:` dependencies read directories of the context.
/// A workspace's members (`node_workspaces`) are read the same way, and
/// their manifests are needed too; a member's `bin` would be linked from
/// files the install does not see yet. `excluded` tells the paths
/// `.dockerignore` leaves out.
pub fn node(context: &Path, excluded: &dyn Fn(&str) -> bool) -> Reading {
    let root = read_package(context, "package.json")?;
    let members = node_workspaces::members(context, &root, excluded)?;
    check_package("package.json", &root, members.is_some())?;
    let mut needed = Vec::new();
    for member in members.unwrap_or_default() {
        let path = format!("{member}/package.json");
        let package = read_package(context, &path)?;
        check_package(&path, &package, true)?;
        if package.get("bin").is_some() {
            return Err(format!(
                "{path} declares a `bin`, which the install links to a file of the package's sources, not there before the full copy"
            ));
        }
        needed.push(path);
    }
    Ok(needed)
}

fn read_package(context: &Path, path: &str) -> Result<serde_json::Value, String> {
    let text = crate::context::read_to_string(context, context.join(path))
        .map_err(|e| format!("{path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{path} is not valid JSON ({e})"))
}

/// A manifest's lifecycle scripts and local dependencies; in a workspace,
/// `workspace:` dependencies name its members, whose manifests are copied.
fn check_package(path: &str, json: &serde_json::Value, workspace: bool) -> Result<(), String> {
    for script in [
        "preinstall",
        "install",
        "postinstall",
        "prepare",
        "prepublish",
    ] {
        if json["scripts"].get(script).is_some() {
            return Err(format!(
                "{path} has a `{script}` script, which runs during the install and may read files besides the manifests"
            ));
        }
    }
    for section in ["dependencies", "devDependencies", "optionalDependencies"] {
        let Some(deps) = json[section].as_object() else {
            continue;
        };
        for (name, spec) in deps {
            let spec = spec.as_str().unwrap_or_default();
            if workspace && spec.starts_with("workspace:") {
                continue;
            }
            let local = ["file:", "link:", "workspace:", "./", "../", "/", "~/"];
            if local.iter().any(|p| spec.starts_with(p)) {
                return Err(format!(
                    "the dependency `{name}` is a local path ({spec}), read from the build context"
                ));
            }
        }
    }
    Ok(())
}

/// A package.json above the project (`path`, in the build context) that
/// declares workspaces: npm and yarn then install from that root, which
/// the install in the subdirectory cannot be moved without.
pub fn node_workspace_root(context: &Path, path: &str) -> Result<(), String> {
    let Ok(text) = crate::context::read_to_string(context, context.join(path)) else {
        return Ok(());
    };
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{path} is not valid JSON ({e})"))?;
    match json.get("workspaces") {
        Some(_) => Err(format!(
            "{path} declares workspaces, which may take in the install's directory"
        )),
        None => Ok(()),
    }
}

/// `path` (relative, `/`-separated) with `.` and `..` resolved, or `None`
/// when it leaves the build context.
fn context_path(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}

/// Requirement files: every `-r`/`-c` file they include is needed too;
/// editable installs and local paths read the build context.
pub fn pip(context: &Path, ignore: &DockerIgnore, requirements: &[String]) -> Reading {
    let mut needed: Vec<String> = Vec::new();
    let mut queue: Vec<String> = requirements.to_vec();
    while let Some(file) = queue.pop() {
        if needed.contains(&file) {
            continue;
        }
        let path = context.join(&file);
        if ignore.excludes(&file) {
            return Err(format!("{file} is excluded by .dockerignore"));
        }
        let text = crate::context::read_to_string(context, &path)
            .map_err(|_| format!("{file} is not in the build context"))?;
        needed.push(file.clone());
        let dir = Path::new(&file)
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        for line in logical_lines(&text) {
            let words: Vec<&str> = line.split_whitespace().collect();
            let Some(&first) = words.first() else {
                continue;
            };
            let include = |value: &str| {
                if value.starts_with('/') {
                    return Err(format!(
                        "{file} includes {value}, an absolute path dockfix does not map to the build context"
                    ));
                }
                let joined = if dir.is_empty() {
                    value.to_string()
                } else {
                    format!("{dir}/{value}")
                };
                context_path(&joined)
                    .ok_or_else(|| format!("{file} includes {value}, outside the build context"))
            };
            match first {
                "-r" | "--requirement" | "-c" | "--constraint" => {
                    let value = words
                        .get(1)
                        .ok_or_else(|| format!("{file}: `{first}` without a file"))?;
                    queue.push(include(value)?);
                }
                _ if first.starts_with("--requirement=") || first.starts_with("--constraint=") => {
                    queue.push(include(
                        first.split_once('=').map(|(_, v)| v).unwrap_or_default(),
                    )?);
                }
                "-e" | "--editable" => {
                    return Err(format!(
                        "{file} has an editable install (`{line}`), which reads the build context"
                    ))
                }
                _ if first.starts_with("--editable=") || first.starts_with("-e") => {
                    return Err(format!(
                        "{file} has an editable install (`{line}`), which reads the build context"
                    ))
                }
                "-f" | "--find-links" if words.get(1).is_some_and(|v| !v.contains("://")) => {
                    return Err(format!(
                        "{file} finds packages in a local directory (`{line}`)"
                    ))
                }
                _ if first.starts_with('-') => {}
                _ if is_local_requirement(&line) => {
                    return Err(format!(
                        "{file} installs a local path (`{line}`), read from the build context"
                    ))
                }
                _ => {}
            }
        }
    }
    needed.retain(|f| !requirements.contains(f));
    Ok(needed)
}

/// Requirement lines without comments, continuation lines joined.
fn logical_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for raw in text.lines() {
        let line = match raw.find(" #").or_else(|| raw.starts_with('#').then_some(0)) {
            Some(at) => &raw[..at],
            None => raw,
        };
        match line.trim_end().strip_suffix('\\') {
            Some(start) => current.push_str(start),
            None => {
                current.push_str(line);
                if !current.trim().is_empty() {
                    lines.push(current.trim().to_string());
                }
                current.clear();
            }
        }
    }
    lines
}

fn is_local_requirement(line: &str) -> bool {
    let spec = line.split(';').next().unwrap_or_default().trim();
    spec.starts_with('.')
        || spec.starts_with('/')
        || spec.starts_with("file:")
        || spec.contains("@ file:")
}

/// go.mod: a `replace` by a local directory reads that directory.
pub fn go(context: &Path) -> Reading {
    let text = crate::context::read_to_string(context, context.join("go.mod"))
        .map_err(|e| format!("go.mod: {e}"))?;
    let mut in_replace_block = false;
    for line in text.lines() {
        let line = line.split("//").next().unwrap_or_default().trim();
        if line.starts_with("replace (") {
            in_replace_block = true;
            continue;
        }
        if in_replace_block && line == ")" {
            in_replace_block = false;
            continue;
        }
        if in_replace_block || line.starts_with("replace ") {
            let target = line.split("=>").nth(1).unwrap_or_default().trim();
            if target.starts_with("./") || target.starts_with("../") || target.starts_with('/') {
                return Err(format!(
                    "go.mod replaces a module by the local directory {target}"
                ));
            }
        }
    }
    Ok(Vec::new())
}

/// composer.json: a path repository installs a directory of the context.
pub fn composer(context: &Path) -> Reading {
    let text = crate::context::read_to_string(context, context.join("composer.json"))
        .map_err(|e| format!("composer.json: {e}"))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("composer.json is not valid JSON ({e})"))?;
    let repositories = json["repositories"].as_array().cloned().unwrap_or_default();
    if repositories.iter().any(|r| r["type"] == "path") {
        return Err("composer.json has a path repository, installed from the build context".into());
    }
    Ok(Vec::new())
}

/// pyproject.toml for poetry: the readme files it names, which poetry
/// opens as it reads the project (older releases even with `--no-root`),
/// are needed too.
pub fn poetry(context: &Path) -> Reading {
    let text = crate::context::read_to_string(context, context.join("pyproject.toml"))
        .map_err(|e| format!("pyproject.toml: {e}"))?;
    let doc: toml::Table =
        toml::from_str(&text).map_err(|e| format!("pyproject.toml is not valid TOML ({e})"))?;
    let mut readmes: Vec<String> = Vec::new();
    // PEP 621: a path, or a table with a `file` (or inline `text`).
    match doc.get("project").and_then(|p| p.get("readme")) {
        Some(toml::Value::String(path)) => readmes.push(path.clone()),
        Some(toml::Value::Table(t)) => {
            if let Some(path) = t.get("file").and_then(|f| f.as_str()) {
                readmes.push(path.to_string());
            }
        }
        _ => {}
    }
    // Poetry's own table: a path or a list of paths.
    let poetry = doc.get("tool").and_then(|t| t.get("poetry"));
    match poetry.and_then(|p| p.get("readme")) {
        Some(toml::Value::String(path)) => readmes.push(path.clone()),
        Some(toml::Value::Array(paths)) => {
            readmes.extend(paths.iter().filter_map(|p| p.as_str().map(String::from)))
        }
        _ => {}
    }
    for readme in &readmes {
        let plain = !readme.starts_with('/') && !readme.split('/').any(|part| part == "..");
        if !plain || !context.join(readme).is_file() {
            return Err(format!(
                "pyproject.toml names the readme {readme}, which is not a file of the build context"
            ));
        }
    }
    Ok(readmes)
}

/// Whether pyproject.toml turns poetry's package mode off: then there is
/// no project to install, only its dependencies.
pub fn poetry_without_package(context: &Path) -> bool {
    crate::context::read_to_string(context, context.join("pyproject.toml"))
        .ok()
        .and_then(|text| toml::from_str::<toml::Table>(&text).ok())
        .and_then(|doc| {
            let mode = doc.get("tool")?.get("poetry")?.get("package-mode")?;
            mode.as_bool()
        })
        == Some(false)
}

/// pom.xml: modules and a parent found by relative path are other poms of
/// the context; settings named on the command line are files of it.
pub fn maven(context: &Path, args: &[String]) -> Reading {
    let pom = crate::context::read_to_string(context, context.join("pom.xml"))
        .map_err(|e| format!("pom.xml: {e}"))?;
    if pom.contains("<modules>") {
        return Err("pom.xml has modules, whose poms dockfix does not collect yet".into());
    }
    if pom.contains("<relativePath>")
        && !pom.contains("<relativePath/>")
        && !pom.contains("<relativePath />")
    {
        return Err("pom.xml finds its parent by a relative path in the build context".into());
    }
    let settings = [
        "-s",
        "--settings",
        "-gs",
        "--global-settings",
        "-f",
        "--file",
    ];
    if let Some(flag) = args.iter().find(|a| {
        settings
            .iter()
            .any(|s| *a == s || a.starts_with(&format!("{s}=")))
    }) {
        return Err(format!(
            "the build reads {flag} from the build context, which the download step would need too"
        ));
    }
    Ok(Vec::new())
}

/// A single-project Gradle build: its settings and build scripts, the
/// scripts they apply from the root, `gradle.properties`, the `gradle/`
/// directory (wrapper, version catalogs) and `buildSrc/`. Subprojects'
/// scripts are not collected.
pub fn gradle(context: &Path, ignore: &DockerIgnore, args: &[String]) -> Reading {
    let elsewhere = [
        "-p",
        "--project-dir",
        "-c",
        "--settings-file",
        "-b",
        "--build-file",
        "-I",
        "--init-script",
    ];
    if let Some(flag) = args.iter().find(|a| {
        elsewhere
            .iter()
            .any(|f| *a == f || a.starts_with(&format!("{f}=")))
    }) {
        return Err(format!(
            "the build reads {flag} from the build context, which the download step would need too"
        ));
    }
    let present = |name: &str| context.join(name).exists() && !ignore.excludes(name);
    let settings = ["settings.gradle", "settings.gradle.kts"];
    for name in settings {
        let text = crate::context::read_to_string(context, context.join(name)).unwrap_or_default();
        let includes = text.lines().any(|line| {
            let line = line.trim_start();
            ["include", "includeBuild", "includeFlat"]
                .iter()
                .any(|word| {
                    line.strip_prefix(word)
                        .is_some_and(|rest| rest.starts_with([' ', '(', '\'', '"']))
                })
        });
        if includes {
            return Err(format!(
                "{name} includes other projects, whose build scripts dockfix does not collect yet"
            ));
        }
    }
    let mut files: Vec<String> = Vec::new();
    let mut scripts: Vec<String> = std::fs::read_dir(context)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".gradle") || name.ends_with(".gradle.kts"))
        .collect();
    scripts.sort();
    // Settings first, as Gradle reads them.
    scripts.sort_by_key(|name| !settings.contains(&name.as_str()));
    if scripts.is_empty() {
        return Err("there is no Gradle build script at the build context's root".into());
    }
    files.extend(scripts.into_iter().filter(|name| present(name)));
    files.extend(
        ["gradle.properties", "gradle", "buildSrc"]
            .into_iter()
            .filter(|name| present(name))
            .map(String::from),
    );
    Ok(files)
}

/// The one project file at the context's root a restore reads; solutions
/// and project references name more.
pub fn dotnet(context: &Path) -> Reading {
    let mut projects = Vec::new();
    for entry in std::fs::read_dir(context)
        .map_err(|e| e.to_string())?
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".sln") || name.ends_with(".slnx") {
            return Err(format!(
                "the solution {name} references projects dockfix does not collect yet"
            ));
        }
        if [".csproj", ".fsproj", ".vbproj"]
            .iter()
            .any(|e| name.ends_with(e))
        {
            projects.push(name);
        }
    }
    projects.sort();
    let [project] = projects.as_slice() else {
        return Err(format!(
            "the restore reads {} project files at the context's root; dockfix handles one",
            projects.len()
        ));
    };
    let text = crate::context::read_to_string(context, context.join(project))
        .map_err(|e| format!("{project}: {e}"))?;
    if text.contains("<ProjectReference") {
        return Err(format!(
            "{project} references other projects, which dockfix does not collect yet"
        ));
    }
    Ok(vec![project.clone()])
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

    #[test]
    fn poetry_needs_the_readmes_pyproject_names() {
        let project = r#"[project]
readme = { file = "README.rst", content-type = "text/x-rst" }
[tool.poetry]
readme = ["docs/A.md"]
"#;
        let dir = context(&[
            ("pyproject.toml", project),
            ("README.rst", "x"),
            ("docs/A.md", "x"),
        ]);
        assert_eq!(
            poetry(dir.path()),
            Ok(vec!["README.rst".to_string(), "docs/A.md".to_string()])
        );
        assert!(!poetry_without_package(dir.path()));
        for (readme, present) in [
            ("README.md", false),
            ("../README.md", true),
            ("/README.md", true),
        ] {
            let text = format!("[tool.poetry]\nreadme = {readme:?}\npackage-mode = false\n");
            let dir = context(&[("pyproject.toml", &text), ("README.md", "x")]);
            if !present {
                std::fs::remove_file(dir.path().join("README.md")).unwrap();
            }
            assert!(poetry_without_package(dir.path()));
            let err = poetry(dir.path()).unwrap_err();
            assert!(
                err.contains("not a file of the build context"),
                "{readme}: {err}"
            );
        }
        let dir = context(&[("pyproject.toml", "[tool.poetry]\nname = \"x\"\n")]);
        assert_eq!(poetry(dir.path()), Ok(vec![]));
    }

    #[test]
    fn node_workspace_members_are_needed_and_read() {
        let none = |_: &str| false;
        let root = r#"{"private": true, "workspaces": ["packages/*"], "dependencies": {"a": "workspace:*"}}"#;
        let dir = context(&[
            ("package.json", root),
            ("packages/a/package.json", r#"{"name": "a"}"#),
            (
                "packages/b/package.json",
                r#"{"name": "b", "dependencies": {"a": "workspace:^"}}"#,
            ),
        ]);
        assert_eq!(
            node(dir.path(), &none),
            Ok(vec![
                "packages/a/package.json".to_string(),
                "packages/b/package.json".to_string()
            ])
        );
        for (member, needle) in [
            (
                r#"{"scripts": {"prepare": "tsc"}}"#,
                "packages/a/package.json has a `prepare`",
            ),
            (r#"{"bin": {"a": "cli.js"}}"#, "declares a `bin`"),
            (r#"{"dependencies": {"x": "file:../../x"}}"#, "local path"),
        ] {
            let dir = context(&[("package.json", root), ("packages/a/package.json", member)]);
            let err = node(dir.path(), &none).unwrap_err();
            assert!(err.contains(needle), "{member}: {err}");
        }
    }

    #[test]
    fn node_blockers() {
        let ok = context(&[(
            "package.json",
            r#"{"dependencies": {"express": "^4"}, "scripts": {"start": "node ."}}"#,
        )]);
        let none = |_: &str| false;
        assert_eq!(node(ok.path(), &none), Ok(vec![]));
        for (json, needle) in [
            (
                r#"{"scripts": {"postinstall": "node build.js"}}"#,
                "`postinstall`",
            ),
            (r#"{"dependencies": {"lib": "file:../lib"}}"#, "local path"),
            (r#"{"dependencies": {"lib": "workspace:*"}}"#, "local path"),
        ] {
            let dir = context(&[("package.json", json)]);
            assert!(
                node(dir.path(), &none).unwrap_err().contains(needle),
                "{json}"
            );
        }
    }

    #[test]
    fn pip_follows_includes_and_blocks_local_installs() {
        let dir = context(&[
            (
                "requirements.txt",
                "-r requirements/base.txt\nflask==3.0 # web\n",
            ),
            (
                "requirements/base.txt",
                "-c constraints.txt\nrequests \\\n  >=2\n",
            ),
            ("requirements/constraints.txt", "urllib3<3\n"),
        ]);
        let ignore = DockerIgnore::default();
        assert_eq!(
            pip(dir.path(), &ignore, &["requirements.txt".into()]),
            Ok(vec![
                "requirements/base.txt".into(),
                "requirements/constraints.txt".into()
            ])
        );
        for text in [
            "-e .\n",
            "./libs/mylib\n",
            "mylib @ file:///src/mylib\n",
            "--find-links ./wheels\nx\n",
        ] {
            let dir = context(&[("requirements.txt", text)]);
            assert!(
                pip(dir.path(), &ignore, &["requirements.txt".into()]).is_err(),
                "{text}"
            );
        }
        let missing = context(&[]);
        assert!(pip(missing.path(), &ignore, &["requirements.txt".into()])
            .unwrap_err()
            .contains("not in the build context"));
        // Includes resolve against the including file's directory, and
        // never leave the build context.
        let nested = context(&[
            (
                "api/requirements.txt",
                "-r ../base.txt
",
            ),
            (
                "base.txt", "flask
",
            ),
        ]);
        assert_eq!(
            pip(nested.path(), &ignore, &["api/requirements.txt".into()]),
            Ok(vec!["base.txt".into()])
        );
        for include in [
            "-r ../../x.txt
",
            "-c /etc/constraints.txt
",
        ] {
            let dir = context(&[("api/requirements.txt", include)]);
            let err = pip(dir.path(), &ignore, &["api/requirements.txt".into()]).unwrap_err();
            assert!(err.contains("includes"), "{include}: {err}");
        }
    }

    #[test]
    fn composer_maven_and_dotnet_readers() {
        let ok = context(&[("composer.json", r#"{"require": {"php": ">=8.2"}}"#)]);
        assert_eq!(composer(ok.path()), Ok(vec![]));
        let path = context(&[(
            "composer.json",
            r#"{"repositories": [{"type": "path", "url": "./pkg"}]}"#,
        )]);
        assert!(composer(path.path())
            .unwrap_err()
            .contains("path repository"));

        let pom = context(&[(
            "pom.xml",
            "<project><parent><relativePath/></parent></project>",
        )]);
        assert_eq!(maven(pom.path(), &[]), Ok(vec![]));
        assert!(maven(pom.path(), &["-s".into(), "settings.xml".into()])
            .unwrap_err()
            .contains("-s"));
        let modules = context(&[(
            "pom.xml",
            "<project><modules><module>a</module></modules></project>",
        )]);
        assert!(maven(modules.path(), &[]).unwrap_err().contains("modules"));

        let one = context(&[("App.csproj", "<Project Sdk=\"Microsoft.NET.Sdk\"/>")]);
        assert_eq!(dotnet(one.path()), Ok(vec!["App.csproj".to_string()]));
        let refs = context(&[("App.csproj", "<Project><ItemGroup><ProjectReference Include=\"../Lib/Lib.csproj\"/></ItemGroup></Project>")]);
        assert!(dotnet(refs.path()).unwrap_err().contains("references"));
        let sln = context(&[("App.csproj", ""), ("App.sln", "")]);
        assert!(dotnet(sln.path()).unwrap_err().contains("solution"));
    }

    #[test]
    fn go_local_replace_blocks() {
        let ok = context(&[(
            "go.mod",
            "module a\n\ngo 1.19\nreplace x => example.com/y v1.0.0\n",
        )]);
        assert_eq!(go(ok.path()), Ok(vec![]));
        let local = context(&[("go.mod", "module a\nreplace (\n  x => ../x\n)\n")]);
        assert!(go(local.path()).unwrap_err().contains("../x"));
    }
}
