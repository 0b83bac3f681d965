//! A Go program built in one stage, read for DF503: the RUN that builds
//! it, where the binary goes, whether it is static, and whether the files
//! it was built from say it needs more than the binary at run time.

use std::path::Path;

use crate::context;
use crate::dockerignore::DockerIgnore;
use crate::facts::commands::RunCommand;
use crate::model::Stage;
use crate::rules::Context;
use crate::scope::absolute;
use crate::syntax::{shell, Instruction};
use crate::transforms::Runtime;

/// The RUN of a stage that builds the program.
pub(super) struct GoBuild<'f> {
    pub run: &'f Instruction,
    /// Its position in the stage's body.
    pub position: usize,
    /// Where the binary goes, as an absolute path.
    pub output: String,
    /// Where the `go build` command starts in the file.
    pub command_start: usize,
}

/// Commands a RUN before the build may run: Go's, package installs (a
/// static binary runs none of what they install, unless its code runs
/// other programs, which `needs` reports), and directory changes.
const BUILD_COMMANDS: &[&str] = &[
    "go", "apk", "apt-get", "apt", "git", "cd", "true", "set", "export",
];

/// The RUN in the stage that builds a Go binary: `None` when the stage
/// builds no Go program, an error when dockfix cannot follow it.
pub(super) fn build<'f>(
    cx: &Context<'f>,
    stage: &Stage<'f>,
) -> Option<Result<GoBuild<'f>, String>> {
    let mut found: Vec<(usize, &'f Instruction, RunCommand)> = Vec::new();
    for (position, &run) in stage.body.iter().enumerate() {
        if run.command.name != "run" || run.command.sub.is_some() {
            continue;
        }
        for command in cx.commands_of(run, 0).iter() {
            if is_go(command, &["build", "install"]) {
                found.push((position, run, command.clone()));
            }
        }
    }
    let (position, run, command) = match found.len() {
        0 => return None,
        1 => found.pop().expect("one"),
        _ => return Some(Err("the stage runs `go build` more than once".into())),
    };
    Some(read_build(cx, position, run, &command))
}

fn read_build<'f>(
    cx: &Context<'f>,
    position: usize,
    run: &'f Instruction,
    command: &RunCommand,
) -> Result<GoBuild<'f>, String> {
    let line = run.start_line;
    if command.word(1) == Some("install") {
        return Err(format!(
            "line {line} runs `go install`, whose binary dockfix does not place"
        ));
    }
    if command.shell_error {
        return Err(format!("dockfix cannot read the shell of line {line}"));
    }
    let words: Vec<Option<&str>> = command.words.iter().map(|(w, _)| w.as_deref()).collect();
    let output = words.iter().enumerate().find_map(|(i, w)| match w {
        Some("-o" | "--o") => Some(words.get(i + 1).copied().flatten()),
        Some(w) => w
            .strip_prefix("-o=")
            .or_else(|| w.strip_prefix("--o="))
            .map(Some),
        None => None,
    });
    let output = match output {
        None => {
            return Err(format!(
                "`go build` on line {line} has no `-o`, so dockfix cannot tell the binary's name"
            ))
        }
        Some(None) => {
            return Err(format!(
                "`go build` on line {line} writes to a path a variable names"
            ))
        }
        Some(Some(o)) if o.ends_with('/') || o.contains('$') => {
            return Err(format!("`go build` on line {line} writes into a directory"))
        }
        Some(Some(o)) => o,
    };
    let commands = cx.commands_of(run, 0);
    if commands
        .iter()
        .take_while(|c| c.range != command.range)
        .any(|c| c.word(0) == Some("cd"))
    {
        return Err(format!("line {line} changes directory before `go build`"));
    }
    let workdir = cx.scope_at(0, run.span().start).workdir;
    let output = absolute(output, workdir.as_deref())
        .ok_or_else(|| format!("dockfix cannot tell the working directory of line {line}"))?;
    Ok(GoBuild {
        run,
        position,
        output,
        command_start: command.range.start,
    })
}

fn is_go(command: &RunCommand, subcommands: &[&str]) -> bool {
    let program = command.word(0).map(|w| w.rsplit('/').next().unwrap_or(w));
    program == Some("go") && command.word(1).is_some_and(|w| subcommands.contains(&w))
}

/// Whether cgo is off for the build: `CGO_ENABLED=0` set by ENV or ARG
/// before it, before `go` on its own command line, or exported earlier in
/// its RUN.
pub(super) fn is_static(cx: &Context, build: &GoBuild) -> bool {
    const OFF: &str = "CGO_ENABLED=0";
    let scope = cx.scope_at(0, build.run.span().start);
    if scope.expand("${CGO_ENABLED}").as_deref() == Some("0") {
        return true;
    }
    let commands = cx.commands_of(build.run, 0);
    let Some(own) = commands
        .iter()
        .find(|c| c.range.start == build.command_start)
    else {
        return false;
    };
    let prefix =
        &cx.file.source[own.range.start..own.words.first().map_or(own.range.start, |w| w.1.start)];
    // `export` is a declaration, not a command, to the shell's parser: the
    // text before the build says it, outside any subshell or branch.
    let before =
        String::from_utf8_lossy(&cx.file.source[build.run.span().start..build.command_start]);
    let exported = before.contains(&format!("export {OFF}"))
        && !before.contains(['(', '{', '|'])
        && !before
            .split_whitespace()
            .any(|w| matches!(w, "if" | "then" | "else" | "case" | "for" | "while"));
    exported || prefix.windows(OFF.len()).any(|w| w == OFF.as_bytes())
}

/// Why a RUN before the build may leave something the program uses: a
/// command other than Go's, an install or a directory change, or a file it
/// writes.
pub(super) fn before_build(
    cx: &Context,
    run: &Instruction,
    workdirs: &[String],
) -> Result<(), String> {
    let line = run.start_line;
    let Some(script) = shell::parse(cx.file, run).filter(|s| !s.has_error()) else {
        return Err(format!("dockfix cannot read the shell of line {line}"));
    };
    if !script.redirects().is_empty() {
        return Err(format!("line {line} writes files the program may read"));
    }
    for command in cx.commands_of(run, 0).iter() {
        let Some(name) = command.word(0) else {
            return Err(format!("line {line} runs a program a variable names"));
        };
        if name == "mkdir" {
            // A directory the runtime's WORKDIR makes again.
            let made = command.words[1..]
                .iter()
                .filter_map(|(w, _)| w.as_deref())
                .filter(|w| !w.starts_with('-'));
            let scope = cx.scope_at(0, run.span().start);
            for dir in made {
                let dir = absolute(dir, scope.workdir.as_deref()).unwrap_or_default();
                if !workdirs
                    .iter()
                    .any(|w| w == &dir || w.starts_with(&format!("{}/", dir.trim_end_matches('/'))))
                {
                    return Err(format!(
                        "line {line} makes `{dir}`, which the program may use"
                    ));
                }
            }
            continue;
        }
        if !BUILD_COMMANDS.contains(&name.rsplit('/').next().unwrap_or(name)) {
            return Err(format!(
                "line {line} runs `{name}`, whose work the program may use"
            ));
        }
    }
    Ok(())
}

/// Why the files the stage copies from the build context say the program
/// needs more than its binary: a file that is not Go code nor the
/// repository's own, or Go code that needs the system (`os/exec`, time
/// zones by name). Each COPY or ADD before the build is read.
pub(super) fn needs(
    cx: &Context,
    runtime: &Runtime,
    copies: &[&Instruction],
) -> Result<(), String> {
    let root = cx
        .build_context
        .ok_or("there is no build context to read the sources from (standard input)")?;
    let ignore = DockerIgnore::load(root);
    let mut data = Vec::new();
    let mut code = Vec::new();
    for copy in copies {
        let Some((_, sources)) = copy.command.values.split_last() else {
            continue;
        };
        for source in sources {
            if source.contains("://") || source.contains('$') {
                return Err(format!(
                    "line {} copies `{source}`, which dockfix does not read",
                    copy.start_line
                ));
            }
            let skip = |dir: &str| runtime.build_only_dirs.iter().any(|d| d == dir);
            for path in context::resolve(root, source) {
                walk(root, &path, &ignore, &skip, &mut |relative, path| {
                    let name = relative.rsplit('/').next().unwrap_or(relative);
                    if name.ends_with(".go") {
                        code.push((relative.to_string(), path.to_path_buf()));
                    } else if !runtime
                        .build_only
                        .iter()
                        .any(|p| context::wildcard_match(p, name))
                    {
                        data.push(relative.to_string());
                    }
                });
            }
        }
    }
    if !data.is_empty() {
        data.sort();
        data.dedup();
        let shown: Vec<String> = data.iter().take(3).map(|d| format!("`{d}`")).collect();
        let more = match data.len() {
            n if n > 3 => format!(" and {} more", n - 3),
            _ => String::new(),
        };
        return Err(format!(
            "the sources hold files other than Go code ({}{more}), which the program may read at run time: list them in .dockerignore if it does not",
            shown.join(", ")
        ));
    }
    let texts: Vec<(String, String)> = code
        .into_iter()
        .map(|(relative, path)| (relative, std::fs::read_to_string(path).unwrap_or_default()))
        .collect();
    for (needle, why) in &runtime.needs_system {
        let embedded = runtime
            .embeds
            .iter()
            .filter(|(n, _)| n == needle)
            .any(|(_, import)| texts.iter().any(|(_, t)| t.contains(import.as_str())));
        if embedded {
            continue;
        }
        if let Some((file, _)) = texts.iter().find(|(_, t)| t.contains(needle.as_str())) {
            return Err(format!(
                "the program {why} (`{}` in `{file}`), which `FROM {}` does not give",
                needle.trim_matches('"'),
                runtime.image
            ));
        }
    }
    Ok(())
}

/// Calls `visit` with each file under `path` (a file or a directory of the
/// build context) that `.dockerignore` keeps, by its context-relative path,
/// passing over the directories `skip` names.
fn walk(
    root: &Path,
    path: &Path,
    ignore: &DockerIgnore,
    skip: &dyn Fn(&str) -> bool,
    visit: &mut dyn FnMut(&str, &Path),
) {
    let Ok(relative) = path.strip_prefix(root) else {
        return;
    };
    let relative = relative.to_string_lossy().replace('\\', "/");
    let Ok(meta) = path.symlink_metadata() else {
        return;
    };
    if meta.is_dir() {
        if relative.rsplit('/').next().is_some_and(skip) {
            return;
        }
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for entry in entries {
            walk(root, &entry, ignore, skip, visit);
        }
    } else if !ignore.excludes(&relative) {
        visit(&relative, path);
    }
}
