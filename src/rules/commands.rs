//! The commands of every RUN, with their words and the byte ranges of those
//! words, for rules that fix package-manager invocations word by word.

use std::ops::Range;

use super::{Applicability, Context, Finding, Fix, Rule};
use crate::edit::Edit;
use crate::model::Stage;
use crate::syntax::{shell, Dockerfile};

/// What the package-manager rules look for; a RUN mentioning none of these
/// is not parsed for them.
const PROGRAMS: &[&str] = &["apt", "apk", "pip", "uv"];

/// One command of a RUN.
pub struct RunCommand {
    pub stage: usize,
    /// The whole command, by file range.
    pub range: Range<usize>,
    /// Each word's text (None when it is not a plain literal) and range.
    pub words: Vec<(Option<String>, Range<usize>)>,
}

impl RunCommand {
    pub fn word(&self, i: usize) -> Option<&str> {
        self.words.get(i).and_then(|(w, _)| w.as_deref())
    }

    /// Whether any word is exactly `flag`, or `flag=...`.
    pub fn has(&self, flags: &[&str]) -> bool {
        self.words
            .iter()
            .filter_map(|(w, _)| w.as_deref())
            .any(|w| {
                flags
                    .iter()
                    .any(|f| w == *f || w.strip_prefix(f).is_some_and(|rest| rest.starts_with('=')))
            })
    }
}

/// Every command of every shell-form RUN (heredoc scripts included), in
/// file order, with the stage it belongs to.
pub fn run_commands<'f>(file: &'f Dockerfile, stages: &[Stage<'f>]) -> Vec<RunCommand> {
    let mut found = Vec::new();
    for (index, stage) in stages.iter().enumerate() {
        for instruction in &stage.body {
            if instruction.command.name != "run" {
                continue;
            }
            if !instruction.mentions(&file.source, PROGRAMS) {
                continue;
            }
            let Some(script) = shell::parse(file, instruction) else {
                continue;
            };
            for command in script.commands() {
                let words = command
                    .name
                    .iter()
                    .chain(&command.args)
                    .map(|r| (shell::literal(&file.source, r.clone()), r.clone()))
                    .collect();
                found.push(RunCommand {
                    stage: index,
                    range: command.range.clone(),
                    words,
                });
            }
        }
    }
    found
}

/// apt-get's global options that take a value (before the subcommand).
pub const APT_VALUE_OPTIONS: &[&str] = &[
    "-o",
    "--option",
    "-c",
    "--config-file",
    "-t",
    "--target-release",
];

/// A flag a package-manager subcommand should carry.
pub struct FlagSpec {
    /// Commands, as their leading words (`["pip"]`, `["python3", "-m", "pip"]`).
    pub programs: &'static [&'static [&'static str]],
    /// Global options before the subcommand that take a value.
    pub value_options: &'static [&'static str],
    pub subcommands: &'static [&'static str],
    /// Any of these present means the flag is there.
    pub present: &'static [&'static str],
    /// A short option that counts inside a cluster (`y` in `-fy`), and how
    /// many times it must appear there (`-qq` implies `-y`).
    pub short: &'static [(char, usize)],
    /// What to insert after the subcommand.
    pub insert: &'static str,
}

/// The word after the program's leading words and its global options: the
/// subcommand, with its index, for commands of `spec.programs`.
fn subcommand(command: &RunCommand, spec: &FlagSpec) -> Option<usize> {
    let program = spec.programs.iter().find(|p| {
        p.iter()
            .enumerate()
            .all(|(i, w)| command.word(i) == Some(*w))
    })?;
    let mut i = program.len();
    while let Some(word) = command.word(i) {
        if !word.starts_with('-') {
            return spec.subcommands.contains(&word).then_some(i);
        }
        i += if spec.value_options.contains(&word) {
            2
        } else {
            1
        };
    }
    None
}

/// The commands that lack the flag, with where to insert it.
fn missing_flag<'c>(commands: &'c [RunCommand], spec: &FlagSpec) -> Vec<(&'c RunCommand, usize)> {
    commands
        .iter()
        .filter_map(|c| {
            let sub = subcommand(c, spec)?;
            let clustered = c.words.iter().filter_map(|(w, _)| w.as_deref()).any(|w| {
                let cluster = w.strip_prefix('-').filter(|rest| {
                    !rest.starts_with('-') && rest.chars().all(|ch| ch.is_ascii_alphabetic())
                });
                cluster.is_some_and(|cluster| {
                    spec.short
                        .iter()
                        .any(|&(ch, n)| cluster.matches(ch).count() >= n)
                })
            });
            (!c.has(spec.present) && !clustered).then(|| (c, c.words[sub].1.end))
        })
        .collect()
}

/// The findings of a rule that adds `spec`'s flag: for each command lacking
/// it, `fix` gives the message and edits (beyond inserting the flag), or
/// `None` to leave the command alone.
pub fn flag_findings(
    cx: &Context,
    rule: &'static Rule,
    spec: &FlagSpec,
    applicability: Applicability,
    fix: impl Fn(&[Stage], &RunCommand) -> Option<(String, Vec<Edit>)>,
) -> Vec<Finding> {
    let stages = crate::model::stages(cx.file);
    let commands = run_commands(cx.file, &stages);
    missing_flag(&commands, spec)
        .into_iter()
        .filter_map(|(command, at)| {
            let (message, mut edits) = fix(&stages, command)?;
            edits.insert(0, Edit::insert(at, format!(" {}", spec.insert)));
            Some(Finding {
                rule,
                range: command.range.clone(),
                message,
                fix: Some(Fix::new(applicability, edits)),
            })
        })
        .collect()
}
