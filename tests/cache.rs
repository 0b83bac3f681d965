//! `dockfix cache`: its three formats on a real build context, its JSON
//! against the published schema, and its errors.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

const DOCKERFILE: &str = "\
FROM node:20 AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
FROM deps
COPY . .
RUN npm run build
FROM node:20-slim
COPY --from=1 /app/dist /app
CMD [\"node\", \"/app/main.js\"]
";

fn context() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in [
        ("Dockerfile", DOCKERFILE),
        ("package.json", "{\"name\": \"a\"}\n"),
        ("package-lock.json", "{}\n"),
        ("src/main.ts", "console.log(1)\n"),
        (".dockerignore", "node_modules\nnotes.md\n"),
        ("notes.md", "todo\n"),
        ("node_modules/x/index.js", "x\n"),
    ] {
        let path = dir.path().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    dir
}

fn cache(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dockfix"))
        .arg("cache")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn text_names_each_step_its_inputs_and_what_a_change_reruns() {
    let dir = context();
    let text = stdout(&cache(
        dir.path(),
        &["Dockerfile", "--changed", "src/main.ts"],
    ));
    assert_eq!(
        text,
        "\
Dockerfile: 8 steps in 3 stages
[deps 1/4] FROM node:20 AS deps  (line 1)
    image node:20
[deps 2/4] WORKDIR /app  (line 2)
    directory /app
[deps 3/4] COPY package.json package-lock.json ./  (line 3)
    context package.json package-lock.json (2 files, 17 bytes)
[deps 4/4] RUN npm ci  (line 4, dependency install)
    command `npm ci`
[stage-1 1/2] COPY . .  (line 6)
    context . (5 files, 251 bytes)
    RERUNS: reads src/main.ts
[stage-1 2/2] RUN npm run build  (line 7)
    command `npm run build`
    RERUNS: after [stage-1 1/2]
[stage-2 1/2] FROM node:20-slim  (line 8)
    image node:20-slim
[stage-2 2/2] COPY --from=1 /app/dist /app  (line 9)
    files of stage stage-1: app/dist
    MAY RERUN: takes files from stage stage-1, which changed (if the files taken came out different)
An edit of any file the context sends reruns [stage-1 1/2] (line 6) and the steps that follow from it.
Changing src/main.ts reruns 2 of 8 steps; 1 more rerun only if the files they take from a stage that reran came out different.
"
    );
    // The manifest reruns the install, and the stage built on it.
    let text = stdout(&cache(
        dir.path(),
        &["Dockerfile", "--changed", "package.json"],
    ));
    assert!(text.ends_with("Changing package.json reruns 4 of 8 steps, among them [deps 4/4] (dependency install); 1 more rerun only if the files they take from a stage that reran came out different.\n"), "{text}");
    // A file .dockerignore leaves out reruns nothing.
    let text = stdout(&cache(dir.path(), &["Dockerfile", "--changed", "notes.md"]));
    assert!(
        text.ends_with("Changing notes.md reruns 0 of 8 steps.\n"),
        "{text}"
    );
}

#[test]
fn json_follows_its_schema_and_lists_checksums() {
    let validator = common::schema::Validator::new("schemas/cache-v1.schema.json");
    let dir = context();
    for args in [
        &["Dockerfile", "--format", "json"][..],
        &[
            "Dockerfile",
            "--format",
            "json",
            "--changed",
            "src/main.ts",
            "--changed",
            "package.json",
        ],
    ] {
        let document: serde_json::Value =
            serde_json::from_str(&stdout(&cache(dir.path(), args))).unwrap();
        validator
            .check(&document)
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    }
    let document: serde_json::Value = serde_json::from_str(&stdout(&cache(
        dir.path(),
        &["Dockerfile", "--format", "json", "--changed", "src/main.ts"],
    )))
    .unwrap();
    assert_eq!(
        document["reruns"],
        serde_json::json!(["[stage-1 1/2]", "[stage-1 2/2]", "[stage-2 2/2]"])
    );
    assert_eq!(document["may_rerun"], serde_json::json!(["[stage-2 2/2]"]));
    assert_eq!(
        document["steps"][7]["rerun"],
        serde_json::json!({"reason": "takes-from", "stage": 1, "certain": false})
    );
    assert_eq!(document["steps"][5]["rerun"]["certain"], true);
    let copy = &document["steps"][2]["inputs"][0];
    assert_eq!(
        copy["sources"],
        serde_json::json!(["package.json", "package-lock.json"])
    );
    // sha256 of `{}\n`
    assert_eq!(
        copy["files"][0],
        serde_json::json!({"path": "package-lock.json", "size": 3, "sha256": "ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356"})
    );
    // node_modules and notes.md are not sent.
    let all = &document["steps"][4]["inputs"][0]["files"];
    let paths: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            ".dockerignore",
            "Dockerfile",
            "package-lock.json",
            "package.json",
            "src/main.ts"
        ]
    );
    // Every kind of input and reason follows it too.
    let every = "FROM golang:1.22 AS build\nARG V\nENV E=x\nWORKDIR /src\nRUN --mount=type=bind,source=go.sum,target=go.sum go mod download\nCOPY --exclude=*.md . .\nCOPY $V/ /v/\nRUN <<EOF\ngo build\nEOF\nFROM scratch\nCOPY --from=build /out /out\nCOPY --from=busybox:1 /bin/sh /sh\nADD https://example.invalid/a /a\nCOPY <<EOF /b\nb\nEOF\n";
    fs::write(dir.path().join("every.Dockerfile"), every).unwrap();
    let document: serde_json::Value = serde_json::from_str(&stdout(&cache(
        dir.path(),
        &[
            "every.Dockerfile",
            "--format",
            "json",
            "--changed",
            "go.sum",
        ],
    )))
    .unwrap();
    validator.check(&document).unwrap();
    let kinds: std::collections::BTreeSet<&str> = document["steps"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["inputs"].as_array().unwrap())
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 10, "{kinds:?}");
    // And the schema is strict: a field it does not name is an error.
    let mut extra = document.clone();
    extra["steps"][0]["extra"] = serde_json::json!(1);
    assert!(validator.check(&extra).is_err());
}

#[test]
fn markdown_is_a_table_of_steps() {
    let dir = context();
    let text = stdout(&cache(
        dir.path(),
        &[
            "Dockerfile",
            "--format",
            "markdown",
            "--changed",
            "package.json",
        ],
    ));
    assert!(text.starts_with("#### Build steps of `Dockerfile`\n\n| Step | Instruction | Depends on | Reruns |\n|---|---|---|---|\n"), "{text}");
    assert!(text.contains("| `[deps 4/4]` | `RUN npm ci` (dependency install) | command `npm ci` | **yes**: after [deps 3/4] |\n"), "{text}");
    assert!(
        text.contains("| `[deps 2/4]` | `WORKDIR /app` | directory /app | cached |\n"),
        "{text}"
    );
    assert!(text.contains("| `[stage-2 2/2]` | `COPY --from=1 /app/dist /app` | files of stage stage-1: app/dist | **maybe**: takes files from stage stage-1, which changed, if the files taken came out different |\n"), "{text}");
}

#[test]
fn bad_input_is_an_error_with_its_position() {
    let dir = context();
    fs::write(
        dir.path().join("bad.Dockerfile"),
        "FROM a\nRUN <<EOF\necho\n",
    )
    .unwrap();
    let output = cache(dir.path(), &["bad.Dockerfile"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "bad.Dockerfile:2:1: unterminated heredoc EOF\n"
    );
    assert!(output.stdout.is_empty());
    let output = cache(dir.path(), &["Dockerfile", "--changed", "../elsewhere.txt"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "dockfix cache: --changed ../elsewhere.txt: not in the build context\n"
    );
    let output = cache(dir.path(), &["missing.Dockerfile"]);
    assert_eq!(output.status.code(), Some(2));
}

/// On every Dockerfile of the corpus the model holds BuildKit's shape:
/// steps numbered from 1 within a stage up to its total, and once a step
/// reruns, every later step of its stage reruns.
#[test]
fn the_model_holds_on_the_corpus() {
    use dockfix::cache::Model;
    use dockfix::dockerignore::DockerIgnore;
    let Some(corpus) = common::inputs::corpus() else {
        return;
    };
    let label = regex::Regex::new(r"^\[([^ \]]+ +)? *([0-9]+)/([0-9]+)\]$").unwrap();
    let (mut files, mut steps) = (0, 0);
    for path in common::inputs::dockerfiles(&corpus) {
        let Ok(file) = dockfix::syntax::parse(&fs::read(&path).unwrap()) else {
            continue;
        };
        let model = Model::of(&file);
        files += 1;
        steps += model.steps.len();
        for (i, step) in model.steps.iter().enumerate() {
            let text = model.label(step);
            let caps = label
                .captures(&text)
                .unwrap_or_else(|| panic!("{}: {text}", path.display()));
            let (k, n): (usize, usize) = (caps[2].parse().unwrap(), caps[3].parse().unwrap());
            assert!(k == step.number && k <= n, "{}: {text}", path.display());
            let first = i == 0 || model.steps[i - 1].stage != step.stage;
            assert!(
                first || model.steps[i - 1].number < k,
                "{}: {text}",
                path.display()
            );
        }
        for changed in [
            &["app.py"][..],
            &["package.json", "go.mod"],
            &["src/main.c"],
        ] {
            let changed: Vec<String> = changed.iter().map(|c| c.to_string()).collect();
            let reruns = model.reruns(&changed, &DockerIgnore::default());
            // 0: cached, 1: may rerun, 2: reruns.
            let level = |i: usize| reruns[i].as_ref().map_or(0, |r| 1 + usize::from(r.certain));
            for i in 1..reruns.len() {
                let same_stage = model.steps[i - 1].stage == model.steps[i].stage;
                assert!(
                    !(same_stage && level(i - 1) > level(i)),
                    "{}: {} reruns ({}) more surely than {} ({})",
                    path.display(),
                    model.label(&model.steps[i - 1]),
                    level(i - 1),
                    model.label(&model.steps[i]),
                    level(i)
                );
            }
        }
    }
    assert!(files > 200 && steps > 1000, "{files} files, {steps} steps");
}

/// The pull-request body of the e2e fixtures says what a source edit
/// reruns before and after the rewrite.
#[test]
fn pull_request_bodies_of_the_e2e_fixtures_tell_what_a_source_edit_reruns() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/e2e");
    for (fixture, before) in [
        ("node-npm", "`RUN npm install`"),
        ("python-pip", "`RUN pip install -r requirements.txt`"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        for entry in fs::read_dir(root.join(fixture)).unwrap() {
            let entry = entry.unwrap();
            fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
        }
        let output = Command::new(env!("CARGO_BIN_EXE_dockfix"))
            .args(["--diff", "--format", "markdown", "Dockerfile"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let body = String::from_utf8(output.stdout).unwrap();
        let expected = format!(
            "An edit of a source file (one no manifest COPY names) reruns 2 of 4 steps, among them {before} (dependency install) before the rewrite; after it, 1 of 5 steps. Predicted from BuildKit's cache rules (`dockfix cache`), not measured.\n"
        );
        assert!(body.contains(&expected), "{fixture}: {body}");
    }
}

/// After a split into stages, the copies from the builder rerun only if
/// what they take changed, and the body says so.
#[test]
fn a_pull_request_body_counts_the_copies_from_a_rebuilt_stage_apart() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/e2e/go-static");
    let dir = tempfile::tempdir().unwrap();
    for name in ["Dockerfile", "go.mod", "main.go"] {
        fs::copy(root.join(name), dir.path().join(name)).unwrap();
    }
    let output = Command::new(env!("CARGO_BIN_EXE_dockfix"))
        .args(["--diff", "--unsafe", "--format", "markdown", "Dockerfile"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let body = String::from_utf8(output.stdout).unwrap();
    let build = "`RUN go build -o /usr/local/bin/hello .` (compile)";
    let expected = format!(
        "reruns 2 of 5 steps, among them {build} before the rewrite; after it, 3 of 11 steps, among them {build}, and up to 4 more if what they copy from a rebuilt stage changes. Predicted"
    );
    assert!(body.contains(&expected), "{body}");
}
