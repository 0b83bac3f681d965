//! DF103 tools-before-copy: install named packages and tools (`pip install
//! flask`, `npm install -g pm2`) before copying the whole build context.

use super::copy_passes::{names_archive, run_passes};
use super::install_before_copy;
use super::packages_before_copy::{installs_packages_only, moved_before_copy, Found, Installs};
use crate::model::Stage;
use crate::rules::{Context, Finding, FixSafety, Rule};
use crate::syntax::shell;

pub static RULE: Rule = Rule {
    id: "DF103",
    name: "tools-before-copy",
    summary: "named packages install after the whole build context is copied",
    fix_title: "Install named packages before the whole build context is copied",
    effect: "named packages now install before the source is copied, so a source edit no longer reinstalls them",
    fix_safety: FixSafety::Safe,
    cache_style: None,
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF103 tools-before-copy

## What it does
Finds a RUN that installs packages it names (`pip install gunicorn`,
`pip install --upgrade pip`, `npm install -g pm2`, `yarn global add
@vue/cli`, `gem install bundler`, `go install golang.org/x/tools/gopls@v0.16.2`)
after `COPY . .` (any copy of the whole build context), and moves it
before that copy.

## Why
Every step after a COPY of the whole context reruns when any file of the
context changes. Packages named on the command line do not depend on the
application's files: installed before the copy, they stay cached across
source edits.

## Example
```dockerfile
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir gunicorn==23.0.0
```
becomes
```dockerfile
WORKDIR /app
RUN pip install --no-cache-dir gunicorn==23.0.0
COPY . .
```

## Fix safety
Safe: the RUN moves only when dockfix shows it reads and writes nothing
the copy writes, as for the instructions DF101 moves the copy past: every
command is an install of named packages (no requirement, constraint or
project files, no local paths or archives, for `gem`, `yarn` and `pnpm` a
working directory outside the copy's destination, as they read settings or
local packages from it) or another command that names every path it
touches outside the destination, with no redirect into it. The RUN moves
up past instructions that do not affect it (LABEL, EXPOSE, ...), a COPY
into the copy's destination and a RUN that only changes files there; past
anything else (a WORKDIR, an ENV, a RUN that installs the tool), the copy
moves down instead, when nothing in between reads or writes what it
copies. Installs from manifests are DF101's, system packages DF102's;
where an install from manifests follows, DF101's fix moves the copy down
past the RUN, and DF103 leaves it to that. As for DF102, the build cache
model must see the moved RUNs out of what a source edit reruns.
";

fn check(cx: &Context) -> Vec<Finding> {
    moved_before_copy(cx, &NAMED)
}

static NAMED: Installs = Installs {
    rule: &RULE,
    what: "named packages",
    installs: installs_named,
    moves_past_workdir: false,
};

/// Whether `run` installs named packages, and then whether it otherwise
/// only runs commands that neither read nor write the copy's destination
/// `dest`. An install from files (`pip install .`, `go install ./cmd/x`)
/// is none, and where an install from manifests follows, DF101 moves the
/// copy down past this RUN, so DF103 leaves it.
/// For each position of stage `index`, whether the RUN there or one after
/// it, up to the next full copy, installs from manifests; read once per
/// stage, from the last instruction up.
fn manifests_ahead(cx: &Context, stages: &[Stage], index: usize) -> std::rc::Rc<Vec<bool>> {
    cx.file_fact(
        &format!("installs from manifests ahead in stage {index}"),
        || {
            let len = stages[index].body.len();
            let mut full = vec![false; len];
            for &position in &cx.full_copies()[index] {
                full[position] = true;
            }
            // Only a RUN installs: the others are left unread.
            let mut installs = vec![false; len];
            for (position, run) in stages[index].each(&["run"]) {
                installs[position] = install_before_copy::installs_from_manifests(cx, run);
            }
            let mut ahead = vec![false; len];
            for position in (0..len).rev() {
                let next = position + 1 < len && !full[position + 1];
                ahead[position] = installs[position] || (next && ahead[position + 1]);
            }
            std::rc::Rc::new(ahead)
        },
    )
}

fn installs_named(
    cx: &Context,
    stages: &[Stage],
    index: usize,
    position: usize,
    dest: Option<&str>,
) -> Found {
    let file = cx.file;
    let run = stages[index].body[position];
    if run.command.name != "run"
        || !run.mentions(&file.source, &["pip", "npm", "pnpm", "yarn", "gem", "go"])
        || installs_packages_only(file, run)
    {
        return None;
    }
    let script = shell::parse(file, run)?;
    let words: Vec<Vec<String>> = script
        .commands()
        .iter()
        .filter_map(|c| c.literal_words(&file.source))
        .collect();
    let installs: Vec<&Vec<String>> = words.iter().filter(|w| names_packages(w)).collect();
    if installs.is_empty() || installs.iter().any(|w| from_files(w)) {
        return None;
    }
    if manifests_ahead(cx, stages, index)[position] {
        return None;
    }
    let Some(dest) = dest else {
        return Some(Err(
            "follows a copy to a directory dockfix cannot know".into()
        ));
    };
    Some(run_passes(
        file,
        &cx.scope_at(index, run.span().start),
        run,
        dest,
    ))
}

/// Whether an install reads files: requirement or editable files, a
/// local path or archive (`pip install .[dev]`, `go install ./cmd/x`).
fn from_files(words: &[String]) -> bool {
    words.iter().skip(1).any(|w| {
        matches!(w.as_str(), "-r" | "--requirement" | "-e" | "--editable")
            || w.starts_with("--requirement=")
            || w.starts_with("--editable=")
            || !w.starts_with('-')
                && (w.starts_with('.')
                    || w.starts_with('/')
                    || w.starts_with('~')
                    || w.contains('/') && !w.contains("://") && !w.contains('@')
                    || names_archive(w))
    })
}

/// Whether a command is an install of packages (which `run_passes` then
/// shows to be named ones).
fn names_packages(words: &[String]) -> bool {
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let global = words.iter().any(|w| matches!(*w, "-g" | "--global"));
    // `pip3.12` is `pip3` (not `pipenv` or `pipx`), as the copy checks
    // name the programs.
    match words.as_slice() {
        [name, "install", ..] if matches!(shell::program(name), "pip" | "pip3") => true,
        [python, "-m", "pip", "install", ..]
            if matches!(shell::program(python), "python" | "python3") =>
        {
            true
        }
        ["npm" | "pnpm", rest @ ..] => {
            global && rest.iter().any(|w| matches!(*w, "install" | "i" | "add"))
        }
        ["yarn", "global", "add", ..] | ["gem", "install", ..] | ["go", "install", ..] => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::names_packages;

    #[test]
    fn installs_of_packages_are_told_apart() {
        let says = |text: &str| {
            names_packages(
                &text
                    .split_whitespace()
                    .map(String::from)
                    .collect::<Vec<_>>(),
            )
        };
        for yes in [
            "pip install flask",
            "pip3 install --upgrade pip",
            "python3 -m pip install gunicorn",
            "npm install -g pm2",
            "pnpm add --global turbo",
            "yarn global add @vue/cli",
            "gem install bundler",
            "go install golang.org/x/tools/gopls@v0.16.2",
            "pip3.12 install httpx",
        ] {
            assert!(says(yes), "{yes}");
        }
        for no in [
            "pipenv install --deploy",
            "pipx install black",
            "npm install express",
            "npm ci",
            "pip download flask",
            "yarn add react",
            "go build ./...",
            "echo pip install",
        ] {
            assert!(!says(no), "{no}");
        }
    }
}
