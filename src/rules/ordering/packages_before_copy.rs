//! DF102 packages-before-copy: install system packages before copying the
//! whole build context.

use super::copy_passes::{changes_only_inside, copy_passes, under};
use crate::edit::Edit;
use crate::facts::copies::{self, full_copy, FullCopy, INERT};
use crate::fix::moves;
use crate::model::Stage;
use crate::rules::promise;
use crate::rules::{Applicability, Context, Finding, Fix, FixSafety, Rule};
use crate::scope::Scope;
use crate::syntax::{shell, Dockerfile, Instruction};

pub static RULE: Rule = Rule {
    id: "DF102",
    name: "packages-before-copy",
    summary: "system packages install after the whole build context is copied",
    fix_title: "Install system packages before the whole build context is copied",
    effect: "system packages now install before the source is copied, so a source edit no longer reinstalls them",
    fix_safety: FixSafety::Safe,
    cache_style: None,
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF102 packages-before-copy

## What it does
Finds a RUN that only installs system packages (apt-get, apt, apk, dnf,
yum, microdnf, zypper, with their cache cleanup) after `COPY . .` (any copy
of the whole build context), and moves it before that copy.

## Why
Every step after a COPY of the whole context reruns when any file of the
context changes. System packages do not depend on the application's files:
installed before the copy, they stay cached across source edits.

## Example
```dockerfile
WORKDIR /app
COPY . .
RUN apt-get update && apt-get install -y --no-install-recommends libpq5
```
becomes
```dockerfile
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends libpq5
COPY . .
```

## Fix safety
Safe: the RUN is moved only when it reads nothing the copy brings. Every
command must be a package manager (or `rm` of package caches and lists,
`update-ca-certificates`) with package names for arguments: no file
paths, redirects, variables, command substitutions, heredocs or bind
mounts. The copy must go to a known directory outside the ones packages
install into (`/`, `/usr`, `/etc`, `/var/lib`, ...), so neither can
overwrite the other's files. The RUN moves up past instructions that do
not affect it: WORKDIR, LABEL, EXPOSE, CMD, ..., other package RUNs, a
COPY into the copy's destination, and a RUN that only changes files there
(`echo x86_64 > .toolchain`, `mkdir -p data`). Past anything else (ENV, a RUN), the
copy moves down instead, when nothing in between reads or writes what it
copies or changes what it does. Otherwise the finding says why and
nothing changes. Last, the build cache model `dockfix cache` prints must
see the moved RUNs out of what a source edit reruns.
";

const MANAGERS: &[&str] = &[
    "apt-get", "apt", "aptitude", "apk", "dnf", "yum", "microdnf", "zypper",
];

/// Where package installs write; a full copy into them may collide.
const SYSTEM_DIRS: &[&str] = &[
    "/bin",
    "/boot",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/opt",
    "/root",
    "/sbin",
    "/usr",
    "/var/cache",
    "/var/lib",
    "/var/log",
    "/var/spool",
    "/var/tmp",
    "/tmp",
];

/// What `rm` may remove in a package RUN: caches and lists.
const CACHES: &[&str] = &[
    "/var/lib/apt/lists",
    "/var/cache/",
    "/tmp/",
    "/var/tmp/",
    "/var/log/",
];

fn check(cx: &Context) -> Vec<Finding> {
    moved_before_copy(cx, &SYSTEM_PACKAGES)
}

/// What a rule that moves install RUNs before the full copy moves.
pub struct Installs {
    pub rule: &'static Rule,
    /// What installs, for the message (`system packages`).
    pub what: &'static str,
    /// Whether the RUN at `position` of stage `index` is such an install:
    /// `Ok` when it reads and writes nothing of the copy's destination
    /// (when known), else why it may.
    pub installs: fn(&Context, &[Stage], usize, usize, Option<&str>) -> Found,
    /// Whether the RUN reads no working directory and needs no other
    /// package RUN before it, so it moves up past WORKDIR and those too.
    pub moves_past_workdir: bool,
}

/// What `Installs::installs` finds: not such an install (`None`), one
/// that moves, or one that may read what the copy writes, and why.
pub type Found = Option<Result<(), String>>;

static SYSTEM_PACKAGES: Installs = Installs {
    rule: &RULE,
    what: "system packages",
    installs: |cx, stages, index, position, _| {
        installs_packages_only(cx.file, stages[index].body[position]).then_some(Ok(()))
    },
    moves_past_workdir: true,
};

/// The findings for every group of `kind`'s install RUNs after a full
/// copy.
pub fn moved_before_copy(cx: &Context, kind: &Installs) -> Vec<Finding> {
    let stages = cx.stages();
    let mut findings = Vec::new();
    for (index, stage) in stages.iter().enumerate() {
        let full_copies = &cx.full_copies()[index];
        for (nth, &position) in full_copies.iter().enumerate() {
            let instruction = stage.body[position];
            let Some(copy) = full_copy(instruction) else {
                continue;
            };
            let at_copy = cx.scope_at(index, instruction.span().start);
            let dest = copies::destination(&at_copy, &copy.dest);
            // The instructions up to the next full copy, each judged once.
            let next = full_copies.get(nth + 1).copied();
            let rest: Vec<&Instruction> =
                stage.body[position + 1..next.unwrap_or(stage.body.len())].to_vec();
            let found: Vec<Found> = (0..rest.len())
                .map(|i| (kind.installs)(cx, stages, index, position + 1 + i, dest.as_deref()))
                .collect();
            let installs = |i: usize| matches!(found[i], Some(Ok(())));
            // The group of install RUNs the RUN at each index belongs to
            // moves together, judged once: its end, message and fix.
            let mut group: Option<(usize, String, Option<Fix>)> = None;
            for (i, next) in rest.iter().enumerate() {
                if let Some(Err(why)) = &found[i] {
                    findings.push(Finding {
                        rule: kind.rule,
                        range: next.keyword_range(),
                        message: format!(
                            "{}; not fixed: the RUN {why}",
                            message(kind, copy.instruction)
                        ),
                        fix: None,
                    });
                } else if installs(i) {
                    if group.as_ref().is_none_or(|(upto, _, _)| *upto <= i) {
                        let upto = i + (i..rest.len()).take_while(|&j| installs(j)).count();
                        let site = Site {
                            cx,
                            index,
                            copy: &copy,
                            dest: dest.as_deref(),
                            passed: &rest[..upto],
                        };
                        let (message, fix) =
                            group_fix(cx.file, kind, &site, (*next, rest[upto - 1]), &rest[..i]);
                        group = Some((upto, message, fix));
                    }
                    let (_, message, fix) = group.as_ref().expect("set above");
                    findings.push(Finding {
                        rule: kind.rule,
                        range: next.keyword_range(),
                        message: message.clone(),
                        fix: fix.clone(),
                    });
                }
            }
        }
    }
    findings
}

/// A full copy, and the instructions after it up to the last package RUN
/// of a group.
struct Site<'s, 'f> {
    cx: &'s Context<'f>,
    index: usize,
    copy: &'s FullCopy<'f>,
    /// Where the copy writes, when dockfix can know it.
    dest: Option<&'s str>,
    passed: &'s [&'f Instruction],
}

/// The message and fix of each finding for a group of package RUNs
/// `first..=last`: the fix moves the group up before the copy; or, when
/// other instructions sit between, moves the copy down past them and the
/// group.
fn group_fix(
    file: &Dockerfile,
    kind: &Installs,
    site: &Site,
    (first, last): (&Instruction, &Instruction),
    between: &[&Instruction],
) -> (String, Option<Fix>) {
    let copy = site.copy;
    let scope = site.cx.scope_at(site.index, copy.instruction.span().start);
    let message = message(kind, copy.instruction);
    // A RUN that only installs packages reads no working directory, so it
    // moves up past a WORKDIR too, and past a COPY into the full copy's
    // destination or a RUN that only changes files there, where packages
    // neither read nor write (else `destination_problem` reports); anything
    // else makes the copy move down.
    let copy_moves = between.iter().any(|i| {
        let name = i.command.name.as_str();
        let past_workdir =
            kind.moves_past_workdir && (name == "workdir" || installs_packages_only(file, i));
        !INERT.contains(&name)
            && !past_workdir
            && !site.dest.is_some_and(|d| stays_inside(file, site, i, d))
    });
    let blocker = if copy_moves {
        match site.dest {
            Some(dest) => copy_passes(site.cx, site.index, copy, dest, site.passed, None).err(),
            None => destination_problem(&scope, copy),
        }
    } else {
        destination_problem(&scope, copy)
    };
    let fix = || {
        let eol = moves::line_ending(file, copy.instruction);
        if copy_moves {
            let taken = moves::take(file, copy.instruction, copy.instruction, &eol);
            let text = taken.comments + &taken.text;
            let insert = Edit::insert(last.span().end, text);
            return Fix::new(Applicability::Safe, vec![taken.delete, insert]);
        }
        let taken = moves::take(file, first, last, &eol);
        let text = taken.comments + &taken.text;
        let insert = moves::insert(file, moves::before(file, copy.instruction), text, &eol);
        Fix::new(Applicability::Safe, vec![taken.delete, insert])
    };
    let checked = match blocker {
        Some(why) => Err(why),
        None => {
            let fix = fix();
            let moved = &site.passed[between.len()..];
            promise::moved_out_of_reruns(site.cx, site.index, &fix.edits, moved).map(|()| fix)
        }
    };
    match checked {
        Ok(fix) => (
            format!("{message}; install them before the copy"),
            Some(fix),
        ),
        Err(why) => (format!("{message}; not fixed: {why}"), None),
    }
}

/// Whether `instruction` is a COPY or ADD whose destination lies inside
/// `dest`, or a RUN that only changes files there.
fn stays_inside(file: &Dockerfile, site: &Site, instruction: &Instruction, dest: &str) -> bool {
    let command = &instruction.command;
    let scope = site.cx.scope_at(site.index, instruction.span().start);
    match command.name.as_str() {
        "copy" | "add" if !command.json => command
            .values
            .last()
            .and_then(|to| copies::destination(&scope, to))
            .is_some_and(|to| under(&to, dest)),
        "run" => changes_only_inside(file, &scope, instruction, dest),
        _ => false,
    }
}

/// What a finding of `kind` after the full copy `copy` says first.
fn message(kind: &Installs, copy: &Instruction) -> String {
    format!(
        "{} install after the whole build context is copied (line {}), so any source edit reruns the install",
        kind.what, copy.start_line
    )
}

/// Why packages installed before the copy could end up different, if so.
fn destination_problem(scope: &Scope, copy: &FullCopy) -> Option<String> {
    if scope.expand(&copy.dest).is_none() {
        return Some(format!(
            "the copy's destination {} has a variable whose value dockfix cannot know",
            copy.dest
        ));
    }
    let Some(dest) = copies::destination(scope, &copy.dest) else {
        return Some(
            "the copy goes to a working directory dockfix cannot know (the base image's, or one a build argument sets)"
                .into(),
        );
    };
    packages_may_write(&dest)
        .then(|| format!("the copy goes to {dest}, where packages may install files"))
}

/// Whether package installs may write into the directory `dest`.
pub fn packages_may_write(dest: &str) -> bool {
    let dest = copies::normalize(dest);
    dest == "/"
        || dest == "/var"
        || SYSTEM_DIRS
            .iter()
            .any(|d| dest == *d || dest.starts_with(&format!("{d}/")))
}

/// Whether a RUN mounts files (a bind mount, the default type): any
/// `--mount` that is not a cache, tmpfs, secret or ssh mount.
pub fn binds_files(run: &Instruction) -> bool {
    run.command.flags.iter().any(|f| {
        f.name() == "mount"
            && !["type=cache", "type=tmpfs", "type=secret", "type=ssh"]
                .iter()
                .any(|t| f.text.contains(t))
    })
}

/// A RUN whose every command is a package manager or cache cleanup, with
/// nothing that could read the build context.
pub fn installs_packages_only(file: &Dockerfile, run: &Instruction) -> bool {
    let command = &run.command;
    if command.name != "run" || command.json || !run.heredocs.is_empty() || binds_files(run) {
        return false;
    }
    if !run.mentions(&file.source, MANAGERS) {
        return false;
    }
    let Some(script) = shell::parse(file, run) else {
        return false;
    };
    let commands = script.commands();
    if script.has_error() || commands.is_empty() || !script.redirects().is_empty() {
        return false;
    }
    let mut installs = false;
    for command in commands {
        let Some(words) = command.literal_words(&file.source) else {
            return false;
        };
        let (name, args) = (words[0].as_str(), &words[1..]);
        let plain = |a: &String| a.starts_with('-') || !a.contains('/') || a.contains("://");
        match name {
            _ if MANAGERS.contains(&name) && args.iter().all(plain) => installs = true,
            "rm" if args
                .iter()
                .all(|a| a.starts_with('-') || CACHES.iter().any(|c| a.starts_with(c))) => {}
            "update-ca-certificates" => {}
            _ => return false,
        }
    }
    installs
}
