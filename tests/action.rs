//! `action.yml` run as GitHub's runner runs it: each step's script with
//! bash as `shell: bash` starts it, its `env:` expressions filled in from the
//! inputs, in a workspace of Dockerfiles, with the built `dockfix` on PATH.
//! The install step (`cargo install`) is not run: it builds the crate.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;
use yaml_rust2::{Yaml, YamlLoader};

const FIXABLE: &str = "FROM scratch\nADD app.txt /app/\nCMD [\"prog\"]\n";
const CLEAN: &str = "FROM scratch\nCOPY app.txt /app/\nCMD [\"prog\"]\n";
/// DF401 reports the floating tag and changes nothing without `--pin`.
const REPORT_ONLY: &str = "FROM alpine\nCOPY app.txt /app/\n";
const BROKEN: &str = "FROM scratch\nRUN <<EOF\necho\n";

/// A workspace: a Dockerfile to fix, a clean one, one with a finding and no
/// fix, each with the file it copies.
const TREE: &[(&str, &str)] = &[
    ("fixable/Dockerfile", FIXABLE),
    ("fixable/app.txt", ""),
    ("clean/Dockerfile", CLEAN),
    ("clean/app.txt", ""),
    ("report-only/Dockerfile", REPORT_ONLY),
    ("report-only/app.txt", ""),
];

/// What the runner provides besides the inputs.
const GITHUB_TOKEN: &str = "ghs_workflow_token";
const REPOSITORY: &str = "octo/app";
const API_URL: &str = "https://api.github.com";

fn action() -> Yaml {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("action.yml");
    let text = fs::read_to_string(&path).expect("action.yml is read");
    YamlLoader::load_from_str(&text)
        .expect("action.yml is YAML")
        .remove(0)
}

fn steps(action: &Yaml) -> &[Yaml] {
    action["runs"]["steps"].as_vec().expect("runs.steps")
}

fn step<'a>(action: &'a Yaml, id: &str) -> &'a Yaml {
    steps(action)
        .iter()
        .find(|s| s["id"].as_str() == Some(id))
        .unwrap_or_else(|| panic!("no step with id {id}"))
}

fn text<'a>(yaml: &'a Yaml, what: &str) -> &'a str {
    yaml.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string"))
}

/// Where a step runs: a workspace, a directory on PATH holding `dockfix`,
/// and the runner's temporary directory.
struct Runner {
    workspace: TempDir,
    bin: TempDir,
    temp: TempDir,
}

struct Run {
    code: i32,
    stdout: String,
}

impl Runner {
    /// A workspace holding `files`, with the built dockfix on PATH.
    fn new(files: &[(&str, &str)]) -> Runner {
        let runner = Runner::empty(files);
        std::os::unix::fs::symlink(
            env!("CARGO_BIN_EXE_dockfix"),
            runner.bin.path().join("dockfix"),
        )
        .expect("dockfix linked");
        runner
    }

    /// The same with nothing on PATH yet, for a test's own `dockfix`.
    fn empty(files: &[(&str, &str)]) -> Runner {
        let runner = Runner {
            workspace: TempDir::new().expect("temp dir"),
            bin: TempDir::new().expect("temp dir"),
            temp: TempDir::new().expect("temp dir"),
        };
        for (name, text) in files {
            let path = runner.workspace.path().join(name);
            fs::create_dir_all(path.parent().expect("a parent")).expect("dir created");
            fs::write(path, text).expect("file written");
        }
        runner
    }

    /// `${{ ... }}` as the runner evaluates it, for the expressions the
    /// action's `env:` and `with:` use; any other fails the test.
    fn expand(&self, value: &str, inputs: &BTreeMap<String, String>) -> String {
        let mut out = String::new();
        let mut rest = value;
        while let Some(start) = rest.find("${{") {
            out += &rest[..start];
            let end = rest[start..].find("}}").expect("a closed expression") + start;
            let expression = rest[start + 3..end].trim();
            out += &match expression.strip_prefix("inputs.") {
                Some(name) => inputs
                    .get(name)
                    .unwrap_or_else(|| panic!("undeclared input {name}"))
                    .clone(),
                None => match expression {
                    "github.token" => GITHUB_TOKEN.to_string(),
                    "runner.temp" => self.temp.path().display().to_string(),
                    other => panic!("the test does not evaluate `{other}`"),
                },
            };
            rest = &rest[end + 2..];
        }
        out + rest
    }

    /// The inputs a workflow's `with:` gives, over the declared defaults.
    fn inputs(&self, action: &Yaml, with: &[(&str, &str)]) -> BTreeMap<String, String> {
        let declared = action["inputs"].as_hash().expect("inputs");
        let mut inputs = BTreeMap::new();
        for (name, input) in declared {
            let default = input["default"].as_str().unwrap_or("");
            inputs.insert(text(name, "an input name").to_string(), default.to_string());
        }
        // Defaults may name other contexts (`${{ github.token }}`).
        for value in inputs.values_mut() {
            *value = self.expand(value, &BTreeMap::new());
        }
        for (name, value) in with {
            assert!(inputs.contains_key(*name), "undeclared input {name}");
            inputs.insert(name.to_string(), value.to_string());
        }
        inputs
    }

    /// Runs the step `id` with the inputs `with`.
    fn step(&self, id: &str, with: &[(&str, &str)]) -> Run {
        let action = action();
        let step = step(&action, id);
        assert_eq!(step["shell"].as_str(), Some("bash"), "{id}: shell");
        let inputs = self.inputs(&action, with);
        let script = self.temp.path().join(format!("{id}.sh"));
        fs::write(&script, text(&step["run"], "run")).expect("script written");
        // GitHub's command line for `shell: bash`.
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script)
            .current_dir(self.workspace.path())
            .env_remove("GITHUB_TOKEN")
            // A fresh runner's git: no configuration, no identity.
            .env("HOME", self.temp.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("PATH", self.path())
            .env("GITHUB_WORKSPACE", self.workspace.path())
            .env("GITHUB_ACTION_PATH", env!("CARGO_MANIFEST_DIR"))
            .env("GITHUB_REPOSITORY", REPOSITORY)
            .env("GITHUB_API_URL", API_URL)
            .env("GITHUB_OUTPUT", self.file("output"))
            .env("GITHUB_PATH", self.file("path"))
            .env("RUNNER_TEMP", self.temp.path());
        if let Some(env) = step["env"].as_hash() {
            for (name, value) in env {
                cmd.env(
                    text(name, "an env name"),
                    self.expand(text(value, "an env value"), &inputs),
                );
            }
        }
        let out = cmd.output().expect("bash runs");
        Run {
            code: out.status.code().expect("bash exited"),
            stdout: String::from_utf8(out.stdout).expect("UTF-8"),
        }
    }

    /// A file the runner reads after the step (`GITHUB_OUTPUT`, `GITHUB_PATH`).
    fn file(&self, name: &str) -> PathBuf {
        self.temp.path().join(format!("github_{name}"))
    }

    fn path(&self) -> String {
        let system = std::env::var("PATH").unwrap_or_default();
        format!("{}:{system}", self.bin.path().display())
    }
}

#[test]
fn declares_the_inputs_and_takes_them_only_through_env() {
    let action = action();
    assert_eq!(action["runs"]["using"].as_str(), Some("composite"));
    let names: Vec<&str> = action["inputs"]
        .as_hash()
        .expect("inputs")
        .keys()
        .map(|k| text(k, "an input name"))
        .collect();
    assert_eq!(names, ["mode", "paths", "args", "token"]);
    assert_eq!(action["inputs"]["mode"]["default"].as_str(), Some("check"));
    assert_eq!(action["inputs"]["paths"]["default"].as_str(), Some("."));
    assert_eq!(
        action["inputs"]["token"]["default"].as_str(),
        Some("${{ github.token }}")
    );
    // An expression in a script would paste an input's text into bash.
    for step in steps(&action) {
        if let Some(run) = step["run"].as_str() {
            assert!(!run.contains("${{"), "expression in {:?}", step["name"]);
        }
    }
}

#[test]
fn check_fails_when_a_dockerfile_would_change_and_annotates() {
    let runner = Runner::new(TREE);
    let run = runner.step("run", &[("paths", "fixable")]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.starts_with(
            "::warning file=fixable/Dockerfile,line=2,col=1,endLine=2,endColumn=4,title=DF001 add-to-copy::"
        ),
        "{}",
        run.stdout
    );
    let kept = fs::read_to_string(runner.workspace.path().join("fixable/Dockerfile"));
    assert_eq!(kept.expect("still there"), FIXABLE, "check never writes");

    // Findings without a fix are annotated but change nothing.
    let run = runner.step("run", &[("paths", "clean\nreport-only")]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
    assert!(run
        .stdout
        .starts_with("::warning file=report-only/Dockerfile,line=1,"));

    // The default path is the workspace; `args` reach dockfix.
    assert_eq!(runner.step("run", &[]).code, 1);
    let run = runner.step("run", &[("args", "--ignore DF001")]);
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn annotate_fails_only_on_errors() {
    let runner = Runner::new(&[TREE, &[("broken/Dockerfile", BROKEN)]].concat());
    let run = runner.step(
        "run",
        &[("mode", "annotate"), ("paths", "fixable report-only")],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    let titles: Vec<&str> = run
        .stdout
        .lines()
        .map(|l| l.split(",title=").nth(1).expect("a title"))
        .collect();
    assert_eq!(titles.len(), 2, "{}", run.stdout);
    assert!(titles[0].starts_with("DF001 add-to-copy::"));
    assert!(titles[1].starts_with("DF401 base-image-version::"));

    let run = runner.step("run", &[("mode", "annotate"), ("paths", "fixable broken")]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stdout.contains(
        "::error file=broken/Dockerfile,line=2,col=1,title=dockfix::unterminated heredoc"
    ));
}

#[test]
fn an_unknown_mode_fails() {
    let runner = Runner::new(TREE);
    let run = runner.step("run", &[("mode", "fix")]);
    assert_eq!(run.code, 2);
    assert!(
        run.stdout.starts_with("::error title=dockfix::"),
        "{}",
        run.stdout
    );
}

/// `dockfix pr` is tested with a stand-in that records how it was called:
/// the words it got, and the runner's variables it reads.
#[test]
fn pr_runs_dockfix_pr_with_the_paths_options_and_token() {
    let runner = Runner::empty(TREE);
    let shim = runner.bin.path().join("dockfix");
    let record = runner.temp.path().join("record");
    fs::write(
        &shim,
        format!(
            "#!/bin/sh\n{{ printf '%s\\n' \"$@\"; echo \"--\"; \
             echo \"$GITHUB_TOKEN $GITHUB_REPOSITORY $GITHUB_API_URL\"; \
             echo \"$GIT_AUTHOR_NAME $GIT_COMMITTER_EMAIL\"; }} > '{}'\n",
            record.display()
        ),
    )
    .expect("shim written");
    fs::set_permissions(&shim, fs::Permissions::from_mode(0o755)).expect("shim executable");

    let called = |with: &[(&str, &str)]| {
        let run = runner.step("run", with);
        assert_eq!(run.code, 0, "{}", run.stdout);
        let text = fs::read_to_string(&record).expect("the shim ran");
        let (argv, env) = text.rsplit_once("--\n").expect("argv, then env");
        (
            argv.lines().map(String::from).collect::<Vec<_>>(),
            env.trim_end().to_string(),
        )
    };
    // Globs stay words: dockfix walks directories itself.
    let (argv, env) = called(&[
        ("mode", "pr"),
        ("paths", "web  api/*.Dockerfile"),
        ("args", "--base main --dry-run"),
    ]);
    assert_eq!(
        argv,
        [
            "pr",
            "--base",
            "main",
            "--dry-run",
            "--",
            "web",
            "api/*.Dockerfile"
        ]
    );
    // With no git identity on the runner, it commits as the Actions bot.
    let bot = "github-actions[bot] 41898282+github-actions[bot]@users.noreply.github.com";
    assert_eq!(env, format!("{GITHUB_TOKEN} {REPOSITORY} {API_URL}\n{bot}"));

    // An identity the workflow configured is kept.
    fs::write(
        runner.temp.path().join(".gitconfig"),
        "[user]\n\tname = Release Bot\n\temail = release@example.com\n",
    )
    .expect("git config written");
    let (argv, env) = called(&[("mode", "pr"), ("token", "ghp_bot")]);
    assert_eq!(argv, ["pr", "--", "."]);
    assert_eq!(env, format!("ghp_bot {REPOSITORY} {API_URL}"));
}

#[test]
fn the_cached_install_is_found_on_path() {
    let runner = Runner::empty(&[]);
    let action = action();

    // The key is the action's sources' hash, the same on every run.
    let key = |runner: &Runner| {
        assert_eq!(runner.step("key", &[]).code, 0);
        let output = fs::read_to_string(runner.file("output")).expect("GITHUB_OUTPUT");
        fs::remove_file(runner.file("output")).expect("output removed");
        output
    };
    let output = key(&runner);
    let hash = output
        .strip_prefix("hash=")
        .and_then(|h| h.strip_suffix('\n'))
        .expect("hash=...");
    assert!(
        hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "{output}"
    );
    assert_eq!(key(&runner), output);
    let cache = step(&action, "cache");
    assert!(text(&cache["with"]["key"], "key").contains("${{ steps.key.outputs.hash }}"));

    // The cached directory is the install's root, and its bin/ goes on PATH.
    let inputs = runner.inputs(&action, &[]);
    let cached = runner.expand(text(&cache["with"]["path"], "path"), &inputs);
    let install = step(&action, "install");
    assert_eq!(
        install["if"].as_str(),
        Some("steps.cache.outputs.cache-hit != 'true'")
    );
    let root = runner.temp.path().join("dockfix");
    assert_eq!(Path::new(&cached), root);
    assert!(text(&install["run"], "run").starts_with(
        "cargo install --locked --root \"$RUNNER_TEMP/dockfix\" --path \"$GITHUB_ACTION_PATH\""
    ));
    assert_eq!(runner.step("path", &[]).code, 0);
    let path = fs::read_to_string(runner.file("path")).expect("GITHUB_PATH");
    assert_eq!(path, format!("{}/bin\n", root.display()));
}

/// The README's walkthrough: a CI check in three lines and a nightly bot in
/// ten, each valid YAML that runs this action in a mode its script knows.
#[test]
fn the_readme_walkthrough_uses_the_action_as_declared() {
    let readme = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README is read");
    let section = readme
        .split("## Walkthrough: CI and a nightly bot")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("the walkthrough section");
    let blocks: Vec<&str> = section
        .split("```yaml\n")
        .skip(1)
        .map(|b| b.split("```").next().expect("a closed block"))
        .collect();
    assert_eq!(blocks.len(), 2, "{section}");
    assert_eq!(blocks[0].lines().count(), 3, "{}", blocks[0]);
    assert_eq!(blocks[1].lines().count(), 10, "{}", blocks[1]);
    let script = text(&step(&action(), "run")["run"], "run").to_string();
    let uses_mode = |steps: &Yaml, mode: &str| {
        let steps = steps.as_vec().expect("steps");
        let ours = steps
            .iter()
            .find(|s| {
                s["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("OWNER/dockfix@"))
            })
            .expect("a step uses the action");
        assert_eq!(ours["with"]["mode"].as_str(), Some(mode));
        assert!(
            script.contains(&format!("\n  {mode})")),
            "{mode} is not a mode"
        );
    };
    let check = YamlLoader::load_from_str(&format!("steps:\n{}", blocks[0])).expect("YAML");
    uses_mode(&check[0]["steps"], "check");
    let bot = YamlLoader::load_from_str(blocks[1])
        .expect("YAML")
        .remove(0);
    assert!(bot["on"]["schedule"][0]["cron"].as_str().is_some());
    assert_eq!(bot["permissions"]["pull-requests"].as_str(), Some("write"));
    assert_eq!(bot["permissions"]["contents"].as_str(), Some("write"));
    uses_mode(&bot["jobs"]["dockfix"]["steps"], "pr");
}
