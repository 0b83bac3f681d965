//! The mutation fuzzer: `cargo run --release -p xtask -- fuzz`.
//!
//! Mutants of the corpus files and the rule fixtures (`mutate.rs`) are
//! fixed in both cache styles, with and without unsafe fixes, in process,
//! checking that dockfix never panics and that fixing a fixed file changes
//! nothing. Every `binary_every`-th mutant also goes through the binary
//! (`--write`, then `--write` again), which must exit 0, 1 or 2, leave a
//! file it rejects untouched and change nothing the second time. With
//! tally, every mutant BuildKit accepts must have rewrites BuildKit accepts
//! too, and every mutant it rejects must be one dockfix refuses. Each
//! failure is written out with how to make it again.

pub mod mutate;

#[path = "../../../tests/common/inputs.rs"]
pub mod inputs;
#[path = "../../../tests/common/tally.rs"]
pub mod tally;

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;

use dockfix::engine::{fix, FixError, Settings};

pub struct Config {
    /// The corpus directory (`../shared/corpus`).
    pub corpus: PathBuf,
    /// `fixtures/rules`: Dockerfiles with the build context they read.
    pub fixtures: PathBuf,
    pub seed: u64,
    /// The index of the first mutant, and how many.
    pub start: u64,
    pub mutants: u64,
    /// The dockfix binary, run on every `binary_every`-th mutant.
    pub binary: Option<PathBuf>,
    pub binary_every: u64,
    /// Mutants whose rewrites BuildKit checks together.
    pub batch: usize,
    /// Threads fixing mutants.
    pub jobs: usize,
    /// Where failing mutants are written.
    pub out: PathBuf,
}

/// What a check found wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    Panic,
    /// The binary exited other than 0, 1 or 2.
    OddExit,
    /// The binary changed a file it could not fix.
    TouchedBadInput,
    NotIdempotent,
    /// A fix produced a file dockfix itself does not parse (the file is
    /// left untouched, but the fix is wrong).
    InternalError,
    /// BuildKit accepts the mutant and rejects its rewrite.
    RejectedRewrite,
    /// BuildKit rejects the mutant and dockfix rewrote it, where it should
    /// have refused it with BuildKit's reason.
    RewroteRejected,
}

pub struct Failure {
    pub class: Class,
    /// The mutant, written out.
    pub file: PathBuf,
}

#[derive(Default)]
pub struct Report {
    pub mutants: u64,
    /// Mutants dockfix parses, and of them the ones it rewrites.
    pub parsed: u64,
    pub rewritten: u64,
    pub binary_runs: u64,
    /// Mutants BuildKit was asked about, those it rejects, and the distinct
    /// rewrites of the others it then checked.
    pub asked: u64,
    pub rejected_inputs: u64,
    /// BuildKit's reasons for rejecting the mutants dockfix rewrote, with
    /// digits and quoted text taken out, and how many each rejected.
    pub rejections: BTreeMap<String, u64>,
    pub rewrites_checked: u64,
    pub tally_processes: usize,
    pub failures: Vec<Failure>,
}

impl Report {
    /// How many mutants failed each class of check (in one or more
    /// settings).
    pub fn by_class(&self) -> BTreeMap<Class, usize> {
        let mut mutants: BTreeMap<Class, BTreeSet<&Path>> = BTreeMap::new();
        for f in &self.failures {
            mutants.entry(f.class).or_default().insert(&f.file);
        }
        mutants.into_iter().map(|(c, m)| (c, m.len())).collect()
    }
}

/// A file mutants are made from.
struct Seed {
    name: String,
    bytes: Vec<u8>,
    /// The build context its rules read (fixtures have one).
    context: Option<PathBuf>,
}

/// One mutant's outcome before BuildKit is asked.
struct Outcome {
    index: u64,
    bytes: Vec<u8>,
    parsed: bool,
    /// Distinct rewrites, with the settings that made them.
    rewrites: Vec<(String, Vec<u8>)>,
    failures: Vec<(Class, String)>,
    binary_run: bool,
}

/// The mutant with this index, and the names of the seed file and the
/// mutations it is made of.
fn mutant(seeds: &[Seed], seed: u64, index: u64) -> (usize, Vec<u8>, Vec<&'static str>) {
    let mut rng = mutate::Rng::new(seed, index);
    let from = rng.below(seeds.len());
    let donor = rng.below(seeds.len());
    let mut bytes = seeds[from].bytes.clone();
    let count = 1 + rng.below(4);
    let names = (0..count)
        .map(|_| mutate::mutate(&mut rng, &mut bytes, &seeds[donor].bytes))
        .collect();
    (from, bytes, names)
}

/// Runs the fuzzer, printing progress and failures through `log`.
pub fn run(config: &Config, tally: Option<&tally::Tally>, log: &dyn Fn(&str)) -> Report {
    let seeds = seeds(&config.corpus, &config.fixtures);
    assert!(!seeds.is_empty(), "no seed files");
    std::fs::create_dir_all(&config.out).expect("the output directory");
    let settings = inputs::every_setting();
    let mut report = Report::default();
    let end = config.start + config.mutants;
    let mut next = config.start;
    while next < end {
        let chunk_end = (next + config.batch as u64).min(end);
        let jobs = config.jobs.max(1) as u64;
        let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..jobs)
                .map(|job| {
                    let (seeds, settings) = (&seeds, &settings);
                    scope.spawn(move || {
                        (next + job..chunk_end)
                            .step_by(jobs as usize)
                            .map(|index| check(config, seeds, settings, index))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().expect("a fuzzing thread"))
                .collect()
        });
        let mut asked = Vec::new();
        for outcome in outcomes {
            report.mutants += 1;
            report.parsed += u64::from(outcome.parsed);
            report.rewritten += u64::from(!outcome.rewrites.is_empty());
            report.binary_runs += u64::from(outcome.binary_run);
            for (class, detail) in &outcome.failures {
                report
                    .failures
                    .push(failure(config, &seeds, log, *class, &outcome, detail));
            }
            if tally.is_some() && !outcome.rewrites.is_empty() {
                asked.push(outcome);
            }
        }
        if let Some(tally) = tally {
            accepted(config, &seeds, tally, &asked, &mut report, log);
            report.tally_processes = tally.processes.get();
        }
        next = chunk_end;
        log(&format!(
            "[fuzz] {} mutants, {} rewritten, {} failures; BuildKit rejects {} of {} mutants asked, {} rewrites of the others checked ({} tally processes)",
            report.mutants,
            report.rewritten,
            report.failures.len(),
            report.rejected_inputs,
            report.asked,
            report.rewrites_checked,
            report.tally_processes,
        ));
    }
    report
}

/// BuildKit's verdict on the mutants it was asked about, then on the
/// distinct rewrites of those it accepts.
fn accepted(
    config: &Config,
    seeds: &[Seed],
    tally: &tally::Tally,
    asked: &[Outcome],
    report: &mut Report,
    log: &dyn Fn(&str),
) {
    let inputs: Vec<&[u8]> = asked.iter().map(|o| o.bytes.as_slice()).collect();
    let verdicts = tally.verdicts(&inputs);
    report.asked += asked.len() as u64;
    let accepted: Vec<&Outcome> = asked
        .iter()
        .zip(&verdicts)
        .filter_map(|(o, v)| v.is_none().then_some(o))
        .collect();
    report.rejected_inputs += (asked.len() - accepted.len()) as u64;
    for (outcome, reason) in asked.iter().zip(&verdicts) {
        let Some(reason) = reason else { continue };
        if !tally::is_tally_own(reason) {
            let f = failure(config, seeds, log, Class::RewroteRejected, outcome, reason);
            report.failures.push(f);
        }
        let count = report.rejections.entry(reason_kind(reason)).or_default();
        *count += 1;
        if *count == 1 {
            // One example of each reason, to read.
            let file = config.out.join(format!(
                "rejected-seed{}-{}.Dockerfile",
                config.seed, outcome.index
            ));
            std::fs::write(&file, &outcome.bytes).expect("writing the mutant");
            log(&format!(
                "[fuzz] BuildKit rejects {} (rewritten by dockfix): {reason}",
                file.display()
            ));
        }
    }
    let rewrites: Vec<(&Outcome, &str, &[u8])> = accepted
        .iter()
        .flat_map(|o| {
            o.rewrites
                .iter()
                .map(move |(setting, r)| (*o, setting.as_str(), r.as_slice()))
        })
        .collect();
    let contents: Vec<&[u8]> = rewrites.iter().map(|(_, _, r)| *r).collect();
    report.rewrites_checked += contents.len() as u64;
    for ((outcome, setting, rewrite), verdict) in rewrites.iter().zip(tally.verdicts(&contents)) {
        let Some(error) = verdict else {
            continue;
        };
        let f = failure(
            config,
            seeds,
            log,
            Class::RejectedRewrite,
            outcome,
            &format!("{setting}: {error}"),
        );
        let slug: String = setting
            .chars()
            .map(|c| if c.is_alphanumeric() { c } else { '-' })
            .collect();
        let rewrite_file = f.file.with_extension(format!("{slug}.rewrite"));
        std::fs::write(&rewrite_file, rewrite).expect("writing the rewrite");
        report.failures.push(f);
    }
}

/// A rejection's reason without the file name, numbers and quoted text,
/// so that mutants rejected for the same reason count together.
fn reason_kind(message: &str) -> String {
    let message = message.strip_prefix("Error: ").unwrap_or(message);
    let message = message
        .split_whitespace()
        .filter(|w| !w.contains(".Dockerfile"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut kind = String::new();
    let mut quote = None;
    for c in message.chars() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                kind.push(c);
            }
            Some(_) => {}
            None if matches!(c, '"' | '`' | '\'') => {
                quote = Some(c);
                kind.push(c);
                kind.push('…');
            }
            None if c.is_ascii_digit() => {
                if !kind.ends_with('N') {
                    kind.push('N');
                }
            }
            None => kind.push(c),
        }
    }
    kind
}

/// Records a failure: writes the mutant and prints how to make it again.
fn failure(
    config: &Config,
    seeds: &[Seed],
    log: &dyn Fn(&str),
    class: Class,
    outcome: &Outcome,
    detail: &str,
) -> Failure {
    let (from, _, names) = mutant(seeds, config.seed, outcome.index);
    let file = config
        .out
        .join(format!("seed{}-{}.Dockerfile", config.seed, outcome.index));
    std::fs::write(&file, &outcome.bytes).expect("writing the mutant");
    log(&format!(
        "[fuzz] {class:?}: mutant {index} of seed {seed} ({seed_file}: {names}) written to {file}\n  {detail}\n  again: cargo run --release -p xtask -- fuzz --seed {seed} --start {index} --mutants 1",
        index = outcome.index,
        seed = config.seed,
        seed_file = seeds[from].name,
        names = names.join(", "),
        file = file.display(),
    ));
    Failure { class, file }
}

/// Makes mutant `index` and checks it in process, and through the binary
/// when its turn comes.
fn check(config: &Config, seeds: &[Seed], settings: &[Settings<'static>], index: u64) -> Outcome {
    let (from, bytes, _) = mutant(seeds, config.seed, index);
    let seed = &seeds[from];
    let mut outcome = Outcome {
        index,
        bytes,
        parsed: false,
        rewrites: Vec::new(),
        failures: Vec::new(),
        binary_run: false,
    };
    for base in settings {
        let settings = Settings {
            rules: base.rules.clone(),
            build_context: seed.context.as_deref(),
            ecosystems: base.ecosystems,
            runtime_images: base.runtime_images,
            ..*base
        };
        let label = label(&settings);
        match fix_twice(&outcome.bytes, &settings) {
            Ok(None) => {}
            Ok(Some(rewrite)) => {
                outcome.parsed = true;
                if rewrite != outcome.bytes && outcome.rewrites.iter().all(|(_, r)| *r != rewrite) {
                    outcome.rewrites.push((label, rewrite));
                }
            }
            Err((class, detail)) => {
                outcome.parsed = true;
                outcome.failures.push((class, format!("{label}: {detail}")));
            }
        }
    }
    if let Some(binary) = config
        .binary
        .as_deref()
        .filter(|_| index % config.binary_every.max(1) == 0)
    {
        outcome.binary_run = true;
        for (flags, label) in FLAGS {
            if let Err((class, detail)) = binary_twice(binary, seed, &outcome.bytes, flags) {
                outcome
                    .failures
                    .push((class, format!("dockfix --write {label}: {detail}")));
            }
        }
    }
    outcome
}

/// The command-line flags of each setting `inputs::every_setting` makes.
const FLAGS: [(&[&str], &str); 4] = [
    (&[], ""),
    (&["--unsafe"], "--unsafe"),
    (&["--cache-style", "mounts"], "--cache-style mounts"),
    (
        &["--cache-style", "mounts", "--unsafe"],
        "--cache-style mounts --unsafe",
    ),
];

fn label(settings: &Settings) -> String {
    let mounts = settings.rules.iter().any(|r| r.id == "DF301");
    format!(
        "{}, unsafe: {}",
        if mounts { "mounts" } else { "cleanup" },
        settings.unsafe_fixes
    )
}

/// The rewrite of a file dockfix parses (None when it does not), checking
/// that fixing it again changes nothing.
fn fix_twice(bytes: &[u8], settings: &Settings) -> Result<Option<Vec<u8>>, (Class, String)> {
    let once = match guarded(|| fix(bytes, settings))? {
        Ok(fixed) => fixed.file.source,
        Err(FixError::Parse(_)) => return Ok(None),
        Err(FixError::Internal(e)) => return Err((Class::InternalError, e)),
    };
    match guarded(|| fix(&once, settings)).map_err(|(c, e)| (c, format!("second run: {e}")))? {
        Ok(twice) if twice.applied.is_empty() && twice.file.source == once => Ok(Some(once)),
        Ok(twice) => {
            let ids: Vec<&str> = twice.applied.iter().map(|r| r.id).collect();
            Err((
                Class::NotIdempotent,
                format!("a second run applied {}", ids.join(", ")),
            ))
        }
        Err(e) => Err((Class::NotIdempotent, format!("a second run failed: {e:?}"))),
    }
}

/// `f`'s result, or its panic's message.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, (Class, String)> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        (Class::Panic, message)
    })
}

/// `dockfix --write` with `flags`, twice, on the mutant in a copy of its
/// seed's build context.
fn binary_twice(
    binary: &Path,
    seed: &Seed,
    bytes: &[u8],
    flags: &[&str],
) -> Result<(), (Class, String)> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    if let Some(context) = &seed.context {
        copy_tree(context, dir.path());
    }
    let file = dir.path().join("Dockerfile");
    std::fs::write(&file, bytes).expect("writing the mutant");
    let run = || {
        let output = Command::new(binary)
            .args(["--write", "--color", "never"])
            .args(flags)
            .arg("Dockerfile")
            .current_dir(dir.path())
            .output()
            .expect("running dockfix");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        match output.status.code() {
            Some(code @ 0..=2) => Ok((code, std::fs::read(&file).expect("the mutant"))),
            _ => Err((
                Class::OddExit,
                format!("{}: {}", output.status, stderr.trim()),
            )),
        }
    };
    let (code, once) = run()?;
    if code == 2 {
        return if once == bytes {
            Ok(())
        } else {
            Err((Class::TouchedBadInput, "exit 2 and the file changed".into()))
        };
    }
    let (code, twice) = run()?;
    if twice != once {
        return Err((Class::NotIdempotent, "a second --write changed it".into()));
    }
    if code == 2 {
        return Err((Class::NotIdempotent, "a second --write exited 2".into()));
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from)
        .expect("a fixture directory")
        .flatten()
    {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir(&target).expect("a directory");
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("a fixture file");
        }
    }
}

/// The corpus files and every rule fixture's Dockerfile (with its build
/// context), in a fixed order so a seed and an index name one mutant.
fn seeds(corpus: &Path, fixtures: &Path) -> Vec<Seed> {
    let mut seeds: Vec<Seed> = inputs::dockerfiles(corpus)
        .into_iter()
        .map(|path| Seed {
            name: path
                .strip_prefix(corpus)
                .unwrap_or(&path)
                .display()
                .to_string(),
            bytes: std::fs::read(&path).expect("a corpus file"),
            context: None,
        })
        .collect();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures)
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|rule| {
            std::fs::read_dir(rule.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|case| case.path())
        .filter(|case| case.join("Dockerfile").is_file())
        .collect();
    dirs.sort();
    seeds.extend(dirs.into_iter().map(|dir| {
        Seed {
            name: dir
                .strip_prefix(fixtures)
                .unwrap_or(&dir)
                .display()
                .to_string(),
            bytes: std::fs::read(dir.join("Dockerfile")).expect("a fixture"),
            context: Some(dir),
        }
    }));
    seeds
}
