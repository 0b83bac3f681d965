//! Multi-stage builds (DF5xx): what the final stage still carries of the
//! build when an earlier stage built what it runs.

mod builder;
pub mod final_stage_build_tools;
pub mod final_stage_full_copy;
mod go;
mod java;
mod node;
mod python;
mod rust;
pub mod single_stage_build;

use crate::facts::commands::RunCommand;
use crate::facts::scripts::PATH;
use crate::model::{lineage_indices, stage_from, Stage};
use crate::rules::Context;
use crate::scope::absolute;
use crate::syntax::{Dockerfile, Instruction};

/// Whether a package builds software rather than runs it
/// (`transforms/stages.toml`'s `build_tools`).
fn is_build_tool(name: &str) -> bool {
    crate::transforms::stages()
        .build_tools
        .iter()
        .any(|pattern| crate::context::wildcard_match(pattern, name))
}

/// A package manager's command that removes packages.
pub(super) fn removes_packages(command: &RunCommand) -> bool {
    let manager = command.program().is_some_and(|name| {
        crate::transforms::package_managers().iter().any(|m| {
            m.programs
                .iter()
                .any(|p| p == crate::syntax::shell::program(name))
        })
    });
    let removals = &crate::transforms::stages().removals;
    manager
        && command.words.iter().skip(1).any(|(w, _)| {
            w.as_deref()
                .is_some_and(|w| removals.iter().any(|r| r == w))
        })
}

/// Where a command's program may be, as absolute paths: the path it names
/// (against the working directory), or, named without a slash, in each
/// directory of the default PATH.
fn program_paths(word: &str, workdir: Option<&str>) -> Vec<String> {
    if word.contains('/') {
        absolute(word, workdir).into_iter().collect()
    } else {
        PATH.iter().map(|dir| format!("{dir}/{word}")).collect()
    }
}

/// The characters that make a shell-form command more than one simple
/// command: quoting, expansion, operators, redirection, globs, comments.
const SHELL_SYNTAX: &str = "\"'`$;&|<>(){}\\*?[]#~=!";

/// Whether a shell-form command line is one simple command, whose words
/// are its whitespace-separated parts.
fn is_simple_command(line: &str) -> bool {
    !line.contains(|c| SHELL_SYNTAX.contains(c))
}

/// The words of a CMD or ENTRYPOINT: the exec form's, or the shell form's
/// split at whitespace.
fn command_words(command: &Instruction) -> Vec<String> {
    if command.command.json {
        return command.command.values.iter().map(String::from).collect();
    }
    let line = command.command.values.join(" ");
    line.split_whitespace().map(String::from).collect()
}

/// The instruction whose command a stage's image runs: its last
/// ENTRYPOINT, else its last CMD.
fn image_command<'f>(body: &[&'f Instruction]) -> Option<&'f Instruction> {
    let last = |kind: &str| body.iter().rev().find(|i| i.command.name == kind).copied();
    last("entrypoint").or_else(|| last("cmd"))
}

/// The package manager of a command that runs package.json's `start`
/// script (`npm start`, `yarn run start`).
fn start_script_runner(words: &[String]) -> Option<&str> {
    match words {
        [runner, start] if start == "start" => Some(runner),
        [runner, run, start] if run == "run" && start == "start" => Some(runner),
        _ => None,
    }
}

/// A build split into stages: the final stage, and the COPY instructions
/// that take files from an earlier stage outside its own lineage (a
/// builder), each with that stage's index.
struct Split<'f> {
    index: usize,
    copies: Vec<(&'f Instruction, usize)>,
}

impl Split<'_> {
    /// The final stage of `cx`'s file, when it copies from a builder.
    fn of<'f>(cx: &Context<'f>) -> Option<Split<'f>> {
        let stages = cx.stages();
        let index = stages.len().checked_sub(1)?;
        let own: Vec<usize> = lineage_indices(stages, index).collect();
        let copies: Vec<(&Instruction, usize)> = stages[index]
            .each_with(&["copy"], Dockerfile::FLAGGED)
            .map(|(_, i)| i)
            .filter(|i| i.command.name == "copy" && i.command.sub.is_none())
            .filter_map(|i| {
                let from = i
                    .command
                    .flags
                    .iter()
                    .find(|f| f.name() == "from")?
                    .value()?;
                let builder = stage_from(stages, index, from)?;
                (!own.contains(&builder)).then_some((i, builder))
            })
            .collect();
        (!copies.is_empty()).then_some(Split { index, copies })
    }

    /// The word of the final stage's `ENTRYPOINT` or `CMD` (the last of
    /// each) that names a file a builder's COPY put there (`/usr/local/bin/app`,
    /// `app` on PATH, `dist/index.js` under the working directory): the
    /// image runs what a builder built.
    fn runs_built(&self, cx: &Context) -> Option<String> {
        let stages = cx.stages();
        let scope_at = |i: &Instruction| cx.scope_at(self.index, i.span().start);
        // What the builders' files became, as absolute paths: a destination
        // directory (`/app/`) holds each source under its own name.
        let artifacts: Vec<String> = self
            .copies
            .iter()
            .flat_map(|(copy, _)| {
                let scope = scope_at(copy);
                let Some((dest, sources)) = copy.command.values.split_last() else {
                    return Vec::new();
                };
                let Some((dest, dir)) = scope.expand(dest).and_then(|d| {
                    absolute(&d, scope.workdir.as_deref()).map(|a| (a, d.ends_with('/')))
                }) else {
                    return Vec::new();
                };
                if !dir && sources.len() == 1 {
                    return vec![dest];
                }
                sources
                    .iter()
                    .map(|s| {
                        let name = s.trim_end_matches('/').rsplit('/').next().unwrap_or(s);
                        format!("{}/{name}", dest.trim_end_matches('/'))
                    })
                    .collect()
            })
            .collect();
        let built = |word: &str, workdir: Option<&str>| {
            program_paths(word, workdir).iter().any(|c| {
                artifacts.iter().any(|a| {
                    c == a
                        || c.strip_prefix(a.as_str())
                            .is_some_and(|r| r.starts_with('/'))
                })
            })
        };
        // The ENTRYPOINT in effect, then the CMD it receives.
        ["entrypoint", "cmd"].iter().find_map(|kind| {
            let command = stages[self.index]
                .body
                .iter()
                .rev()
                .find(|i| i.command.name == *kind)?;
            let workdir = scope_at(command).workdir;
            command_words(command)
                .into_iter()
                .find(|w| !w.starts_with('-') && built(w, workdir.as_deref()))
        })
    }

    /// How the findings name the first builder: `build`, or `0`.
    fn builder_name(&self, stages: &[Stage]) -> String {
        let builder = self.copies[0].1;
        stages[builder]
            .name
            .clone()
            .unwrap_or_else(|| builder.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_script_runners_and_simple_commands() {
        let words = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert_eq!(start_script_runner(&words("npm start")), Some("npm"));
        assert_eq!(start_script_runner(&words("yarn run start")), Some("yarn"));
        assert_eq!(start_script_runner(&words("npm run build")), None);
        assert!(is_simple_command("./target/release/app --port 3000"));
        assert!(!is_simple_command("app | tee log"));
        assert!(!is_simple_command("app --port $PORT"));
    }
}
