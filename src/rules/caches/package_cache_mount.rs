//! DF301 package-cache-mount: a package manager's download cache kept in a
//! BuildKit cache mount, driven by `transforms/cache_mounts.toml`.

use std::collections::{BTreeMap, HashMap};

use super::run_user::{run_user, RunUser};
use crate::edit::Edit;
use crate::facts::apt::{later_lists_use, AptUse};
use crate::facts::commands::{first_operand, instruction_commands, mounts, RunCommand};
use crate::facts::yarn;
use crate::fix::moves::{continuation_style, line_ending};
use crate::fix::remove;
use crate::model::{self, Stage, Variable};
use crate::rules::{Applicability, CacheStyle, Context, Finding, Fix, FixSafety, Rule};
use crate::scope::Scope;
use crate::syntax::{shell, Instruction};
use crate::transforms::{self, CacheDir, CacheManager, YarnRelease};

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
    let stages = model::stages(cx.file);
    let mut findings = Vec::new();
    // Each stage is walked forward from where the stage it builds on ended,
    // carrying the variables set so far and the last USER.
    let mut ends: Vec<(BTreeMap<String, Variable>, Option<&Instruction>)> = Vec::new();
    for (index, stage) in stages.iter().enumerate() {
        let (mut set, mut user) = stage.parent.map(|p| ends[p].clone()).unwrap_or_default();
        for (position, &run) in stage.body.iter().enumerate() {
            // ONBUILD triggers run in another build, whose cache is its own.
            if run.command.name == "run" {
                findings.extend(site_findings(cx, &stages, (index, position), &set, user));
            }
            model::set_variables(&mut set, run);
            if run.command.name == "user" {
                user = Some(run);
            }
        }
        ends.push((set, user));
    }
    findings
}

/// The findings for the RUN at `position` of stage `index`, which sees the
/// variables `set` and runs as the `user` of the last USER before it.
fn site_findings<'f>(
    cx: &Context<'f>,
    stages: &[Stage<'f>],
    (index, position): (usize, usize),
    set: &BTreeMap<String, Variable>,
    user: Option<&Instruction>,
) -> Vec<Finding> {
    let file = cx.file;
    let run = stages[index].body[position];
    let span = run.span();
    let commands = cx.run_commands();
    let first = commands.partition_point(|c| c.range.start < span.start);
    let own: Vec<&RunCommand> = commands[first..]
        .iter()
        .take_while(|c| span.contains(&c.range.start))
        .collect();
    // The managers the RUN runs, each with its commands; the user and
    // the variables are worked out only for a RUN that has some.
    let uses: Vec<Uses> = transforms::cache_mounts()
        .manager
        .iter()
        .map(|manager| {
            let commands = own
                .iter()
                .filter_map(|c| invocation(manager, c).map(|sub| (*c, sub)))
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
    edits: Vec<Edit>,
    removed: Vec<String>,
    /// Commands to remove, by range.
    gone: Vec<std::ops::Range<usize>>,
    /// Why the fix is unsafe, if it is.
    unsafe_reason: Option<String>,
}

impl<'f> Site<'_, 'f> {
    fn findings(&self, uses: &[Uses]) -> Vec<Finding> {
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
        findings.sort_by_key(|f| f.range.start);
        findings
    }

    fn not_fixed(&self, names: &str, at: &RunCommand, why: &str) -> Finding {
        Finding {
            rule: &RULE,
            range: at.range.clone(),
            message: format!("{names} downloads are not kept in a cache mount; not fixed: {why}"),
            fix: None,
        }
    }

    /// One fix for the plans of several managers in this RUN.
    fn group_finding(&self, group: &[(&CacheManager, Plan)]) -> Finding {
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
        Finding {
            rule: &RULE,
            range: self.own[0].range.clone(),
            message,
            fix: Some(Fix::new(applicability, edits)),
        }
    }

    /// The edits that remove the commands at `gone` (or, of an `rm` that
    /// removes more, the paths in `targets`).
    fn removals(
        &self,
        gone: &[std::ops::Range<usize>],
        targets: &[String],
    ) -> Result<Vec<Edit>, String> {
        if gone.is_empty() {
            return Ok(Vec::new());
        }
        let file = self.cx.file;
        let script = shell::parse(file, self.run).expect("the RUN was parsed");
        let commands: Vec<_> = script
            .commands()
            .iter()
            .filter(|c| gone.contains(&c.range))
            .collect();
        let in_cache = |p: &str| {
            let p = normalize(&self.resolve(p).unwrap_or_else(|| p.to_string()));
            let p = p.trim_end_matches("/*");
            targets.iter().any(|t| p == t || within(p, t))
        };
        remove::commands(file, self.run, script, &commands, &in_cache)
    }

    /// The mounts one manager needs in this RUN and the removals that go
    /// with them; `None` when the RUN is left as it is, an error when it is
    /// reported instead.
    fn plan(
        &self,
        manager: &CacheManager,
        uses: &[(&RunCommand, &str)],
    ) -> Result<Option<Plan>, String> {
        if manager
            .disabled_by
            .iter()
            .any(|v| self.vars.contains_key(v))
            || uses.iter().any(|(c, _)| c.has(&strs(&manager.moved_by)))
            || (manager.root_only && !self.user.root)
        {
            return Ok(None);
        }
        if let Some(release) = manager.yarn {
            let berry = yarn::berry(self.cx, self.stages, self.cx.run_commands(), uses[0].0);
            match (release, berry) {
                (YarnRelease::Classic, None) => {}
                (YarnRelease::Berry, Some(why)) if why.starts_with("this looks like") => {}
                (YarnRelease::Classic, Some(why)) if why.starts_with("yarn may be") => {
                    return Err(why)
                }
                _ => return Ok(None),
            }
        }
        if let Some(flag) = uses
            .iter()
            .find_map(|(c, _)| manager.offline.iter().find(|o| c.has(&[o.as_str()])))
        {
            return Err(format!(
                "`{flag}` reads only what the cache holds, so it stays in the image"
            ));
        }
        if let Some(why) = self.offline_use(manager) {
            return Err(format!("{why}, so its cache stays in the image"));
        }
        if let Some(command) = self.own.iter().find(|c| self.moves_cache(manager, c)) {
            return Err(format!(
                "`{}` changes where {} keeps its cache",
                String::from_utf8_lossy(&self.cx.file.source[command.range.clone()]),
                manager.name
            ));
        }
        let existing = mounts(self.run);
        let mut plan = Plan::default();
        for cache in &manager.caches {
            let used = cache.subcommands.is_empty()
                || uses
                    .iter()
                    .any(|(_, sub)| cache.subcommands.iter().any(|s| s == sub));
            if !used {
                continue;
            }
            let target = if cache.output {
                match self.output_target(cache, uses) {
                    Some(target) => target,
                    None => continue,
                }
            } else {
                self.target(manager, cache)?
            };
            let covered = existing.iter().any(|m| {
                let t = m.target.trim_end_matches('/');
                m.kind == "cache" && (t == target || within(&target, t))
            });
            if covered {
                plan.targets.push(target);
                continue;
            }
            // Another mount at or inside the target decides what is there.
            if existing.iter().any(|m| {
                let t = m.target.trim_end_matches('/');
                t == target || within(t, &target) || within(&target, t)
            }) {
                continue;
            }
            if cache.index && !self.fills_index() {
                continue;
            }
            // BuildKit reads a flag's value byte by byte, each byte a
            // character: a target with `é` would mount at `Ã©`, elsewhere.
            if !target.is_ascii() {
                return Err(format!(
                    "BuildKit reads `--mount` values byte by byte, so the cache's directory {target} (not ASCII) cannot be named there"
                ));
            }
            // A blank would end the flag (the rest becoming the command), a
            // comma or a quote would start another field; dockfix writes
            // the value unquoted.
            if target.contains(|c: char| c.is_ascii_whitespace() || ",\"'\\$`".contains(c)) {
                return Err(format!(
                    "the cache's directory {target:?} has a character a `--mount` value cannot hold unquoted"
                ));
            }
            if let Some(line) = self.read_later(&target) {
                return Err(format!(
                    "line {line} reads {target} after this RUN, so it stays in the image"
                ));
            }
            if !self.user.root {
                let parent = target.rsplit_once('/').map_or("", |(p, _)| p);
                let home_is_parent = self.user.home.as_deref() == Some(parent);
                if !(home_is_parent && self.user.home_made) {
                    plan.unsafe_reason = Some(format!(
                        "BuildKit creates missing directories above a mount (such as {parent}) as root, where `{}` cannot write",
                        self.user.name
                    ));
                }
            }
            plan.mounts.push(self.mount(cache, &target));
            plan.targets.push(target);
        }
        if plan.targets.is_empty() {
            return Ok(None);
        }
        self.defeats(manager, uses, &mut plan)?;
        Ok(Some(plan))
    }

    /// Where `cache` is for this RUN.
    fn target(&self, manager: &CacheManager, cache: &CacheDir) -> Result<String, String> {
        for entry in &cache.env {
            let (var, below) = match entry.split_once('/') {
                Some((v, b)) => (v, Some(b)),
                None => (entry.as_str(), None),
            };
            if let Some(variable) = self.vars.get(var) {
                let value = &variable.value;
                if variable.from_arg {
                    return Err(format!("{var} is an ARG, which `--build-arg` can change"));
                }
                if value.contains('$') || !value.starts_with('/') {
                    return Err(format!(
                        "{var} is set to `{value}`, which dockfix cannot resolve"
                    ));
                }
                let value = value.trim_end_matches('/');
                return Ok(match below {
                    Some(b) => format!("{value}/{b}"),
                    None => value.to_string(),
                });
            }
        }
        let dir = match (&cache.root_dir, self.user.root) {
            (Some(root_dir), true) => root_dir,
            _ => &cache.dir,
        };
        let target = match dir.strip_prefix("~/") {
            Some(rest) => {
                let home = self.user.home.as_deref().ok_or_else(|| {
                    format!(
                        "dockfix cannot tell the HOME of user `{}`, where {}'s cache is",
                        self.user.name, manager.name
                    )
                })?;
                format!("{}/{rest}", home.trim_end_matches('/'))
            }
            None => dir.clone(),
        };
        if target.contains(|c: char| c.is_whitespace() || ",\"'=$`\\".contains(c)) {
            return Err(format!(
                "the cache path `{target}` cannot be written in a mount"
            ));
        }
        if !self.user.root && self.user.uid.is_none() {
            return Err(format!(
                "dockfix cannot tell the uid of user `{}`, who must own the cache",
                self.user.name
            ));
        }
        Ok(target)
    }

    /// Where an output cache (Cargo's target/) is, when the RUN copies what
    /// the command built out of it and nothing after the RUN reads it: the
    /// layer then holds only what was copied, as before.
    fn output_target(&self, cache: &CacheDir, uses: &[(&RunCommand, &str)]) -> Option<String> {
        let file = self.cx.file;
        let (last, _) = uses
            .iter()
            .rfind(|(_, sub)| cache.subcommands.iter().any(|s| s == sub))?;
        // `cd` would move the relative directory.
        if self.own.iter().any(|c| c.word(0) == Some("cd")) {
            return None;
        }
        let workdir = Scope::at(self.stages, self.index, self.run.span().start).workdir?;
        let target = match cache.env.iter().find_map(|v| self.vars.get(v)) {
            Some(variable) if variable.from_arg || !variable.value.starts_with('/') => return None,
            Some(variable) => normalize(&variable.value),
            None => normalize(&format!("{workdir}/{}", cache.dir)),
        };
        let relative = target
            .strip_prefix(&format!("{}/", workdir.trim_end_matches('/')))
            .map(String::from);
        let names = |word: &str| {
            let word = word.trim_start_matches("./");
            word.starts_with(&format!("{target}/"))
                || relative
                    .as_ref()
                    .is_some_and(|r| word.starts_with(&format!("{r}/")))
        };
        let copies_out = self
            .own
            .iter()
            .filter(|c| c.range.start > last.range.start)
            .filter(|c| matches!(c.word(0), Some("cp" | "mv" | "install")))
            .any(|c| {
                c.words[1..]
                    .iter()
                    .any(|(w, _)| w.as_deref().is_some_and(names))
            });
        let read_later = model::later_runs(self.stages, self.index, self.position).any(|r| {
            let text = String::from_utf8_lossy(&file.source[r.span()]).into_owned();
            text.contains(&target)
                || relative
                    .as_ref()
                    .is_some_and(|r| text.contains(&format!("{r}/")))
        });
        (copies_out && !read_later && self.read_later(&target).is_none()).then_some(target)
    }

    /// The `--mount` flag for `cache` at `target`.
    fn mount(&self, cache: &CacheDir, target: &str) -> String {
        let mut flag = format!("--mount=type=cache,id={}", cache.id);
        // An output directory belongs to its project, not to the manager.
        if cache.output {
            flag += &target.replace('/', "-");
        }
        let owner = (!self.user.root).then_some(self.user.uid).flatten();
        if let Some(uid) = owner {
            flag += &format!("-{uid}");
        }
        flag += &format!(",target={target}");
        if let Some(sharing) = &cache.sharing {
            flag += &format!(",sharing={sharing}");
        }
        if let Some(uid) = owner {
            flag += &format!(",uid={uid}");
            if let Some(gid) = self.user.gid {
                flag += &format!(",gid={gid}");
            }
        }
        flag
    }

    /// Whether the RUN fills apt's lists itself before it uses them, and
    /// no later RUN installs from what it leaves.
    fn fills_index(&self) -> bool {
        let file = self.cx.file;
        let own = AptUse::of(file, self.run)
            .is_some_and(|u| u.readable && u.updates && u.needs_lists.is_none());
        own && later_lists_use(self.cx, self.index, self.position).is_none()
    }

    /// Why the RUN, or a later one, can use only what the manager's cache
    /// holds: an offline option or setting, or no network.
    fn offline_use(&self, manager: &CacheManager) -> Option<String> {
        let file = self.cx.file;
        let no_network = |run: &Instruction| {
            run.command
                .flags
                .iter()
                .any(|f| f.name() == "network" && f.value() == Some("none"))
        };
        if no_network(self.run) {
            return Some("the RUN has no network (`--network=none`)".into());
        }
        let setting = |instruction: &Instruction| {
            manager
                .offline_env
                .iter()
                .find(|e| instruction.mentions(&file.source, &[e.as_str()]))
                .map(|setting| format!("`{setting}` keeps {} offline", manager.name))
        };
        let runs_manager =
            |run: &Instruction| run.names_program(&file.source, &first_words(manager));
        // An ENV or ARG anywhere, the RUN, or a later RUN of the manager
        // that sets it.
        let set = self.cx.file_fact(
            &format!("ENV or ARG keeps {} offline", manager.name),
            || {
                file.instructions()
                    .filter(|i| matches!(i.command.name.as_str(), "env" | "arg"))
                    .find_map(setting)
            },
        );
        if let Some(why) = set.or_else(|| setting(self.run)) {
            return Some(why);
        }
        let later = |key: &str, test: &dyn Fn(&'f Instruction) -> Option<String>| {
            self.cx
                .first_later(&format!("{key} {}", manager.name), |run| {
                    runs_manager(run).then(|| test(run)).flatten()
                })
                .after(self.index, self.position)
                .map(|(_, why)| why.clone())
        };
        if let Some(why) = later("a later RUN's setting keeps offline", &setting) {
            return Some(why);
        }
        later("a later RUN is offline", &|run| {
            let line = run.start_line;
            if no_network(run) {
                return Some(format!("line {line} runs {} without network", manager.name));
            }
            let offline = instruction_commands(file, run, 0)
                .iter()
                .filter(|c| invocation(manager, c).is_some())
                .any(|c| c.has(&strs(&manager.offline)));
            offline.then(|| format!("line {line} reads only what the cache holds"))
        })
    }

    /// Whether a command of the RUN moves the manager's cache (`HOME=`,
    /// `export PIP_CACHE_DIR=`, `pip config set`).
    fn moves_cache(&self, manager: &CacheManager, command: &RunCommand) -> bool {
        let text = String::from_utf8_lossy(&self.cx.file.source[command.range.clone()]);
        let variables = manager
            .caches
            .iter()
            .flat_map(|c| &c.env)
            .map(|e| e.split('/').next().unwrap_or(e))
            .chain(["HOME"]);
        let sets = |var: &str| {
            text.match_indices(&format!("{var}=")).any(|(at, _)| {
                at == 0 || !text[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_')
            })
        };
        variables.into_iter().any(sets)
            || manager
                .config_commands
                .iter()
                .any(|c| command.words_at(0, c))
    }

    /// The line of a later instruction that reads `target` from the image:
    /// a RUN naming it, or a COPY, ADD or RUN mount taking it (or a
    /// directory above it, which may exist only for the cache) from this
    /// stage.
    fn read_later(&self, target: &str) -> Option<usize> {
        let file = self.cx.file;
        // Its shell, not its flags (a later RUN may mount the same cache),
        // and not an `rm`, which reads nothing.
        let shell_mentions = |run: &Instruction| {
            let text = |range: std::ops::Range<usize>| {
                String::from_utf8_lossy(&file.source[range]).into_owned()
            };
            if !run.mentions(&file.source, &[target]) {
                return false;
            }
            let mentioned = std::iter::once(text(run.args_range()))
                .chain(run.heredocs.iter().map(|h| text(h.body.clone())))
                .any(|t| t.contains(target));
            let commands = instruction_commands(file, run, self.index);
            mentioned
                && (commands.is_empty()
                    || commands
                        .iter()
                        .any(|c| c.word(0) != Some("rm") && text(c.range.clone()).contains(target)))
        };
        let mentions = self
            .cx
            .first_later(&format!("a RUN's shell reads {target}"), |r| {
                shell_mentions(r).then(String::new)
            });
        if let Some((run, _)) = mentions.after(self.index, self.position) {
            return Some(run.start_line);
        }
        let stage = &self.stages[self.index];
        let reads = |path: &str| {
            let path = path.trim_end_matches('/');
            let above = within(target, path)
                && path.matches('/').count() >= 2
                && self.user.home.as_deref() != Some(path);
            path == target || within(path, target) || above
        };
        let taken = taken_from_stages(self.cx);
        stage
            .name
            .iter()
            .cloned()
            .chain([self.index.to_string()])
            .filter_map(|name| {
                taken
                    .get(&name.to_lowercase())?
                    .iter()
                    .find(|(paths, _)| paths.iter().any(|p| reads(p)))
                    .map(|(_, line)| *line)
            })
            .min()
    }

    /// Adds to `plan` the removal of what would empty its mounts.
    fn defeats(
        &self,
        manager: &CacheManager,
        uses: &[(&RunCommand, &str)],
        plan: &mut Plan,
    ) -> Result<(), String> {
        let file = self.cx.file;
        for (command, _) in uses {
            for (word, range) in &command.words[1..] {
                let Some(word) = word else { continue };
                let Some(defeat) = manager.defeat_flags.iter().find(|d| &d.flag == word) else {
                    continue;
                };
                plan.removed.push(format!("`{word}`"));
                plan.edits.push(match &defeat.replace {
                    Some(replacement) => Edit::replace(range.clone(), replacement.clone()),
                    None => Edit::replace(remove::word(file, self.run, range.clone())?, ""),
                });
            }
        }
        let mut gone = Vec::new();
        for command in self.own {
            let cleans = manager
                .defeat_commands
                .iter()
                .any(|d| command.words_at(0, d));
            let rm = command.word(0) == Some("rm");
            let mut removes = false;
            if rm {
                for (word, range) in &command.words[1..] {
                    let raw = String::from_utf8_lossy(&file.source[range.clone()]).into_owned();
                    let path = match word {
                        Some(w) if w.starts_with('-') => continue,
                        Some(w) if w.starts_with('~') => match self.resolve(w) {
                            Some(path) => path,
                            None => {
                                return Err(format!(
                                    "`rm {raw}` may empty the cache, and dockfix cannot resolve it"
                                ))
                            }
                        },
                        Some(w) => w.clone(),
                        None => match self.resolve(&raw) {
                            Some(path) => path,
                            None => {
                                let named = manager
                                    .caches
                                    .iter()
                                    .flat_map(|c| &c.env)
                                    .map(|e| e.split('/').next().unwrap_or(e))
                                    .chain(["HOME"])
                                    .any(|var| names_variable(&raw, var));
                                if named || raw.starts_with('~') {
                                    return Err(format!(
                                    "`rm {raw}` may empty the cache, and dockfix cannot resolve it"
                                ));
                                }
                                continue;
                            }
                        },
                    };
                    let path = normalize(&path);
                    // A pattern may name the cache or what holds it.
                    if let Some(at) = path.find(['*', '?', '[']) {
                        let fixed = &path[..at];
                        if plan
                            .targets
                            .iter()
                            .any(|t| t.starts_with(fixed) && !fixed.starts_with(&format!("{t}/")))
                            && !path.ends_with("/*")
                        {
                            return Err(format!("`rm {raw}` may remove the cache"));
                        }
                    }
                    let path = path.trim_end_matches("/*").to_string();
                    for target in &plan.targets {
                        if within(target, &path) {
                            return Err(format!(
                                "`rm {raw}` removes the directory that holds the cache"
                            ));
                        }
                        if path == *target || within(&path, target) {
                            removes = true;
                        }
                    }
                }
            }
            if cleans || removes {
                plan.removed.push(format!(
                    "`{}`",
                    String::from_utf8_lossy(&file.source[command.range.clone()])
                ));
                gone.push(command.range.clone());
            }
        }
        // Removing them alone must work; with the other managers' removals
        // it is checked again.
        self.removals(&gone, &plan.targets)?;
        plan.gone = gone;
        Ok(())
    }

    /// A word as the shell expands it, where the Dockerfile tells: `~/`
    /// and variables it sets (see `expand`).
    fn resolve(&self, raw: &str) -> Option<String> {
        let home = || self.user.home.as_deref();
        match raw {
            "~" | "~/" => home().map(String::from),
            _ => match raw.strip_prefix("~/") {
                Some(rest) => Some(format!("{}/{rest}", home()?.trim_end_matches('/'))),
                None => self.expand(raw),
            },
        }
    }

    /// A word that is a variable the Dockerfile sets to a plain path, with
    /// a path after it (`$POETRY_CACHE_DIR`, `"${HOME}/.npm"`), as the shell
    /// expands it.
    fn expand(&self, raw: &str) -> Option<String> {
        let word = raw.trim_matches('"');
        let rest = word.strip_prefix('$')?;
        let (name, after) = match rest.strip_prefix('{') {
            Some(braced) => braced.split_once('}')?,
            None => {
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                rest.split_at(end)
            }
        };
        let value = match name {
            "HOME" => self.user.home.clone()?,
            _ => self.vars.get(name)?.value.clone(),
        };
        let plain = |s: &str| !s.contains(['$', '`', '"', '\\', '*', '?', '[']);
        let glob_free = after.strip_suffix("/*").unwrap_or(after);
        (plain(&value) && plain(glob_free) && value.starts_with('/'))
            .then(|| format!("{value}{after}"))
    }

    /// The edit that puts `mounts` before the RUN's flags and arguments: on
    /// the RUN's line, or one per line when the RUN is continued.
    /// None when BuildKit would not read flags where they would go: it
    /// takes them from just after the blanks that follow `RUN`, so a
    /// command set apart by a Unicode space (or a comment line) there would
    /// take the flag as its own first word.
    fn insert_mounts(&self, mounts: &[String]) -> Option<Edit> {
        let file = self.cx.file;
        let run = self.run;
        let at = match run.command.flags.first() {
            Some(flag) => run.file_range(flag.range.clone()).start,
            None => {
                let at = run.args_range().start;
                let escape = file.escape;
                let between = &file.source[run.keyword_range().end..at];
                if !between
                    .iter()
                    .all(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n') || b == escape)
                {
                    return None;
                }
                at
            }
        };
        let continued = run
            .lines
            .iter()
            .filter(|l| matches!(l.kind, crate::syntax::LineKind::Code { .. }))
            .count()
            > 1;
        let text = if continued {
            let eol = line_ending(file, run);
            let (indent, _) = continuation_style(file, run);
            let escape = file.escape as char;
            mounts
                .iter()
                .map(|m| format!("{m} {escape}{eol}{indent}"))
                .collect::<String>()
        } else {
            mounts.iter().map(|m| format!("{m} ")).collect()
        };
        // The blank before the flags is taken and put back, so a fix that
        // removes what precedes them (DF205 merging this RUN into the one
        // before) overlaps this one and waits for the next round.
        let blank = String::from_utf8_lossy(&file.source[at - 1..at]).into_owned();
        Some(Edit::replace(at - 1..at, blank + &text))
    }
}

/// The subcommand (`""` when none is needed) by which `command` runs one of
/// `manager`'s programs to fill its caches.
fn invocation<'m>(manager: &'m CacheManager, command: &RunCommand) -> Option<&'m str> {
    let program = manager.programs.iter().find(|p| {
        p.split(' ').enumerate().all(|(i, part)| {
            command
                .word(i)
                .map(shell::program)
                .is_some_and(|w| w == part || (i == 0 && w.ends_with(&format!("/{part}"))))
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

type TakenFromStages = HashMap<String, Vec<(Vec<String>, usize)>>;

/// What the COPY and ADD instructions and RUN mounts of the file take from
/// other stages: by the stage named in `--from` (lower-cased), the paths
/// each takes and its line, in file order. Read once per file.
fn taken_from_stages(cx: &Context) -> std::rc::Rc<TakenFromStages> {
    cx.file_fact("what COPY, ADD and mounts take from stages", || {
        let mut taken = TakenFromStages::new();
        for i in cx.file.instructions() {
            let command = i.command.sub.as_deref().unwrap_or(&i.command);
            let from = command
                .flags
                .iter()
                .find(|f| f.name() == "from")
                .and_then(|f| f.value());
            if let (true, Some(from)) = (matches!(command.name.as_str(), "copy" | "add"), from) {
                if let Some((_, sources)) = command.values.split_last() {
                    let entry = taken.entry(from.to_lowercase()).or_default();
                    entry.push((sources.to_vec(), i.start_line));
                }
            }
            for mount in mounts(i) {
                if let Some(from) = &mount.from {
                    let source = mount.source.clone().unwrap_or_else(|| "/".into());
                    let entry = taken.entry(from.to_lowercase()).or_default();
                    entry.push((vec![source], i.start_line));
                }
            }
        }
        std::rc::Rc::new(taken)
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
