//! DF208 apt-update-with-install: a RUN that installs with package lists an
//! earlier RUN downloaded runs `apt-get update` itself.

use tree_sitter::Node;

use super::package_merge_runs;
use crate::edit::Edit;
use crate::facts::apt::AptUse;
use crate::model;
use crate::rules::{Applicability, Context, Finding, Fix, FixSafety, Rule};
use crate::syntax::shell::{self, Kind, Script};
use crate::syntax::Instruction;

pub static RULE: Rule = Rule {
    id: "DF208",
    name: "apt-update-with-install",
    summary: "apt installs with package lists an earlier RUN downloaded",
    fix_title: "Run `apt-get update` in the RUN that installs",
    effect: "the install always reads package lists downloaded in its own layer, never a stale cached `apt-get update`",
    fix_safety: FixSafety::Safe,
    cache_style: None,
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF208 apt-update-with-install

## What it does
Inserts `apt-get update && ` before the first apt command of a RUN that
installs (or reads the lists with `apt-cache`) without updating first, when
an earlier RUN of its stage, or of a stage it builds on, ran `apt-get
update`. A RUN that DF205 joins to the one before it is judged once joined.

## Why
The earlier RUN is cached as a layer: once its lists are weeks old, a
rebuild of the later RUN asks the mirror for package versions it no longer
has and fails. With its own update each RUN installs from fresh lists, and
the earlier RUN's lists can then be removed where they were made (DF206),
which keeps tens of megabytes out of the image.

## Example
```dockerfile
RUN apt-get update && apt-get install -y curl
COPY . /src
RUN apt-get install -y make
```
becomes
```dockerfile
RUN apt-get update && apt-get install -y curl
COPY . /src
RUN apt-get update && apt-get install -y make
```

## Fix safety
Safe: a fresh build runs the same plain update right before, so it
installs what it would have; only the extra download of the lists costs
time. Applied only where the inserted `&&` cannot change what runs: at the start of the
script, of a line, or after `;` or `&&`, never next to `||`, inside a
condition, or in a background job. An install fed answers through a pipe
(`yes | apt-get install ...`, also `echo` and `printf`) gets the update
before the pipeline. Reported, not fixed: a RUN with a
`--network` flag (which may have no network for the update), a RUN under a
USER other than root (update needs root), sources changed between the two
(`/etc/apt/`, `apt-key`: the update would install from them), an earlier
update with options (`-o Acquire::Check-Valid-Until=false` for an archive)
or variables a plain update would lack, and an install with variables
(`http_proxy=...`).
";

/// What the instructions before a point tell about apt, in one walk: the
/// last RUN that updated the lists, whether the package sources changed
/// since, and the last USER.
#[derive(Clone, Copy, Default)]
struct Before<'f> {
    updater: Option<&'f Instruction>,
    sources_changed: bool,
    user: Option<&'f Instruction>,
}

fn changes_sources(text: &[u8]) -> bool {
    // Tools that add a key or a source, then paths of the sources.
    const NAMES: [&str; 4] = ["apt-key", "add-apt-repository", "/etc/apt/", "sources.list"];
    let (tools, paths) = NAMES.split_at(2);
    // Most instructions name none of them: one pass says so.
    crate::syntax::contains_any(text, &NAMES)
        && (crate::syntax::names_program(text, tools) || crate::syntax::contains_any(text, paths))
}

fn check(cx: &Context) -> Vec<Finding> {
    let file = cx.file;
    let stages = cx.stages();
    let mut findings = Vec::new();
    // Each stage starts from where the stage it builds on ended.
    let mut ends: Vec<Before> = Vec::with_capacity(stages.len());
    for stage in stages {
        let mut before = stage.parent.map(|p| ends[p]).unwrap_or_default();
        // Until an update, only a RUN or a USER changes anything: the
        // instructions between are skipped unread.
        let mut marks = stage.each(&["run", "user"]).map(|(at, _)| at).peekable();
        let mut next = 0;
        while next < stage.body.len() {
            if before.updater.is_none() {
                while marks.next_if(|&at| at < next).is_some() {}
                let Some(&mark) = marks.peek() else {
                    break;
                };
                next = mark;
            }
            let position = next;
            next += 1;
            let instruction = stage.body[position];
            let apt = AptUse::of(cx, instruction);
            if instruction.command.sub.is_none() {
                if let Some(finding) = finding(cx, stage, position, apt.as_ref(), &before) {
                    findings.push(finding);
                }
            }
            let updates = instruction.command.name == "run"
                && instruction.command.sub.is_none()
                && apt.as_ref().is_some_and(|u| u.updates);
            if updates {
                before.updater = Some(instruction);
                before.sources_changed = false;
            } else if before.updater.is_some() {
                // Without an earlier update there is nothing to find, and
                // the next update starts afresh: no need to read the text.
                before.sources_changed |= changes_sources(&file.source[instruction.span()]);
            }
            if instruction.command.name == "user" {
                before.user = Some(instruction);
            }
        }
        ends.push(before);
    }
    findings
}

/// The finding for the RUN at `position` of `stage`, given what came
/// before it. An ONBUILD trigger's lists come from the image built on it,
/// so the caller skips those.
fn finding(
    cx: &Context,
    stage: &model::Stage,
    position: usize,
    apt: Option<&AptUse>,
    before: &Before,
) -> Option<Finding> {
    let file = cx.file;
    let run = stage.body[position];
    let command = apt.filter(|u| u.readable)?.needs_lists.clone()?;
    let updater = before.updater?;
    // DF205 joins it to the RUN before first; the joined RUN is judged
    // again then.
    if position > 0 && package_merge_runs::mergeable(file, stage.body[position - 1], run) {
        return None;
    }
    let message = format!(
        "installs with the package lists line {} downloaded",
        updater.start_line
    );
    let script = shell::parse(file, run).expect("AptUse parsed it");
    let prefixed = !file.source[command.start..].starts_with(b"apt");
    // `yes | apt install ...`: the update goes before the pipeline.
    let at = feeders_start(script, &file.source, command.start);
    let sources_changed =
        before.sources_changed || changes_sources(&file.source[run.span().start..command.start]);
    let root = before
        .user
        .and_then(|u| u.command.values.first())
        .is_none_or(|u| ["root", "0"].contains(&u.split(':').next().unwrap_or(u)));
    let why_not = if run.command.flags.iter().any(|f| f.name() == "network") {
        Some("the RUN sets --network")
    } else if !root {
        Some("the RUN runs as a user who cannot run apt-get update")
    } else if sources_changed {
        Some("the package sources change after the earlier update")
    } else if !AptUse::of(cx, updater).is_some_and(|u| u.plain_updates) {
        Some("the earlier update has options a plain update would lack")
    } else if prefixed {
        Some("the install sets variables a plain update would lack")
    } else if script.has_error() || !at_statement_start(script, at) {
        Some("apt is not the first command of a statement")
    } else {
        None
    };
    Some(match why_not {
        Some(why) => Finding {
            rule: &RULE,
            range: command,
            message: format!("{message}; not fixed: {why}"),
            fix: None,
        },
        None => Finding {
            rule: &RULE,
            range: command.clone(),
            message: format!("{message}; run apt-get update in this RUN"),
            fix: Some(Fix::new(
                Applicability::Safe,
                vec![Edit::insert(at, "apt-get update && ")],
            )),
        },
    })
}

/// Whether `X && ` can go before the command starting at `start` without
/// changing when anything else runs.
fn at_statement_start(script: &Script, start: usize) -> bool {
    let offset = start - script.base;
    let Some(mut node) = script
        .root()
        .descendant_for_byte_range(offset, offset)
        .and_then(|n| enclosing_command(n))
    else {
        return false;
    };
    loop {
        let Some(parent) = node.parent() else {
            return false;
        };
        let first_child = node.prev_sibling().is_none();
        match parent.kind_name() {
            // `cmd | tee log` and `cmd > log`: the prefix takes the whole.
            "pipeline" | "redirected_statement" if first_child => node = parent,
            // `a && cmd`; `cmd && b` when the list itself is in place. Not
            // `cmd || b`: b would run when the update fails.
            "list" => match node.prev_sibling() {
                None if node.next_sibling().is_some_and(|op| op.kind_name() == "||") => {
                    return false
                }
                None => node = parent,
                Some(op) => return op.kind_name() == "&&",
            },
            "program" => return node.next_sibling().is_none_or(|n| n.kind_name() != "&"),
            _ => return false,
        }
    }
}

/// Where the pipeline that feeds the command at `start` begins, when only
/// commands that print (`yes`, `echo`, `printf`) come before it in the
/// pipeline; else `start`.
fn feeders_start(script: &Script, source: &[u8], start: usize) -> usize {
    let offset = start - script.base;
    let Some(command) = script
        .root()
        .descendant_for_byte_range(offset, offset)
        .and_then(|n| enclosing_command(n))
    else {
        return start;
    };
    let Some(pipeline) = command.parent().filter(|p| p.kind_name() == "pipeline") else {
        return start;
    };
    let mut cursor = pipeline.walk();
    let feeders: Vec<Node<'_>> = pipeline
        .named_children(&mut cursor)
        .take_while(|n| n.id() != command.id())
        .collect();
    let prints = |node: &Node<'_>| {
        node.kind_name() == "command"
            && script
                .commands()
                .iter()
                .find(|c| c.range == script.file_range(*node))
                .and_then(|c| c.name.clone())
                .and_then(|name| shell::unquoted(source, name))
                .is_some_and(|name| matches!(name.as_str(), "yes" | "echo" | "printf"))
    };
    if feeders.is_empty() || !feeders.iter().all(prints) {
        return start;
    }
    script.file_range(pipeline).start
}

fn enclosing_command(mut node: Node<'_>) -> Option<Node<'_>> {
    while node.kind_name() != "command" {
        node = node.parent()?;
    }
    Some(node)
}
