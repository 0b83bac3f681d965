//! The ordering rules (DF101, DF102) on real repositories: the Dockerfiles
//! of `fixtures/repos/` (public repositories pruned by
//! `bench/repos/import.py`, listed with their licences in `MANIFEST.tsv`),
//! each with its repository's own build context. Prints how many of the
//! installs that follow the full copy are fixed, and why the others are
//! not; every rewrite (all rules, with and without unsafe fixes) must be
//! stable and, with `DOCKFIX_TALLY`, accepted by BuildKit.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dockfix::engine::{fix, lint, Settings};
use dockfix::rules::{selection, Applicability, CacheStyle};
use dockfix::syntax::parse;

/// The share of findings fixed (safe fixes and, under `--unsafe`, unsafe
/// ones) that the rules must keep reaching. It only goes up: raise it when
/// the rules fix more.
const FLOOR: f64 = 0.56;

/// The share of findings with a safe fix, which only goes up too.
const SAFE_FLOOR: f64 = 0.47;

struct Row {
    dir: PathBuf,
    dockerfile: String,
    context: PathBuf,
}

fn rows() -> Vec<Row> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/repos");
    let manifest = std::fs::read_to_string(root.join("MANIFEST.tsv")).unwrap();
    let mut lines = manifest.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (dir, dockerfile, context) = (column("dir"), column("dockerfile"), column("context"));
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cells: Vec<&str> = line.split('\t').collect();
            let dir = root.join(cells[dir]);
            Row {
                context: dir.join(cells[context]),
                dockerfile: cells[dockerfile].to_string(),
                dir,
            }
        })
        .collect()
}

fn settings<'a>(rules: &[&str], context: &'a Path) -> Settings<'a> {
    let select: Vec<String> = rules.iter().map(|r| r.to_string()).collect();
    Settings {
        rules: selection(&select, &[], CacheStyle::Cleanup, &[]).unwrap(),
        unsafe_fixes: false,
        build_context: Some(context),
        companions: true,
        dockerfile: None,
        pins: None,
        ecosystems: None,
        runtime_images: &dockfix::config::NO_RUNTIME_IMAGES,
    }
}

/// A refusal's reason without the line numbers and names that vary.
fn reason(message: &str) -> String {
    let why = message.split("not fixed: ").nth(1).unwrap_or(message);
    let mut kind = String::new();
    let mut in_code = false;
    for c in why.chars() {
        match c {
            '`' => {
                in_code = !in_code;
                if in_code {
                    kind.push_str("`…`");
                }
            }
            _ if in_code => {}
            c if c.is_ascii_digit() => {
                if !kind.ends_with('N') {
                    kind.push('N');
                }
            }
            c => kind.push(c),
        }
    }
    kind.chars().take(110).collect()
}

#[test]
fn installs_after_the_full_copy_are_fixed_on_real_repositories() {
    let rows = rows();
    assert!(rows.len() >= 40, "{} Dockerfiles", rows.len());
    let tally = common::tally::Tally::from_env();
    let (mut findings, mut safe, mut risky) = (0, 0, 0);
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut rewrites: Vec<(String, Vec<u8>)> = Vec::new();
    let mut failures = Vec::new();
    for row in &rows {
        let path = row.dir.join(&row.dockerfile);
        let name = path
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap()
            .display()
            .to_string();
        let source = std::fs::read(&path).unwrap();
        let file = parse(&source).unwrap_or_else(|e| panic!("{name}: {e}"));
        for finding in lint(&file, &settings(&["DF101", "DF102", "DF103"], &row.context)) {
            findings += 1;
            match finding.fix.as_ref().map(|f| f.applicability) {
                Some(Applicability::Safe) => safe += 1,
                Some(Applicability::Unsafe) => risky += 1,
                None => *reasons.entry(reason(&finding.message)).or_default() += 1,
            }
        }
        // Every rule's fixes, safe ones and with unsafe ones: each rewrite
        // must be stable.
        for unsafe_fixes in [false, true] {
            let all = Settings {
                unsafe_fixes,
                ..settings(&[], &row.context)
            };
            match fix(&source, &all) {
                Ok(once) => {
                    let text = once.file.source.clone();
                    match fix(&text, &all) {
                        Ok(twice) if twice.file.source == text => {}
                        Ok(_) => failures.push(format!("{name}: fixing the rewrite changes it")),
                        Err(e) => {
                            failures.push(format!("{name}: the rewrite does not parse: {e:?}"))
                        }
                    }
                    if text != source && !rewrites.iter().any(|(_, r)| *r == text) {
                        rewrites.push((name.clone(), text));
                    }
                }
                Err(e) => failures.push(format!("{name}: {e:?}")),
            }
        }
    }
    if let Some(tally) = &tally {
        let contents: Vec<&[u8]> = rewrites.iter().map(|(_, r)| r.as_slice()).collect();
        for ((name, _), verdict) in rewrites.iter().zip(tally.verdicts(&contents)) {
            if let Some(error) = verdict {
                failures.push(format!("{name}: BuildKit rejects the rewrite: {error}"));
            }
        }
    }
    let fixed = safe + risky;
    let rate = fixed as f64 / findings as f64;
    let safe_rate = safe as f64 / findings as f64;
    eprintln!(
        "{} Dockerfiles of {} repositories: {fixed} of {findings} installs after the full copy fixed ({:.0}%: {safe} safe fixes, {risky} unsafe), {} distinct rewrites",
        rows.len(),
        rows.iter().map(|r| &r.dir).collect::<std::collections::BTreeSet<_>>().len(),
        rate * 100.0,
        rewrites.len()
    );
    let mut by_count: Vec<_> = reasons.into_iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (why, count) in by_count {
        eprintln!("  {count:>3}  {why}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        safe_rate >= SAFE_FLOOR,
        "{safe} of {findings} with a safe fix ({:.0}%), below {:.0}%",
        safe_rate * 100.0,
        SAFE_FLOOR * 100.0
    );
    assert!(
        rate >= FLOOR,
        "{fixed} of {findings} fixed ({:.0}%), below {:.0}%",
        rate * 100.0,
        FLOOR * 100.0
    );
}
