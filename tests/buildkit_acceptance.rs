//! Every rewrite dockfix makes on the corpus is accepted by current
//! BuildKit. tally embeds BuildKit's Dockerfile parser and rejects a file
//! BuildKit rejects; `common::tally` asks it about all the files in a few
//! processes. Needs `DOCKFIX_TALLY` (the path to tally; `.ci/run` installs it
//! with `bench/peers.sh`); skipped without it.

mod common;

use dockfix::engine::fix;

/// A file's distinct rewrites, each with the settings that made it.
type Rewrites = Vec<(String, Vec<u8>)>;

#[test]
fn corpus_rewrites_are_accepted_by_buildkit() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let Some(tally) = common::tally::Tally::from_env() else {
        eprintln!("DOCKFIX_TALLY is not set: skipping the BuildKit acceptance check");
        return;
    };
    // Each file and its distinct rewrites, safe fixes and then with unsafe
    // ones too, in both cache styles.
    let mut changed: Vec<(String, Vec<u8>, Rewrites)> = Vec::new();
    for path in common::dockerfiles(&corpus) {
        let bytes = std::fs::read(&path).unwrap();
        let mut rewrites: Rewrites = Vec::new();
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
        if !rewrites.is_empty() {
            changed.push((path.display().to_string(), bytes, rewrites));
        }
    }
    // Only a file BuildKit accepted before can show a rewrite broke it
    // (some of BuildKit's parser test files fail its later checks).
    let originals: Vec<&[u8]> = changed.iter().map(|(_, b, _)| b.as_slice()).collect();
    let verdicts = tally.verdicts(&originals);
    let skipped = verdicts.iter().filter(|v| v.is_some()).count();
    let accepted: Vec<_> = changed
        .iter()
        .zip(&verdicts)
        .filter(|(_, verdict)| verdict.is_none())
        .flat_map(|((path, _, rewrites), _)| rewrites.iter().map(move |r| (path, r)))
        .collect();
    let contents: Vec<&[u8]> = accepted.iter().map(|(_, (_, r))| r.as_slice()).collect();
    let rejected: Vec<String> = accepted
        .iter()
        .zip(tally.verdicts(&contents))
        .filter_map(|((path, (setting, _)), verdict)| {
            verdict.map(|error| format!("{path} ({setting}): {error}"))
        })
        .collect();
    assert!(
        rejected.is_empty(),
        "BuildKit rejects rewrites:\n{}",
        rejected.join("\n")
    );
    let checked = contents.len();
    assert!(checked >= 20, "only {checked} rewrites checked");
    eprintln!(
        "{checked} rewrites accepted by BuildKit ({skipped} originals it rejects skipped; {} tally processes)",
        tally.processes.get()
    );
}

/// A batch with files BuildKit rejects among many it accepts: each file
/// gets its own verdict, whichever tally names first and whatever the
/// order.
#[test]
fn tally_batches_tell_each_rejected_file() {
    let Some(tally) = common::tally::Tally::from_env() else {
        return;
    };
    let good: &[u8] = b"FROM alpine\nRUN echo hi\n";
    let mut files: Vec<&[u8]> = vec![good; 40];
    // A parse error, a file with no stage (a later check), an unterminated
    // heredoc and an empty file.
    let bad: [(usize, &[u8]); 4] = [
        (3, b"FROM alpine\nFOO bar\n"),
        (17, b"RUN echo no stage\n"),
        (18, b"FROM alpine\nRUN <<EOF\necho\n"),
        (39, b""),
    ];
    for (at, contents) in bad {
        files[at] = contents;
    }
    let verdicts = tally.verdicts(&files);
    let rejected: Vec<usize> = (0..files.len())
        .filter(|&i| verdicts[i].is_some())
        .collect();
    assert_eq!(rejected, [3, 17, 18, 39], "{verdicts:?}");
    assert!(
        verdicts[3]
            .as_ref()
            .unwrap()
            .contains("unknown instruction"),
        "{:?}",
        verdicts[3]
    );
    assert!(
        tally.processes.get() < 20,
        "{} processes for 40 files",
        tally.processes.get()
    );
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
    let tally = common::tally::Tally::from_env();
    for (before, context, after) in shapes {
        let dir = tempfile::tempdir().unwrap();
        for name in context {
            std::fs::write(dir.path().join(name), "{}\n").unwrap();
        }
        std::fs::write(dir.path().join("Dockerfile"), before).unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_dockfix"))
            .current_dir(dir.path())
            .args(["--write", "Dockerfile"])
            .output()
            .unwrap();
        // Exit 1: findings without a safe fix remain.
        assert!(matches!(output.status.code(), Some(0 | 1)), "{output:?}");
        let written = std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
        assert_eq!(written, after);
        if let Some(tally) = &tally {
            assert_eq!(tally.verdicts(&[written.as_bytes()]), [None]);
        }
    }
}
