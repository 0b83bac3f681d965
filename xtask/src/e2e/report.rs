//! The harness's results: one row per fixture and variant, written to
//! `bench/results/e2e.json` and printed as a markdown table.

use std::collections::BTreeMap;

use serde::Serialize;

/// "Before" is the original Dockerfile, "after" the variant's rewrite.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub fixture: String,
    /// `safe` (`dockfix --write`), `unsafe` (`--write --unsafe`),
    /// `mounts` (`--write --cache-style mounts`) or `pinned` (`--write --pin
    /// both`, Docker Hub mirrored by the harness's registry).
    pub variant: &'static str,
    /// Whether dockfix changed the Dockerfile or `.dockerignore`.
    pub changed: bool,
    /// The lines the rewrite added to `.dockerignore`.
    pub ignore_lines_added: Vec<String>,
    /// Bytes of build context each side's first build sent, as BuildKit's
    /// progress reports them.
    pub context_bytes_before: Option<u64>,
    pub context_bytes_after: Option<u64>,
    /// For the `context` variant of a fixture that lists them: every path
    /// it names is in the original image and not in the rewrite's.
    pub context_gone_ok: Option<bool>,
    pub built_before: bool,
    pub built_after: bool,
    /// The smoke command printed the same and exited the same in both images.
    pub smoke_equal: bool,
    /// Both images start containers the same way (Cmd, Entrypoint,
    /// WorkingDir, User, Env, ExposedPorts) and hold the same files in their
    /// working directory (type, mode, owner, link, checksum), but for the
    /// Dockerfile's own text and what the rewrite's cache mounts hold.
    pub contents_equal: bool,
    /// What differs, when something does.
    pub content_differences: Vec<String>,
    /// Image sizes in bytes.
    pub size_before: u64,
    pub size_after: u64,
    /// Packages installed in each image, as dpkg and apk record them (none
    /// in an image without a package database, such as `FROM scratch`).
    pub packages_before: u64,
    pub packages_after: u64,
    /// Bytes of package caches in each image (apt lists and archives, pip,
    /// npm, yarn, Go's build and module caches, Cargo's registry and git).
    pub package_cache_bytes_before: u64,
    pub package_cache_bytes_after: u64,
    /// The rewrite's image's caches that hold any bytes, by name.
    pub package_caches_after: BTreeMap<String, u64>,
    /// The rewrite's image carries no package caches but those the fixture
    /// allows; only required of `mounts`, true for the other variants.
    pub package_caches_ok: bool,
    /// Bytes the rewrite's first build left in its cache mounts, outside
    /// the image, by target (what a rebuild's package manager can reuse).
    pub cache_mounts_after: BTreeMap<String, u64>,
    /// Wall time of the rebuild after a one-line source edit.
    pub rebuild_s_before: f64,
    pub rebuild_s_after: f64,
    /// Build steps served from the cache on that rebuild, and all steps.
    pub cached_before: usize,
    pub cached_after: usize,
    pub steps_before: usize,
    pub steps_after: usize,
    /// Wall time of the rebuild after the fixture's dependency edit, and the
    /// steps served from the cache on it; none without a dependency edit.
    pub dependency_rebuild_s_before: Option<f64>,
    pub dependency_rebuild_s_after: Option<f64>,
    pub dependency_cached_before: Option<usize>,
    pub dependency_cached_after: Option<usize>,
    /// The variant pins base images.
    pub pins: bool,
    /// The images the rewrite's FROMs name (`debian:bookworm@sha256:...`),
    /// for a variant that pins.
    pub pinned_bases: Vec<String>,
    /// What keeps the pins from holding: a FROM without a digest, a digest
    /// the registry does not report for the tag, a build that did not pull
    /// it through the mirror. Empty when they hold.
    pub pin_problems: Vec<String>,
    /// With the full tier's rebuilds: whether `dockfix cache` predicted,
    /// on both sides and for every rebuild (a source edit, the dependency
    /// edit unless it edits the Dockerfile, an edit of a file
    /// `.dockerignore` leaves out), the steps BuildKit ran rather than took
    /// from its cache: it ran every step predicted to rerun and none
    /// predicted cached. `None` without rebuilds.
    pub cache_prediction_agrees: Option<bool>,
    /// How many rebuilds were predicted.
    pub cache_predictions: usize,
    /// Steps predicted to rerun only if the files they take from a stage
    /// that reran came out different, over all rebuilds, and how many of
    /// them BuildKit ran.
    pub cache_may_rerun: usize,
    pub cache_may_rerun_ran: usize,
    /// Each rebuild where the prediction and BuildKit differ.
    pub cache_prediction_differences: Vec<String>,
}

impl Row {
    pub fn passed(&self) -> bool {
        self.built_before
            && self.built_after
            && self.smoke_equal
            && self.contents_equal
            && self.package_caches_ok
            && self.pin_problems.is_empty()
            && self.cache_prediction_agrees != Some(false)
            && self.context_gone_ok != Some(false)
    }
}

/// Bytes as megabytes with one decimal (`52.3 MB`).
pub fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Bytes in the largest unit that keeps them at 1 or more (`0 B`, `812 B`,
/// `14.2 kB`, `19.3 MB`).
pub fn bytes(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.1} kB", bytes as f64 / 1e3),
        _ => megabytes(bytes),
    }
}

/// The size change from `before` to `after` (`-12.5%`, `+0.3%`, `0%`);
/// changes under 0.05% in bytes (`+7 B`), which a percentage would round away.
pub fn size_change(before: u64, after: u64) -> String {
    if before == after {
        return "0%".into();
    }
    if before == 0 {
        return "n/a".into();
    }
    let change = (after as f64 - before as f64) / before as f64 * 100.0;
    if change.abs() < 0.05 {
        return format!("{:+} B", after as i64 - before as i64);
    }
    format!("{change:+.1}%")
}

/// How many times faster the rebuild got (`25.0x`); below 1 it got slower.
pub fn speedup(before: f64, after: f64) -> String {
    if after <= 0.0 {
        return "n/a".into();
    }
    format!("{:.1}x", before / after)
}

fn yes(b: bool) -> String {
    if b { "yes" } else { "**no**" }.into()
}

fn seconds(s: Option<f64>) -> String {
    s.map_or("-".into(), |s| format!("{s:.1}"))
}

/// What a column shows of a row.
type Cell = fn(&Row) -> String;

/// The table's columns: header and cell.
const COLUMNS: &[(&str, Cell)] = &[
    ("fixture", |r| r.fixture.clone()),
    ("variant", |r| r.variant.into()),
    ("changed", |r| if r.changed { "yes" } else { "no" }.into()),
    ("builds before/after", |r| {
        format!("{}/{}", yes(r.built_before), yes(r.built_after))
    }),
    ("smoke equal", |r| yes(r.smoke_equal)),
    ("app files and config equal", |r| yes(r.contents_equal)),
    ("size before", |r| megabytes(r.size_before)),
    ("size after", |r| megabytes(r.size_after)),
    ("size change", |r| size_change(r.size_before, r.size_after)),
    ("packages before/after", |r| {
        format!("{}/{}", r.packages_before, r.packages_after)
    }),
    ("package caches before", |r| {
        bytes(r.package_cache_bytes_before)
    }),
    ("package caches after", |r| {
        let cell = bytes(r.package_cache_bytes_after);
        if r.package_caches_ok {
            cell
        } else {
            format!("**{cell}**")
        }
    }),
    ("rebuild s before", |r| format!("{:.1}", r.rebuild_s_before)),
    ("rebuild s after", |r| format!("{:.1}", r.rebuild_s_after)),
    ("speedup", |r| {
        speedup(r.rebuild_s_before, r.rebuild_s_after)
    }),
    ("cached steps before", |r| {
        format!("{}/{}", r.cached_before, r.steps_before)
    }),
    ("cached steps after", |r| {
        format!("{}/{}", r.cached_after, r.steps_after)
    }),
    ("dependency edit: rebuild s before", |r| {
        seconds(r.dependency_rebuild_s_before)
    }),
    ("dependency edit: rebuild s after", |r| {
        seconds(r.dependency_rebuild_s_after)
    }),
    ("dependency edit: speedup", |r| {
        match (r.dependency_rebuild_s_before, r.dependency_rebuild_s_after) {
            (Some(before), Some(after)) => speedup(before, after),
            _ => "-".into(),
        }
    }),
    ("built from pinned digests", |r| {
        if r.pins {
            yes(r.built_after && r.pin_problems.is_empty())
        } else {
            "-".into()
        }
    }),
];

/// The columns that come from the timed rebuilds, which only a full run
/// makes.
const TIMED: &[&str] = &[
    "rebuild s before",
    "rebuild s after",
    "speedup",
    "cached steps before",
    "cached steps after",
    "dependency edit: rebuild s before",
    "dependency edit: rebuild s after",
    "dependency edit: speedup",
];

/// The table, with the rebuilds' columns when `timed` (a full run).
pub fn markdown(rows: &[Row], timed: bool) -> String {
    let columns: Vec<_> = COLUMNS
        .iter()
        .filter(|(header, _)| timed || !TIMED.contains(header))
        .collect();
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    let mut out = line(
        columns
            .iter()
            .map(|(header, _)| header.to_string())
            .collect(),
    );
    out += &format!("|{}\n", "---|".repeat(columns.len()));
    for r in rows {
        out += &line(columns.iter().map(|(_, cell)| cell(r)).collect());
    }
    out
}

/// What the variant that pins proved: how many of its Dockerfiles the
/// engine built from the digests they were pinned to, pulled through the
/// mirror, with the original's smoke output; then each one's base images,
/// and what went wrong.
pub fn pins(rows: &[Row], mirror: &str) -> String {
    let pinned: Vec<&Row> = rows.iter().filter(|r| r.pins).collect();
    let held = pinned
        .iter()
        .filter(|r| r.built_after && r.smoke_equal && r.pin_problems.is_empty())
        .count();
    let mut out = format!(
        "Pinned (`--write --pin both`, Docker Hub mirrored by the registry at {mirror}): \
         {held} of {} Dockerfiles built from digests pulled through the mirror, with the original's smoke output\n",
        pinned.len()
    );
    for r in pinned {
        out += &format!("  {}: {}\n", r.fixture, r.pinned_bases.join(", "));
        for problem in &r.pin_problems {
            out += &format!("    problem: {problem}\n");
        }
        if !r.built_after {
            out += "    problem: the pinned Dockerfile did not build\n";
        } else if !r.smoke_equal {
            out += "    problem: its smoke output differs from the original's\n";
        }
    }
    out
}

/// How often `dockfix cache` predicted a rebuild's steps right, and where
/// it did not; empty without rebuilds.
pub fn cache_predictions(rows: &[Row]) -> String {
    let checked: Vec<&Row> = rows
        .iter()
        .filter(|r| r.cache_prediction_agrees.is_some())
        .collect();
    if checked.is_empty() {
        return String::new();
    }
    let agreed = checked
        .iter()
        .filter(|r| r.cache_prediction_agrees == Some(true))
        .count();
    let predictions: usize = checked.iter().map(|r| r.cache_predictions).sum();
    let may: usize = checked.iter().map(|r| r.cache_may_rerun).sum();
    let may_ran: usize = checked.iter().map(|r| r.cache_may_rerun_ran).sum();
    let mut out = format!(
        "Cache predictions (`dockfix cache --changed` against the steps BuildKit ran): \
         {agreed} of {} rows agree, over {predictions} predicted rebuilds; \
         {may_ran} of {may} steps that may rerun did\n",
        checked.len()
    );
    for r in checked {
        for difference in &r.cache_prediction_differences {
            out += &format!("  {} {}: {difference}\n", r.fixture, r.variant);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Row {
        Row {
            fixture: "python-pip".into(),
            variant: "safe",
            changed: true,
            ignore_lines_added: Vec::new(),
            context_bytes_before: Some(2_000),
            context_bytes_after: Some(1_000),
            context_gone_ok: None,
            built_before: true,
            built_after: true,
            smoke_equal: true,
            contents_equal: true,
            content_differences: vec![],
            size_before: 200_000_000,
            size_after: 150_000_000,
            packages_before: 120,
            packages_after: 90,
            package_cache_bytes_before: 12_345_678,
            package_cache_bytes_after: 0,
            package_caches_after: BTreeMap::new(),
            package_caches_ok: true,
            cache_mounts_after: BTreeMap::new(),
            rebuild_s_before: 52.0,
            rebuild_s_after: 2.0,
            cached_before: 2,
            cached_after: 4,
            steps_before: 5,
            steps_after: 6,
            dependency_rebuild_s_before: Some(9.0),
            dependency_rebuild_s_after: Some(3.0),
            dependency_cached_before: Some(1),
            dependency_cached_after: Some(2),
            pins: false,
            pinned_bases: vec![],
            pin_problems: vec![],
            cache_prediction_agrees: Some(true),
            cache_predictions: 6,
            cache_may_rerun: 3,
            cache_may_rerun_ran: 1,
            cache_prediction_differences: vec![],
        }
    }

    #[test]
    fn sizes_and_speedups() {
        assert_eq!(size_change(200, 150), "-25.0%");
        assert_eq!(size_change(200, 201), "+0.5%");
        assert_eq!(size_change(7, 7), "0%");
        assert_eq!(size_change(0, 7), "n/a");
        assert_eq!(size_change(304_780_884, 304_780_891), "+7 B");
        assert_eq!(size_change(304_780_891, 304_780_884), "-7 B");
        assert_eq!(megabytes(52_340_000), "52.3 MB");
        assert_eq!(speedup(52.0, 2.0), "26.0x");
        assert_eq!(speedup(1.0, 0.0), "n/a");
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(14_249), "14.2 kB");
        assert_eq!(bytes(19_300_000), "19.3 MB");
    }

    #[test]
    fn table_row_and_failures() {
        let table = markdown(&[row()], true);
        let mut lines = table.lines();
        let header = lines.next().unwrap();
        assert_eq!(header.matches(" | ").count() + 1, COLUMNS.len());
        assert_eq!(
            lines.next().unwrap(),
            format!("|{}", "---|".repeat(COLUMNS.len()))
        );
        assert_eq!(
            lines.next().unwrap(),
            "| python-pip | safe | yes | yes/yes | yes | yes | 200.0 MB | 150.0 MB | -25.0% | 120/90 | 12.3 MB | 0 B | 52.0 | 2.0 | 26.0x | 2/5 | 4/6 | 9.0 | 3.0 | 3.0x | - |"
        );
        let mut broken = row();
        broken.smoke_equal = false;
        assert!(!broken.passed());
        assert!(markdown(&[broken], true).contains("| **no** |"));
        assert!(row().passed());
    }

    #[test]
    fn without_rebuilds_the_table_leaves_their_columns_out() {
        let table = markdown(&[row()], false);
        let mut lines = table.lines();
        let header = lines.next().unwrap();
        assert!(TIMED
            .iter()
            .all(|column| COLUMNS.iter().any(|(h, _)| h == column)));
        assert_eq!(
            header.matches(" | ").count() + 1,
            COLUMNS.len() - TIMED.len()
        );
        assert!(!header.contains("rebuild") && !header.contains("cached steps"));
        assert_eq!(
            lines.nth(1).unwrap(),
            "| python-pip | safe | yes | yes/yes | yes | yes | 200.0 MB | 150.0 MB | -25.0% | 120/90 | 12.3 MB | 0 B | - |"
        );
    }

    #[test]
    fn package_caches_left_in_the_image_fail_the_row() {
        let mut cached = row();
        cached.variant = "mounts";
        cached.package_cache_bytes_after = 4_096;
        cached.package_caches_after.insert("pip".into(), 4_096);
        cached.package_caches_ok = false;
        assert!(!cached.passed());
        assert!(markdown(&[cached], true).contains("| 12.3 MB | **4.1 kB** |"));
    }

    #[test]
    fn no_dependency_edit_leaves_its_columns_empty() {
        let mut r = row();
        r.dependency_rebuild_s_before = None;
        r.dependency_rebuild_s_after = None;
        assert!(markdown(&[r], true).ends_with("| 4/6 | - | - | - | - |\n"));
    }

    #[test]
    fn a_wrong_cache_prediction_fails_the_row() {
        let mut wrong = row();
        assert!(wrong.passed());
        wrong.cache_prediction_agrees = Some(false);
        wrong.cache_prediction_differences = vec![
            "original, app.py edited: dockfix cache predicted [[5/5]], BuildKit ran [[4/5] [5/5]]"
                .into(),
        ];
        assert!(!wrong.passed());
        let mut unchecked = row();
        unchecked.cache_prediction_agrees = None;
        assert!(unchecked.passed());
        let text = cache_predictions(&[row(), wrong]);
        assert!(text.starts_with("Cache predictions (`dockfix cache --changed` against the steps BuildKit ran): 1 of 2 rows agree, over 12 predicted rebuilds; 2 of 6 steps that may rerun did\n"), "{text}");
        assert!(
            text.contains("  python-pip safe: original, app.py edited"),
            "{text}"
        );
    }

    #[test]
    fn json_has_the_documented_fields() {
        let value = serde_json::to_value(row()).unwrap();
        for field in [
            "fixture",
            "variant",
            "built_before",
            "built_after",
            "smoke_equal",
            "contents_equal",
            "size_before",
            "size_after",
            "packages_before",
            "packages_after",
            "package_cache_bytes_before",
            "package_cache_bytes_after",
            "package_caches_after",
            "package_caches_ok",
            "cache_mounts_after",
            "rebuild_s_before",
            "rebuild_s_after",
            "cached_before",
            "cached_after",
            "dependency_rebuild_s_before",
            "dependency_rebuild_s_after",
            "dependency_cached_before",
            "dependency_cached_after",
            "changed",
            "pins",
            "pinned_bases",
            "pin_problems",
            "cache_prediction_agrees",
            "cache_predictions",
            "cache_may_rerun",
            "cache_may_rerun_ran",
            "cache_prediction_differences",
            "ignore_lines_added",
            "context_bytes_before",
            "context_bytes_after",
            "context_gone_ok",
        ] {
            assert!(value.get(field).is_some(), "{field}");
        }
    }

    #[test]
    fn a_secret_left_in_the_image_fails_the_row() {
        let mut context = row();
        context.variant = "context";
        context.context_gone_ok = Some(true);
        assert!(context.passed());
        context.context_gone_ok = Some(false);
        assert!(!context.passed());
    }

    #[test]
    fn pin_problems_fail_the_row_and_are_summed_up() {
        let mut pinned = row();
        pinned.variant = "pinned";
        pinned.pins = true;
        pinned.pinned_bases = vec!["python:3.11-slim@sha256:f014".into()];
        assert!(pinned.passed());
        assert!(markdown(&[pinned.clone()], true).ends_with("| 3.0x | yes |\n"));
        let summary = pins(&[row(), pinned.clone()], "http://172.17.0.1:40000");
        assert_eq!(
            summary,
            "Pinned (`--write --pin both`, Docker Hub mirrored by the registry at http://172.17.0.1:40000): \
             1 of 1 Dockerfiles built from digests pulled through the mirror, with the original's smoke output\n  \
             python-pip: python:3.11-slim@sha256:f014\n"
        );
        pinned.pin_problems = vec!["python:3.11-slim: no digest".into()];
        assert!(!pinned.passed());
        assert!(markdown(&[pinned.clone()], true).ends_with("| 3.0x | **no** |\n"));
        let summary = pins(&[pinned], "http://172.17.0.1:40000");
        assert!(summary.contains(": 0 of 1 Dockerfiles"), "{summary}");
        assert!(
            summary.ends_with("    problem: python:3.11-slim: no digest\n"),
            "{summary}"
        );
    }
}
