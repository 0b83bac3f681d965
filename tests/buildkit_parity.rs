//! Parity with BuildKit's own parser tests: the AST dump of every
//! `testfiles/*/Dockerfile` equals its `result`, and every
//! `testfiles-negative` case is rejected.

mod common;

use dockfix::syntax::{dump::dump, parse};

#[test]
fn dumps_match_buildkit_results() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let dir = corpus.join("buildkit-testfiles/testfiles");
    let cases = common::sorted_entries(&dir);
    let mut failures = Vec::new();
    for case in &cases {
        let source = std::fs::read(case.join("Dockerfile")).unwrap();
        let expected = std::fs::read_to_string(case.join("result")).unwrap();
        let actual = match parse(&source) {
            Ok(file) => dump(&file),
            Err(e) => format!("error: {e}\n"),
        };
        if actual != expected {
            failures.push(format!(
                "{}:\n--- expected\n{expected}--- actual\n{actual}",
                case.display()
            ));
        }
    }
    assert_eq!(cases.len(), 33, "BuildKit ships 33 positive cases");
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn negative_cases_are_rejected() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let dir = corpus.join("buildkit-testfiles/testfiles-negative");
    let cases = common::sorted_entries(&dir);
    assert_eq!(cases.len(), 4);
    for case in cases {
        let source = std::fs::read(case.join("Dockerfile")).unwrap();
        let error = parse(&source).expect_err(&case.display().to_string());
        assert!(!error.message.is_empty());
    }
}

/// Through the CLI: exit 2 and `path:line:col: message` for each negative case.
#[test]
fn negative_cases_exit_2_with_a_located_error() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    for case in common::sorted_entries(&corpus.join("buildkit-testfiles/testfiles-negative")) {
        let path = case.join("Dockerfile");
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_dockfix"))
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{}", path.display());
        let stderr = String::from_utf8_lossy(&output.stderr);
        let located = format!("{}:", path.display());
        let line = stderr
            .lines()
            .find(|l| l.starts_with(&located))
            .unwrap_or_default();
        let rest: Vec<&str> = line[located.len().min(line.len())..]
            .splitn(3, ':')
            .collect();
        assert!(
            rest.len() == 3
                && rest[0].parse::<usize>().is_ok()
                && rest[1].parse::<usize>().is_ok()
                && !rest[2].trim().is_empty(),
            "{}: expected path:line:col: message, got {stderr:?}",
            path.display()
        );
    }
}
