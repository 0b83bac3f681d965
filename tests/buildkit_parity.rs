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
