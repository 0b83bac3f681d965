//! Moving instructions earlier in a Dockerfile: what the reordering passes
//! share. Comment lines directly above a moved instruction move with it, and
//! blank lines are kept so the layout around both places stays as it was.

use crate::edit::Edit;
use crate::syntax::{Dockerfile, Instruction, ItemKind, LineKind};

/// An instruction taken out of its place.
pub struct Taken {
    /// The comment lines that were directly above it.
    pub comments: String,
    /// The instruction, ending with a line ending.
    pub text: String,
    /// Removes both from where they were.
    pub delete: Edit,
}

/// Takes the instructions from `first` to `last` (adjacent, or with only
/// comment and blank lines between them) and the comment lines directly
/// above `first` out of the file; when blank lines surround them, one of
/// those goes too.
pub fn take(file: &Dockerfile, first: &Instruction, last: &Instruction, eol: &str) -> Taken {
    let src = &file.source;
    let start = file.items[attached_comments(file, item_index(file, first))]
        .span
        .start;
    let own = first.span().start..last.span().end;
    let comments = crate::syntax::lossy(&src[start..own.start]).into_owned();
    let mut text = crate::syntax::lossy(&src[own.clone()]).into_owned();
    if !text.ends_with('\n') {
        text.push_str(eol);
    }
    let blank_after = own.end == src.len()
        || file
            .items
            .iter()
            .any(|i| i.span.start == own.end && matches!(i.kind, ItemKind::Blank));
    let delete_from = match blank_item_before(file, start) {
        Some(blank) if blank_after => blank,
        _ => start,
    };
    Taken {
        comments,
        text,
        delete: Edit::replace(delete_from..own.end, ""),
    }
}

/// Where text goes to come before `anchor`: above the comment lines
/// directly above it.
pub fn before(file: &Dockerfile, anchor: &Instruction) -> usize {
    file.items[attached_comments(file, item_index(file, anchor))]
        .span
        .start
}

/// Inserts `text` at `at`; when a blank line precedes `at`, one follows the
/// text too, so what was set apart stays set apart.
pub fn insert(file: &Dockerfile, at: usize, mut text: String, eol: &str) -> Edit {
    if blank_item_before(file, at).is_some() {
        text.push_str(eol);
    }
    Edit::insert(at, text)
}

/// The line ending an instruction's first line uses.
pub fn line_ending(file: &Dockerfile, instruction: &Instruction) -> String {
    let line = &instruction.lines[0];
    match &file.source[line.content().end..line.span.end] {
        b"" => "\n".into(),
        ending => crate::syntax::lossy(ending).into_owned(),
    }
}

fn item_index(file: &Dockerfile, instruction: &Instruction) -> usize {
    let start = instruction.span().start;
    let index = file.items.partition_point(|i| i.span.start < start);
    assert!(
        file.items.get(index).is_some_and(|i| i.span.start == start),
        "every instruction is an item"
    );
    index
}

/// The first of the comment lines directly above item `index` (or `index`).
fn attached_comments(file: &Dockerfile, index: usize) -> usize {
    let mut first = index;
    while first > 0 && matches!(file.items[first - 1].kind, ItemKind::Comment) {
        first -= 1;
    }
    first
}

/// The start of the blank line that ends at `offset`, if there is one.
fn blank_item_before(file: &Dockerfile, offset: usize) -> Option<usize> {
    (offset > 0)
        .then(|| {
            file.items
                .iter()
                .find(|i| i.span.end == offset && matches!(i.kind, ItemKind::Blank))
        })
        .flatten()
        .map(|i| i.span.start)
}

/// How a continued command goes on in this instruction (else in the file,
/// else leading `&&` with four spaces): the indent of continued lines, and
/// whether `&&` starts them rather than ending the line before. An
/// instruction continued without `&&` (a package list) keeps its own indent.
pub fn continuation_style(file: &Dockerfile, instruction: &Instruction) -> (String, bool) {
    style_of(file, instruction).unwrap_or_else(|| {
        let (indent, leading) = file
            .continuation_style
            .get_or_init(|| file.instructions().find_map(|i| style_of(file, i)))
            .clone()
            .unwrap_or(("    ".into(), true));
        (own_indent(file, instruction).unwrap_or(indent), leading)
    })
}

/// The indent of an instruction's first continued line, when it has one.
fn own_indent(file: &Dockerfile, instruction: &Instruction) -> Option<String> {
    let line = instruction
        .lines
        .iter()
        .filter(|l| matches!(l.kind, LineKind::Code { .. }))
        .nth(1)?;
    let text = crate::syntax::lossy(&file.source[line.content()]).into_owned();
    let indent = &text[..text.len() - shell_blanks_trimmed(&text).len()];
    (!indent.is_empty()).then(|| indent.to_string())
}

/// `text` without its leading spaces and tabs: the blanks the shell skips.
/// Other Unicode spaces (a no-break space) are part of the next word, so an
/// indent copied with them would make a new command's name.
fn shell_blanks_trimmed(text: &str) -> &str {
    text.trim_start_matches([' ', '\t'])
}

/// An instruction's continuation style: the indent of its continued lines,
/// and whether `&&` starts them (else it ends the line before).
fn style_of(file: &Dockerfile, instruction: &Instruction) -> Option<(String, bool)> {
    // Each line read once, and borrowed: most files are UTF-8.
    let text = |line: &crate::syntax::PhysLine| crate::syntax::lossy(&file.source[line.content()]);
    let mut code = instruction
        .lines
        .iter()
        .filter(|l| matches!(l.kind, LineKind::Code { .. }))
        .map(text);
    let mut before = code.next()?;
    for line in code {
        let trimmed = shell_blanks_trimmed(&line);
        let indent = &line[..line.len() - trimmed.len()];
        if trimmed.starts_with("&&") {
            return Some((indent.to_string(), true));
        }
        if before
            .trim_end()
            .trim_end_matches(file.escape as char)
            .trim_end()
            .ends_with("&&")
            && !indent.is_empty()
        {
            return Some((indent.to_string(), false));
        }
        before = line;
    }
    None
}
