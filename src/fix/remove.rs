//! Removing commands, or some of an `rm`'s paths, from a RUN without
//! changing what the rest of it does.

use std::ops::Range;

use crate::edit::Edit;
use crate::syntax::shell::{self, Script, SimpleCommand};
use crate::syntax::{Dockerfile, Instruction, LineKind};

/// The edits that remove `redundant` commands of a RUN, or, of an `rm` that
/// removes more than `in_cache` paths, those paths (a word the shell
/// expands is given to `in_cache` as written); an error says why they
/// cannot go.
pub fn commands(
    file: &Dockerfile,
    run: &Instruction,
    script: &Script,
    redundant: &[&SimpleCommand],
    in_cache: &dyn Fn(&str) -> bool,
) -> Result<Vec<Edit>, String> {
    removal(file, run, script, redundant, in_cache, false)
}

/// The edits that remove whole commands of a RUN, each with the separator
/// before it (the first with the one after); comment lines in what goes
/// move above the RUN, where they stay Dockerfile comments.
pub fn commands_moving_comments(
    file: &Dockerfile,
    run: &Instruction,
    script: &Script,
    redundant: &[&SimpleCommand],
) -> Result<Vec<Edit>, String> {
    removal(file, run, script, redundant, &|_| true, true)
}

fn removal(
    file: &Dockerfile,
    run: &Instruction,
    script: &Script,
    redundant: &[&SimpleCommand],
    in_cache: &dyn Fn(&str) -> bool,
    move_comments: bool,
) -> Result<Vec<Edit>, String> {
    if script.has_error() || script.has_comment() {
        return Err("dockfix cannot read the RUN's shell as plain commands".into());
    }
    let statements = script.statements(&file.source);
    let mut edits = Vec::new();
    let mut whole = Vec::new();
    let mut moved = String::new();
    let by_start: std::collections::HashMap<usize, usize> = statements
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((script.commands()[s.command?].range.start, i)))
        .collect();
    for command in redundant {
        let i = by_start
            .get(&command.range.start)
            .copied()
            .filter(|&i| {
                statements[i]
                    .command
                    .is_some_and(|c| script.commands()[c].range == command.range)
            })
            .ok_or("a command to remove is not a statement of the RUN's own")?;
        let paths: Vec<&Range<usize>> = command
            .args
            .iter()
            .filter(|r| !file.source[r.start..r.end].starts_with(b"-"))
            .collect();
        let cache_paths: Vec<&Range<usize>> = paths
            .iter()
            .copied()
            .filter(|r| {
                let raw = || crate::syntax::lossy(&file.source[(*r).clone()]).into_owned();
                in_cache(&shell::unquoted(&file.source, (*r).clone()).unwrap_or_else(raw))
            })
            .collect();
        if is_rm(file, command) && cache_paths.len() < paths.len() {
            // `rm -rf /var/cache/apk/* /tmp/*`: only the cache path goes.
            for path in cache_paths {
                edits.push(Edit::replace(
                    whitespace_before(file, path.start)..path.end,
                    "",
                ));
            }
        } else {
            let joins = |op: &str| matches!(op, "" | "&&" | ";");
            let statement = &statements[i];
            if !joins(statement.joined_by) || !joins(statement.followed_by) {
                return Err("a command to remove is joined by `||` or `&`".into());
            }
            whole.push(i);
        }
    }
    whole.sort_unstable();
    whole.dedup();
    if whole.len() == statements.len() {
        return Err("it would leave the RUN empty".into());
    }
    // Each run of removed statements goes as one range, with the operator
    // before it or the one after it: the first run with the one after, the
    // last with the one before; between, a `;` stays rather than an `&&`,
    // so what ran after a failure still does. Otherwise the operator after
    // goes, or the one before when comments move, so comment lines after
    // the statements stay with the statement they precede.
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for i in whole {
        match groups.last_mut() {
            Some((_, last)) if *last + 1 == i => *last = i,
            _ => groups.push((i, i)),
        }
    }
    for (first, last) in groups {
        let with_after = statements[first].range.start
            ..statements[last + 1..].first().map_or(0, |s| s.range.start);
        let with_before = || statements[first - 1].range.end..statements[last].range.end;
        let range = if first == 0 {
            with_after
        } else if last + 1 == statements.len() {
            // After `;` or a line end the last command's status was the
            // RUN's, unless `set -e` stops the RUN at any failure; after
            // `&&` it adds nothing to it.
            if !statements[first].chained() {
                return Err("the RUN's status is that of its last command".into());
            }
            with_before()
        } else {
            match (statements[first].joined_by, statements[last].followed_by) {
                (";", "&&") => with_after,
                ("&&", ";") => with_before(),
                _ if move_comments => with_before(),
                _ => with_after,
            }
        };
        let inside = run
            .lines_overlapping(range.clone())
            .iter()
            .filter(|l| matches!(l.kind, LineKind::Comment));
        for line in inside {
            if !move_comments {
                return Err("a comment line sits in what would be removed".into());
            }
            moved.push_str(&crate::syntax::lossy(&file.source[line.span.clone()]));
        }
        edits.push(Edit::replace(range, ""));
    }
    if !moved.is_empty() {
        edits.push(Edit::insert(run.lines[0].span.start, moved));
    }
    if edits.is_empty() {
        return Err("dockfix cannot read the paths it removes".into());
    }
    Ok(edits)
}

pub fn is_rm(file: &Dockerfile, command: &SimpleCommand) -> bool {
    command
        .name
        .as_ref()
        .is_some_and(|n| &file.source[n.clone()] == b"rm")
}

pub fn whitespace_before(file: &Dockerfile, mut at: usize) -> usize {
    while at > 0 && matches!(file.source[at - 1], b' ' | b'\t') {
        at -= 1;
    }
    at
}

/// The range that removes one word of a RUN with the blank before it, so
/// that no line is left holding only a continuation: a word alone on its
/// line takes the line, and a word alone on the RUN's last line takes the
/// continuation of the line before.
pub fn word(
    file: &Dockerfile,
    run: &Instruction,
    word: Range<usize>,
) -> Result<Range<usize>, String> {
    let plain = whitespace_before(file, word.start)..word.end;
    let Some(index) = run.line_index(word.start).filter(|&i| {
        let content = run.lines[i].content();
        content.start <= word.start && word.end <= content.end
    }) else {
        // In a heredoc body, where a line is the shell's own.
        return Ok(plain);
    };
    let line = &run.lines[index];
    let LineKind::Code { continuation } = &line.kind else {
        return Ok(plain);
    };
    let blank = |r: Range<usize>| file.source[r].iter().all(|b| matches!(b, b' ' | b'\t'));
    let code_end = continuation.unwrap_or(line.content().end);
    if !blank(line.span.start..word.start) || !blank(word.end..code_end) {
        return Ok(plain);
    }
    if continuation.is_some() {
        return Ok(line.span.clone());
    }
    match index.checked_sub(1).map(|i| &run.lines[i].kind) {
        Some(LineKind::Code {
            continuation: Some(escape),
        }) => Ok(whitespace_before(file, *escape)..word.end),
        _ => Err("a comment or blank line sits before the word's line".into()),
    }
}
