//! DF205 package-merge-runs: consecutive RUNs of one package manager become
//! one.

use crate::edit::Edit;
use crate::fix::moves;
use crate::rules::{Applicability, Context, Finding, Fix, FixSafety, Rule};
use crate::syntax::shell;
use crate::syntax::{Dockerfile, Instruction, Item, ItemKind};
use crate::transforms::{package_managers, PackageManager};

pub static RULE: Rule = Rule {
    id: "DF205",
    name: "package-merge-runs",
    summary: "consecutive RUNs that only run the same package manager",
    fix_title: "Merge consecutive RUNs of one package manager",
    effect: "one layer and one package-manager run instead of several",
    fix_safety: FixSafety::Safe,
    cache_style: None,
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF205 package-merge-runs

## What it does
Joins a RUN that only runs one package manager to the RUN right before it
when that one only runs the same manager, with `&&`, in the file's own
continuation style. Comment lines between them stay, inside the
continuation. The managers, their programs and the caches `rm` may remove
in such a RUN are data (`transforms/package_managers.toml`): apt (`apt-get`,
`apt`, `aptitude`, `dpkg`), apk, dnf (with `yum`, `microdnf`, `rpm`) and
zypper. Part of hadolint's DL3059.

## Why
`RUN apt-get update` alone is cached as a layer and served stale on later
builds, so a later `RUN apt-get install` can fail on package versions the
mirror no longer has. In one RUN, update and install run together; one layer
also lets caches be removed where they were created (DF206, DF212), and an
`apk del` of a `--virtual` group in the RUN that added it actually shrinks
the image.

## Example
```dockerfile
RUN apt-get update
RUN apt-get install -y curl
```
becomes
```dockerfile
RUN apt-get update \\
    && apt-get install -y curl
```

## Fix safety
Safe: the commands run in the same order, and the second still runs only
when the first succeeded. Merged only when the second RUN is a plain `&&`
chain, the first has no background job and does not end in `;`, neither
carries flags, heredocs, a shell comment, `export`/`unset`, a function or a
bare assignment (their effect would reach the joined commands), and nothing but
comments and blank lines separates them (blank lines are dropped: BuildKit
warns about them inside a continuation).
";

fn check(cx: &Context) -> Vec<Finding> {
    let file = cx.file;
    let stages = cx.stages();
    let mut findings = Vec::new();
    for stage in stages {
        for (position, first) in stage.each(&["run"]) {
            let Some(&second) = stage.body.get(position + 1) else {
                continue;
            };
            if !mergeable(file, first, second) {
                continue;
            }
            findings.push(Finding {
                rule: &RULE,
                range: second.keyword_range(),
                message: format!(
                    "this RUN only manages packages, like the one at line {}: merge them",
                    first.start_line
                ),
                fix: Some(Fix::new(
                    Applicability::Safe,
                    vec![join(file, first, second)],
                )),
            });
        }
    }
    findings
}

/// Whether the fix joins `second` to `first`.
pub fn mergeable(file: &Dockerfile, first: &Instruction, second: &Instruction) -> bool {
    // Asked of every pair of instructions: most are no pair of RUNs.
    let runs = |i: &Instruction| i.command.name == "run";
    runs(first)
        && runs(second)
        && package_managers().iter().any(|manager| {
            only(file, manager, first, false)
                && only(file, manager, second, true)
                && adjacent(file, first, second)
        })
}

/// A shell-form RUN without flags or heredocs whose commands all belong to
/// `manager`; `chain` also asks for a plain `&&` chain, `first` for no
/// background job.
fn only(file: &Dockerfile, manager: &PackageManager, run: &Instruction, chain: bool) -> bool {
    let command = &run.command;
    if command.name != "run"
        || command.json
        || !command.flags.is_empty()
        || !run.heredocs.is_empty()
    {
        return false;
    }
    let programs: Vec<&str> = manager.programs.iter().map(String::as_str).collect();
    if !run.mentions(&file.source, &programs) {
        return false;
    }
    let Some(script) = shell::parse(file, run) else {
        return false;
    };
    let commands = script.commands();
    // A comment would swallow what is joined after it; `export` or a bare
    // assignment would reach the commands joined after it.
    if script.has_error()
        || script.has_comment()
        || commands.is_empty()
        || script.sets_shell_state()
    {
        return false;
    }
    // `a;` or `a &` followed by `&& b` is not a command list.
    let args = run.text(command.args.clone());
    if args.trim_ascii_end().ends_with(b";") || args.trim_ascii_end().ends_with(b"&") {
        return false;
    }
    let ops = script.operators();
    if ops.iter().any(|(op, _)| *op == "&") || (chain && !script.is_chain(&["&&"])) {
        return false;
    }
    commands.iter().all(|c| {
        let Some(words) = c.literal_words(&file.source) else {
            return false;
        };
        match words[0].as_str() {
            "rm" => words[1..]
                .iter()
                .all(|w| w.starts_with('-') || manager.caches.iter().any(|c| w.starts_with(c))),
            program => programs.contains(&program),
        }
    })
}

/// Only comment and blank lines between the two.
fn adjacent(file: &Dockerfile, first: &Instruction, second: &Instruction) -> bool {
    between(file, first, second).all(|i| matches!(i.kind, ItemKind::Comment | ItemKind::Blank))
}

/// The items between the two instructions, found by binary search: the
/// rule asks of every pair of instructions.
fn between<'f>(
    file: &'f Dockerfile,
    first: &Instruction,
    second: &Instruction,
) -> impl Iterator<Item = &'f Item> {
    let (end, start) = (first.span().end, second.span().start);
    let from = file.items.partition_point(|i| i.span.start < end);
    file.items[from..]
        .iter()
        .take_while(move |i| i.span.end <= start)
}

/// Replaces what lies between the end of the first RUN's command and the
/// start of the second's with a continuation in the first RUN's style, else
/// the file's, else leading `&&` with four spaces.
fn join(file: &Dockerfile, first: &Instruction, second: &Instruction) -> Edit {
    let src = &file.source;
    let eol = moves::line_ending(file, first);
    let first_end = first.args_range().end;
    let second_start = second.args_range().start;
    let comments: String = between(file, first, second)
        .filter(|i| matches!(i.kind, ItemKind::Comment))
        .map(|i| crate::syntax::lossy(&src[i.span.clone()]).into_owned())
        .collect();
    let (indent, leading) = moves::continuation_style(file, first);
    let escape = file.escape as char;
    let replacement = if leading {
        format!(" {escape}{eol}{comments}{indent}&& ")
    } else {
        format!(" && {escape}{eol}{comments}{indent}")
    };
    Edit::replace(first_end..second_start, replacement)
}
