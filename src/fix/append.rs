//! Appending a command at the end of a RUN, in the RUN's own style: what the
//! rules that clean up after an install share.

use crate::edit::Edit;
use crate::facts::scripts::foreign_interpreter;
use crate::fix::moves;
use crate::model;
use crate::syntax::shell::Kind;
use crate::syntax::{shell, Dockerfile, Instruction, LineKind};

/// The edit that runs `command` after everything else in the RUN, only when
/// all of it succeeded: `&& command` after the last command (on a line of
/// its own, in the RUN's continuation style, when the RUN is continued), or
/// the last line of a `RUN <<EOF` script that stops at the first error.
pub fn append_command(file: &Dockerfile, run: &Instruction, command: &str) -> Result<Edit, String> {
    if run.command.json {
        return Err("the RUN is in exec form".into());
    }
    if let Some(shell) = foreign_shell(file, run) {
        return Err(format!(
            "the RUN runs in {}, set by SHELL at line {}",
            shell.command.values[0], shell.start_line
        ));
    }
    let script = shell::parse(file, run).ok_or("dockfix cannot read the RUN's shell")?;
    if script.has_error() {
        return Err("dockfix cannot read the RUN's shell".into());
    }
    let heredoc = match &run.heredocs[..] {
        [] => None,
        // Only `RUN <<EOF` runs its body as the script; other heredocs are
        // data (`cat > file <<EOF`).
        [heredoc] if script_only(run) => Some(heredoc),
        _ => return Err("the RUN feeds a heredoc to a command".into()),
    };
    // A comment in a RUN's line runs to the end of the joined line: what is
    // appended after it would be part of the comment.
    if heredoc.is_none() && script.has_comment() {
        return Err("its shell ends in a comment".into());
    }
    let root = script.root();
    let mut cursor = root.walk();
    let statements: Vec<_> = root
        .children(&mut cursor)
        .filter(|n| n.kind_name() != "comment")
        .collect();
    let last = statements
        .iter()
        .rposition(|n| n.is_named())
        .ok_or("the RUN has no command")?;
    if statements[last + 1..].iter().any(|n| n.kind_name() == "&") {
        return Err("its last command runs in the background".into());
    }
    let end = script.file_range(statements[last]).end;
    let eol = moves::line_ending(file, run);
    if let Some(heredoc) = heredoc {
        let body = &file.source[heredoc.body.clone()];
        if let Some(interpreter) = foreign_interpreter(body) {
            return Err(format!("the heredoc script runs in {interpreter}"));
        }
        // Without `set -e` a script's status is its last command's, and
        // `set -e` lets a failure inside an `&&` list pass: a line of its
        // own would hide a failure of the one before. `&& command` after a
        // heredoc's closing line would no longer close it.
        let last = statements[last];
        let own_line = last.kind_name() == "command"
            && script.stops_on_error(&file.source, script.file_range(last).start);
        if own_line {
            return Ok(Edit::insert(
                heredoc.terminator.start,
                format!("{command}{eol}"),
            ));
        }
        if contains_heredoc(last) {
            return Err("its script ends in a heredoc".into());
        }
        return Ok(Edit::insert(end, format!(" && {command}")));
    }
    let continued = run
        .lines
        .iter()
        .filter(|l| matches!(l.kind, LineKind::Code { .. }))
        .count()
        > 1;
    let escape = file.escape as char;
    let text = if continued {
        match moves::continuation_style(file, run) {
            (indent, true) => format!(" {escape}{eol}{indent}&& {command}"),
            (indent, false) => format!(" && {escape}{eol}{indent}{command}"),
        }
    } else {
        format!(" && {command}")
    };
    Ok(Edit::insert(end, text))
}

/// The SHELL instruction the RUN runs under, when its program is no POSIX
/// shell, cmd or pwsh (Windows PowerShell has no `&&`).
fn foreign_shell<'f>(file: &'f Dockerfile, run: &Instruction) -> Option<&'f Instruction> {
    let stages = model::stages(file);
    let index = stages
        .iter()
        .position(|s| s.body.iter().any(|i| std::ptr::eq(*i, run)))?;
    let shell = model::lineage(&stages, index)
        .flat_map(|s| s.body.iter().rev())
        .find(|i| i.command.name == "shell" && i.span().start < run.span().start)?;
    let program = shell.command.values.first()?.to_lowercase();
    let name = program.rsplit(['/', '\\']).next()?.trim_end_matches(".exe");
    let chains = [
        "sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "busybox", "cmd", "pwsh",
    ];
    (!chains.contains(&name)).then_some(*shell)
}

/// `RUN <<EOF` alone: Docker runs the heredoc's body as the script.
fn script_only(run: &Instruction) -> bool {
    let args = run.text(run.command.args.clone());
    args.starts_with(b"<<") && !args.iter().any(u8::is_ascii_whitespace)
}

fn contains_heredoc(node: tree_sitter::Node<'_>) -> bool {
    let mut cursor = node.walk();
    let found =
        node.kind_name() == "heredoc_redirect" || node.children(&mut cursor).any(contains_heredoc);
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edit::apply;
    use crate::syntax::parse;

    fn appended(src: &str) -> Result<String, String> {
        let file = parse(src.as_bytes()).unwrap();
        let run = file.instructions().nth(1).unwrap();
        let edit = append_command(&file, run, "x clean")?;
        Ok(String::from_utf8(apply(&file.source, &[edit]).unwrap()).unwrap())
    }

    #[test]
    fn appends_after_the_last_command() {
        assert_eq!(
            appended("FROM a\nRUN a; b;\n").unwrap(),
            "FROM a\nRUN a; b && x clean;\n"
        );
        assert_eq!(
            appended("FROM a\nRUN a || true\n").unwrap(),
            "FROM a\nRUN a || true && x clean\n"
        );
        assert!(appended("FROM a\nRUN a &\n").is_err());
        assert!(appended("FROM a\nRUN a # note\n").is_err());
        assert_eq!(
            appended("# escape=`\nFROM a\nRUN a `\r\n\t&& b\r\n").unwrap(),
            "# escape=`\nFROM a\nRUN a `\r\n\t&& b `\r\n\t&& x clean\r\n"
        );
    }

    #[test]
    fn heredoc_scripts_keep_their_status() {
        assert_eq!(
            appended("FROM a\nRUN <<EOF\na\nb # note\nEOF\n").unwrap(),
            "FROM a\nRUN <<EOF\na\nb && x clean # note\nEOF\n"
        );
        assert_eq!(
            appended("FROM a\nRUN <<EOF\nset -eux\na\nEOF\n").unwrap(),
            "FROM a\nRUN <<EOF\nset -eux\na\nx clean\nEOF\n"
        );
        assert_eq!(
            appended("FROM a\nRUN <<EOF\nset -e\nset +e\na\nEOF\n").unwrap(),
            "FROM a\nRUN <<EOF\nset -e\nset +e\na && x clean\nEOF\n"
        );
        assert_eq!(
            appended("FROM a\nRUN <<EOF\n#!/usr/bin/env python3\nprint(1)\nEOF\n").unwrap_err(),
            "the heredoc script runs in python3"
        );
        assert!(appended("FROM a\nRUN <<EOF\n#!/bin/bash\na\nEOF\n").is_ok());
        assert!(appended("FROM a\nRUN cat <<EOF > /f\na\nEOF\n").is_err());
    }

    #[test]
    fn only_where_the_shell_has_and() {
        let file = parse(
            b"FROM w AS base\nSHELL [\"powershell\", \"-Command\"]\nRUN a\nFROM base\nRUN b\nSHELL [\"cmd\", \"/S\", \"/C\"]\nRUN c\nFROM x\nRUN d\n",
        )
        .unwrap();
        let runs: Vec<_> = file
            .instructions()
            .filter(|i| i.command.name == "run")
            .map(|run| append_command(&file, run, "x").map(|_| ()))
            .collect();
        assert_eq!(
            runs[0].clone().unwrap_err(),
            "the RUN runs in powershell, set by SHELL at line 2"
        );
        assert!(runs[1].is_err(), "inherited from the base stage");
        assert!(runs[2].is_ok() && runs[3].is_ok());
    }
}
