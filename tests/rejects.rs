//! Files BuildKit rejects are errors, never rewritten: merge-conflict
//! markers, binary bytes and UTF-16 text fail BuildKit's instruction checks
//! (`unknown instruction`), and dockfix exits 2 with BuildKit's reason and
//! leaves the file as it was, even when it holds fixable instructions. A
//! rewrite that would produce such a file is an internal error.

use std::path::Path;

use dockfix::edit::Edit;
use dockfix::engine::{fix_parsed, FixError, Settings};
use dockfix::rules::{Applicability, Finding, Fix, ALL};
use dockfix::syntax::parse;

/// What the apt rules would fix, were the file readable.
const FIXABLE: &str = "FROM debian:12\nRUN apt-get update && apt-get install -y curl\n";

fn utf16le(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// Runs `dockfix --write` on `bytes` and checks: exit 2, the one error line
/// `path:line:col: message`, and the file unchanged.
fn rejected_untouched(bytes: &[u8], line: usize, message: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Dockerfile");
    std::fs::write(&path, bytes).unwrap();
    let output = run(&path);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let expected = format!("{}:{line}:1: {message}", path.display());
    assert!(
        stderr.lines().any(|l| l == expected),
        "expected {expected:?} in {stderr:?}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "the file was changed");
}

fn run(path: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_dockfix"))
        .arg("--write")
        .arg(path)
        .output()
        .unwrap()
}

#[test]
fn the_fixable_file_is_fixed() {
    // The shapes below hold this file; it is rewritten when readable, so
    // leaving them untouched is the error, not the absence of fixes.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Dockerfile");
    std::fs::write(&path, FIXABLE).unwrap();
    assert_eq!(
        run(&path).status.code(),
        Some(1),
        "rewritten, findings left"
    );
    assert_ne!(std::fs::read_to_string(&path).unwrap(), FIXABLE);
}

#[test]
fn merge_conflict_markers() {
    let text = "FROM debian:12\n<<<<<<< HEAD\nRUN apt-get update && apt-get install -y curl\n=======\nRUN apt-get update && apt-get install -y wget\n>>>>>>> feature\n";
    rejected_untouched(text.as_bytes(), 2, "unknown instruction: <<<<<<<");
    // Whichever marker comes first.
    let text = "FROM debian:12\nRUN apt-get update && apt-get install -y curl\n=======\n";
    rejected_untouched(text.as_bytes(), 3, "unknown instruction: =======");
    let text = "FROM debian:12\n>>>>>>> feature\nRUN apt-get update && apt-get install -y curl\n";
    rejected_untouched(text.as_bytes(), 2, "unknown instruction: >>>>>>>");
}

#[test]
fn binary_garbage() {
    let mut bytes = b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00>\x00\x01\x00\x00\x00\xd0a\x00\x00\x00\x00\x00\x00@\x00\x00\x00\x00\x00\x00\x00pG\x02\n".to_vec();
    bytes.extend_from_slice(FIXABLE.as_bytes());
    rejected_untouched(
        &bytes,
        1,
        r#"unknown instruction: "\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00>\x00\x01\x00\x00\x00\xd0a\x00\x00\x00\x00\x00\x00@\x00\x00\x00\x00\x00\x00\x00"..."#,
    );
}

#[test]
fn utf16_with_a_byte_order_mark() {
    let mut bytes = b"\xff\xfe".to_vec();
    bytes.extend(utf16le(FIXABLE));
    rejected_untouched(
        &bytes,
        1,
        r#"unknown instruction: "\xff\xfeF\x00R\x00O\x00M\x00" (the file looks like UTF-16 text; Dockerfiles are UTF-8)"#,
    );
}

#[test]
fn utf16_without_a_byte_order_mark() {
    rejected_untouched(
        &utf16le(FIXABLE),
        1,
        r#"unknown instruction: "F\x00R\x00O\x00M\x00" (the file looks like UTF-16 text; Dockerfiles are UTF-8)"#,
    );
}

/// The engine re-parses every round with the same checks: a fix whose
/// result has an unknown instruction is refused, the file left alone.
#[test]
fn a_rewrite_with_an_unknown_instruction_is_an_internal_error() {
    let source = b"FROM debian:12\nRUN true\n";
    let file = parse(source).unwrap();
    let at = 15..18;
    assert_eq!(&source[at.clone()], b"RUN");
    let finding = Finding {
        rule: ALL[0],
        range: at.clone(),
        message: String::new(),
        fix: Some(Fix::new(
            Applicability::Safe,
            vec![Edit::replace(at, "RUNN")],
        )),
    };
    let settings = Settings {
        rules: ALL.to_vec(),
        unsafe_fixes: false,
        build_context: None,
        companions: false,
        dockerfile: None,
        pins: None,
        ecosystems: None,
        runtime_images: &dockfix::config::NO_RUNTIME_IMAGES,
    };
    match fix_parsed(file, vec![finding], &settings) {
        Err(FixError::Internal(why)) => assert!(
            why.contains("2:1: unknown instruction: RUNN (did you mean RUN?)"),
            "{why}"
        ),
        Err(FixError::Parse(e)) => panic!("the input does not parse: {e}"),
        Ok(fixed) => panic!("rewritten: {}", String::from_utf8_lossy(&fixed.file.source)),
    }
}
