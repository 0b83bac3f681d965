//! yarn commands, for the rules about yarn's installs: which commands
//! install, and whether the yarn is 2 or later (berry), whose cache and
//! lockfile options differ from yarn 1's.

use std::path::Path;

use super::commands::{first_operand, RunCommand};
use super::Context;
use crate::model::{self, Stage};
use crate::syntax::Instruction;

/// What a yarn command does to the dependencies.
pub enum YarnUse {
    /// `yarn install`, or bare `yarn`: the offset after which an install
    /// option goes.
    Install(usize),
    /// `yarn add`, `yarn global add`.
    Add,
}

/// yarn's options that take a value, before the command.
const VALUE_OPTIONS: &[&str] = &[
    "--cwd",
    "--cache-folder",
    "--modules-folder",
    "--mutex",
    "--network-concurrency",
    "--network-timeout",
    "--registry",
    "--global-folder",
    "--link-folder",
    "--preferred-cache-folder",
    "--use-yarnrc",
    "--proxy",
    "--https-proxy",
    "--child-concurrency",
    "--otp",
];

pub fn yarn_use(command: &RunCommand) -> Option<YarnUse> {
    if command.word(0) != Some("yarn") {
        return None;
    }
    let help = std::cell::Cell::new(false);
    let i = first_operand(command, 1, |option| {
        help.set(help.get() || matches!(option, "-v" | "--version" | "-h" | "--help"));
        VALUE_OPTIONS.contains(&option)
    });
    if help.get() {
        return None;
    }
    match command.words.get(i) {
        // No command at all: bare `yarn` installs.
        None => Some(YarnUse::Install(command.words[0].1.end)),
        Some((word, range)) => match word.as_deref()? {
            "install" => Some(YarnUse::Install(range.end)),
            "add" => Some(YarnUse::Add),
            "global" if command.word(i + 1) == Some("add") => Some(YarnUse::Add),
            _ => None,
        },
    }
}

/// Why the yarn running `install` looks like yarn 2 or later, if it does:
/// its own options, or what the stage chain did before it (`corepack`,
/// `yarn set version`, a copied `.yarnrc.yml` or `.yarn` directory), as
/// "this looks like yarn 2+ (...)".
pub fn berry(
    cx: &Context,
    stages: &[Stage],
    commands: &[RunCommand],
    install: &RunCommand,
) -> Option<String> {
    if let Some(option) = [
        "--immutable",
        "--immutable-cache",
        "--check-cache",
        "--mode",
        "--inline-builds",
    ]
    .iter()
    .find(|o| install.has(&[**o]))
    {
        return Some(looks(option));
    }
    let chain = |stage: usize| {
        model::lineage(stages, install.stage).any(|s| std::ptr::eq(s, &stages[stage]))
    };
    let line = |c: &RunCommand| cx.file.line_col(c.range.start).0;
    for command in commands
        .iter()
        .filter(|c| c.range.start < install.range.start && chain(c.stage))
    {
        let names_classic = command.words.iter().any(|(w, _)| {
            w.as_deref()
                .is_some_and(|w| w.starts_with("yarn@1") || w == "classic" || w.starts_with("1."))
        });
        if names_classic {
            continue;
        }
        if command.word(0) == Some("corepack") && command.word(1) != Some("disable") {
            return Some(looks(&format!("corepack at line {}", line(command))));
        }
        if command.word(0) == Some("yarn")
            && command.word(1) == Some("set")
            && command.word(2) == Some("version")
        {
            return Some(looks(&format!(
                "`yarn set version` at line {}",
                line(command)
            )));
        }
    }
    let before = || {
        model::lineage(stages, install.stage)
            .flat_map(|s| s.body.iter())
            .filter(|i| i.span().start < install.range.start)
    };
    if let Some(found) = before().find_map(|i| {
        let found = copied(cx, i, &[".yarnrc.yml", ".yarn"])?;
        Some(looks(&format!("{found} copied at line {}", i.start_line)))
    }) {
        return Some(found);
    }
    // Without a build context, a copied directory may hold `.yarnrc.yml`.
    if cx.build_context.is_some() {
        return None;
    }
    before().find_map(|i| {
        let command = &i.command;
        let from_context = matches!(command.name.as_str(), "copy" | "add")
            && !command.flags.iter().any(|f| f.name() == "from");
        let (_, sources) = command.values.split_last()?;
        let directory = sources
            .iter()
            .find(|s| *s == "." || s.ends_with('/') || s.contains(['*', '?', '[']))?;
        from_context.then(|| {
            format!(
                "yarn may be 2+ (line {} copies `{directory}` from a build context dockfix has not read)",
                i.start_line
            )
        })
    })
}

fn looks(evidence: &str) -> String {
    format!("this looks like yarn 2+ ({evidence})")
}

/// Which of `names` a COPY or ADD brings into the image: a source named so
/// (by a wildcard too), or a directory of the build context holding it that
/// `.dockerignore` does not exclude.
pub fn copied(cx: &Context, instruction: &Instruction, names: &[&str]) -> Option<String> {
    let command = &instruction.command;
    if !matches!(command.name.as_str(), "copy" | "add") || !instruction.heredocs.is_empty() {
        return None;
    }
    let (_, sources) = command.values.split_last()?;
    for source in sources {
        let base = source
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("");
        if let Some(name) = names
            .iter()
            .find(|n| crate::context::wildcard_match(base, n))
        {
            return Some(name.to_string());
        }
    }
    let from_context = !command.flags.iter().any(|f| f.name() == "from");
    let root = cx.build_context.filter(|_| from_context)?;
    let ignore = cx.dockerignore();
    sources
        .iter()
        .flat_map(|s| crate::context::resolve(root, s))
        .filter(|dir| dir.is_dir())
        .find_map(|dir| {
            names.iter().find_map(|name| {
                let path = dir.join(name);
                let relative = path.strip_prefix(root).ok()?.to_string_lossy().into_owned();
                (path.exists() && !ignore.excludes(&relative)).then(|| display(root, &path))
            })
        })
}

/// A path of the build context as messages name it.
fn display(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}
