//! DF302 apt-keep-downloads: Docker's recipe that lets apt keep what it
//! downloads in a cache mount.

use std::collections::HashMap;
use std::ops::Range;

use super::package_cache_mount;
use crate::edit::Edit;
use crate::facts::commands::mounts;
use crate::fix::keyword_like;
use crate::fix::moves::{before, line_ending};
use crate::model;
use crate::rules::{Applicability, CacheStyle, Context, Finding, Fix, FixSafety, Rule};
use crate::syntax::Instruction;

pub static RULE: Rule = Rule {
    id: "DF302",
    name: "apt-keep-downloads",
    summary: "apt deletes its downloads from the cache mount",
    fix_title: "Keep apt's downloads in the cache mount (Docker's recipe)",
    effect: "apt's downloaded packages now kept in the cache mount for the next build",
    fix_safety: FixSafety::Sometimes,
    cache_style: Some(CacheStyle::Mounts),
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF302 apt-keep-downloads

## What it does
Before the first RUN of a stage (and the stages built on it) that mounts a
cache on `/var/cache/apt`, inserts Docker's documented recipe:
```dockerfile
RUN rm -f /etc/apt/apt.conf.d/docker-clean; echo 'Binary::apt::APT::Keep-Downloaded-Packages \"true\";' > /etc/apt/apt.conf.d/keep-cache
```
Runs with `--cache-style mounts`. A mount DF301 adds in the same run
counts: the recipe then goes in together with DF301's fixes (its fix
requires them, so it never lands without the mounts it was judged with),
in one round rather than two.

## Why
Debian's and Ubuntu's images carry `/etc/apt/apt.conf.d/docker-clean`,
which deletes every downloaded package after each install, so a cache
mount on `/var/cache/apt` stays empty and every build downloads again.
`apt` (not `apt-get`) also deletes downloads unless told to keep them.

## Example
```dockerfile
RUN --mount=type=cache,id=apt-cache,target=/var/cache/apt,sharing=locked \\
    apt-get update && apt-get install -y curl
```
gets the recipe in a RUN before it:
```dockerfile
RUN rm -f /etc/apt/apt.conf.d/docker-clean; echo 'Binary::apt::APT::Keep-Downloaded-Packages \"true\";' > /etc/apt/apt.conf.d/keep-cache
RUN --mount=type=cache,id=apt-cache,target=/var/cache/apt,sharing=locked \\
    apt-get update && apt-get install -y curl
```

## Fix safety
The recipe changes the image's apt configuration: an `apt-get install`
without a cache mount, in this image or in one built FROM it, then keeps
its downloads in its layer. So dockfix inserts it only when every later RUN
of the stage, of the stages built on it and of ONBUILD triggers that
installs with apt mounts `/var/cache/apt` (it reports otherwise), and the
fix is safe only in stages the final image does not build on (a builder
stage); in the shipped image's stages it is unsafe, since images built
FROM it would keep apt's downloads. Beside a mount DF301 adds, it is as
safe as the least safe of the DF301 fixes it goes with, and applies only
in a run that applies all of them.
";

/// Where apt keeps what it downloads.
const ARCHIVES: &str = "/var/cache/apt";

/// The recipe, from Docker's documentation of cache mounts.
const RECIPE: &str = "rm -f /etc/apt/apt.conf.d/docker-clean; echo 'Binary::apt::APT::Keep-Downloaded-Packages \"true\";' > /etc/apt/apt.conf.d/keep-cache";

fn check(cx: &Context) -> Vec<Finding> {
    let file = cx.file;
    let stages = cx.stages();
    let Some(last) = stages.len().checked_sub(1) else {
        return Vec::new();
    };
    let planned = planned_mounts(cx);
    let mounted = |i: &Instruction| mounts_archives(i) || planned.contains_key(&i.span().start);
    // Only a RUN mounts (an ONBUILD RUN never does here), and a stage is
    // passed over by keyword, not read instruction by instruction.
    let first_mounted = |s: &model::Stage| {
        s.each(&["run"])
            .find(|&(_, i)| mounted(i))
            .map(|(position, _)| position)
    };
    let mut findings = Vec::new();
    for (index, stage) in stages.iter().enumerate() {
        let Some(position) = first_mounted(stage) else {
            continue;
        };
        // Once per lineage: an ancestor that mounts apt's cache gets it.
        let ancestor_mounts = model::lineage(stages, index)
            .skip(1)
            .any(|s| first_mounted(s).is_some());
        let run = stage.body[position];
        let has_recipe = ancestor_mounts
            || model::earlier(stages, index, position)
                .any(|i| i.mentions(&file.source, &["docker-clean"]));
        if has_recipe {
            continue;
        }
        let apt_runs = model::later_runs(stages, index, position).filter(|r| {
            crate::syntax::names_program(&file.source[r.span()], &["apt-get", "apt", "aptitude"])
        });
        let mut unmounted = None;
        let mut requires: Vec<&Planned> = planned.get(&run.span().start).into_iter().collect();
        for later in apt_runs {
            if mounts_archives(later) {
                continue;
            }
            match planned.get(&later.span().start) {
                Some(planned) => requires.push(planned),
                None => {
                    unmounted = Some(later);
                    break;
                }
            }
        }
        let shipped = model::lineage(stages, last).any(|s| std::ptr::eq(s, stage));
        let mut message = if requires.is_empty() {
            RULE.summary.to_string()
        } else {
            "apt would delete its downloads from the cache mount DF301 adds".to_string()
        };
        let fix = match unmounted {
            Some(other) => {
                message += &format!(
                    "; not fixed: line {} runs apt without a cache mount, and would keep its downloads in its layer",
                    other.start_line
                );
                None
            }
            None => {
                let eol = line_ending(file, run);
                let keyword = crate::syntax::lossy(&file.source[run.keyword_range()]);
                let text = format!("{} {RECIPE}{eol}", keyword_like(&keyword, "RUN"));
                let mut reasons = Vec::new();
                if shipped {
                    reasons.push("the image ships without docker-clean, so images built FROM it keep apt's downloads");
                }
                if requires
                    .iter()
                    .any(|p| p.applicability == Applicability::Unsafe)
                {
                    reasons.push("it goes with DF301's mount, an unsafe fix");
                }
                let applicability = if reasons.is_empty() {
                    Applicability::Safe
                } else {
                    message += &format!("; unsafe: {}", reasons.join("; "));
                    Applicability::Unsafe
                };
                let mut fix = Fix::new(applicability, vec![Edit::insert(before(file, run), text)]);
                fix.requires = requires
                    .iter()
                    .map(|p| (package_cache_mount::RULE.id, p.range.clone()))
                    .collect();
                Some(fix)
            }
        };
        findings.push(Finding {
            rule: &RULE,
            range: run.keyword_range(),
            message,
            fix,
        });
    }
    findings
}

/// A fix of DF301 this run applies that mounts a cache on apt's downloads.
struct Planned {
    /// The range of DF301's finding.
    range: Range<usize>,
    applicability: Applicability,
}

/// DF301's fixes that mount apt's cache, by the offset of their RUN: the
/// recipe goes in the round that adds the mount, and its fix requires
/// theirs, so it never lands without them.
fn planned_mounts(cx: &Context) -> HashMap<usize, Planned> {
    package_cache_mount::planned(cx)
        .iter()
        .filter(|p| p.mounts.iter().any(|t| t.trim_end_matches('/') == ARCHIVES))
        .filter_map(|p| {
            let fix = p.finding.fix.as_ref()?;
            let range = p.finding.range.clone();
            let safe = fix.applicability == Applicability::Safe;
            if !(cx.offered)(package_cache_mount::RULE.id, range.start, safe) {
                return None;
            }
            let run = cx.file.instruction_at(range.start)?;
            let applicability = fix.applicability;
            Some((
                run.span().start,
                Planned {
                    range,
                    applicability,
                },
            ))
        })
        .collect()
}

/// Whether a RUN mounts a cache on apt's downloads.
fn mounts_archives(instruction: &Instruction) -> bool {
    instruction.command.name == "run"
        && mounts(instruction)
            .iter()
            .any(|m| m.kind == "cache" && m.target.trim_end_matches('/') == ARCHIVES)
}

#[cfg(test)]
mod tests {
    use crate::engine::{fix, lint, Settings};
    use crate::rules::{selection, CacheStyle};

    fn settings(select: &[&str]) -> Settings<'static> {
        let select: Vec<String> = select.iter().map(|s| s.to_string()).collect();
        Settings {
            rules: selection(&select, &[], CacheStyle::Mounts, &[]).unwrap(),
            unsafe_fixes: false,
            build_context: None,
            companions: false,
            dockerfile: None,
            pins: None,
            ecosystems: None,
            runtime_images: &crate::config::NO_RUNTIME_IMAGES,
        }
    }

    const BUILDER: &str = "FROM debian:bookworm AS build\nRUN apt-get update && apt-get install -y --no-install-recommends gcc\nRUN apt-get install -y --no-install-recommends make\nFROM scratch\n";

    #[test]
    fn the_recipe_goes_in_with_the_mounts_it_needs() {
        let settings = settings(&["DF301", "DF302"]);
        let findings = lint(
            &crate::syntax::parse(BUILDER.as_bytes()).unwrap(),
            &settings,
        );
        let mounts: Vec<_> = findings
            .iter()
            .filter(|f| f.rule.id == "DF301" && f.fix.is_some())
            .map(|f| ("DF301", f.range.clone()))
            .collect();
        assert_eq!(mounts.len(), 2, "{findings:#?}");
        let recipe = findings.iter().find(|f| f.rule.id == "DF302").unwrap();
        // Both RUNs' mounts: the second installs after the recipe.
        assert_eq!(recipe.fix.as_ref().unwrap().requires, mounts);
        assert!(recipe.message.contains("DF301 adds"), "{}", recipe.message);
        let fixed = fix(BUILDER.as_bytes(), &settings).unwrap();
        let text = String::from_utf8(fixed.file.source).unwrap();
        assert_eq!(text.matches("docker-clean").count(), 1, "{text}");
        assert_eq!(text.matches("target=/var/cache/apt,").count(), 2, "{text}");
        assert_eq!(
            fixed.applied.iter().map(|r| r.id).collect::<Vec<_>>(),
            ["DF301", "DF301", "DF302"]
        );
    }

    #[test]
    fn no_recipe_beside_a_mount_this_run_does_not_add() {
        let silenced = BUILDER.replace(
            "RUN apt-get install",
            "# dockfix: ignore[DF301]\nRUN apt-get install",
        );
        for (source, select) in [
            (BUILDER.to_string(), &["DF302"][..]),
            (silenced, &["DF301", "DF302"][..]),
        ] {
            let settings = settings(select);
            let fixed = fix(source.as_bytes(), &settings).unwrap();
            let text = String::from_utf8(fixed.file.source).unwrap();
            assert!(!text.contains("docker-clean"), "{select:?}: {text}");
            let recipe = fixed.remaining.iter().filter(|f| f.rule.id == "DF302");
            assert!(
                recipe.clone().all(|f| f.fix.is_none()),
                "{select:?}: {:#?}",
                recipe.collect::<Vec<_>>()
            );
        }
    }
}
