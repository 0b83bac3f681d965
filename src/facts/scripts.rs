//! What a later RUN runs that its own text does not show: a script run by
//! its path, by a shell or an interpreter, or sourced, and the makefile
//! `make` reads. The cleanup rules ask whether such a file may use what
//! they remove. dockfix reads it from the build context through the COPY or
//! ADD that put it in the image (`.dockerignore` respected), follows the
//! scripts a shell script or a makefile's recipes run in turn, and takes a
//! file it cannot read as one that may use anything.
//!
//! A program run by its name (or from `/bin`, `/usr/bin`, ...) is the
//! image's own, unless a COPY or ADD of the Dockerfile put a file of that
//! name in a directory of PATH: then it is read as a script.

use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use super::Context;
use crate::context;
use crate::dockerignore::DockerIgnore;
use crate::model::Stage;
use crate::syntax::{names_program, shell, Instruction, Word};

/// Why a RUN after the one at `position` of stage `index` (in the stage,
/// the stages built on it, ONBUILD triggers) may use one of `programs`
/// through a file it runs: the file names one of them, or dockfix cannot
/// read it.
pub fn later_use(cx: &Context, index: usize, position: usize, programs: &[&str]) -> Option<String> {
    let key = format!("runs a file using {}", programs.join(" "));
    let first = cx.first_later(&key, |run| run_use(cx, run, programs));
    let (run, why) = first.after(index, position)?;
    Some(format!("line {} runs {why}", run.start_line))
}

/// Why a file the RUN runs may use one of `programs`: what it runs and why.
pub fn run_use<'f>(cx: &Context<'f>, run: &'f Instruction, programs: &[&str]) -> Option<String> {
    let site = Site::of(cx, run);
    let Some(commands) = run_words(cx, run) else {
        return Some("a shell dockfix cannot read".into());
    };
    commands
        .iter()
        .find_map(|words| site.uses(runs(words)?, programs, 0))
}

/// The words of each command of a RUN, as the shell passes them; `None`
/// when dockfix cannot read its shell.
fn run_words(cx: &Context, run: &Instruction) -> Option<Vec<Vec<Option<String>>>> {
    let command = run.command.sub.as_deref().unwrap_or(&run.command);
    if command.name != "run" {
        return Some(Vec::new());
    }
    if command.json {
        return Some(vec![command
            .values
            .iter()
            .map(|v| Some(v.to_string()))
            .collect()]);
    }
    let script = shell::parse(cx.file, run).filter(|s| !s.has_error())?;
    Some(script_words(&cx.file.source, script))
}

/// The words of each command of a parsed script whose offsets are in
/// `source`: only the first where it alone says what the command runs (a
/// program by its name, most commands), which spares unquoting the rest.
fn script_words(source: &[u8], script: &shell::Script) -> Vec<Vec<Option<String>>> {
    script
        .commands()
        .iter()
        .map(|c| {
            let mut words = c
                .name
                .iter()
                .chain(&c.args)
                .map(|r| shell::unquoted(source, r.clone()));
            let first: Vec<Option<String>> = words.by_ref().take(1).collect();
            if matches!(runs(&first), Some(Runs::Named(_))) {
                first
            } else {
                first.into_iter().chain(words).collect()
            }
        })
        .collect()
}

/// What a command runs.
#[derive(Debug, PartialEq)]
enum Runs {
    /// A file the shell runs (or its `#!` line's interpreter), by its
    /// path as written.
    Script(String),
    /// A file an interpreter reads (`python3 x.py`).
    Program(String),
    /// `make`'s makefile: the first of these that exists.
    Makefile(Vec<String>),
    /// A shell's `-c` script.
    Inline(String),
    /// What dockfix cannot name.
    Unknown(&'static str),
    /// A program by its name: the image's own, unless the Dockerfile put a
    /// file of that name where the shell looks first.
    Named(String),
}

const SHELLS: &[&str] = &["sh", "bash", "dash", "ash", "zsh", "ksh", "mksh"];
/// Interpreters that run a script file named by their first operand.
const INTERPRETERS: &[&str] = &["python", "node", "perl", "ruby", "php", "Rscript"];
/// Programs that run the command after their options.
const WRAPPERS: &[&str] = &["sudo", "exec", "env", "command", "nohup", "time", "nice"];
/// Where the system's own programs live: a program there is known.
const SYSTEM_DIRS: &[&str] = &["/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/"];
/// The directories of the official images' PATH, first to last; also the
/// PATH BuildKit gives a stage whose image sets none (`FROM scratch`).
pub(crate) const PATH: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// What a command (its words as the shell passes them) runs; `None` for
/// code on the command line (`python3 -c`) or a module (`python3 -m pip`).
fn runs(words: &[Option<String>]) -> Option<Runs> {
    let mut i = 0;
    loop {
        let Some(word) = words.get(i)?.as_deref() else {
            return Some(Runs::Unknown("a program a variable names"));
        };
        let name = match SYSTEM_DIRS.iter().find_map(|d| word.strip_prefix(d)) {
            Some(name) if !name.contains('/') => name,
            _ if word.contains('/') => return Some(Runs::Script(word.to_string())),
            _ => word,
        };
        let operand = |from: usize, valued: &[&str]| first_operand(words, from, valued);
        if WRAPPERS.contains(&name) {
            i += 1;
            while words
                .get(i)
                .and_then(|w| w.as_deref())
                .is_some_and(|w| w.starts_with('-') || (name == "env" && w.contains('=')))
            {
                i += 1;
            }
            continue;
        }
        if name == "." || name == "source" {
            return Some(file_or_unknown(words.get(i + 1)));
        }
        if SHELLS.contains(&name) {
            // `-c`, alone or among other one-letter options (`-ec`).
            let command_string = |w: &Option<String>| {
                w.as_deref()
                    .is_some_and(|w| w.starts_with('-') && !w.starts_with("--") && w.contains('c'))
            };
            if let Some(at) = words[i + 1..].iter().position(command_string) {
                return Some(match words.get(i + 2 + at) {
                    Some(Some(text)) => Runs::Inline(text.clone()),
                    _ => Runs::Unknown("a script a variable holds"),
                });
            }
            return Some(match operand(i + 1, &["-o", "+o", "-O", "+O"]) {
                Operand::Word(w) if w != "-" => Runs::Script(w),
                Operand::Variable => Runs::Unknown("a script a variable names"),
                _ => Runs::Unknown("a script from its standard input"),
            });
        }
        if is_interpreter(name) {
            let inline = ["-c", "-e", "-r", "-m", "--eval", "-p", "--print"];
            if words[i + 1..]
                .iter()
                .any(|w| w.as_deref().is_some_and(|w| inline.contains(&w)))
            {
                // Code on the command line is in the RUN's text; a module
                // (`python -m pip`) is a known program.
                return None;
            }
            return Some(match operand(i + 1, &["-W", "-X", "-r", "--require"]) {
                Operand::Word(w) if w != "-" => Runs::Program(w),
                Operand::Variable => Runs::Unknown("a script a variable names"),
                _ => Runs::Unknown("a script from its standard input"),
            });
        }
        if name == "make" || name == "gmake" {
            return Some(makefile(&words[i + 1..]));
        }
        return Some(Runs::Named(name.to_string()));
    }
}

fn file_or_unknown(word: Option<&Option<String>>) -> Runs {
    match word {
        Some(Some(path)) => Runs::Script(path.clone()),
        _ => Runs::Unknown("a script a variable names"),
    }
}

/// `python3`, `python3.12`, `node`: one of `INTERPRETERS` with a version.
fn is_interpreter(name: &str) -> bool {
    INTERPRETERS.iter().any(|i| {
        name.strip_prefix(i)
            .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
    })
}

enum Operand {
    Word(String),
    Variable,
    None,
}

/// The first word from `from` on that is not an option (nor the value of
/// one of `valued`).
fn first_operand(words: &[Option<String>], from: usize, valued: &[&str]) -> Operand {
    let mut i = from;
    while let Some(word) = words.get(i) {
        match word.as_deref() {
            None => return Operand::Variable,
            Some(w) if valued.contains(&w) => i += 2,
            Some(w) if w.len() > 1 && (w.starts_with('-') || w.starts_with('+')) => i += 1,
            Some(w) => return Operand::Word(w.to_string()),
        }
    }
    Operand::None
}

/// The makefile `make` reads with these arguments: `-f`/`--file`, in the
/// directory `-C` names, else GNU make's default names.
fn makefile(args: &[Option<String>]) -> Runs {
    let mut dir = String::new();
    let mut named = Vec::new();
    let mut i = 0;
    while let Some(word) = args.get(i) {
        let Some(word) = word.as_deref() else {
            return Runs::Unknown("a makefile a variable names");
        };
        let next = || args.get(i + 1).cloned().flatten();
        let value = |flag: &str| word.strip_prefix(flag).filter(|v| !v.is_empty());
        match word {
            "-f" | "--file" | "--makefile" | "-C" | "--directory" => {
                let Some(value) = next() else {
                    return Runs::Unknown("a makefile a variable names");
                };
                if word.starts_with("-C") || word == "--directory" {
                    dir = format!("{value}/");
                } else {
                    named.push(value);
                }
                i += 2;
                continue;
            }
            _ => {}
        }
        if let Some(v) = value("--file=").or(value("--makefile=")).or(value("-f")) {
            named.push(v.to_string());
        } else if let Some(v) = value("--directory=").or(value("-C")) {
            dir = format!("{v}/");
        }
        i += 1;
    }
    if named.is_empty() {
        named = ["GNUmakefile", "makefile", "Makefile"]
            .map(String::from)
            .to_vec();
    }
    Runs::Makefile(
        named
            .into_iter()
            .map(|n| {
                if n.starts_with('/') {
                    n
                } else {
                    format!("{dir}{n}")
                }
            })
            .collect(),
    )
}

/// Files followed from a RUN before dockfix gives up (a script that runs
/// itself, or a long chain).
const MAX_DEPTH: usize = 4;

/// Where a RUN runs: the instructions before it in its stage chain, in file
/// order, each with the working directory it runs in, and the working
/// directory of the RUN. `None` for an ONBUILD trigger, which runs in a
/// build dockfix does not see.
struct Site<'c, 'f> {
    cx: &'c Context<'f>,
    /// The COPY and ADD instructions before the RUN, first to last, each
    /// with the working directory it ran in, and the RUN's own.
    before: Option<(Vec<Placed<'f>>, Rc<str>)>,
}

/// An instruction and the working directory it ran in.
type Placed<'f> = (&'f Instruction, Rc<str>);

/// The working directory of a stage chain's base image, which dockfix does
/// not know: a path below it is only ever equal to another path below it.
const IMAGE_WORKDIR: &str = "?";

/// Where each instruction of the file runs, read in one pass: per stage,
/// its COPY and ADD instructions with their working directories, and at each
/// position how many of them came before and the working directory there.
pub struct Sites<'f> {
    stages: Vec<StageSites<'f>>,
    parents: Vec<Option<usize>>,
    /// Each instruction's stage and position, by address.
    at: HashMap<*const Instruction, (usize, usize)>,
}

struct StageSites<'f> {
    copies: Vec<Placed<'f>>,
    positions: Vec<(usize, Rc<str>)>,
    /// The working directory after the last instruction.
    end: Rc<str>,
}

impl<'f> Sites<'f> {
    pub fn new(stages: &[Stage<'f>]) -> Self {
        let mut tables: Vec<StageSites<'f>> = Vec::with_capacity(stages.len());
        let mut at = HashMap::new();
        for (index, stage) in stages.iter().enumerate() {
            let mut cwd: Rc<str> = match stage.parent {
                Some(parent) => Rc::clone(&tables[parent].end),
                None => IMAGE_WORKDIR.into(),
            };
            let mut copies = Vec::new();
            let mut positions = Vec::with_capacity(stage.body.len());
            for (position, &instruction) in stage.body.iter().enumerate() {
                at.insert(instruction as *const Instruction, (index, position));
                positions.push((copies.len(), Rc::clone(&cwd)));
                match instruction.command.name.as_str() {
                    "copy" | "add" => copies.push((instruction, Rc::clone(&cwd))),
                    "workdir" => {
                        let dir = instruction
                            .command
                            .values
                            .first()
                            .map(String::from)
                            .unwrap_or_default();
                        cwd = if dir.contains('$') {
                            format!("{IMAGE_WORKDIR}{}", instruction.start_line).into()
                        } else {
                            join(&cwd, &dir).into()
                        };
                    }
                    _ => {}
                }
            }
            tables.push(StageSites {
                copies,
                positions,
                end: cwd,
            });
        }
        Sites {
            stages: tables,
            parents: stages.iter().map(|s| s.parent).collect(),
            at,
        }
    }
}

impl<'c, 'f> Site<'c, 'f> {
    fn of(cx: &'c Context<'f>, run: &'f Instruction) -> Self {
        let sites = cx.sites();
        let before = sites
            .at
            .get(&(run as *const Instruction))
            .filter(|_| run.command.sub.is_none())
            .map(|&(index, position)| {
                let (count, cwd) = &sites.stages[index].positions[position];
                let mut chain = vec![&sites.stages[index].copies[..*count]];
                let mut ancestor = sites.parents[index];
                while let Some(a) = ancestor {
                    chain.push(&sites.stages[a].copies[..]);
                    ancestor = sites.parents[a];
                }
                let copies = chain.into_iter().rev().flatten().cloned().collect();
                (copies, Rc::clone(cwd))
            });
        Site { cx, before }
    }

    /// Why what a command runs (`target`) may use one of `programs`, if it
    /// may.
    fn uses(&self, target: Runs, programs: &[&str], depth: usize) -> Option<String> {
        let (what, text, shell) = match target {
            Runs::Unknown(what) => return Some(format!("{what}, which dockfix cannot read")),
            Runs::Named(name) => {
                let path = self.on_path(&name)?;
                return self.uses(Runs::Script(path), programs, depth);
            }
            Runs::Inline(text) => ("a shell script".to_string(), text, true),
            Runs::Script(ref path) | Runs::Program(ref path) => match self.read(path) {
                Err(why) => return Some(format!("`{path}`, which dockfix cannot read ({why})")),
                Ok(text) => {
                    // A file the shell runs is a shell script unless its
                    // `#!` line names another interpreter.
                    let shell = matches!(target, Runs::Script(_))
                        && foreign_interpreter(text.as_bytes()).is_none();
                    (format!("`{path}`"), text, shell)
                }
            },
            Runs::Makefile(names) => {
                let mut why = None;
                let found = names.iter().find_map(|name| match self.read(name) {
                    Ok(text) => Some((name, text)),
                    Err(e) => {
                        why.get_or_insert(e);
                        None
                    }
                });
                let Some((name, text)) = found else {
                    let why = why.unwrap_or_default();
                    return Some(format!(
                        "`make`, whose makefile dockfix cannot read ({why})"
                    ));
                };
                (format!("`make` with `{name}`"), recipes(&text), true)
            }
        };
        if let Some(program) = programs
            .iter()
            .find(|p| names_program(text.as_bytes(), &[**p]))
        {
            return Some(format!("{what}, which runs {program}"));
        }
        if !shell {
            // Another language: dockfix reads only whether it names the
            // programs.
            return None;
        }
        let script = shell::parse_text(text.as_bytes()).filter(|s| !s.has_error());
        let Some(script) = script else {
            return Some(format!("{what}, whose shell dockfix cannot read"));
        };
        script_words(text.as_bytes(), &script)
            .iter()
            .filter_map(|words| runs(words))
            .find_map(|inner| {
                if depth + 1 >= MAX_DEPTH {
                    return Some(format!(
                        "{what}, which runs more scripts than dockfix follows"
                    ));
                }
                let why = self.uses(inner, programs, depth + 1)?;
                Some(format!("{what}, which runs {why}"))
            })
    }

    /// Where a COPY or ADD before the RUN puts a file named `name` in a
    /// directory of PATH: a source of that name, a file copied to that
    /// path, or one in a copied directory of the build context. A
    /// directory copied from elsewhere is not searched.
    fn on_path(&self, name: &str) -> Option<String> {
        let (before, _) = self.before.as_ref()?;
        let ignore = self.cx.dockerignore();
        before.iter().rev().find_map(|(instruction, cwd)| {
            let command = &instruction.command;
            if !matches!(command.name.as_str(), "copy" | "add") {
                return None;
            }
            let (dest, sources) = command.values.split_last()?;
            let dest_path = join(cwd, dest);
            let single = sources.len() == 1 && !dest.ends_with('/');
            let from_context = !command.flags.iter().any(|f| f.name() == "from");
            let root = self.cx.build_context.filter(|_| from_context);
            // Only a PATH directory at or below the destination, or the
            // destination itself naming the program there, can hold it
            // (a name has no `/`): the others are passed over unwritten.
            let trimmed = dest_path.trim_end_matches('/');
            let may_hold = |dir: &&&str| {
                trimmed.is_empty()
                    || dir
                        .strip_prefix(trimmed)
                        .is_some_and(|r| r.is_empty() || r.starts_with('/'))
                    || dest_path
                        .strip_prefix(*dir)
                        .and_then(|r| r.strip_prefix('/'))
                        == Some(name)
            };
            PATH.iter()
                .filter(may_hold)
                .map(|dir| format!("{dir}/{name}"))
                .find(|target| {
                    let rest = below(target, &dest_path);
                    if target != &dest_path && rest.is_none() {
                        return false;
                    }
                    let named = if target == &dest_path {
                        single
                    } else {
                        rest.is_some_and(|rest| !rest.contains('/'))
                            && sources.iter().any(|s| {
                                let base = s.trim_end_matches('/').rsplit('/').next().unwrap_or(s);
                                context::wildcard_match(base, name)
                            })
                    };
                    named
                        || root.is_some_and(|root| {
                            copied(self.cx, root, &ignore, sources, &dest_path, target, single)
                                .is_some()
                        })
                })
        })
    }

    /// The text of the file at `path` (relative to the RUN's working
    /// directory) as the COPY or ADD that put it there brings it from the
    /// build context, or why dockfix cannot read it.
    fn read(&self, path: &str) -> Result<String, String> {
        let Some((before, cwd)) = &self.before else {
            return Err("an ONBUILD trigger runs it in another build".into());
        };
        let target = join(cwd, path);
        // A COPY of the build context that would put it there, had the
        // context such a file.
        let mut missing = None;
        for (instruction, cwd) in before.iter().rev() {
            let command = &instruction.command;
            if !matches!(command.name.as_str(), "copy" | "add") {
                continue;
            }
            let Some((dest, sources)) = command.values.split_last() else {
                continue;
            };
            let line = instruction.start_line;
            let dest_path = join(cwd, dest);
            let inside = target == dest_path || below(&target, &dest_path).is_some();
            if !inside && !dest.contains('$') {
                continue;
            }
            if !instruction.heredocs.is_empty() {
                return Err(format!("line {line} writes it from a heredoc"));
            }
            if command.flags.iter().any(|f| f.name() == "from") {
                return Err(format!("line {line} copies it from another image"));
            }
            if dest.contains('$') || sources.iter().any(|s| s.contains(['$', '"', '\''])) {
                return Err(format!(
                    "line {line} copies with names dockfix does not resolve"
                ));
            }
            if command.name == "add"
                && sources
                    .iter()
                    .any(|s| s.contains("://") || context::looks_like_archive(s))
            {
                return Err(format!("line {line} adds it from a URL or an archive"));
            }
            let Some(root) = self.cx.build_context else {
                return Err(format!(
                    "line {line} copies it from a build context dockfix has not read"
                ));
            };
            let single = sources.len() == 1 && !dest.ends_with('/');
            match copied(
                self.cx,
                root,
                &self.cx.dockerignore(),
                sources,
                &dest_path,
                &target,
                single,
            ) {
                Some(file) => {
                    return crate::context::read(root, &file)
                        .map(|bytes| crate::syntax::lossy(&bytes).into_owned())
                        .map_err(|e| format!("{}: {e}", file.display()))
                }
                None => {
                    missing.get_or_insert(line);
                }
            }
        }
        Err(match missing {
            Some(line) => format!("line {line} copies no such file from the build context"),
            None => "no COPY or ADD of this Dockerfile puts it there".into(),
        })
    }
}

/// The file of the build context a COPY of `sources` to `dest` puts at
/// `target`, unless `.dockerignore` keeps it out. `single`: one source and
/// a destination without a final `/`, which a file is copied to as named.
fn copied(
    cx: &Context,
    root: &Path,
    ignore: &DockerIgnore,
    sources: &[Word],
    dest: &str,
    target: &str,
    single: bool,
) -> Option<std::path::PathBuf> {
    let below = below(target, dest);
    let seen = |path: &Path| {
        path.strip_prefix(root)
            .is_ok_and(|p| !ignore.excludes(&p.to_string_lossy()))
    };
    // Source by source, as the build copies them: a later source's paths
    // are not looked up once an earlier one holds the file.
    sources.iter().find_map(|source| {
        cx.context_paths(root, source)
            .iter()
            .filter(|m| seen(m))
            .find_map(|m| {
                let file = if m.is_dir() {
                    m.join(below?)
                } else if (single && target == dest)
                    || below.is_some_and(|b| m.file_name().is_some_and(|n| n == b))
                {
                    m.clone()
                } else {
                    return None;
                };
                (file.is_file() && seen(&file)).then_some(file)
            })
    })
}

/// The rest of `path` below directory `dir` (both from `join`).
fn below<'p>(path: &'p str, dir: &str) -> Option<&'p str> {
    path.strip_prefix(dir.trim_end_matches('/'))?
        .strip_prefix('/')
        .filter(|rest| !rest.is_empty())
}

/// `path` as an absolute path (or one below `IMAGE_WORKDIR`), from `cwd`,
/// without `.` and `..` parts.
fn join(cwd: &str, path: &str) -> String {
    let whole = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{cwd}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in whole.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| !p.starts_with(IMAGE_WORKDIR)) {
                    parts.pop();
                }
            }
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    if joined.starts_with(IMAGE_WORKDIR) {
        joined
    } else {
        format!("/{joined}")
    }
}

/// A makefile's recipe lines (those starting with a tab), as one shell
/// script: make's `@`, `-` and `+` prefixes dropped, continued lines kept.
fn recipes(makefile: &str) -> String {
    makefile
        .lines()
        .filter_map(|l| l.strip_prefix('\t'))
        .map(|l| l.trim_start_matches(['@', '-', '+']))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The interpreter a `#!` line names, when it is not a POSIX shell.
pub fn foreign_interpreter(body: &[u8]) -> Option<String> {
    let first = body.split(|&b| b == b'\n').next()?;
    let line = crate::syntax::lossy(first.strip_prefix(b"#!")?).into_owned();
    let mut words = line.split_whitespace();
    let mut program = words.next()?.rsplit('/').next()?.to_string();
    if program == "env" {
        program = words.find(|w| !w.starts_with('-'))?.to_string();
    }
    let shells = ["sh", "bash", "ash", "dash", "zsh", "ksh", "mksh"];
    (!shells.contains(&program.as_str())).then_some(program)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Option<String>> {
        text.split(' ')
            .map(|w| (!w.starts_with('$')).then(|| w.to_string()))
            .collect()
    }

    #[test]
    fn commands_run_files_or_known_programs() {
        let file = |p: &str| Some(Runs::Script(p.into()));
        assert_eq!(runs(&words("./install-nginx")), file("./install-nginx"));
        assert_eq!(runs(&words("/tmp/setup.sh --quiet")), file("/tmp/setup.sh"));
        assert_eq!(runs(&words("bash -e scripts/x.sh")), file("scripts/x.sh"));
        assert_eq!(runs(&words("sudo -E sh x.sh")), file("x.sh"));
        assert_eq!(runs(&words("/bin/sh -o errexit x.sh")), file("x.sh"));
        assert_eq!(runs(&words(". ./env.sh")), file("./env.sh"));
        assert_eq!(runs(&words("source env.sh")), file("env.sh"));
        let program = |p: &str| Some(Runs::Program(p.into()));
        assert_eq!(
            runs(&words("python3.12 -u manage.py migrate")),
            program("manage.py")
        );
        assert_eq!(runs(&words("env A=1 node build.js")), program("build.js"));
        assert_eq!(runs(&words("sh -ec x")), Some(Runs::Inline("x".into())));
        assert_eq!(runs(&words("sh -c x")), Some(Runs::Inline("x".into())));
        assert_eq!(
            runs(&words("bash -")),
            Some(Runs::Unknown("a script from its standard input"))
        );
        assert_eq!(
            runs(&words("bash")),
            Some(Runs::Unknown("a script from its standard input"))
        );
        assert_eq!(
            runs(&words("$SCRIPT")),
            Some(Runs::Unknown("a program a variable names"))
        );
        assert_eq!(
            runs(&words("make -C src install")),
            Some(Runs::Makefile(vec![
                "src/GNUmakefile".into(),
                "src/makefile".into(),
                "src/Makefile".into()
            ]))
        );
        assert_eq!(
            runs(&words("make --file=build.mk")),
            Some(Runs::Makefile(vec!["build.mk".into()]))
        );
        let named = |n: &str| Some(Runs::Named(n.into()));
        assert_eq!(runs(&words("apt-get install -y x")), named("apt-get"));
        assert_eq!(runs(&words("/usr/bin/apt-get install x")), named("apt-get"));
        assert_eq!(runs(&words("sudo -E npm ci")), named("npm"));
        assert_eq!(runs(&words("pythonic x")), named("pythonic"));
        for inline in ["python -m pip install x", "python -c print(1)", "node -e 1"] {
            assert_eq!(runs(&words(inline)), None, "{inline}");
        }
    }

    #[test]
    fn paths_join_the_working_directory() {
        assert_eq!(join("/app", "./x.sh"), "/app/x.sh");
        assert_eq!(join("/app", "/tmp/../opt/x"), "/opt/x");
        assert_eq!(join("?", "a/./b"), "?/a/b");
        assert_eq!(join("?", "../b"), "?/b");
        assert_eq!(join("/", "."), "/");
        assert_eq!(below("/x.sh", "/"), Some("x.sh"));
        assert_eq!(below("/app/bin/x", "/app"), Some("bin/x"));
        assert_eq!(below("/apple", "/app"), None);
        assert_eq!(below("/app", "/app"), None);
    }

    #[test]
    fn recipes_are_the_tab_lines() {
        let text = "all:\n\t@./setup.sh\n\t-rm -f x\nX = 1\n";
        assert_eq!(recipes(text), "./setup.sh\nrm -f x");
    }
}
