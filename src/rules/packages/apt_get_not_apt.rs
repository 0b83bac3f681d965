//! DF202 apt-get-not-apt: `apt` in a Dockerfile becomes `apt-get`.

use crate::edit::Edit;
use crate::rules::{Applicability, Context, Finding, Fix, FixSafety, Rule};

pub static RULE: Rule = Rule {
    id: "DF202",
    name: "apt-get-not-apt",
    summary: "apt is for terminals; scripts use apt-get",
    fix_title: "Use `apt-get` instead of `apt`",
    effect: "apt-get's stable interface in place of apt's, which warns that its interface may change in scripts",
    fix_safety: FixSafety::Safe,
    cache_style: None,
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF202 apt-get-not-apt

## What it does
Replaces `apt` with `apt-get` in `apt install`, `apt update`, `apt remove`,
`apt purge`, `apt autoremove` and `apt dist-upgrade`, and `apt
full-upgrade` with `apt-get dist-upgrade`, its name there. Equivalent to
hadolint's DL3027.

## Why
`apt` is the interactive front end: its command-line interface is not
stable (it warns so when used in a script), and its progress output clutters
build logs. `apt-get` is the same operation with a stable interface.

## Example
```dockerfile
RUN apt update && apt install -y curl
```
becomes
```dockerfile
RUN apt-get update && apt-get install -y curl
```

## Fix safety
Safe for the subcommands above, which `apt-get` performs the same way.
`apt upgrade` is left alone: it also installs new dependencies, which
`apt-get upgrade` does not.
";

const SAME: &[&str] = &[
    "install",
    "update",
    "remove",
    "purge",
    "autoremove",
    "dist-upgrade",
    "reinstall",
];

fn check(cx: &Context) -> Vec<Finding> {
    cx.run_commands()
        .iter()
        .filter(|c| c.word(0) == Some("apt"))
        .filter_map(|c| {
            let sub =
                (1..c.words.len()).find(|&i| !c.word(i).is_some_and(|w| w.starts_with('-')))?;
            let mut edits = vec![Edit::replace(c.words[0].1.clone(), "apt-get")];
            match c.word(sub)? {
                w if SAME.contains(&w) => {}
                // apt's name for what apt-get calls dist-upgrade.
                "full-upgrade" => edits.push(Edit::replace(c.words[sub].1.clone(), "dist-upgrade")),
                _ => return None,
            }
            Some(Finding {
                rule: &RULE,
                range: c.words[0].1.clone(),
                message: RULE.summary.to_string(),
                fix: Some(Fix::new(Applicability::Safe, edits)),
            })
        })
        .collect()
}
