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
    let files = common::dockerfiles(&corpus);
    // tally takes about a second a file: the two cores share the files, and
    // each original and each distinct rewrite is checked once.
    let halves: Vec<Verdicts> = std::thread::scope(|scope| {
        let workers: Vec<_> = files
            .chunks(files.len().div_ceil(2))
            .map(|chunk| scope.spawn(|| check(&tally, chunk)))
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let checked: usize = halves.iter().map(|h| h.checked).sum();
    let skipped: usize = halves.iter().map(|h| h.skipped).sum();
    let rejected: Vec<String> = halves.into_iter().flat_map(|h| h.rejected).collect();
    assert!(
        rejected.is_empty(),
        "BuildKit rejects rewrites:\n{}",
        rejected.join("\n")
    );
    assert!(checked >= 20, "only {checked} rewrites checked");
    eprintln!("{checked} rewrites accepted by BuildKit ({skipped} originals it rejects skipped)");
}

#[derive(Default)]
struct Verdicts {
    checked: usize,
    skipped: usize,
    rejected: Vec<String>,
}

/// The rewrites of `files`, safe fixes and then with unsafe ones too.
fn check(tally: &PathBuf, files: &[PathBuf]) -> Verdicts {
    let mut verdicts = Verdicts::default();
    for path in files {
        let bytes = std::fs::read(path).unwrap();
        let mut rewrites: Vec<(String, Vec<u8>)> = Vec::new();
        for settings in common::every_setting() {
            let Ok(fixed) = fix(&bytes, &settings) else {
                continue;
            };
            let out = fixed.file.source;
            if out != bytes && rewrites.iter().all(|(_, r)| *r != out) {
                let ids: Vec<&str> = settings.rules.iter().map(|r| r.id).collect();
                let style = if ids.contains(&"DF301") {
                    "mounts"
                } else {
                    "cleanup"
                };
                rewrites.push((format!("{style}, unsafe: {}", settings.unsafe_fixes), out));
            }
        }
        if rewrites.is_empty() {
            continue;
        }
        // Only a file BuildKit accepted before can show a rewrite broke it
        // (some of BuildKit's parser test files fail its later checks).
        if buildkit_rejects(tally, &bytes).is_some() {
            verdicts.skipped += 1;
            continue;
        }
        for (setting, rewrite) in rewrites {
            if let Some(error) = buildkit_rejects(tally, &rewrite) {
                verdicts
                    .rejected
                    .push(format!("{} ({setting}): {error}", path.display()));
            }
            verdicts.checked += 1;
        }
    }
    verdicts
}

/// A RUN on a last line without a line ending, moved above `COPY . .` and
/// given a cleanup in the same round: `--write` leaves one RUN with the
/// cleanup, the file still without a final line ending, and BuildKit takes
/// it.
#[test]
fn a_move_and_an_append_on_an_unended_last_line_compose() {
    let shapes: [(&str, &[&str], &str); 2] = [
        (
            "FROM debian:12\nWORKDIR /app\nCOPY . .\nRUN apt-get update && apt-get install -y curl",
            &[],
            "FROM debian:12\nWORKDIR /app\nRUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\nCOPY . .",
        ),
        (
            "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci",
            &["package.json", "package-lock.json"],
            "FROM node:20\nWORKDIR /app\nCOPY package.json package-lock.json ./\nRUN npm ci && npm cache clean --force\nCOPY . .",
        ),
    ];
    let tally = tally();
    for (before, context, after) in shapes {
        let dir = tempfile::tempdir().unwrap();
        for name in context {
            std::fs::write(dir.path().join(name), "{}\n").unwrap();
        }
        std::fs::write(dir.path().join("Dockerfile"), before).unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_dockfix"))
            .current_dir(dir.path())
            .args(["--write", "Dockerfile"])
            .output()
            .unwrap();
        // Exit 1: findings without a safe fix remain.
        assert!(matches!(output.status.code(), Some(0 | 1)), "{output:?}");
        let written = std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
        assert_eq!(written, after);
        if let Some(tally) = &tally {
            assert_eq!(buildkit_rejects(tally, written.as_bytes()), None);
        }
    }
}
