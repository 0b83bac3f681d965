//! DF207 apt-no-install-recommends: install only what the packages need.

use super::flags::{flag_findings, needed_recommends};
use crate::facts::commands::{FlagSpec, APT_VALUE_OPTIONS};
use crate::rules::{Applicability, Context, Finding, FixSafety, Rule};
use crate::transforms::recommends_needed;

pub static RULE: Rule = Rule {
    id: "DF207",
    name: "apt-no-install-recommends",
    summary: "apt-get install also installs every recommended package",
    fix_title: "Add `--no-install-recommends` to `apt-get install`",
    effect: "smaller image: recommended packages no longer installed",
    fix_safety: FixSafety::Unsafe,
    cache_style: None,
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF207 apt-no-install-recommends

## What it does
Adds `--no-install-recommends` to `apt-get install` and `apt install`.
Packages known to need something they only recommend get it installed with
them, from `transforms/recommends.toml`: curl, wget and git talk https and
need `ca-certificates`, which they only recommend. Equivalent to hadolint's
DL3015.

## Why
Recommended packages are what a desktop user probably wants along; in an
image they are usually dead weight, often 50 to 200 MB.

## Example
```dockerfile
RUN apt-get update && apt-get install -y curl
```
becomes
```dockerfile
RUN apt-get update && apt-get install --no-install-recommends -y curl ca-certificates
```

## Fix safety
Unsafe (applied with `--unsafe`): a program may rely on something it only
recommends in ways no table lists, and only running the image shows it. The
e2e harness does exactly that for its fixtures (an https call in the apt
fixture). The table covers the common case; extend it where a program
needs more.
";

const APT: FlagSpec = FlagSpec {
    programs: &[&["apt-get"], &["apt"]],
    value_options: APT_VALUE_OPTIONS,
    subcommands: &["install"],
    present: &["--no-install-recommends", "--without-recommends"],
    short: &[],
    insert: "--no-install-recommends",
};

fn check(cx: &Context) -> Vec<Finding> {
    flag_findings(cx, &RULE, &APT, Applicability::Unsafe, |_, command| {
        // `-o APT::Install-Recommends=false` says the same.
        let mut words = command.words.iter().filter_map(|(w, _)| w.as_deref());
        if words.any(|w| w.contains("Install-Recommends")) {
            return None;
        }
        Some(match needed_recommends(command, recommends_needed()) {
            Some((extra, edit)) => (
                format!(
                    "{}; also installs {}, which it only recommends",
                    RULE.summary,
                    extra.join(", ")
                ),
                vec![edit],
            ),
            None => (RULE.summary.to_string(), vec![]),
        })
    })
}
