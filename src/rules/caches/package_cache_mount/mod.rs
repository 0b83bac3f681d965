//! DF301 package-cache-mount: a package manager's download cache kept in a
//! BuildKit cache mount, driven by `transforms/cache_mounts.toml`.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::LazyLock;

use super::run_user::{run_user, RunUser};
use crate::edit::Edit;
use crate::facts::commands::{first_operand, RunCommand};
use crate::model::{self, Stage, Variable};
use crate::rules::{Applicability, CacheStyle, Context, Finding, Fix, FixSafety, Rule};
use crate::syntax::{shell, Instruction};
use crate::transforms::{self, CacheManager};

pub static RULE: Rule = Rule {
    id: "DF301",
    name: "package-cache-mount",
    summary: "package downloads are not kept in a BuildKit cache mount",
    fix_title: "Keep package downloads in a BuildKit cache mount",
    effect:
        "downloads now reused across builds from a BuildKit cache mount, and kept out of the image",
    fix_safety: FixSafety::Sometimes,
    cache_style: Some(CacheStyle::Mounts),
    doc: DOC,
    check,
};

mod plan;
mod reads;
mod targets;

const DOC: &str = "\
# DF301 package-cache-mount

## What it does
Gives a RUN that installs packages a BuildKit cache mount for each download
cache its package manager uses (`RUN --mount=type=cache,id=...,target=...`),
and removes from that RUN what would defeat the mount: options that turn
the cache off (`--no-cache-dir`, `--no-cache`), commands that empty it
(`npm cache clean`, `apt-get clean`) and `rm` of the cache. Covered, from
`transforms/cache_mounts.toml`: apt, apk, dnf/yum/microdnf, zypper, pip,
uv, poetry, pipenv, npm, yarn (1 and 2+), pnpm, Go (modules and build
cache), Cargo (registry and git, and `target/` where the RUN copies the
binaries out after `cargo build` and nothing later reads it), Maven,
Gradle, NuGet, Composer and Bundler. Runs with `--cache-style mounts`.

The target is where the manager looks for its cache when the RUN runs: a
variable the Dockerfile (or, for a few official images, the base image)
sets (`PIP_CACHE_DIR`, `npm_config_cache`, `GOPATH`, `CARGO_HOME`, ...),
else the default under the HOME of the RUN's user (the last USER before
it, with `uid`/`gid` on the mount for a user other than root). Mounts get
stable ids (`pip`, `npm`, `go-mod`, with a non-root user's uid appended),
so every Dockerfile on a builder shares one cache per manager, as
BuildKit's default id (the target) would for root.

## Why
With a cache mount, an install that has to run again (a lockfile changed, a
dependency was added) reuses what earlier builds downloaded instead of
fetching everything again, and the cache never enters a layer. Cleaning the
cache in the same RUN empties the mount each time, so the two styles are
alternatives: `--cache-style cleanup` (the default) removes caches,
`--cache-style mounts` keeps them outside the image.

## Example
```dockerfile
RUN pip install --no-cache-dir -r requirements.txt
```
becomes
```dockerfile
RUN --mount=type=cache,id=pip,target=/root/.cache/pip pip install -r requirements.txt
```

## Fix safety
Safe where applied: a build works with any content of a cache mount, and
each manager fetches what its cache lacks. dockfix leaves alone, and says
why, a RUN whose cache a later step needs in the image, since the mount
may be empty when that step runs: a command that reads only the cache
(`mvn -o`, `cargo --offline`, `dotnet publish --no-restore`, `npm
--offline`, or a setting such as `GOPROXY=off`), a RUN without network
(`--network=none`), a later RUN naming the cache directory, a `COPY
--from` or `RUN --mount ...,from=` of it (or of a directory above it),
and apt's package lists unless the RUN runs `apt-get update` before it
installs and no later RUN installs from those lists. It also reports a
RUN that moves the cache itself (`HOME=`, `export PIP_CACHE_DIR=`, `pip
config set`), a user whose HOME or uid the Dockerfile does not show (a
`useradd -u` or `adduser --uid` before it, a numeric USER, `ENV HOME`),
yarn that may or may not be 2+, a cleanup it cannot remove without
changing what the rest of the RUN does, a cache directory set from
another variable or by an ARG (`--build-arg` can move it), and one that
cannot be written in a mount (a blank or a comma). A RUN that turns the
cache off through the environment (`PIP_NO_CACHE_DIR`) or puts it
elsewhere with an option (`--cache-dir`) is left as it is.
Unsafe: apk, where the cache needs `--cache-dir` (Alpine's images have no
cache directory) and the rewrite is not proven on an engine here; and a
non-root user's mount whose parent is not a home directory known to exist
(root's, `useradd -m`, `adduser`, an official image's user), because
BuildKit creates the missing directories above a mount as root, where
the user's other tools may need to write (`~/go/bin` beside
`~/go/pkg/mod`).
";

fn check(cx: &Context) -> Vec<Finding> {
    planned(cx).iter().map(|p| p.finding.clone()).collect()
}

/// A finding of DF301, with the cache directories its fix mounts.
pub struct Planned {
    pub finding: Finding,
    pub mounts: Vec<String>,
}

/// DF301's findings, found once per lint: DF302 asks which RUNs DF301
/// gives a cache mount on apt's downloads.
pub fn planned(cx: &Context) -> Rc<Vec<Planned>> {
    cx.file_fact("DF301 findings", || Rc::new(find(cx)))
}

fn find(cx: &Context) -> Vec<Planned> {
    let stages = cx.stages();
    let mut found = Vec::new();
    // Each stage is walked forward from where the stage it builds on ended,
    // carrying the variables set so far and the last USER.
    let mut ends: Vec<(BTreeMap<String, Variable>, Option<&Instruction>)> = Vec::new();
    for (index, stage) in stages.iter().enumerate() {
        let (mut set, mut user) = stage.parent.map(|p| ends[p].clone()).unwrap_or_default();
        // The rest set nothing a site needs: a file of thousands of COPYs
        // is passed over by keyword, not read instruction by instruction.
        for (position, run) in stage.each(&["run", "env", "arg", "user"]) {
            // ONBUILD triggers run in another build, whose cache is its own.
            if run.command.name == "run" {
                found.extend(site_findings(cx, stages, (index, position), &set, user));
            }
            model::set_variables(&mut set, run);
            if run.command.name == "user" {
                user = Some(run);
            }
        }
        ends.push((set, user));
    }
    found
}

/// The findings for the RUN at `position` of stage `index`, which sees the
/// variables `set` and runs as the `user` of the last USER before it.
fn site_findings<'f>(
    cx: &Context<'f>,
    stages: &[Stage<'f>],
    (index, position): (usize, usize),
    set: &BTreeMap<String, Variable>,
    user: Option<&Instruction>,
) -> Vec<Planned> {
    let file = cx.file;
    let run = stages[index].body[position];
    let span = run.span();
    let commands = cx.run_commands();
    let first = commands.partition_point(|c| c.range.start < span.start);
    let own: Vec<&RunCommand> = commands[first..]
        .iter()
        .take_while(|c| span.contains(&c.range.start))
        .collect();
    // Each command with the managers its program may belong to.
    let candidates: Vec<(&RunCommand, &[usize])> = own
        .iter()
        .map(|&c| (c, managers_running(c)))
        .filter(|(_, managers)| !managers.is_empty())
        .collect();
    if candidates.is_empty() {
        return Vec::new();
    }
    // The managers the RUN runs, each with its commands; the user and
    // the variables are worked out only for a RUN that has some.
    let uses: Vec<Uses> = transforms::cache_mounts()
        .manager
        .iter()
        .enumerate()
        .map(|(index, manager)| {
            let commands = candidates
                .iter()
                .filter(|(_, managers)| managers.contains(&index))
                .filter_map(|(c, _)| invocation(manager, c).map(|sub| (*c, sub)))
                .collect();
            (manager, commands)
        })
        .filter(|(_, commands): &Uses| !commands.is_empty())
        .collect();
    if uses.is_empty() || shell::parse(file, run).is_none_or(|s| s.has_error()) {
        return Vec::new();
    }
    let site = Site {
        cx,
        stages,
        index,
        position,
        run,
        own: &own,
        user: run_user(file, stages, (index, position), user, set.get("HOME")),
        vars: variables(stages, index, set.clone()),
    };
    site.findings(&uses)
}

/// The variables the RUN sees: the base image's known ones, then the
/// Dockerfile's.
fn variables(
    stages: &[Stage],
    index: usize,
    set: BTreeMap<String, Variable>,
) -> BTreeMap<String, Variable> {
    let image = model::base_image_name(stages, index);
    let mut vars: BTreeMap<String, Variable> = transforms::cache_mounts()
        .image_env
        .get(&image)
        .into_iter()
        .flatten()
        .map(|(name, value)| {
            let value = value.clone();
            (
                name.clone(),
                Variable {
                    value,
                    from_arg: false,
                },
            )
        })
        .collect();
    vars.extend(set);
    vars
}

/// A manager a RUN runs, with its commands there and the subcommand of each.
type Uses<'a> = (&'static CacheManager, Vec<(&'a RunCommand, &'static str)>);

/// One RUN being looked at.
struct Site<'a, 'f> {
    cx: &'a Context<'f>,
    stages: &'a [Stage<'f>],
    index: usize,
    position: usize,
    run: &'f Instruction,
    own: &'a [&'a RunCommand],
    user: RunUser,
    vars: BTreeMap<String, Variable>,
}

/// What a RUN needs for one manager.
#[derive(Default)]
struct Plan {
    mounts: Vec<String>,
    /// Targets mounted, by the RUN already or by the fix.
    targets: Vec<String>,
    /// Targets the fix mounts.
    added: Vec<String>,
    edits: Vec<Edit>,
    removed: Vec<String>,
    /// Commands to remove, by range.
    gone: Vec<std::ops::Range<usize>>,
    /// Why the fix is unsafe, if it is.
    unsafe_reason: Option<String>,
}

impl<'f> Site<'_, 'f> {
    fn findings(&self, uses: &[Uses]) -> Vec<Planned> {
        let mut findings = Vec::new();
        // The managers' plans, safe ones first: an unsafe one (apk) must
        // not hold back the others, so it gets a finding of its own.
        let mut groups: [Vec<(&CacheManager, Plan)>; 2] = Default::default();
        for (manager, uses) in uses {
            let manager = *manager;
            match self.plan(manager, uses) {
                Ok(Some(mut plan)) if !plan.mounts.is_empty() || !plan.edits.is_empty() => {
                    if plan.unsafe_reason.is_none() {
                        plan.unsafe_reason = manager.unsafe_reason.clone();
                    }
                    groups[usize::from(plan.unsafe_reason.is_some())].push((manager, plan));
                }
                Ok(_) => {}
                Err(why) => findings.push(self.not_fixed(&manager.name, uses[0].0, &why)),
            }
        }
        for group in groups.iter().filter(|g| !g.is_empty()) {
            findings.push(self.group_finding(group));
        }
        findings.sort_by_key(|p| p.finding.range.start);
        findings
    }

    fn not_fixed(&self, names: &str, at: &RunCommand, why: &str) -> Planned {
        Planned {
            finding: Finding {
                rule: &RULE,
                range: at.range.clone(),
                message: format!(
                    "{names} downloads are not kept in a cache mount; not fixed: {why}"
                ),
                fix: None,
            },
            mounts: Vec::new(),
        }
    }

    /// One fix for the plans of several managers in this RUN.
    fn group_finding(&self, group: &[(&CacheManager, Plan)]) -> Planned {
        let names: Vec<&str> = group.iter().map(|(m, _)| m.name.as_str()).collect();
        let names = match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => names.join(""),
        };
        let mut mounts: Vec<String> = Vec::new();
        let mut edits = Vec::new();
        let mut removed = Vec::new();
        let mut gone = Vec::new();
        let mut targets = Vec::new();
        let mut added = Vec::new();
        for (_, plan) in group {
            for mount in &plan.mounts {
                if !mounts.contains(mount) {
                    mounts.push(mount.clone());
                }
            }
            edits.extend(plan.edits.iter().cloned());
            removed.extend(plan.removed.iter().cloned());
            gone.extend(plan.gone.iter().cloned());
            targets.extend(plan.targets.iter().cloned());
            added.extend(plan.added.iter().cloned());
        }
        match self.removals(&gone, &targets) {
            Ok(more) => edits.extend(more),
            Err(why) => return self.not_fixed(&names, self.own[0], &why),
        }
        if !mounts.is_empty() {
            match self.insert_mounts(&mounts) {
                Some(edit) => edits.push(edit),
                None => {
                    let why = "the command starts with a character BuildKit does not skip before flags (a Unicode space, or a comment line), so a flag there would be part of the command";
                    return self.not_fixed(&names, self.own[0], why);
                }
            }
        }
        let mut message = if mounts.is_empty() {
            format!("the {names} cache mount is defeated in its own RUN")
        } else {
            format!("{names} downloads are not kept in a cache mount")
        };
        if !removed.is_empty() {
            message += &format!(
                "; removes {}, which would defeat the mount",
                removed.join(", ")
            );
        }
        let mut reasons: Vec<&str> = group
            .iter()
            .filter_map(|(_, p)| p.unsafe_reason.as_deref())
            .collect();
        reasons.dedup();
        let applicability = if reasons.is_empty() {
            Applicability::Safe
        } else {
            message += &format!("; unsafe: {}", reasons.join("; "));
            Applicability::Unsafe
        };
        Planned {
            finding: Finding {
                rule: &RULE,
                range: self.own[0].range.clone(),
                message,
                fix: Some(Fix::new(applicability, edits)),
            },
            mounts: added,
        }
    }
}

/// The managers (by their index in the table) one of whose programs has
/// the file name of the program `command` runs: only these can
/// `invocation` find it runs, so the others are not tried.
fn managers_running(command: &RunCommand) -> &'static [usize] {
    static BY_NAME: LazyLock<HashMap<&'static str, Vec<usize>>> = LazyLock::new(|| {
        let mut by_name: HashMap<&'static str, Vec<usize>> = HashMap::new();
        for (index, manager) in transforms::cache_mounts().manager.iter().enumerate() {
            for program in &manager.programs {
                let name = base_name(program.split(' ').next().unwrap_or(program));
                let managers = by_name.entry(name).or_default();
                if !managers.contains(&index) {
                    managers.push(index);
                }
            }
        }
        by_name
    });
    command
        .word(0)
        .and_then(|w| BY_NAME.get(base_name(shell::program(w))))
        .map_or(&[], Vec::as_slice)
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The subcommand (`""` when none is needed) by which `command` runs one of
/// `manager`'s programs to fill its caches.
fn invocation<'m>(manager: &'m CacheManager, command: &RunCommand) -> Option<&'m str> {
    let program = manager.programs.iter().find(|p| {
        p.split(' ').enumerate().all(|(i, part)| {
            command.word(i).map(shell::program).is_some_and(|w| {
                w == part || (i == 0 && w.strip_suffix(part).is_some_and(|d| d.ends_with('/')))
            })
        })
    })?;
    let help = std::cell::Cell::new(false);
    let i = first_operand(command, program.split(' ').count(), |option| {
        help.set(help.get() || matches!(option, "-h" | "--help" | "-v" | "--version" | "-V"));
        manager.options.iter().any(|o| o == option)
    });
    if help.get() {
        return None;
    }
    if manager.subcommands.is_empty() {
        return Some("");
    }
    manager.subcommands.iter().map(String::as_str).find(|s| {
        if s.is_empty() {
            return i >= command.words.len();
        }
        command.words_at(i, s)
    })
}

fn first_words(manager: &CacheManager) -> Vec<&str> {
    manager
        .programs
        .iter()
        .filter_map(|p| p.split(' ').next())
        .map(|p| p.trim_start_matches("./"))
        .collect()
}

fn strs(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

/// Whether a shell word expands variable `var` (`$VAR`, `${VAR}`,
/// `${VAR:-...}`), not one whose name only contains it (`$GNUPGHOME`).
fn names_variable(word: &str, var: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    word.match_indices(&format!("${var}"))
        .any(|(at, m)| !word[at + m.len()..].starts_with(ident))
        || word.contains(&format!("${{{var}}}"))
        || word.contains(&format!("${{{var}:"))
}

/// A path without `.` parts, doubled or trailing slashes (`/root/./.cache/`
/// is `/root/.cache`).
fn normalize(path: &str) -> String {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let joined = parts.join("/");
    if path.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

/// Whether `path` lies strictly inside `dir`.
fn within(path: &str, dir: &str) -> bool {
    path.strip_prefix(dir)
        .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_paths_and_containment() {
        assert!(names_variable("$HOME/.cache", "HOME"));
        assert!(names_variable("\"${HOME}\"", "HOME"));
        assert!(names_variable("${HOME:-/root}", "HOME"));
        assert!(!names_variable("$GNUPGHOME", "HOME"));
        assert!(!names_variable("$HOMEDIR", "HOME"));
        assert_eq!(normalize("/root/./.cache//pip/"), "/root/.cache/pip");
        assert_eq!(normalize("/"), "/");
        assert!(within("/root/.cache/pip", "/root/.cache"));
        assert!(!within("/root/.cache-old", "/root/.cache"));
        assert!(!within("/root/.cache", "/root/.cache"));
    }
}
