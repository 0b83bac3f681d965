//! What DF503 reads of a single-stage build whatever its language: the RUN
//! that builds the program and where the binary goes, the RUNs before it,
//! and the sources the stage copies from the build context.

use std::path::{Path, PathBuf};

use crate::context;
use crate::dockerignore::DockerIgnore;
use crate::facts::commands::RunCommand;
use crate::model::Stage;
use crate::rules::Context;
use crate::scope::absolute;
use crate::syntax::{shell, Instruction};
use crate::transforms::Runtime;

/// The RUN of a stage that builds the program.
pub(super) struct Build<'f> {
    pub run: &'f Instruction,
    /// Its position in the stage's body.
    pub position: usize,
    /// Where the binary may be, as absolute paths.
    pub outputs: Vec<Output>,
    /// Where the build command starts in the file.
    pub command_start: usize,
    /// Where the commands of the build's RUN that place the binary
    /// (`cp target/release/app /usr/local/bin/`) start: they are the
    /// build's, not work the program may use.
    pub placing: Vec<usize>,
    /// The program that runs the output (`node`), when it is not a binary.
    pub interpreter: Option<&'static str>,
    /// What the runtime takes from the builder, as absolute paths; the
    /// binary the command runs when empty.
    pub ships: Vec<String>,
    /// A command the builder runs after the build for the runtime
    /// (`npm prune --omit=dev`), then the other ways to write it.
    pub finish: Option<&'static [&'static str]>,
    /// The RUN right after the build that runs `finish` already (the
    /// stage's own `npm prune --omit=dev`): the builder ends with it.
    pub finished: Option<&'f Instruction>,
    /// The words of package.json's `start` script, which `npm start` runs.
    pub start: Option<Vec<String>>,
}

/// Where a build writes the binary.
pub(super) enum Output {
    /// This file.
    File(String),
    /// A file directly in this directory (`target/release`, which holds
    /// each of the package's binaries by name).
    In(String),
    /// A file anywhere under this directory (`dist`, what `tsc` writes).
    Under(String),
}

impl Build<'_> {
    /// Which of `candidates` (a program's possible paths) is a binary the
    /// build writes.
    pub fn binary<'c>(&self, candidates: &'c [String]) -> Option<&'c String> {
        candidates.iter().find(|path| {
            self.outputs.iter().any(|output| match output {
                Output::File(file) => *path == file,
                Output::In(dir) => path
                    .strip_prefix(dir.as_str())
                    .and_then(|rest| rest.strip_prefix('/'))
                    .is_some_and(|name| !name.is_empty() && !name.contains('/')),
                Output::Under(dir) => path
                    .strip_prefix(dir.as_str())
                    .and_then(|rest| rest.strip_prefix('/'))
                    .is_some_and(|name| !name.is_empty()),
            })
        })
    }
}

/// A build command, with its RUN and the RUN's position in the stage.
pub(super) type BuildCommand<'f> = (usize, &'f Instruction, RunCommand);

/// The one command of the stage's RUNs that `is_build` picks: `None` when
/// there is none, an error (naming the build `what`) when there are more.
pub(super) fn only_build<'f>(
    cx: &Context<'f>,
    stage: &Stage<'f>,
    is_build: &dyn Fn(&RunCommand) -> bool,
    what: &str,
) -> Option<Result<BuildCommand<'f>, String>> {
    let mut found: Vec<BuildCommand<'f>> = Vec::new();
    for (position, run) in stage.each(&["run"]) {
        if run.command.name != "run" || run.command.sub.is_some() {
            continue;
        }
        for command in cx.commands_of(run, 0).iter().filter(|c| is_build(c)) {
            found.push((position, run, command.clone()));
        }
    }
    match found.len() {
        0 => None,
        1 => found.pop().map(Ok),
        _ => Some(Err(format!("the stage runs {what} more than once"))),
    }
}

/// Why a RUN up to the build (its own included) may leave something the
/// program uses: a command other than the toolchain's, an install or a
/// directory change (`runtime.build_commands`), or a file it writes. The
/// commands that start at `placing` are the build's own.
pub(super) fn before_build(
    cx: &Context,
    runtime: &Runtime,
    run: &Instruction,
    workdirs: &[String],
    placing: &[usize],
) -> Result<(), String> {
    let line = run.start_line;
    let Some(script) = shell::parse(cx.file, run).filter(|s| !s.has_error()) else {
        return Err(format!("dockfix cannot read the shell of line {line}"));
    };
    if !script.redirects().is_empty() {
        return Err(format!("line {line} writes files the program may read"));
    }
    for command in cx.commands_of(run, 0).iter() {
        if placing.contains(&command.range.start) {
            continue;
        }
        let (Some(name), Some(program)) = (command.word(0), command.program()) else {
            return Err(format!("line {line} runs a program a variable names"));
        };
        if name == "mkdir" {
            // A directory the runtime's WORKDIR makes again.
            let made = command.words[1..]
                .iter()
                .filter_map(|(w, _)| w.as_deref())
                .filter(|w| !w.starts_with('-'));
            let scope = cx.scope_at(0, run.span().start);
            for dir in made {
                let dir = absolute(dir, scope.workdir.as_deref()).unwrap_or_default();
                if !workdirs
                    .iter()
                    .any(|w| w == &dir || w.starts_with(&format!("{}/", dir.trim_end_matches('/'))))
                {
                    return Err(format!(
                        "line {line} makes `{dir}`, which the program may use"
                    ));
                }
            }
            continue;
        }
        if !runtime.build_commands.iter().any(|c| c == program) {
            return Err(format!(
                "line {line} runs `{name}`, whose work the program may use"
            ));
        }
        // A toolchain command that runs other programs (`go run`, `npx`).
        let runs = runtime.runs_programs.iter().find(|pattern| {
            pattern
                .split_whitespace()
                .enumerate()
                .all(|(i, word)| match i {
                    0 => program == word,
                    i => command.word(i) == Some(word),
                })
        });
        if let Some(runs) = runs {
            return Err(format!(
                "line {line} runs `{runs}`, whose work the program may use"
            ));
        }
        if !runtime.package_installs && crate::facts::package_install::install(command).is_some() {
            return Err(format!(
                "line {line} installs packages, which the runtime image lacks and the program may link to or run"
            ));
        }
    }
    Ok(())
}

/// A file of the build context that a COPY or ADD before the build takes.
pub(super) struct Source {
    /// Its path in the build context.
    pub relative: String,
    pub path: PathBuf,
    /// Where the COPY puts it, as an absolute path; `None` when dockfix
    /// cannot tell.
    pub at: Option<String>,
    /// The build context it is in.
    root: std::rc::Rc<Path>,
}

impl Source {
    /// Its text, as the build finds it (see `context::read_to_string`).
    pub fn text(&self) -> std::io::Result<String> {
        context::read_to_string(&self.root, &self.path)
    }
}

/// The files of the build context that `copies` (the COPY and ADD lines
/// before the build) take, without those under `build_only_dirs` (the
/// runtime's); or why dockfix cannot list them. `unknown_workdir` stands
/// for a working directory the file does not set, if given; otherwise
/// what lands relative to it has no place (`Source::at`).
pub(super) fn sources(
    cx: &Context,
    build_only_dirs: &[String],
    copies: &[&Instruction],
    unknown_workdir: Option<&str>,
) -> Result<Vec<Source>, String> {
    let root = cx
        .build_context
        .ok_or("there is no build context to read the sources from (standard input)")?;
    // BuildKit prefers a Dockerfile's own `NAME.dockerignore`.
    if let Some(own) = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .find(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.ends_with(".dockerignore") && name != ".dockerignore"
        })
    {
        return Err(format!(
            "the build context holds `{}`, which dockfix does not read for what the build copies",
            own.file_name().to_string_lossy()
        ));
    }
    let ignore = cx.dockerignore();
    let shared_root: std::rc::Rc<Path> = root.into();
    let skip = |dir: &str| build_only_dirs.iter().any(|d| d == dir);
    let mut files = Vec::new();
    for copy in copies {
        let Some((dest, sources)) = copy.command.values.split_last() else {
            continue;
        };
        let mut scope = cx.scope_at(0, copy.span().start);
        if scope.workdir.is_none() {
            scope.workdir = unknown_workdir.map(String::from);
        }
        let dest = scope.expand(dest);
        let into = dest
            .as_deref()
            .and_then(|d| absolute(d, scope.workdir.as_deref()));
        for source in sources {
            if source.contains("://") || source.contains('$') {
                return Err(format!(
                    "line {} copies `{source}`, which dockfix does not read",
                    copy.start_line
                ));
            }
            // `git@host:repo` and URLs are fetched, not read from the context.
            if copy.command.name == "add" && source.contains(':') {
                return Err(format!(
                    "line {} adds `{source}`, which dockfix does not read",
                    copy.start_line
                ));
            }
            let matched = context::resolve(root, source);
            if matched.is_empty() {
                return Err(format!(
                    "line {} copies `{source}`, which is not in the build context dockfix reads ({}): give the context with --context",
                    copy.start_line,
                    root.display()
                ));
            }
            // Several sources, a destination ending in `/`, or one that is
            // a directory already, make it a directory that holds each
            // source file by its name.
            let into_dir = sources.len() > 1
                || matched.len() > 1
                || dest.as_deref().is_some_and(|d| d.ends_with('/'))
                || into
                    .as_deref()
                    .is_some_and(|into| is_directory(into, scope.workdir.as_deref(), &files));
            for path in matched {
                let top = path
                    .strip_prefix(root)
                    .map(|p| p.to_string_lossy().replace('\\', "/"))
                    .unwrap_or_default();
                let is_dir = path.is_dir();
                walk(root, &path, &ignore, &skip, &mut |relative, file| {
                    let at = into.as_deref().map(|into| {
                        let into = into.trim_end_matches('/');
                        if is_dir {
                            let inner = match top.as_str() {
                                "" => relative,
                                top => relative
                                    .strip_prefix(top)
                                    .map_or(relative, |r| r.trim_start_matches('/')),
                            };
                            format!("{into}/{inner}")
                        } else if into_dir {
                            let name = relative.rsplit('/').next().unwrap_or(relative);
                            format!("{into}/{name}")
                        } else {
                            into.to_string()
                        }
                    });
                    files.push(Source {
                        relative: relative.to_string(),
                        path: file.to_path_buf(),
                        at,
                        root: std::rc::Rc::clone(&shared_root),
                    });
                });
            }
        }
    }
    Ok(files)
}

/// Whether the image path `into` is a directory before a COPY to it: the
/// root, the working directory (WORKDIR makes it; `.` names it), or a
/// directory an earlier COPY put files in. Any other path may be one in the
/// base image, which dockfix cannot see: a file copied there is taken to
/// become that path, and what reads it finds nothing.
fn is_directory(into: &str, workdir: Option<&str>, copied: &[Source]) -> bool {
    let inside = format!("{}/", into.trim_end_matches('/'));
    into == "/"
        || workdir.is_some_and(|w| crate::scope::clean(w) == into)
        || copied
            .iter()
            .filter_map(|s| s.at.as_deref())
            .any(|at| at.starts_with(&inside))
}

/// Why the sources say the program needs more than its binary: a file that
/// is neither code nor the repository's own, or code that needs the system
/// (`os/exec`, time zones by name) without embedding it.
pub(super) fn needs(runtime: &Runtime, image: &str, sources: &[Source]) -> Result<(), String> {
    let named = |patterns: &[String], relative: &str| {
        let name = relative.rsplit('/').next().unwrap_or(relative);
        patterns.iter().any(|p| context::wildcard_match(p, name))
    };
    let mut data: Vec<&str> = sources
        .iter()
        .map(|s| s.relative.as_str())
        .filter(|r| {
            !named(&runtime.code, r)
                && !named(&runtime.build_only, r)
                && !named(&crate::transforms::stages().repository_files, r)
        })
        .collect();
    if !data.is_empty() {
        data.sort();
        data.dedup();
        let shown: Vec<String> = data.iter().take(3).map(|d| format!("`{d}`")).collect();
        let more = match data.len() {
            n if n > 3 => format!(" and {} more", n - 3),
            _ => String::new(),
        };
        return Err(format!(
            "the sources hold files other than {} code ({}{more}), which the program may read at run time: list them in .dockerignore if it does not",
            runtime.language,
            shown.join(", ")
        ));
    }
    let texts = code_texts(runtime, sources);
    if texts.is_empty() {
        return Err(format!(
            "the stage copies no {} code from the build context dockfix reads: give the context with --context",
            runtime.language
        ));
    }
    for (needle, why) in &runtime.needs_system {
        let embedded = runtime
            .embeds
            .iter()
            .filter(|(n, _)| n == needle)
            .any(|(_, import)| texts.iter().any(|(_, t)| t.contains(import.as_str())));
        if embedded {
            continue;
        }
        if let Some((file, _)) = texts.iter().find(|(_, t)| t.contains(needle.as_str())) {
            return Err(format!(
                "the program {why} (`{}` in `{file}`), which `FROM {image}` does not give",
                needle.trim_matches('"'),
            ));
        }
    }
    Ok(())
}

/// The code among `sources`, by context-relative path, with its text.
pub(super) fn code_texts<'s>(runtime: &Runtime, sources: &'s [Source]) -> Vec<(&'s str, String)> {
    sources
        .iter()
        .filter(|s| {
            let name = s.relative.rsplit('/').next().unwrap_or(&s.relative);
            runtime
                .code
                .iter()
                .any(|p| context::wildcard_match(p, name))
        })
        .map(|s| (s.relative.as_str(), s.text().unwrap_or_default()))
        .collect()
}

/// Calls `visit` with each file under `path` (a file or a directory of the
/// build context) that `.dockerignore` keeps, by its context-relative path,
/// passing over the directories `skip` names.
fn walk(
    root: &Path,
    path: &Path,
    ignore: &DockerIgnore,
    skip: &dyn Fn(&str) -> bool,
    visit: &mut dyn FnMut(&str, &Path),
) {
    let Ok(relative) = path.strip_prefix(root) else {
        return;
    };
    let relative = relative.to_string_lossy().replace('\\', "/");
    let Ok(meta) = path.symlink_metadata() else {
        return;
    };
    if meta.is_dir() {
        if skip(&relative) || relative.rsplit('/').next().is_some_and(skip) {
            return;
        }
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for entry in entries {
            walk(root, &entry, ignore, skip, visit);
        }
    } else if !ignore.excludes(&relative) {
        visit(&relative, path);
    }
}
