//! What dockfix prints about each file: findings with positions and fixes,
//! in text or in the versioned JSON schema documented in the README.

use serde::Serialize;

use crate::engine::Settings;
use crate::rules::{Applicability, Finding, Rule};
use crate::syntax::Dockerfile;

/// Bumped on any incompatible change to the JSON output.
pub const JSON_VERSION: u32 = 1;

#[derive(Serialize)]
pub struct Output {
    pub version: u32,
    pub files: Vec<FileReport>,
    pub findings: Vec<FindingReport>,
    /// Findings suppression comments silence, with `--show-suppressed`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suppressed: Vec<FindingReport>,
    pub errors: Vec<ErrorReport>,
    /// Findings left unfixed (all of them when only reporting).
    #[serde(skip)]
    pub remaining: usize,
    /// The files a rewrite changes, Dockerfiles and companions alike, for
    /// `dockfix pr`, which commits them.
    #[serde(skip)]
    pub changes: Vec<crate::engine::Companion>,
    /// The rules that ran, which SARIF describes.
    #[serde(skip)]
    pub rules: Vec<&'static Rule>,
}

impl Output {
    /// A report of nothing yet, in this version of the schema.
    pub fn new() -> Output {
        Output {
            version: JSON_VERSION,
            files: vec![],
            findings: vec![],
            suppressed: vec![],
            errors: vec![],
            remaining: 0,
            changes: vec![],
            rules: vec![],
        }
    }
}

#[derive(Serialize, Default)]
pub struct FileReport {
    pub path: String,
    /// The file was (`--write`) or would be rewritten.
    pub changed: bool,
    /// Fixes applied, or that `--write` would apply with these options.
    pub fixes: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// The rewritten text of standard input (`--write -`), which in text
    /// format goes to stdout instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// The rule of each fix counted in `fixes`.
    #[serde(skip)]
    pub applied: Vec<&'static Rule>,
    /// Findings the rewrite leaves, where they are in the rewritten file.
    #[serde(skip)]
    pub left: Vec<FindingReport>,
    /// Other files the rewrite changes (.dockerignore), as shown.
    #[serde(skip)]
    pub companions: Vec<String>,
    /// What a source edit reruns before and after the rewrite, for a
    /// pull-request body.
    #[serde(skip)]
    pub source_edit: Option<(crate::cache::SourceEdit, crate::cache::SourceEdit)>,
    /// With `dockfix pr --measure`: both sides built on the engine, or why
    /// they were not.
    #[serde(skip)]
    pub measured: Option<Result<crate::measure::Measured, String>>,
}

#[derive(Serialize, Clone)]
pub struct FindingReport {
    pub file: String,
    pub rule: &'static str,
    pub name: &'static str,
    pub message: String,
    pub range: RangeReport,
    pub fix: Option<FixReport>,
}

impl FindingReport {
    /// What fixes the finding, for a reader of annotations or alerts.
    pub fn fix_hint(&self) -> &'static str {
        match &self.fix {
            Some(fix) if fix.applies => " (dockfix --write fixes this)",
            Some(fix) if fix.applicability == Applicability::Unsafe => {
                " (dockfix --write --unsafe fixes this)"
            }
            _ => "",
        }
    }
}

#[derive(Serialize, Clone)]
pub struct FixReport {
    pub applicability: Applicability,
    /// Whether these options apply it (`--unsafe` for unsafe fixes).
    pub applies: bool,
    pub edits: Vec<EditReport>,
    /// Lines the fix adds to other files when they lack them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub appends: Vec<AppendReport>,
}

#[derive(Serialize, Clone)]
pub struct AppendReport {
    pub path: String,
    pub lines: Vec<String>,
}

#[derive(Serialize, Clone)]
pub struct EditReport {
    pub range: RangeReport,
    /// Shared with the edit: the findings of a group of instructions share
    /// one fix.
    #[serde(serialize_with = "shared_text")]
    pub replacement: std::rc::Rc<str>,
}

fn shared_text<S: serde::Serializer>(text: &std::rc::Rc<str>, to: S) -> Result<S::Ok, S::Error> {
    to.serialize_str(text)
}

#[derive(Serialize, Clone)]
pub struct RangeReport {
    pub start: Position,
    pub end: Position,
}

#[derive(Serialize, Clone)]
pub struct Position {
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    /// 0-based byte offset.
    pub offset: usize,
}

#[derive(Serialize)]
pub struct ErrorReport {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl ErrorReport {
    /// `path:line:col`, or the path alone.
    pub fn location(&self) -> String {
        let file = quoted(&self.file);
        match (self.line, self.column) {
            (Some(line), Some(column)) => format!("{file}:{line}:{column}"),
            _ => file.into_owned(),
        }
    }

    pub fn text(&self) -> String {
        format!("{}: {}", self.location(), self.message)
    }
}

fn range(file: &Dockerfile, range: &std::ops::Range<usize>) -> RangeReport {
    let position = |offset: usize| {
        let (line, column) = file.line_col(offset);
        Position {
            line,
            column,
            offset,
        }
    };
    RangeReport {
        start: position(range.start),
        end: position(range.end),
    }
}

pub fn finding(
    path: &str,
    file: &Dockerfile,
    finding: &Finding,
    settings: &Settings,
) -> FindingReport {
    FindingReport {
        file: path.to_string(),
        rule: finding.rule.id,
        name: finding.rule.name,
        message: finding.message.clone(),
        range: range(file, &finding.range),
        fix: finding.fix.as_ref().map(|fix| FixReport {
            applicability: fix.applicability,
            applies: settings.applies(finding),
            edits: fix
                .edits
                .iter()
                .map(|e| EditReport {
                    range: range(file, &e.range),
                    replacement: std::rc::Rc::clone(&e.replacement),
                })
                .collect(),
            appends: fix
                .appends
                .iter()
                .map(|a| AppendReport {
                    path: shown(&a.path),
                    lines: a.lines.clone(),
                })
                .collect(),
        }),
    }
}

/// A DF002 finding without a fix at the start of `file`, for tests of the
/// formats.
#[cfg(test)]
pub fn example_finding(file: &str) -> FindingReport {
    let start = || Position {
        line: 1,
        column: 1,
        offset: 0,
    };
    FindingReport {
        file: file.into(),
        rule: "DF002",
        name: "exec-form",
        message: "shell-form CMD".into(),
        range: RangeReport {
            start: start(),
            end: start(),
        },
        fix: None,
    }
}

/// `path:line:col: RULE-ID message`, with `[*]` before the message when
/// these options would fix it.
pub fn finding_line(report: &FindingReport) -> String {
    let marker = if report.fix.as_ref().is_some_and(|f| f.applies) {
        "[*] "
    } else {
        ""
    };
    format!(
        "{}:{}:{}: {} {marker}{}",
        quoted(&report.file),
        report.range.start.line,
        report.range.start.column,
        report.rule,
        report.message
    )
}

/// A path as reports show it: `./` dropped, as the walk names files.
pub fn shown(path: &std::path::Path) -> String {
    let path = path.display().to_string();
    path.strip_prefix("./").map(String::from).unwrap_or(path)
}

/// A path as text output shows it: as it is, unless it holds a control
/// character (a newline would make one line look like two), a `"` or a
/// backslash; then quoted as git quotes paths (`"dir\nname"`), so it
/// reads back unambiguously.
pub fn quoted(path: &str) -> std::borrow::Cow<'_, str> {
    if !path
        .chars()
        .any(|c| c.is_control() || c == '"' || c == '\\')
    {
        return path.into();
    }
    let mut text = String::from('"');
    for c in path.chars() {
        match c {
            '"' => text += "\\\"",
            '\\' => text += "\\\\",
            '\t' => text += "\\t",
            '\n' => text += "\\n",
            '\r' => text += "\\r",
            c if c.is_control() => {
                let mut bytes = [0; 4];
                for byte in c.encode_utf8(&mut bytes).bytes() {
                    text += &format!("\\{byte:03o}");
                }
            }
            c => text.push(c),
        }
    }
    text.push('"');
    text.into()
}

/// A `Path` as text output shows it (see `quoted`).
pub fn quoted_path(path: &std::path::Path) -> String {
    quoted(&path.display().to_string()).into_owned()
}

pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_with_control_characters_are_quoted_as_git_quotes_them() {
        assert_eq!(quoted("svc/api.Dockerfile"), "svc/api.Dockerfile");
        assert_eq!(quoted("dir/naïve/Dockerfile"), "dir/naïve/Dockerfile");
        assert_eq!(quoted("a\nb/Dockerfile"), "\"a\\nb/Dockerfile\"");
        assert_eq!(quoted("a\tb\rc"), "\"a\\tb\\rc\"");
        assert_eq!(quoted("\x1b[31mred"), "\"\\033[31mred\"");
        assert_eq!(quoted("a\u{85}b"), "\"a\\302\\205b\"");
        assert_eq!(quoted("say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(quoted("back\\slash"), "\"back\\\\slash\"");
    }
}
