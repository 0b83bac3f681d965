//! DF210 rpm-assume-yes: dnf, yum, microdnf and zypper change packages
//! without being told to answer their questions.

use super::flags::{flag_findings, flag_findings_at, unsafe_where_failure_ignored, Place};
use crate::facts::commands::{
    subcommand, FlagSpec, RunCommand, DNF_VALUE_OPTIONS, ZYPPER_VALUE_OPTIONS,
};
use crate::rules::{Applicability, Context, Finding, FixSafety, Rule};

pub static RULE: Rule = Rule {
    id: "DF210",
    name: "rpm-assume-yes",
    summary: "dnf, yum or zypper changes packages without -y or -n",
    fix_title: "Add `-y` to dnf and yum commands that change packages, `-n` to zypper's",
    effect: "the install no longer waits on a prompt that fails the build",
    fix_safety: FixSafety::Sometimes,
    cache_style: None,
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF210 rpm-assume-yes

## What it does
Adds `-y` to `dnf`, `dnf5`, `yum` and `microdnf` commands that install,
upgrade or remove packages (`install`, `update`, `remove`, `reinstall`,
`downgrade`, `distro-sync`, `swap`, `groupinstall`, `group install`,
`module enable`, `builddep`, ...) without `-y`, `--assumeyes`, a cluster such
as `-qy`, or `--assumeno`. Adds zypper's global `-n` (`--non-interactive`)
to `zypper` commands that do so (`install`/`in`, `update`/`up`,
`remove`/`rm`, `patch`, `dist-upgrade`/`dup`, `source-install`/`si`)
without `-n` or `--non-interactive` before the subcommand, or `-y` or
`--no-confirm` after it. Equivalent to hadolint's DL3030 (yum), DL3038 (dnf,
microdnf) and DL3034 (zypper).

For zypper, `-n` goes right after `zypper`, before the subcommand: it is a
global option there, the one zypper's own messages point to, valid for every
subcommand and every zypper version. The subcommand option `-y` is only an
alias of it, and not every subcommand has it (`source-install` does not);
after `install`, `-n` means `--name`.

## Why
A build has no terminal to answer the confirmation prompt: dnf and yum
answer \"no\" and abort (\"Operation aborted\"), zypper fails on its
unreadable input, so the Dockerfile builds only by luck (when nothing needs
confirming). microdnf asks too since version 3.8 (UBI 9); older ones
accept `-y` and do not ask.

## Example
```dockerfile
RUN dnf install httpd && zypper install curl
```
becomes
```dockerfile
RUN dnf install -y httpd && zypper -n install curl
```

## Fix safety
Safe where the RUN fails when the command fails: where it succeeds it
asked nothing, and the flag only answers questions. Unsafe where the RUN
goes on after a failure (`|| true`, a pipe, `;` without `set -e`): there a
command that aborted at its question left the image unchanged.
";

/// What dnf, yum and microdnf do that asks before doing it.
const DNF: FlagSpec = FlagSpec {
    programs: &[&["dnf"], &["dnf5"], &["yum"], &["microdnf"]],
    value_options: DNF_VALUE_OPTIONS,
    subcommands: &[
        "install",
        "in",
        "localinstall",
        "reinstall",
        "downgrade",
        "update",
        "upgrade",
        "up",
        "update-minimal",
        "upgrade-minimal",
        "distro-sync",
        "distrosync",
        "dsync",
        "remove",
        "erase",
        "rm",
        "autoremove",
        "swap",
        "builddep",
        "groupinstall",
        "groupupdate",
        "groupupgrade",
        "groupremove",
        "group install",
        "group update",
        "group upgrade",
        "group remove",
        "groups install",
        "groups update",
        "groups upgrade",
        "groups remove",
        "module install",
        "module enable",
        "module disable",
        "module reset",
        "module remove",
        "copr enable",
    ],
    present: &["--assumeyes", "--assumeno"],
    short: &[('y', 1)],
    insert: "-y",
};

/// What zypper does that asks before doing it. `-n` before the subcommand
/// is checked apart: after it, `-n` is another option.
const ZYPPER: FlagSpec = FlagSpec {
    programs: &[&["zypper"]],
    value_options: ZYPPER_VALUE_OPTIONS,
    subcommands: &[
        "install",
        "in",
        "update",
        "up",
        "remove",
        "rm",
        "patch",
        "dist-upgrade",
        "dup",
        "source-install",
        "si",
    ],
    present: &["--non-interactive", "--no-confirm"],
    short: &[('y', 1)],
    insert: "-n",
};

fn check(cx: &Context) -> Vec<Finding> {
    let mut findings = flag_findings(cx, &RULE, &DNF, Applicability::Safe, |_, command| {
        // `--setopt=assumeyes=True` says the same.
        let configured = command
            .words
            .iter()
            .filter_map(|(w, _)| w.as_deref())
            .any(|w| w.contains("assumeyes") || w.contains("assumeno"));
        let program = command.word(0)?;
        let message = format!("{program} without -y aborts at its first question");
        (!configured).then(|| (message, vec![]))
    });
    findings.extend(flag_findings_at(
        cx,
        &RULE,
        &ZYPPER,
        Place::Program,
        Applicability::Safe,
        |_, command| {
            (!zypper_global_n(command)).then(|| {
                (
                    "zypper without -n aborts at its first question".to_string(),
                    vec![],
                )
            })
        },
    ));
    unsafe_where_failure_ignored(cx.file, &mut findings);
    findings.sort_by_key(|f| f.range.start);
    findings
}

/// Whether `-n` (alone or in a cluster such as `-qn`) comes before zypper's
/// subcommand, where it is the global `--non-interactive`.
fn zypper_global_n(command: &RunCommand) -> bool {
    let Some(sub) = subcommand(command, &ZYPPER) else {
        return false;
    };
    command.words[1..sub]
        .iter()
        .filter_map(|(w, _)| w.as_deref())
        .filter_map(|w| w.strip_prefix('-'))
        .any(|cluster| {
            !cluster.starts_with('-')
                && cluster.chars().all(|c| c.is_ascii_alphabetic())
                && cluster.contains('n')
        })
}

#[cfg(test)]
mod tests {
    use crate::rules::{Context, Finding};
    use crate::syntax::parse;

    fn findings(src: &str) -> Vec<Finding> {
        let file = parse(src.as_bytes()).unwrap();
        let cx = Context::new(&file, None, false);
        (super::RULE.check)(&cx)
    }

    #[test]
    fn zypper_n_counts_only_before_the_subcommand() {
        assert!(findings("FROM a\nRUN zypper -n in curl\n").is_empty());
        assert!(findings("FROM a\nRUN zypper -qn in curl\n").is_empty());
        assert!(findings("FROM a\nRUN zypper --root /r -n in curl\n").is_empty());
        // After the subcommand, `-n` is `--name`.
        assert_eq!(findings("FROM a\nRUN zypper in -n curl\n").len(), 1);
        assert!(findings("FROM a\nRUN zypper in -y curl\n").is_empty());
    }

    #[test]
    fn two_word_subcommands() {
        assert_eq!(findings("FROM a\nRUN dnf group install Tools\n").len(), 1);
        assert_eq!(
            findings("FROM a\nRUN dnf module enable nodejs:20\n").len(),
            1
        );
        assert!(findings("FROM a\nRUN dnf group list\n").is_empty());
        assert!(findings("FROM a\nRUN dnf module list\n").is_empty());
    }
}
