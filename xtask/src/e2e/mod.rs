//! The end-to-end harness: for every fixture in `fixtures/e2e/`, build the
//! Dockerfile as written and as `dockfix --write` (and `--write --unsafe`)
//! leaves it, on a current Docker engine; check both images behave the same
//! (a smoke command), compare their sizes, then edit one source line and
//! time the rebuild of each, counting the steps BuildKit served from cache.
//!
//! `e2e/engine.sh` brings the engines up (and `Drop` takes them down), so
//! the harness runs on a fresh machine from one command.

mod corpus;
mod progress;
mod report;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use progress::Steps;
use report::Row;

#[derive(clap::Args)]
pub struct Options {
    /// Trust the host's CA bundle inside the images (for machines behind a
    /// TLS-intercepting proxy).
    #[arg(long)]
    trust_host_ca: bool,
    /// Only the named fixtures.
    #[arg(long, value_name = "FIXTURE")]
    only: Vec<String>,
    /// Leave the engines running afterwards.
    #[arg(long)]
    keep_engine: bool,
    /// Skip the corpus acceptance check.
    #[arg(long)]
    no_corpus: bool,
}

/// `fixtures/e2e/<name>/e2e.toml`: how to check and edit the fixture.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    /// Run in the image (`docker run --rm IMAGE smoke...`); its output and
    /// exit status must be the same before and after the rewrite.
    smoke: Vec<String>,
    /// Also run the image's own CMD/ENTRYPOINT (`docker run --rm IMAGE`),
    /// for images whose command exits: a rewritten CMD must behave the same.
    #[serde(default)]
    default_command: bool,
    /// The one-line source edit made before the timed rebuild.
    edit: Edit,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Edit {
    file: String,
    find: String,
    replace: String,
}

type Result<T> = std::result::Result<T, String>;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the repository")
        .to_path_buf()
}

/// Where the engines keep their state; shared with `e2e/engine.sh`.
fn e2e_home() -> PathBuf {
    std::env::var_os("DOCKFIX_E2E_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(&std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".cache/dockfix-e2e")
        })
}

pub fn run(options: &Options) -> Result<bool> {
    let root = repo_root();
    let dockfix = build_dockfix(&root)?;
    let fixtures = fixtures(&root, &options.only)?;
    let engine = Engine::up(&root, options)?;
    let work = e2e_home().join("work/run");
    let _ = std::fs::remove_dir_all(&work);
    let mut rows = Vec::new();
    for fixture in &fixtures {
        let name = fixture.file_name().unwrap().to_string_lossy().into_owned();
        eprintln!("[e2e] {name}");
        rows.extend(run_fixture(
            &engine,
            &dockfix,
            fixture,
            &name,
            &work.join(&name),
        )?);
    }
    let results = root.join("bench/results/e2e.json");
    std::fs::create_dir_all(results.parent().unwrap()).map_err(|e| e.to_string())?;
    let json = serde_json::to_string_pretty(&rows).expect("rows serialize");
    std::fs::write(&results, json + "\n").map_err(|e| format!("{}: {e}", results.display()))?;
    println!("{}", report::markdown(&rows));
    let mut passed = rows.iter().all(Row::passed);
    if !options.no_corpus {
        let checked = check_corpus(&engine, &dockfix, &corpus_dir(&root), &work.join("corpus"))?;
        println!(
            "Corpus acceptance (Docker {}): {} real/ files, {} changed by --write --unsafe, {} rewrites accepted, {} rejected{}",
            engine.docker(&["version", "-f", "{{.Server.Version}}"])?.trim(),
            checked.files,
            checked.changed,
            checked.accepted,
            checked.rejected.len(),
            if checked.original_rejected.is_empty() {
                String::new()
            } else {
                format!(" ({} whose original the engine rejects skipped)", checked.original_rejected.len())
            }
        );
        for rejection in &checked.rejected {
            println!("  rejected: {rejection}");
        }
        passed &= checked.rejected.is_empty();
        let path = root.join("bench/results/e2e-corpus.json");
        let json = serde_json::to_string_pretty(&checked).expect("results serialize");
        std::fs::write(&path, json + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    }
    eprintln!(
        "[e2e] results in {}; build logs in {}",
        results.display(),
        work.display()
    );
    Ok(passed)
}

fn corpus_dir(root: &Path) -> PathBuf {
    std::env::var_os("DOCKFIX_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/corpus"))
}

#[derive(Serialize)]
struct CorpusCheck {
    files: usize,
    changed: usize,
    accepted: usize,
    /// Rewrites the engine rejects (file: message): must be none.
    rejected: Vec<String>,
    /// Files whose original the engine already rejects (not counted).
    original_rejected: Vec<String>,
    /// How far each accepted rewrite got (file: reason).
    accepted_how: Vec<String>,
}

/// Rewrites every `real/` file with `--write --unsafe` and asks the engine's
/// frontend about each one that changed, and about its original.
fn check_corpus(
    engine: &Engine,
    dockfix: &Path,
    corpus: &Path,
    work: &Path,
) -> Result<CorpusCheck> {
    let files = corpus::real_files(corpus);
    if files.is_empty() {
        return Err(format!("no corpus files in {}/real", corpus.display()));
    }
    eprintln!("[e2e] corpus acceptance over {} files", files.len());
    let mut check = CorpusCheck {
        files: files.len(),
        changed: 0,
        accepted: 0,
        rejected: vec![],
        original_rejected: vec![],
        accepted_how: vec![],
    };
    for (i, file) in files.iter().enumerate() {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let (original, rewrite) = (
            work.join(format!("{i}/original")),
            work.join(format!("{i}/rewrite")),
        );
        for dir in [&original, &rewrite] {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
            std::fs::copy(file, dir.join("Dockerfile")).map_err(|e| e.to_string())?;
        }
        Command::new(dockfix)
            .args(["--write", "--unsafe"])
            .arg(rewrite.join("Dockerfile"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("dockfix: {e}"))?;
        if std::fs::read(rewrite.join("Dockerfile")).ok() == std::fs::read(file).ok() {
            continue;
        }
        check.changed += 1;
        if let corpus::Verdict::Rejected(why) = engine.frontend_verdict(&original)? {
            check.original_rejected.push(format!("{name}: {why}"));
            continue;
        }
        match engine.frontend_verdict(&rewrite)? {
            corpus::Verdict::Accepted(how) => {
                check.accepted += 1;
                check.accepted_how.push(format!("{name}: {how}"));
            }
            corpus::Verdict::Rejected(why) => check.rejected.push(format!("{name}: {why}")),
        }
    }
    Ok(check)
}

fn build_dockfix(root: &Path) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "-p", "dockfix"])
        .current_dir(root)
        .status()
        .map_err(|e| format!("cargo: {e}"))?;
    if !status.success() {
        return Err("building dockfix failed".into());
    }
    Ok(root.join("target/release/dockfix"))
}

fn fixtures(root: &Path, only: &[String]) -> Result<Vec<PathBuf>> {
    let dir = root.join("fixtures/e2e");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("e2e.toml").is_file())
        .filter(|p| only.is_empty() || only.iter().any(|o| p.ends_with(o)))
        .collect();
    found.sort();
    if found.is_empty() {
        return Err(format!("no fixtures in {} match", dir.display()));
    }
    Ok(found)
}

/// What one side (original or rewrite) of a fixture did on the engine.
#[derive(Clone, Default)]
struct Measurement {
    built: bool,
    smoke: Option<String>,
    size: u64,
    rebuild_s: f64,
    steps: Steps,
}

fn run_fixture(
    engine: &Engine,
    dockfix: &Path,
    fixture: &Path,
    name: &str,
    work: &Path,
) -> Result<Vec<Row>> {
    let spec_path = fixture.join("e2e.toml");
    let spec: Spec =
        toml::from_str(&std::fs::read_to_string(&spec_path).map_err(|e| e.to_string())?)
            .map_err(|e| format!("{}: {e}", spec_path.display()))?;
    let original_dir = work.join("original");
    copy_dir(fixture, &original_dir)?;
    let original_file =
        std::fs::read(original_dir.join("Dockerfile")).map_err(|e| e.to_string())?;
    let before = measure(
        engine,
        &spec,
        &original_dir,
        &format!("e2e/{name}:original"),
        work,
    )?;

    let mut rows = Vec::new();
    let mut earlier: Vec<(Vec<u8>, Measurement)> = vec![(original_file.clone(), before.clone())];
    for (variant, flags) in [("safe", &[][..]), ("unsafe", &["--unsafe"][..])] {
        let dir = work.join(variant);
        copy_dir(fixture, &dir)?;
        let status = Command::new(dockfix)
            .arg("--write")
            .args(flags)
            .arg(dir.join("Dockerfile"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("dockfix: {e}"))?;
        if status.code() == Some(2) {
            return Err(format!("dockfix --write {flags:?} failed on {name}"));
        }
        let rewritten = std::fs::read(dir.join("Dockerfile")).map_err(|e| e.to_string())?;
        // A Dockerfile identical to one already measured builds the same
        // image: its figures are reused rather than measured twice.
        let after = match earlier.iter().find(|(file, _)| *file == rewritten) {
            Some((_, measured)) => measured.clone(),
            None => measure(engine, &spec, &dir, &format!("e2e/{name}:{variant}"), work)?,
        };
        earlier.push((rewritten.clone(), after.clone()));
        rows.push(Row {
            fixture: name.to_string(),
            variant,
            changed: rewritten != original_file,
            built_before: before.built,
            built_after: after.built,
            smoke_equal: before.built && after.built && before.smoke == after.smoke,
            size_before: before.size,
            size_after: after.size,
            rebuild_s_before: before.rebuild_s,
            rebuild_s_after: after.rebuild_s,
            cached_before: before.steps.cached,
            cached_after: after.steps.cached,
            steps_before: before.steps.total,
            steps_after: after.steps.total,
        });
    }
    Ok(rows)
}

/// Builds `dir` from a cold build cache, runs the smoke command, then edits
/// one source line and times the rebuild. Logs go beside `dir`.
fn measure(
    engine: &Engine,
    spec: &Spec,
    dir: &Path,
    tag: &str,
    logs: &Path,
) -> Result<Measurement> {
    let side = dir.file_name().unwrap().to_string_lossy().into_owned();
    engine.docker(&["builder", "prune", "-af"])?;
    let first = engine.build(dir, tag, &logs.join(format!("{side}-build.log")))?;
    if !first.ok {
        eprintln!(
            "[e2e]   {side}: build failed (see {}/{side}-build.log)",
            logs.display()
        );
        return Ok(Measurement::default());
    }
    let mut smoke_args = vec!["run", "--rm", tag];
    smoke_args.extend(spec.smoke.iter().map(String::as_str));
    let mut smoke = engine.docker_output(&smoke_args)?;
    if spec.default_command {
        smoke += &engine.docker_output(&["run", "--rm", tag])?;
    }
    std::fs::write(logs.join(format!("{side}-smoke.log")), &smoke).map_err(|e| e.to_string())?;
    let size = engine.docker(&["image", "inspect", "-f", "{{.Size}}", tag])?;
    let size: u64 = size
        .trim()
        .parse()
        .map_err(|_| format!("image size of {tag}: {size:?}"))?;

    apply_edit(dir, &spec.edit, true)?;
    let rebuild = engine.build(
        dir,
        &format!("{tag}-edited"),
        &logs.join(format!("{side}-rebuild.log")),
    )?;
    apply_edit(dir, &spec.edit, false)?;
    eprintln!(
        "[e2e]   {side}: {} bytes, rebuild {:.1}s with {}/{} steps cached",
        size, rebuild.seconds, rebuild.steps.cached, rebuild.steps.total
    );
    Ok(Measurement {
        built: rebuild.ok,
        smoke: Some(smoke),
        size,
        rebuild_s: rebuild.seconds,
        steps: rebuild.steps,
    })
}

/// Makes (or undoes) the fixture's one-line source edit.
fn apply_edit(dir: &Path, edit: &Edit, forward: bool) -> Result<()> {
    let path = dir.join(&edit.file);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (from, to) = if forward {
        (&edit.find, &edit.replace)
    } else {
        (&edit.replace, &edit.find)
    };
    if !text.contains(from.as_str()) {
        return Err(format!(
            "{}: `{from}` not found for the edit",
            path.display()
        ));
    }
    std::fs::write(&path, text.replacen(from.as_str(), to, 1)).map_err(|e| e.to_string())
}

/// Copies a fixture's build context (everything but `e2e.toml`).
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    for entry in std::fs::read_dir(from)
        .map_err(|e| e.to_string())?
        .flatten()
    {
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &target)?;
        } else if entry.file_name() != "e2e.toml" {
            std::fs::copy(&path, &target).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(())
}

struct Build {
    ok: bool,
    seconds: f64,
    steps: Steps,
}

/// The engines, up for as long as this value lives.
struct Engine {
    script: PathBuf,
    keep: bool,
}

impl Engine {
    fn up(root: &Path, options: &Options) -> Result<Self> {
        let script = root.join("e2e/engine.sh");
        let mut up = Command::new("bash");
        up.arg(&script).arg("up");
        if options.trust_host_ca {
            up.arg("--trust-host-ca");
        }
        let engine = Engine {
            script,
            keep: options.keep_engine,
        };
        let status = up.status().map_err(|e| format!("e2e/engine.sh: {e}"))?;
        if !status.success() {
            return Err("the engines did not come up (see above)".into());
        }
        Ok(engine)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("bash");
        command
            .arg(&self.script)
            .arg("docker")
            .args(args)
            .stdin(Stdio::null());
        command
    }

    fn output(&self, args: &[&str]) -> Result<Output> {
        self.command(args)
            .output()
            .map_err(|e| format!("docker {}: {e}", args.join(" ")))
    }

    /// Runs docker in the modern engine; its stdout, or an error.
    fn docker(&self, args: &[&str]) -> Result<String> {
        let output = self.output(args)?;
        if !output.status.success() {
            return Err(format!(
                "docker {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Stdout and exit status of a command, whatever the status.
    fn docker_output(&self, args: &[&str]) -> Result<String> {
        let output = self.output(args)?;
        let code = output
            .status
            .code()
            .map_or("signal".into(), |c| c.to_string());
        Ok(format!(
            "{}\n[exit {code}]\n",
            String::from_utf8_lossy(&output.stdout)
        ))
    }

    /// Whether the frontend accepts `dir/Dockerfile`; see `corpus`.
    fn frontend_verdict(&self, dir: &Path) -> Result<corpus::Verdict> {
        let dir = dir.to_string_lossy();
        let output = self.output(&[
            "build",
            "--progress=plain",
            "--platform",
            "linux/arm64",
            &dir,
        ])?;
        let log = String::from_utf8_lossy(&output.stderr).into_owned()
            + &String::from_utf8_lossy(&output.stdout);
        Ok(corpus::classify(output.status.success(), &log))
    }

    fn build(&self, dir: &Path, tag: &str, log: &Path) -> Result<Build> {
        let dir = dir.to_string_lossy();
        let start = Instant::now();
        let output = self.output(&["build", "--progress=plain", "-t", tag, &dir])?;
        let seconds = start.elapsed().as_secs_f64();
        let text = String::from_utf8_lossy(&output.stderr).into_owned()
            + &String::from_utf8_lossy(&output.stdout);
        std::fs::write(log, &text).map_err(|e| format!("{}: {e}", log.display()))?;
        Ok(Build {
            ok: output.status.success(),
            seconds,
            steps: progress::steps(&text),
        })
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if !self.keep {
            let _ = Command::new("bash").arg(&self.script).arg("down").status();
        }
    }
}
