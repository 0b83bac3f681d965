//! `.pre-commit-hooks.yaml`: the hooks' file patterns pick exactly the names
//! dockfix's directory walk reads, and their commands do what they say when
//! run as pre-commit runs them (entry, args, then the file names).

use std::fs;
use std::path::Path;
use std::process::Command;

use regex::Regex;
use serde_json::Value;
use tempfile::TempDir;
use yaml_rust2::{Yaml, YamlLoader};

const FIXABLE: &str = "FROM scratch\nADD app.txt /app/\nCMD [\"prog\"]\n";
const FIXED: &str = "FROM scratch\nCOPY app.txt /app/\nCMD [\"prog\"]\n";

fn hooks() -> Vec<Yaml> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml");
    let text = fs::read_to_string(path).expect(".pre-commit-hooks.yaml is read");
    let doc = YamlLoader::load_from_str(&text)
        .expect("the hooks are YAML")
        .remove(0);
    doc.into_vec().expect("a list of hooks")
}

fn hook(id: &str) -> Yaml {
    hooks()
        .into_iter()
        .find(|h| h["id"].as_str() == Some(id))
        .unwrap_or_else(|| panic!("no hook {id}"))
}

fn field<'a>(hook: &'a Yaml, name: &str) -> &'a str {
    hook[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} of {:?}", hook["id"]))
}

/// Names to sort, with the cases that tell the rules apart: case, the empty
/// stem, ignore-file endings, `-` and `_` after the stem, Containerfile
/// variants.
const NAMES: &[&str] = &[
    "Dockerfile",
    "Containerfile",
    "dockerfile",
    "DOCKERFILE",
    "containerfile",
    "Containerfile.dev",
    "api.Dockerfile",
    "api.dockerfile",
    "api.DOCKERFILE",
    ".Dockerfile",
    ".dockerfile",
    "Dockerfile.dev",
    "Dockerfile.",
    "Dockerfile.dockerignore",
    "Dockerfile.dev.dockerignore",
    "Dockerfile..dockerignore",
    "Dockerfile.dockerignore.bak",
    "Dockerfile.dockerignore.Dockerfile",
    "api.Dockerfile.dockerignore",
    "Dockerfile-dev",
    "Dockerfile_dev",
    "Dockerfile-dev.dockerignore",
    "Dockerfiles",
    "MyDockerfile",
    "owner__repo__Dockerfile",
    "api.Containerfile",
    "api.containerfile",
    "Containerfile-dev",
    "Containerfile.containerignore",
    "containerfile-lint",
    "api.Dockerfile.bak",
    ".dockerignore",
    "README.md",
];

/// The names dockfix reads when it walks a directory holding all of them.
fn walked() -> Vec<String> {
    let dir = TempDir::new().expect("temp dir");
    let nested = dir.path().join("svc/api");
    fs::create_dir_all(&nested).expect("dirs created");
    for name in NAMES {
        fs::write(nested.join(name), "FROM scratch\n").expect("file written");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_dockfix"))
        .args(["--format", "json", "."])
        .current_dir(dir.path())
        .output()
        .expect("dockfix runs");
    let report: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    let mut names: Vec<String> = report["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            let path = f["path"].as_str().expect("a path");
            let name = path.strip_prefix("svc/api/").expect("under svc/api");
            name.to_string()
        })
        .collect();
    names.sort();
    names
}

/// Each name at the top of the repository and nested, as pre-commit gives
/// paths.
fn paths() -> Vec<String> {
    NAMES
        .iter()
        .flat_map(|name| [name.to_string(), format!("svc/api/{name}")])
        .collect()
}

/// The names whose paths a hook is run on, from whether each of `paths()`
/// passes `files` and then `exclude`.
fn selected(passes: Vec<bool>) -> Vec<String> {
    let mut names: Vec<String> = NAMES
        .iter()
        .zip(passes.chunks(2))
        .filter(|(name, passes)| {
            // The rule is the file name's, wherever the file is.
            assert_eq!(
                passes[0], passes[1],
                "{name}: its directory changes the answer"
            );
            passes[0]
        })
        .map(|(name, _)| name.to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn files_pick_the_names_the_walk_reads() {
    let walked = walked();
    assert!(walked.len() > 5 && walked.len() < NAMES.len(), "{walked:?}");
    for hook in hooks() {
        let files = Regex::new(field(&hook, "files")).expect("a regex");
        let exclude = Regex::new(field(&hook, "exclude")).expect("a regex");
        let passes = paths()
            .iter()
            .map(|path| files.is_match(path) && !exclude.is_match(path))
            .collect();
        assert_eq!(selected(passes), walked, "{:?}", hook["id"]);
    }
}

/// The patterns in Python's `re.search`, as pre-commit applies them: they
/// keep to syntax Python and the regex crate read alike, and this checks it.
#[test]
fn python_reads_the_patterns_as_the_regex_crate_does() {
    let walked = walked();
    for hook in hooks() {
        let question = serde_json::json!([field(&hook, "files"), field(&hook, "exclude"), paths()]);
        let out = Command::new("python3")
            .args([
                "-c",
                "import json, re, sys\n\
                 files, exclude, paths = json.loads(sys.argv[1])\n\
                 print(json.dumps([bool(re.search(files, p)) and not re.search(exclude, p) \
                 for p in paths]))",
            ])
            .arg(question.to_string())
            .output()
            .expect("python3 runs");
        assert!(out.status.success(), "python3: {out:?}");
        let passes: Vec<bool> = serde_json::from_slice(&out.stdout).expect("a JSON list");
        assert_eq!(selected(passes), walked, "{:?}", hook["id"]);
    }
}

/// Runs a hook as pre-commit does, in `dir`: the entry's words, the args,
/// then the file names.
fn run_hook(id: &str, dir: &Path, files: &[&str]) -> i32 {
    let hook = hook(id);
    assert_eq!(field(&hook, "language"), "rust", "{id}");
    let mut words = field(&hook, "entry").split_whitespace();
    assert_eq!(words.next(), Some("dockfix"), "{id}: the crate's binary");
    let args = hook["args"].as_vec().cloned().unwrap_or_default();
    let out = Command::new(env!("CARGO_BIN_EXE_dockfix"))
        .args(words)
        .args(args.iter().map(|a| a.as_str().expect("an arg")))
        .args(files)
        .current_dir(dir)
        .output()
        .expect("dockfix runs");
    out.status.code().expect("dockfix exited")
}

fn workspace() -> TempDir {
    let dir = TempDir::new().expect("temp dir");
    fs::write(dir.path().join("app.txt"), "").expect("written");
    fs::write(dir.path().join("Dockerfile"), FIXABLE).expect("written");
    fs::write(dir.path().join("api.Dockerfile"), FIXED).expect("written");
    dir
}

#[test]
fn the_dockfix_hook_fixes_the_files_it_is_given() {
    let dir = workspace();
    assert_eq!(
        run_hook("dockfix", dir.path(), &["Dockerfile", "api.Dockerfile"]),
        0
    );
    let fixed = fs::read_to_string(dir.path().join("Dockerfile")).expect("read");
    assert_eq!(fixed, FIXED);
    // The next commit passes: nothing left to fix.
    assert_eq!(run_hook("dockfix", dir.path(), &["Dockerfile"]), 0);
}

#[test]
fn the_check_hook_fails_only_on_a_file_that_would_change() {
    let dir = workspace();
    assert_eq!(run_hook("dockfix-check", dir.path(), &["Dockerfile"]), 1);
    let kept = fs::read_to_string(dir.path().join("Dockerfile")).expect("read");
    assert_eq!(kept, FIXABLE, "the check writes nothing");
    assert_eq!(
        run_hook("dockfix-check", dir.path(), &["api.Dockerfile"]),
        0
    );
}
