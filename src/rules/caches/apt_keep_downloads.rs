//! DF302 apt-keep-downloads: Docker's recipe that lets apt keep what it
//! downloads in a cache mount.

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
Runs with `--cache-style mounts`, after DF301 added the mount.

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
FROM it would keep apt's downloads.
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
    let mut findings = Vec::new();
    for (index, stage) in stages.iter().enumerate() {
        let Some(position) = stage.body.iter().position(|i| mounts_archives(i)) else {
            continue;
        };
        // Once per lineage: an ancestor that mounts apt's cache gets it.
        let ancestor_mounts = model::lineage(stages, index)
            .skip(1)
            .any(|s| s.body.iter().any(|i| mounts_archives(i)));
        let run = stage.body[position];
        let has_recipe = ancestor_mounts
            || model::earlier(stages, index, position)
                .any(|i| i.mentions(&file.source, &["docker-clean"]));
        if has_recipe {
            continue;
        }
        let unmounted = model::later_runs(stages, index, position).find(|r| {
            crate::syntax::names_program(&file.source[r.span()], &["apt-get", "apt", "aptitude"])
                && !mounts_archives(r)
        });
        let shipped = model::lineage(stages, last).any(|s| std::ptr::eq(s, stage));
        let mut message = RULE.summary.to_string();
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
                let keyword = String::from_utf8_lossy(&file.source[run.keyword_range()]);
                let text = format!("{} {RECIPE}{eol}", keyword_like(&keyword, "RUN"));
                let applicability = if shipped {
                    message += "; unsafe: the image ships without docker-clean, so images built FROM it keep apt's downloads";
                    Applicability::Unsafe
                } else {
                    Applicability::Safe
                };
                Some(Fix::new(
                    applicability,
                    vec![Edit::insert(before(file, run), text)],
                ))
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

/// Whether a RUN mounts a cache on apt's downloads.
fn mounts_archives(instruction: &Instruction) -> bool {
    instruction.command.name == "run"
        && mounts(instruction)
            .iter()
            .any(|m| m.kind == "cache" && m.target.trim_end_matches('/') == ARCHIVES)
}
