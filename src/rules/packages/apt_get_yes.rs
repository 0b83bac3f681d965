//! DF201 apt-get-yes: `apt-get install` without `-y`.

use super::flags::{flag_findings, unsafe_where_failure_ignored};
use crate::facts::commands::{FlagSpec, APT_VALUE_OPTIONS};
use crate::rules::{Applicability, Context, Finding, FixSafety, Rule};

pub static RULE: Rule = Rule {
    id: "DF201",
    name: "apt-get-yes",
    summary: "apt-get changes packages without -y",
    fix_title: "Add `-y` to apt-get commands that change packages",
    effect: "the install no longer waits on a prompt that fails the build",
    fix_safety: FixSafety::Sometimes,
    cache_style: None,
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF201 apt-get-yes

## What it does
Adds `-y` to `apt-get`, `apt` and `aptitude` commands that install, upgrade
or remove packages without it (`-y` alone or in a cluster such as `-fy`,
`--yes`, `--assume-yes`, or `-qq`, which implies it). Simulations (`-s`)
get it too: it changes nothing there, and hadolint's DL3014, which this
rule mirrors, asks for it all the same.

## Why
A build has no terminal to answer apt's confirmation prompt: without `-y`
the command aborts as soon as it has anything to ask, so the Dockerfile
builds only by luck (when nothing needs confirming).

## Example
```dockerfile
RUN apt-get install curl
```
becomes
```dockerfile
RUN apt-get install -y curl
```

## Fix safety
Safe where the RUN fails when the command fails: where it succeeds it
asked nothing, and `-y` only answers questions. Unsafe where the RUN goes
on after a failure (`|| true`, a pipe, `;` without `set -e`): there a
command that aborted at its question left the image unchanged, and with
`-y` it installs or removes packages. A simulation stays safe: it changes
nothing either way.
";

pub const APT: FlagSpec = FlagSpec {
    programs: &[&["apt-get"], &["apt"], &["aptitude"]],
    value_options: APT_VALUE_OPTIONS,
    subcommands: &[
        "install",
        "upgrade",
        "dist-upgrade",
        "full-upgrade",
        "remove",
        "purge",
        "autoremove",
        "reinstall",
    ],
    present: &["--yes", "--assume-yes", "-q=2"],
    short: &[('y', 1), ('q', 2)],
    insert: "-y",
};

fn check(cx: &Context) -> Vec<Finding> {
    let mut findings = flag_findings(cx, &RULE, &APT, Applicability::Safe, |_, command| {
        let program = command.word(0).unwrap_or("apt-get");
        Some((
            format!("{program} without -y aborts at its first question"),
            vec![],
        ))
    });
    unsafe_where_failure_ignored(cx.file, &mut findings);
    findings
}
