//! `.dockfix.toml` end to end: which file applies to which Dockerfile, how
//! it meets the command line, its overrides and extra ecosystems, and how
//! a file that cannot be used is reported.

use std::io::Write;
use std::process::{Command, Stdio};

use tempfile::TempDir;

/// pip's download cache (DF204) and a shell-form CMD (DF002).
const PIP: &str = "FROM python:3.12\nRUN pip install flask\nCMD python app.py\n";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Each finding as `path:line:col: RULE`.
    fn findings(&self) -> Vec<String> {
        self.stdout
            .lines()
            .map(|line| line.split(' ').take(2).collect::<Vec<_>>().join(" "))
            .collect()
    }

    /// The rule IDs reported, in order.
    fn rules(&self) -> Vec<String> {
        self.findings()
            .iter()
            .filter_map(|f| f.split(' ').nth(1).map(String::from))
            .collect()
    }
}

fn repo(files: &[(&str, &str)]) -> TempDir {
    let root = tempfile::tempdir().expect("temp dir");
    for (path, text) in files {
        let path = root.path().join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("dirs");
        std::fs::write(path, text).expect("written");
    }
    root
}

/// Runs dockfix in `cwd` (below the tree's root), with the registry cache
/// and Docker's configuration kept inside the tree.
fn dockfix_with(root: &TempDir, cwd: &str, args: &[&str], stdin: Option<&str>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dockfix"))
        .args(args)
        .current_dir(root.path().join(cwd))
        .env("DOCKFIX_CACHE_DIR", root.path().join(".cache"))
        .env("DOCKER_CONFIG", root.path().join(".docker"))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dockfix starts");
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().expect("piped");
        pipe.write_all(text.as_bytes()).expect("stdin written");
    }
    let out = child.wait_with_output().expect("dockfix finishes");
    Run {
        code: out.status.code().expect("an exit code"),
        stdout: String::from_utf8(out.stdout).expect("UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("UTF-8"),
    }
}

fn dockfix(root: &TempDir, cwd: &str, args: &[&str]) -> Run {
    dockfix_with(root, cwd, args, None)
}

fn read(root: &TempDir, path: &str) -> String {
    std::fs::read_to_string(root.path().join(path)).expect("readable")
}

#[test]
fn the_nearest_configuration_wins_and_is_not_merged_with_a_farther_one() {
    let root = repo(&[
        (".dockfix.toml", "ignore = [\"DF002\"]\n"),
        ("Dockerfile", PIP),
        ("app/.dockfix.toml", "select = [\"DF0\"]\n"),
        ("app/Dockerfile", PIP),
    ]);
    let run = dockfix(&root, "", &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    // The root's file ignores DF002; app's selects DF0 only, and the
    // root's ignore does not reach it.
    assert_eq!(
        run.findings(),
        ["Dockerfile:2:5: DF204", "app/Dockerfile:3:1: DF002"]
    );
}

#[test]
fn the_configuration_is_found_from_a_subdirectory_and_through_parent_paths() {
    let root = repo(&[
        (".dockfix.toml", "select = [\"DF204\"]\n"),
        ("app/Dockerfile", PIP),
        ("docs/README.md", ""),
    ]);
    for (cwd, path) in [("app", "Dockerfile"), ("docs", "../app/Dockerfile")] {
        let run = dockfix(&root, cwd, &[path]);
        assert_eq!(run.rules(), ["DF204"], "from {cwd}: {}", run.stdout);
    }
    // Standard input: from --stdin-filename's directory, else the current one.
    let stdin = |cwd: &str, args: &[&str]| dockfix_with(&root, cwd, args, Some(PIP)).rules().len();
    assert_eq!(stdin("app", &["-"]), 1);
    assert_eq!(
        stdin("/", &["-"]),
        2,
        "no configuration above the tree's root"
    );
    let named = ["--stdin-filename", "app/Dockerfile", "-"];
    assert_eq!(stdin("", &named), 1);
}

#[test]
fn config_names_one_file_for_every_input_and_isolated_reads_none() {
    let root = repo(&[
        (".dockfix.toml", "select = [\"DF204\"]\n"),
        ("Dockerfile", PIP),
        ("elsewhere/only-cmd.toml", "select = [\"DF002\"]\n"),
    ]);
    let run = dockfix(&root, "", &["--config", "elsewhere/only-cmd.toml"]);
    assert_eq!(run.rules(), ["DF002"]);
    let run = dockfix(&root, "", &["--isolated"]);
    assert_eq!(run.rules(), ["DF204", "DF002"]);
    let run = dockfix(&root, "", &["--isolated", "--config", "x.toml"]);
    assert_eq!(run.code, 2);
    // A --config that cannot be used stops the run before any file.
    let run = dockfix(&root, "", &["--config", "missing.toml", "--write"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.starts_with("missing.toml: cannot read:"),
        "{}",
        run.stderr
    );
    assert_eq!(read(&root, "Dockerfile"), PIP);
}

#[test]
fn a_configuration_that_cannot_be_used_is_reported_at_its_place_and_its_files_left_alone() {
    let root = repo(&[
        (
            "bad-key/.dockfix.toml",
            "select = [\"DF2\"]\ncache_style = \"mounts\"\n",
        ),
        ("bad-key/Dockerfile", PIP),
        (
            "bad-rule/.dockfix.toml",
            "\nignore = [\"DF002\", \"DF999\"]\n",
        ),
        ("bad-rule/Dockerfile", PIP),
        ("bad-rule/sub/Dockerfile", PIP),
        ("good/Dockerfile", PIP),
    ]);
    let run = dockfix(&root, "", &["--write"]);
    assert_eq!(run.code, 2);
    let errors: Vec<&str> = run.stderr.lines().filter(|l| l.contains(".toml")).collect();
    assert_eq!(
        errors,
        [
            "bad-key/.dockfix.toml:2:1: unknown field `cache_style`, expected one of `select`, `ignore`, `unsafe`, `cache-style`, `syntax-directive`, `pin`, `pin-args`, `runtime-images`, `paths`, `overrides`, `ecosystem`",
            "bad-rule/.dockfix.toml:2:20: unknown rule selector `DF999` (see `dockfix rules`)",
        ],
        "each once: {}",
        run.stderr
    );
    for untouched in [
        "bad-key/Dockerfile",
        "bad-rule/Dockerfile",
        "bad-rule/sub/Dockerfile",
    ] {
        assert_eq!(read(&root, untouched), PIP, "{untouched}");
    }
    assert_ne!(read(&root, "good/Dockerfile"), PIP, "other files are fixed");
    // JSON and GitHub annotations name the configuration file too.
    let run = dockfix(&root, "bad-key", &["--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(json["errors"][0]["file"], ".dockfix.toml");
    assert_eq!(json["errors"][0]["line"], 2);
    assert_eq!(json["errors"][0]["column"], 1);
    assert_eq!(json["files"].as_array().map(Vec::len), Some(0));
}

#[test]
fn overrides_apply_by_glob_in_order() {
    let root = repo(&[
        (
            ".dockfix.toml",
            "select = [\"DF204\", \"DF002\"]\n\n\
             [[overrides]]\npaths = [\"legacy/**\"]\nignore = [\"DF204\"]\n\n\
             [[overrides]]\npaths = [\"legacy/keep/*\"]\nignore = []\n",
        ),
        ("Dockerfile", PIP),
        ("legacy/Dockerfile", PIP),
        ("legacy/old/Dockerfile", PIP),
        ("legacy/keep/Dockerfile", PIP),
    ]);
    assert_eq!(
        dockfix(&root, "", &[]).findings(),
        [
            "Dockerfile:2:5: DF204",
            "Dockerfile:3:1: DF002",
            "legacy/Dockerfile:3:1: DF002",
            "legacy/keep/Dockerfile:2:5: DF204",
            "legacy/keep/Dockerfile:3:1: DF002",
            "legacy/old/Dockerfile:3:1: DF002",
        ]
    );
}

#[test]
fn the_command_line_wins_over_the_configuration() {
    let root = repo(&[
        (
            ".dockfix.toml",
            "select = [\"DF2\"]\nignore = [\"DF207\"]\ncache-style = \"mounts\"\n",
        ),
        (
            "Dockerfile",
            "FROM debian:bookworm\nRUN apt-get update && apt-get install -y curl\nRUN pip install flask\nCMD python app.py\n",
        ),
    ]);
    // The configuration alone: mounts, so no cleanup rules (DF204, DF206).
    assert_eq!(dockfix(&root, "", &[]).rules(), Vec::<String>::new());
    let run = dockfix(&root, "", &["--cache-style", "cleanup"]);
    assert_eq!(run.rules(), ["DF206", "DF204"]);
    // --select replaces the file's selection; --ignore adds to its ignores.
    let run = dockfix(
        &root,
        "",
        &["--cache-style", "cleanup", "--select", "DF0,DF2"],
    );
    assert_eq!(run.rules(), ["DF206", "DF204", "DF002"]);
    let run = dockfix(
        &root,
        "",
        &["--cache-style", "cleanup", "--ignore", "DF204"],
    );
    assert_eq!(run.rules(), ["DF206"]);
}

#[test]
fn cache_style_mounts_from_the_configuration_runs_the_mount_rules() {
    let root = repo(&[("Dockerfile", PIP)]);
    assert_eq!(dockfix(&root, "", &[]).rules(), ["DF204", "DF002"]);
    std::fs::write(
        root.path().join(".dockfix.toml"),
        "cache-style = \"mounts\"\n",
    )
    .unwrap();
    assert_eq!(dockfix(&root, "", &[]).rules(), ["DF301", "DF002"]);
}

#[test]
fn unsafe_from_the_configuration_applies_unsafe_fixes() {
    let root = repo(&[
        (".dockfix.toml", "unsafe = true\nselect = [\"DF002\"]\n"),
        ("Dockerfile", PIP),
    ]);
    assert_eq!(dockfix(&root, "", &["--write"]).code, 0);
    assert!(read(&root, "Dockerfile").ends_with("CMD [\"python\", \"app.py\"]\n"));
}

#[test]
fn pin_from_the_configuration_asks_the_registry() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mirror = format!("docker.io=http://{closed}");
    let root = repo(&[
        (".dockfix.toml", "pin = \"version\"\n"),
        ("Dockerfile", "FROM node\n"),
    ]);
    let args = ["--write", "--registry-mirror", &mirror];
    let run = dockfix(&root, "", &args);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "Dockerfile:1:6: could not pin `docker.io/library/node:latest`: cannot reach"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(read(&root, "Dockerfile"), "FROM node\n");
    // Without the configuration DF401 reports and nothing is asked.
    let run = dockfix(&root, "", &["--isolated", "--registry-mirror", &mirror]);
    assert_eq!(run.code, 1);
    assert_eq!(run.rules(), ["DF401"]);
    assert!(!run.stderr.contains("could not pin"), "{}", run.stderr);
}

#[test]
fn an_extra_ecosystem_lets_install_before_copy_move_its_install() {
    let config = "\
[[ecosystem]]
name = \"fakepm\"
install = [\"fakepm install\"]
manifests = [\"fake.lock\"]
";
    let dockerfile = "FROM debian:bookworm\nWORKDIR /app\nCOPY . .\nRUN fakepm install\n";
    let root = repo(&[
        ("with/.dockfix.toml", config),
        ("with/Dockerfile", dockerfile),
        ("with/fake.lock", "pinned\n"),
        ("without/Dockerfile", dockerfile),
        ("without/fake.lock", "pinned\n"),
    ]);
    let run = dockfix(&root, "", &["--write", "--select", "DF101"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        read(&root, "with/Dockerfile"),
        "FROM debian:bookworm\nWORKDIR /app\nCOPY fake.lock ./\nRUN fakepm install\nCOPY . .\n"
    );
    assert_eq!(read(&root, "without/Dockerfile"), dockerfile);
}
