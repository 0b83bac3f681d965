//! Every rule by ID, and which of them a `--select`/`--ignore` pair and the
//! cache style enable.

use super::{caches, context, instructions, ordering, packages, pinning, stages, CacheStyle, Rule};

/// Every rule, in ID order.
pub static ALL: &[&Rule] = &[
    &instructions::add_to_copy::RULE,
    &instructions::exec_form::RULE,
    &ordering::install_before_copy::RULE,
    &ordering::packages_before_copy::RULE,
    &ordering::tools_before_copy::RULE,
    &packages::apt_get_yes::RULE,
    &packages::apt_get_not_apt::RULE,
    &packages::apk_no_cache::RULE,
    &packages::pip_no_cache_dir::RULE,
    &packages::package_merge_runs::RULE,
    &packages::apt_lists_cleanup::RULE,
    &packages::apt_no_install_recommends::RULE,
    &packages::apt_update_with_install::RULE,
    &packages::apk_redundant_cache::RULE,
    &packages::rpm_assume_yes::RULE,
    &packages::rpm_no_weak_deps::RULE,
    &packages::rpm_cache_clean::RULE,
    &packages::npm_cache_clean::RULE,
    &packages::yarn_cache_clean::RULE,
    &packages::yarn_frozen_lockfile::RULE,
    &packages::gem_no_document::RULE,
    &packages::package_duplicates::RULE,
    &packages::package_repeated_steps::RULE,
    &caches::package_cache_mount::RULE,
    &caches::apt_keep_downloads::RULE,
    &caches::syntax_directive::RULE,
    &pinning::base_image_version::RULE,
    &pinning::base_image_digest::RULE,
    &stages::final_stage_build_tools::RULE,
    &stages::final_stage_full_copy::RULE,
    &stages::single_stage_build::RULE,
    &context::unneeded_context::RULE,
    &context::secrets_in_context::RULE,
];

/// Finds a rule by ID or name, ignoring case.
pub fn find(key: &str) -> Option<&'static Rule> {
    ALL.iter()
        .copied()
        .find(|r| r.id.eq_ignore_ascii_case(key) || r.name.eq_ignore_ascii_case(key))
}

/// Rules that run only when asked for: by their own option, or selected by
/// ID or name (not by a prefix or `ALL`).
pub static OPT_IN: &[&Rule] = &[
    &caches::syntax_directive::RULE,
    &pinning::base_image_digest::RULE,
    // They judge the build context, whose untracked files (a developer's
    // node_modules, a local .env) differ between a laptop and CI: the
    // same commit would get different findings.
    &context::unneeded_context::RULE,
    &context::secrets_in_context::RULE,
];

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
            ["DF301", "DF303", "DF402", "DF601", "DF602"]
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
