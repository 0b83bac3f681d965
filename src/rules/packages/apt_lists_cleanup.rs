//! DF206 apt-lists-cleanup: remove apt's package lists in the RUN that
//! downloaded them.

use crate::facts::apt::{cached_lists, later_lists_use, AptUse, LISTS};
use crate::fix::append::append_command;
use crate::fix::moves;
use crate::rules::{Applicability, CacheStyle, Context, Finding, Fix, FixSafety, Rule};
use crate::syntax::{shell, Dockerfile, Instruction};

pub static RULE: Rule = Rule {
    id: "DF206",
    name: "apt-lists-cleanup",
    summary: "apt's package lists stay in the image",
    fix_title: "Remove apt's package lists in the RUN that downloaded them",
    effect: "smaller image: apt's package lists removed in the layer that downloaded them",
    fix_safety: FixSafety::Safe,
    cache_style: Some(CacheStyle::Cleanup),
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF206 apt-lists-cleanup

## What it does
Appends `rm -rf /var/lib/apt/lists/*` to a RUN that runs `apt-get update`
(or `apt update`) and does not remove the lists itself. Equivalent to
hadolint's DL3009.

## Why
The lists are tens of megabytes that nothing in the running container
needs, and deleting them in a later RUN does not shrink the image: a layer
keeps what an earlier one wrote. They must go in the RUN that made them.

A RUN that only updates (`RUN apt-get update`, left alone when DF208
gave the later install its own update) goes instead, with the comment
lines directly above it: with its lists removed it would be a layer that
changes nothing.

## Example
```dockerfile
RUN apt-get update && apt-get install -y --no-install-recommends curl
```
becomes
```dockerfile
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
```

## Fix safety
Safe where applied: only when no later RUN of the stage, of a stage built on
it, or of an ONBUILD trigger uses apt without its own update (it would find
no lists); a finding names the RUN otherwise (DF208 gives it its own
update, or DF205 merges them). A later RUN that runs a file counts the
same when the file may use apt: a script run by its path (`./install-nginx`,
`/tmp/setup.sh`), by a shell (`bash scripts/x.sh`, `curl ... | sh`) or an
interpreter (`python3 x.py`), a sourced one (`. ./env.sh`), and the makefile
`make` reads. dockfix reads such a file from the build context through the
COPY or ADD that put it in the image (`.dockerignore` respected) and follows
the scripts a shell script or a makefile recipe runs; one that names apt,
or one it cannot read (not copied by this Dockerfile, copied from another
image, read from standard input, no build context), keeps the lists: what
dockfix cannot see may install with them. A program run by its name is
the image's own, unless a COPY or ADD put a file of that name in a PATH
directory (`/usr/local/bin`, ...): then it is read as a script. The removal runs only when everything before
it succeeded (`&&`, or the last line of a `RUN <<EOF` script with `set -e`).
A RUN whose lists live in a cache mount, whose shell ends in a comment, or
that runs in another shell (SHELL) is left alone.
";

fn check(cx: &Context) -> Vec<Finding> {
    let file = cx.file;
    let stages = cx.stages();
    let mut findings = Vec::new();
    for (index, stage) in stages.iter().enumerate() {
        for (position, run) in stage.each(&["run"]) {
            let Some(apt) = AptUse::of(cx, run) else {
                continue;
            };
            if !apt.updates || apt.removes_lists || cached_lists(run) {
                continue;
            }
            let message = "apt-get update leaves the package lists in the image".to_string();
            let later = later_lists_use(cx, index, position);
            if later.is_none() && only_updates(file, run) {
                findings.push(Finding {
                    rule: &RULE,
                    range: run.keyword_range(),
                    message: format!(
                        "{message}; nothing after it uses them, and without them the RUN changes nothing: remove it"
                    ),
                    fix: Some(Fix::new(
                        Applicability::Safe,
                        vec![moves::take(file, run, run, &moves::line_ending(file, run)).delete],
                    )),
                });
                continue;
            }
            let finding = match (
                later,
                append_command(file, run, &format!("rm -rf {LISTS}/*")),
            ) {
                (Some(why), _) | (None, Err(why)) => Finding {
                    rule: &RULE,
                    range: run.keyword_range(),
                    message: format!("{message}; not fixed: {why}"),
                    fix: None,
                },
                (None, Ok(edit)) => Finding {
                    rule: &RULE,
                    range: run.keyword_range(),
                    message: format!("{message}; remove them in the same RUN"),
                    fix: Some(Fix::new(Applicability::Safe, vec![edit])),
                },
            };
            findings.push(finding);
        }
    }
    findings
}

/// A plain RUN of plain `apt-get update`s (quiet options at most), and
/// nothing else.
fn only_updates(file: &Dockerfile, run: &Instruction) -> bool {
    let command = &run.command;
    if command.name != "run"
        || command.json
        || !command.flags.is_empty()
        || !run.heredocs.is_empty()
    {
        return false;
    }
    let Some(script) = shell::parse(file, run) else {
        return false;
    };
    let quiet = ["-q", "-qq", "-y", "--yes", "--quiet"];
    !script.has_error()
        && script.is_chain(&["&&", ";"])
        && script.redirects().is_empty()
        && script.commands().iter().all(|c| {
            let plain = c.name.as_ref().is_some_and(|n| n.start == c.range.start);
            let words = c.literal_words(&file.source).unwrap_or_default();
            let (options, rest): (Vec<&String>, Vec<&String>) =
                words.iter().partition(|w| w.starts_with('-'));
            plain
                && matches!(rest.as_slice(), [p, u] if matches!(p.as_str(), "apt-get" | "apt") && u.as_str() == "update")
                && options.iter().all(|o| quiet.contains(&o.as_str()))
        })
}
