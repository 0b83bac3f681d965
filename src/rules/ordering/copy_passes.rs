//! Whether a full copy (`COPY . /app`) can move down past the instructions
//! that follow it, so that an install after them can run before it: each
//! must neither read nor write what the copy puts in the image, nor change
//! what the copy does. What dockfix cannot show is a reason, never skipped.

use super::packages_before_copy::{binds_files, installs_packages_only, packages_may_write};
use crate::facts::copies::{normalize, FullCopy, INERT};
use crate::rules::Context;
use crate::scope::{absolute, Scope};
use crate::syntax::shell::{self, SimpleCommand};
use crate::syntax::{Dockerfile, Instruction};

/// Ok when `copy` can move down past every instruction of `between`, else
/// why not. `dest` is where the copy writes, as an absolute path. `made`
/// is the directory a COPY taking the copy's place makes, with its parents
/// (the destination, or the subdirectory the install runs in), as the copy
/// made them; without one, a WORKDIR in between may not make the
/// destination. With one, the moved copy's relative destination is
/// written out, so a WORKDIR in between may change the working directory.
pub fn copy_passes(
    cx: &Context,
    index: usize,
    copy: &FullCopy,
    dest: &str,
    between: &[&Instruction],
    made: Option<&str>,
) -> Result<(), String> {
    let file = cx.file;
    let copy_text = crate::syntax::lossy(&copy.instruction.logical.text);
    let at_copy = cx.scope_at(index, copy.instruction.span().start);
    let relative_dest = !at_copy
        .expand(&copy.dest)
        .is_some_and(|d| d.starts_with('/'));
    for instruction in between {
        let name = instruction.command.name.as_str();
        let at = || format!("{} at line {}", name.to_uppercase(), instruction.start_line);
        let scope = || cx.scope_at(index, instruction.span().start);
        match name {
            _ if INERT.contains(&name) => {}
            // COPY takes no notice of USER: what it writes is root's
            // unless --chown says otherwise.
            "user" => {}
            "env" | "arg" => {
                let values = &instruction.command.values;
                let names: Vec<&str> = if name == "env" {
                    values.chunks(3).map(|t| t[0].as_str()).collect()
                } else {
                    values
                        .iter()
                        .map(|a| a.split_once('=').map_or(a.as_str(), |(n, _)| n))
                        .collect()
                };
                if let Some(used) = names.iter().find(|n| names_variable(&copy_text, n)) {
                    return Err(format!(
                        "{} sets {used}, which the copy reads, and the copy would then come after it",
                        at()
                    ));
                }
            }
            "workdir" => {
                if relative_dest && made.is_none() {
                    return Err(format!(
                        "{} would change where the copy goes, were the copy after it",
                        at()
                    ));
                }
                let after = cx.scope_at(index, instruction.span().end);
                let Some(dir) = after.workdir else {
                    return Err(format!(
                        "{} sets a directory dockfix cannot know, which may be inside the copy's destination",
                        at()
                    ));
                };
                let made_before = made.is_some_and(|m| under(m, &dir));
                if under(&dir, dest) && normalize(&dir) != normalize(dest) && !made_before {
                    return Err(format!(
                        "{} makes {dir}, inside the copy's destination, which the copy would then fill",
                        at()
                    ));
                }
                // WORKDIR makes a directory as the image's user, COPY as
                // root (or its --chown).
                if made.is_none() && under(dest, &dir) {
                    return Err(format!(
                        "{} would make {dir} before the copy does, as another user perhaps",
                        at()
                    ));
                }
            }
            "copy" | "add" => {
                let scope = scope();
                let target = instruction
                    .command
                    .values
                    .last()
                    .and_then(|d| scope.expand(d));
                let target = target.and_then(|t| absolute(&t, scope.workdir.as_deref()));
                match target {
                    Some(t) if apart(&t, dest) => {}
                    _ => {
                        return Err(format!(
                        "{} may write where the copy writes, and the copy would then write over it",
                        at()
                    ))
                    }
                }
            }
            "run" => run_passes(file, &scope(), instruction, dest)
                .map_err(|why| format!("{} {why}", at()))?,
            _ => {
                return Err(format!(
                    "{} sits between the copy and the install and would then come before the copy",
                    at()
                ))
            }
        }
    }
    Ok(())
}

/// Whether `text` names the variable `name` (`$name` or `${name...`).
fn names_variable(text: &str, name: &str) -> bool {
    text.match_indices('$').any(|(at, _)| {
        let after = &text[at + 1..];
        let after = after.strip_prefix('{').unwrap_or(after);
        after
            .strip_prefix(name)
            .is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
    })
}

/// Whether `path` is `dir` or inside it.
pub fn under(path: &str, dir: &str) -> bool {
    let (path, dir) = (normalize(path), normalize(dir));
    dir == "/" || path == dir || path.starts_with(&format!("{dir}/"))
}

/// Whether neither path is the other or inside it.
pub fn apart(a: &str, b: &str) -> bool {
    !under(a, b) && !under(b, a)
}

/// Whether a word names a package archive, which an install reads as a
/// file of its working directory (`app-1.0-py3-none-any.whl`,
/// `tool.gem`) rather than as a package's name.
pub fn names_archive(word: &str) -> bool {
    [
        ".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tar", ".zip", ".deb", ".rpm", ".gem",
    ]
    .iter()
    .any(|e| word.ends_with(e))
}

/// Whether `value`, a path (relative ones against `cwd`), lies apart from
/// the copy's destination `dest`; never when either is unknown.
fn outside(value: &str, cwd: Option<&str>, dest: Option<&str>) -> bool {
    dest.is_some_and(|dest| absolute(value, cwd).is_some_and(|p| apart(&p, dest)))
}

/// A RUN the copy may move past: one that only installs system packages
/// (into a destination packages do not write), or whose every command is
/// one of those below with every path it names outside the copy's
/// destination. The text of the error follows "RUN at line N".
pub fn run_passes(
    file: &Dockerfile,
    scope: &Scope,
    run: &Instruction,
    dest: &str,
) -> Result<(), String> {
    if installs_packages_only(file, run) {
        if packages_may_write(dest) {
            return Err(format!("installs packages, which may write into {dest}"));
        }
        return Ok(());
    }
    let command = &run.command;
    if binds_files(run) {
        return Err("mounts files from the build context".into());
    }
    if command.json || !run.heredocs.is_empty() {
        return Err("is in a form dockfix does not read here (exec form or heredoc)".into());
    }
    let script = shell::parse(file, run).ok_or("has a shell dockfix cannot read")?;
    if script.has_error() || script.commands().is_empty() {
        return Err("has a shell dockfix cannot read".into());
    }
    let cwd = scope.workdir.as_deref();
    if let Some(target) = redirect_not(file, scope, script, &|t| outside(t, cwd, Some(dest))) {
        return Err(format!(
            "redirects to or from {target}, which may be what the copy wrote"
        ));
    }
    for command in script.commands() {
        command_passes(file, scope, command, Some(dest))?;
    }
    Ok(())
}

/// Whether one command of the install's own RUN, run before the copy
/// instead of after it, neither reads nor writes what the copy writes to
/// `dest` (when known: else it must name no path at all).
pub fn command_passes(
    file: &Dockerfile,
    scope: &Scope,
    command: &SimpleCommand,
    dest: Option<&str>,
) -> Result<(), String> {
    let cwd = scope.workdir.as_deref();
    let outside = |value: &str| outside(value, cwd, dest);
    let words = words(file, scope, command)
        .ok_or("names a word dockfix cannot read (a build argument, a substitution)".to_string())?;
    pip_settings(scope, &words, dest)?;
    check_command(
        &words,
        &outside,
        dest.is_some_and(|d| !packages_may_write(d)),
    )
}

/// pip reads settings from `PIP_` variables, some of them files
/// (`PIP_CONSTRAINT=constraints.txt`, relative to the working directory).
fn pip_settings(scope: &Scope, words: &[String], dest: Option<&str>) -> Result<(), String> {
    let name = words
        .first()
        .map_or("", |w| w.rsplit('/').next().unwrap_or(w));
    let pip = name.starts_with("pip")
        || name.starts_with("python") && words.get(1..3).is_some_and(|w| w == ["-m", "pip"]);
    match settings_naming_files(scope, &["PIP_".into()], dest) {
        Some(var) if pip => Err(format!(
            "runs pip with {var} set, which may name a file the copy wrote"
        )),
        _ => Ok(()),
    }
}

/// A settings variable (its name starting with one of `prefixes`) whose
/// value may name a file the copy writes to `dest`: a relative path (read
/// from the working directory), a path inside `dest`, or a value dockfix
/// cannot know. Switches, numbers and URLs name no file.
pub fn settings_naming_files(
    scope: &Scope,
    prefixes: &[String],
    dest: Option<&str>,
) -> Option<String> {
    let names_file = |value: &str| match value {
        v if v.contains("://") => false,
        v if v.starts_with('/') => dest.is_none_or(|d| under(v, d)),
        v => v.contains(['/', '.']) && v.parse::<f64>().is_err(),
    };
    // Each word of a value, and the value of each `-Dkey=value` flag in it
    // (`MAVEN_OPTS=-Dmaven.repo.local=/m2 -Xmx1g`), is judged on its own.
    let may_name_file = |value: Option<&str>| match value {
        None => true,
        Some(v) => v.split_whitespace().any(|word| {
            let flag_value = word.split_once('=').filter(|_| word.starts_with('-'));
            names_file(flag_value.map_or(word, |(_, v)| v))
        }),
    };
    prefixes.iter().find_map(|prefix| {
        scope
            .prefixed(prefix)
            .find(|(_, value)| may_name_file(*value))
            .map(|(name, _)| name.to_string())
    })
}

/// The paths a command that only changes the files it names (`chmod +x
/// entrypoint.sh`, `mkdir -p logs`) touches, made absolute, when all lie
/// inside the copy's destination `dest`: run after the copy, it does the
/// same. `None` for other commands.
pub fn touched_inside(
    file: &Dockerfile,
    scope: &Scope,
    command: &SimpleCommand,
    dest: &str,
) -> Option<Vec<String>> {
    let words = words(file, scope, command)?;
    let (first, args) = words.split_first()?;
    let skip = match first.rsplit('/').next()? {
        "mkdir" | "touch" | "rm" | "cp" | "mv" | "ln" => 0,
        "chown" | "chmod" | "chgrp" => 1,
        _ => return None,
    };
    let paths: Vec<String> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .skip(skip)
        .map(|a| absolute(a, scope.workdir.as_deref()))
        .collect::<Option<_>>()?;
    let inside = !paths.is_empty() && paths.iter().all(|p| under(p, dest));
    inside.then_some(paths)
}

/// The target, as written, of the first redirect of `script` that is not
/// to `/dev/null`, a duplicated descriptor (`>&2`) or a path `fine`
/// accepts (variables expanded); a heredoc or herestring never passes.
fn redirect_not(
    file: &Dockerfile,
    scope: &Scope,
    script: &shell::Script,
    fine: &dyn Fn(&str) -> bool,
) -> Option<String> {
    script.redirects().iter().find_map(|redirect| {
        let text = crate::syntax::lossy(&file.source[redirect.clone()]).into_owned();
        // The descriptor's digits, then the operator, then the target.
        let op = text.trim_start_matches(|c: char| c.is_ascii_digit());
        let target = op.trim_start_matches(|c: char| "<>&|".contains(c)).trim();
        let passes = op.starts_with(">&")
            || scope
                .expand(target)
                .is_some_and(|t| t == "/dev/null" || fine(&t));
        (!passes || text.contains("<<")).then(|| target.to_string())
    })
}

/// Whether `run` only changes files inside the copy's destination `dest`
/// and reads nothing outside it (`echo x86_64 > .toolchain`, `mkdir -p
/// data`): what a package install writes elsewhere changes nothing it
/// does, and it changes nothing a package install reads.
pub fn changes_only_inside(
    file: &Dockerfile,
    scope: &Scope,
    run: &Instruction,
    dest: &str,
) -> bool {
    let command = &run.command;
    if command.name != "run" || command.json || !run.heredocs.is_empty() || binds_files(run) {
        return false;
    }
    let Some(script) = shell::parse(file, run) else {
        return false;
    };
    if script.has_error() || script.commands().is_empty() {
        return false;
    }
    let cwd = scope.workdir.as_deref();
    let inside = |path: &str| absolute(path, cwd).is_some_and(|p| under(&p, dest));
    if redirect_not(file, scope, script, &inside).is_some() {
        return false;
    }
    script.commands().iter().all(|c| {
        let name = c
            .name
            .clone()
            .and_then(|r| shell::unquoted(&file.source, r));
        // These print or exit; what they are given does not matter.
        matches!(
            name.as_deref(),
            Some("echo" | "printf" | "true" | "false" | "exit" | ":")
        ) || touched_inside(file, scope, c, dest).is_some()
    })
}

/// A command's words as the shell passes them, variables expanded: those
/// ENV and ARG set, and those the RUN's own assignments set before it.
fn words(file: &Dockerfile, scope: &Scope, command: &SimpleCommand) -> Option<Vec<String>> {
    let read = |scope: &Scope| -> Option<Vec<String>> {
        command
            .name
            .iter()
            .chain(&command.args)
            .map(|r| {
                shell::unquoted(&file.source, r.clone()).or_else(|| {
                    let text = std::str::from_utf8(&file.source[r.clone()]).ok()?;
                    scope.expand(text)
                })
            })
            .collect()
    };
    read(scope).or_else(|| read(&with_shell_variables(file, scope, command)?))
}

/// `scope` with the variables that assignments before `command` in its RUN
/// set (`DEPS="gcc make" && apt-get install $DEPS`), when the RUN is one
/// chain of `&&` and `;`, where each assignment holds for the rest, and no
/// command before sets variables otherwise (`export`, `read`, ...).
fn with_shell_variables(
    file: &Dockerfile,
    scope: &Scope,
    command: &SimpleCommand,
) -> Option<Scope> {
    let run = file
        .instructions()
        .find(|i| i.span().contains(&command.range.start))?;
    let script = shell::parse(file, run)?;
    // Declarations (`export`, `local`, `unset`, ...) are statements of
    // their own that break the chain; these are plain commands.
    if !script.is_chain(&["&&", ";"]) || script.has_error() {
        return None;
    }
    let sets = [
        "read",
        "eval",
        "source",
        ".",
        "set",
        "shift",
        "getopts",
        "mapfile",
        "readarray",
    ];
    for before in script
        .commands()
        .iter()
        .filter(|c| c.range.start < command.range.start)
    {
        let name = shell::unquoted(&file.source, before.name.clone()?)?;
        if sets.contains(&name.as_str()) {
            return None;
        }
    }
    let mut scope = scope.clone();
    for range in script
        .assignments()
        .iter()
        .filter(|a| a.start < command.range.start)
    {
        let text = std::str::from_utf8(&file.source[range.clone()]).ok()?;
        let (name, value) = text.split_once('=')?;
        let identifier = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        // One word: `A=x y` is not read.
        let one_word = value.starts_with(['"', '\'']) || !value.contains(char::is_whitespace);
        if !identifier || !one_word {
            return None;
        }
        let value = scope.expand(value);
        scope.set(name, value);
    }
    Some(scope)
}

/// Commands that read and write only the paths they name, and what each
/// argument is.
fn check_command(
    words: &[String],
    outside: &dyn Fn(&str) -> bool,
    packages: bool,
) -> Result<(), String> {
    // A command of assignments alone (`DEPS="a b"`) touches no file.
    let Some(first) = words.first() else {
        return Ok(());
    };
    let name = shell::program(first.rsplit('/').next().unwrap_or_default());
    let args = &words[1..];
    let reads = || {
        Err(format!(
            "runs `{name}`, which may read or write what the copy wrote"
        ))
    };
    let operands = || args.iter().filter(|a| !a.starts_with('-'));
    // A word that names a file: a path, or an archive a package tool would
    // read from the working directory.
    let path_like = |a: &str| {
        a.contains('/') && !a.contains("://")
            || a.starts_with('.')
            || a.starts_with('~')
            || names_archive(a)
    };
    // Names (packages, users, URLs), and paths outside the destination.
    let names_only = || {
        args.iter().all(|a| {
            let value = match a.split_once('=') {
                Some((flag, value)) if flag.starts_with('-') => value,
                _ => a.as_str(),
            };
            !path_like(value) || value.starts_with('/') && outside(value)
        })
    };
    // Every operand after the first `skip` is a file.
    let files = |skip: usize| operands().skip(skip).all(|a| outside(a)) && names_only();
    let fine = match name {
        "true"
        | "echo"
        | "printf"
        | "set"
        | "export"
        | "update-ca-certificates"
        | "ldconfig"
        | "locale-gen" => names_only(),
        // useradd makes the home directory it names only when asked to.
        "useradd" => {
            !args.iter().any(|a| {
                a == "--create-home"
                    || a.starts_with('-') && !a.starts_with("--") && a.contains('m')
            }) || names_only()
        }
        "adduser" | "groupadd" | "addgroup" | "usermod" | "groupmod" => names_only(),
        // These read the working directory even when told names: gem a
        // local `NAME-*.gem` first, pnpm and yarn the project's `.npmrc`,
        // corepack `package.json`. So the working directory too must lie
        // outside the destination.
        "gem" | "corepack" => outside(".") && names_only(),
        "git" => args.first().is_some_and(|a| a == "config") && names_only(),
        // Poetry's user settings, not the project's `poetry.toml`.
        "poetry" => {
            args.first().is_some_and(|a| a == "config")
                && !args.iter().any(|a| a == "--local")
                && names_only()
        }
        "go" => args.first().is_some_and(|a| a == "install") && names_only(),
        // System packages, where they cannot write into the destination.
        "apt-get" | "apt" | "apk" | "dnf" | "yum" | "microdnf" | "zypper" => {
            packages && names_only()
        }
        "mkdir" | "touch" | "rm" | "cp" | "mv" | "ln" => files(0),
        // A virtual environment's activate script only sets variables; any
        // other sourced script is code that may read anything.
        "." | "source" => matches!(args, [script] if script.ends_with("/bin/activate")) && files(0),
        "chown" | "chmod" | "chgrp" => files(1),
        "curl" => curl_output_outside(args, outside) && names_only(),
        "pip" | "pip3" => pip(args) && names_only(),
        "python" | "python3" => match args {
            [m, venv, ..] if m == "-m" && venv == "venv" => files(1),
            [m, pip_, rest @ ..] if m == "-m" && pip_ == "pip" => pip(rest) && names_only(),
            _ => false,
        },
        // npm in global mode reads no project `.npmrc`; pnpm may still.
        // Without a package named, it installs the project itself.
        "npm" | "pnpm" => {
            (name == "npm" || outside("."))
                && args.iter().any(|a| a == "-g" || a == "--global")
                && args
                    .iter()
                    .any(|a| matches!(a.as_str(), "install" | "i" | "add"))
                && operands().count() > 1
                && names_only()
        }
        "yarn" => outside(".") && args.first().is_some_and(|a| a == "global") && names_only(),
        _ => false,
    };
    if fine {
        Ok(())
    } else {
        reads()
    }
}

/// curl writes to standard output, or to a file (`-o`) outside the
/// destination; never to a file named after the URL in the working
/// directory (`-O`).
fn curl_output_outside(args: &[String], outside: &dyn Fn(&str) -> bool) -> bool {
    let mut next_is_output = false;
    for arg in args {
        if next_is_output {
            if !outside(arg) && arg != "-" {
                return false;
            }
            next_is_output = false;
        } else if arg == "--output" || arg == "-o" {
            next_is_output = true;
        } else if matches!(
            arg.as_str(),
            "--remote-name" | "--remote-name-all" | "--output-dir"
        ) {
            return false;
        } else if let Some(short) = arg.strip_prefix('-').filter(|s| !s.starts_with('-')) {
            if short.contains(['O', 'J']) {
                return false;
            }
            next_is_output = short.ends_with('o');
            if let Some((_, value)) = short.split_once('o').filter(|(_, v)| !v.is_empty()) {
                // `-o/path` (value joined to the flag)
                if !outside(value) {
                    return false;
                }
                next_is_output = false;
            }
        }
    }
    !next_is_output
}

/// `pip install` of named packages: no requirement, constraint or
/// editable files, nothing from the working directory.
fn pip(args: &[String]) -> bool {
    args.first().is_some_and(|a| a == "install")
        && !args.iter().any(|a| {
            let flag = a.split_once('=').map_or(a.as_str(), |(f, _)| f);
            matches!(
                flag,
                "-r" | "--requirement" | "-c" | "--constraint" | "-e" | "--editable" | "."
            ) || a.starts_with("-r")
                || a.starts_with("-e")
                || a.starts_with("-c")
        })
}
