//! The commands of every RUN, with their words and the byte ranges of those
//! words, for rules that fix package-manager invocations word by word.

use std::ops::Range;

use crate::model::Stage;
use crate::syntax::{shell, Dockerfile, Instruction};

/// What the package-manager rules look for; a RUN mentioning none of these
/// is not parsed for them.
const PROGRAMS: &[&str] = &[
    "apt", "apk", "pip", "uv", "dnf", "yum", "zypper", "npm", "yarn", "gem", "poetry", "pnpm",
    "go", "cargo", "mvn", "gradle", "dotnet", "composer", "bundle",
];

/// One command of a RUN.
#[derive(Clone)]
pub struct RunCommand {
    pub stage: usize,
    /// The whole command, by file range.
    pub range: Range<usize>,
    /// Each word's value as the shell passes it (None when it depends on
    /// the environment) and its range.
    pub words: Vec<(Option<String>, Range<usize>)>,
    /// Whether the shell of its RUN (or heredoc script) did not parse
    /// cleanly: where the parser recovered, word ranges may run past
    /// what the shell reads, so no edit should rely on them.
    pub shell_error: bool,
}

impl RunCommand {
    pub fn word(&self, i: usize) -> Option<&str> {
        self.words.get(i).and_then(|(w, _)| w.as_deref())
    }

    /// The program it runs, by name: `go` for `/usr/local/go/bin/go`.
    pub fn program(&self) -> Option<&str> {
        self.word(0).map(|w| w.rsplit('/').next().unwrap_or(w))
    }

    /// Whether the words from index `i` on begin with `words` (one or more,
    /// space-separated: `group install`).
    pub fn words_at(&self, i: usize, words: &str) -> bool {
        words
            .split(' ')
            .enumerate()
            .all(|(k, part)| self.word(i + k) == Some(part))
    }

    /// Its words, when the shell passes each as written.
    pub fn literal_words(&self) -> Option<Vec<String>> {
        self.words.iter().map(|(w, _)| w.clone()).collect()
    }

    /// Whether any word is exactly `flag`, or `flag=...`.
    pub fn has(&self, flags: &[&str]) -> bool {
        self.words
            .iter()
            .filter_map(|(w, _)| w.as_deref())
            .any(|w| {
                flags
                    .iter()
                    .any(|f| w == *f || w.strip_prefix(f).is_some_and(|rest| rest.starts_with('=')))
            })
    }
}

/// Every command of every shell-form RUN (heredoc scripts included), in
/// file order, with the stage it belongs to.
pub fn run_commands<'f>(file: &'f Dockerfile, stages: &[Stage<'f>]) -> Vec<RunCommand> {
    let mut found = Vec::new();
    for (index, stage) in stages.iter().enumerate() {
        for (_, instruction) in stage.each(&["run"]) {
            if instruction.command.name != "run" {
                continue;
            }
            if !instruction.mentions(&file.source, PROGRAMS) {
                continue;
            }
            found.extend(instruction_commands(file, instruction, index));
        }
    }
    found
}

/// The commands of one shell-form RUN (or ONBUILD RUN), heredoc scripts
/// included, in order.
pub fn instruction_commands(
    file: &Dockerfile,
    instruction: &Instruction,
    stage: usize,
) -> Vec<RunCommand> {
    let Some(script) = shell::parse(file, instruction) else {
        return Vec::new();
    };
    let shell_error = script.has_error();
    script
        .commands()
        .iter()
        .map(|command| RunCommand {
            stage,
            range: command.range.clone(),
            words: command
                .name
                .iter()
                .chain(&command.args)
                .map(|r| (shell::unquoted(&file.source, r.clone()), r.clone()))
                .collect(),
            shell_error,
        })
        .collect()
}

/// A `--mount` of a RUN, its fields as written.
pub struct Mount {
    /// BuildKit's default is `bind`.
    pub kind: String,
    pub target: String,
    /// The stage or image a bind mount takes its files from.
    pub from: Option<String>,
    pub source: Option<String>,
}

/// Each `--mount` of a RUN (of an ONBUILD RUN, its nested one) that has a
/// target.
pub fn mounts(run: &Instruction) -> Vec<Mount> {
    let command = run.command.sub.as_deref().unwrap_or(&run.command);
    command
        .flags
        .iter()
        .filter(|f| f.name() == "mount")
        .filter_map(|f| {
            let fields: Vec<(&str, &str)> = f
                .value()?
                .split(',')
                .filter_map(|field| field.split_once('='))
                .collect();
            let field = |keys: &[&str]| {
                fields
                    .iter()
                    .find(|(k, _)| keys.contains(k))
                    .map(|(_, v)| v.to_string())
            };
            Some(Mount {
                target: field(&["target", "dst", "destination"])?,
                kind: field(&["type"]).unwrap_or_else(|| "bind".into()),
                from: field(&["from"]),
                source: field(&["source", "src"]),
            })
        })
        .collect()
}

/// Whether the RUN of `command` has a cache or tmpfs mount on a directory
/// ending in one of `caches` (`.cache/pip`): what the tool keeps there
/// never reaches the layer, and a flag that turns the cache off would only
/// defeat the mount.
pub fn mounts_cache(file: &Dockerfile, command: &RunCommand, caches: &[&str]) -> bool {
    file.instruction_at(command.range.start).is_some_and(|run| {
        mounts(run)
            .iter()
            .filter(|m| matches!(m.kind.as_str(), "cache" | "tmpfs"))
            .any(|m| {
                let target = m.target.trim_end_matches('/');
                caches.iter().any(|cache| target.ends_with(cache))
            })
    })
}

/// apt-get's global options that take a value (before the subcommand).
pub const APT_VALUE_OPTIONS: &[&str] = &[
    "-o",
    "--option",
    "-c",
    "--config-file",
    "-t",
    "--target-release",
];

/// dnf's, yum's and microdnf's global options that take a value as the
/// next word.
pub const DNF_VALUE_OPTIONS: &[&str] = &[
    "-c",
    "--config",
    "-d",
    "--debuglevel",
    "-e",
    "--errorlevel",
    "-R",
    "--randomwait",
    "-x",
    "--exclude",
    "--excludepkgs",
    "--installroot",
    "--releasever",
    "--setopt",
    "--repo",
    "--repoid",
    "--enablerepo",
    "--disablerepo",
    "--repofrompath",
    "--disableexcludes",
    "--disableplugin",
    "--enableplugin",
    "--color",
    "--rpmverbosity",
    "--downloaddir",
    "--destdir",
    "--forcearch",
    "--comment",
];

/// zypper's global options that take a value as the next word.
pub const ZYPPER_VALUE_OPTIONS: &[&str] = &[
    "-c",
    "--config",
    "-R",
    "--root",
    "--installroot",
    "-D",
    "--reposd-dir",
    "-C",
    "--cache-dir",
    "--raw-cache-dir",
    "--solv-cache-dir",
    "--pkg-cache-dir",
    "-p",
    "--plus-repo",
    "--plus-content",
    "--releasever",
    "--userdata",
    "-s",
    "--table-style",
];

/// A flag a package-manager subcommand should carry.
pub struct FlagSpec {
    /// Commands, as their leading words (`["pip"]`, `["python3", "-m", "pip"]`).
    pub programs: &'static [&'static [&'static str]],
    /// Global options before the subcommand that take a value.
    pub value_options: &'static [&'static str],
    pub subcommands: &'static [&'static str],
    /// Any of these present means the flag is there.
    pub present: &'static [&'static str],
    /// A short option that counts inside a cluster (`y` in `-fy`), and how
    /// many times it must appear there (`-qq` implies `-y`).
    pub short: &'static [(char, usize)],
    /// What to insert after the subcommand.
    pub insert: &'static str,
}

impl FlagSpec {
    /// A spec that only finds a subcommand (`subcommand`), adding no flag.
    pub const fn finding(
        programs: &'static [&'static [&'static str]],
        value_options: &'static [&'static str],
        subcommands: &'static [&'static str],
    ) -> FlagSpec {
        FlagSpec {
            programs,
            value_options,
            subcommands,
            present: &[],
            short: &[],
            insert: "",
        }
    }
}

/// The word after the program's leading words and its global options: the
/// subcommand, with its index, for commands of `spec.programs`.
pub fn subcommand(command: &RunCommand, spec: &FlagSpec) -> Option<usize> {
    let i = first_operand(command, program_len(command, spec)?, |w| {
        spec.value_options.contains(&w)
    });
    // An entry of several words (`group install`) matches them in turn.
    spec.subcommands
        .iter()
        .find(|s| command.words_at(i, s))
        .map(|s| i + s.matches(' ').count())
}

/// The index of the first word from `i` on that is neither an option nor
/// the value of one (`takes_value` is asked of each option): the words'
/// count when there is none, or the index of a word the shell expands.
pub fn first_operand(
    command: &RunCommand,
    mut i: usize,
    takes_value: impl Fn(&str) -> bool,
) -> usize {
    while let Some(word) = command.word(i) {
        if !word.starts_with('-') {
            break;
        }
        i += if takes_value(word) { 2 } else { 1 };
    }
    i
}

/// How many leading words name the program, for commands of `spec.programs`.
pub fn program_len(command: &RunCommand, spec: &FlagSpec) -> Option<usize> {
    // Most commands are no program of the spec: their first word, read
    // once, rules them out.
    let first = shell::program(command.word(0)?);
    let program = spec.programs.iter().find(|p| {
        p.first() == Some(&first)
            && p.iter()
                .enumerate()
                .skip(1)
                .all(|(i, w)| command.word(i).map(shell::program) == Some(*w))
    })?;
    Some(program.len())
}
