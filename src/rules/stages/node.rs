//! A Node.js program compiled from TypeScript in one stage, read for DF503:
//! the RUN that runs `tsc` (directly or as package.json's `build` script),
//! where its `outDir` is, the npm install before it, and whether the
//! program needs more at run time than its compiled code, package.json
//! and its production dependencies.

use serde_json::Value;

use super::builder::{self, Build, Output, Source};
use crate::facts::commands::RunCommand;
use crate::model::Stage;
use crate::rules::Context;
use crate::scope::absolute;
use crate::syntax::Instruction;
use crate::transforms::Runtime;

/// The lifecycle scripts of the package itself that an install runs: code
/// that may write anywhere, which the split would not carry over.
const INSTALL_SCRIPTS: &[&str] = &["preinstall", "install", "postinstall", "prepare"];

/// The names projects give the package.json script that compiles
/// (`build`, `build-ts`, `compile`, `tsc`), by how they start.
const BUILD_SCRIPTS: &[&str] = &["build", "compile", "tsc"];

/// What the builder runs after the build: the runtime takes node_modules
/// without the development dependencies. The first is what the split
/// writes; a stage's own RUN of either ends the builder.
const PRUNE: &[&str] = &["npm prune --omit=dev", "npm prune --production"];

/// The RUN in the stage that compiles the TypeScript: `None` when the
/// stage runs no build script (`npm run build`, `yarn build`, ...) nor
/// `tsc`, an error when dockfix cannot follow it.
pub(super) fn build<'f>(cx: &Context<'f>, stage: &Stage<'f>) -> Option<Result<Build<'f>, String>> {
    let is_build = |command: &RunCommand| {
        is_tsc(command) || script_run(command).is_some_and(|(_, script)| is_build_script(script))
    };
    Some(
        builder::only_build(cx, stage, &is_build, "`tsc` or a build script")?.and_then(
            |(position, run, command)| {
                if command.shell_error {
                    return Err(format!(
                        "dockfix cannot read the shell of line {}",
                        run.start_line
                    ));
                }
                if let Some((manager @ ("yarn" | "pnpm"), script)) = script_run(&command) {
                    return Err(format!(
                        "line {} builds with `{manager} {script}`: dockfix keeps the production dependencies of npm builds only",
                        run.start_line
                    ));
                }
                Ok(Build {
                    run,
                    position,
                    // Known once the sources are read (`complete`).
                    outputs: Vec::new(),
                    command_start: command.range.start,
                    placing: Vec::new(),
                    interpreter: Some("node"),
                    ships: Vec::new(),
                    finish: Some(PRUNE),
                    finished: None,
                    start: None,
                })
            },
        ),
    )
}

fn is_tsc(command: &RunCommand) -> bool {
    command.program() == Some("tsc")
        || (command.program() == Some("npx") && command.word(1) == Some("tsc"))
}

fn is_build_script(script: &str) -> bool {
    BUILD_SCRIPTS.iter().any(|b| script.starts_with(b))
}

/// The package manager and the package.json script a command runs: `npm
/// run NAME` (`npm run-script NAME`, `npm start`), `yarn [run] NAME`,
/// `pnpm [run] NAME`.
fn script_run(command: &RunCommand) -> Option<(&str, &str)> {
    let manager = command.program()?;
    let script = match (manager, command.word(1)?, command.words.len()) {
        ("npm" | "yarn" | "pnpm", "run" | "run-script", 3) => command.word(2),
        ("npm", "start", 2) => Some("start"),
        // yarn and pnpm run a script named in place of a command of theirs.
        ("yarn" | "pnpm", name, 2) if !name.starts_with('-') => Some(name),
        _ => None,
    }?;
    Some((manager, script))
}

/// Reads what the build writes from the sources: package.json's `build`
/// script or the `tsc` command, the tsconfig it compiles and its
/// `outDir`, the lockfile the runtime's dependencies come from, and the
/// npm commands before the build; fills in `build`'s outputs, or says why
/// the split would not carry the program over.
pub(super) fn complete(
    cx: &Context,
    runtime: &Runtime,
    build: &mut Build,
    body: &[&Instruction],
    sources: &[Source],
) -> Result<(), String> {
    let line = build.run.start_line;
    let workdir = cx
        .scope_at(0, build.run.span().start)
        .workdir
        .ok_or_else(|| format!("dockfix cannot tell the working directory of line {line}"))?;
    let at = |path: &str| format!("{}/{path}", workdir.trim_end_matches('/'));
    let read = |path: &str| -> Result<Value, String> {
        let source = sources
            .iter()
            .find(|s| s.at.as_deref() == Some(path))
            .ok_or_else(|| format!("the stage copies no `{path}` for the build"))?;
        let text = source
            .text()
            .map_err(|e| format!("dockfix cannot read `{}`: {e}", source.relative))?;
        serde_json::from_str(&without_comments(&text))
            .map_err(|e| format!("dockfix cannot read `{}`: {e}", source.relative))
    };
    let package = read(&at("package.json"))?;
    let commands = cx.commands_of(build.run, 0);
    let command = commands
        .iter()
        .find(|c| c.range.start == build.command_start)
        .ok_or_else(|| format!("dockfix cannot read the shell of line {line}"))?;
    for script in INSTALL_SCRIPTS {
        if package["scripts"].get(script).is_some() {
            return Err(format!(
                "package.json's `{script}` script runs at install time and may write what the program reads"
            ));
        }
    }
    let script = script_run(command).map(|(_, script)| script);
    let around = [script.unwrap_or("build"), "start"]
        .into_iter()
        .flat_map(|name| [format!("pre{name}"), format!("post{name}")]);
    for script in around {
        if package["scripts"].get(&script).is_some() {
            return Err(format!(
                "package.json's `{script}` script runs around the build or the start, and dockfix does not read its work"
            ));
        }
    }
    if package.get("workspaces").is_some() {
        return Err(
            "package.json declares workspaces, whose packages dockfix does not follow".into(),
        );
    }
    let tsc: Vec<String> = if let Some(script) = script {
        let text = package["scripts"][script]
            .as_str()
            .ok_or_else(|| format!("package.json has no `{script}` script"))?;
        text.split_whitespace().map(String::from).collect()
    } else {
        let skip = usize::from(command.program() == Some("npx"));
        command.words[skip..]
            .iter()
            .map(|(w, _)| w.clone().unwrap_or_default())
            .collect()
    };
    let project = tsconfig_of(&tsc).ok_or_else(|| {
        format!(
            "the build runs `{}`, not `tsc` with at most `-p`, so dockfix cannot tell what it writes",
            tsc.join(" ")
        )
    })?;
    let project = absolute(&project, Some(&workdir)).unwrap_or_default();
    let tsconfig = read(&project)?;
    let options = &tsconfig["compilerOptions"];
    if options["noEmit"] == Value::Bool(true) {
        return Err(format!("`{project}` sets `noEmit`: `tsc` writes nothing"));
    }
    // The compiled code imports tslib's helpers.
    if options["importHelpers"] == Value::Bool(true)
        && package["dependencies"].get("tslib").is_none()
    {
        return Err(format!(
            "`{project}` sets `importHelpers`, so the output imports `tslib`, which is not a production dependency"
        ));
    }
    let out_dir = options["outDir"].as_str().ok_or_else(|| {
        format!(
            "`{project}` sets no `outDir` of its own, so dockfix cannot tell where `tsc` writes"
        )
    })?;
    let project_dir = project.rsplit_once('/').map_or("/", |(dir, _)| dir);
    let out_dir = absolute(
        out_dir,
        Some(if project_dir.is_empty() {
            "/"
        } else {
            project_dir
        }),
    )
    .unwrap_or_default();
    if out_dir == workdir || workdir.starts_with(&format!("{out_dir}/")) {
        return Err(format!(
            "`tsc` writes into `{out_dir}`, which holds the sources"
        ));
    }
    let lock = read(&at("package-lock.json"))
        .map_err(|_| "the stage copies no package-lock.json, which `npm prune` keeps the runtime's dependencies to".to_string())?;
    if let Some((name, _)) =
        lock["packages"]
            .as_object()
            .into_iter()
            .flatten()
            .find(|(name, entry)| {
                !name.is_empty()
                    && entry["hasInstallScript"] == Value::Bool(true)
                    && entry["dev"] != Value::Bool(true)
            })
    {
        let name = name.rsplit("node_modules/").next().unwrap_or(name);
        return Err(format!(
            "the dependency `{name}` runs an install script, which may build code that links libraries the runtime image lacks"
        ));
    }
    installs(cx, body, build, &workdir)?;
    imports(runtime, &package, sources)?;
    // A start script that is one simple command; `npm start` runs anything
    // else in a shell dockfix does not read.
    build.start = package["scripts"]["start"]
        .as_str()
        .filter(|s| super::is_simple_command(s))
        .map(|s| s.split_whitespace().map(String::from).collect());
    // The build's files belong to its user; the runtime's COPY gives them
    // to root.
    if let Some(user) = body[..build.position]
        .iter()
        .find(|i| i.command.name == "user" || i.command.flags.iter().any(|f| f.name() == "chown"))
    {
        return Err(format!(
            "line {} gives the build's files to another user than root, and the runtime's copies would be root's",
            user.start_line
        ));
    }
    if let Some(options) = body.iter().find(|i| {
        i.command.name == "env"
            && crate::model::settings_of(i)
                .iter()
                .any(|(n, _, _)| *n == "NODE_OPTIONS")
    }) {
        return Err(format!(
            "line {} sets `NODE_OPTIONS`, which may load modules dockfix does not read",
            options.start_line
        ));
    }
    build.outputs = vec![Output::Under(out_dir.clone())];
    build.ships = vec![at("package.json"), at("node_modules"), out_dir];
    Ok(())
}

/// The tsconfig a `tsc` command line compiles (`tsc`, `tsc -p FILE`,
/// `tsc --project FILE`); `None` for anything else.
fn tsconfig_of(words: &[String]) -> Option<String> {
    match words {
        [tsc] if tsc == "tsc" => Some("tsconfig.json".into()),
        [tsc, flag, file] if tsc == "tsc" && matches!(flag.as_str(), "-p" | "--project") => {
            let file = file.trim_end_matches('/');
            Some(match file.ends_with(".json") {
                true => file.to_string(),
                false => format!("{file}/tsconfig.json"),
            })
        }
        _ => None,
    }
}

/// Why the npm commands before the build may leave node_modules other than
/// the lockfile's: an install of named packages, or one in another
/// directory, which `npm prune` would undo or miss.
fn installs(
    cx: &Context,
    body: &[&Instruction],
    build: &Build,
    workdir: &str,
) -> Result<(), String> {
    for run in body[..=build.position]
        .iter()
        .filter(|i| i.command.name == "run")
    {
        let line = run.start_line;
        let commands = cx.commands_of(run, 0);
        for command in commands.iter().filter(|c| c.program() == Some("npm")) {
            if command.range.start == build.command_start {
                continue;
            }
            let positional = command
                .words
                .get(2..)
                .unwrap_or_default()
                .iter()
                .filter(|(w, _)| !w.as_deref().is_some_and(|w| w.starts_with('-')))
                .count();
            if !matches!(command.word(1), Some("ci" | "install" | "i")) || positional > 0 {
                return Err(format!(
                    "line {line} runs `npm {}`, which leaves node_modules other than package-lock.json's",
                    command.word(1).unwrap_or("")
                ));
            }
            let elsewhere = commands.iter().any(|c| c.word(0) == Some("cd"))
                || cx.scope_at(0, run.span().start).workdir.as_deref() != Some(workdir);
            if elsewhere {
                return Err(format!(
                    "line {line} installs in another directory than the build's"
                ));
            }
        }
    }
    Ok(())
}

/// Why the code needs a package the runtime's node_modules lacks: an
/// import of a package package.json lists only in `devDependencies`, or in
/// none of its dependencies (Node's own modules and relative paths aside).
fn imports(runtime: &Runtime, package: &Value, sources: &[Source]) -> Result<(), String> {
    let declared = |name: &str| package["dependencies"].get(name).is_some();
    let builtin = |name: &str| runtime.builtins.iter().any(|b| b == name);
    for (file, text) in builder::code_texts(runtime, sources) {
        for specifier in specifiers(&text) {
            if specifier.starts_with('.')
                || specifier.starts_with('/')
                || specifier.starts_with("node:")
            {
                continue;
            }
            // `@scope/name/sub` is package `@scope/name`; `name/sub` is `name`.
            let mut parts = specifier.split('/');
            let name = match parts.next() {
                Some(scope) if scope.starts_with('@') => {
                    format!("{scope}/{}", parts.next().unwrap_or(""))
                }
                Some(name) => name.to_string(),
                None => continue,
            };
            if declared(&name) || builtin(&name) {
                continue;
            }
            let why = match package["devDependencies"].get(&name) {
                Some(_) => "a development dependency, which the runtime leaves out",
                None => "not a dependency of package.json",
            };
            return Err(format!("`{file}` imports `{name}`, {why}"));
        }
    }
    Ok(())
}

/// The module specifiers a TypeScript file imports at run time: `from
/// "x"`, `import "x"`, `require("x")`, `import("x")`; not `import type`.
fn specifiers(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    // A statement that spans lines is read line by line: an `import type`
    // over several lines counts as a run-time import, which only reports
    // more.
    for statement in text.split([';', '\n']) {
        let trimmed = statement.trim_start();
        if trimmed.starts_with("import type ") || trimmed.starts_with("export type ") {
            continue;
        }
        for opener in ["from", "import", "require(", "import(", "require.resolve("] {
            let mut rest = statement;
            while let Some(at) = rest.find(opener) {
                let after = rest[at + opener.len()..].trim_start();
                let quote = after.chars().next();
                if let Some(q @ ('"' | '\'')) = quote {
                    if let Some(end) = after[1..].find(q) {
                        found.push(&after[1..1 + end]);
                    }
                }
                rest = &rest[at + opener.len()..];
            }
        }
    }
    found
}

/// JSON with comments and trailing commas, as tsconfig.json allows, made
/// plain JSON.
fn without_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => out.extend(chars.next()),
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_string = true;
                out.push(c);
            }
            ('/', Some('/')) => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
                out.push(' ');
            }
            (',', _) => {
                // A comma before a closing bracket is dropped.
                let rest: String = chars.clone().collect();
                let next = rest.trim_start().chars().next();
                if !matches!(next, Some('}' | ']')) {
                    out.push(c);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsconfig_with_comments_and_trailing_commas_reads() {
        let text = "{\n  // the output\n  \"compilerOptions\": { \"outDir\": \"./dist\", /* here */ \"x\": \"a//b\", },\n}\n";
        let value: Value = serde_json::from_str(&without_comments(text)).unwrap();
        assert_eq!(value["compilerOptions"]["outDir"], "./dist");
        assert_eq!(value["compilerOptions"]["x"], "a//b");
    }

    #[test]
    fn run_time_imports_but_not_type_imports() {
        let text = "import express from \"express\";\nimport type { X } from 'types-only';\nimport './side';\nconst ms = require('ms');\nconst lazy = await import(\"@scope/pkg/sub\");\nexport { a } from \"./a\";";
        assert_eq!(
            specifiers(text),
            ["express", "./side", "ms", "@scope/pkg/sub", "./a"]
        );
    }

    #[test]
    fn tsc_command_lines() {
        let words = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert_eq!(tsconfig_of(&words("tsc")).as_deref(), Some("tsconfig.json"));
        assert_eq!(
            tsconfig_of(&words("tsc -p tsconfig.build.json")).as_deref(),
            Some("tsconfig.build.json")
        );
        assert_eq!(
            tsconfig_of(&words("tsc --project server")).as_deref(),
            Some("server/tsconfig.json")
        );
        assert_eq!(tsconfig_of(&words("tsc && cp -r assets dist")), None);
        assert_eq!(tsconfig_of(&words("vite build")), None);
    }
}
