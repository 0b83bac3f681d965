//! Development tasks for dockfix.
//!
//! `cargo run -p xtask -- e2e` proves rewrites on a real Docker engine: see
//! `e2e/`. `cargo run --release -p xtask -- fuzz` fuzzes dockfix with
//! mutants of the corpus and the fixtures: see `fuzz/`.

mod e2e;
mod fuzz;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::{Parser, Subcommand};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Build every fixture in fixtures/e2e before and after `dockfix --write`
    /// on a real engine, compare behaviour, size and rebuild time.
    E2e(e2e::Options),
    /// Fix mutants of the corpus and the rule fixtures: no panic, exit 0, 1
    /// or 2, a second `--write` changes nothing, and BuildKit accepts the
    /// rewrite of every mutant it accepts.
    Fuzz(FuzzOptions),
}

#[derive(clap::Args)]
struct FuzzOptions {
    /// The run's seed: with a mutant's index it makes the same mutant.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How many mutants.
    #[arg(long, default_value_t = 10_000)]
    mutants: u64,
    /// The index of the first mutant (with `--mutants 1`, one failure again).
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// Run every Nth mutant through the dockfix binary too.
    #[arg(long, default_value_t = 20)]
    binary_every: u64,
    /// Mutants whose rewrites BuildKit checks together.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Threads fixing mutants.
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// tally, for BuildKit's verdict (default: `DOCKFIX_TALLY`; without
    /// either, rewrites are not checked against BuildKit).
    #[arg(long)]
    tally: Option<PathBuf>,
    /// The corpus (default: `DOCKFIX_CORPUS`, else `../shared/corpus` beside the
    /// repository).
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Where failing mutants are written.
    #[arg(long, default_value = "target/fuzz")]
    out: PathBuf,
}

fn main() -> ExitCode {
    match Cli::parse().task {
        Task::E2e(options) => match e2e::run(&options) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                eprintln!("[e2e] error: {e}");
                ExitCode::from(2)
            }
        },
        Task::Fuzz(options) => fuzz(options),
    }
}

fn fuzz(options: FuzzOptions) -> ExitCode {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--release", "--quiet", "-p", "dockfix"])
        .current_dir(&root)
        .status();
    if !built.is_ok_and(|s| s.success()) {
        eprintln!("[fuzz] building dockfix failed");
        return ExitCode::from(2);
    }
    let Some(corpus) = options.corpus.or_else(fuzz::inputs::corpus) else {
        return ExitCode::from(2);
    };
    let tally = options
        .tally
        .map(fuzz::tally::Tally::new)
        .or_else(fuzz::tally::Tally::from_env);
    if tally.is_none() {
        eprintln!(
            "[fuzz] no tally (--tally or DOCKFIX_TALLY): rewrites are not checked against BuildKit"
        );
    }
    let config = fuzz::Config {
        corpus,
        fixtures: root.join("fixtures/rules"),
        seed: options.seed,
        start: options.start,
        mutants: options.mutants,
        binary: Some(root.join("target/release/dockfix")),
        binary_every: options.binary_every,
        batch: options.batch,
        jobs: options.jobs,
        out: options.out,
    };
    let started = std::time::Instant::now();
    let report = fuzz::run(&config, tally.as_ref(), &|line| eprintln!("{line}"));
    eprintln!(
        "[fuzz] seed {}: {} mutants in {:.0?} ({} parsed by dockfix, {} rewritten, {} through the binary); BuildKit asked about {} ({} rejected), {} distinct rewrites checked, {} tally processes",
        config.seed,
        report.mutants,
        started.elapsed(),
        report.parsed,
        report.rewritten,
        report.binary_runs,
        report.asked,
        report.rejected_inputs,
        report.rewrites_checked,
        report.tally_processes,
    );
    let mut reasons: Vec<_> = report.rejections.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1));
    for (reason, count) in reasons {
        eprintln!("[fuzz] rejected by BuildKit, rewritten by dockfix: {count:>6}  {reason}");
    }
    let classes = report.by_class();
    for (class, count) in &classes {
        eprintln!("[fuzz] {class:?}: {count}");
    }
    if classes.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
