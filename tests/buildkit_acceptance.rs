//! Every rewrite dockfix makes on the corpus is accepted by current
//! BuildKit. tally embeds BuildKit's Dockerfile parser and exits 2 on a file
//! BuildKit rejects. Needs `DOCKFIX_TALLY` (the path to tally; `.ci/run`
//! installs it with `bench/peers.sh`); skipped without it.

mod common;

use std::path::PathBuf;
use std::process::Command;

use dockfix::engine::fix;

fn tally() -> Option<PathBuf> {
    let Some(path) = std::env::var_os("DOCKFIX_TALLY") else {
        eprintln!("DOCKFIX_TALLY is not set: skipping the BuildKit acceptance check");
        return None;
    };
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "DOCKFIX_TALLY={} does not exist",
        path.display()
    );
    Some(path)
}

/// None when BuildKit accepts the file, else tally's error.
fn buildkit_rejects(tally: &PathBuf, contents: &[u8]) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("Dockerfile");
    std::fs::write(&file, contents).unwrap();
    let output = Command::new(tally)
        .args(["lint", "--slow-checks", "off"])
        .arg(&file)
        .output()
        .unwrap();
    match output.status.code() {
        Some(0 | 1) => None,
        _ => Some(String::from_utf8_lossy(&output.stderr).into_owned()),
    }
}

#[test]
fn corpus_rewrites_are_accepted_by_buildkit() {
    let (Some(corpus), Some(tally)) = (common::corpus(), tally()) else {
        return;
    };
    let (mut checked, mut skipped) = (0, 0);
    let mut rejected = Vec::new();
    for unsafe_fixes in [false, true] {
        let settings = common::all_rules(unsafe_fixes);
        for path in common::dockerfiles(&corpus) {
            let bytes = std::fs::read(&path).unwrap();
            let Ok(fixed) = fix(&bytes, &settings) else {
                continue;
            };
            if fixed.file.source == bytes {
                continue;
            }
            // Only a file BuildKit accepted before can show a rewrite broke it
            // (some of BuildKit's parser test files fail its later checks).
            if buildkit_rejects(&tally, &bytes).is_some() {
                skipped += 1;
                continue;
            }
            if let Some(error) = buildkit_rejects(&tally, &fixed.file.source) {
                rejected.push(format!(
                    "{} (unsafe: {unsafe_fixes}): {error}",
                    path.display()
                ));
            }
            checked += 1;
        }
    }
    assert!(
        rejected.is_empty(),
        "BuildKit rejects rewrites:\n{}",
        rejected.join("\n")
    );
    assert!(checked >= 20, "only {checked} rewrites checked");
    eprintln!("{checked} rewrites accepted by BuildKit ({skipped} originals it rejects skipped)");
}
