//! A Rust program built in one stage, read for DF503: the RUN that runs
//! `cargo build`, where its binaries go (and where the RUN copies them),
//! the Debian release the toolchain image links them against, and the
//! crates that link a library of the system.

use super::builder::{self, Build, Output, Source};
use crate::context;
use crate::facts::commands::RunCommand;
use crate::facts::scripts::PATH;
use crate::model::Stage;
use crate::rules::Context;
use crate::scope::absolute;
use crate::syntax::Instruction;
use crate::transforms::Runtime;

/// Flags and variables that move Cargo's output away from
/// `target/<profile>` or build for another target.
const MOVES_OUTPUT: &[&str] = &[
    "--target",
    "--target-dir",
    "--manifest-path",
    "--out-dir",
    "--artifact-dir",
    "-Z",
];
const OUTPUT_VARIABLES: &[&str] = &["CARGO_TARGET_DIR", "CARGO_BUILD_TARGET"];

/// Commands that take the binary from Cargo's output: copies, and `strip`.
const PLACES: &[&str] = &["cp", "mv", "install", "strip"];

/// The RUN in the stage that runs `cargo build`: `None` when the stage
/// builds no Rust program, an error when dockfix cannot follow it.
pub(super) fn build<'f>(cx: &Context<'f>, stage: &Stage<'f>) -> Option<Result<Build<'f>, String>> {
    let is_build = |command: &RunCommand| {
        command.program() == Some("cargo")
            && matches!(command.word(1), Some("build" | "b" | "install"))
    };
    Some(
        builder::only_build(cx, stage, &is_build, "`cargo build`")?
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
            "line {line} runs `cargo install`, whose binary dockfix does not place"
        ));
    }
    if command.shell_error {
        return Err(format!("dockfix cannot read the shell of line {line}"));
    }
    let profile = profile(command).map_err(|why| format!("`cargo build` on line {line} {why}"))?;
    let scope = cx.scope_at(0, run.span().start);
    let text = crate::syntax::lossy(&cx.file.source[run.span()]);
    for variable in OUTPUT_VARIABLES {
        let set = scope
            .expand(&format!("${{{variable}}}"))
            .is_some_and(|v| !v.is_empty());
        if set || text.contains(variable) {
            return Err(format!(
                "`{variable}` moves the output of `cargo build` on line {line}"
            ));
        }
    }
    let commands = cx.commands_of(run, 0);
    if commands
        .iter()
        .take_while(|c| c.range != command.range)
        .any(|c| c.word(0) == Some("cd"))
    {
        return Err(format!(
            "line {line} changes directory before `cargo build`"
        ));
    }
    let workdir = scope.workdir.as_deref();
    let target = absolute(&format!("target/{profile}"), workdir)
        .ok_or_else(|| format!("dockfix cannot tell the working directory of line {line}"))?;
    let mut outputs = vec![Output::In(target.clone())];
    let mut placing = Vec::new();
    for later in commands
        .iter()
        .skip_while(|c| c.range != command.range)
        .skip(1)
    {
        if let Some(placed) = places(later, &target, workdir) {
            outputs.extend(placed);
            placing.push(later.range.start);
        }
    }
    Ok(Build {
        run,
        position,
        outputs,
        command_start: command.range.start,
        placing,
        interpreter: None,
        ships: Vec::new(),
        finish: None,
        finished: None,
        start: None,
    })
}

/// The directory of `target/` a build writes to: `release` for
/// `--release`, `debug` without a profile; or why dockfix cannot tell.
fn profile(command: &RunCommand) -> Result<&'static str, String> {
    let mut profile = "debug";
    let mut words = command.words[2..].iter().map(|(w, _)| w.as_deref());
    while let Some(word) = words.next() {
        let Some(word) = word else {
            return Err("takes a word a variable names".into());
        };
        let (flag, value) = match word.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value)),
            _ => (word, None),
        };
        if MOVES_OUTPUT.contains(&flag) {
            return Err(format!("takes `{flag}`, which moves the binary"));
        }
        match flag {
            "--release" | "-r" => profile = "release",
            "--profile" => {
                profile = match value.or_else(|| words.next().flatten()) {
                    Some("release") => "release",
                    Some("dev" | "test") => "debug",
                    _ => return Err("builds a profile of its own".into()),
                }
            }
            _ => {}
        }
    }
    Ok(profile)
}

/// Where a command after the build puts binaries from `target` (the
/// profile's directory): `None` when it is not such a command.
fn places(command: &RunCommand, target: &str, workdir: Option<&str>) -> Option<Vec<Output>> {
    let program = command.program()?;
    if !PLACES.contains(&program) {
        return None;
    }
    let mut paths = Vec::new();
    let mut words = command.words[1..].iter().map(|(w, _)| w.as_deref());
    while let Some(word) = words.next() {
        let word = word?;
        // `install -m 755`: options of `install` that take a value.
        if program == "install"
            && matches!(word, "-m" | "-o" | "-g" | "--mode" | "--owner" | "--group")
        {
            words.next();
        } else if !word.starts_with('-') {
            paths.push(word);
        }
    }
    let in_target = |path: &str| {
        absolute(path, workdir).is_some_and(|p| {
            p.strip_prefix(target)
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|name| !name.is_empty() && !name.contains('/'))
        })
    };
    if program == "strip" {
        return (!paths.is_empty() && paths.iter().all(|p| in_target(p))).then(Vec::new);
    }
    let (dest, sources) = paths.split_last()?;
    if sources.is_empty() || !sources.iter().all(|s| in_target(s)) {
        return None;
    }
    let dest_dir = absolute(dest, workdir)?;
    // A destination that is a directory holds each binary by its name.
    if dest.ends_with('/') || sources.len() > 1 || PATH.contains(&dest_dir.as_str()) {
        Some(
            sources
                .iter()
                .map(|s| {
                    let name = s.rsplit('/').next().unwrap_or(s);
                    Output::File(format!("{}/{name}", dest_dir.trim_end_matches('/')))
                })
                .collect(),
        )
    } else {
        Some(vec![Output::File(dest_dir)])
    }
}

/// Why the binary may need a library of the system it was built on: a
/// crate of the sources' `Cargo.lock` that links one (`openssl-sys`), or
/// no `Cargo.lock` to tell.
pub(super) fn links(runtime: &Runtime, image: &str, sources: &[Source]) -> Result<(), String> {
    let locks: Vec<&Source> = sources
        .iter()
        .filter(|s| s.relative.rsplit('/').next() == Some("Cargo.lock"))
        .collect();
    if locks.is_empty() {
        return Err("the sources hold no `Cargo.lock`, so dockfix cannot tell which system libraries the program links".into());
    }
    for source in locks {
        let relative = &source.relative;
        let text = source
            .text()
            .map_err(|e| format!("dockfix cannot read `{relative}`: {e}"))?;
        let linking = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("name = \"")?.strip_suffix('"'))
            .find(|name| {
                runtime
                    .links
                    .iter()
                    .any(|p| context::wildcard_match(p, name))
                    && !runtime.builds_own.iter().any(|own| own == name)
            });
        if let Some(name) = linking {
            return Err(format!(
                "`{relative}` holds `{name}`, which links a library of the toolchain image that `FROM {image}` may lack"
            ));
        }
    }
    Ok(())
}
