//! `--format markdown`: a pull-request body a maintainer can review in a
//! minute. Per file, the rules whose fixes the rewrite applies, what each
//! fixed and what the build gains; then what is left for a person, and why.

use std::collections::BTreeMap;

use super::report::{plural, FileReport, FindingReport, Output};
use crate::rules::{Applicability, Rule};

/// The body for a rewrite that `done` (applied) or would be applied, with
/// the options that chose its fixes (`--cache-style mounts`, ...).
pub fn body(out: &Output, done: bool, options: &str) -> String {
    let rewritten: Vec<&FileReport> = out.files.iter().filter(|f| !f.applied.is_empty()).collect();
    let fixes: usize = rewritten.iter().map(|f| f.applied.len()).sum();
    let mut text = String::from("## dockfix\n\n");
    if rewritten.is_empty() {
        text += "dockfix has nothing to change.\n";
    } else {
        text += &format!(
            "dockfix {} {} ({}) so {} faster and {} smaller, reproducible images, \
             without changing what the images do.\n",
            if done { "rewrote" } else { "would rewrite" },
            plural(rewritten.len(), "Dockerfile", "Dockerfiles"),
            plural(fixes, "fix", "fixes"),
            if rewritten.len() == 1 {
                "it builds"
            } else {
                "they build"
            },
            if rewritten.len() == 1 {
                "produces"
            } else {
                "produce"
            },
        );
    }
    for file in &rewritten {
        text += &format!("\n### `{}`\n\n", one_line(&file.path));
        text += "| Rule | Fixes | What it fixed | Effect |\n|---|---|---|---|\n";
        for (rule, count) in by_rule(&file.applied).into_values() {
            text += &format!(
                "| {} `{}` | {count} | {} | {} |\n",
                rule.id,
                rule.name,
                cell(rule.summary),
                cell(rule.effect)
            );
        }
        if !file.companions.is_empty() {
            let names: Vec<String> = file
                .companions
                .iter()
                .map(|c| format!("`{}`", one_line(c)))
                .collect();
            text += &format!(
                "\nAlso {}: {} (lines the moved steps need there).\n",
                if done { "changed" } else { "to change" },
                names.join(", ")
            );
        }
    }
    let left: Vec<&FindingReport> = out.files.iter().flat_map(|f| &f.left).collect();
    if !left.is_empty() {
        text += "\n### Left for a human\n\n";
        for finding in left {
            text += &format!("- {}\n", left_line(finding));
        }
    }
    if !out.errors.is_empty() {
        text += "\n### Not rewritten\n\n";
        for error in &out.errors {
            text += &format!("- {}\n", one_line(&error.text()));
        }
    }
    text += &format!(
        "\n---\nMade with `dockfix --write{}{options}`; `dockfix explain RULE` documents each rule.\n",
        if options.is_empty() { "" } else { " " }
    );
    text
}

/// Each rule once, in ID order, with how many of its fixes applied.
fn by_rule(applied: &[&'static Rule]) -> BTreeMap<&'static str, (&'static Rule, usize)> {
    let mut rules = BTreeMap::new();
    for rule in applied {
        rules.entry(rule.id).or_insert((*rule, 0)).1 += 1;
    }
    rules
}

fn left_line(finding: &FindingReport) -> String {
    let why = match &finding.fix {
        Some(fix) if fix.applicability == Applicability::Unsafe && !fix.applies => {
            " (`dockfix --write --unsafe` applies it after review)"
        }
        _ => "",
    };
    format!(
        "`{}:{}` {} `{}`: {}{why}",
        one_line(&finding.file),
        finding.range.start.line,
        finding.rule,
        finding.name,
        one_line(&finding.message)
    )
}

/// Text from Dockerfiles and paths, kept in its list item. (GitHub
/// sanitizes HTML itself, and entities would show literally inside code
/// spans.)
fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

/// Text kept in its table cell: no column breaks either.
fn cell(text: &str) -> String {
    one_line(text).replace('|', "\\|")
}
