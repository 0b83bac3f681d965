//! DF211 rpm-no-weak-deps: install only what the packages require, with
//! dnf, yum, microdnf and zypper.

use super::flags::{flag_findings, needed_recommends};
use crate::edit::Edit;
use crate::facts::commands::{FlagSpec, RunCommand, DNF_VALUE_OPTIONS, ZYPPER_VALUE_OPTIONS};
use crate::rules::{Applicability, Context, Finding, FixSafety, Rule};
use crate::transforms::zypper_recommends_needed;

pub static RULE: Rule = Rule {
    id: "DF211",
    name: "rpm-no-weak-deps",
    summary: "dnf, yum or zypper install also installs every recommended package",
    fix_title: "Install without weak dependencies (`install_weak_deps=False`, `--no-recommends`)",
    effect: "smaller image: weak dependencies no longer installed",
    fix_safety: FixSafety::Unsafe,
    cache_style: None,
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF211 rpm-no-weak-deps

## What it does
Turns off weak dependencies (`Recommends:`, `Supplements:`) for installs:
adds `--setopt=install_weak_deps=False` to `dnf`, `dnf5` and `yum`
installs, `--setopt=install_weak_deps=0` to `microdnf install` (microdnf
takes only `0` or `1` there), and `--no-recommends` to `zypper install`.
An install already saying what it wants (`install_weak_deps=...` in any
spelling, zypper's `--no-recommends` or `--recommends`) is left alone.
Packages known to need something they only get as a recommendation get it
installed with them, from `transforms/recommends.toml`: on openSUSE, curl,
wget and git talk https, and libopenssl only recommends the CA bundle
(`ca-certificates-mozilla`). On Fedora and RHEL the CA bundle is a hard
requirement of openssl-libs, so dnf needs no such table. hadolint has no
equivalent.

yum is included: yum 4 (RHEL and CentOS 8 on) is dnf, and yum 3 (CentOS 7,
whose RPM has no weak dependencies) warns that it does not know the option
and goes on.

## Why
Weak dependencies are what a workstation probably wants along; in an image
they are usually dead weight, often tens of megabytes.

## Example
```dockerfile
RUN dnf install -y httpd && zypper -n install curl
```
becomes
```dockerfile
RUN dnf install --setopt=install_weak_deps=False -y httpd && zypper -n install --no-recommends curl ca-certificates-mozilla
```

## Fix safety
Unsafe (applied with `--unsafe`): a program may rely on something it only
recommends in ways no table lists (a glibc langpack for a locale, a plugin),
and only running the image shows it. A microdnf too old to know `--setopt`
rejects it. Where the image's `dnf.conf` or `zypp.conf` already turns weak
dependencies off, the flag changes nothing.
";

const DNF: FlagSpec = FlagSpec {
    programs: &[&["dnf"], &["dnf5"], &["yum"]],
    value_options: DNF_VALUE_OPTIONS,
    subcommands: &[
        "install",
        "in",
        "localinstall",
        "groupinstall",
        "group install",
        "groups install",
    ],
    present: &[],
    short: &[],
    insert: "--setopt=install_weak_deps=False",
};

const MICRODNF: FlagSpec = FlagSpec {
    programs: &[&["microdnf"]],
    value_options: DNF_VALUE_OPTIONS,
    subcommands: &["install"],
    present: &[],
    short: &[],
    insert: "--setopt=install_weak_deps=0",
};

const ZYPPER: FlagSpec = FlagSpec {
    programs: &[&["zypper"]],
    value_options: ZYPPER_VALUE_OPTIONS,
    subcommands: &["install", "in"],
    present: &["--no-recommends", "--recommends"],
    short: &[],
    insert: "--no-recommends",
};

fn check(cx: &Context) -> Vec<Finding> {
    let mut findings = Vec::new();
    for spec in [&DNF, &MICRODNF] {
        findings.extend(flag_findings(
            cx,
            &RULE,
            spec,
            Applicability::Unsafe,
            |_, command| (!sets_weak_deps(command)).then(|| (message(command), vec![])),
        ));
    }
    findings.extend(flag_findings(
        cx,
        &RULE,
        &ZYPPER,
        Applicability::Unsafe,
        |_, command| {
            let mut message = message(command);
            let mut edits: Vec<Edit> = Vec::new();
            if let Some((extra, edit)) = needed_recommends(command, zypper_recommends_needed()) {
                message += &format!(
                    "; also installs {}, which only a dependency recommends",
                    extra.join(", ")
                );
                edits.push(edit);
            }
            Some((message, edits))
        },
    ));
    findings.sort_by_key(|f| f.range.start);
    findings
}

fn message(command: &RunCommand) -> String {
    let program = command.word(0).unwrap_or("dnf");
    format!("{program} also installs every recommended package (weak dependencies)")
}

/// `--setopt=install_weak_deps=...` (or `--setopt install_weak_deps=...`)
/// already says what the install wants.
fn sets_weak_deps(command: &RunCommand) -> bool {
    command
        .words
        .iter()
        .filter_map(|(w, _)| w.as_deref())
        .any(|w| w.contains("install_weak_deps"))
}
