//! Per-rule snapshots: for every case under `fixtures/rules/<RULE>/<case>/`
//! (a Dockerfile and its build context), what `dockfix` reports, and the
//! `--diff` it prints with and without `--unsafe`, running the built binary.

mod common;

use std::path::Path;
use std::process::Command;

fn run(dir: &Path, rule: &str, extra: &[&str]) -> String {
    // A rule of a cache style runs under that style.
    let style = dockfix::rules::find(rule)
        .and_then(|r| r.cache_style)
        .map_or("cleanup", |s| s.label());
    let output = Command::new(env!("CARGO_BIN_EXE_dockfix"))
        .current_dir(dir)
        .args(["--color", "never", "--cache-style", style, "--select", rule])
        .args(extra)
        .arg("Dockerfile")
        .output()
        .unwrap();
    let mut text = format!(
        "$ dockfix {} Dockerfile  (exit {})\n",
        extra.join(" "),
        output.status.code().unwrap()
    );
    text += &String::from_utf8_lossy(&output.stdout);
    text += &String::from_utf8_lossy(&output.stderr);
    text
}

/// Writing the fixes twice (on a copy of the case) changes nothing the
/// second time.
fn assert_idempotent(case: &Path, rule: &str) {
    let copy = tempfile::tempdir().unwrap();
    copy_tree(case, copy.path());
    let write = || run(copy.path(), rule, &["--write", "--unsafe"]);
    write();
    let once = std::fs::read(copy.path().join("Dockerfile")).unwrap();
    let second = write();
    assert!(
        second.contains("0 files rewritten"),
        "{}: {second}",
        case.display()
    );
    assert_eq!(std::fs::read(copy.path().join("Dockerfile")).unwrap(), once);
}

/// Copies a case; a `dot-git` directory becomes `.git`, which no
/// repository can hold.
fn copy_tree(from: &Path, to: &Path) {
    for entry in common::sorted_entries(from) {
        let name = entry.file_name().unwrap();
        let target = to.join(if name == "dot-git" {
            ".git".as_ref()
        } else {
            name
        });
        if entry.is_dir() {
            std::fs::create_dir(&target).unwrap();
            copy_tree(&entry, &target);
        } else {
            std::fs::copy(&entry, &target).unwrap();
        }
    }
}

#[test]
fn rule_fixtures() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/rules");
    let rules = common::sorted_entries(&root);
    let mut cases = 0;
    for rule_dir in rules {
        let rule = rule_dir.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            dockfix::rules::find(&rule).is_some(),
            "fixtures for unknown rule {rule}"
        );
        let dirs = common::sorted_entries(&rule_dir);
        for dir in dirs {
            let case = dir.file_name().unwrap().to_string_lossy().into_owned();
            // A case with a history runs on a copy that has one.
            let copy = tempfile::tempdir().unwrap();
            let dir = if dir.join("dot-git").is_dir() {
                copy_tree(&dir, copy.path());
                copy.path().to_path_buf()
            } else {
                dir
            };
            let snapshot = [
                run(&dir, &rule, &[]),
                run(&dir, &rule, &["--diff"]),
                run(&dir, &rule, &["--diff", "--unsafe"]),
            ]
            .join("\n");
            insta::assert_snapshot!(format!("{rule}-{case}"), snapshot);
            assert_idempotent(&dir, &rule);
            cases += 1;
        }
    }
    assert!(cases >= 9, "only {cases} fixture cases found");
}
