//! The harness's results: one row per fixture and variant, written to
//! `bench/results/e2e.json` and printed as a markdown table.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub fixture: String,
    /// `safe` (`dockfix --write`) or `unsafe` (`--write --unsafe`).
    pub variant: &'static str,
    /// Whether dockfix changed the Dockerfile.
    pub changed: bool,
    pub built_before: bool,
    pub built_after: bool,
    /// The smoke command printed the same and exited the same in both images.
    pub smoke_equal: bool,
    /// Image sizes in bytes.
    pub size_before: u64,
    pub size_after: u64,
    /// Wall time of the rebuild after a one-line source edit.
    pub rebuild_s_before: f64,
    pub rebuild_s_after: f64,
    /// Build steps served from the cache on that rebuild, and all steps.
    pub cached_before: usize,
    pub cached_after: usize,
    pub steps_before: usize,
    pub steps_after: usize,
}

impl Row {
    pub fn passed(&self) -> bool {
        self.built_before && self.built_after && self.smoke_equal
    }
}

/// Bytes as megabytes with one decimal (`52.3 MB`).
pub fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
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

pub fn markdown(rows: &[Row]) -> String {
    let yes = |b: bool| if b { "yes" } else { "**no**" };
    let mut out = String::from(
        "| fixture | variant | changed | builds before/after | smoke equal | size before | size after | size change | rebuild s before | rebuild s after | speedup | cached steps before | cached steps after |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        out += &format!(
            "| {} | {} | {} | {}/{} | {} | {} | {} | {} | {:.1} | {:.1} | {} | {}/{} | {}/{} |\n",
            r.fixture,
            r.variant,
            if r.changed { "yes" } else { "no" },
            yes(r.built_before),
            yes(r.built_after),
            yes(r.smoke_equal),
            megabytes(r.size_before),
            megabytes(r.size_after),
            size_change(r.size_before, r.size_after),
            r.rebuild_s_before,
            r.rebuild_s_after,
            speedup(r.rebuild_s_before, r.rebuild_s_after),
            r.cached_before,
            r.steps_before,
            r.cached_after,
            r.steps_after,
        );
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
            built_before: true,
            built_after: true,
            smoke_equal: true,
            size_before: 200_000_000,
            size_after: 150_000_000,
            rebuild_s_before: 52.0,
            rebuild_s_after: 2.0,
            cached_before: 2,
            cached_after: 4,
            steps_before: 5,
            steps_after: 6,
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
    }

    #[test]
    fn table_row_and_failures() {
        let table = markdown(&[row()]);
        assert!(table.contains(
            "| python-pip | safe | yes | yes/yes | yes | 200.0 MB | 150.0 MB | -25.0% | 52.0 | 2.0 | 26.0x | 2/5 | 4/6 |"
        ));
        let mut broken = row();
        broken.smoke_equal = false;
        assert!(!broken.passed());
        assert!(markdown(&[broken]).contains("| **no** |"));
        assert!(row().passed());
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
            "size_before",
            "size_after",
            "rebuild_s_before",
            "rebuild_s_after",
            "cached_before",
            "cached_after",
            "changed",
        ] {
            assert!(value.get(field).is_some(), "{field}");
        }
    }
}
