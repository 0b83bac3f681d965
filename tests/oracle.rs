//! `parse-dockerfile` (a BuildKit-modelled parser) as an oracle: on every
//! corpus file it accepts, dockfix reads the same instruction kinds, flags
//! and heredoc bodies.

mod common;

use dockfix::syntax::{parse, Command, Dockerfile};
use serde_json::Value;

/// Per instruction: its kind, its flags (name, value) and its heredoc bodies.
type View = Vec<(String, Vec<(String, Option<String>)>, Vec<String>)>;

/// What the oracle read.
fn oracle_view(text: &str) -> Option<View> {
    let file = parse_dockerfile::parse(text).ok()?;
    let mut view = Vec::new();
    for instruction in &file.instructions {
        let body = serde_json::to_value(instruction).unwrap();
        let kind = body["kind"].as_str().unwrap().to_lowercase();
        let (kind, body) = match body.get("instruction") {
            // ONBUILD: compare the nested instruction.
            Some(inner) if kind == "onbuild" => (
                format!("onbuild {}", inner["kind"].as_str().unwrap().to_lowercase()),
                inner.clone(),
            ),
            _ => (kind, body),
        };
        let flags = body
            .get("options")
            .and_then(Value::as_array)
            .map(|options| {
                options
                    .iter()
                    .map(|o| {
                        let name = o["name"]["value"].as_str().unwrap().to_string();
                        let value = o
                            .get("value")
                            .and_then(|v| v["value"].as_str())
                            .map(String::from);
                        (name, value)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut heredocs = Vec::new();
        for doc in body
            .get("here_docs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            heredocs.push(doc["value"].as_str().unwrap().to_string());
        }
        for source in body
            .get("src")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(doc) = source.get("here_doc") {
                heredocs.push(doc["value"].as_str().unwrap().to_string());
            }
        }
        view.push((kind, flags, heredocs));
    }
    Some(view)
}

fn our_view(file: &Dockerfile) -> View {
    let kind = |c: &Command| match &c.sub {
        Some(sub) => format!("onbuild {}", sub.name),
        None => c.name.to_string(),
    };
    file.instructions()
        .map(|i| {
            let command = i.command.sub.as_deref().unwrap_or(&i.command);
            let flags = command
                .flags
                .iter()
                .map(|f| (f.name().to_string(), f.value().map(String::from)))
                .collect();
            let heredocs = i
                .heredocs
                .iter()
                .map(|h| String::from_utf8_lossy(&file.source[h.body.clone()]).into_owned())
                .collect();
            (kind(&i.command), flags, heredocs)
        })
        .collect()
}

/// Files where the oracle, not BuildKit, is wrong; each is checked against
/// BuildKit's own test results or parser rules. Any other disagreement fails.
const ORACLE_DEVIATIONS: &[(&str, &str)] = &[
    (
        "testfiles/flags/Dockerfile",
        "`--` ends the flags; it is not a flag (BuildKit's result)",
    ),
    (
        "testfiles/trailing-backslash/Dockerfile",
        "an escaped escape at line end does not continue",
    ),
    (
        "testfiles-negative/env_no_value/Dockerfile",
        "BuildKit rejects `ENV PATH`",
    ),
    (
        "mongo__8.0__windows__nanoserver-ltsc2022__Dockerfile",
        "a line ending in an escaped backslash does not continue (see trailing-backslash)",
    ),
    (
        "jupyter__docker-stacks__images__docker-stacks-foundation__Dockerfile",
        "BuildKit removes the quotes of a flag value",
    ),
];

#[test]
fn agrees_with_parse_dockerfile_on_the_corpus() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let (mut compared, mut disagreements) = (0, Vec::new());
    for path in common::dockerfiles(&corpus) {
        let bytes = std::fs::read(&path).unwrap();
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        let Some(theirs) = oracle_view(text) else {
            continue;
        };
        let ours = parse(&bytes).map(|f| our_view(&f));
        compared += 1;
        match ours {
            Ok(ours) if ours == theirs => {}
            Ok(ours) => {
                let first = ours.iter().zip(&theirs).position(|(a, b)| a != b);
                let at = first.unwrap_or(ours.len().min(theirs.len()));
                disagreements.push(format!(
                    "{}: instruction {at}: ours {:?} theirs {:?}",
                    path.display(),
                    ours.get(at),
                    theirs.get(at)
                ));
            }
            Err(e) => disagreements.push(format!("{}: we reject it: {e}", path.display())),
        }
    }
    assert!(compared > 200, "the oracle accepted only {compared} files");
    eprintln!("compared {compared} files with the oracle");
    let unexpected: Vec<_> = disagreements
        .iter()
        .filter(|d| !ORACLE_DEVIATIONS.iter().any(|(file, _)| d.contains(file)))
        .collect();
    assert!(
        unexpected.is_empty(),
        "{} disagreements:\n{unexpected:#?}",
        unexpected.len()
    );
    for (file, why) in ORACLE_DEVIATIONS {
        assert!(
            disagreements.iter().any(|d| d.contains(file)),
            "the oracle now agrees on {file} ({why}): remove the exception"
        );
    }
}
