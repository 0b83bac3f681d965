//! The README's examples of dockfix's output, run. A block of output
//! follows a marker naming the directory and the command:
//!
//! ```text
//! <!-- example: examples/python-app$ dockfix Dockerfile -->
//! ```
//!
//! The block must be the command's standard output. With `(abridged)` at
//! the end, a JSON block holds some of the output (each object some of its
//! keys, each array its first elements), and any other block some of its
//! lines, in order.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const MARKER: &str = "<!-- example: ";

struct Example {
    /// 1-based line of the marker.
    line: usize,
    dir: String,
    args: Vec<String>,
    abridged: bool,
    /// The block's info string (`json`, or empty).
    kind: String,
    block: String,
}

fn examples(readme: &str) -> Vec<Example> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.trim().strip_prefix(MARKER) else {
            continue;
        };
        let command = rest
            .strip_suffix("-->")
            .expect("a marker on one line")
            .trim();
        let (command, abridged) = match command.strip_suffix("(abridged)") {
            Some(command) => (command.trim(), true),
            None => (command, false),
        };
        let (dir, args) = command
            .split_once("$ dockfix")
            .unwrap_or_else(|| panic!("README.md:{}: `DIR$ dockfix ARGS`", i + 1));
        let fence = lines.get(i + 1).map(|l| l.trim()).unwrap_or_default();
        let kind = fence
            .strip_prefix("```")
            .unwrap_or_else(|| panic!("README.md:{}: no block after the marker", i + 1));
        let block: Vec<&str> = lines[i + 2..]
            .iter()
            .take_while(|l| l.trim() != "```")
            .copied()
            .collect();
        found.push(Example {
            line: i + 1,
            dir: dir.trim().to_string(),
            args: args.split_whitespace().map(String::from).collect(),
            abridged,
            kind: kind.to_string(),
            block: block.join("\n") + "\n",
        });
    }
    found
}

/// Whether `part` is `whole` abridged: objects with some of the keys,
/// arrays with their first elements.
fn abridges(part: &Value, whole: &Value) -> bool {
    match (part, whole) {
        (Value::Object(part), Value::Object(whole)) => part
            .iter()
            .all(|(key, value)| whole.get(key).is_some_and(|w| abridges(value, w))),
        (Value::Array(part), Value::Array(whole)) => {
            part.len() <= whole.len() && part.iter().zip(whole).all(|(p, w)| abridges(p, w))
        }
        _ => part == whole,
    }
}

/// Whether `part`'s lines are among `whole`'s, in order.
fn among(part: &str, whole: &str) -> bool {
    let mut lines = whole.lines();
    part.lines().all(|p| lines.any(|w| w == p))
}

#[test]
fn readme_examples_are_what_dockfix_prints() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let examples = examples(&readme);
    assert!(
        examples.iter().any(|e| e.kind == "json") && examples.iter().any(|e| e.kind.is_empty()),
        "the README's JSON and text examples are marked"
    );
    for example in examples {
        let out = Command::new(env!("CARGO_BIN_EXE_dockfix"))
            .current_dir(root.join(&example.dir))
            .args(&example.args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let at = format!("README.md:{}", example.line);
        if example.kind == "json" {
            let block: Value = serde_json::from_str(&example.block)
                .unwrap_or_else(|e| panic!("{at}: the block is not JSON: {e}"));
            let printed: Value = serde_json::from_str(&stdout).unwrap();
            let matches = if example.abridged {
                abridges(&block, &printed)
            } else {
                block == printed
            };
            assert!(matches, "{at}: dockfix prints\n{stdout}");
        } else if example.abridged {
            assert!(
                among(&example.block, &stdout),
                "{at}: dockfix prints\n{stdout}"
            );
        } else {
            assert_eq!(example.block, stdout, "{at}");
        }
    }
}

#[test]
fn abridged_json_keeps_keys_and_first_elements() {
    let whole = serde_json::json!({ "a": [1, 2, { "b": 3, "c": 4 }], "d": null });
    for part in [
        serde_json::json!({}),
        serde_json::json!({ "a": [1] }),
        serde_json::json!({ "a": [1, 2, { "c": 4 }], "d": null }),
    ] {
        assert!(abridges(&part, &whole), "{part}");
    }
    for part in [
        serde_json::json!({ "a": [2] }),
        serde_json::json!({ "e": 1 }),
        serde_json::json!({ "a": [1, 2, { "c": 5 }] }),
        serde_json::json!({ "d": 0 }),
    ] {
        assert!(!abridges(&part, &whole), "{part}");
    }
    assert!(among("a\nc\n", "a\nb\nc\n"));
    assert!(!among("c\na\n", "a\nb\nc\n"));
}
