//! The rule framework. A rule lives in one file: its documentation (what it
//! does, why, an example, fix safety), and a check that returns findings
//! with optional fixes.

mod add_to_copy;
mod apk_no_cache;
mod apk_redundant_cache;
mod apt_get_not_apt;
mod apt_get_yes;
mod apt_keep_downloads;
mod apt_lists_cleanup;
mod apt_no_install_recommends;
mod apt_update_with_install;
mod base_image_digest;
mod base_image_version;
mod base_images;
mod cache_clean;
mod copy_passes;
mod exec_form;
mod flags;
mod gem_no_document;
mod install_before_copy;
mod npm_cache_clean;
mod package_cache_mount;
mod package_duplicates;
mod package_merge_runs;
mod package_repeated_steps;
mod packages_before_copy;
mod pip_no_cache_dir;
mod rpm_assume_yes;
mod rpm_cache_clean;
mod rpm_no_weak_deps;
mod run_user;
mod syntax_directive;
mod tools_before_copy;
mod yarn_cache_clean;
mod yarn_frozen_lockfile;

use std::ops::Range;

use crate::edit::Edit;
pub use crate::facts::Context;
use crate::syntax::Dockerfile;

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
}

impl Fix {
    pub fn new(applicability: Applicability, edits: Vec<Edit>) -> Self {
        Fix {
            applicability,
            edits,
            appends: Vec::new(),
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

/// Every rule, in ID order.
pub static ALL: &[&Rule] = &[
    &add_to_copy::RULE,
    &exec_form::RULE,
    &install_before_copy::RULE,
    &packages_before_copy::RULE,
    &tools_before_copy::RULE,
    &apt_get_yes::RULE,
    &apt_get_not_apt::RULE,
    &apk_no_cache::RULE,
    &pip_no_cache_dir::RULE,
    &package_merge_runs::RULE,
    &apt_lists_cleanup::RULE,
    &apt_no_install_recommends::RULE,
    &apt_update_with_install::RULE,
    &apk_redundant_cache::RULE,
    &rpm_assume_yes::RULE,
    &rpm_no_weak_deps::RULE,
    &rpm_cache_clean::RULE,
    &npm_cache_clean::RULE,
    &yarn_cache_clean::RULE,
    &yarn_frozen_lockfile::RULE,
    &gem_no_document::RULE,
    &package_duplicates::RULE,
    &package_repeated_steps::RULE,
    &package_cache_mount::RULE,
    &apt_keep_downloads::RULE,
    &syntax_directive::RULE,
    &base_image_version::RULE,
    &base_image_digest::RULE,
];

/// Finds a rule by ID or name, ignoring case.
pub fn find(key: &str) -> Option<&'static Rule> {
    ALL.iter()
        .copied()
        .find(|r| r.id.eq_ignore_ascii_case(key) || r.name.eq_ignore_ascii_case(key))
}

/// Rules that run only when asked for: by their own option, or selected by
/// ID or name (not by a prefix or `ALL`).
pub static OPT_IN: &[&Rule] = &[&syntax_directive::RULE, &base_image_digest::RULE];

/// Whether a selector (an ID, an ID prefix, a name, or `ALL`) names the rule.
pub fn selects(selector: &str, rule: &Rule) -> bool {
    rule.name.eq_ignore_ascii_case(selector)
        || rule
            .id
            .to_ascii_uppercase()
            .starts_with(&selector.to_ascii_uppercase())
        || selector.eq_ignore_ascii_case("ALL")
}

/// The rules a selector names; none is an error.
pub fn matching(selector: &str) -> Result<Vec<&'static Rule>, String> {
    let found: Vec<_> = ALL
        .iter()
        .copied()
        .filter(|r| !selector.is_empty() && selects(selector, r))
        .collect();
    if found.is_empty() {
        Err(format!(
            "unknown rule selector `{selector}` (see `dockfix rules`)"
        ))
    } else {
        Ok(found)
    }
}

/// The rules a `--select`/`--ignore` pair enables, of those that fit the
/// cache style, with the opt-in rules in `opted`. Selectors are rule IDs,
/// ID prefixes (`DF0`) or names; an unknown selector is an error.
pub fn selection(
    select: &[String],
    ignore: &[String],
    style: CacheStyle,
    opted: &[&'static Rule],
) -> Result<Vec<&'static Rule>, String> {
    // `--ignore DF002,` leaves an empty selector, which would match every ID.
    let select: Vec<String> = select.iter().filter(|s| !s.is_empty()).cloned().collect();
    let ignore: Vec<String> = ignore.iter().filter(|s| !s.is_empty()).cloned().collect();
    let named = |rule: &Rule| {
        opted.iter().any(|o| o.id == rule.id)
            || select
                .iter()
                .any(|s| s.eq_ignore_ascii_case(rule.id) || s.eq_ignore_ascii_case(rule.name))
    };
    let mut enabled: Vec<&'static Rule> = if select.is_empty() {
        ALL.to_vec()
    } else {
        let mut chosen = Vec::new();
        for selector in &select {
            chosen.extend(matching(selector)?);
        }
        ALL.iter()
            .copied()
            .filter(|r| chosen.iter().any(|c| c.id == r.id))
            .collect()
    };
    for rule in opted {
        if !enabled.iter().any(|r| r.id == rule.id) {
            enabled.push(rule);
        }
    }
    for selector in ignore {
        let dropped = matching(&selector)?;
        enabled.retain(|r| !dropped.iter().any(|d| d.id == r.id));
    }
    enabled.retain(|r| r.cache_style.is_none_or(|s| s == style));
    enabled.retain(|r| !OPT_IN.iter().any(|o| o.id == r.id) || named(r));
    Ok(enabled)
}

/// The images a file's FROM lines pull that pinning asks the registry
/// about: not pinned yet, and named through an ARG only when `args`.
/// Each with the offset of its FROM's image.
pub fn pinnable_images(file: &Dockerfile, args: bool) -> Vec<(usize, crate::registry::Reference)> {
    base_images::images(file)
        .iter()
        .filter(|image| image.unpinnable(args).is_none())
        .filter_map(|image| {
            image
                .reads_as()
                .map(|(_, r)| (image.range.start, r.clone()))
        })
        .filter(|(_, reference)| reference.digest.is_none())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rules `--cache-style` alone enables.
    fn of_style(style: CacheStyle) -> usize {
        ALL.iter()
            .filter(|r| r.cache_style.is_none_or(|s| s == style))
            .filter(|r| !OPT_IN.iter().any(|o| o.id == r.id))
            .count()
    }

    #[test]
    fn selection_by_id_prefix_name_and_ignore() {
        for style in [CacheStyle::Cleanup, CacheStyle::Mounts] {
            assert_eq!(
                selection(&[], &[], style, &[]).unwrap().len(),
                of_style(style)
            );
        }
        let ids = |s: &[&str], i: &[&str]| -> Vec<&str> {
            let s: Vec<String> = s.iter().map(|x| x.to_string()).collect();
            let i: Vec<String> = i.iter().map(|x| x.to_string()).collect();
            selection(&s, &i, CacheStyle::Cleanup, &[])
                .unwrap()
                .iter()
                .map(|r| r.id)
                .collect()
        };
        assert_eq!(ids(&["DF001"], &[]), ["DF001"]);
        assert_eq!(ids(&["exec-form"], &[]), ["DF002"]);
        assert_eq!(ids(&["DF0"], &["df002"]), ["DF001"]);
        assert_eq!(ids(&["DF1"], &[]), ["DF101", "DF102", "DF103"]);
        assert!(selection(&["NOPE".into()], &[], CacheStyle::Cleanup, &[]).is_err());
        assert_eq!(
            ids(&["DF001", ""], &[]),
            ["DF001"],
            "a trailing comma selects nothing more"
        );
        assert_eq!(
            selection(&[], &["DF002".into(), "".into()], CacheStyle::Cleanup, &[])
                .unwrap()
                .len(),
            of_style(CacheStyle::Cleanup) - 1
        );
    }

    #[test]
    fn styles_and_opt_in_rules() {
        let ids = |select: &[&str], style, opted: &[&'static Rule]| -> Vec<&str> {
            let s: Vec<String> = select.iter().map(|x| x.to_string()).collect();
            selection(&s, &[], style, opted)
                .unwrap()
                .iter()
                .map(|r| r.id)
                .collect()
        };
        assert_eq!(ids(&["DF30"], CacheStyle::Cleanup, &[]), Vec::<&str>::new());
        assert_eq!(ids(&["DF3"], CacheStyle::Mounts, &[]), ["DF301", "DF302"]);
        assert_eq!(ids(&["DF303"], CacheStyle::Mounts, &[]), ["DF303"]);
        assert_eq!(
            ids(&["DF301"], CacheStyle::Mounts, OPT_IN),
            ["DF301", "DF303", "DF402"]
        );
        assert_eq!(ids(&["DF4"], CacheStyle::Cleanup, &[]), ["DF401"]);
        assert!(!ids(&[], CacheStyle::Mounts, &[]).contains(&"DF204"));
        assert!(!ids(&[], CacheStyle::Cleanup, &[]).contains(&"DF301"));
    }

    #[test]
    fn rule_ids_are_unique_and_documented() {
        for (i, rule) in ALL.iter().enumerate() {
            assert!(ALL[i + 1..]
                .iter()
                .all(|r| r.id != rule.id && r.name != rule.name));
            for heading in ["## What it does", "## Why", "## Example", "## Fix safety"] {
                assert!(rule.doc.contains(heading), "{} lacks {heading}", rule.id);
            }
        }
    }
}
