//! Incremental reparsing of the shell scripts a fix round edits.
//!
//! A round that changes a few words of a long RUN (a flag added, a cleanup
//! removed) would otherwise parse the whole script again. Before the edited
//! file is parsed, the engine hands over the edits; the scripts they touch
//! keep their trees, and the next parse of such a script's new text starts
//! from its old tree, edited to match, so tree-sitter reuses every subtree
//! an edit left alone. The result is the tree a fresh parse gives (checked
//! against one in debug builds).

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;

use tree_sitter::{InputEdit, Point, Tree};

use super::tree::Dockerfile;

/// A script an edit touches: its text, its tree, and the edits in the
/// text's offsets (range replaced, length of the replacement), in order;
/// `None` when one reaches past either end of the script, or when there
/// are more than `MAX_REPLAYED`.
struct Kept {
    text: Vec<u8>,
    tree: Tree,
    edits: Option<Vec<(Range<usize>, usize)>>,
}

/// The most edits of one script given to tree-sitter one by one. Each
/// edit walks the tree (`ts_tree_edit`), so a round that makes thousands
/// of edits in one long RUN would cost the square of its length; beyond
/// this the edits are given as the one span between the texts' common
/// start and end.
const MAX_REPLAYED: usize = 32;

thread_local! {
    /// By the offset where the script starts in the edited file.
    static KEPT: RefCell<HashMap<usize, Kept>> = RefCell::default();
}

/// Keeps the trees of the file's parsed scripts that `edits` (file ranges,
/// each with the length of its replacement; they do not overlap) change,
/// in place of what was kept before. Linear in the scripts and the edits:
/// a round may edit every RUN of a long file.
pub fn keep_edited(file: &Dockerfile, edits: &[(Range<usize>, usize)]) {
    let mut edits = edits.to_vec();
    edits.sort_by_key(|(r, _)| (r.start, r.end));
    // How much the edits before each one grow the file.
    let mut growth = vec![0isize];
    for (range, len) in &edits {
        growth.push(growth[growth.len() - 1] + *len as isize - range.len() as isize);
    }
    let kept = file
        .instructions()
        .filter_map(|i| i.derived.get()?.shell.get()?.as_deref())
        .filter_map(|script| {
            let (start, end) = (script.base, script.base + script.text.len());
            // Before the script: edits that end before it, or end where it
            // starts having replaced something (`RUN --mount=... ` for
            // `RUN `); an insertion where it starts becomes its first bytes.
            let first =
                edits.partition_point(|(r, _)| r.end < start || (r.end == start && !r.is_empty()));
            let touching: Vec<&(Range<usize>, usize)> = edits[first..]
                .iter()
                .take_while(|(r, _)| r.start <= end)
                .collect();
            if touching.is_empty() {
                return None;
            }
            let inside = touching
                .iter()
                .all(|(r, _)| r.start >= start && r.end <= end);
            let edits = (inside && touching.len() <= MAX_REPLAYED).then(|| {
                touching
                    .iter()
                    .map(|(r, len)| (r.start - start..r.end - start, *len))
                    .collect()
            });
            let moved_to = start.checked_add_signed(growth[first])?;
            Some((
                moved_to,
                Kept {
                    text: script.text.clone(),
                    tree: script.tree.clone(),
                    edits,
                },
            ))
        })
        .collect();
    KEPT.with(|k| *k.borrow_mut() = kept);
}

/// Drops what `keep_edited` kept, once the edited file is linted.
pub fn forget_edited() {
    KEPT.with(|k| k.borrow_mut().clear());
}

/// The tree kept for the script that now starts at file offset `base`,
/// edited to match its new `text`, for tree-sitter to parse `text` from:
/// with the round's edits when they turn the old text into `text`, else
/// as one edit spanning all between their common start and end; `None`
/// when nothing was kept there or the texts are mostly different.
pub fn edited_tree(text: &[u8], base: usize) -> Option<Tree> {
    KEPT.with(|kept| {
        let kept = kept.borrow();
        let kept = kept.get(&base)?;
        replay(kept, text).or_else(|| common_ends(kept, text))
    })
}

/// The kept tree with its script's edits, when they turn its text into
/// `text` exactly.
fn replay(kept: &Kept, text: &[u8]) -> Option<Tree> {
    let edits = kept.edits.as_ref()?;
    let old = &kept.text;
    // Where each edit's replacement starts in `text`; the text between
    // edits must be unchanged, and edits must not meet (the order of two
    // insertions at one offset is the editor's).
    let mut starts = Vec::with_capacity(edits.len());
    let (mut at, mut shift) = (0usize, 0isize);
    for (range, len) in edits {
        if !starts.is_empty() && range.start <= at {
            return None;
        }
        let new_start = range.start.checked_add_signed(shift)?;
        if text.get(at.checked_add_signed(shift)?..new_start)? != &old[at..range.start] {
            return None;
        }
        starts.push(new_start);
        shift += *len as isize - range.len() as isize;
        at = range.end;
    }
    if text.get(at.checked_add_signed(shift)?..)? != &old[at..] {
        return None;
    }
    // The points of every edit's ends, in one pass over the old text: a
    // round may make thousands of edits in one long RUN.
    let mut ends = Vec::with_capacity(edits.len());
    let (mut at, mut point) = (0, Point::new(0, 0));
    for (range, _) in edits {
        let start = advance(point, &old[at..range.start]);
        point = advance(start, &old[range.clone()]);
        at = range.end;
        ends.push((start, point));
    }
    let mut tree = kept.tree.clone();
    // Last first: an edit moves nothing before it, so each is given in
    // the offsets of the text as it was.
    for (((range, len), new_start), (start, end)) in edits.iter().zip(&starts).zip(ends).rev() {
        let inserted = &text[*new_start..new_start + len];
        edit(&mut tree, (range.start, start), (range.end, end), inserted);
    }
    Some(tree)
}

/// The kept tree edited as if everything between the common start and
/// end of its text and `text` had been replaced.
fn common_ends(kept: &Kept, text: &[u8]) -> Option<Tree> {
    let old = &kept.text;
    let prefix = old.iter().zip(text).take_while(|(a, b)| a == b).count();
    let room = old.len().min(text.len()) - prefix;
    let suffix = old
        .iter()
        .rev()
        .zip(text.iter().rev())
        .take(room)
        .take_while(|(a, b)| a == b)
        .count();
    // Mostly new text: a fresh parse does as well.
    if 2 * (prefix + suffix) < text.len() {
        return None;
    }
    let (old_end, new_end) = (old.len() - suffix, text.len() - suffix);
    let start = advance(Point::new(0, 0), &old[..prefix]);
    let end = advance(start, &old[prefix..old_end]);
    let mut tree = kept.tree.clone();
    edit(
        &mut tree,
        (prefix, start),
        (old_end, end),
        &text[prefix..new_end],
    );
    Some(tree)
}

/// Tells `tree` that its text from `start` to `old_end` (offsets with
/// their points) became `inserted`.
fn edit(tree: &mut Tree, start: (usize, Point), old_end: (usize, Point), inserted: &[u8]) {
    tree.edit(&InputEdit {
        start_byte: start.0,
        old_end_byte: old_end.0,
        new_end_byte: start.0 + inserted.len(),
        start_position: start.1,
        old_end_position: old_end.1,
        new_end_position: advance(start.1, inserted),
    });
}

/// The point reached from `from` over `bytes`.
fn advance(from: Point, bytes: &[u8]) -> Point {
    match bytes.iter().rposition(|&b| b == b'\n') {
        Some(last) => Point::new(
            from.row + bytes.iter().filter(|&&b| b == b'\n').count(),
            bytes.len() - last - 1,
        ),
        None => Point::new(from.row, from.column + bytes.len()),
    }
}

/// Whether two trees have the same nodes, kinds and byte ranges, in order.
#[cfg(debug_assertions)]
pub fn same_nodes(a: &Tree, b: &Tree) -> bool {
    let (mut a, mut b) = (a.walk(), b.walk());
    loop {
        let (x, y) = (a.node(), b.node());
        if (x.kind_id(), x.byte_range(), x.is_missing(), x.has_error())
            != (y.kind_id(), y.byte_range(), y.is_missing(), y.has_error())
        {
            return false;
        }
        let down = a.goto_first_child();
        if down != b.goto_first_child() {
            return false;
        }
        if down {
            continue;
        }
        loop {
            let next = a.goto_next_sibling();
            if next != b.goto_next_sibling() {
                return false;
            }
            if next {
                break;
            }
            let up = a.goto_parent();
            if up != b.goto_parent() {
                return false;
            }
            if !up {
                return true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::{parse, shell};

    /// The script text of the file's RUN, its shell parsed (which
    /// `keep_edited` keeps only for parsed scripts).
    fn script_text(file: &Dockerfile) -> Vec<u8> {
        let run = file
            .instructions()
            .find(|i| i.command.name == "run")
            .unwrap();
        shell::parse(file, run).unwrap().text.clone()
    }

    /// `text` parsed from scratch, or from `old`.
    fn parsed(text: &[u8], old: Option<&Tree>) -> Tree {
        let mut parser = tree_sitter::Parser::new();
        parser
            .set_language(&tree_sitter_bash::LANGUAGE.into())
            .unwrap();
        parser.parse(text, old).unwrap()
    }

    #[test]
    fn a_rounds_edits_are_replayed_on_the_scripts_tree() {
        let before = b"FROM debian\nRUN apt-get update \\\n && apt-get install -y curl \\\n && rm -rf /var/lib/apt/lists/*\nRUN echo done\n";
        let file = parse(before).unwrap();
        script_text(&file);
        // A mount for the space after `RUN`, `--no-install-recommends`
        // after `install`, the cleanup dropped.
        let mount = " --mount=type=cache,target=/var/cache/apt ";
        let install = before.windows(7).position(|w| w == b"install").unwrap() + 7;
        let cleanup = before.windows(5).rposition(|w| w == b" \\\n &").unwrap();
        let lists_end = before.windows(3).position(|w| w == b"/*\n").unwrap() + 2;
        let edits = [
            (15..16, mount.len()),
            (install..install, " --no-install-recommends".len()),
            (cleanup..lists_end, 0),
        ];
        keep_edited(&file, &edits);
        let after = b"FROM debian\nRUN --mount=type=cache,target=/var/cache/apt apt-get update \\\n && apt-get install --no-install-recommends -y curl\nRUN echo done\n";
        let text = script_text(&parse(after).unwrap());
        // Kept where the script now starts, the untouched RUN not at all.
        let base = after.windows(7).position(|w| w == b"apt-get").unwrap();
        assert_eq!(
            KEPT.with(|k| k.borrow().keys().copied().collect::<Vec<_>>()),
            [base]
        );
        let tree = KEPT
            .with(|k| replay(&k.borrow()[&base], &text))
            .expect("the edits replay");
        assert!(same_nodes(
            &parsed(&text, Some(&tree)),
            &parsed(&text, None)
        ));
        assert!(edited_tree(&text, base).is_some());
        assert!(edited_tree(&text, base + 1).is_none());
        forget_edited();
        assert!(edited_tree(&text, base).is_none());
    }

    #[test]
    fn other_text_falls_back_to_the_common_ends_or_to_a_fresh_parse() {
        let before = b"FROM debian\nRUN apt-get update && apt-get install -y curl wget git\n";
        let file = parse(before).unwrap();
        script_text(&file);
        // Edits that do not describe the change: the common ends do.
        keep_edited(&file, &[(16..17, 1)]);
        let text = b"apt-get update && apt-get install -y curl git".to_vec();
        assert!(KEPT.with(|k| replay(&k.borrow()[&16], &text)).is_none());
        let tree = edited_tree(&text, 16).expect("most of the text is the same");
        assert!(same_nodes(
            &parsed(&text, Some(&tree)),
            &parsed(&text, None)
        ));
        assert!(edited_tree(b"echo something else entirely", 16).is_none());
        forget_edited();
    }

    #[test]
    fn many_edits_of_one_script_are_given_as_one_span() {
        let words: String = (0..=MAX_REPLAYED)
            .map(|i| format!(" && echo {i}"))
            .collect();
        // Untouched commands around them: most of the text stays.
        let around = " && true".repeat(60);
        let before = format!("FROM debian\nRUN true{around}{words}{around}\n");
        let file = parse(before.as_bytes()).unwrap();
        script_text(&file);
        // Each `echo` becomes `printf`, one edit apiece.
        let edits: Vec<(Range<usize>, usize)> = before
            .match_indices("echo")
            .map(|(at, _)| (at..at + 4, 6))
            .collect();
        assert!(edits.len() > MAX_REPLAYED);
        keep_edited(&file, &edits);
        assert!(KEPT.with(|k| k.borrow()[&16].edits.is_none()));
        let text = format!("true{around}{}{around}", words.replace("echo", "printf")).into_bytes();
        let tree = edited_tree(&text, 16).expect("most of the text is the same");
        assert!(same_nodes(
            &parsed(&text, Some(&tree)),
            &parsed(&text, None)
        ));
        forget_edited();
    }

    #[test]
    fn points_count_rows_and_the_bytes_since_the_last_line_end() {
        assert_eq!(advance(Point::new(0, 0), b"ab\nc"), Point::new(1, 1));
        assert_eq!(advance(Point::new(0, 0), b"ab"), Point::new(0, 2));
        assert_eq!(advance(Point::new(2, 5), b"xy"), Point::new(2, 7));
        assert_eq!(advance(Point::new(2, 5), b"x\n\nyz"), Point::new(4, 2));
    }
}
