//! DF203 apk-no-cache: `apk add` without `--no-cache`.

use super::flags::flag_findings;
use crate::facts::commands::{mounts_cache, FlagSpec};
use crate::rules::{Applicability, CacheStyle, Context, Finding, FixSafety, Rule};

pub static RULE: Rule = Rule {
    id: "DF203",
    name: "apk-no-cache",
    summary: "apk add keeps its package index in the image",
    fix_title: "Add `--no-cache` to `apk add`",
    effect: "smaller image: apk's package index no longer stored in the layer",
    fix_safety: FixSafety::Safe,
    cache_style: Some(CacheStyle::Cleanup),
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF203 apk-no-cache

## What it does
Adds `--no-cache` to `apk add`. Equivalent to hadolint's DL3019.

## Why
Without it, the package index `apk` downloads stays in the layer
(`/var/cache/apk`), adding size and staleness to every image built on it.
`--no-cache` fetches the index for this command only and keeps nothing.

## Example
```dockerfile
RUN apk add curl
```
becomes
```dockerfile
RUN apk add --no-cache curl
```

## Fix safety
Safe: the packages installed are the same; only the index cache is not
kept. A separate `apk update` left in place then only costs a download.
";

const APK: FlagSpec = FlagSpec {
    programs: &[&["apk"]],
    value_options: &[
        "-X",
        "--repository",
        "-p",
        "--root",
        "--arch",
        "--cache-dir",
        "--keys-dir",
        "--repositories-file",
    ],
    subcommands: &["add"],
    present: &["--no-cache"],
    short: &[],
    insert: "--no-cache",
};

fn check(cx: &Context) -> Vec<Finding> {
    flag_findings(cx, &RULE, &APK, Applicability::Safe, |_, command| {
        let mounted = mounts_cache(cx.file, command, &["/var/cache/apk", "/etc/apk/cache"]);
        (!mounted).then(|| (RULE.summary.to_string(), vec![]))
    })
}
