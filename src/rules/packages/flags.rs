//! The template of the rules that add a flag to a package manager's
//! subcommand (`-y`, `--no-cache`, `--no-install-recommends`): which
//! commands lack it, where it goes, and when the fix is unsafe.

use crate::edit::Edit;
use crate::facts::commands::{program_len, subcommand, FlagSpec, RunCommand};
use crate::model::Stage;
use crate::rules::{Applicability, Context, Finding, Fix, Rule};
use crate::syntax::{shell, Dockerfile};
use crate::transforms::Needs;

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
    flag_findings_at(cx, rule, spec, Place::Subcommand, applicability, fix)
}

/// Marks unsafe the fixes of commands whose failure the RUN goes on after
/// (`|| true`, a pipe, `;` without `set -e`): there a command that aborted
/// at its question changed nothing, and with `-y` it changes the image.
pub fn unsafe_where_failure_ignored(file: &Dockerfile, findings: &mut [Finding]) {
    for finding in findings {
        let ignored = file
            .instructions()
            .find(|i| i.span().contains(&finding.range.start))
            .and_then(|run| shell::parse(file, run))
            .is_none_or(|script| {
                script
                    .commands()
                    .iter()
                    .find(|c| c.range == finding.range)
                    .is_none_or(|c| !simulates(file, c) && script.failure_ignored(c, &file.source))
            });
        if let Some(fix) = finding.fix.as_mut().filter(|_| ignored) {
            fix.applicability = Applicability::Unsafe;
            finding.message +=
                "; unsafe: the RUN goes on when it fails, so its answer changes what is installed";
        }
    }
}

/// An apt simulation changes nothing, whatever it is told.
fn simulates(file: &Dockerfile, command: &shell::SimpleCommand) -> bool {
    command.args.iter().any(|r| {
        shell::unquoted(&file.source, r.clone()).is_some_and(|w| {
            matches!(
                w.as_str(),
                "-s" | "--simulate" | "--dry-run" | "--just-print" | "--no-act" | "--recon"
            )
        })
    })
}

/// Where a missing flag goes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// After the subcommand, as one of its options.
    Subcommand,
    /// Right after the program, as a global option: where one that means
    /// something else after the subcommand must go (zypper's `-n`).
    Program,
}

/// `flag_findings`, with the flag inserted at `place`.
pub fn flag_findings_at(
    cx: &Context,
    rule: &'static Rule,
    spec: &FlagSpec,
    place: Place,
    applicability: Applicability,
    fix: impl Fn(&[Stage], &RunCommand) -> Option<(String, Vec<Edit>)>,
) -> Vec<Finding> {
    let stages = cx.stages();
    missing_flag(cx.run_commands(), spec)
        .into_iter()
        .filter_map(|(command, at)| {
            let at = match place {
                Place::Subcommand => at,
                Place::Program => command.words[program_len(command, spec)? - 1].1.end,
            };
            let (mut message, mut edits) = fix(stages, command)?;
            edits.insert(0, Edit::insert(at, format!(" {}", spec.insert)));
            if command.shell_error {
                message += "; not fixed: dockfix cannot read this RUN's shell";
            }
            Some(Finding {
                rule,
                range: command.range.clone(),
                message,
                fix: (!command.shell_error).then(|| Fix::new(applicability, edits)),
            })
        })
        .collect()
}

/// What the packages a command installs need but only recommend, per
/// `table` (see `transforms/recommends.toml`), with the edit that installs
/// it too, after the command's last word.
pub fn needed_recommends(command: &RunCommand, table: &Needs) -> Option<(Vec<String>, Edit)> {
    let packages: Vec<&str> = command.words[1..]
        .iter()
        .filter_map(|(w, _)| w.as_deref())
        .filter(|w| !w.starts_with('-'))
        .map(|w| w.split(['=', ':', '<', '>']).next().unwrap_or(w))
        .collect();
    let mut extra: Vec<String> = Vec::new();
    for package in &packages {
        for &needed in table.get(package).into_iter().flatten() {
            if !packages.contains(&needed) && !extra.iter().any(|e| e == needed) {
                extra.push(needed.to_string());
            }
        }
    }
    let end = command.words.last()?.1.end;
    let edit = Edit::insert(end, format!(" {}", extra.join(" ")));
    (!extra.is_empty()).then_some((extra, edit))
}
