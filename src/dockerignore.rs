//! `.dockerignore`: which paths of the build context a build never sees.
//!
//! Follows moby's pattern matcher: one pattern per line, `#` lines are
//! comments, patterns are cleaned paths relative to the context root (a
//! leading `/` is dropped), `*` and `?` stay within a path segment, `**`
//! spans any number of them, `!` re-includes, the last matching pattern wins,
//! and a pattern that matches a directory excludes everything under it.

use std::path::Path;

use regex::Regex;

/// A relative path as patterns and the cache model write it: `/` between
/// its parts.
pub fn slashed(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

#[derive(Debug, Default)]
pub struct DockerIgnore {
    patterns: Vec<(Regex, bool)>,
    /// The `!` patterns as written, cleaned.
    exceptions: Vec<String>,
}

impl DockerIgnore {
    /// The context's `.dockerignore`; empty when there is none.
    pub fn load(context: &Path) -> Self {
        crate::context::read_to_string(context, context.join(".dockerignore"))
            .map(|text| Self::parse(&text))
            .unwrap_or_default()
    }

    pub fn parse(text: &str) -> Self {
        let mut patterns = Vec::new();
        let mut exceptions = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let line = line.trim();
            let (exclude, pattern) = match line.strip_prefix('!') {
                Some(rest) => (false, rest.trim()),
                None => (true, line),
            };
            let pattern = clean(pattern);
            if pattern.is_empty() || pattern == "." {
                continue;
            }
            if let Ok(regex) = Regex::new(&to_regex(&pattern)) {
                patterns.push((regex, exclude));
                if !exclude {
                    exceptions.push(pattern);
                }
            }
        }
        DockerIgnore {
            patterns,
            exceptions,
        }
    }

    /// Whether a `!` pattern brings something back: then a directory left
    /// out may still hold files the build sees.
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|(_, exclude)| !exclude)
    }

    /// Whether a `!` pattern may bring back `path` or something under it
    /// or above it: a line for `path` appended after it would undo it.
    /// Judged by the patterns' literal parts, so a wildcard before any
    /// slash counts as a maybe.
    pub fn exception_under(&self, path: &str) -> bool {
        let path = clean(path);
        self.exceptions.iter().any(|pattern| {
            let literal = pattern
                .find(['*', '?', '[', '\\'])
                .map_or(pattern.as_str(), |at| &pattern[..at]);
            let within = |outer: &str, inner: &str| {
                inner == outer || inner.starts_with(&format!("{outer}/"))
            };
            if literal.len() < pattern.len() {
                // `literal` ends inside a segment: `path` may start with it.
                path.starts_with(literal) || literal.starts_with(&path)
            } else {
                within(&path, pattern) || within(pattern, &path)
            }
        })
    }

    /// Whether the build never sees `path` (relative to the context, `/`
    /// separated): the last pattern matching it or one of its parent
    /// directories decides.
    pub fn excludes(&self, path: &str) -> bool {
        let path = clean(path);
        let mut prefixes = Vec::new();
        for (i, _) in path.match_indices('/') {
            prefixes.push(&path[..i]);
        }
        prefixes.push(&path);
        let mut excluded = false;
        for (regex, exclude) in &self.patterns {
            if prefixes.iter().any(|p| regex.is_match(p)) {
                excluded = *exclude;
            }
        }
        excluded
    }
}

/// `filepath.Clean` for slash paths, relative to the context root (empty
/// for the root itself).
pub fn clean(path: &str) -> String {
    crate::scope::clean(path)
        .trim_start_matches('/')
        .to_string()
}

fn to_regex(pattern: &str) -> String {
    let mut out = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' if chars.get(i + 1) == Some(&'*') => {
                i += 1;
                // `**/` also matches no directory at all.
                if chars.get(i + 1) == Some(&'/') {
                    i += 1;
                    out.push_str("(.*/)?");
                } else {
                    out.push_str(".*");
                }
            }
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            '[' => {
                let end = chars[i..].iter().position(|&c| c == ']').map(|p| i + p);
                match end {
                    Some(end) => {
                        let class: String = chars[i + 1..end].iter().collect();
                        let class = class
                            .strip_prefix('^')
                            .map_or(class.clone(), |c| format!("^{c}"));
                        out.push('[');
                        out.push_str(&class.replace('\\', "\\\\"));
                        out.push(']');
                        i = end;
                    }
                    None => out.push_str("\\["),
                }
            }
            '\\' if i + 1 < chars.len() => {
                i += 1;
                out.push_str(&regex::escape(&chars[i].to_string()));
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    out.push('$');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moby_pattern_semantics() {
        let ignore = DockerIgnore::parse(
            "# comment\nnode_modules\n/dist\n*.log\n**/.venv\nsecrets/*\n!secrets/keep.txt\ndocs/**/*.md\n",
        );
        assert!(ignore.excludes("node_modules"));
        assert!(ignore.excludes("node_modules/express/package.json"));
        assert!(
            !ignore.excludes("src/node_modules"),
            "patterns are anchored at the root"
        );
        assert!(ignore.excludes("dist/app.js"));
        assert!(ignore.excludes("debug.log"));
        assert!(!ignore.excludes("logs/debug.log"), "* stays in one segment");
        assert!(ignore.excludes(".venv/bin/python"));
        assert!(ignore.excludes("api/.venv"));
        assert!(ignore.excludes("secrets/key.pem"));
        assert!(!ignore.excludes("secrets/keep.txt"), "! re-includes");
        assert!(ignore.excludes("docs/a/b/c.md"));
        assert!(ignore.excludes("docs/c.md"));
        assert!(!ignore.excludes("package.json"));
        assert!(!ignore.excludes("# comment"));
    }

    #[test]
    fn exceptions_under_a_path_are_found_by_their_literal_part() {
        let ignore = DockerIgnore::parse("*\n!src\n!README.md\n!conf/*.yml\n");
        assert!(ignore.exception_under("src/__pycache__"));
        assert!(ignore.exception_under("conf"));
        assert!(!ignore.exception_under(".git"));
        assert!(!ignore.exception_under("node_modules"));
        assert!(DockerIgnore::parse("!**/*.md\n").exception_under(".git"));
        assert!(!DockerIgnore::parse("node_modules\n").exception_under("node_modules"));
    }

    #[test]
    fn last_match_wins_and_paths_are_cleaned() {
        let ignore = DockerIgnore::parse("*.txt\n!requirements*.txt\n./build/../out\n");
        assert!(ignore.excludes("notes.txt"));
        assert!(!ignore.excludes("requirements-dev.txt"));
        assert!(ignore.excludes("out/x"));
        assert!(ignore.excludes("./notes.txt"));
    }
}
