//! DF203 apk-no-cache: `apk add` without `--no-cache`.

use super::commands::{missing_flag, run_commands, FlagSpec};
use super::{Applicability, Context, Finding, Fix, FixSafety, Rule};
use crate::edit::Edit;
use crate::model;

pub static RULE: Rule = Rule {
    id: "DF203",
    name: "apk-no-cache",
    summary: "apk add keeps its package index in the image",
    fix_safety: FixSafety::Safe,
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
    let stages = model::stages(cx.file);
    let commands = run_commands(cx.file, &stages);
    missing_flag(&commands, &APK)
        .into_iter()
        .map(|(command, at)| Finding {
            rule: &RULE,
            range: command.range.clone(),
            message: RULE.summary.to_string(),
            fix: Some(Fix::new(
                Applicability::Safe,
                vec![Edit::insert(at, format!(" {}", APK.insert))],
            )),
        })
        .collect()
}
