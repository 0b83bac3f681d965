//! `--format sarif` end to end: every log the binary prints is validated
//! against the OASIS SARIF 2.1.0 schema (`tests/sarif/`), and what the
//! schema cannot check is checked against the JSON report and `--write`.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use tempfile::TempDir;

mod common;

use common::schema::Validator;

/// One safe DF002 fix, no build context needed.
const ONE_FIX: &str = "FROM scratch\nCMD prog\n";
/// One finding with only an unsafe fix.
const UNSAFE_ONLY: &str = "FROM debian:bookworm\nCMD prog\n";
/// Findings after characters that are one code point but two UTF-16 units
/// (U+1D11E) or two bytes (é), on the line they are on.
const NON_ASCII: &str =
    "FROM python:3.12\nRUN echo \"𝄞 é\" && pip install flask\nCMD prog \"𝄞 é\"\n";

struct Run {
    code: i32,
    stdout: String,
}

fn dockfix(dir: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dockfix"))
        .args(args)
        .current_dir(dir)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dockfix starts");
    if let Some(input) = stdin {
        use std::io::Write;
        // dockfix may refuse the run before it reads its input: the pipe is
        // then closed, and the exit status is what the test checks.
        let written = child.stdin.take().unwrap().write_all(input.as_bytes());
        if let Err(e) = written {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
    }
    let out = child.wait_with_output().expect("dockfix finishes");
    Run {
        code: out.status.code().expect("dockfix exited normally"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
    }
}

fn tree(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, contents) in files {
        let path = dir.path().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, contents).unwrap();
    }
    dir
}

/// The OASIS schema.
fn sarif_schema() -> Validator {
    Validator::new("tests/sarif/sarif-schema-2.1.0.json")
}

/// Runs dockfix with `--format sarif` and returns the log, valid by the schema.
fn sarif(dir: &Path, args: &[&str]) -> (i32, Value) {
    let run = dockfix(dir, &[&["--format", "sarif"], args].concat(), None);
    let log: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", run.stdout));
    if let Err(e) = sarif_schema().check(&log) {
        panic!("invalid SARIF: {e}\n{log:#}");
    }
    (run.code, log)
}

fn json_report(dir: &Path, args: &[&str]) -> Value {
    let run = dockfix(dir, &[&["--format", "json"], args].concat(), None);
    serde_json::from_str(&run.stdout).unwrap()
}

fn results(log: &Value) -> &Vec<Value> {
    log["runs"][0]["results"].as_array().unwrap()
}

/// A SARIF region as the JSON report writes a range.
fn as_range(region: &Value) -> Value {
    json!({
        "start": [region["startLine"], region["startColumn"]],
        "end": [region["endLine"], region["endColumn"]],
    })
}

fn range(range: &Value) -> Value {
    json!({
        "start": [range["start"]["line"], range["start"]["column"]],
        "end": [range["end"]["line"], range["end"]["column"]],
    })
}

/// The byte offset of a 1-based line and column counted in code points.
fn offset(text: &str, line: u64, column: u64) -> usize {
    let start: usize = text
        .split_inclusive('\n')
        .take(line as usize - 1)
        .map(str::len)
        .sum();
    let rest = &text[start..];
    start
        + rest
            .char_indices()
            .nth(column as usize - 1)
            .map_or(rest.len(), |(i, _)| i)
}

/// Applies the replacements of the fixes these options apply to one file,
/// as a SARIF consumer would.
fn apply(log: &Value, uri: &str, text: &str, unsafe_fixes: bool) -> String {
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for result in results(log) {
        for fix in result["fixes"].as_array().into_iter().flatten() {
            if fix["properties"]["applicability"] == "unsafe" && !unsafe_fixes {
                continue;
            }
            for change in fix["artifactChanges"].as_array().unwrap() {
                if change["artifactLocation"]["uri"] != uri {
                    continue;
                }
                for replacement in change["replacements"].as_array().unwrap() {
                    let region = &replacement["deletedRegion"];
                    let at = |l: &str, c: &str| {
                        offset(
                            text,
                            region[l].as_u64().unwrap(),
                            region[c].as_u64().unwrap(),
                        )
                    };
                    edits.push((
                        at("startLine", "startColumn"),
                        at("endLine", "endColumn"),
                        replacement["insertedContent"]["text"]
                            .as_str()
                            .unwrap()
                            .to_string(),
                    ));
                }
            }
        }
    }
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = text.to_string();
    for (start, end, inserted) in edits {
        out.replace_range(start..end, &inserted);
    }
    out
}

#[test]
fn the_validator_rejects_invalid_logs() {
    let dir = tree(&[("Dockerfile", ONE_FIX)]);
    let (_, log) = sarif(dir.path(), &["Dockerfile"]);
    let validator = sarif_schema();
    let broken = |change: &dyn Fn(&mut Value)| {
        let mut bad = log.clone();
        change(&mut bad);
        validator.check(&bad)
    };
    assert!(broken(&|_| {}).is_ok());
    assert!(broken(&|l| l["version"] = json!("2.0.0")).is_err());
    assert!(broken(&|l| l["runs"][0]["results"][0]["level"] = json!("fatal")).is_err());
    let region = "/runs/0/results/0/locations/0/physicalLocation/region/startLine";
    assert!(broken(&|l| *l.pointer_mut(region).unwrap() = json!(0)).is_err());
    let uri = "/runs/0/results/0/locations/0/physicalLocation/artifactLocation/uri";
    assert!(broken(&|l| *l.pointer_mut(uri).unwrap() = json!("a b\\c")).is_err());
}

#[test]
fn findings_with_safe_and_unsafe_fixes() {
    let dir = tree(&[("Dockerfile", ONE_FIX), ("unsafe/Dockerfile", UNSAFE_ONLY)]);
    let args = ["Dockerfile", "unsafe/Dockerfile"];
    let (code, log) = sarif(dir.path(), &args);
    assert_eq!(code, 1);
    let run = &log["runs"][0];
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(run["tool"]["driver"]["name"], "dockfix");
    assert_eq!(run["tool"]["driver"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(run["columnKind"], "unicodeCodePoints");
    assert_eq!(run["invocations"][0]["executionSuccessful"], true);
    let results = results(&log);
    assert_eq!(results.len(), 2, "{log:#}");
    let safe = &results[0];
    assert!(safe["message"]["text"]
        .as_str()
        .unwrap()
        .ends_with(" (dockfix --write fixes this)"));
    assert_eq!(safe["fixes"][0]["properties"]["applicability"], "safe");
    let unsafe_ = &results[1];
    assert_eq!(
        unsafe_["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "unsafe/Dockerfile"
    );
    assert!(unsafe_["message"]["text"]
        .as_str()
        .unwrap()
        .ends_with(" (dockfix --write --unsafe fixes this)"));
    assert_eq!(unsafe_["fixes"][0]["properties"]["applicability"], "unsafe");

    // The rules that ran, each result pointing at its own.
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.iter().any(|r| r["id"] == "DF001") && rules.len() > 10);
    for result in results {
        let rule = &rules[result["ruleIndex"].as_u64().unwrap() as usize];
        assert_eq!(rule["id"], result["ruleId"]);
    }
    let df002 = rules.iter().find(|r| r["id"] == "DF002").unwrap();
    assert_eq!(df002["name"], "exec-form");
    assert_eq!(df002["properties"]["fixSafety"], "safe or unsafe");
    assert!(df002["help"]["markdown"]
        .as_str()
        .unwrap()
        .starts_with("# DF002 exec-form"));
    let (_, selected) = sarif(dir.path(), &["--select", "DF002", "Dockerfile"]);
    assert_eq!(
        selected["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (_, mounts) = sarif(dir.path(), &["--cache-style", "mounts", "Dockerfile"]);
    let mount_rules = mounts["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    let df301 = mount_rules.iter().find(|r| r["id"] == "DF301").unwrap();
    assert_eq!(df301["properties"]["cacheStyle"], "mounts");
}

#[test]
fn regions_and_replacements_match_json_and_write() {
    let dir = tree(&[
        ("Dockerfile", NON_ASCII),
        ("sub/Dockerfile", UNSAFE_ONLY),
        (
            "sub/app.Dockerfile",
            "FROM scratch\nADD app.txt /app/\nCMD prog arg\n",
        ),
        ("sub/app.txt", "x"),
    ]);
    for unsafe_fixes in [false, true] {
        let args: &[&str] = if unsafe_fixes {
            &["--unsafe", "."]
        } else {
            &["."]
        };
        let (_, log) = sarif(dir.path(), args);
        let report = json_report(dir.path(), args);
        let findings = report["findings"].as_array().unwrap();
        assert_eq!(results(&log).len(), findings.len(), "{log:#}");
        assert!(findings.len() >= 4, "{report:#}");
        for (result, finding) in results(&log).iter().zip(findings) {
            assert_eq!(result["ruleId"], finding["rule"]);
            let location = &result["locations"][0]["physicalLocation"];
            assert_eq!(
                location["artifactLocation"]["uri"].as_str().unwrap(),
                finding["file"].as_str().unwrap().trim_start_matches("./")
            );
            assert_eq!(as_range(&location["region"]), range(&finding["range"]));
            let edits = finding["fix"]["edits"].as_array().into_iter().flatten();
            let replacements = result["fixes"][0]["artifactChanges"][0]["replacements"]
                .as_array()
                .into_iter()
                .flatten();
            for (edit, replacement) in edits.zip(replacements) {
                assert_eq!(
                    as_range(&replacement["deletedRegion"]),
                    range(&edit["range"])
                );
            }
        }
        // `pip` is column 19 in code points, 20 in UTF-16 units.
        let pip = results(&log)
            .iter()
            .find(|r| r["ruleId"] == "DF204")
            .unwrap();
        let region = &pip["locations"][0]["physicalLocation"]["region"];
        assert_eq!(
            (&region["startLine"], &region["startColumn"]),
            (&json!(2), &json!(19))
        );

        let expected: Vec<(&str, String)> = ["Dockerfile", "sub/Dockerfile", "sub/app.Dockerfile"]
            .into_iter()
            .map(|path| {
                let text = fs::read_to_string(dir.path().join(path)).unwrap();
                (path, apply(&log, path, &text, unsafe_fixes))
            })
            .collect();
        assert_ne!(expected[0].1, NON_ASCII, "a fix applies");
        let written = tree(&[]);
        copy_tree(dir.path(), written.path());
        let write: &[&str] = if unsafe_fixes {
            &["--write", "--unsafe", "."]
        } else {
            &["--write", "."]
        };
        dockfix(written.path(), write, None);
        for (path, text) in expected {
            assert_eq!(
                fs::read_to_string(written.path().join(path)).unwrap(),
                text,
                "{path}, unsafe: {unsafe_fixes}"
            );
        }
    }
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn suppressed_findings_are_results_suppressed_in_source() {
    let source = "FROM scratch\n# dockfix: ignore[exec-form]\nCMD prog\nCMD other\n";
    let dir = tree(&[("Dockerfile", source)]);
    let (_, log) = sarif(dir.path(), &["Dockerfile"]);
    assert_eq!(results(&log).len(), 1);
    assert!(results(&log)[0].get("suppressions").is_none());
    let (_, log) = sarif(dir.path(), &["--show-suppressed", "Dockerfile"]);
    let results = results(&log);
    assert_eq!(results.len(), 2, "{log:#}");
    assert_eq!(results[1]["suppressions"], json!([{"kind": "inSource"}]));
    assert_eq!(
        results[1]["locations"][0]["physicalLocation"]["region"]["startLine"],
        3
    );
}

#[test]
fn errors_are_notifications_with_and_without_position() {
    let dir = tree(&[("bad dir/Dockerfile", "FROM a\nENV X\n")]);
    let (code, log) = sarif(dir.path(), &["bad dir/Dockerfile", "missing"]);
    assert_eq!(code, 2);
    assert!(results(&log).is_empty());
    let invocation = &log["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], false);
    let notes = invocation["toolExecutionNotifications"].as_array().unwrap();
    assert_eq!(notes.len(), 2, "{log:#}");
    let missing = notes
        .iter()
        .find(|n| n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "missing")
        .unwrap();
    assert_eq!(missing["level"], "error");
    assert!(missing["locations"][0]["physicalLocation"]
        .get("region")
        .is_none());
    let bad = notes
        .iter()
        .find(|n| n["message"]["text"] == "ENV must have two arguments")
        .unwrap();
    let location = &bad["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], "bad%20dir/Dockerfile");
    assert_eq!(
        location["region"],
        json!({"startLine": 2, "startColumn": 1})
    );
}

#[test]
fn absolute_paths_are_file_uris() {
    let dir = tree(&[("Dockerfile", ONE_FIX)]);
    let path = dir.path().join("Dockerfile");
    let (_, log) = sarif(dir.path(), &[path.to_str().unwrap()]);
    let uri = results(&log)[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        uri.starts_with("file:///") && uri.ends_with("/Dockerfile"),
        "{uri}"
    );
}

#[test]
fn an_empty_run_is_a_valid_log() {
    let dir = tree(&[("README", "no Dockerfile here")]);
    let (code, log) = sarif(dir.path(), &[]);
    assert_eq!(code, 0);
    assert!(results(&log).is_empty());
    assert_eq!(
        log["runs"][0]["invocations"][0]["executionSuccessful"],
        true
    );
}

#[test]
fn standard_input_cannot_be_rewritten_into_the_log() {
    let dir = tree(&[]);
    let run = dockfix(
        dir.path(),
        &["--write", "--format", "sarif", "-"],
        Some(ONE_FIX),
    );
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty());
    let run = dockfix(dir.path(), &["--format", "sarif", "-"], Some(ONE_FIX));
    assert_eq!(run.code, 1);
}

#[test]
fn lines_for_other_files_are_named_in_the_fix_description() {
    let dir = tree(&[
        (
            "Dockerfile",
            "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci\n",
        ),
        (
            "package.json",
            "{\"name\": \"a\", \"version\": \"1.0.0\"}\n",
        ),
        ("package-lock.json", "{}\n"),
    ]);
    let (_, log) = sarif(dir.path(), &["--select", "DF101", "Dockerfile"]);
    let fix = &results(&log)[0]["fixes"][0];
    let description = fix["description"]["text"].as_str().unwrap();
    assert!(
        description.starts_with("Safe fix; also adds node_modules to ")
            && description.ends_with(".dockerignore when missing"),
        "{description}"
    );
    let changes = fix["artifactChanges"].as_array().unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["artifactLocation"]["uri"], "Dockerfile");
}
