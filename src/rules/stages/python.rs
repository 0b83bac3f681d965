//! A Python image that installs build tools for the packages `pip`
//! compiles, read for DF503: the builder keeps the tools and installs the
//! packages into a virtual environment; the runtime copies the environment
//! and installs, for each header package, the library it describes.

use std::ops::Range;

use super::builder;
use super::{is_build_tool, removes_packages};
use crate::context::wildcard_match;
use crate::deps::readers;
use crate::edit::Edit;
use crate::facts::commands::RunCommand;
use crate::facts::package_install::install;
use crate::fix::moves::{self, line_ending};
use crate::fix::remove;
use crate::model::{settings_of, Stage};
use crate::rules::Context;
use crate::scope::absolute;
use crate::syntax::{shell, Instruction, Word};
use crate::transforms::{self, Library};

/// A stage that compiles Python packages against build tools it installs.
pub(super) struct Found {
    /// The build tools it installs, as named.
    pub tools: Vec<String>,
    /// The edits that split it, or why it stays whole.
    pub split: Result<Vec<Edit>, String>,
}

/// `None` when the stage is no Python image that installs build tools and
/// then runs `pip install`.
pub(super) fn read<'f>(cx: &Context<'f>, stage: &Stage<'f>) -> Option<Found> {
    let table = &transforms::stages().python;
    if !table
        .toolchains
        .iter()
        .any(|t| t == super::single_stage_build::repository(&stage.base))
    {
        return None;
    }
    let body = &stage.body;
    let runs = |i: &&Instruction| i.command.name == "run" && i.command.sub.is_none();
    let (tools_at, tools) =
        body.iter()
            .enumerate()
            .filter(|(_, i)| runs(i))
            .find_map(|(at, &run)| {
                let tools = build_tools(&cx.commands_of(run, 0));
                (!tools.is_empty()).then_some((at, tools))
            })?;
    // An image that removes its build tools again has nothing to split.
    if body
        .iter()
        .filter(|i| runs(i))
        .any(|&run| cx.commands_of(run, 0).iter().any(removes_packages))
    {
        return None;
    }
    let pips: Vec<usize> = body
        .iter()
        .enumerate()
        .filter(|(at, i)| *at >= tools_at && runs(i))
        .filter(|(_, &run)| cx.commands_of(run, 0).iter().any(is_pip_install))
        .map(|(at, _)| at)
        .collect();
    let (&first, &last) = (pips.first()?, pips.last()?);
    let split = Layout {
        tools_at,
        first,
        last,
        pips: &pips,
    }
    .split(cx, stage);
    Some(Found { tools, split })
}

/// The build tools an install of the RUN names, in order.
fn build_tools(commands: &[RunCommand]) -> Vec<String> {
    let mut found = Vec::new();
    for command in commands {
        let Some(install) = install(command) else {
            continue;
        };
        for name in install.packages.iter().filter_map(|(w, _)| *w) {
            let name = install.name(name);
            if is_build_tool(name) && !found.iter().any(|f| f == name) {
                found.push(name.to_string());
            }
        }
    }
    found
}

/// `pip install`, `pip3 install`, `python -m pip install`.
fn is_pip_install(command: &RunCommand) -> bool {
    pip_arguments(command).is_some_and(|args| args.first() == Some(&Some("install")))
}

/// The words after `pip` of a pip command.
fn pip_arguments(command: &RunCommand) -> Option<Vec<Option<&str>>> {
    let words: Vec<Option<&str>> = command.words.iter().map(|(w, _)| w.as_deref()).collect();
    let program = shell::program(command.program()?);
    let skip = match program {
        "pip" | "pip3" => 1,
        "python" | "python3" if words.get(1..3) == Some(&[Some("-m"), Some("pip")]) => 3,
        _ => return None,
    };
    Some(words[skip..].to_vec())
}

/// Where the build's parts are in the stage's body: the RUN that installs
/// the build tools, and the RUNs of `pip install` after it.
struct Layout<'p> {
    tools_at: usize,
    first: usize,
    last: usize,
    pips: &'p [usize],
}

/// Variables that move where pip installs, or what the image runs.
const MOVES_INSTALLS: &[&str] = &[
    "PATH",
    "VIRTUAL_ENV",
    "PYTHONUSERBASE",
    "PIP_USER",
    "PIP_PREFIX",
    "PIP_TARGET",
    "PIP_ROOT",
    "PIP_REQUIREMENT",
    "PIP_EDITABLE",
];

/// pip options that install somewhere else than the environment, or from
/// the sources, whose build writes into them.
const PIP_ELSEWHERE: &[&str] = &[
    "--user",
    "--prefix",
    "--target",
    "-t",
    "--root",
    "-e",
    "--editable",
    "--src",
];

/// Programs that compile, which a RUN after the build cannot run.
const COMPILES: &[&str] = &[
    "gcc",
    "cc",
    "g++",
    "c++",
    "clang",
    "make",
    "cmake",
    "ninja",
    "ld",
    "as",
    "cython",
    "cythonize",
    "pkg-config",
    "maturin",
    "cargo",
    "rustc",
];

/// Paths the packages lived at before the split, which a command that
/// names them would miss.
const SYSTEM_INSTALLS: &[&str] = &[
    "/usr/local/bin/",
    "/usr/local/lib/python",
    "/usr/bin/python",
    "/usr/bin/pip",
    "site-packages",
    "dist-packages",
];

impl Layout<'_> {
    fn split(&self, cx: &Context, stage: &Stage) -> Result<Vec<Edit>, String> {
        let table = &transforms::stages().python;
        let body = &stage.body;
        let tag = stage.base.split('@').next().unwrap_or(&stage.base);
        let tag = tag.rsplit_once(':').map_or("", |(_, tag)| tag);
        if tag.contains("alpine") {
            return Err(format!(
                "`FROM {}` is Alpine: dockfix knows the runtime libraries of Debian's packages only",
                stage.base
            ));
        }
        if tag.contains('$') {
            return Err(format!(
                "`FROM {}` names its tag with a variable, so dockfix cannot tell its Debian release",
                stage.base
            ));
        }
        let release = tag
            .rsplit('-')
            .next()
            .filter(|r| table.releases.iter().any(|k| k == r));
        let venv = table.venv.as_str();
        for (at, instruction) in body.iter().enumerate() {
            let line = instruction.start_line;
            let name = instruction.command.name.as_str();
            let text = crate::syntax::lossy(&cx.file.source[instruction.span()]);
            if text.contains(venv) {
                return Err(format!(
                    "line {line} names `{venv}`, where the split puts the packages"
                ));
            }
            if name == "env" {
                if let Some((set, _, _)) = settings_of(instruction)
                    .into_iter()
                    .find(|(set, _, _)| MOVES_INSTALLS.contains(set))
                {
                    return Err(format!(
                        "line {line} sets `{set}`, which moves what pip installs or what the image runs"
                    ));
                }
            }
            if name == "user" && at < self.last {
                let value = instruction.command.values.first().map_or("", Word::as_str);
                if !matches!(value.split(':').next(), Some("root" | "0")) {
                    return Err(format!(
                        "line {line} installs as `{value}`, who may not make the virtual environment at `{venv}`"
                    ));
                }
            }
            if matches!(name, "cmd" | "entrypoint" | "healthcheck") {
                if let Some(path) = SYSTEM_INSTALLS.iter().find(|p| text.contains(*p)) {
                    return Err(format!(
                        "the {} on line {line} names `{path}`, where the packages were, not the virtual environment",
                        name.to_uppercase()
                    ));
                }
            }
            if name == "onbuild" {
                return Err(format!(
                    "line {line} is an ONBUILD, which the builder's children would run"
                ));
            }
            if name != "run" {
                continue;
            }
            let commands = cx.commands_of(instruction, 0);
            if commands.iter().any(|c| c.shell_error) {
                return Err(format!("dockfix cannot read the shell of line {line}"));
            }
            if at < self.tools_at && commands.iter().any(is_pip_install) {
                return Err(format!(
                    "line {line} installs Python packages before the build tools"
                ));
            }
            if at > self.tools_at && !build_tools(&commands).is_empty() {
                return Err(format!("line {line} installs build tools a second time"));
            }
            if (self.tools_at..=self.last).contains(&at)
                && at != self.tools_at
                && !self.pips.contains(&at)
            {
                return Err(format!(
                    "line {line} runs between the build tools and the last `pip install`, and may use them"
                ));
            }
            if at > self.last {
                if let Some(program) = commands.iter().find_map(compiles) {
                    return Err(format!(
                        "line {line} runs `{program}` after the build, without the build tools"
                    ));
                }
            }
            if at == self.tools_at && self.pips.contains(&at) {
                return Err(format!(
                    "line {line} installs the build tools and runs `pip install` in one RUN"
                ));
            }
            if self.pips.contains(&at) {
                pip_run(cx, instruction, &commands, &body[..at])?;
            }
        }
        let tools_run = body[self.tools_at];
        let runtime_install = runtime_install(cx, tools_run, release)?;
        Ok(self.edits(cx, stage, venv, runtime_install))
    }

    /// The builder's name on its FROM line, the environment before the
    /// first `pip install`, and a runtime stage after the last: the
    /// stage's instructions up to it again, with the runtime libraries in
    /// place of the build tools and the environment in place of the
    /// installs; the instructions after it belong to the runtime.
    fn edits(&self, cx: &Context, stage: &Stage, venv: &str, tools: Option<String>) -> Vec<Edit> {
        let file = cx.file;
        let body = &stage.body;
        let mut edits = Vec::new();
        let name = match &stage.name {
            Some(_) => stage.from.command.values[2].to_string(),
            None => {
                edits.push(Edit::insert(stage.from.args_range().end, " AS build"));
                "build".to_string()
            }
        };
        let first = body[self.first];
        let eol = line_ending(file, first);
        let environment = format!("ENV PATH=\"{venv}/bin:$PATH\"{eol}");
        edits.push(Edit::insert(
            moves::before(file, first),
            format!("RUN python -m venv --system-site-packages {venv}{eol}{environment}"),
        ));
        let last = body[self.last];
        let at = last.span().end;
        let mut text = String::new();
        if !file.source[..at].ends_with(b"\n") {
            text += &eol;
        }
        text += &eol;
        let flags: String = stage
            .from
            .command
            .flags
            .iter()
            .map(|f| format!("--{}={} ", f.name(), f.value().unwrap_or("")))
            .collect();
        text += &format!("FROM {flags}{}{eol}", stage.from.command.values[0]);
        for (position, instruction) in body[..self.last].iter().enumerate() {
            if self.pips.contains(&position) {
                continue;
            }
            if position == self.tools_at {
                text += tools.as_deref().unwrap_or("");
                continue;
            }
            text += &crate::syntax::lossy(&file.source[instruction.span()]);
        }
        text += &format!("COPY --from={name} {venv} {venv}{eol}{environment}");
        edits.push(Edit::insert(at, text));
        edits
    }
}

/// A command that compiles or installs Python packages, by program.
fn compiles(command: &RunCommand) -> Option<String> {
    if is_pip_install(command) {
        return Some("pip install".into());
    }
    let program = command.program()?;
    if COMPILES.contains(&program) {
        return Some(program.to_string());
    }
    command
        .words
        .iter()
        .filter_map(|(w, _)| w.as_deref())
        .find(|w| w.ends_with("setup.py"))
        .map(|_| format!("{program} setup.py"))
}

/// Why a RUN of `pip install` cannot move into the environment: a command
/// other than pip's, an option that installs elsewhere, a local path, a
/// requirements file dockfix cannot read or that installs from the sources.
/// `before` holds the stage's instructions before the RUN, whose COPYs
/// put the requirements files where pip reads them.
fn pip_run(
    cx: &Context,
    run: &Instruction,
    commands: &[RunCommand],
    before: &[&Instruction],
) -> Result<(), String> {
    let line = run.start_line;
    for command in commands {
        let Some(args) = pip_arguments(command) else {
            if command.program() == Some("true") {
                continue;
            }
            return Err(format!("line {line} runs more than pip"));
        };
        let mut requirements = Vec::new();
        let mut takes = None;
        for arg in args.iter().skip(1) {
            let Some(arg) = arg else {
                return Err(format!("line {line} passes pip a word the shell expands"));
            };
            let flag = arg.split_once('=').map_or(*arg, |(f, _)| f);
            if let Some(option) = takes.take() {
                if matches!(option, "-r" | "--requirement" | "-c" | "--constraint") {
                    requirements.push(arg.to_string());
                }
                continue;
            }
            if PIP_ELSEWHERE.contains(&flag) || arg.starts_with("-e") {
                return Err(format!("line {line} runs `pip install {arg}`, which does not install into the environment"));
            }
            match flag {
                "-r" | "--requirement" | "-c" | "--constraint" if !arg.contains('=') => {
                    takes = Some(flag)
                }
                "-r" | "--requirement" | "-c" | "--constraint" => {
                    requirements.push(arg.split_once('=').map_or("", |(_, v)| v).to_string())
                }
                "-i" | "--index-url" | "--extra-index-url" | "-f" | "--find-links"
                | "--trusted-host" | "--upgrade-strategy" | "--root-user-action"
                | "--platform" | "--python-version" | "--implementation" | "--abi"
                | "--progress-bar" | "--timeout" | "--retries" | "--proxy"
                    if !arg.contains('=') =>
                {
                    takes = Some(flag)
                }
                _ if flag.starts_with('-') => {}
                _ if arg.starts_with('.') || arg.starts_with('/') || arg.contains("file:") => {
                    return Err(format!(
                        "line {line} installs `{arg}` from the sources, whose build writes into them"
                    ))
                }
                _ => {}
            }
        }
        if !requirements.is_empty() {
            let root = cx
                .build_context
                .ok_or("no build context to read the requirements from")?;
            let requirements = in_context(cx, run, before, &requirements)?;
            readers::pip(root, &cx.dockerignore(), &requirements)
                .map_err(|why| format!("line {line}: {why}"))?;
        }
    }
    Ok(())
}

/// Where in the build context the requirements files `run` names (paths
/// in the image, from its working directory) come from: the COPY before
/// it that put each there.
fn in_context(
    cx: &Context,
    run: &Instruction,
    before: &[&Instruction],
    requirements: &[String],
) -> Result<Vec<String>, String> {
    let line = run.start_line;
    let copies: Vec<&Instruction> = before
        .iter()
        .copied()
        .filter(|i| matches!(i.command.name.as_str(), "copy" | "add"))
        .filter(|i| !i.command.flags.iter().any(|f| f.name() == "from"))
        .collect();
    // Where no WORKDIR is set, the COPYs and the RUN share the base
    // image's working directory: a path relative to it, that does not
    // leave it, is found by a stand-in no Dockerfile names. (A WORKDIR
    // dockfix cannot expand may differ from the next one.)
    let unset = !before.iter().any(|i| i.command.name == "workdir");
    let unknown = "/.dockfix-unknown-workdir";
    let sources = builder::sources(cx, &[], &copies, Some(unknown))?;
    let workdir = cx.scope_at(0, run.span().start).workdir;
    requirements
        .iter()
        .map(|file| {
            let at = match &workdir {
                Some(workdir) => absolute(file, Some(workdir)),
                None if file.starts_with('/') => absolute(file, None),
                None if !unset || file.split('/').any(|p| p == "..") => None,
                None => absolute(file, Some(unknown)),
            };
            sources
                .iter()
                .rev()
                .find(|s| s.at.is_some() && s.at == at)
                .map(|s| s.relative.clone())
                .ok_or_else(|| match at {
                    Some(_) => format!("line {line} reads `{file}`, which no COPY before it takes from the build context"),
                    None => format!("dockfix cannot tell where `{file}` of line {line} is"),
                })
        })
        .collect()
}

/// The tools' RUN as the runtime runs it: each header package replaced by
/// its library, the other build tools left out; `None` when nothing is left
/// to install.
fn runtime_install(
    cx: &Context,
    run: &Instruction,
    release: Option<&str>,
) -> Result<Option<String>, String> {
    let file = cx.file;
    let line = run.start_line;
    let commands = cx.commands_of(run, 0);
    let mut installs = 0;
    for command in commands.iter() {
        let program = command.program().unwrap_or("");
        let apt_lists = |w: &str| {
            w.starts_with('-')
                || w.starts_with("/var/lib/apt/lists")
                || w.starts_with("/var/cache/apt")
        };
        let fine = match program {
            "apt-get" | "apt" => true,
            "rm" => command.words[1..]
                .iter()
                .all(|(w, _)| w.as_deref().is_some_and(apt_lists)),
            "true" => true,
            _ => false,
        };
        if !fine {
            return Err(format!("line {line} runs more than the package manager"));
        }
        installs += usize::from(install(command).is_some());
    }
    let found = match installs {
        1 => commands.iter().find_map(install).expect("one install"),
        _ => return Err(format!("line {line} installs packages more than once")),
    };
    let mut keep: Vec<String> = Vec::new();
    let mut gone: Vec<Range<usize>> = Vec::new();
    for (word, range) in &found.packages {
        let word = word.ok_or_else(|| format!("line {line} names a package the shell expands"))?;
        let name = found.name(word);
        if name != word && name.ends_with("-dev") {
            return Err(format!(
                "line {line} pins `{word}`, a version its library's package may not share"
            ));
        }
        let kept = match is_build_tool(name) {
            false => vec![word.to_string()],
            true => library_of(name, release)?
                .map(|l| l.split_whitespace().map(String::from).collect())
                .unwrap_or_default(),
        };
        for package in kept {
            if !keep.contains(&package) {
                keep.push(package);
            }
        }
        gone.push((*range).clone());
    }
    if keep.is_empty() {
        return Ok(None);
    }
    // The first package word holds the new list; the others go, each with
    // the blank before it.
    let span = run.span();
    let mut deletions: Vec<Range<usize>> = Vec::new();
    for range in &gone[1..] {
        deletions.push(remove::word(file, run, range.clone())?);
    }
    let mut text = Vec::new();
    let mut at = span.start;
    let mut pieces: Vec<(Range<usize>, String)> = vec![(gone[0].clone(), keep.join(" "))];
    pieces.extend(deletions.into_iter().map(|r| (r, String::new())));
    pieces.sort_by_key(|(r, _)| r.start);
    for (range, replacement) in pieces {
        let start = range.start.max(at);
        text.extend_from_slice(&file.source[at..start]);
        text.extend_from_slice(replacement.as_bytes());
        at = at.max(range.end);
    }
    text.extend_from_slice(&file.source[at..span.end]);
    Ok(Some(crate::syntax::lossy(&text).into_owned()))
}

/// The library package a header package belongs to (`""`: one every image
/// has), or why dockfix cannot tell it.
fn library_of(name: &str, release: Option<&str>) -> Result<Option<String>, String> {
    let table = &transforms::stages().python;
    let is_header = name.ends_with("-dev") || name.ends_with("-devel");
    let Some((_, library)) = table
        .runtime_libraries
        .iter()
        .find(|(pattern, _)| wildcard_match(pattern, name))
    else {
        return match is_header {
            true => Err(format!(
                "`{name}` is the headers of a library the packages may link, and dockfix does not know which package holds it"
            )),
            false => Ok(None),
        };
    };
    let library = match library {
        Library::Same(library) => library.as_str(),
        Library::PerRelease(names) => {
            let release = release.ok_or_else(|| {
                format!("`{name}`'s library is named differently in each Debian release, and the tag names none")
            })?;
            names
                .get(release)
                .ok_or_else(|| format!("dockfix does not know `{name}`'s library in {release}"))?
        }
    };
    Ok((!library.is_empty()).then(|| library.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_packages_name_their_library() {
        assert_eq!(library_of("libpq-dev", None), Ok(Some("libpq5".into())));
        assert_eq!(library_of("python3.11-dev", None), Ok(None));
        assert_eq!(library_of("gcc", None), Ok(None));
        assert_eq!(
            library_of("libssl-dev", Some("trixie")),
            Ok(Some("libssl3t64".into()))
        );
        assert_eq!(
            library_of("libssl-dev", Some("bookworm")),
            Ok(Some("libssl3".into()))
        );
        // Renamed between releases, on a tag that names none.
        assert!(library_of("libssl-dev", None).is_err());
        assert!(library_of("libgdal-dev", None).is_err());
    }

    #[test]
    fn every_renamed_library_is_named_for_every_release() {
        let table = &transforms::stages().python;
        for (header, library) in &table.runtime_libraries {
            if let Library::PerRelease(names) = library {
                let releases: Vec<&String> = names.keys().collect();
                let mut known: Vec<&String> = table.releases.iter().collect();
                known.sort();
                assert_eq!(releases, known, "{header}");
            }
        }
    }
}
