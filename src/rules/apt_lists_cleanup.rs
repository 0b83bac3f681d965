//! DF206 apt-lists-cleanup: remove apt's package lists in the RUN that
//! downloaded them.

use super::{moves, Applicability, Context, Finding, Fix, FixSafety, Rule};
use crate::edit::Edit;
use crate::model::{self, Stage};
use crate::syntax::{shell, Dockerfile, Instruction};

pub static RULE: Rule = Rule {
    id: "DF206",
    name: "apt-lists-cleanup",
    summary: "apt's package lists stay in the image",
    fix_safety: FixSafety::Safe,
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

## Example
```dockerfile
RUN apt-get update && apt-get install -y --no-install-recommends curl
```
becomes
```dockerfile
RUN apt-get update && apt-get install -y --no-install-recommends curl \\
    && rm -rf /var/lib/apt/lists/*
```

## Fix safety
Safe where applied: only when no later RUN of the stage, of a stage built on
it, or of an ONBUILD trigger uses apt without its own update (it would find
no lists); a finding names the RUN otherwise (merge them first, DF205). A
RUN whose lists live in a cache mount, or whose shell ends in a comment, is
left alone.
";

const LISTS: &str = "/var/lib/apt/lists";

fn check(cx: &Context) -> Vec<Finding> {
    let file = cx.file;
    let stages = model::stages(file);
    let mut findings = Vec::new();
    for (index, stage) in stages.iter().enumerate() {
        for (position, run) in stage.body.iter().enumerate() {
            let Some(apt) = AptUse::of(file, run) else {
                continue;
            };
            if !apt.updates || apt.removes_lists || cached_lists(run) {
                continue;
            }
            let message = "apt-get update leaves the package lists in the image".to_string();
            let later = later_runs(&stages, index, position)
                .find(|r| AptUse::of(file, r).is_some_and(|u| u.needs_lists));
            let finding = match (later, append(file, run)) {
                (Some(user), _) => Finding {
                    rule: &RULE,
                    range: run.keyword_range(),
                    message: format!("{message}; not fixed: line {} installs with these lists (merge the RUNs first)", user.start_line),
                    fix: None,
                },
                (None, Err(why)) => Finding {
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

/// What a RUN does with apt.
struct AptUse {
    updates: bool,
    removes_lists: bool,
    /// Installs (or reads the lists) before any update of its own.
    needs_lists: bool,
}

impl AptUse {
    fn of(file: &Dockerfile, run: &Instruction) -> Option<AptUse> {
        let command = run.command.sub.as_deref().unwrap_or(&run.command);
        if command.name != "run" {
            return None;
        }
        if !run.mentions(&file.source, &["apt"]) {
            return None;
        }
        let script = shell::parse(file, run)?;
        let mut found = AptUse {
            updates: false,
            removes_lists: false,
            needs_lists: false,
        };
        let mut any = false;
        for c in script.commands() {
            let words: Vec<String> = c
                .name
                .iter()
                .chain(&c.args)
                .map(|r| String::from_utf8_lossy(&file.source[r.clone()]).into_owned())
                .collect();
            let Some(name) = words.first() else { continue };
            let sub = words[1..]
                .iter()
                .find(|w| !w.starts_with('-'))
                .map(String::as_str);
            match name.as_str() {
                "apt-get" | "apt" | "aptitude" => {
                    any = true;
                    match sub {
                        Some("update") => found.updates = true,
                        Some(
                            "install" | "upgrade" | "dist-upgrade" | "full-upgrade" | "source"
                            | "download" | "build-dep" | "reinstall",
                        ) if !found.updates => found.needs_lists = true,
                        _ => {}
                    }
                }
                "apt-cache" if !found.updates => {
                    any = true;
                    found.needs_lists = true;
                }
                "rm" if words.iter().any(|w| w.starts_with(LISTS)) => found.removes_lists = true,
                _ => {}
            }
        }
        any.then_some(found)
    }
}

/// A cache mount holds the lists, not the layer.
fn cached_lists(run: &Instruction) -> bool {
    run.command
        .flags
        .iter()
        .any(|f| f.name() == "mount" && f.text.contains("/var/lib/apt"))
}

/// The RUNs after `position` in the stage, in stages built on it, and in
/// ONBUILD triggers anywhere.
fn later_runs<'s, 'f>(
    stages: &'s [Stage<'f>],
    index: usize,
    position: usize,
) -> impl Iterator<Item = &'f Instruction> + 's {
    let own = stages[index].body[position + 1..].iter().copied();
    let descendants = stages
        .iter()
        .enumerate()
        .filter(move |(i, _)| {
            *i != index && model::lineage(stages, *i).any(|s| std::ptr::eq(s, &stages[index]))
        })
        .flat_map(|(_, s)| s.body.iter().copied());
    let triggers = stages
        .iter()
        .flat_map(|s| s.body.iter().copied())
        .filter(|i| i.command.sub.is_some());
    own.chain(descendants).chain(triggers)
}

/// The edit that appends the removal, in the RUN's style.
fn append(file: &Dockerfile, run: &Instruction) -> Result<Edit, String> {
    if run.command.json {
        return Err("the RUN is in exec form".into());
    }
    let script = shell::parse(file, run).ok_or("dockfix cannot read the RUN's shell")?;
    if script.has_comment() || script.has_error() {
        return Err("its shell ends in a comment or cannot be read".into());
    }
    let eol = moves::line_ending(file, run);
    let removal = format!("rm -rf {LISTS}/*");
    if let Some(heredoc) = run.heredocs.last() {
        // Only `RUN <<EOF` runs its body as the script; other heredocs are
        // data (`cat > file <<EOF`).
        let args = run.text(run.command.args.clone());
        let script_only = run.heredocs.len() == 1
            && args.starts_with(b"<<")
            && !args.iter().any(u8::is_ascii_whitespace);
        if !script_only {
            return Err("the RUN feeds a heredoc to a command".into());
        }
        return Ok(Edit::insert(
            heredoc.terminator.start,
            format!("{removal}{eol}"),
        ));
    }
    let end = run.args_range().end;
    let continued = run
        .lines
        .iter()
        .filter(|l| matches!(l.kind, crate::syntax::LineKind::Code { .. }))
        .count()
        > 1;
    let text = if continued {
        match moves::continuation_style(file, run) {
            (indent, true) => format!(" \\{eol}{indent}&& {removal}"),
            (indent, false) => format!(" && \\{eol}{indent}{removal}"),
        }
    } else {
        format!(" && {removal}")
    };
    Ok(Edit::insert(end, text))
}
