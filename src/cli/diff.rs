//! Unified diffs (`--- a/path` / `+++ b/path`, three lines of context),
//! optionally coloured.

use similar::{ChangeTag, TextDiff};

use super::report::quoted;

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

pub fn unified(old: &[u8], new: &[u8], path: &str, color: bool) -> String {
    let path = path.trim_start_matches('/');
    render(old, new, &format!("a/{path}"), path, color)
}

/// The diff of a file the rewrite creates (`--- /dev/null`).
pub fn created(new: &[u8], path: &str, color: bool) -> String {
    render(b"", new, "/dev/null", path.trim_start_matches('/'), color)
}

fn render(old: &[u8], new: &[u8], old_name: &str, path: &str, color: bool) -> String {
    let (old, new) = (crate::syntax::lossy(old), crate::syntax::lossy(new));
    let diff = TextDiff::from_lines(old.as_ref(), new.as_ref());
    let paint = |style: &str, text: &str| {
        if color {
            format!("{style}{text}{RESET}")
        } else {
            text.to_string()
        }
    };
    let mut out = String::new();
    let mut udiff = diff.unified_diff();
    for (i, hunk) in udiff.context_radius(3).iter_hunks().enumerate() {
        if i == 0 {
            out += &paint(BOLD, &format!("--- {}", quoted(old_name)));
            out += "\n";
            out += &paint(BOLD, &format!("+++ {}", quoted(&format!("b/{path}"))));
            out += "\n";
        }
        out += &paint(CYAN, &hunk.header().to_string());
        out += "\n";
        for change in hunk.iter_changes() {
            let (sign, style) = match change.tag() {
                ChangeTag::Delete => ('-', Some(RED)),
                ChangeTag::Insert => ('+', Some(GREEN)),
                ChangeTag::Equal => (' ', None),
            };
            let value = change.to_string_lossy();
            let body = value.strip_suffix('\n').unwrap_or(&value);
            let line = format!("{sign}{body}");
            out += &style.map_or(line.clone(), |s| paint(s, &line));
            out += "\n";
            if change.missing_newline() {
                out += "\\ No newline at end of file\n";
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_a_missing_final_newline() {
        let out = unified(b"FROM a\nADD x y", b"FROM a\nCOPY x y", "Dockerfile", false);
        assert_eq!(
            out,
            "--- a/Dockerfile\n+++ b/Dockerfile\n@@ -1,2 +1,2 @@\n FROM a\n-ADD x y\n\\ No newline at end of file\n+COPY x y\n\\ No newline at end of file\n"
        );
    }

    #[test]
    fn a_created_file_comes_from_dev_null() {
        let out = created(b"node_modules\n", ".dockerignore", false);
        assert_eq!(
            out,
            "--- /dev/null\n+++ b/.dockerignore\n@@ -0,0 +1 @@\n+node_modules\n"
        );
    }

    #[test]
    fn headers_quote_a_path_with_a_newline_as_git_does() {
        let out = unified(b"a\n", b"b\n", "x\ny/Dockerfile", false);
        assert!(
            out.starts_with("--- \"a/x\\ny/Dockerfile\"\n+++ \"b/x\\ny/Dockerfile\"\n"),
            "{out}"
        );
    }

    #[test]
    fn colours_only_when_asked() {
        let plain = unified(b"a\n", b"b\n", "f", false);
        assert!(!plain.contains('\x1b'));
        let coloured = unified(b"a\n", b"b\n", "f", true);
        assert!(coloured.contains(&format!("{RED}-a{RESET}")));
    }
}
