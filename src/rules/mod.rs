//! The rule framework. A rule lives in one file of its family's folder
//! (instructions, ordering, packages, caches, pinning, stages, context): its documentation
//! (what it does, why, an example, fix safety), and a check that returns
//! findings with optional fixes. Helpers only one family uses sit in its
//! folder; what several share lives beneath the rules, in `facts` and `fix`.

mod caches;
mod context;
mod instructions;
mod ordering;
mod packages;
pub mod pinning;
mod promise;
mod registry;
mod stages;

use std::ops::Range;

use crate::edit::Edit;
pub use crate::facts::Context;
pub use registry::{find, matching, selection, selects, ALL, OPT_IN};

/// How far a rule's fixes can be trusted, as documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixSafety {
    /// Every fix is safe.
    Safe,
    /// Fixes are safe where dockfix can prove it, unsafe otherwise.
    Sometimes,
    /// Every fix is unsafe.
    Unsafe,
    /// The rule only reports.
    ReportOnly,
}

impl FixSafety {
    pub fn label(self) -> &'static str {
        match self {
            FixSafety::Safe => "safe",
            FixSafety::Sometimes => "safe or unsafe",
            FixSafety::Unsafe => "unsafe",
            FixSafety::ReportOnly => "report-only",
        }
    }
}

/// How package caches are kept out of the image. The styles are
/// alternatives: a RUN gets a cache mount or a cleanup, never both, so only
/// the rules of the chosen style run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheStyle {
    /// Remove caches in the layer that made them (`rm -rf
    /// /var/lib/apt/lists/*`, `--no-cache`, `npm cache clean`): works with
    /// every builder and keeps nothing between builds.
    #[default]
    Cleanup,
    /// Keep caches in BuildKit cache mounts (`RUN --mount=type=cache`):
    /// out of the image, and reused when an install runs again.
    Mounts,
}

impl CacheStyle {
    pub fn label(self) -> &'static str {
        match self {
            CacheStyle::Cleanup => "cleanup",
            CacheStyle::Mounts => "mounts",
        }
    }
}

/// Whether one fix may be applied by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Applicability {
    /// Applied by `--write`.
    Safe,
    /// Applied only with `--unsafe`.
    Unsafe,
}

#[derive(Debug, Clone)]
pub struct Fix {
    pub applicability: Applicability,
    pub edits: Vec<Edit>,
    /// Lines other files must hold for the fix to be right (an entry in
    /// .dockerignore); added when missing, so applying twice adds nothing.
    pub appends: Vec<Append>,
    /// Fixes of other findings (rule ID and range) this one is right only
    /// beside: it applies in a round that applies all of them, or waits.
    pub requires: Vec<(&'static str, Range<usize>)>,
}

impl Fix {
    pub fn new(applicability: Applicability, edits: Vec<Edit>) -> Self {
        Fix {
            applicability,
            edits,
            appends: Vec::new(),
            requires: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Append {
    pub path: std::path::PathBuf,
    pub lines: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: &'static Rule,
    /// File range the finding is about.
    pub range: Range<usize>,
    pub message: String,
    pub fix: Option<Fix>,
}

pub struct Rule {
    pub id: &'static str,
    pub name: &'static str,
    pub summary: &'static str,
    /// What the fix does, in the imperative ("Add `-y` ..."), for pull
    /// request descriptions.
    pub fix_title: &'static str,
    /// What a fix changes for the people who build the image, for pull
    /// request descriptions ("dependency install now cached ...").
    pub effect: &'static str,
    pub fix_safety: FixSafety,
    /// The cache style the rule belongs to; `None` for rules of any style.
    pub cache_style: Option<CacheStyle>,
    /// Markdown: what it does, why, an example, fix safety.
    pub doc: &'static str,
    pub check: fn(&Context) -> Vec<Finding>,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id)
    }
}
