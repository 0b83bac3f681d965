//! The mutation fuzzer (`xtask/src/fuzz/`) on a small budget: mutants of the
//! corpus and the rule fixtures, fixed in process and through the binary,
//! and checked against BuildKit when `DOCKFIX_TALLY` is set. The long run
//! is `cargo run --release -p xtask -- fuzz`. `DOCKFIX_FUZZ_SEED` picks
//! another seed than the fixed one.

#[path = "../xtask/src/fuzz/mod.rs"]
mod fuzz;

#[test]
fn mutants_of_the_corpus_and_fixtures_pass_every_check() {
    let Some(corpus) = fuzz::inputs::corpus() else {
        return;
    };
    let seed = std::env::var("DOCKFIX_FUZZ_SEED").map_or(1, |s| s.parse().unwrap());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = fuzz::Config {
        corpus,
        fixtures: root.join("fixtures/rules"),
        seed,
        start: 0,
        mutants: 300,
        binary: Some(env!("CARGO_BIN_EXE_dockfix").into()),
        binary_every: 30,
        batch: 300,
        jobs: 2,
        out: std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz"),
    };
    let tally = fuzz::tally::Tally::from_env();
    let report = fuzz::run(&config, tally.as_ref(), &|line| eprintln!("{line}"));
    // Each failure was printed with its reproducer as it was found.
    assert!(report.failures.is_empty(), "{:?}", report.by_class());
    // The mutants reach the rules, not only the parser's errors.
    assert!(
        report.parsed > report.mutants / 2,
        "{} parsed",
        report.parsed
    );
    assert!(
        report.rewritten > report.mutants / 5,
        "{} rewritten",
        report.rewritten
    );
    assert_eq!(report.binary_runs, 10);
    if tally.is_some() {
        // BuildKit was asked about every mutant dockfix rewrote, and
        // accepted most of them.
        assert_eq!(report.asked, report.rewritten);
        assert!(report.rewrites_checked > report.rewritten / 2);
    }
    eprintln!(
        "{} mutants, {} rewritten, {} rewrites accepted by BuildKit ({} of {} mutants it rejects), {} tally processes",
        report.mutants,
        report.rewritten,
        report.rewrites_checked,
        report.rejected_inputs,
        report.asked,
        report.tally_processes
    );
}
