//! DF101 install-before-copy: install dependencies from their manifests
//! before copying the whole build context.

use std::ops::Range;

use super::copy_passes::{
    apart, command_passes, copy_passes, names_archive, settings_naming_files, touched_inside, under,
};
use crate::cache::Cost;
use crate::deps::{cargo, readers, DepCommand, Role};
use crate::dockerignore::DockerIgnore;
use crate::edit::Edit;
use crate::facts::copies::{self, full_copy, FullCopy, INERT};
use crate::fix::{keyword_like, moves};
use crate::model::{self, Stage};
use crate::rules::promise;
use crate::rules::{Append, Applicability, Context, Finding, Fix, FixSafety, Rule};
use crate::scope::{absolute, Scope};
use crate::syntax::shell::{self, SimpleCommand};
use crate::syntax::{Dockerfile, Instruction, LineKind};
use crate::transforms::{Ecosystem, Reader};

pub static RULE: Rule = Rule {
    id: "DF101",
    name: "install-before-copy",
    summary: "dependencies install after the whole build context is copied",
    fix_title: "Install dependencies from their manifests before the whole build context is copied",
    effect: "dependency install now cached across source edits: only a manifest or lockfile change reruns it",
    fix_safety: FixSafety::Sometimes,
    cache_style: None,
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF101 install-before-copy

## What it does
Finds a dependency install (`npm ci`, `pip install -r requirements.txt`,
`bundle install`, ...) that runs after `COPY . .` (or `ADD . /app`, any
copy of the whole build context), and moves it before that copy, preceded
by a COPY of exactly the files the install reads: the manifests, the
lockfiles and settings files present in the build context, and for pip
every requirement file the named ones include. For Go, where only
`go build` follows, it inserts `go mod download` after copying
go.mod/go.sum (for Maven, .NET, Gradle and cargo likewise). Which commands install and which files they read is data:
`transforms/ecosystems.toml`.

## Why
A COPY step is rebuilt whenever any copied file changes, and so is every
step after it. With the install after `COPY . .`, editing one line of source
reinstalls every dependency; with the manifests copied and installed first,
the install stays cached until a manifest changes.

## Example
```dockerfile
WORKDIR /app
COPY . .
RUN npm ci
```
becomes
```dockerfile
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
```
Comment lines directly above the install move with it. An install sharing
its RUN with later commands (`npm ci && npm run build`) is split: the
install moves, the rest stays after the full copy.

## Fix safety
The fix is safe, and offered only when dockfix has read the build context
(`--context`, by default the Dockerfile's directory) and found that the
install reads nothing but the files it copies first. Otherwise the finding
names the reason and nothing is changed: no build context; a manifest
missing or excluded by `.dockerignore`; an npm lifecycle script
(`preinstall`, `install`, `postinstall`, `prepare`) or a local-path
dependency, in the package or a workspace member; a workspace member
with a `bin` (linked to a file of its sources), a workspace pattern other
than names and `*` (`packages/**`), or more than eight members; an
editable or local pip requirement, or a pip flag naming a path the copy
may write (`-f ./wheels`, `--target /app/lib`); a setting
the Dockerfile gives the tool through its environment (`PIP_CONSTRAINT`,
`NPM_CONFIG_USERCONFIG`, ...) that may name a file; a Go module
replaced by a local directory; a `node_modules` directory in the context
that the full copy would put over the installed one (add it to
`.dockerignore`); an instruction between the copy and the install that
dockfix cannot show to be independent of the copy; an install that runs
in another directory than the copy's destination (but for pip given
only absolute requirement paths, `pip install -r /src/requirements.txt`),
or after other commands in its RUN. Last, the rewrite is checked with the
build cache model `dockfix cache` prints: a source edit must leave more
of the stage's dependency installs cached, and rerun no more of them,
or the finding says the model cannot confirm the fix.

Gradle and cargo get an unsafe fix. Gradle's build scripts are code that
may read any file while Gradle configures the build: the download step
(`gradle dependencies`) runs them with only the settings and build
scripts, `gradle.properties`, `gradle/` and `buildSrc/` copied, and a
multi-project build is reported. cargo refuses a manifest whose crate has
no sources: the download step copies every crate's manifest (workspace
members and path dependencies) and the lockfile, gives each crate an empty
`src/lib.rs` and each target declared without a path an empty file where
cargo looks for it (`examples/x.rs`), runs `cargo fetch` and removes the
stubs (and the lockfile it wrote when the context has none), with the
build's cache mounts so the download lands where the build looks; a
workspace of more than eight crates (where cargo-chef is the usual
answer) is reported. The build itself stays after the full copy.

Instructions between the copy and the install stay where they are and
the copy moves down to follow the install, the manifests' COPY taking its
place, when none reads or writes what the copy writes or changes what it
does: a WORKDIR outside the destination (or the destination itself), ENV
and ARG that set no variable the copy reads, USER, a COPY elsewhere, and a
RUN that only installs system packages or runs commands that name every
path they touch outside the destination (`python -m venv /opt/venv`,
`pip install flask`, `npm install -g pm2`, `useradd app`).

A workspace (package.json's `workspaces`, pnpm-workspace.yaml's
`packages`) gets every member's manifest copied to its place, and each
member's `node_modules` added to `.dockerignore` when it is not excluded.

An install in a subdirectory of the copy's destination (`COPY . /app`,
`WORKDIR /app/web`, `RUN npm ci`, or `RUN cd web && npm ci`, the `cd`
moving with the install and staying with the rest of the RUN) gets that
directory's manifests, copied to it, and a moved copy with a relative destination has it written out
(`COPY . /srv/`), since the WORKDIR it now follows would change it. Only
for ecosystems whose reads from the directories above are known
(`parent_files` in the table): a workspace root (a package.json declaring
workspaces) or one of those files above the install's directory is
reported.

poetry's first install gets `--no-root` unless `pyproject.toml` turns
package mode off (then it moves as it is), and the readme files
`pyproject.toml` names are copied with the manifests, since poetry opens
them as it reads the project.
";

fn check(cx: &Context) -> Vec<Finding> {
    let stages = cx.stages();
    let mut findings = Vec::new();
    for (index, stage) in stages.iter().enumerate() {
        // Ecosystems already installed in this stage chain before a full copy.
        let mut installed: Vec<&str> = model::lineage(stages, index)
            .skip(1)
            .flat_map(|s| s.each(&["run"]).flat_map(|(_, i)| dep_commands(cx, i)))
            .filter(|(d, _)| d.role == Role::Install)
            .map(|(d, _)| d.ecosystem.name.as_str())
            .collect();
        // Each full copy is judged with the installs of the RUNs before it.
        let mut runs = stage.each(&["run"]).peekable();
        for &position in &cx.full_copies()[index] {
            while let Some((_, run)) = runs.next_if(|&(at, _)| at < position) {
                for (dep, _) in dep_commands(cx, run) {
                    if dep.role == Role::Install {
                        installed.push(dep.ecosystem.name.as_str());
                    }
                }
            }
            if let Some(copy) = full_copy(stage.body[position]) {
                if let Some(finding) = examine(cx, stages, index, position, &copy, &installed) {
                    findings.push(finding);
                }
            }
        }
    }
    findings
}

/// Whether `instruction` installs dependencies from their manifests (or
/// builds what they name): what this rule moves.
pub fn installs_from_manifests(cx: &Context, instruction: &Instruction) -> bool {
    !dep_commands(cx, instruction).is_empty()
}

/// The dependency commands of a RUN, with their file ranges. Words that are
/// not literal (quotes, variables) are not read.
fn dep_commands<'a>(
    cx: &'a Context,
    instruction: &Instruction,
) -> Vec<(DepCommand<'a>, Range<usize>)> {
    let file = cx.file;
    let command = &instruction.command;
    if command.name != "run" {
        return Vec::new();
    }
    if command.json {
        let range = instruction.args_range();
        return accept(cx.ecosystems().recognise(&command.values))
            .map(|d| (d, range))
            .into_iter()
            .collect();
    }
    if !instruction.mentions(&file.source, cx.ecosystems().first_words()) {
        return Vec::new();
    }
    let Some(script) = shell::parse(file, instruction) else {
        return Vec::new();
    };
    script
        .commands()
        .iter()
        .filter_map(|c| {
            let words = c.literal_words(&file.source)?;
            accept(cx.ecosystems().recognise(&words)).map(|d| (d, c.range.clone()))
        })
        .collect()
}

/// An install that names packages installs those, not the manifests;
/// pip installs from manifests when given requirement files. One that
/// installs the project itself (`npm install -g`) needs the sources.
fn accept(dep: Option<DepCommand>) -> Option<DepCommand> {
    let dep = dep?;
    if dep.ecosystem.project_flags.iter().any(|f| dep.has_flag(f)) {
        return None;
    }
    let manifest_install = match (dep.role, dep.ecosystem.reader) {
        (Role::Build, _) => true,
        (Role::Install, Some(Reader::Pip)) => !dep.flag_values(&["-r", "--requirement"]).is_empty(),
        (Role::Install, _) => dep.ecosystem.names_files || dep.positional().is_empty(),
    };
    manifest_install.then_some(dep)
}

/// How the install's RUN is rearranged.
enum Plan {
    /// The whole RUN moves.
    Move,
    /// The install commands in `moved` go into a RUN of their own; all of
    /// the RUN after its keyword is cut but for the pieces `written_back`,
    /// which stay: the commands after the install, or those before it that
    /// only change the files they name inside the copy's destination
    /// (`chmod +x entrypoint.sh`), which touch `kept`. As the cut covers
    /// the whole RUN, an edit another fix makes in it (a cleanup appended
    /// after the install, a cache mount before its command) overlaps and
    /// waits for the next round, which finds the install where it moved.
    Split {
        moved: Range<usize>,
        written_back: Vec<Range<usize>>,
        kept: Vec<String>,
    },
    /// Only a build follows: insert this download (the ecosystem's
    /// prefetch command).
    Prefetch { command: String },
    /// Install before the full copy with the ecosystem's prepare flags
    /// (composer: no scripts, no autoloader; poetry: not the project
    /// itself), after the RUN's commands before it (`poetry config ...`);
    /// the original install stays after the copy, finds everything
    /// installed, and does what needs the sources.
    Prepare {
        leading: Range<usize>,
        install: Range<usize>,
    },
}

fn examine(
    cx: &Context,
    stages: &[Stage],
    index: usize,
    position: usize,
    copy: &FullCopy,
    installed: &[&str],
) -> Option<Finding> {
    let stage = &stages[index];
    let mut between: Vec<&Instruction> = Vec::new();
    let (target, deps) = stage.body[position + 1..].iter().find_map(|next| {
        let deps = dep_commands(cx, next);
        let fresh = deps
            .iter()
            .any(|(d, _)| !installed.contains(&d.ecosystem.name.as_str()));
        if fresh {
            Some((*next, deps))
        } else {
            between.push(next);
            None
        }
    })?;
    if full_copy(between.first().copied().unwrap_or(target)).is_some() && !between.is_empty() {
        return None;
    }
    let (dep, dep_range) = deps
        .into_iter()
        .find(|(d, _)| !installed.contains(&d.ecosystem.name.as_str()))?;
    let eco = dep.ecosystem;
    let verb = if dep.role == Role::Install {
        "installs"
    } else {
        "downloads its dependencies"
    };
    let message = format!(
        "{} {verb} after the whole build context is copied (line {}), so any source edit reruns it",
        eco.name, copy.instruction.start_line
    );
    let report = |why: String| Finding {
        rule: &RULE,
        range: target.keyword_range(),
        message: format!("{message}; not fixed: {why}"),
        fix: None,
    };
    // With only inert instructions between, the install moves up to the
    // copy; else the copy moves down to the install, past them.
    let copy_moves = between
        .iter()
        .any(|i| !INERT.contains(&i.command.name.as_str()));
    let scope = cx.scope_at(index, copy.instruction.span().start);
    let dest = copies::destination(&scope, &copy.dest);
    let at_target = cx.scope_at(index, target.span().start);
    if copy_moves {
        let Some(dest) = &dest else {
            return Some(report(format!(
                "instructions sit between the copy and the install, and dockfix cannot know where the copy goes (line {})",
                copy.instruction.start_line
            )));
        };
        // The manifests' COPY makes the directory the install runs in when
        // that lies inside the destination (WORKDIR /app/web), else the
        // destination.
        let made = match at_target.workdir.as_deref() {
            Some(cwd) if under(cwd, dest) => cwd,
            _ => dest,
        };
        if let Err(why) = copy_passes(cx, index, copy, dest, &between, Some(made)) {
            return Some(report(why));
        }
    }
    let blind =
        |command: &SimpleCommand| command_passes(cx.file, &at_target, command, dest.as_deref());
    let stays =
        |command: &SimpleCommand| touched_inside(cx.file, &at_target, command, dest.as_deref()?);
    // Where the install runs: the RUN's working directory, or where its
    // leading `cd` goes.
    let cd = cd_first(cx.file, target, &dep_range);
    let mut at_install = at_target.clone();
    if let Some(dir) = &cd {
        at_install.workdir = absolute(dir, at_target.workdir.as_deref());
    }
    // A poetry project without a package (package-mode = false) in the
    // install's directory needs no sources: its install moves whole.
    let projectless = dep.ecosystem.reader == Some(Reader::Poetry)
        && cx.build_context.is_some_and(|root| {
            project_dir(copy, dest.as_deref(), &scope, &at_install, &dep)
                .is_ok_and(|sub| readers::poetry_without_package(&root.join(sub)))
        });
    let mut plan = match plan(cx, target, &dep, dep_range, projectless, &blind, &stays) {
        Ok(plan) => plan,
        Err(why) => return Some(report(why)),
    };
    let Some(root) = cx.build_context else {
        return Some(report(
            "there is no build context to read the manifests from (use --context)".into(),
        ));
    };
    if let Some(var) = settings_naming_files(&at_target, &eco.settings_env, dest.as_deref()) {
        return Some(report(format!(
            "the Dockerfile sets {var}, a {} setting that may name a file the install then reads",
            eco.name
        )));
    }
    let Needs {
        files,
        stubs,
        created,
    } = match needed_files(
        root,
        &cx.dockerignore(),
        copy,
        dest.as_deref(),
        &scope,
        &at_install,
        &dep,
    ) {
        Ok(needs) => needs,
        Err(why) => return Some(report(why)),
    };
    // What stays behind in the RUN must not touch what the install reads
    // or writes.
    if let (Plan::Split { kept, .. }, Some(dest)) = (&plan, dest.as_deref()) {
        let base = copies::normalize(dest);
        let install_paths: Vec<String> = files
            .iter()
            .chain(&created)
            .map(|f| format!("{base}/{}", f.trim_end_matches('/')))
            .collect();
        for path in kept {
            if let Some(clash) = install_paths.iter().find(|p| !apart(path, p)) {
                return Some(report(format!(
                    "the install runs after a command in the same RUN that changes {path}, and the install reads or writes {clash}"
                )));
            }
        }
    }
    let ignore = match to_ignore(cx, root, &created) {
        Ok(ignore) => ignore,
        Err(why) => return Some(report(why)),
    };
    // Files an earlier COPY already put where the install reads them
    // (`COPY package*.json ./`) are not copied twice.
    let copied = dest
        .as_deref()
        .map(|dest| copied_before(cx, stages, index, copy, &files, dest))
        .unwrap_or_default();
    let to_copy: Vec<String> = files
        .iter()
        .filter(|f| !copied.contains(f))
        .cloned()
        .collect();
    if let (Plan::Prefetch { command }, Some(crates)) = (&mut plan, &stubs) {
        let locked = files.iter().any(|f| f == "Cargo.lock");
        *command = cargo::fetch_with_stubs(command, crates, locked);
    }
    // A relative destination, moved past a WORKDIR, is written out.
    let relative = scope.expand(&copy.dest).is_none_or(|d| !d.starts_with('/'));
    let moved_dest = match dest.as_deref() {
        Some(dest) if copy_moves && relative && at_target.workdir != scope.workdir => Some(
            format!("{}/", copies::normalize(dest).trim_end_matches('/')),
        ),
        _ => None,
    };
    let moving = copy_moves.then_some(moved_dest.as_deref());
    let checked = edits(cx.file, copy, target, &to_copy, &plan, eco, moving).and_then(|edits| {
        promise::more_cached(cx, index, &edits, Cost::DependencyInstall).map(|()| edits)
    });
    match checked {
        Ok(edits) => {
            let applicability = match eco.unsafe_fix {
                Some(_) => Applicability::Unsafe,
                None => Applicability::Safe,
            };
            let mut fix = Fix::new(applicability, edits);
            let mut message = if to_copy.is_empty() {
                format!(
                    "{message}; {} before it (an earlier COPY already copies {})",
                    plan.verb(),
                    list(&files)
                )
            } else {
                format!(
                    "{message}; copy {} first and {} before it",
                    list(&to_copy),
                    plan.verb()
                )
            };
            if !ignore.is_empty() {
                message += &format!(", and add {} to .dockerignore", list(&ignore));
                fix.appends.push(Append {
                    path: root.join(".dockerignore"),
                    lines: ignore,
                });
            }
            if let Some(why) = &eco.unsafe_fix {
                message += &format!("; the fix is unsafe: {why}");
            }
            Some(Finding {
                rule: &RULE,
                range: target.keyword_range(),
                message,
                fix: Some(fix),
            })
        }
        Err(why) => Some(report(why)),
    }
}

impl Plan {
    fn verb(&self) -> &'static str {
        match self {
            Plan::Prefetch { .. } => "download",
            _ => "install",
        }
    }
}

/// `a`, `a and b`, `a, b and c`.
fn list(files: &[String]) -> String {
    match files {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// How the install's RUN is rearranged. Commands before the install in
/// its RUN move with it when `blind` shows they do not touch what the copy
/// writes (`set -e`, `apk add git`, `pip install --upgrade pip`); a RUN
/// that changes directory first (`cd_first`) moves its `cd` with the
/// install and keeps it with the rest. `projectless` says there is no
/// package to install from the sources.
fn plan(
    cx: &Context,
    target: &Instruction,
    dep: &DepCommand,
    dep_range: Range<usize>,
    projectless: bool,
    blind: &dyn Fn(&SimpleCommand) -> Result<(), String>,
    stays: &dyn Fn(&SimpleCommand) -> Option<Vec<String>>,
) -> Result<Plan, String> {
    // cargo cannot fetch without sources: its own fetch, too, becomes a
    // download on stub sources before the full copy.
    if dep.role == Role::Build || dep.ecosystem.reader == Some(Reader::Cargo) {
        let command = dep
            .ecosystem
            .prefetch
            .clone()
            .ok_or("the ecosystem has no prefetch command")?;
        return Ok(Plan::Prefetch { command });
    }
    let flags = &dep.ecosystem.prepare_flags;
    let prepare = !flags.is_empty() && !flags.iter().all(|f| dep.has_flag(f)) && !projectless;
    if prepare && target.command.json {
        return Ok(Plan::Prepare {
            leading: dep_range.start..dep_range.start,
            install: dep_range,
        });
    }
    if target.command.json {
        return Ok(Plan::Move);
    }
    if !target.heredocs.is_empty() {
        return Err("the install is in a heredoc RUN, which dockfix does not split yet".into());
    }
    let file = cx.file;
    let cd = cd_first(file, target, &dep_range).is_some();
    let script = shell::parse(file, target).ok_or("dockfix cannot read the RUN's shell")?;
    let commands = script.commands();
    let start = commands
        .iter()
        .position(|c| c.range == dep_range)
        .ok_or("the RUN has no command")?;
    let same_install = |c: &SimpleCommand| {
        c.literal_words(&file.source)
            .and_then(|w| accept(cx.ecosystems().recognise(&w)))
            .is_some_and(|d| d.role == Role::Install && std::ptr::eq(d.ecosystem, dep.ecosystem))
    };
    let own_cleanup = |c: &SimpleCommand| {
        c.literal_words(&file.source).is_some_and(|words| {
            dep.ecosystem.cleanup.iter().any(|prefix| {
                let prefix: Vec<&str> = prefix.split_whitespace().collect();
                words.len() >= prefix.len() && prefix.iter().zip(&words).all(|(p, w)| p == w)
            })
        })
    };
    // The whole RUN moves when nothing else in it touches what the copy
    // writes (`apk add --virtual .deps make && bundle install && apk del
    // .deps`).
    let whole = !prepare
        && script.redirects().is_empty()
        && !script.has_error()
        && commands.iter().enumerate().all(|(i, c)| {
            i == start || cd && i == 0 || same_install(c) || own_cleanup(c) || blind(c).is_ok()
        });
    if whole {
        return Ok(Plan::Move);
    }
    // An install that needs the sources gets a prepare step, never a move.
    if !prepare {
        if let Some(plan) = install_last(target, script, start, dep, &same_install, stays)? {
            return Ok(plan);
        }
    }
    for command in &commands[usize::from(cd)..start] {
        let name = command
            .name
            .clone()
            .map(|r| crate::syntax::lossy(&file.source[r]).into_owned());
        let why = match blind(command) {
            Err(why) => why,
            Ok(()) if !script.redirects().is_empty() => "redirects output".into(),
            Ok(()) => continue,
        };
        return Err(format!(
            "the install runs after `{}` in the same RUN: it {why}",
            name.unwrap_or_default()
        ));
    }
    if prepare {
        return Ok(Plan::Prepare {
            leading: commands[0].range.start..dep_range.start,
            install: dep_range,
        });
    }
    let leading = start
        + commands[start..]
            .iter()
            .take_while(|c| same_install(c))
            .count();
    // The install's own cache cleanup belongs in its layer.
    let leading = leading
        + commands[leading..]
            .iter()
            .take_while(|c| own_cleanup(c))
            .count();
    if leading == commands.len() {
        return Ok(Plan::Move);
    }
    // What the rest removes would stay in the install's layer once split
    // off (`npm ci && npm run build && rm -rf node_modules`).
    let cleanup = commands[leading..].iter().find(|c| {
        let name = c
            .name
            .clone()
            .and_then(|r| shell::unquoted(&file.source, r));
        name.is_some_and(|n| n.rsplit('/').next() == Some("rm")) || own_cleanup(c)
    });
    if let Some(cleanup) = cleanup {
        let text = crate::syntax::lossy(&file.source[cleanup.range.clone()]).into_owned();
        return Err(format!(
            "the RUN goes on to `{}` after the install; split off, the install's layer would keep what that removes",
            text.split_whitespace().take(4).collect::<Vec<_>>().join(" ")
        ));
    }
    // The commands that move are a plain `&&` chain at the top of the
    // script, and a top-level `&&` joins them to the rest, whatever that is
    // (`pip install -r requirements.txt && for d in plugins/*; do ...`):
    // the rest then runs, as before, only once the install succeeded.
    let moved = commands[0].range.start..commands[leading - 1].range.end;
    let inside = |r: &Range<usize>| r.start >= moved.start && r.end <= moved.end;
    // Nothing else (`export X=1`, which is no simple command) comes first
    // or sits between them.
    let operators: Vec<&&str> = script
        .operators()
        .iter()
        .filter(|(_, r)| inside(r))
        .map(|(op, _)| op)
        .collect();
    let first = cx.file.source[target.args_range().start..moved.start]
        .iter()
        .all(u8::is_ascii_whitespace);
    let plain = first
        && commands[..leading].iter().all(|c| script.top_level(c))
        && operators.len() + 1 == leading
        && operators.iter().all(|op| **op == "&&")
        && !script.redirects().iter().any(inside)
        && !script.assignments().iter().any(|r| r.start < moved.end);
    // A rest that begins with `--` would read as the RUN's flags.
    let rest = script
        .after_top_level_and(moved.end)
        .filter(|&rest| plain && !cx.file.source[rest..].starts_with(b"--"));
    let Some(rest) = rest.filter(|_| target.command.flags.is_empty()) else {
        return Err(
            "the install shares its RUN with other commands that dockfix cannot split off".into(),
        );
    };
    let blank = target.keyword_range().end..target.args_range().start;
    let mut written_back = vec![blank];
    if cd {
        // `cd web && ` again before the rest.
        written_back.push(commands[0].range.start..commands[1].range.start);
    }
    written_back.push(rest..target.span().end);
    split(target, moved, written_back, Vec::new())
}

/// The directory a RUN changes to before its install (`cd web && npm ci`):
/// its first command is `cd` with one literal path, joined to the install
/// by a top-level `&&` and nothing else, so the install runs there.
fn cd_first(file: &Dockerfile, target: &Instruction, dep_range: &Range<usize>) -> Option<String> {
    if target.command.json || !target.heredocs.is_empty() {
        return None;
    }
    let script = shell::parse(file, target)?;
    let [cd, install, ..] = script.commands() else {
        return None;
    };
    let words = cd.literal_words(&file.source)?;
    let [name, dir] = words.as_slice() else {
        return None;
    };
    let joined = script.after_top_level_and(cd.range.end) == Some(install.range.start);
    let first = file.source[target.args_range().start..cd.range.start]
        .iter()
        .all(u8::is_ascii_whitespace);
    let plain = !dir.starts_with('-') && !dir.contains('$') && dir != "~" && !dir.starts_with("~/");
    (name == "cd"
        && plain
        && joined
        && first
        && script.top_level(cd)
        && install.range == *dep_range)
        .then(|| dir.clone())
}

/// The split, unless it would lose a comment line inside the RUN.
fn split(
    target: &Instruction,
    moved: Range<usize>,
    written_back: Vec<Range<usize>>,
    kept: Vec<String>,
) -> Result<Plan, String> {
    let kept_line = |line: &Range<usize>| {
        written_back
            .iter()
            .any(|w| w.start <= line.start && line.end <= w.end)
    };
    if target
        .lines
        .iter()
        .any(|l| l.kind == LineKind::Comment && !kept_line(&l.span))
    {
        return Err("a comment line inside the RUN would be lost when splitting it".into());
    }
    Ok(Plan::Split {
        moved,
        written_back,
        kept,
    })
}

/// An install that ends its RUN after commands that only change files
/// they name inside the copy's destination (`chmod +x entrypoint.sh &&
/// npm install`): the install moves, they stay and run after the copy.
/// Only for ecosystems whose writes in the project are known
/// (`must_ignore`), so that `examine` can show the files apart.
fn install_last(
    target: &Instruction,
    script: &shell::Script,
    start: usize,
    dep: &DepCommand,
    same_install: &dyn Fn(&SimpleCommand) -> bool,
    stays: &dyn Fn(&SimpleCommand) -> Option<Vec<String>>,
) -> Result<Option<Plan>, String> {
    let commands = script.commands();
    let simple = start > 0
        && script.is_chain(&["&&"])
        && commands[start..].iter().all(same_install)
        && !dep.ecosystem.must_ignore.is_empty()
        && script.redirects().is_empty()
        && script.assignments().is_empty()
        && target.command.flags.is_empty();
    if !simple {
        return Ok(None);
    }
    let mut kept = Vec::new();
    for command in &commands[..start] {
        let Some(paths) = stays(command) else {
            return Ok(None);
        };
        kept.extend(paths);
    }
    let last = commands.last().expect("the install is a command");
    let moved = commands[start].range.start..last.range.end;
    // The commands before the install, and the instruction's line ending.
    let leading = target.keyword_range().end..commands[start - 1].range.end;
    let ending = last.range.end..target.span().end;
    split(target, moved, vec![leading, ending], kept).map(Some)
}

/// What the step before the full copy needs.
struct Needs {
    /// Files of the build context to copy first.
    files: Vec<String>,
    /// The crates that need stub sources to download (cargo).
    stubs: Option<cargo::Crates>,
    /// What the install creates in the build context's tree: the
    /// ecosystem's `must_ignore`, and each workspace member's
    /// `node_modules`.
    created: Vec<String>,
}

/// The context files the install reads, or why it cannot be moved.
fn needed_files(
    root: &std::path::Path,
    ignore: &DockerIgnore,
    copy: &FullCopy,
    dest: Option<&str>,
    scope: &Scope,
    at_install: &Scope,
    dep: &DepCommand,
) -> Result<Needs, String> {
    let eco = dep.ecosystem;
    let present = |path: &str| root.join(path).exists() && !ignore.excludes(path);
    let sub = project_dir(copy, dest, scope, at_install, dep)?;
    let at = |path: &str| in_dir(&sub, path);
    if !sub.is_empty() {
        let cwd = at_install.workdir.as_deref().unwrap_or_default();
        let Some(parent_files) = &eco.parent_files else {
            return Err(format!(
                "the install runs in {cwd}, inside the copy's destination, and dockfix does not know what {} reads from the directories above it",
                eco.name
            ));
        };
        let mut above = String::new();
        for part in sub.split('/') {
            for name in parent_files {
                let path = format!("{above}{name}");
                if present(&path) {
                    return Err(format!(
                        "{path} lies above the install's directory {cwd}, and {} reads it from there",
                        eco.name
                    ));
                }
            }
            if eco.reader == Some(Reader::Node) {
                readers::node_workspace_root(root, &format!("{above}package.json"))?;
            }
            above.push_str(part);
            above.push('/');
        }
    }
    let project = root.join(&sub);
    let mut files: Vec<String> = Vec::new();
    let mut stubs = None;
    for manifest in eco.manifests.iter().map(|m| at(m)) {
        if !root.join(&manifest).exists() {
            return Err(format!("{manifest} is not in the build context"));
        }
        if ignore.excludes(&manifest) {
            return Err(format!("{manifest} is excluded by .dockerignore"));
        }
        files.push(manifest);
    }
    files.extend(
        eco.lockfiles
            .iter()
            .chain(&eco.config)
            .map(|f| at(f))
            .filter(|f| present(f)),
    );
    let holds = |path: &str, text: &Option<String>| match text {
        None => true,
        Some(text) => crate::context::read_to_string(root, root.join(path))
            .is_ok_and(|c| c.contains(text.as_str())),
    };
    if let Some(block) = eco
        .block
        .iter()
        .find(|b| present(&at(&b.path)) && holds(&at(&b.path), &b.contains))
    {
        return Err(block.reason.clone());
    }
    // Readers of the project's directory name its files; those that take
    // the ignore file (Gradle, cargo) read no subdirectory's project.
    let more = match eco.reader {
        Some(Reader::Node) => readers::node(&project, &|p| ignore.excludes(&at(p)))?,
        Some(Reader::Go) => readers::go(&project)?,
        Some(Reader::Composer) => readers::composer(&project)?,
        Some(Reader::Poetry) => readers::poetry(&project)?,
        Some(Reader::Maven) => readers::maven(&project, &dep.args)?,
        Some(Reader::Dotnet) => readers::dotnet(&project)?,
        Some(Reader::Gradle) => readers::gradle(root, ignore, &dep.args)?,
        Some(Reader::Cargo) => {
            let crates = cargo::crates(root, ignore)?;
            let manifests = crates.manifests.clone();
            stubs = Some(crates);
            manifests
        }
        Some(Reader::Pip) => {
            for arg in dep.positional() {
                if names_archive(arg)
                    || arg.starts_with('.')
                    || arg.starts_with('/')
                    || arg.contains('/')
                {
                    return Err(format!(
                        "pip installs the local path {arg}, read from the build context"
                    ));
                }
            }
            for value in dep.flag_values(PIP_PATH_FLAGS) {
                let path = value.strip_prefix("file://").unwrap_or(value);
                let url = value.contains("://") && !value.starts_with("file:");
                if url || value == "-" {
                    continue;
                }
                if !path.starts_with('/') || dest.is_none_or(|d| !apart(path, d)) {
                    return Err(format!(
                        "pip is given {value}, which may be among what the copy writes"
                    ));
                }
            }
            let mut requirements = Vec::new();
            for value in dep.flag_values(&["-r", "--requirement", "-c", "--constraint"]) {
                requirements.push(match value.starts_with('/') {
                    true => relative_to(dest.unwrap_or(&copy.dest), value)?,
                    false => at(value.trim_start_matches("./")),
                });
            }
            files.extend(requirements.iter().cloned());
            // Included files are named from the build context's root.
            files.extend(readers::pip(root, ignore, &requirements)?);
            Vec::new()
        }
        None => Vec::new(),
    };
    let mut created: Vec<String> = eco.must_ignore.iter().map(|m| at(m)).collect();
    if eco.reader == Some(Reader::Node) {
        let members = more.iter().filter_map(|f| f.strip_suffix("/package.json"));
        created.extend(members.map(|m| at(&format!("{m}/node_modules"))));
    }
    files.extend(more.iter().map(|f| at(f)));
    if let Some(missing) = files.iter().find(|f| !present(f)) {
        return Err(format!(
            "{missing} is not in the build context or is excluded by .dockerignore"
        ));
    }
    // A directory is copied to its own place (`COPY .mvn/ ./.mvn/`).
    for f in files.iter_mut() {
        if root.join(&*f).is_dir() && !f.ends_with('/') {
            f.push('/');
        }
    }
    let mut seen = Vec::new();
    files.retain(|f| {
        !seen.contains(f) && {
            seen.push(f.clone());
            true
        }
    });
    if let Some(odd) = files
        .iter()
        .find(|f| f.contains(|c: char| c.is_whitespace() || "\"'$*?[".contains(c)))
    {
        return Err(format!(
            "the file name {odd:?} needs quoting dockfix does not write yet"
        ));
    }
    Ok(Needs {
        files,
        stubs,
        created,
    })
}

/// `path` of the project in `sub`, as a path of the build context.
fn in_dir(sub: &str, path: &str) -> String {
    match sub {
        "" => path.to_string(),
        sub => format!("{sub}/{path}"),
    }
}

/// The directory the install runs in, relative to the copy's destination
/// (`` for the destination itself, `web` for WORKDIR /app/web), or why
/// the install does not read the copied project. pip given only absolute
/// paths (`pip install -r /app/requirements.txt` in /wheels) reads nothing
/// from it.
fn project_dir(
    copy: &FullCopy,
    dest: Option<&str>,
    scope: &Scope,
    at_install: &Scope,
    dep: &DepCommand,
) -> Result<String, String> {
    let cwd_free = dep.ecosystem.reader == Some(Reader::Pip) && pip_paths_absolute(dep);
    let in_place = matches!(copy.dest.as_str(), "." | "./") && at_install.workdir == scope.workdir;
    if cwd_free || in_place {
        return Ok(String::new());
    }
    let cwd = at_install.workdir.as_deref();
    match (cwd, dest) {
        (Some(cwd), Some(dest)) if under(cwd, dest) => {
            let (cwd, dest) = (copies::normalize(cwd), copies::normalize(dest));
            let sub = cwd[dest.len()..].trim_start_matches('/');
            Ok(sub.to_string())
        }
        _ => Err(format!(
            "the install runs in {}, not in the copy's destination {}",
            cwd.unwrap_or("the base image's working directory"),
            copy.dest
        )),
    }
}

/// pip's flags besides requirement files that name a path it reads or
/// writes (a URL is no path; `file:` URLs are).
const PIP_PATH_FLAGS: &[&str] = &[
    "-f",
    "--find-links",
    "-i",
    "--index-url",
    "--extra-index-url",
    "-t",
    "--target",
    "--prefix",
    "--root",
    "--src",
    "--cache-dir",
    "--log",
    "--report",
];

/// Whether every file pip is told to read is named by an absolute path.
fn pip_paths_absolute(dep: &DepCommand) -> bool {
    let files = dep.flag_values(&["-r", "--requirement", "-c", "--constraint"]);
    !files.is_empty() && files.iter().all(|f| f.starts_with('/'))
}

/// What .dockerignore must gain so the full copy cannot put the build
/// context's copy of what the install creates (node_modules, a developer's
/// perhaps built for another platform) over the installed one; or why
/// dockfix cannot add it.
fn to_ignore(
    cx: &Context,
    root: &std::path::Path,
    created: &[String],
) -> Result<Vec<String>, String> {
    let ignore = cx.dockerignore();
    let missing: Vec<String> = created
        .iter()
        .filter(|p| !ignore.excludes(p))
        .cloned()
        .collect();
    let Some(first) = missing.first() else {
        return Ok(missing);
    };
    let problem = format!(
        "the full copy would put the build context's {first} (a developer's, say) over the installed one; add {first} to .dockerignore"
    );
    if !cx.companions {
        return Err(problem);
    }
    if let Err(e) = crate::context::writable(&root.join(".dockerignore")) {
        return Err(format!("{problem} (.dockerignore: {e})"));
    }
    // Another ignore file may apply instead, and another Dockerfile of the
    // context may want the directory: then adding it is not dockfix's call.
    let entries: Vec<_> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    if let Some(other) = entries
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "dockerignore"))
    {
        return Err(format!(
            "{problem} ({} may apply instead of it)",
            other.display()
        ));
    }
    let copies = |text: &str| {
        text.lines().any(|l| {
            let l = l.trim_start().to_ascii_lowercase();
            (l.starts_with("copy ") || l.starts_with("add "))
                && missing.iter().any(|m| l.contains(m.as_str()))
        })
    };
    let dockerfiles = entries.iter().filter(|p| {
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        name.contains("Dockerfile")
            || name.contains("Containerfile")
            || name.ends_with(".dockerfile")
    });
    if copies(&crate::syntax::lossy(&cx.file.source)) {
        return Err(format!("{problem} (this Dockerfile copies it explicitly)"));
    }
    if let Some(other) = dockerfiles
        .into_iter()
        .find(|p| crate::context::read_to_string(root, p).is_ok_and(|t| copies(&t)))
    {
        return Err(format!(
            "{problem} ({} copies it explicitly)",
            other.display()
        ));
    }
    Ok(missing)
}

/// The text of `range` in `instruction` as BuildKit joins it: comment and
/// blank lines inside the continuation left out, and each continuation
/// (the escape character and the line break) taken away.
fn logical_text(file: &Dockerfile, instruction: &Instruction, range: Range<usize>) -> String {
    let mut text = String::new();
    for line in &instruction.lines {
        let LineKind::Code { continuation } = &line.kind else {
            continue;
        };
        let end = continuation.unwrap_or(line.content().end);
        let (start, end) = (line.span.start.max(range.start), end.min(range.end));
        if start < end {
            text.push_str(&crate::syntax::lossy(&file.source[start..end]));
            text.push(' ');
        }
    }
    text
}

/// The files of `files` that a COPY of the stage before `copy` already
/// put into `dest`, the directory the install reads them from.
fn copied_before(
    cx: &Context,
    stages: &[Stage],
    index: usize,
    copy: &FullCopy,
    files: &[String],
    dest: &str,
) -> Vec<String> {
    let mut found = Vec::new();
    for earlier in stages[index]
        .body
        .iter()
        .take_while(|i| !std::ptr::eq(**i, copy.instruction))
    {
        let command = &earlier.command;
        let plain = command.name == "copy"
            && earlier.heredocs.is_empty()
            && command.flags.iter().all(|f| f.name() != "from");
        let writes = matches!(command.name.as_str(), "run" | "copy" | "add");
        let Some((to, sources)) = command.values.split_last().filter(|_| plain) else {
            // Whatever else writes files may change those copied before.
            if writes {
                found.clear();
            }
            continue;
        };
        let into = copies::destination(&cx.scope_at(index, earlier.span().start), to);
        // Several sources, or one into a path ending in `/`, go into the
        // directory.
        let into_dir = sources.len() > 1 || to.ends_with('/') || to == ".";
        if into.as_deref() != Some(dest) || !into_dir {
            found.clear();
            continue;
        }
        for file in files {
            let top_level = !file.contains('/');
            if top_level
                && sources
                    .iter()
                    .any(|s| glob(s.trim_start_matches("./"), file))
            {
                found.push(file.clone());
            }
        }
    }
    found
}

/// Whether `name` matches the COPY source pattern `pattern` (`*` and `?`,
/// neither across `/`; a pattern with other special characters matches
/// nothing, since Go's patterns and globset's differ there).
fn glob(pattern: &str, name: &str) -> bool {
    !pattern.contains(['[', '\\', '{'])
        && globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .is_ok_and(|g| g.compile_matcher().is_match(name))
}

/// The `--mount=type=cache` flags of `run`, as written.
fn cache_mounts(run: &Instruction) -> Vec<String> {
    let command = run.command.sub.as_deref().unwrap_or(&run.command);
    command
        .flags
        .iter()
        .filter(|f| {
            f.name() == "mount"
                && f.value()
                    .is_some_and(|v| v.split(',').any(|x| x == "type=cache"))
        })
        .map(|f| f.text.clone())
        .collect()
}

/// A path the install names, as a path in the build context.
fn relative_to(dest: &str, path: &str) -> Result<String, String> {
    let path = path.trim_start_matches("./");
    if !path.starts_with('/') {
        return Ok(path.to_string());
    }
    let base = copies::normalize(dest);
    path.strip_prefix(&format!("{base}/"))
        .map(String::from)
        .ok_or_else(|| format!("{path} is outside the copied directory {dest}"))
}

fn edits(
    file: &Dockerfile,
    copy: &FullCopy,
    target: &Instruction,
    files: &[String],
    plan: &Plan,
    eco: &Ecosystem,
    moving: Option<Option<&str>>,
) -> Result<Vec<Edit>, String> {
    // Whether the copy moves down, and the destination it is then given.
    let (copy_moves, moved_dest) = (moving.is_some(), moving.flatten());
    let src = &file.source;
    let copy_keyword = crate::syntax::lossy(&src[copy.instruction.keyword_range()]).into_owned();
    let eol = moves::line_ending(file, copy.instruction);
    let flags: Vec<String> = copy
        .instruction
        .command
        .flags
        .iter()
        .filter(|f| matches!(f.name(), "chown" | "chmod" | "link"))
        .map(|f| crate::syntax::lossy(copy.instruction.text(f.range.clone())).into_owned())
        .collect();
    let base = match copy.dest.as_str() {
        "." | "./" => "./".to_string(),
        dest => format!("{}/", copies::normalize(dest).trim_end_matches('/')),
    };
    // One COPY per directory, in the order the files were found; a
    // directory being copied goes to its own place.
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    for f in files {
        let dir = match f.strip_suffix('/') {
            Some(whole) => whole.to_string(),
            None => f.rsplit_once('/').map_or("", |(d, _)| d).to_string(),
        };
        match groups.iter_mut().find(|(d, _)| *d == dir) {
            Some((_, list)) => list.push(f),
            None => groups.push((dir, vec![f])),
        }
    }
    let mut insert = String::new();
    let insert_at = moves::before(file, copy.instruction);
    let mut edits = Vec::new();
    // What moves: the install, with the comment lines directly above it,
    // which go above the manifest COPY they now introduce.
    let mut comments = String::new();
    let moved = match plan {
        // The install stays; the copy comes after it.
        Plan::Move if copy_moves => String::new(),
        Plan::Move => {
            let taken = moves::take(file, target, target, &eol);
            edits.push(taken.delete);
            comments = taken.comments;
            taken.text
        }
        Plan::Split {
            moved,
            written_back,
            ..
        } => {
            let run_keyword = crate::syntax::lossy(&src[target.keyword_range()]).into_owned();
            let kept: Vec<u8> = written_back
                .iter()
                .flat_map(|piece| src[piece.clone()].iter().copied())
                .collect();
            let cut = target.keyword_range().end..target.span().end;
            edits.push(Edit::replace(cut, crate::syntax::lossy(&kept)));
            format!(
                "{run_keyword} {}{eol}",
                crate::syntax::lossy(&src[moved.clone()])
            )
        }
        Plan::Prefetch { command } => {
            // The build's cache mounts, so that the download lands where
            // the build looks for it, one per line as such RUNs are written.
            let mut parts = cache_mounts(target);
            parts.push(command.clone());
            let escape = file.escape as char;
            format!(
                "{} {}{eol}",
                keyword_like(&copy_keyword, "RUN"),
                parts.join(&format!(" {escape}{eol}    "))
            )
        }
        Plan::Prepare { leading, install } => {
            let run_keyword = crate::syntax::lossy(&src[target.keyword_range()]).into_owned();
            let before = logical_text(file, target, leading.clone());
            let text = logical_text(file, target, install.clone());
            if (before.clone() + &text).contains(['"', '\'', '\\', '$', '`']) {
                return Err(
                    "the install has quotes, escapes or variables dockfix does not rewrite yet"
                        .into(),
                );
            }
            let mut words: Vec<&str> = text
                .split_whitespace()
                .filter(|w| {
                    !eco.prepare_drop
                        .iter()
                        .any(|d| w == d || w.starts_with(&format!("{d}=")))
                })
                .collect();
            for flag in &eco.prepare_flags {
                if !words.contains(&flag.as_str()) {
                    words.push(flag);
                }
            }
            let mut command: Vec<&str> = before.split_whitespace().collect();
            command.extend(words);
            format!("{run_keyword} {}{eol}", command.join(" "))
        }
    };
    if !copy_moves {
        insert.push_str(&comments);
    }
    for (dir, list) in &groups {
        let dest = if dir.is_empty() {
            base.clone()
        } else {
            format!("{base}{dir}/")
        };
        let mut line = vec![keyword_like(&copy_keyword, "COPY")];
        line.extend(flags.iter().cloned());
        line.extend(list.iter().map(|s| s.to_string()));
        line.push(dest);
        insert.push_str(&line.join(" "));
        insert.push_str(&eol);
    }
    if !copy_moves {
        insert.push_str(&moved);
        edits.push(moves::insert(file, insert_at, insert, &eol));
        return Ok(edits);
    }
    // The manifests take the copy's place, and the copy (with the comment
    // lines directly above it) follows the install.
    let copy_span = insert_at..copy.instruction.span().end;
    let mut copy_text = crate::syntax::lossy(&src[copy_span.clone()]).into_owned();
    if let Some(new_dest) = moved_dest {
        let args = copy.instruction.args_range();
        let text = &src[args.clone()];
        let start = text
            .iter()
            .rposition(|b| b.is_ascii_whitespace())
            .map_or(0, |i| i + 1);
        if copy.instruction.command.json || text[start..] != *copy.dest.as_bytes() {
            return Err(
                "the copy's destination is written in a way dockfix does not rewrite".into(),
            );
        }
        let mut bytes = src[copy_span.start..args.start + start].to_vec();
        bytes.extend_from_slice(new_dest.as_bytes());
        bytes.extend_from_slice(&src[args.end..copy_span.end]);
        copy_text = crate::syntax::lossy(&bytes).into_owned();
    }
    edits.push(Edit::replace(copy_span, insert));
    edits.push(match plan {
        Plan::Move => Edit::insert(target.span().end, copy_text),
        _ => Edit::insert(target.span().start, moved + &copy_text),
    });
    Ok(edits)
}

#[cfg(test)]
mod tests {
    use super::glob;
    use crate::engine::{fix, Settings};
    use crate::rules::{selection, CacheStyle};

    /// Another fix anchored at the end of the install (DF213's cache
    /// cleanup after `npm ci`) follows the install where it moves, not the
    /// command left behind.
    #[test]
    fn a_cleanup_after_the_install_follows_it_out_of_the_run() {
        let context = tempfile::tempdir().unwrap();
        for (name, text) in [
            ("package.json", r#"{"name": "app", "version": "1.0.0"}"#),
            (
                "package-lock.json",
                r#"{"name": "app", "lockfileVersion": 3}"#,
            ),
            (".dockerignore", "node_modules\n"),
        ] {
            std::fs::write(context.path().join(name), text).unwrap();
        }
        let settings = Settings {
            rules: selection(
                &["DF101".into(), "DF213".into()],
                &[],
                CacheStyle::Cleanup,
                &[],
            )
            .unwrap(),
            unsafe_fixes: false,
            build_context: Some(context.path()),
            companions: true,
            dockerfile: None,
            pins: None,
            ecosystems: None,
            runtime_images: &crate::config::NO_RUNTIME_IMAGES,
        };
        let source = b"FROM node:20\nWORKDIR /app\nCOPY . .\nRUN chmod +x run.sh && npm ci\n";
        let fixed = fix(source, &settings).unwrap();
        assert_eq!(
            String::from_utf8(fixed.file.source).unwrap(),
            "FROM node:20\nWORKDIR /app\nCOPY package.json package-lock.json ./\n\
             RUN npm ci && npm cache clean --force\nCOPY . .\nRUN chmod +x run.sh\n"
        );
    }

    #[test]
    fn copy_patterns_match_as_go_matches_them() {
        assert!(glob("package*.json", "package-lock.json"));
        assert!(glob("p?ckage.json", "package.json"));
        assert!(!glob("*.json", "web/package.json"));
        assert!(!glob("package.json", "package-lock.json"));
        // Classes and escapes are Go's, braces are literal there: not read.
        assert!(!glob("[p]ackage.json", "package.json"));
        assert!(!glob("{package}.json", "package.json"));
    }
}
