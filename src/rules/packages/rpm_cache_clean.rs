//! DF212 rpm-cache-clean: clean dnf's, yum's, microdnf's and zypper's
//! caches in the RUN that filled them.

use super::package_merge_runs::mergeable;
use crate::facts::commands::{
    instruction_commands, mounts, subcommand, FlagSpec, RunCommand, DNF_VALUE_OPTIONS,
    ZYPPER_VALUE_OPTIONS,
};
use crate::facts::scripts;
use crate::fix::append::append_command;
use crate::model::{self, Stage};
use crate::rules::{Applicability, CacheStyle, Context, Finding, Fix, FixSafety, Rule};
use crate::syntax::Instruction;
use crate::transforms::package_managers;

pub static RULE: Rule = Rule {
    id: "DF212",
    name: "rpm-cache-clean",
    summary: "dnf, yum or zypper leaves its cache in the image",
    fix_title: "Clean dnf's, yum's or zypper's cache at the end of the RUN",
    effect: "smaller image: the package manager's cache removed in the layer that filled it",
    fix_safety: FixSafety::Safe,
    cache_style: Some(CacheStyle::Cleanup),
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF212 rpm-cache-clean

## What it does
Appends `dnf clean all` (`dnf5`, `yum`, `microdnf clean all`) or
`zypper clean -a` to a RUN that installs or upgrades packages, or refreshes
the metadata, with that program and does not clean up after it: a
`clean all` (zypper: `clean -a`/`--all`, or `-m` with `-M`) or an
`rm` of the cache directory (`/var/cache/dnf`, `/var/cache/yum`,
`/var/cache/libdnf5`, `/var/cache/zypp`) after the last install counts.
Plain `zypper clean` removes only downloaded packages, not the metadata.
Equivalent to hadolint's DL3040 (dnf, microdnf), DL3032 (yum) and DL3036
(zypper).

## Why
The repository metadata (tens of megabytes per repository) and any kept
packages stay in the layer, and removing them in a later RUN does not
shrink the image: a layer keeps what an earlier one wrote.

## Example
```dockerfile
RUN dnf install -y httpd
```
becomes
```dockerfile
RUN dnf install -y httpd && dnf clean all
```

## Fix safety
Safe where applied. dnf, yum and microdnf download the metadata again
when it is missing, so a later RUN works as before (at the cost of a
download), except one that reads only the cache (`-C`, `--cacheonly`): a
finding names it instead of fixing. zypper does the same only for
repositories that refresh automatically, so the fix is made only when no
later RUN of the stage, of a stage built on it, or of an ONBUILD trigger
uses zypper before its own `zypper refresh`. A finding also names a later
instruction that reads the cache directory, a later RUN that runs a file
(script, makefile) naming the program or one dockfix cannot read from the
build context (see DF206), and the next RUN when DF205
would merge the two (the merged RUN gets one clean, at its end, rather than
one in the middle that makes the next install download the metadata
again). Left alone: a RUN whose cache
lives in a cache mount, installs into another root (`--installroot`,
zypper's `--root`) or cache directory, downloads only (`--downloadonly`),
or whose shell ends in a comment.
";

/// How a program's cache is cleaned, and what fills it. The specs only
/// find subcommands here: nothing is inserted.
struct Manager {
    fills: FlagSpec,
    cleans: FlagSpec,
    clean: &'static str,
}

const DNF: Manager = Manager {
    fills: FlagSpec::finding(
        &[&["dnf"], &["dnf5"], &["yum"], &["microdnf"]],
        DNF_VALUE_OPTIONS,
        &[
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
            "swap",
            "builddep",
            "makecache",
            "groupinstall",
            "groupupdate",
            "groupupgrade",
            "group install",
            "group update",
            "group upgrade",
            "groups install",
            "module install",
            "module enable",
        ],
    ),
    cleans: FlagSpec::finding(
        &[&["dnf"], &["dnf5"], &["yum"], &["microdnf"]],
        DNF_VALUE_OPTIONS,
        &["clean"],
    ),
    clean: "clean all",
};

const ZYPPER: Manager = Manager {
    fills: FlagSpec::finding(
        &[&["zypper"]],
        ZYPPER_VALUE_OPTIONS,
        &[
            "install",
            "in",
            "update",
            "up",
            "patch",
            "dist-upgrade",
            "dup",
            "source-install",
            "si",
            "install-new-recommends",
            "inr",
            "refresh",
            "ref",
        ],
    ),
    cleans: FlagSpec::finding(&[&["zypper"]], ZYPPER_VALUE_OPTIONS, &["clean", "cc"]),
    clean: "clean -a",
};

/// Options that put the cache (or the whole installation) elsewhere, make
/// the download the point of the command, or (dnf's `-C`) read only the
/// cache: such a command is left alone. zypper's `-R` is `--root`.
const ELSEWHERE: &[&str] = &[
    "--installroot",
    "--root",
    "-R",
    "--cache-dir",
    "-C",
    "--raw-cache-dir",
    "--solv-cache-dir",
    "--pkg-cache-dir",
    "--downloadonly",
    "--download-only",
];

fn check(cx: &Context) -> Vec<Finding> {
    let file = cx.file;
    let stages = cx.stages();
    let mut findings = Vec::new();
    for (index, stage) in stages.iter().enumerate() {
        for (position, run) in stage.each(&["run"]) {
            let command = run.command.sub.as_deref().unwrap_or(&run.command);
            if command.name != "run" || !run.mentions(&file.source, &["dnf", "yum", "zypper"]) {
                continue;
            }
            let left = uncleaned(&cx.commands_of(run, index))
                .into_iter()
                .filter(|program| !cache_mount(run, program))
                .collect::<Vec<_>>();
            if left.is_empty() {
                continue;
            }
            let names: Vec<&str> = left.iter().map(|p| p.as_str()).collect();
            let message = match names.as_slice() {
                [one] => format!("{one}'s cache stays in the image"),
                [all @ .., last] => format!(
                    "the caches of {} and {last} stay in the image",
                    all.join(", ")
                ),
                [] => unreachable!("only RUNs that leave a cache get here"),
            };
            let clean = left
                .iter()
                .map(|p| format!("{p} {}", manager(p).clean))
                .collect::<Vec<_>>()
                .join(" && ");
            // The merged RUN gets one clean at its end, not one in the middle
            // that makes the next install download the metadata again.
            let merge = stage
                .body
                .get(position + 1)
                .filter(|next| mergeable(file, run, next))
                .map(|next| {
                    format!(
                        "line {} runs the same package manager (merge the RUNs first)",
                        next.start_line
                    )
                });
            let blocker = later_user(cx, stages, index, position, &names).or(merge);
            let (message, fix) = match (blocker, append_command(file, run, &clean)) {
                (Some(why), _) | (None, Err(why)) => (format!("{message}; not fixed: {why}"), None),
                (None, Ok(edit)) => (
                    format!("{message}; clean it in the same RUN"),
                    Some(Fix::new(Applicability::Safe, vec![edit])),
                ),
            };
            findings.push(Finding {
                rule: &RULE,
                range: run.keyword_range(),
                message,
                fix,
            });
        }
    }
    findings
}

fn manager(program: &str) -> &'static Manager {
    if program == "zypper" {
        &ZYPPER
    } else {
        &DNF
    }
}

/// The cache directories of a program's package manager.
fn caches(program: &str) -> &'static [String] {
    package_managers()
        .iter()
        .find(|m| m.programs.iter().any(|p| p == program))
        .map_or(&[][..], |m| m.caches.as_slice())
}

/// The programs whose last command filling the cache is not followed by a
/// clean, in the order they first fill it.
fn uncleaned(commands: &[RunCommand]) -> Vec<String> {
    let mut dirty: Vec<String> = Vec::new();
    for command in commands {
        if command.word(0) == Some("rm") {
            let removed = |cache: &String| {
                command.words[1..]
                    .iter()
                    .filter_map(|(w, _)| w.as_deref())
                    .any(|w| removes(w, cache))
            };
            dirty.retain(|p| !caches(p).iter().any(removed));
            continue;
        }
        let Some(program) = command.word(0) else {
            continue;
        };
        let manager = manager(program);
        if let Some(sub) = subcommand(command, &manager.cleans) {
            if cleans_all(program, &command.words[sub + 1..]) {
                dirty.retain(|p| p != program);
            }
        } else if subcommand(command, &manager.fills).is_some()
            && !command.has(ELSEWHERE)
            && !command.words.iter().any(|(w, _)| {
                w.as_deref()
                    .is_some_and(|w| w.contains("cachedir") || w.contains("downloadonly"))
            })
            && !dirty.iter().any(|p| p == program)
        {
            dirty.push(program.to_string());
        }
    }
    dirty
}

/// Whether a `clean` subcommand's arguments clean the metadata and the
/// packages: `all` for the dnf family; `-a`, `--all` (or a cluster with
/// `a`), or both `-m` and `-M` for zypper.
fn cleans_all(program: &str, args: &[(Option<String>, std::ops::Range<usize>)]) -> bool {
    let args: Vec<&str> = args.iter().filter_map(|(w, _)| w.as_deref()).collect();
    if program != "zypper" {
        return args.contains(&"all");
    }
    let short = |option: char| {
        args.iter().any(|a| {
            a.strip_prefix('-').is_some_and(|cluster| {
                !cluster.starts_with('-')
                    && cluster.chars().all(|c| c.is_ascii_alphabetic())
                    && cluster.contains(option)
            })
        })
    };
    let long = |l: &str| args.contains(&l);
    long("--all")
        || short('a')
        || ((long("--metadata") || short('m')) && (long("--raw-metadata") || short('M')))
}

/// Whether `rm`'s argument removes `cache`: the directory, its contents
/// (`/var/cache/dnf/*`), or `/var/cache` itself.
fn removes(word: &str, cache: &str) -> bool {
    let path = word.trim_end_matches(['*', '/']);
    path.starts_with(cache) || path == "/var/cache"
}

/// Whether a mount (cache, tmpfs or bind) holds the program's cache, not
/// the layer: cleaning a cache mount throws away what it is there to keep.
fn cache_mount(run: &Instruction, program: &str) -> bool {
    mounts(run)
        .into_iter()
        .map(|m| m.target.trim_end_matches('/').to_string())
        .filter(|target| !target.is_empty())
        .any(|target| {
            caches(program)
                .iter()
                .any(|cache| cache.starts_with(&target) || target.starts_with(cache.as_str()))
        })
}

/// Why cleaning `programs`' caches in RUN `position` would break a later
/// instruction, if it would: a later RUN of the stage, of a stage built on
/// it, or of an ONBUILD trigger that reads only the cache (dnf's `-C`),
/// uses zypper before refreshing, or reads a cache directory; a COPY of
/// a cache directory from another stage; or a file a later RUN runs that
/// may use the programs (see `scripts`).
fn later_user(
    cx: &Context,
    stages: &[Stage],
    index: usize,
    position: usize,
    programs: &[&str],
) -> Option<String> {
    let file = cx.file;
    let dirs: Vec<&String> = programs.iter().flat_map(|p| caches(p)).collect();
    let mentions = |text: &[u8]| {
        dirs.iter()
            .any(|d| text.windows(d.len()).any(|w| w == d.as_bytes()))
    };
    let zypper = programs.contains(&"zypper");
    let dnf = programs.iter().any(|p| *p != "zypper");
    for later in model::later_runs(stages, index, position) {
        let line = later.start_line;
        let command = later.command.sub.as_deref().unwrap_or(&later.command);
        if command.name != "run" {
            continue;
        }
        // A RUN dockfix cannot read may use the cache in any way.
        let readable = crate::syntax::shell::parse(file, later).is_some_and(|s| !s.has_error());
        if !readable && later.mentions(&file.source, programs) {
            return Some(format!(
                "line {line} runs {} in a way dockfix cannot read",
                programs.join("/")
            ));
        }
        let mut refreshed = false;
        for c in instruction_commands(file, later, index) {
            let Some(program) = c.word(0) else { continue };
            match program {
                "zypper" if zypper && !refreshed => {
                    let sub = subcommand(&c, &ZYPPER_READS);
                    if sub.is_some_and(|s| matches!(c.word(s), Some("refresh" | "ref"))) {
                        refreshed = true;
                    } else if sub.is_some() {
                        return Some(format!(
                            "line {line} uses zypper without refreshing (a repository \
                             that does not refresh automatically would have no metadata)"
                        ));
                    }
                }
                "dnf" | "dnf5" | "yum" | "microdnf" if dnf && cache_only(&c) => {
                    return Some(format!("line {line} reads only {program}'s cache"));
                }
                "rm" => {}
                _ if c
                    .words
                    .iter()
                    .any(|(_, r)| mentions(&file.source[r.clone()])) =>
                {
                    return Some(format!("line {line} reads the cache"));
                }
                _ => {}
            }
        }
    }
    // A COPY --from of this stage, or of one built on it, sees the layer.
    let sees = |from: &str| {
        let from = from.to_lowercase();
        let named = stages.iter().position(|s| s.name.as_deref() == Some(&from));
        named
            .or_else(|| from.parse().ok())
            .filter(|&j| j < stages.len())
            .is_some_and(|j| model::lineage(stages, j).any(|s| std::ptr::eq(s, &stages[index])))
    };
    stages
        .iter()
        .flat_map(|s| s.body.iter())
        .filter(|i| matches!(i.command.name.as_str(), "copy" | "add"))
        .filter(|i| {
            i.command
                .flags
                .iter()
                .any(|f| f.name() == "from" && f.value().is_some_and(sees))
        })
        .find(|i| mentions(&file.source[i.span()]))
        .map(|i| format!("line {} copies the cache", i.start_line))
        .or_else(|| scripts::later_use(cx, index, position, programs))
}

/// zypper's subcommands that read the repositories (as good as all of
/// them), or refresh them.
const ZYPPER_READS: FlagSpec = FlagSpec::finding(
    &[&["zypper"]],
    ZYPPER_VALUE_OPTIONS,
    &[
        "refresh",
        "ref",
        "install",
        "in",
        "remove",
        "rm",
        "update",
        "up",
        "patch",
        "dist-upgrade",
        "dup",
        "source-install",
        "si",
        "install-new-recommends",
        "inr",
        "verify",
        "ve",
        "search",
        "se",
        "info",
        "if",
        "list-updates",
        "lu",
        "list-patches",
        "lp",
        "patches",
        "pch",
        "packages",
        "pa",
        "patterns",
        "pt",
        "products",
        "pd",
        "what-provides",
        "wp",
        "download",
        "source-download",
    ],
);

/// dnf's `-C` (`--cacheonly`): runs from the cache alone.
fn cache_only(command: &RunCommand) -> bool {
    command
        .words
        .iter()
        .filter_map(|(w, _)| w.as_deref())
        .any(|w| {
            w == "--cacheonly"
                || w.contains("cacheonly=")
                || w.strip_prefix('-').is_some_and(|cluster| {
                    !cluster.starts_with('-')
                        && cluster.chars().all(|c| c.is_ascii_alphabetic())
                        && cluster.contains('C')
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removals_that_count() {
        assert!(removes("/var/cache/dnf", "/var/cache/dnf"));
        assert!(removes("/var/cache/dnf/*", "/var/cache/dnf"));
        assert!(removes("/var/cache/yum/", "/var/cache/yum"));
        assert!(removes("/var/cache/*", "/var/cache/zypp"));
        assert!(!removes("/var/cache/apt", "/var/cache/dnf"));
        assert!(!removes("/tmp/*", "/var/cache/dnf"));
    }

    #[test]
    fn zypper_clean_must_reach_the_metadata() {
        let words = |ws: &[&str]| -> Vec<(Option<String>, std::ops::Range<usize>)> {
            ws.iter().map(|w| (Some(w.to_string()), 0..0)).collect()
        };
        assert!(cleans_all("zypper", &words(&["-a"])));
        assert!(cleans_all("zypper", &words(&["--all"])));
        assert!(cleans_all("zypper", &words(&["-mM"])));
        assert!(cleans_all("zypper", &words(&["--metadata", "-M"])));
        assert!(!cleans_all("zypper", &words(&[])));
        assert!(!cleans_all("zypper", &words(&["-m"])));
        assert!(cleans_all("dnf", &words(&["all"])));
        assert!(!cleans_all("dnf", &words(&["packages"])));
    }
}
