//! DF218 package-repeated-steps: a RUN that updates, installs or cleans up
//! with one package manager more than once.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use crate::edit::Edit;
use crate::facts::commands::RunCommand;
use crate::facts::package_install::{install, Install};
use crate::fix::{moves, remove};
use crate::rules::{Applicability, Context, Finding, Fix, FixSafety, Rule};
use crate::syntax::{shell, Dockerfile, Instruction, LineKind};
use crate::transforms::{package_managers, PackageManager};

pub static RULE: Rule = Rule {
    id: "DF218",
    name: "package-repeated-steps",
    summary: "a RUN updates, installs or cleans up with one package manager more than once",
    fix_title: "Keep one update, one install per set of options and one cleanup",
    effect: "one package index download and one install per layer",
    fix_safety: FixSafety::Sometimes,
    cache_style: None,
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF218 package-repeated-steps

## What it does
In each chain of a RUN's commands joined by `&&` (or by `;` under `set -e`),
takes the run of package-manager commands between two other commands and
writes it the way a careful engineer does: the first update stays and later ones go, an install joins
the install before it when both have the same options (the packages it adds
that the first does not name are appended, in order, on lines of their own where the
packages were listed over lines), and cleanups that sit before another
update or install move after the last one, once. Output sent to
`/dev/null` counts as an option: `dnf install -y a &> /dev/null` joins
only an install that sends it there too. Comment
lines inside what goes move above the RUN. The managers' updates, cleanups
and the packages that may add a package source are data
(`transforms/package_managers.toml`): apt, apk, dnf (`yum`, `microdnf`) and
zypper. This is what DF205's merged RUNs need, and it often follows it.

## Why
Merging RUNs one by one leaves `apt-get update && apt-get install -y curl &&
rm -rf /var/lib/apt/lists/*` repeated for every RUN merged: the index is
downloaded several times, and a reviewer cannot see what is installed.

## Example
```dockerfile
RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/* \\
    && apt-get update && apt-get install -y git && rm -rf /var/lib/apt/lists/*
```
becomes
```dockerfile
RUN apt-get update && apt-get install -y curl git && rm -rf /var/lib/apt/lists/*
```

## Fix safety
A command that is not an update, an install or a cleanup of the manager
(`apt-get upgrade`, `echo deb ... > sources.list`, `curl`, a pipeline, a
loop) ends the run: nothing moves across it, and an update after it stays.
Nothing moves across a `;` without `set -e`, where a failure does not stop
what follows, and a chain that `||` or `&` touches stays as it is: which
packages a fallback finds depends on which install failed. Nothing is merged
into or across the install of a package that may add a package source
(`epel-release`, `*-archive-keyring`, `*-release`; a file or URL), and
an install whose packages the shell expands, or that names a package the
install before it pins to another version, stays as it is. The fix is safe
when it drops an update that only repeats one with no install between, and
joins installs of apt, whose new sources take effect only at the next
update; it is unsafe when it drops an update that follows an install, or
joins installs of a manager that uses a new source at once (apk, dnf,
zypper): a package dockfix does not know to add a source could be needed
by the install after it. Installing packages together can also resolve
differently from installing them one after another when they conflict.
";

fn check(cx: &Context) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (index, stage) in cx.stages().iter().enumerate() {
        for (_, run) in stage.each(&["run"]) {
            if let Some(finding) = finding(cx, run, index) {
                findings.push(finding);
            }
        }
    }
    findings
}

/// A statement of the RUN as the plan sees it.
struct Unit {
    /// The simple command it is, by index, when it may be a step: a
    /// command alone, or with output sent to `/dev/null` after it.
    command: Option<usize>,
    /// The whole statement, redirects included, by file range.
    range: Range<usize>,
    /// Its redirects as written, without blanks.
    redirects: String,
    /// Whether the statements before it do not stop it when they fail
    /// (`;` without `set -e`): nothing joins or moves across it.
    starts_chain: bool,
}

/// The plan's view of the statements. A chain that `||` or `&` touches
/// (`apt-get install -y a && apt-get install -y b || true`) is left as it
/// is: which packages are there after its fallback runs depends on which
/// install failed.
fn units(src: &[u8], statements: &[shell::Statement]) -> Vec<Unit> {
    let guarded = |op: &str| matches!(op, "||" | "&");
    let mut units: Vec<Unit> = Vec::with_capacity(statements.len());
    let mut chain_start = 0;
    for (i, statement) in statements.iter().enumerate() {
        let starts_chain = i == 0 || !statement.chained();
        if starts_chain {
            chain_start = i;
        }
        let redirects: String = crate::syntax::lossy(&src[statement.redirects.clone()])
            .split_whitespace()
            .collect();
        let discarded = [
            "",
            ">/dev/null",
            "&>/dev/null",
            "2>/dev/null",
            ">/dev/null2>&1",
        ];
        units.push(Unit {
            command: statement
                .command
                .filter(|_| discarded.contains(&redirects.as_str())),
            range: statement.range.clone(),
            redirects,
            starts_chain,
        });
        let ends_chain = statements.get(i + 1).is_none_or(|next| !next.chained());
        if ends_chain
            && (guarded(statements[chain_start].joined_by) || guarded(statement.followed_by))
        {
            for unit in &mut units[chain_start..] {
                unit.command = None;
            }
        }
    }
    units
}

/// What one command of the chain is to the manager.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Update,
    Install,
    Cleanup,
    /// Anything else: the runs of package commands end at it.
    Other,
}

/// The finding for one RUN whose package steps repeat.
fn finding(cx: &Context, run: &Instruction, stage: usize) -> Option<Finding> {
    let file = cx.file;
    let command = &run.command;
    if command.name != "run" || command.json || !run.heredocs.is_empty() {
        return None;
    }
    let managers = package_managers();
    let programs: Vec<&str> = managers
        .iter()
        .flat_map(|m| m.programs.iter().map(String::as_str))
        .collect();
    if !run.mentions(&file.source, &programs) {
        return None;
    }
    let script = shell::parse(file, run)?;
    if script.has_error() {
        return None;
    }
    let commands = cx.commands_of(run, stage);
    let manager = managers.iter().find(|m| {
        commands
            .iter()
            .any(|c| step(&file.source, m, c) == Step::Install)
    })?;
    let units = units(&file.source, script.statements(&file.source));
    let plan = plan(&file.source, manager, &commands, &units);
    if plan.removed.is_empty() {
        let (first, then) = plan.conflict?;
        return Some(Finding {
            rule: &RULE,
            range: run.keyword_range(),
            message: format!(
                "this RUN installs {first}, then {then} with the same options; not fixed: joined, the two would not leave the version the second install leaves"
            ),
            fix: None,
        });
    }
    let mut message = plan.summary();
    let fix = match edits(file, run, &commands, &units, &plan) {
        Ok(edits) => Some(Fix::new(plan.applicability, edits)),
        Err(why) => {
            message += &format!("; not fixed: {why}");
            None
        }
    };
    if let Some(why) = &plan.unsafe_because {
        if fix.is_some() {
            message += &format!("; unsafe: {why}");
        }
    }
    Some(Finding {
        rule: &RULE,
        range: run.keyword_range(),
        message,
        fix,
    })
}

/// What the fix does to the RUN's commands, by index.
struct Plan {
    removed: Vec<usize>,
    /// Indices are the RUN's statements' (`units`).
    /// The package words, by file range, added to an install that stays.
    added: BTreeMap<usize, Vec<Range<usize>>>,
    /// Cleanups moved after the command that ends their run.
    moved: BTreeMap<usize, Vec<usize>>,
    updates_dropped: usize,
    installs_joined: usize,
    /// Cleanups before another update or install, or repeated at the end.
    cleanups_dropped: usize,
    applicability: Applicability,
    unsafe_because: Option<String>,
    /// A package two installs that could be joined name differently
    /// (`curl=7.88.1-10`, then `curl`): the later one changes the version.
    conflict: Option<(String, String)>,
}

impl Plan {
    fn summary(&self) -> String {
        let count = |n: usize, one: &str, many: &str| match n {
            0 => None,
            1 => Some(one.to_string()),
            n => Some(format!("{n} {many}")),
        };
        let parts: Vec<String> = [
            count(
                self.updates_dropped,
                "a repeated update",
                "repeated updates",
            ),
            count(
                self.installs_joined,
                "an install with the options of the one before",
                "installs with the options of the one before",
            ),
            count(
                self.cleanups_dropped,
                "a cleanup before a later step or repeated",
                "cleanups before a later step or repeated",
            ),
        ]
        .into_iter()
        .flatten()
        .collect();
        format!(
            "this RUN has {}: keep one update, one install per set of options and one cleanup at the end",
            parts.join(", ")
        )
    }
}

/// Assignments before the command's name (`DEBIAN_FRONTEND=noninteractive
/// apt-get install`), as written.
fn prefix<'s>(src: &'s [u8], command: &RunCommand) -> &'s [u8] {
    let name = command
        .words
        .first()
        .map_or(command.range.end, |(_, r)| r.start);
    &src[command.range.start..name]
}

/// What the command is to `manager`. Only an install may carry
/// assignments: they belong to its options.
fn step(src: &[u8], manager: &PackageManager, command: &RunCommand) -> Step {
    let Some(words) = command
        .words
        .iter()
        .map(|(w, _)| w.as_deref())
        .collect::<Option<Vec<&str>>>()
    else {
        return Step::Other;
    };
    let program = words.first().map(|w| shell::program(w)).unwrap_or_default();
    if !manager.programs.iter().any(|p| p == program) && program != "rm" {
        return Step::Other;
    }
    // An install that names no package (`apt-get -f install`) repairs
    // what is there: nothing joins it.
    let installs = install(command).is_some_and(|i| !i.packages.is_empty());
    if !prefix(src, command).is_empty() {
        return if installs { Step::Install } else { Step::Other };
    }
    // Quiet and non-interactive options change no update or cleanup.
    let quiet = [
        "-q",
        "-qq",
        "-y",
        "--yes",
        "--assume-yes",
        "--quiet",
        "-n",
        "--non-interactive",
        "-a",
        "--all",
    ];
    let (options, plain): (Vec<&str>, Vec<&str>) = words.iter().partition(|w| w.starts_with('-'));
    let plain_is = |line: &String| line.split(' ').eq(plain.iter().copied());
    if options.iter().all(|o| quiet.contains(o)) {
        if manager.updates.iter().any(plain_is) {
            return Step::Update;
        }
        if manager.cleanups.iter().any(plain_is) {
            return Step::Cleanup;
        }
    }
    if program == "rm" {
        let paths: Vec<&&str> = words[1..].iter().filter(|w| !w.starts_with('-')).collect();
        let caches = !paths.is_empty()
            && paths.iter().all(|p| {
                manager.caches.iter().any(|c| {
                    p.strip_prefix(c.as_str())
                        .is_some_and(|rest| matches!(rest, "" | "/" | "/*"))
                })
            });
        return if caches { Step::Cleanup } else { Step::Other };
    }
    if installs {
        return Step::Install;
    }
    Step::Other
}

/// The manager's packages that may add a package source, as one matcher,
/// built once per manager.
fn source_packages(manager: &PackageManager) -> &'static globset::GlobSet {
    static SETS: std::sync::OnceLock<Vec<globset::GlobSet>> = std::sync::OnceLock::new();
    let sets = SETS.get_or_init(|| {
        package_managers()
            .iter()
            .map(|manager| {
                let mut set = globset::GlobSetBuilder::new();
                for glob in manager
                    .source_packages
                    .iter()
                    .filter_map(|p| globset::Glob::new(p).ok())
                {
                    set.add(glob);
                }
                set.build().unwrap_or_else(|_| globset::GlobSet::empty())
            })
            .collect()
    });
    let index = package_managers()
        .iter()
        .position(|m| std::ptr::eq(m, manager))
        .expect("a manager of the table");
    &sets[index]
}

/// Whether an install may add a package source (`sources` matches such a
/// package), or names what dockfix cannot read as a package name.
fn adds_sources(sources: &globset::GlobSet, install: &Install) -> bool {
    install.packages.iter().any(|(word, _)| {
        let Some(word) = word else { return true };
        let path = word.contains('/') || word.ends_with(".deb") || word.ends_with(".rpm");
        path || sources.is_match(install.name(word))
    })
}

/// Walks the commands once: each run of update, install and cleanup
/// commands between other commands keeps its first update (and any update
/// after an install that may add a source), joins an install into the one
/// before it when nothing kept lies between and the options are the same,
/// and moves cleanups that precede a kept command to the run's end.
fn plan(src: &[u8], manager: &PackageManager, commands: &[RunCommand], units: &[Unit]) -> Plan {
    let mut plan = Plan {
        removed: Vec::new(),
        added: BTreeMap::new(),
        moved: BTreeMap::new(),
        updates_dropped: 0,
        installs_joined: 0,
        cleanups_dropped: 0,
        applicability: Applicability::Safe,
        unsafe_because: None,
        conflict: None,
    };
    let sources = source_packages(manager);
    let mut updated = false;
    let mut sources_changed = false;
    let mut installed_since_update = false;
    // The install a later one may join, and the package words it names,
    // by their name without a version.
    let mut open: Option<(usize, HashMap<String, String>)> = None;
    let mut pending: Vec<usize> = Vec::new();
    let mut middle: Vec<usize> = Vec::new();
    let mut last_kept: Option<usize> = None;
    let command = |u: usize| &commands[units[u].command.expect("a step is a command")];
    let words = |u: &usize| -> Vec<Option<String>> {
        command(*u).words.iter().map(|(w, _)| w.clone()).collect()
    };
    let flush =
        |plan: &mut Plan, middle: &mut Vec<usize>, pending: &[usize], end: Option<usize>| {
            // A cleanup repeated at the end goes.
            let mut kept: Vec<usize> = Vec::new();
            for &i in pending {
                if kept.iter().any(|j| words(j) == words(&i)) {
                    plan.removed.push(i);
                    plan.cleanups_dropped += 1;
                } else {
                    kept.push(i);
                }
            }
            let Some(end) = end.filter(|_| !middle.is_empty()) else {
                return;
            };
            let mut to_add: Vec<usize> = Vec::new();
            for &i in middle.iter() {
                if !kept.iter().chain(&to_add).any(|j| words(j) == words(&i)) {
                    to_add.push(i);
                }
            }
            if !to_add.is_empty() {
                plan.moved
                    .insert(kept.last().copied().unwrap_or(end), to_add);
            }
            plan.cleanups_dropped += middle.len();
            plan.removed.append(middle);
        };
    for (i, unit) in units.iter().enumerate() {
        let step = unit
            .command
            .map_or(Step::Other, |c| step(src, manager, &commands[c]));
        // Another command, or a new chain, ends the run of package steps;
        // only another command is kept for cleanups to follow.
        if unit.starts_chain || step == Step::Other {
            flush(&mut plan, &mut middle, &pending, last_kept);
            updated = false;
            sources_changed = false;
            installed_since_update = false;
            open = None;
            pending.clear();
            last_kept = (step == Step::Other).then_some(i);
        }
        match step {
            Step::Other => {}
            Step::Cleanup => pending.push(i),
            Step::Update => {
                middle.append(&mut pending);
                if updated && !sources_changed {
                    plan.removed.push(i);
                    plan.updates_dropped += 1;
                    if installed_since_update {
                        plan.applicability = Applicability::Unsafe;
                        plan.unsafe_because = Some(
                            "an update after an install goes, and dockfix cannot prove the install added no package source".into(),
                        );
                    }
                } else {
                    updated = true;
                    sources_changed = false;
                    installed_since_update = false;
                    open = None;
                    last_kept = Some(i);
                }
            }
            Step::Install => {
                middle.append(&mut pending);
                let this = install(command(i)).expect("an install step");
                let names: HashMap<String, String> = this
                    .packages
                    .iter()
                    .filter_map(|(w, _)| w.map(|w| (this.name(w).to_string(), w.to_string())))
                    .collect();
                let changes = adds_sources(sources, &this);
                let joined = open.as_mut().filter(|_| !changes).and_then(|(at, had)| {
                    let target = install(command(*at)).expect("an install step");
                    let same_options = sorted(&target.options) == sorted(&this.options)
                        && prefix(src, command(*at)) == prefix(src, command(i))
                        && units[*at].redirects == unit.redirects;
                    let conflict = this.packages.iter().find_map(|(w, _)| {
                        let word = (*w)?;
                        had.get(this.name(word))
                            .filter(|h| *h != word)
                            .map(|h| (h.clone(), word.to_string()))
                    });
                    if same_options && conflict.is_some() {
                        plan.conflict = plan.conflict.take().or(conflict.clone());
                    }
                    (same_options && conflict.is_none()).then(|| {
                        let new: Vec<Range<usize>> = this
                            .packages
                            .iter()
                            .filter(|(w, _)| w.is_some_and(|w| !had.contains_key(this.name(w))))
                            .map(|(_, r)| (*r).clone())
                            .collect();
                        for (name, word) in &names {
                            had.entry(name.clone()).or_insert_with(|| word.clone());
                        }
                        (*at, new)
                    })
                });
                match joined {
                    Some((at, new)) => {
                        plan.removed.push(i);
                        plan.installs_joined += 1;
                        plan.added.entry(at).or_default().extend(new);
                        if manager.sources_at_once {
                            plan.applicability = Applicability::Unsafe;
                            plan.unsafe_because = Some(format!(
                                "installs are joined, and {} uses a package source a package adds at once; dockfix cannot prove none does",
                                manager.name
                            ));
                        }
                    }
                    None => {
                        open = (!changes).then_some((i, names));
                        last_kept = Some(i);
                    }
                }
                installed_since_update = true;
                sources_changed |= changes;
            }
        }
    }
    flush(&mut plan, &mut middle, &pending, last_kept);
    plan.removed.sort_unstable();
    plan.removed.dedup();
    plan
}

fn sorted<'a>(words: &[Option<&'a str>]) -> Vec<Option<&'a str>> {
    let mut words = words.to_vec();
    words.sort_unstable();
    words
}

/// The longest physical line joined packages make, short of BuildKit's
/// limit with room for what follows them on the line.
const LONGEST_LINE: usize = crate::syntax::MAX_LINE - 256;

/// The edits: removed commands go (comment lines in their way move above
/// the RUN), joined packages follow the last package of the install they
/// join, and moved cleanups follow the command that ends their run.
fn edits(
    file: &Dockerfile,
    run: &Instruction,
    commands: &[RunCommand],
    units: &[Unit],
    plan: &Plan,
) -> Result<Vec<Edit>, String> {
    let script = shell::parse(file, run).ok_or("dockfix cannot read the RUN's shell")?;
    let removed: Vec<&shell::SimpleCommand> = plan
        .removed
        .iter()
        .filter_map(|&u| units[u].command.map(|c| &script.commands()[c]))
        .collect();
    let mut edits = remove::commands_moving_comments(file, run, script, &removed)?;
    let src = &file.source;
    let text = |r: &Range<usize>| crate::syntax::lossy(&src[r.clone()]).into_owned();
    let mut inserts: BTreeMap<usize, String> = BTreeMap::new();
    let eol = moves::line_ending(file, run);
    let escape = file.escape as char;
    let line_of = |at: usize| run.line_index(at);
    let (continued_indent, leading) = moves::continuation_style(file, run);
    for (&at, words) in &plan.added {
        let target = install(&commands[units[at].command.expect("an install is a command")])
            .expect("an install step");
        let first = target.packages.first().expect("an install has packages").1;
        let last = target.packages.last().expect("an install has packages").1;
        let entry = inserts.entry(last.end).or_default();
        // Packages listed over several lines, or one line of their own in
        // the install they come from, go on lines of their own as they
        // were there, indented as the listed packages; else on one line.
        // The blanks that begin a word's line, and whether the word follows
        // them.
        let indent_of = |word: &Range<usize>| -> Option<(String, bool)> {
            let line = &run.lines[line_of(word.start)?];
            let before = &src[line.span.start..word.start];
            let blanks = before
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t'))
                .count();
            let indent = crate::syntax::lossy(&before[..blanks]).into_owned();
            Some((indent, blanks == before.len()))
        };
        let indent = if line_of(first.start) != line_of(last.start) {
            indent_of(last).map(|(indent, _)| indent)
        } else {
            words
                .iter()
                .filter_map(indent_of)
                .find_map(|(indent, first)| first.then_some(indent))
        };
        let listed = indent.is_some();
        let indent = indent.unwrap_or_default();
        let mut previous_line = None;
        // Joined on one line, the packages go on a continuation line
        // before the line reaches the length BuildKit refuses.
        let (line_len, tail) = line_of(last.start).map_or((0, 0), |l| {
            let span = &run.lines[l].span;
            (span.len(), span.end - last.end)
        });
        let mut width = line_len;
        for word in words {
            let line = line_of(word.start);
            let word = text(word);
            if listed && line != previous_line {
                entry.push_str(&format!(" {escape}{eol}{indent}"));
            } else if !listed && width + 1 + word.len() > LONGEST_LINE {
                entry.push_str(&format!(" {escape}{eol}{continued_indent}"));
                width = continued_indent.len() + tail;
            } else {
                entry.push(' ');
            }
            width += 1 + word.len();
            previous_line = line;
            entry.push_str(&word);
        }
    }
    let continued = run
        .lines
        .iter()
        .filter(|l| matches!(l.kind, LineKind::Code { .. }))
        .count()
        > 1;
    let separator = match (continued, leading) {
        (false, _) => " && ".to_string(),
        (true, true) => format!(" {escape}{eol}{continued_indent}&& "),
        (true, false) => format!(" && {escape}{eol}{continued_indent}"),
    };
    for (&after, cleanups) in &plan.moved {
        let end = units[after].range.end;
        let entry = inserts.entry(end).or_default();
        for &i in cleanups {
            entry.push_str(&separator);
            entry.push_str(&text(&units[i].range));
        }
    }
    edits.extend(inserts.into_iter().map(|(at, text)| Edit::insert(at, text)));
    Ok(edits)
}

#[cfg(test)]
mod tests {
    use crate::engine::{fix, Settings};
    use crate::rules::{selection, CacheStyle};
    use crate::syntax::MAX_LINE;

    /// Packages joined on one line go on continuation lines before the
    /// line is one BuildKit refuses.
    #[test]
    fn joined_packages_stay_under_buildkit_line_limit() {
        // Long names, so that a line passes the limit with few commands.
        let count = 1_500;
        let mut source = String::from("FROM debian\nRUN apt-get update");
        for i in 0..count {
            source += &format!(
                " \\\n    && apt-get install -y package{i}-{}",
                "x".repeat(40)
            );
        }
        source += "\n";
        let settings = Settings {
            rules: selection(&["DF218".into()], &[], CacheStyle::Cleanup, &[]).unwrap(),
            unsafe_fixes: true,
            build_context: None,
            companions: false,
            dockerfile: None,
            pins: None,
            ecosystems: None,
            runtime_images: &crate::config::NO_RUNTIME_IMAGES,
        };
        let fixed =
            String::from_utf8(fix(source.as_bytes(), &settings).unwrap().file.source).unwrap();
        assert_eq!(fixed.matches("apt-get install").count(), 1);
        assert_eq!(fixed.matches(" package").count(), count);
        let longest = fixed.lines().map(str::len).max().unwrap();
        assert!(longest < MAX_LINE, "a line of {longest} bytes");
        assert!(fixed.lines().count() > 3, "the packages are on one line");
    }
}
