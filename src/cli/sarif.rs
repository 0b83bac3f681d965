//! `--format sarif`: one SARIF 2.1.0 log, the format GitHub code scanning
//! reads (`github/codeql-action/upload-sarif`), built from the same
//! `Output` as the JSON report.

use serde_json::{json, Value};

use super::report::{ErrorReport, FindingReport, FixReport, Output, RangeReport};
use crate::rules::{Applicability, Rule};

/// GitHub code scanning refuses a run with more results than this.
const MAX_RESULTS: usize = 25_000;

const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The whole log. `tool.driver.informationUri` is left out: dockfix has no
/// published home page to point at.
///
/// No `partialFingerprints`: the upload action computes
/// `primaryLocationLineHash` from the flagged line's text, which follows a
/// finding when lines move above it; one of dockfix's own would have to
/// match that hash or it would split an alert in two.
pub fn log(out: &Output) -> Value {
    let mut results: Vec<Value> = out
        .findings
        .iter()
        .map(|f| result(f, out, false))
        .chain(out.suppressed.iter().map(|f| result(f, out, true)))
        .collect();
    let mut notifications: Vec<Value> = out.errors.iter().map(notification).collect();
    if results.len() > MAX_RESULTS {
        let left_out = results.len() - MAX_RESULTS;
        results.truncate(MAX_RESULTS);
        notifications.push(json!({
            "level": "warning",
            "message": { "text": format!(
                "{left_out} more findings are not in this log: code scanning takes at most {MAX_RESULTS} results per run; `dockfix --format json` lists them all"
            ) },
        }));
    }
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "dockfix",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": out.rules.iter().copied().map(rule).collect::<Vec<_>>(),
                }
            },
            "invocations": [{
                "executionSuccessful": out.errors.is_empty(),
                "toolExecutionNotifications": notifications,
            }],
            // dockfix counts columns in characters; SARIF's default is
            // UTF-16 code units, which differ past U+FFFF.
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    })
}

fn rule(rule: &Rule) -> Value {
    let mut properties = json!({ "fixSafety": rule.fix_safety.label() });
    if let Some(style) = rule.cache_style {
        properties["cacheStyle"] = json!(style.label());
    }
    json!({
        "id": rule.id,
        "name": rule.name,
        "shortDescription": { "text": rule.summary },
        "fullDescription": { "text": what_it_does(rule.doc).unwrap_or_else(|| rule.summary.into()) },
        "help": { "text": rule.doc, "markdown": rule.doc },
        "defaultConfiguration": { "level": "warning" },
        "properties": properties,
    })
}

/// The first paragraph of a rule's "What it does" section, on one line.
fn what_it_does(doc: &str) -> Option<String> {
    let (_, section) = doc.split_once("## What it does\n")?;
    let paragraph = section.split("\n\n").next()?;
    let text = paragraph.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}

fn result(finding: &FindingReport, out: &Output, suppressed: bool) -> Value {
    let index = out
        .rules
        .iter()
        .position(|r| r.id == finding.rule)
        .expect("findings come from the rules that ran");
    let mut result = json!({
        "ruleId": finding.rule,
        "ruleIndex": index,
        "level": "warning",
        "message": { "text": format!("{}{}", finding.message, finding.fix_hint()) },
        "locations": [{ "physicalLocation": physical(&finding.file, Some(region(&finding.range))) }],
    });
    if let Some(fix) = finding
        .fix
        .as_ref()
        .and_then(|fix| fix_object(&finding.file, fix))
    {
        result["fixes"] = json!([fix]);
    }
    if suppressed {
        result["suppressions"] = json!([{ "kind": "inSource" }]);
    }
    result
}

/// A fix as replacements in the Dockerfile. What it adds to other files
/// (`appends`, a line in .dockerignore) is said in its description, not
/// given as a replacement: a line is added only when the file lacks it,
/// and to a file that may not exist yet, neither of which a replacement
/// (an unconditional edit of an existing file) can express.
fn fix_object(file: &str, fix: &FixReport) -> Option<Value> {
    if fix.edits.is_empty() {
        return None;
    }
    let replacements: Vec<Value> = fix
        .edits
        .iter()
        .map(|edit| {
            json!({
                "deletedRegion": region(&edit.range),
                "insertedContent": { "text": &*edit.replacement },
            })
        })
        .collect();
    let mut description = match fix.applicability {
        Applicability::Safe => "Safe fix".to_string(),
        Applicability::Unsafe => "Unsafe fix, applied with --unsafe".to_string(),
    };
    for append in &fix.appends {
        description += &format!(
            "; also adds {} to {} when missing",
            append.lines.join(", "),
            append.path
        );
    }
    Some(json!({
        "description": { "text": description },
        "properties": { "applicability": fix.applicability },
        "artifactChanges": [{
            "artifactLocation": artifact(file),
            "replacements": replacements,
        }],
    }))
}

fn notification(error: &ErrorReport) -> Value {
    let region = match (error.line, error.column) {
        (Some(line), Some(column)) => Some(json!({ "startLine": line, "startColumn": column })),
        _ => None,
    };
    json!({
        "level": "error",
        "message": { "text": error.message },
        "locations": [{ "physicalLocation": physical(&error.file, region) }],
    })
}

fn physical(file: &str, region: Option<Value>) -> Value {
    let mut location = json!({ "artifactLocation": artifact(file) });
    if let Some(region) = region {
        location["region"] = region;
    }
    location
}

fn region(range: &RangeReport) -> Value {
    let (start, end) = (&range.start, &range.end);
    json!({
        "startLine": start.line,
        "startColumn": start.column,
        "endLine": end.line,
        "endColumn": end.column,
    })
}

fn artifact(file: &str) -> Value {
    json!({ "uri": uri(file) })
}

/// A path as a URI reference: relative paths (to the directory dockfix ran
/// in, which code scanning takes as the repository root) with forward
/// slashes and no `./`, absolute ones as `file://` URIs; every byte but
/// unreserved characters and `/` percent-encoded, so `:` cannot read as a
/// scheme, nor `#` or `?` end the path.
fn uri(path: &str) -> String {
    let path = if cfg!(windows) {
        path.replace('\\', "/")
    } else {
        path.to_string()
    };
    let mut relative = path.as_str();
    while let Some(rest) = relative.strip_prefix("./") {
        relative = rest;
    }
    let scheme = if relative.starts_with('/') {
        "file://"
    } else {
        ""
    };
    format!("{scheme}{}", crate::http::percent_encode(relative, "/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::report::example_finding;

    #[test]
    fn a_log_keeps_to_the_results_code_scanning_takes() {
        let finding = example_finding("Dockerfile");
        let out = Output {
            findings: vec![finding; MAX_RESULTS + 3],
            rules: vec![crate::rules::find("DF002").unwrap()],
            ..Output::new()
        };
        let log = log(&out);
        let run = &log["runs"][0];
        assert_eq!(run["results"].as_array().unwrap().len(), MAX_RESULTS);
        let notes = run["invocations"][0]["toolExecutionNotifications"]
            .as_array()
            .unwrap();
        assert!(notes[0]["message"]["text"]
            .as_str()
            .unwrap()
            .starts_with("3 more findings"));
        assert_eq!(run["invocations"][0]["executionSuccessful"], true);
    }

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(uri("./Dockerfile"), "Dockerfile");
        assert_eq!(
            uri("././sub dir/a:b#c.Dockerfile"),
            "sub%20dir/a%3Ab%23c.Dockerfile"
        );
        assert_eq!(uri("/srv/app/Dockerfile"), "file:///srv/app/Dockerfile");
        assert_eq!(uri("dé/Dockerfile"), "d%C3%A9/Dockerfile");
    }

    #[test]
    fn every_rule_says_what_it_does() {
        for rule in crate::rules::ALL.iter().chain(crate::rules::OPT_IN) {
            let text = what_it_does(rule.doc).unwrap_or_default();
            assert!(!text.is_empty() && !text.contains('\n'), "{}", rule.id);
        }
    }
}
