//! The end-to-end harness: for every fixture in `fixtures/e2e/`, build the
//! Dockerfile as written and as each variant of `dockfix --write` leaves it
//! (see [`VARIANTS`]), on a current Docker engine; check the images behave
//! the same (a smoke command), compare their sizes and the package caches
//! they carry, then edit one source line and time the rebuild of each,
//! counting the steps BuildKit served from cache, and time one more after a
//! dependency edit where the fixture has one. The `pinned` variant pins
//! the base images to digests against a registry that stands in for Docker
//! Hub, which the engine then pulls them through (see [`pins`]).
//!
//! `e2e/engine.sh` brings the engines and the registry up (and `Drop` takes
//! them down), so the harness runs on a fresh machine from one command.

mod caches;
mod contents;
mod corpus;
mod pins;
mod pr_measure;
mod registry;
mod report;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use dockfix::measure::progress::{self, Steps};
use pins::Base;
use registry::Registry;
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
    /// Only the named variants of every fixture (whichever its `e2e.toml`
    /// names for CI), against the original; with `--tier ci` only.
    #[arg(long, value_name = "VARIANT")]
    variant: Vec<String>,
    /// Leave the engines running afterwards.
    #[arg(long)]
    keep_engine: bool,
    /// Skip the corpus acceptance check.
    #[arg(long)]
    no_corpus: bool,
    /// Rewrite with this dockfix binary instead of building a release one
    /// (CI passes the one its tests just built).
    #[arg(long, value_name = "PATH")]
    dockfix: Option<PathBuf>,
    /// `full` also times the rebuilds after each fixture's edits and writes
    /// the results to `bench/results/`; `ci` proves the same rewrites
    /// (builds, behaviour, package caches, pins, corpus acceptance) without
    /// the timed rebuilds, and writes its results to the run directory.
    #[arg(long, value_enum, default_value_t = Tier::Full)]
    tier: Tier,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Tier {
    Full,
    Ci,
}

/// `fixtures/e2e/<name>/e2e.toml`: how to check and edit the fixture.
#[derive(Debug, Deserialize)]
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
    /// A change of dependencies (a package added to a manifest, or to an
    /// install line of the Dockerfile), timed on its own after the source
    /// edit is undone. When `file` is the Dockerfile, the edit applies to
    /// each variant's own Dockerfile, so `find` must be in every one.
    dependency_edit: Option<Edit>,
    /// Package caches the `mounts` variant's image may carry, and why;
    /// without this table it must carry none.
    allowed_package_caches: Option<AllowedCaches>,
    /// The variants the `ci` tier builds, when not its usual ones: a
    /// fixture that proves one rule's rewrite (a split) leaves the variants
    /// other fixtures prove to the full run, which builds every one.
    ci_variants: Option<Vec<String>>,
    /// Paths of the working directory the original image holds and the
    /// `context` variant's must not: what the lines DF601 and DF602 add
    /// to `.dockerignore` keep out (history, a secret).
    context_gone: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Edit {
    file: String,
    find: String,
    replace: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowedCaches {
    /// Names from [`caches::CACHES`].
    caches: Vec<String>,
    reason: String,
}

impl Spec {
    fn parse(text: &str) -> Result<Spec> {
        let spec: Spec = toml::from_str(text).map_err(|e| e.to_string())?;
        if let Some(allowed) = &spec.allowed_package_caches {
            if allowed.reason.trim().is_empty() {
                return Err("[allowed_package_caches] needs a reason".into());
            }
            if let Some(name) = allowed.caches.iter().find(|c| !caches::known(c)) {
                return Err(format!(
                    "[allowed_package_caches]: no cache named `{name}` (known: {})",
                    caches::CACHES
                        .iter()
                        .map(|(name, _)| *name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        if let Some(name) = spec
            .ci_variants
            .iter()
            .flatten()
            .find(|name| !VARIANTS.iter().any(|v| v.name == name.as_str()))
        {
            return Err(format!("ci_variants: no variant named `{name}`"));
        }
        Ok(spec)
    }

    /// The variants a run of `tier` builds.
    fn variants(&self, tier: Tier) -> Vec<&'static Variant> {
        VARIANTS
            .iter()
            .filter(|v| match (&self.ci_variants, tier) {
                (Some(names), Tier::Ci) => names.iter().any(|n| n == v.name),
                (None, Tier::Ci) => v.ci,
                (_, Tier::Full) => true,
            })
            .collect()
    }

    /// The caches the `mounts` variant's image may carry.
    fn allowed_caches(&self) -> &[String] {
        self.allowed_package_caches
            .as_ref()
            .map_or(&[], |a| &a.caches[..])
    }
}

/// One rewrite measured against the original Dockerfile.
struct Variant {
    name: &'static str,
    /// `dockfix --write` flags.
    flags: &'static [&'static str],
    /// Its image must carry no package caches (but those the fixture allows).
    no_package_caches: bool,
    /// It pins base images, asking the harness's registry as Docker Hub's
    /// mirror; its FROMs must then carry digests the engine pulls.
    pins: bool,
    /// The `ci` tier builds it for fixtures that do not name their variants.
    ci: bool,
}

const VARIANTS: &[Variant] = &[
    Variant {
        name: "safe",
        flags: &[],
        no_package_caches: false,
        pins: false,
        ci: true,
    },
    Variant {
        name: "unsafe",
        flags: &["--unsafe"],
        no_package_caches: false,
        pins: false,
        ci: true,
    },
    // Cache mounts instead of cleanups, safe fixes only: package managers
    // keep their downloads between builds, outside the image.
    Variant {
        name: "mounts",
        flags: &["--cache-style", "mounts"],
        no_package_caches: true,
        pins: false,
        ci: true,
    },
    // Safe fixes and base images pinned to a version tag (where the tag
    // floats) and a digest.
    Variant {
        name: "pinned",
        flags: &["--pin", "both"],
        no_package_caches: false,
        pins: true,
        ci: true,
    },
    // The build context rules alone (opt-in): only `.dockerignore`
    // changes. The ci tier builds it where a fixture asks for it.
    Variant {
        name: "context",
        flags: &["--select", "DF601,DF602"],
        no_package_caches: false,
        pins: false,
        ci: false,
    },
];

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

/// Where a run keeps its copies of the fixtures and its logs; emptied when
/// a run starts.
fn run_dir() -> PathBuf {
    e2e_home().join("work/run")
}

pub fn run(options: &Options) -> Result<bool> {
    let root = repo_root();
    let mut times = Times::default();
    let dockfix = match &options.dockfix {
        Some(path) => std::path::absolute(path).map_err(|e| format!("{}: {e}", path.display()))?,
        None => build_dockfix(&root)?,
    };
    times.lap("building dockfix");
    let fixtures = fixtures(&root, &options.only)?;
    if let Some(name) = options
        .variant
        .iter()
        .find(|name| !VARIANTS.iter().any(|v| v.name == name.as_str()))
    {
        return Err(format!("--variant: no variant named `{name}`"));
    }
    // A run of some variants is no full run's figures.
    if !options.variant.is_empty() && options.tier == Tier::Full {
        return Err("--variant narrows a `--tier ci` run only".into());
    }
    let engine = Engine::up(&root, options)?;
    times.lap("engines up");
    let work = run_dir();
    let _ = std::fs::remove_dir_all(&work);
    let mut rows = Vec::new();
    for fixture in &fixtures {
        let name = fixture.file_name().unwrap().to_string_lossy().into_owned();
        eprintln!("[e2e] {name}");
        rows.extend(run_fixture(
            &engine,
            &dockfix,
            (options.tier, &options.variant),
            fixture,
            &name,
            &work.join(&name),
        )?);
        times.lap(&name);
    }
    // Only a full run's figures are the ones the README quotes.
    let results_dir = match options.tier {
        Tier::Full => root.join("bench/results"),
        Tier::Ci => work.clone(),
    };
    let results = results_dir.join("e2e.json");
    std::fs::create_dir_all(&results_dir).map_err(|e| e.to_string())?;
    let json = serde_json::to_string_pretty(&rows).expect("rows serialize");
    std::fs::write(&results, json + "\n").map_err(|e| format!("{}: {e}", results.display()))?;
    println!("{}", report::markdown(&rows, options.tier == Tier::Full));
    let mut passed = rows.iter().all(Row::passed);
    print!("{}", report::pins(&rows, &engine.registry.url()));
    print!("{}", report::cache_predictions(&rows));
    let floating = check_floating(&engine, &dockfix, &work.join("floating"))?;
    println!(
        "  a floating tag: `FROM debian` pinned to {}, {}",
        floating.pinned,
        if floating.problems.is_empty() {
            format!(
                "built through the mirror, printing {:?} as the original does",
                floating.output
            )
        } else {
            "**failed**".into()
        }
    );
    for problem in &floating.problems {
        println!("    problem: {problem}");
    }
    passed &= floating.problems.is_empty();
    times.lap("a floating tag");
    eprintln!("[e2e] dockfix pr --measure on {}", pr_measure::FIXTURE);
    let measured = pr_measure::check(
        &dockfix,
        &engine.script,
        &root.join("fixtures/e2e").join(pr_measure::FIXTURE),
        &work.join("pr-measure"),
    )?;
    println!(
        "  dockfix pr --measure on {}: {}",
        pr_measure::FIXTURE,
        if measured.problems.is_empty() {
            measured.sentence.as_str()
        } else {
            "**failed**"
        }
    );
    for problem in &measured.problems {
        println!("    problem: {problem}");
    }
    passed &= measured.problems.is_empty();
    times.lap("pr --measure");
    if !options.no_corpus {
        let checked = check_corpus(&engine, &dockfix, &corpus_dir(&root), &work.join("corpus"))?;
        println!(
            "Corpus acceptance (Docker {}): {} real/ files, {} changed by --write --unsafe (cleanup or mounts style), {} rewrites accepted, {} rejected{}",
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
        let path = results_dir.join("e2e-corpus.json");
        let json = serde_json::to_string_pretty(&checked).expect("results serialize");
        std::fs::write(&path, json + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
        times.lap("corpus acceptance");
    }
    // Each run tags its images anew, leaving the last run's untagged: kept
    // run after run, they filled this machine's disk (1,280 images, 43 GB).
    engine.forget_images()?;
    eprintln!("[e2e] times: {times}");
    eprintln!(
        "[e2e] results in {}; build logs in {}",
        results.display(),
        work.display()
    );
    Ok(passed)
}

/// The wall time of each part of a run, for the log.
struct Times {
    start: Instant,
    last: Instant,
    laps: Vec<(String, f64)>,
}

impl Default for Times {
    fn default() -> Self {
        let now = Instant::now();
        Times {
            start: now,
            last: now,
            laps: vec![],
        }
    }
}

impl Times {
    /// Records the time since the last lap under `name`.
    fn lap(&mut self, name: &str) {
        let now = Instant::now();
        self.laps
            .push((name.to_string(), (now - self.last).as_secs_f64()));
        self.last = now;
    }
}

impl std::fmt::Display for Times {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        for (name, seconds) in &self.laps {
            write!(f, "{name} {seconds:.0} s, ")?;
        }
        write!(f, "total {:.0} s", self.start.elapsed().as_secs_f64())
    }
}

/// [`pins::FLOATING`] as written and as the pinning variant leaves it.
struct Floating {
    /// The image its FROM names once pinned.
    pinned: String,
    /// The first line the pinned image printed.
    output: String,
    problems: Vec<String>,
}

/// Builds [`pins::FLOATING`] as written (`debian:latest`, which only the
/// mirror has) and as the pinning variant leaves it, each from a pruned
/// build cache; both images must print the same, and the pinned one must
/// come from its digest, pulled through the mirror.
fn check_floating(engine: &Engine, dockfix: &Path, work: &Path) -> Result<Floating> {
    eprintln!("[e2e] a floating tag, pinned");
    let variant = VARIANTS.iter().find(|v| v.pins).expect("a variant pins");
    let original = work.join("original");
    let pinned = work.join(variant.name);
    for dir in [&original, &pinned] {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        std::fs::write(dir.join("Dockerfile"), pins::FLOATING).map_err(|e| e.to_string())?;
    }
    let file = pinned.join("Dockerfile");
    let log = work.join(format!("{}-dockfix.log", variant.name));
    rewrite(dockfix, variant, &engine.registry, &file, &log)?;
    let bases = pins::bases(&dump(dockfix, &file)?);
    let mut problems = pins::check_rewrite(&bases, &engine.registry)?;
    problems.extend(pins::check_version(&bases, &engine.registry)?);
    engine.forget_local(&bases)?;
    let mut outputs = vec![];
    for (side, dir) in [("original", &original), (variant.name, &pinned)] {
        engine.docker(&["builder", "prune", "-af"])?;
        let mark = engine.registry.mark()?;
        let tag = format!("e2e/floating:{side}");
        let log = work.join(format!("{side}-build.log"));
        if !engine.build(dir, &tag, &log)?.ok {
            problems.push(format!("{side}: the build failed (see {})", log.display()));
            continue;
        }
        outputs.push(engine.docker_output(&["run", "--rm", &tag])?);
        if side == variant.name {
            let text = std::fs::read_to_string(&log).map_err(|e| e.to_string())?;
            problems.extend(pins::check_built(
                &bases,
                &text,
                &engine.registry.mirrored_since(mark)?,
            ));
        }
    }
    if let [original, pinned] = &outputs[..] {
        if original != pinned {
            problems.push(format!(
                "the pinned image printed {pinned:?}, the original {original:?}"
            ));
        }
    }
    Ok(Floating {
        pinned: bases
            .iter()
            .map(|b| b.text.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        output: outputs
            .last()
            .and_then(|o| o.lines().next())
            .unwrap_or_default()
            .to_string(),
        problems,
    })
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
    /// Files with a rejected rewrite whose original the engine rejects
    /// too (not counted).
    original_rejected: Vec<String>,
    /// How far each accepted rewrite got (file: reason).
    accepted_how: Vec<String>,
}

/// Rewrites every `real/` file with `--write --unsafe` and asks the engine's
/// frontend about each one that changed, and about its original when a
/// rewrite is rejected.
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
    // Each style's rewrite, with unsafe fixes; a rewrite the other style
    // already produced is not checked twice.
    let styles: [&[&str]; 2] = [&[], &["--cache-style", "mounts"]];
    for (i, file) in files.iter().enumerate() {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let original = work.join(format!("{i}/original"));
        std::fs::create_dir_all(&original).map_err(|e| e.to_string())?;
        std::fs::copy(file, original.join("Dockerfile")).map_err(|e| e.to_string())?;
        let mut rewrites: Vec<(PathBuf, Vec<u8>)> = Vec::new();
        for (k, style) in styles.iter().enumerate() {
            let rewrite = work.join(format!("{i}/rewrite-{k}"));
            std::fs::create_dir_all(&rewrite).map_err(|e| e.to_string())?;
            std::fs::copy(file, rewrite.join("Dockerfile")).map_err(|e| e.to_string())?;
            Command::new(dockfix)
                .args(["--write", "--unsafe"])
                .args(*style)
                .arg(rewrite.join("Dockerfile"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map_err(|e| format!("dockfix: {e}"))?;
            let text = std::fs::read(rewrite.join("Dockerfile")).map_err(|e| e.to_string())?;
            if std::fs::read(file).ok().as_ref() != Some(&text)
                && rewrites.iter().all(|(_, t)| *t != text)
            {
                rewrites.push((rewrite, text));
            }
        }
        if rewrites.is_empty() {
            continue;
        }
        check.changed += 1;
        let mut rejected = vec![];
        let mut accepted = vec![];
        for (rewrite, _) in &rewrites {
            let style = rewrite.file_name().unwrap().to_string_lossy();
            match engine.frontend_verdict(rewrite)? {
                corpus::Verdict::Accepted(how) => accepted.push(format!("{name} ({style}): {how}")),
                corpus::Verdict::Rejected(why) => rejected.push(format!("{name} ({style}): {why}")),
            }
        }
        // The original is only asked about to excuse a rejected rewrite:
        // a file the engine rejects as written is not dockfix's to fix.
        if !rejected.is_empty() {
            if let corpus::Verdict::Rejected(why) = engine.frontend_verdict(&original)? {
                check.original_rejected.push(format!("{name}: {why}"));
                continue;
            }
        }
        check.accepted += accepted.len();
        check.accepted_how.extend(accepted);
        check.rejected.extend(rejected);
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
    /// Bytes of build context the first build sent, as BuildKit reports.
    context_bytes: Option<u64>,
    smoke: Option<String>,
    /// The image's configuration and the files of its working directory.
    contents: contents::Contents,
    size: u64,
    /// Packages installed in the image.
    packages: u64,
    /// Bytes of each package cache the image carries.
    caches: BTreeMap<String, u64>,
    /// Bytes the first build left in each cache mount, by target.
    mounts: BTreeMap<String, u64>,
    rebuild_s: f64,
    steps: Steps,
    /// The rebuild after the dependency edit, if the fixture has one.
    dependency: Option<(f64, Steps)>,
    /// How many rebuilds `dockfix cache` predicted, and each where what it
    /// predicted differs from what BuildKit ran.
    cache_predictions: usize,
    cache_differences: Vec<String>,
    /// Steps predicted to rerun only if what they take changed, and how
    /// many of them BuildKit ran.
    cache_may_rerun: usize,
    cache_may_rerun_ran: usize,
}

fn run_fixture(
    engine: &Engine,
    dockfix: &Path,
    (tier, only): (Tier, &[String]),
    fixture: &Path,
    name: &str,
    work: &Path,
) -> Result<Vec<Row>> {
    let spec_path = fixture.join("e2e.toml");
    let spec = Spec::parse(&std::fs::read_to_string(&spec_path).map_err(|e| e.to_string())?)
        .map_err(|e| format!("{}: {e}", spec_path.display()))?;
    let original_dir = work.join("original");
    copy_dir(fixture, &original_dir)?;
    let original_file = built_from(&original_dir)?;
    let original_ignore =
        std::fs::read_to_string(original_dir.join(".dockerignore")).unwrap_or_default();
    // Every rewrite is made, and every edit checked against it, before
    // anything is built.
    let variants: Vec<&Variant> = match only {
        [] => spec.variants(tier),
        names => VARIANTS
            .iter()
            .filter(|v| names.iter().any(|name| name == v.name))
            .collect(),
    };
    let mut sides = vec![("original", original_dir)];
    for variant in &variants {
        let dir = work.join(variant.name);
        copy_dir(fixture, &dir)?;
        rewrite(
            dockfix,
            variant,
            &engine.registry,
            &dir.join("Dockerfile"),
            &work.join(format!("{}-dockfix.log", variant.name)),
        )
        .map_err(|e| format!("{name}: {e}"))?;
        sides.push((variant.name, dir));
    }
    for (side, dir) in &sides {
        if tier == Tier::Full {
            add_ignored_file(dir)?;
        }
        edited(dir, &spec.edit).map_err(|e| format!("{name}, {side}: the edit: {e}"))?;
        if let Some(edit) = &spec.dependency_edit {
            edited(dir, edit).map_err(|e| format!("{name}, {side}: the dependency edit: {e}"))?;
        }
    }

    let before = measure(
        engine,
        dockfix,
        tier,
        &spec,
        &sides[0].1,
        &format!("e2e/{name}:original"),
        work,
    )?;
    let mut rows = Vec::new();
    let original_stages = stages(&dump(dockfix, &sides[0].1.join("Dockerfile"))?);
    let mut earlier: Vec<(Vec<u8>, Measurement)> = vec![(original_file.clone(), before.clone())];
    for (variant, (_, dir)) in variants.iter().zip(&sides[1..]) {
        let rewritten = built_from(dir)?;
        let ignore = std::fs::read_to_string(dir.join(".dockerignore")).unwrap_or_default();
        let ignored: Vec<String> = ignore
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !original_ignore.lines().any(|o| o.trim() == *l))
            .map(String::from)
            .collect();
        // The pins are checked against the registry before the build, and
        // against what the engine fetched from it during the build after.
        let (bases, mut pin_problems, mark) = if variant.pins {
            let bases = pins::bases(&dump(dockfix, &dir.join("Dockerfile"))?);
            let problems = pins::check_rewrite(&bases, &engine.registry)?;
            engine.forget_local(&bases)?;
            (bases, problems, engine.registry.mark()?)
        } else {
            (vec![], vec![], 0)
        };
        // A Dockerfile identical to one already measured builds the same
        // image: its figures are reused rather than measured twice.
        let after = match earlier.iter().find(|(file, _)| *file == rewritten) {
            Some((_, measured)) => measured.clone(),
            None => measure(
                engine,
                dockfix,
                tier,
                &spec,
                dir,
                &format!("e2e/{name}:{}", variant.name),
                work,
            )?,
        };
        earlier.push((rewritten.clone(), after.clone()));
        if variant.pins && after.built {
            let log = work.join(format!("{}-build.log", variant.name));
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            pin_problems.extend(pins::check_built(
                &bases,
                &log,
                &engine.registry.mirrored_since(mark)?,
            ));
        }
        for problem in &pin_problems {
            eprintln!("[e2e]   {}: {problem}", variant.name);
        }
        let unexpected = if variant.no_package_caches {
            caches::unexpected(&after.caches, spec.allowed_caches())
        } else {
            vec![]
        };
        if !unexpected.is_empty() {
            eprintln!(
                "[e2e]   {}: the image carries package caches: {}",
                variant.name,
                unexpected.join(", ")
            );
        }
        // What a cache mount the rewrite adds holds stays out of the image
        // on purpose.
        let mount_targets: Vec<String> = after.mounts.keys().cloned().collect();
        let meant = contents::Meant {
            exec_form: variant.flags.contains(&"--unsafe"),
            split: stages(&dump(dockfix, &dir.join("Dockerfile"))?) > original_stages,
            ignored: &ignored,
        };
        let gone = spec
            .context_gone
            .as_ref()
            .filter(|_| variant.name == "context");
        let context_gone_ok = gone.map(|paths| {
            before.built
                && after.built
                && paths.iter().all(|p| {
                    let held = before.contents.holds(p) && !after.contents.holds(p);
                    if !held {
                        eprintln!(
                            "[e2e]   {}: {p} is not in the original image only",
                            variant.name
                        );
                    }
                    held
                })
        });
        let content_differences = if before.built && after.built {
            before
                .contents
                .differences(&after.contents, &mount_targets, meant)
        } else {
            vec![]
        };
        for difference in &content_differences {
            eprintln!("[e2e]   {}: {difference}", variant.name);
        }
        rows.push(Row {
            fixture: name.to_string(),
            variant: variant.name,
            changed: rewritten != original_file,
            ignore_lines_added: ignored.clone(),
            context_bytes_before: before.context_bytes,
            context_bytes_after: after.context_bytes,
            context_gone_ok,
            built_before: before.built,
            built_after: after.built,
            smoke_equal: before.built
                && after.built
                && before.smoke == after.smoke
                && smoke_passed(before.smoke.as_deref()),
            contents_equal: before.built && after.built && content_differences.is_empty(),
            content_differences,
            size_before: before.size,
            size_after: after.size,
            packages_before: before.packages,
            packages_after: after.packages,
            package_cache_bytes_before: caches::total(&before.caches),
            package_cache_bytes_after: caches::total(&after.caches),
            package_caches_after: after
                .caches
                .iter()
                .filter(|(_, &bytes)| bytes > 0)
                .map(|(name, &bytes)| (name.clone(), bytes))
                .collect(),
            package_caches_ok: unexpected.is_empty(),
            cache_mounts_after: after.mounts.clone(),
            rebuild_s_before: before.rebuild_s,
            rebuild_s_after: after.rebuild_s,
            cached_before: before.steps.cached,
            cached_after: after.steps.cached,
            steps_before: before.steps.total,
            steps_after: after.steps.total,
            dependency_rebuild_s_before: before.dependency.map(|(s, _)| s),
            dependency_rebuild_s_after: after.dependency.map(|(s, _)| s),
            dependency_cached_before: before.dependency.map(|(_, steps)| steps.cached),
            dependency_cached_after: after.dependency.map(|(_, steps)| steps.cached),
            pins: variant.pins,
            pinned_bases: bases.iter().map(|b| b.text.clone()).collect(),
            pin_problems,
            cache_prediction_agrees: (tier == Tier::Full && before.built && after.built).then_some(
                before.cache_differences.is_empty() && after.cache_differences.is_empty(),
            ),
            cache_predictions: before.cache_predictions + after.cache_predictions,
            cache_may_rerun: before.cache_may_rerun + after.cache_may_rerun,
            cache_may_rerun_ran: before.cache_may_rerun_ran + after.cache_may_rerun_ran,
            cache_prediction_differences: before
                .cache_differences
                .iter()
                .chain(&after.cache_differences)
                .cloned()
                .collect(),
        });
    }
    Ok(rows)
}

/// Builds `dir` from a cold build cache (which empties cache mounts too),
/// runs the smoke command and the cache probe, then, in a full run, edits
/// one source line and times the rebuild; undoes that edit, makes the
/// dependency edit if any and times that rebuild too. Logs go beside `dir`.
fn measure(
    engine: &Engine,
    dockfix: &Path,
    tier: Tier,
    spec: &Spec,
    dir: &Path,
    tag: &str,
    logs: &Path,
) -> Result<Measurement> {
    let side = dir.file_name().unwrap().to_string_lossy().into_owned();
    let start = Instant::now();
    engine.docker(&["builder", "prune", "-af"])?;
    // A side must not find the package downloads of the one before it.
    let left = engine.cache_mounts()?;
    if !left.is_empty() {
        return Err(format!(
            "cache mounts left after `docker builder prune -af`: {left:?}"
        ));
    }
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
    let caches = engine.package_caches(tag)?;
    let mounts = engine.cache_mounts()?;
    let build_log = std::fs::read_to_string(logs.join(format!("{side}-build.log")))
        .map_err(|e| e.to_string())?;
    let mut measured = Measurement {
        built: true,
        context_bytes: context_bytes(&build_log),
        smoke: Some(smoke),
        contents: contents::Contents::of(engine, tag)?,
        size,
        packages: engine.packages(tag)?,
        caches,
        mounts,
        ..Measurement::default()
    };
    if tier == Tier::Full {
        rebuilds(engine, dockfix, spec, dir, tag, logs, &mut measured)?;
    }
    eprintln!(
        "[e2e]   {side} ({:.0} s): {} bytes, {} packages, with {} bytes of package caches{}",
        start.elapsed().as_secs_f64(),
        measured.size,
        measured.packages,
        caches::total(&measured.caches),
        match tier {
            Tier::Ci => String::new(),
            Tier::Full => format!(
                ", rebuild {:.1}s with {}/{} steps cached{}",
                measured.rebuild_s,
                measured.steps.cached,
                measured.steps.total,
                measured
                    .dependency
                    .map_or(String::new(), |(seconds, steps)| format!(
                        ", after the dependency edit {seconds:.1}s with {}/{} steps cached",
                        steps.cached, steps.total
                    ))
            ),
        }
    );
    if !measured.mounts.is_empty() {
        let kept: Vec<_> = measured
            .mounts
            .iter()
            .map(|(target, bytes)| format!("{target} {bytes} bytes"))
            .collect();
        eprintln!(
            "[e2e]   {side}: cache mounts after the first build: {}",
            kept.join(", ")
        );
    }
    Ok(measured)
}

/// Edits one source line and times the rebuild; undoes that edit, makes
/// the dependency edit if any and times that rebuild too; then edits the
/// file `.dockerignore` leaves out. After each, what `dockfix cache`
/// predicted is compared with the steps BuildKit ran.
fn rebuilds(
    engine: &Engine,
    dockfix: &Path,
    spec: &Spec,
    dir: &Path,
    tag: &str,
    logs: &Path,
    measured: &mut Measurement,
) -> Result<()> {
    let side = dir.file_name().unwrap().to_string_lossy().into_owned();
    let mut predicted = |edit: &Edit, build: &Build| -> Result<()> {
        // An edit of the Dockerfile changes the instructions themselves,
        // which is no change of the context `--changed` describes.
        if edit.file == "Dockerfile" || !build.ok {
            return Ok(());
        }
        measured.cache_predictions += 1;
        let predicted = cache_prediction(dockfix, dir, &edit.file)?;
        measured.cache_may_rerun += predicted.may.len();
        measured.cache_may_rerun_ran += predicted.may.intersection(&build.reran).count();
        if !predicted.agrees(&build.reran) {
            let list = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(" ");
            measured.cache_differences.push(format!(
                "{side}, {} edited: dockfix cache predicted [{}] (of which may rerun [{}]), BuildKit ran [{}]",
                edit.file,
                list(&predicted.reruns),
                list(&predicted.may),
                list(&build.reran)
            ));
        }
        Ok(())
    };
    let rebuild = with_edit(dir, &spec.edit, || {
        engine.build(
            dir,
            &format!("{tag}-edited"),
            &logs.join(format!("{side}-rebuild.log")),
        )
    })?;
    predicted(&spec.edit, &rebuild)?;
    let ignored = ignored_edit();
    let build = with_edit(dir, &ignored, || {
        engine.build(
            dir,
            &format!("{tag}-ignored-edited"),
            &logs.join(format!("{side}-ignored-rebuild.log")),
        )
    })?;
    predicted(&ignored, &build)?;
    measured.built &= rebuild.ok;
    measured.rebuild_s = rebuild.seconds;
    measured.steps = rebuild.steps;
    if let Some(edit) = &spec.dependency_edit {
        let log = logs.join(format!("{side}-dependency-rebuild.log"));
        let build = with_edit(dir, edit, || {
            engine.build(dir, &format!("{tag}-dependency-edited"), &log)
        })?;
        predicted(edit, &build)?;
        if !build.ok {
            eprintln!(
                "[e2e]   {side}: rebuild after the dependency edit failed (see {})",
                log.display()
            );
        }
        measured.built &= build.ok;
        measured.dependency = Some((build.seconds, build.steps));
    }
    Ok(())
}

/// What a side's image is built from: its Dockerfile and `.dockerignore`
/// (a rewrite may change either), for reusing one side's figures for
/// another built from the same.
fn built_from(dir: &Path) -> Result<Vec<u8>> {
    let mut bytes = std::fs::read(dir.join("Dockerfile")).map_err(|e| e.to_string())?;
    bytes.extend(b"\0");
    bytes.extend(std::fs::read(dir.join(".dockerignore")).unwrap_or_default());
    Ok(bytes)
}

/// The bytes of build context a build sent, from BuildKit's plain
/// progress: the last `transferring context:` line of the step that loads
/// the build context (`#5 transferring context: 27.53kB done`).
fn context_bytes(log: &str) -> Option<u64> {
    let step = log
        .lines()
        .find(|l| l.ends_with("[internal] load build context"))?
        .split(' ')
        .next()?;
    let size = log
        .lines()
        .filter(|l| l.split(' ').next() == Some(step))
        .filter_map(|l| l.split_once("transferring context: ").map(|(_, rest)| rest))
        .next_back()?
        .split(' ')
        .next()?;
    let digits = size.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = match &size[digits.len()..] {
        "B" => 1.0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        _ => return None,
    };
    Some((digits.parse::<f64>().ok()? * unit).round() as u64)
}

/// A file of the build context that `.dockerignore` leaves out, which the
/// harness adds to each side's copy of a fixture before the first build.
const IGNORED: &str = "dockfix-e2e-ignored.txt";

/// Adds `IGNORED` and the `.dockerignore` line that leaves it out.
fn add_ignored_file(dir: &Path) -> Result<()> {
    let path = dir.join(".dockerignore");
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text += IGNORED;
    text.push('\n');
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    let file = dir.join(IGNORED);
    std::fs::write(&file, "before\n").map_err(|e| format!("{}: {e}", file.display()))
}

fn ignored_edit() -> Edit {
    Edit {
        file: IGNORED.into(),
        find: "before".into(),
        replace: "after".into(),
    }
}

/// What `dockfix cache` says an edit reruns, by step label.
#[derive(Debug, Default)]
struct Prediction {
    /// Every step that reruns or may.
    reruns: BTreeSet<String>,
    /// Those that rerun only if the files they take from a stage that
    /// reran came out different.
    may: BTreeSet<String>,
}

impl Prediction {
    /// BuildKit ran every step that surely reruns, and no step the
    /// prediction leaves cached.
    fn agrees(&self, ran: &BTreeSet<String>) -> bool {
        self.reruns.difference(&self.may).all(|s| ran.contains(s)) && ran.is_subset(&self.reruns)
    }
}

/// What `dockfix cache` says an edit of `file` (in `dir`, the build
/// context) reruns.
fn cache_prediction(dockfix: &Path, dir: &Path, file: &str) -> Result<Prediction> {
    let output = Command::new(dockfix)
        .arg("cache")
        .arg(dir.join("Dockerfile"))
        .arg("--context")
        .arg(dir)
        .arg("--changed")
        .arg(dir.join(file))
        .args(["--format", "json"])
        .output()
        .map_err(|e| format!("dockfix cache: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "dockfix cache {}: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let document: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("dockfix cache {}: {e}", dir.display()))?;
    let labels = |field: &str| -> BTreeSet<String> {
        document[field]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|label| label.as_str().map(str::to_string))
            .collect()
    };
    Ok(Prediction {
        reruns: labels("reruns"),
        may: labels("may_rerun"),
    })
}

/// The file an edit changes, and its text before and after.
fn edited(dir: &Path, edit: &Edit) -> Result<(PathBuf, String, String)> {
    let path = dir.join(&edit.file);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !text.contains(edit.find.as_str()) {
        return Err(format!("{}: `{}` not found", path.display(), edit.find));
    }
    let changed = text.replacen(edit.find.as_str(), &edit.replace, 1);
    Ok((path, text, changed))
}

/// Runs `build` with `edit` made, and undoes it afterwards.
fn with_edit<T>(dir: &Path, edit: &Edit, build: impl FnOnce() -> Result<T>) -> Result<T> {
    let (path, text, changed) = edited(dir, edit)?;
    std::fs::write(&path, changed).map_err(|e| format!("{}: {e}", path.display()))?;
    let result = build();
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    result
}

/// Copies a fixture's build context (everything but `e2e.toml`), each file
/// with its modification time: COPY keeps it, and what a build derives
/// from it (a Python `.pyc` records its source's) must not differ between
/// the sides because they were copied in different seconds.
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    for entry in std::fs::read_dir(from)
        .map_err(|e| e.to_string())?
        .flatten()
    {
        let path = entry.path();
        // No repository can hold a `.git` of its own: a fixture's history
        // is `dot-git`.
        let name = entry.file_name();
        let target = to.join(if name == "dot-git" {
            ".git".into()
        } else {
            name
        });
        if path.is_dir() {
            copy_dir(&path, &target)?;
        } else if entry.file_name() != "e2e.toml" {
            let failed = |e: std::io::Error| format!("{}: {e}", path.display());
            std::fs::copy(&path, &target).map_err(failed)?;
            let modified = entry
                .metadata()
                .and_then(|m| m.modified())
                .map_err(failed)?;
            std::fs::File::options()
                .write(true)
                .open(&target)
                .and_then(|f| f.set_modified(modified))
                .map_err(failed)?;
        }
    }
    Ok(())
}

/// Runs `dockfix --write` with a variant's flags on `file`, its messages
/// going to `log`; a variant that pins asks the registry as Docker Hub's
/// mirror. An error when dockfix fails (exit status 2).
fn rewrite(
    dockfix: &Path,
    variant: &Variant,
    registry: &Registry,
    file: &Path,
    log: &Path,
) -> Result<()> {
    let mut command = Command::new(dockfix);
    command.arg("--write").args(variant.flags);
    if variant.pins {
        command
            .arg("--registry-mirror")
            .arg(format!("docker.io={}", registry.url()));
        // A proxy from the environment cannot reach the bridge address.
        command.env("NO_PROXY", no_proxy(&registry.addr));
        // dockfix keeps registry answers for an hour; a cache of the run's
        // own leaves the user's alone (this registry is gone after the run)
        // and asks this run's registry.
        command.env("DOCKFIX_CACHE_DIR", run_dir().join("dockfix-cache"));
    }
    let output = command
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("dockfix: {e}"))?;
    std::fs::write(log, [output.stdout, output.stderr].concat())
        .map_err(|e| format!("{}: {e}", log.display()))?;
    if output.status.code() == Some(2) {
        return Err(format!(
            "dockfix --write {} failed (see {})",
            variant.flags.join(" "),
            log.display()
        ));
    }
    Ok(())
}

/// `NO_PROXY` with the registry's host added to what the environment has.
fn no_proxy(addr: &str) -> String {
    let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
    match std::env::var("NO_PROXY").or_else(|_| std::env::var("no_proxy")) {
        Ok(list) if !list.trim().is_empty() => format!("{host},{list}"),
        _ => host.to_string(),
    }
}

/// The stages of a Dockerfile, from its AST dump.
fn stages(dump: &str) -> usize {
    dump.lines().filter(|l| l.starts_with("(from ")).count()
}

/// BuildKit's AST of a Dockerfile, as `dockfix parse --dump` prints it.
fn dump(dockfix: &Path, file: &Path) -> Result<String> {
    let output = Command::new(dockfix)
        .args(["parse", "--dump"])
        .arg(file)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("dockfix: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "dockfix parse --dump {}: {}",
            file.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Whether every command of a smoke log (see `Engine::docker_output`)
/// exited 0: a smoke that fails on the original proves nothing by failing
/// the same way after the rewrite.
fn smoke_passed(log: Option<&str>) -> bool {
    log.is_some_and(|log| {
        log.lines()
            .filter(|l| l.starts_with("[exit "))
            .all(|l| l == "[exit 0]")
    })
}

/// How many times a build or a container runs when the runtime, not the
/// Dockerfile or the command, fails.
const ATTEMPTS: usize = 3;

/// Counts the packages installed under the root `$0` (empty for `/`): dpkg's
/// installed entries and apk's.
const PACKAGES: &str = r#"n=0
if [ -f "$0/var/lib/dpkg/status" ]; then n=$(grep -c '^Status: install ok installed' "$0/var/lib/dpkg/status"); fi
if [ -f "$0/lib/apk/db/installed" ]; then n=$((n + $(grep -c '^P:' "$0/lib/apk/db/installed"))); fi
echo "$n""#;

/// Whether docker failed because the image has no `sh` to run.
fn no_shell(error: &str) -> bool {
    error.contains("executable file not found")
}

/// The output of `sh -c script args...` on the host.
fn on_host(script: &str, args: &[&str]) -> Result<String> {
    let output = Command::new("sh")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .map_err(|e| format!("sh: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "sh -c {script:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Whether a failed build's log shows the container runtime failing to start
/// a step's process because runc lost its init pipe under load: the step
/// never ran, so the Dockerfile is not at fault. A step whose executable is
/// missing fails to start too, but with another reason, and is not retried.
fn runtime_flake(log: &str) -> bool {
    log.lines().any(|line| {
        line.contains("unable to start container process")
            && (line.contains("read init-p") || line.contains("init preliminary setup"))
    })
}

struct Build {
    ok: bool,
    seconds: f64,
    steps: Steps,
    /// The labels of the steps it ran rather than took from the cache.
    reran: BTreeSet<String>,
}

/// The engines and the registry, up for as long as this value lives.
struct Engine {
    script: PathBuf,
    keep: bool,
    /// The registry the modern engine pulls Docker Hub images through.
    registry: Registry,
}

impl Engine {
    fn up(root: &Path, options: &Options) -> Result<Self> {
        let script = root.join("e2e/engine.sh");
        let mut up = Command::new("bash");
        up.arg(&script).arg("up");
        if options.trust_host_ca {
            up.arg("--trust-host-ca");
        }
        let mut engine = Engine {
            script,
            keep: options.keep_engine,
            registry: Registry {
                addr: String::new(),
                log: e2e_home().join("registry.log"),
            },
        };
        let status = up.status().map_err(|e| format!("e2e/engine.sh: {e}"))?;
        if !status.success() {
            return Err("the engines did not come up (see above)".into());
        }
        let addr = Command::new("bash")
            .arg(&engine.script)
            .arg("registry")
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("e2e/engine.sh: {e}"))?;
        if !addr.status.success() {
            return Err("the registry did not come up (see above)".into());
        }
        engine.registry.addr = String::from_utf8_lossy(&addr.stdout).trim().to_string();
        Ok(engine)
    }

    /// Untags any local image that answers to a pinned reference
    /// (`debian@sha256:...`), so the engine has to pull it through the
    /// mirror rather than find it.
    fn forget_local(&self, bases: &[Base]) -> Result<()> {
        for base in bases {
            let (Some(repo), Some(digest)) = (&base.hub_repo, &base.digest) else {
                continue;
            };
            let reference = format!("docker.io/{repo}@{digest}");
            if self
                .output(&["image", "inspect", &reference])?
                .status
                .success()
            {
                eprintln!("[e2e]   untagging the local {reference}");
                self.docker(&["image", "rm", &reference])?;
            }
        }
        Ok(())
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
        self.retrying(args, &mut |_, _| {})
    }

    /// Runs docker; a container or build step the runtime failed to start
    /// (see `runtime_flake`) is run again. `each` sees every attempt's
    /// output (stderr, then stdout) and whether another follows.
    fn retrying(&self, args: &[&str], each: &mut dyn FnMut(&str, bool)) -> Result<Output> {
        for attempt in 1..=ATTEMPTS {
            let output = self
                .command(args)
                .output()
                .map_err(|e| format!("docker {}: {e}", args.join(" ")))?;
            let text = String::from_utf8_lossy(&output.stderr).into_owned()
                + &String::from_utf8_lossy(&output.stdout);
            let again = !output.status.success() && attempt < ATTEMPTS && runtime_flake(&text);
            each(&text, again);
            if !again {
                return Ok(output);
            }
            eprintln!(
                "[e2e]   the runtime failed to start a container for `docker {}`; running it again",
                args.first().unwrap_or(&"")
            );
        }
        unreachable!("the last attempt returns")
    }

    /// Runs docker in the modern engine; its stdout, or an error.
    /// Removes the images runs built (`e2e/...`) and the layers no tag
    /// holds any more; the base images stay.
    fn forget_images(&self) -> Result<()> {
        let format = "{{.Repository}}:{{.Tag}}";
        let listed = self.docker(&[
            "image",
            "ls",
            "--format",
            format,
            "--filter",
            "reference=e2e/*",
        ])?;
        let tags: Vec<&str> = listed.lines().filter(|t| !t.is_empty()).collect();
        for chunk in tags.chunks(50) {
            let mut args = vec!["image", "rm", "-f"];
            args.extend(chunk);
            self.docker(&args)?;
        }
        self.docker(&["image", "prune", "-f"])?;
        Ok(())
    }

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

    /// The bytes of each package cache `image` carries, by cache; as root
    /// and whatever the image's entrypoint, so nothing is out of reach.
    fn package_caches(&self, image: &str) -> Result<BTreeMap<String, u64>> {
        let probe = caches::probe("");
        let output = match self.in_image(image, &probe, &[]) {
            Err(e) if no_shell(&e) => {
                let unpacked = self.unpacked(image)?;
                let root = unpacked.path().join("root");
                on_host(&caches::probe(&root.to_string_lossy()), &[])?
            }
            output => output?,
        };
        caches::parse(&output).map_err(|e| format!("package caches of {image}: {e}"))
    }

    /// How many packages `image` has installed, by dpkg's and apk's
    /// databases.
    fn packages(&self, image: &str) -> Result<u64> {
        let output = match self.in_image(image, PACKAGES, &[""]) {
            Err(e) if no_shell(&e) => {
                let unpacked = self.unpacked(image)?;
                on_host(PACKAGES, &[&unpacked.path().join("root").to_string_lossy()])?
            }
            output => output?,
        };
        output
            .trim()
            .parse()
            .map_err(|_| format!("packages of {image}: {output:?}"))
    }

    /// The output of `sh -c script args...` run in `image` as root.
    fn in_image(&self, image: &str, script: &str, args: &[&str]) -> Result<String> {
        let mut command = vec![
            "run",
            "--rm",
            "--user",
            "0",
            "--entrypoint",
            "sh",
            image,
            "-c",
            script,
        ];
        command.extend(args);
        self.docker(&command)
    }

    /// The file system of `image`, unpacked under the work directory (in
    /// `root/`): the probes read an image without a shell (`FROM scratch`)
    /// from the host.
    fn unpacked(&self, image: &str) -> Result<tempfile::TempDir> {
        let dir = tempfile::Builder::new()
            .prefix("unpacked-")
            .tempdir_in(e2e_home().join("work"))
            .map_err(|e| e.to_string())?;
        let archive = dir.path().join("image.tar");
        let id = self.docker(&["create", image])?;
        let id = id.trim();
        let exported = self.docker(&["export", "-o", &archive.to_string_lossy(), id]);
        self.docker(&["rm", id])?;
        exported?;
        let root = dir.path().join("root");
        std::fs::create_dir(&root).map_err(|e| e.to_string())?;
        // As root, tar keeps the owners and modes the image has.
        let status = Command::new("tar")
            .arg("-xf")
            .arg(&archive)
            .arg("-C")
            .arg(&root)
            .status()
            .map_err(|e| format!("tar: {e}"))?;
        if !status.success() {
            return Err(format!("tar could not unpack {image}"));
        }
        Ok(dir)
    }

    /// The bytes in each cache mount BuildKit keeps, by target path.
    fn cache_mounts(&self) -> Result<BTreeMap<String, u64>> {
        caches::mounts(&self.docker(&["system", "df", "-v", "--format", "{{json .BuildCache}}"])?)
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

    /// Builds `dir` as `tag`, timing the last attempt (see `retrying`);
    /// the log keeps every attempt.
    fn build(&self, dir: &Path, tag: &str, log: &Path) -> Result<Build> {
        let dir = dir.to_string_lossy();
        let (mut logged, mut attempts) = (String::new(), Vec::new());
        let (mut start, mut seconds) = (Instant::now(), 0.0);
        let output = self.retrying(
            &["build", "--progress=plain", "-t", tag, &dir],
            &mut |text, again| {
                seconds = start.elapsed().as_secs_f64();
                start = Instant::now();
                logged.push_str(text);
                if again {
                    logged.push_str(
                        "\n[e2e] the runtime failed to start a step container; building again\n\n",
                    );
                }
                attempts.push(text.to_string());
            },
        )?;
        std::fs::write(log, &logged).map_err(|e| format!("{}: {e}", log.display()))?;
        let attempts: Vec<&str> = attempts.iter().map(String::as_str).collect();
        let (steps, reran) = progress::over_attempts(&attempts);
        Ok(Build {
            ok: output.status.success(),
            seconds,
            steps,
            reran,
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

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"
smoke = ["python", "-c", "import app"]

[edit]
file = "app.py"
find = "Time left: "
replace = "Remaining: "
"#;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("dockfix-xtask-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_context_a_build_sent_is_read_from_its_progress() {
        let log = "#3 [internal] load .dockerignore\n#3 transferring context: 67B done\n\
                   #5 [internal] load build context\n#5 transferring context: 1.2kB\n\
                   #5 transferring context: 27.53kB 0.1s done\n#6 [2/3] COPY . .\n";
        assert_eq!(context_bytes(log), Some(27_530));
        assert_eq!(context_bytes("#1 [internal] load build definition\n"), None);
    }

    #[test]
    fn a_smoke_passes_when_every_command_exits_0() {
        assert!(smoke_passed(Some("hello\n[exit 0]\n")));
        assert!(smoke_passed(Some("a\n[exit 0]\nb\n[exit 0]\n")));
        assert!(!smoke_passed(Some("a\n[exit 0]\nb\n[exit 1]\n")));
        assert!(!smoke_passed(Some("[exit signal]\n")));
        assert!(!smoke_passed(None));
    }

    #[test]
    fn only_a_lost_init_pipe_counts_as_a_runtime_flake() {
        assert!(runtime_flake(
            "#12 0.220 runc run failed: unable to start container process: waiting for init \
             preliminary setup: read init-p: connection reset by peer\n"
        ));
        assert!(!runtime_flake(
            "#5 0.1 runc run failed: unable to start container process: exec: \"pyhton\": \
             executable file not found in $PATH\n"
        ));
        assert!(!runtime_flake(
            "#7 ERROR: process \"/bin/sh -c false\" did not complete\n"
        ));
    }

    #[test]
    fn the_dependency_edit_and_allowed_caches_are_optional() {
        let spec = Spec::parse(SPEC).unwrap();
        assert!(spec.dependency_edit.is_none());
        assert!(spec.allowed_caches().is_empty());
        let spec = Spec::parse(&format!(
            "{SPEC}\n[dependency_edit]\nfile = \"Dockerfile\"\nfind = \" procps\"\nreplace = \" procps file\"\n\n\
             [allowed_package_caches]\ncaches = [\"pip\"]\nreason = \"the app reads pip's cache\"\n"
        ))
        .unwrap();
        let edit = spec.dependency_edit.as_ref().unwrap();
        assert_eq!(
            (
                edit.file.as_str(),
                edit.find.as_str(),
                edit.replace.as_str()
            ),
            ("Dockerfile", " procps", " procps file")
        );
        assert_eq!(spec.allowed_caches(), ["pip"]);
    }

    #[test]
    fn ci_variants_narrow_only_the_ci_tier() {
        let names = |spec: &Spec, tier| -> Vec<&str> {
            spec.variants(tier).iter().map(|v| v.name).collect()
        };
        let all: Vec<&str> = VARIANTS.iter().map(|v| v.name).collect();
        let spec = Spec::parse(SPEC).unwrap();
        // The context variant only where a fixture asks for it.
        assert_eq!(
            names(&spec, Tier::Ci),
            ["safe", "unsafe", "mounts", "pinned"]
        );
        assert_eq!(names(&spec, Tier::Full), all);
        let spec =
            Spec::parse(&SPEC.replace("[edit]", "ci_variants = [\"unsafe\"]\n[edit]")).unwrap();
        assert_eq!(names(&spec, Tier::Ci), ["unsafe"]);
        assert_eq!(names(&spec, Tier::Full), all);
        assert!(Spec::parse(&SPEC.replace("[edit]", "ci_variants = [\"fast\"]\n[edit]")).is_err());
    }

    #[test]
    fn allowed_caches_need_a_reason_and_known_names() {
        let allowed = |caches: &str, reason: &str| {
            Spec::parse(&format!(
                "{SPEC}\n[allowed_package_caches]\ncaches = [{caches}]\nreason = \"{reason}\"\n"
            ))
        };
        assert!(allowed("\"npm\"", "why").is_ok());
        assert!(allowed("\"npm\"", " ")
            .unwrap_err()
            .contains("needs a reason"));
        assert!(allowed("\"pipx\"", "why")
            .unwrap_err()
            .contains("no cache named `pipx`"));
        assert!(Spec::parse(&format!("{SPEC}\n[allowed_package_caches]\ncaches = []\n")).is_err());
        assert!(Spec::parse(&format!(
            "{SPEC}\n[dependency_edit]\nfile = \"a\"\nfind = \"b\"\nreplace = \"c\"\nextra = 1\n"
        ))
        .is_err());
    }

    #[test]
    fn a_prediction_agrees_when_buildkit_ran_what_surely_reruns_and_nothing_cached() {
        let set = |labels: &[&str]| -> BTreeSet<String> {
            labels.iter().map(|l| l.to_string()).collect()
        };
        let predicted = Prediction {
            reruns: set(&["[build 5/7]", "[stage-1 1/2]", "[stage-1 2/2]"]),
            may: set(&["[stage-1 1/2]", "[stage-1 2/2]"]),
        };
        assert!(predicted.agrees(&set(&["[build 5/7]"])));
        assert!(predicted.agrees(&set(&["[build 5/7]", "[stage-1 2/2]"])));
        // A step that surely reruns did not, or one predicted cached did.
        assert!(!predicted.agrees(&set(&["[stage-1 2/2]"])));
        assert!(!predicted.agrees(&set(&["[build 5/7]", "[build 6/7]"])));
    }

    #[test]
    fn variants_keep_safe_and_unsafe_and_add_mounts_pins_and_context() {
        let names: Vec<_> = VARIANTS.iter().map(|v| v.name).collect();
        assert_eq!(names, ["safe", "unsafe", "mounts", "pinned", "context"]);
        let mounts = &VARIANTS[2];
        assert_eq!(mounts.flags, ["--cache-style", "mounts"]);
        assert!(mounts.no_package_caches);
        assert!(VARIANTS[..2].iter().all(|v| !v.no_package_caches));
        assert!(!mounts.flags.contains(&"--unsafe"));
        // Only the last pins, with safe fixes and the default cache style,
        // so its smoke output compares with the original's as `safe` does.
        let pinned = &VARIANTS[3];
        assert_eq!(pinned.flags, ["--pin", "both"]);
        assert!(pinned.pins && !pinned.no_package_caches);
        assert!(VARIANTS[..3].iter().all(|v| !v.pins));
        // The context rules alone, which change only `.dockerignore`.
        let context = &VARIANTS[4];
        assert_eq!(context.flags, ["--select", "DF601,DF602"]);
        assert!(!context.ci && !context.pins && !context.no_package_caches);
    }

    #[test]
    fn the_registry_host_goes_first_in_no_proxy() {
        // Whatever the environment has, the registry's host leads the list.
        assert!(no_proxy("172.17.0.1:40000").starts_with("172.17.0.1"));
        assert!(!no_proxy("172.17.0.1:40000").contains(":40000"));
    }

    #[test]
    fn an_edit_is_made_and_undone() {
        let dir = scratch("edit");
        std::fs::write(dir.join("Dockerfile"), "RUN apt-get install -y procps\n").unwrap();
        let edit = Edit {
            file: "Dockerfile".into(),
            find: " procps".into(),
            replace: " procps file".into(),
        };
        let seen = with_edit(&dir, &edit, || {
            Ok(std::fs::read_to_string(dir.join("Dockerfile")).unwrap())
        })
        .unwrap();
        assert_eq!(seen, "RUN apt-get install -y procps file\n");
        assert_eq!(
            std::fs::read_to_string(dir.join("Dockerfile")).unwrap(),
            "RUN apt-get install -y procps\n"
        );
        // Undone even when the build fails.
        let failed: Result<()> = with_edit(&dir, &edit, || Err("no".into()));
        assert_eq!(failed.unwrap_err(), "no");
        assert_eq!(
            std::fs::read_to_string(dir.join("Dockerfile")).unwrap(),
            "RUN apt-get install -y procps\n"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_edit_whose_text_is_missing_is_an_error_naming_the_file() {
        let dir = scratch("missing");
        std::fs::write(
            dir.join("Dockerfile"),
            "RUN apt-get install --no-install-recommends -y jq\n",
        )
        .unwrap();
        let edit = Edit {
            file: "Dockerfile".into(),
            find: " procps".into(),
            replace: " procps file".into(),
        };
        let error = edited(&dir, &edit).unwrap_err();
        assert!(error.contains("Dockerfile: ` procps` not found"), "{error}");
        let missing_file = Edit {
            file: "requirements.txt".into(),
            ..edit
        };
        assert!(edited(&dir, &missing_file)
            .unwrap_err()
            .contains("requirements.txt"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Every fixture's spec parses and its edits apply to its own files
    /// (the harness checks the rewrites too, before building anything).
    #[test]
    fn the_fixtures_specs_parse_and_their_edits_apply() {
        let fixtures = fixtures(&repo_root(), &[]).unwrap();
        let mut with_dependency_edit = vec![];
        for fixture in &fixtures {
            let spec_path = fixture.join("e2e.toml");
            let spec = Spec::parse(&std::fs::read_to_string(&spec_path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", spec_path.display()));
            edited(fixture, &spec.edit).unwrap();
            if let Some(edit) = &spec.dependency_edit {
                let (_, before, after) = edited(fixture, edit).unwrap();
                assert_ne!(before, after);
                with_dependency_edit
                    .push(fixture.file_name().unwrap().to_string_lossy().into_owned());
            }
            assert!(
                spec.allowed_package_caches.is_none(),
                "{}",
                fixture.display()
            );
        }
        for name in ["apt-tools", "node-npm", "python-pip", "rust-cargo"] {
            assert!(with_dependency_edit.iter().any(|n| n == name), "{name}");
        }
    }
}
