//! Throughput over the corpus: dockfix (parse, every rule of a cache style,
//! every fix) in process, with the binary's allocator, and as one CLI run
//! over all files, for each style, beside hadolint and tally run on the same
//! files in the same run. Pin it to one core with `bench/throughput.sh`
//! (taskset), which also installs the peers.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use dockfix::engine::{fix, Settings};
use dockfix::rules::CacheStyle;

// In process as on the command line: the binary's allocator, for Rust's
// allocations and tree-sitter's.
#[global_allocator]
static ALLOCATOR: dockfix::allocator::Mimalloc = dockfix::allocator::Mimalloc;

fn corpus() -> PathBuf {
    std::env::var_os("DOCKFIX_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"))
}

fn dockerfiles(corpus: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![
        corpus.join("real"),
        corpus.join("buildkit-testfiles"),
        corpus.join("parfum-testfiles"),
    ];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if !path.starts_with(corpus.join("buildkit-testfiles"))
                || path.file_name().is_some_and(|n| n == "Dockerfile")
            {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn peer(name: &str) -> Option<PathBuf> {
    let dirs = [
        std::env::var_os("DOCKFIX_PEERS").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/.venv/bin")),
    ];
    dirs.into_iter()
        .flatten()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Wall time of one run of `program args files...`.
fn time_batch(program: &Path, args: &[&str], files: &[PathBuf]) -> Duration {
    let start = Instant::now();
    let status = Command::new(program)
        .args(args)
        .args(files)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("the peer runs");
    let elapsed = start.elapsed();
    assert!(status.code().is_some(), "{} was killed", program.display());
    elapsed
}

fn main() {
    // Safety: nothing has touched tree-sitter yet.
    unsafe { dockfix::allocator::tree_sitter_on_mimalloc() };
    let files = dockerfiles(&corpus());
    assert_eq!(
        files.len(),
        255,
        "the corpus holds 255 Dockerfiles (DOCKFIX_CORPUS)"
    );
    let sources: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    // In process: passes over the whole corpus, each file once per pass and
    // the parse cache emptied first, as in a fresh process, and last, inside
    // the pass's time; per-file times
    // from every pass, then the median. Once per cache style, with the
    // rules that style runs.
    let cli = Path::new(env!("CARGO_BIN_EXE_dockfix"));
    let n = files.len() as f64;
    let fps = |d: Duration| n / d.as_secs_f64();
    println!("files: {}", files.len());
    // The styles take turns, pass by pass and CLI run by CLI run, so that
    // the machine's drift over the run weighs on both alike: their ratio
    // is what the figures compare.
    let settings: Vec<(CacheStyle, Settings)> = [CacheStyle::Cleanup, CacheStyle::Mounts]
        .into_iter()
        .map(|style| {
            let settings = Settings {
                rules: dockfix::rules::selection(&[], &[], style, &[]).expect("the default rules"),
                unsafe_fixes: true,
                build_context: None,
                companions: false,
                dockerfile: None,
                pins: None,
                ecosystems: None,
                runtime_images: &dockfix::config::NO_RUNTIME_IMAGES,
            };
            (style, settings)
        })
        .collect();
    let mut per_file = vec![Vec::new(); settings.len()];
    let mut passes = vec![Vec::new(); settings.len()];
    for _ in 0..10 {
        for (k, (_, settings)) in settings.iter().enumerate() {
            dockfix::syntax::shell::clear_cache();
            let pass = Instant::now();
            for source in &sources {
                let start = Instant::now();
                let _ = std::hint::black_box(fix(std::hint::black_box(source), settings));
                per_file[k].push(start.elapsed());
            }
            // The trees the pass parsed are dropped inside its time, as a
            // process drops them when it ends. Outside it, a style whose
            // pass outgrows the tree cache (which then empties itself
            // midway) paid for dropping trees the other style left to the
            // next pass's clearing.
            dockfix::syntax::shell::clear_cache();
            passes[k].push(pass.elapsed());
        }
    }
    // A CLI run is a tenth of a second: the median of seven, as a style's
    // median of three moved by 3% from one bench run to the next.
    let mut cli_runs = vec![Vec::new(); settings.len()];
    for _ in 0..7 {
        for (k, (style, _)) in settings.iter().enumerate() {
            cli_runs[k].push(time_batch(
                cli,
                &["--check", "--unsafe", "--cache-style", style.label()],
                &files,
            ));
        }
    }
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let mut styles = Vec::new();
    for (k, (style, settings)) in settings.iter().enumerate() {
        let in_process = fps(median(&mut passes[k]));
        let cli_rate = fps(median(&mut cli_runs[k]));
        println!(
            "dockfix --cache-style {} ({} rules): in process {in_process:.0} files/s, median {:.3} ms per file; CLI, one run over all files (median of 7): {cli_rate:.0} files/s",
            style.label(),
            settings.rules.len(),
            median(&mut per_file[k]).as_secs_f64() * 1e3
        );
        styles.push((style.label(), in_process, cli_rate));
    }
    println!(
        "mounts against cleanup: in process {:.2}x, CLI {:.2}x the time",
        styles[0].1 / styles[1].1,
        styles[0].2 / styles[1].2
    );
    let (in_process, cli_rate) = (styles[0].1, styles[0].2);

    let mut rows = vec![
        ("dockfix (in process)", in_process),
        ("dockfix (CLI)", cli_rate),
    ];
    match peer("hadolint") {
        Some(hadolint) => {
            let t = time_batch(&hadolint, &["--no-fail"], &files);
            println!("hadolint, one run over all files: {:.1} files/s", fps(t));
            rows.push(("hadolint", fps(t)));
        }
        None => println!("hadolint: not found (run bench/peers.sh)"),
    }
    match peer("tally") {
        Some(tally) => {
            // tally lints only files named like Dockerfiles and stops a
            // multi-file run at the first file BuildKit rejects: it gets
            // copies named Dockerfile, less the ones it rejects (found
            // untimed), in one timed run, its best case.
            let dir = tempfile::tempdir().expect("a temporary directory");
            let lint = ["lint", "--slow-checks", "off"];
            let accepted: Vec<PathBuf> = files
                .iter()
                .enumerate()
                .map(|(i, file)| {
                    let copy = dir.path().join(i.to_string());
                    std::fs::create_dir(&copy).unwrap();
                    std::fs::copy(file, copy.join("Dockerfile")).unwrap();
                    copy.join("Dockerfile")
                })
                .filter(|copy| {
                    let status = Command::new(&tally)
                        .args(lint)
                        .arg(copy)
                        .output()
                        .expect("tally runs")
                        .status;
                    matches!(status.code(), Some(0 | 1))
                })
                .collect();
            let t = time_batch(&tally, &lint, &accepted);
            let rate = accepted.len() as f64 / t.as_secs_f64();
            println!(
                "tally, one run over the {} files BuildKit accepts: {rate:.1} files/s",
                accepted.len()
            );
            rows.push(("tally", rate));
        }
        None => println!("tally: not found (run bench/peers.sh)"),
    }
    for (name, rate) in &rows[2..] {
        for (style, in_process, cli_rate) in &styles {
            println!(
                "ratio vs {name}, {style}: in process {:.0}x, CLI {:.0}x",
                in_process / rate,
                cli_rate / rate
            );
        }
    }
}
