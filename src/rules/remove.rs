//! Removing commands, or some of an `rm`'s paths, from a RUN without
//! changing what the rest of it does.

use std::ops::Range;

use tree_sitter::Node;

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
    let commands = match top_level(script) {
        Some(commands) if !script.has_error() && !script.has_comment() => commands,
        _ => return Err("its shell is more than a plain list of commands".into()),
    };
    let mut edits = Vec::new();
    let mut whole = Vec::new();
    let mut moved = String::new();
    for command in redundant {
        let i = commands
            .iter()
            .position(|c| *c == command.range)
            .expect("a top-level command of this script");
        let paths: Vec<&Range<usize>> = command
            .args
            .iter()
            .filter(|r| !file.source[r.start..r.end].starts_with(b"-"))
            .collect();
        let cache_paths: Vec<&Range<usize>> = paths
            .iter()
            .copied()
            .filter(|r| {
                let raw = || String::from_utf8_lossy(&file.source[(*r).clone()]).into_owned();
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
            whole.push(i);
        }
    }
    whole.sort_unstable();
    whole.dedup();
    if whole.len() == commands.len() {
        return Err("it would leave the RUN empty".into());
    }
    // The commands removed up to the end go with the separator before
    // each; the others with the separator after.
    let tail = (0..commands.len())
        .rev()
        .take_while(|i| whole.contains(i))
        .last()
        .unwrap_or(commands.len());
    for i in whole {
        let range = if i < tail && (i == 0 || !move_comments) {
            commands[i].start..commands[i + 1].start
        } else if i < tail {
            // With the separator before it, the comment lines after the
            // command stay with the command they precede.
            commands[i - 1].end..commands[i].end
        } else {
            let previous = &commands[i - 1];
            // After `;` or a line end the last command's status was the
            // RUN's, unless `set -e` stops the RUN at any failure; after
            // `&&` it adds nothing to it.
            let separator: Vec<u8> = script.text
                [previous.end - script.base..commands[i].start - script.base]
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace() && *b != b'\\')
                .collect();
            if separator != b"&&" && !script.stops_on_error(&file.source, commands[i].start) {
                return Err("the RUN's status is that of its last command".into());
            }
            previous.end..commands[i].end
        };
        let inside = run.lines.iter().filter(|l| {
            matches!(l.kind, LineKind::Comment)
                && l.span.start < range.end
                && range.start < l.span.end
        });
        for line in inside {
            if !move_comments {
                return Err("a comment line sits in what would be removed".into());
            }
            moved.push_str(&String::from_utf8_lossy(&file.source[line.span.clone()]));
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

/// The ranges of the script's commands when they are joined only by `&&`,
/// `;` and newlines, none nested in another construct.
fn top_level(script: &Script) -> Option<Vec<Range<usize>>> {
    fn walk(script: &Script, node: Node<'_>, out: &mut Vec<Range<usize>>) -> bool {
        match node.kind() {
            "program" | "list" => {
                let mut cursor = node.walk();
                let children: Vec<Node> = node.named_children(&mut cursor).collect();
                children.into_iter().all(|child| walk(script, child, out))
            }
            "command" => {
                out.push(script.file_range(node));
                true
            }
            _ => false,
        }
    }
    let joined = script
        .operators()
        .iter()
        .all(|(op, _)| op == "&&" || op == ";");
    let mut out = Vec::new();
    (joined && walk(script, script.root(), &mut out)).then_some(out)
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
    let Some(index) = run
        .lines
        .iter()
        .position(|l| l.content.start <= word.start && word.end <= l.content.end)
    else {
        // In a heredoc body, where a line is the shell's own.
        return Ok(plain);
    };
    let line = &run.lines[index];
    let LineKind::Code { continuation } = &line.kind else {
        return Ok(plain);
    };
    let blank = |r: Range<usize>| file.source[r].iter().all(|b| matches!(b, b' ' | b'\t'));
    let code_end = continuation.as_ref().map_or(line.content.end, |c| c.start);
    if !blank(line.content.start..word.start) || !blank(word.end..code_end) {
        return Ok(plain);
    }
    if continuation.is_some() {
        return Ok(line.span.clone());
    }
    match index.checked_sub(1).map(|i| &run.lines[i].kind) {
        Some(LineKind::Code {
            continuation: Some(escape),
        }) => Ok(whitespace_before(file, escape.start)..word.end),
        _ => Err("a comment or blank line sits before the word's line".into()),
    }
}
