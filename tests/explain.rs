//! Every rule's `dockfix explain` example, run: the block after "becomes"
//! is what `dockfix --write --unsafe --select RULE` makes of the one
//! before it, so the documentation cannot drift from what the rule does.

use std::path::Path;
use std::process::Command;

use dockfix::rules::{CacheStyle, FixSafety, ALL};

/// Rules whose example needs a registry's answer: the text around the
/// example says what the registry reported, which no test can reproduce.
const ASKS_A_REGISTRY: [&str; 2] = ["DF401", "DF402"];

/// The fenced blocks of the doc's `## Example` section.
fn example_blocks(doc: &str) -> Vec<&str> {
    let section = doc
        .split_once("\n## Example\n")
        .map_or("", |(_, rest)| rest);
    let section = section.split("\n## ").next().unwrap_or_default();
    section
        .split("```")
        .skip(1)
        .step_by(2)
        .map(|block| block.split_once('\n').map_or("", |(_, body)| body))
        .collect()
}

/// Rules whose fix writes `.dockerignore`, with the build context their
/// example describes in words; the result block is that file.
const CONTEXT_EXAMPLES: [(&str, &[(&str, &str)]); 2] = [
    (
        "DF601",
        &[
            (".git/HEAD", "ref: refs/heads/main\n"),
            ("node_modules/left-pad/index.js", "module.exports = 1;\n"),
            (
                "package.json",
                "{ \"name\": \"app\", \"version\": \"1.0.0\" }\n",
            ),
        ],
    ),
    ("DF602", &[(".env", "DATABASE_PASSWORD=not-a-real-one\n")]),
];

/// A stage for examples that show a fragment: the rules reason about stages.
const STAGE: &str = "FROM debian:12\n";

/// `dockfix` run in `dir` on its Dockerfile.
fn dockfix(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dockfix"))
        .current_dir(dir)
        .args(["--isolated"])
        .args(args)
        .arg("Dockerfile")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A build context holding the example and the files its result copies
/// (`COPY package.json package-lock.json ./`): the example's premise.
fn context(dockerfile: &str, result: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    for line in result.lines() {
        let Some(rest) = line.strip_prefix("COPY ") else {
            continue;
        };
        // What a COPY takes from another stage or image is not the
        // context's.
        if rest.split_whitespace().any(|w| w.starts_with("--from")) {
            continue;
        }
        let words: Vec<&str> = rest.split_whitespace().collect();
        let sources = &words[..words.len().saturating_sub(1)];
        for source in sources
            .iter()
            .filter(|s| !s.starts_with("--") && **s != ".")
        {
            let content = if source.ends_with(".json") {
                "{}\n"
            } else {
                ""
            };
            // A source is relative to the context, `/` or not: joined as
            // written, an absolute one would write outside the temporary
            // directory.
            let path = dir.path().join(source.trim_start_matches('/'));
            assert!(path.starts_with(dir.path()), "{source} leaves the context");
            std::fs::write(path, content).unwrap();
        }
    }
    dir
}

/// A report-only rule's example: one block, which the rule reports at the
/// line its doc names ("DF501 reports line 7") and leaves as it is: `--write`
/// exits 1, for a finding remains.
fn reported_as_documented(rule: &dockfix::rules::Rule) -> Option<String> {
    let [example] = example_blocks(rule.doc)[..] else {
        return Some(format!("{}: a report-only Example has one block", rule.id));
    };
    let said = format!("{} reports line ", rule.id);
    let Some(line) = rule.doc.split_once(&said).and_then(|(_, rest)| {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<usize>().ok()
    }) else {
        return Some(format!("{}: the doc does not say `{said}N`", rule.id));
    };
    let dir = context(example, "");
    let (code, stdout, stderr) = dockfix(dir.path(), &["--select", rule.id, "--unsafe", "--write"]);
    let written = std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
    // `--write` lists what it left on standard error.
    let printed = format!("{stdout}{stderr}");
    let at = format!("Dockerfile:{line}:1: {} ", rule.id);
    (code != 1
        || written != example
        || printed.lines().filter(|l| l.contains(rule.id)).count() != 1
        || !printed.contains(&at))
    .then(|| {
        format!(
            "{}: the example is not reported at line {line} alone, unchanged (exit {code}):\n{printed}",
            rule.id
        )
    })
}

#[test]
fn every_rule_s_example_is_what_the_rule_does() {
    let mut wrong = Vec::new();
    for rule in ALL {
        let blocks = example_blocks(rule.doc);
        if rule.fix_safety == FixSafety::ReportOnly {
            if let Some(why) = reported_as_documented(rule) {
                wrong.push(why);
            }
            continue;
        }
        let [before, after] = blocks[..] else {
            wrong.push(format!(
                "{}: the Example has {} blocks, not an input and what it becomes",
                rule.id,
                blocks.len()
            ));
            continue;
        };
        let stage = if before.lines().any(|l| l.starts_with("FROM ")) {
            ""
        } else {
            STAGE
        };
        let dir = context(&format!("{stage}{before}"), after);
        let mut args = vec!["--select", rule.id, "--unsafe"];
        if rule.cache_style == Some(CacheStyle::Mounts) {
            args.extend(["--cache-style", "mounts", "--syntax-directive"]);
        }
        if ASKS_A_REGISTRY.contains(&rule.id) {
            // Without --pin the registry is not asked: the example is
            // reported, at its FROM, and left as it is.
            let (code, stdout, _) = dockfix(dir.path(), &args);
            if code != 1 || !stdout.contains(&format!("Dockerfile:1:6: {}", rule.id)) {
                wrong.push(format!(
                    "{}: the example is not reported:\n{stdout}",
                    rule.id
                ));
            }
            continue;
        }
        args.push("--write");
        let context_files = CONTEXT_EXAMPLES.iter().find(|(id, _)| *id == rule.id);
        for (path, text) in context_files.map_or(&[][..], |(_, files)| files) {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let (code, _, stderr) = dockfix(dir.path(), &args);
        let written = if context_files.is_some() {
            std::fs::read_to_string(dir.path().join(".dockerignore")).unwrap_or_default()
        } else {
            std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap()
        };
        let written = written.strip_prefix(stage).unwrap_or(&written);
        if code != 0 || written != after {
            wrong.push(format!(
                "{}: the example becomes\n{written}(exit {code}: {stderr}), the doc says\n{after}",
                rule.id
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

#[test]
fn summaries_read_alike() {
    // Lower case, as a clause; a first word in capitals is a keyword (ADD, RUN).
    for rule in ALL {
        let first = rule.summary.split_whitespace().next().unwrap();
        assert!(
            !first.starts_with(char::is_uppercase) || !first.contains(char::is_lowercase),
            "{}: `{}` starts with a capital, unlike the other summaries",
            rule.id,
            rule.summary
        );
    }
}
