//! DF209 apk-redundant-cache: `apk update` and `rm /var/cache/apk` in a RUN
//! whose installs all use `--no-cache`.

use crate::facts::scripts;
use crate::fix::remove;
use crate::model;
use crate::rules::{Applicability, CacheStyle, Context, Finding, Fix, FixSafety, Rule};
use crate::syntax::shell::{self, SimpleCommand};
use crate::syntax::{Dockerfile, Instruction};

pub static RULE: Rule = Rule {
    id: "DF209",
    name: "apk-redundant-cache",
    summary: "apk update or removal of apk's cache that --no-cache makes redundant",
    fix_title: "Remove the `apk update` and cache removal that `--no-cache` makes redundant",
    effect: "no index download or cache removal that `--no-cache` already makes unnecessary",
    fix_safety: FixSafety::Safe,
    cache_style: Some(CacheStyle::Cleanup),
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF209 apk-redundant-cache

## What it does
In a RUN whose `apk` commands all use `--no-cache` (DF203 adds it), removes
`apk update` and the removal of `/var/cache/apk` (the whole `rm` when that
is all it removes, else just that path).

## Why
`apk add --no-cache` fetches a fresh index for itself and keeps none, so an
`apk update` before it downloads an index nothing reads, and an `rm -rf
/var/cache/apk/*` after it removes nothing. Both only cost time and hide
what the RUN does.

## Example
```dockerfile
RUN apk update \\
    && apk add --no-cache g++ \\
    && rm -rf /var/cache/apk/*
```
becomes
```dockerfile
RUN apk add --no-cache g++
```

## Fix safety
Safe where applied: only in a RUN whose commands form a plain list (`&&`,
`;` or one per line, no `||`, pipes, conditions or shell comments), where
every other apk command is `add` or `upgrade` with `--no-cache` (or `del`),
and no later RUN of the stage, of a stage built on it, or of an ONBUILD
trigger runs apk without `--no-cache` (it would read the index `apk update`
left; a RUN dockfix cannot read counts as one, and so does one that runs a
file naming apk or one dockfix cannot read from the build context, see
DF206), nor while the RUN itself runs such a file. The `rm` stays when an
earlier RUN may have left an index for it to remove, and when it is the
last command after `;` or a line end (its status was the RUN's). Comment
lines inside the continuation are never removed: a RUN with one in the way
is reported.
";

const CACHE: &str = "/var/cache/apk";

/// `/var/cache/apk` or a path below it (not `/var/cache/apk-old`).
fn in_cache(path: &str) -> bool {
    path.strip_prefix(CACHE)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn check(cx: &Context) -> Vec<Finding> {
    let file = cx.file;
    let stages = cx.stages();
    let mut findings = Vec::new();
    for (index, stage) in stages.iter().enumerate() {
        for (position, run) in stage.each(&["run"]) {
            let Some(apk) = ApkUse::of(file, run) else {
                continue;
            };
            let mut apk = apk;
            // An index an earlier RUN left is what the `rm` removes.
            let earlier_index = model::earlier_runs(stages, index, position)
                .filter_map(|r| ApkUse::of(file, r))
                .any(|u| !u.all_no_cache || !u.redundant.is_empty());
            if earlier_index {
                apk.redundant.retain(|c| !remove::is_rm(file, c));
            }
            if apk.redundant.is_empty() || !apk.all_no_cache {
                continue;
            }
            // A file the RUN itself runs may read the index `apk update`
            // leaves, as may a later RUN.
            let reader = scripts::run_use(cx, run, &["apk"])
                .map(|why| format!("the RUN runs {why}"))
                .or_else(|| {
                    model::later_runs(stages, index, position)
                        .any(|r| ApkUse::of(file, r).is_some_and(|u| !u.all_no_cache))
                        .then(|| "a later RUN runs apk without --no-cache".to_string())
                })
                .or_else(|| scripts::later_use(cx, index, position, &["apk"]));
            let script = shell::parse(file, run).expect("ApkUse parsed it");
            let edits = match reader {
                Some(why) => Err(why),
                None => remove::commands(file, run, script, &apk.redundant, &in_cache),
            };
            let range = apk.redundant[0].range.clone();
            findings.push(match edits {
                Ok(edits) => Finding {
                    rule: &RULE,
                    range,
                    message: RULE.summary.to_string(),
                    fix: Some(Fix::new(Applicability::Safe, edits)),
                },
                Err(why) => Finding {
                    rule: &RULE,
                    range,
                    message: format!("{}; not fixed: {why}", RULE.summary),
                    fix: None,
                },
            });
        }
    }
    findings
}

/// What a RUN does with apk.
struct ApkUse<'s> {
    /// Every apk command other than `update` uses `--no-cache`.
    all_no_cache: bool,
    /// `apk update` and `rm` of the cache.
    redundant: Vec<&'s SimpleCommand>,
}

impl<'s> ApkUse<'s> {
    fn of(file: &Dockerfile, run: &'s Instruction) -> Option<ApkUse<'s>> {
        let command = run.command.sub.as_deref().unwrap_or(&run.command);
        if command.name != "run" || !run.mentions(&file.source, &["apk"]) {
            return None;
        }
        let mut found = ApkUse {
            all_no_cache: true,
            redundant: Vec::new(),
        };
        // A RUN dockfix cannot read (exec form, a parse error) may read the
        // index.
        let Some(script) = shell::parse(file, run).filter(|s| !s.has_error()) else {
            found.all_no_cache = false;
            return Some(found);
        };
        let mut any = false;
        for c in script.commands() {
            let words: Vec<Option<String>> = c
                .name
                .iter()
                .chain(&c.args)
                .map(|r| shell::unquoted(&file.source, r.clone()))
                .collect();
            let word = |i: usize| words.get(i).cloned().flatten();
            match word(0).as_deref() {
                Some(name) if name == "apk" || name.ends_with("/apk") => {
                    any = true;
                    let sub = words[1..]
                        .iter()
                        .flatten()
                        .find(|w| !w.starts_with('-'))
                        .map(String::as_str);
                    let no_cache = words.iter().flatten().any(|w| w == "--no-cache");
                    match sub {
                        Some("update") if words.iter().all(Option::is_some) => {
                            found.redundant.push(c)
                        }
                        Some("add" | "upgrade") if no_cache => {}
                        Some("del") => {}
                        _ => found.all_no_cache = false,
                    }
                }
                Some("rm") if words.iter().flatten().any(|w| in_cache(w)) => {
                    found.redundant.push(c)
                }
                // apk through a wrapper (`sudo apk`, `xargs apk add`) may
                // read the index.
                _ if crate::syntax::names_program(&file.source[c.range.clone()], &["apk"]) => {
                    any = true;
                    found.all_no_cache = false;
                }
                _ => {}
            }
        }
        if !any && run.names_program(&file.source, &["apk"]) {
            // Through a wrapper (`sudo`, `xargs`, `sh -c`): it may read the index.
            found.all_no_cache = false;
            return Some(found);
        }
        any.then_some(found)
    }
}
