//! A Go program built in one stage, read for DF503: the RUN that builds
//! it, where the binary goes, and whether it is static.

use super::builder::{self, Build, Output};
use crate::facts::commands::RunCommand;
use crate::model::Stage;
use crate::rules::Context;
use crate::scope::absolute;
use crate::syntax::Instruction;

/// The RUN in the stage that builds a Go binary: `None` when the stage
/// builds no Go program, an error when dockfix cannot follow it.
pub(super) fn build<'f>(cx: &Context<'f>, stage: &Stage<'f>) -> Option<Result<Build<'f>, String>> {
    let is_build = |command: &RunCommand| is_go(command, &["build", "install"]);
    Some(
        builder::only_build(cx, stage, &is_build, "`go build`")?
            .and_then(|(position, run, command)| read_build(cx, position, run, &command)),
    )
}

fn read_build<'f>(
    cx: &Context<'f>,
    position: usize,
    run: &'f Instruction,
    command: &RunCommand,
) -> Result<Build<'f>, String> {
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
    Ok(Build {
        run,
        position,
        outputs: vec![Output::File(output)],
        command_start: command.range.start,
        placing: Vec::new(),
        interpreter: None,
        ships: Vec::new(),
        finish: None,
        finished: None,
        start: None,
    })
}

fn is_go(command: &RunCommand, subcommands: &[&str]) -> bool {
    command.program() == Some("go") && command.word(1).is_some_and(|w| subcommands.contains(&w))
}

/// Whether cgo is off for the build: `CGO_ENABLED=0` set by ENV or ARG
/// before it, before `go` on its own command line, or exported earlier in
/// its RUN.
pub(super) fn is_static(cx: &Context, build: &Build) -> bool {
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
    let before = crate::syntax::lossy(&cx.file.source[build.run.span().start..build.command_start]);
    let exported = before.contains(&format!("export {OFF}"))
        && !before.contains(['(', '{', '|'])
        && !before
            .split_whitespace()
            .any(|w| matches!(w, "if" | "then" | "else" | "case" | "for" | "while"));
    exported || prefix.windows(OFF.len()).any(|w| w == OFF.as_bytes())
}
