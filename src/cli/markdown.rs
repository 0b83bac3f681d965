//! `--format markdown`: a pull-request body a maintainer can review in a
//! minute. Per file, the rules whose fixes the rewrite applies, what each
//! fix does and what the build gains; then what is left for a person, and why.

use std::collections::BTreeMap;

use super::report::{plural, FileReport, FindingReport, Output};
use crate::rules::{Applicability, Rule};

/// GitHub refuses a pull-request body longer than this (in characters).
const GITHUB_LIMIT: usize = 65_536;
/// Room kept for what `dockfix pr` adds after the body.
const MARGIN: usize = 1_024;
/// Findings listed one by one in a body that must be short.
const SHORT_LIST: usize = 50;

/// The body for a rewrite that `done` (applied) or would be applied, with
/// the options that chose its fixes (`--cache-style mounts`, ...). A
/// rewrite of many files whose per-file tables would not fit in a GitHub
/// pull request is described per rule instead.
pub fn body(out: &Output, done: bool, options: &str) -> String {
    let full = render(out, done, options, false);
    if full.chars().count() + MARGIN <= GITHUB_LIMIT {
        full
    } else {
        render(out, done, options, true)
    }
}

fn render(out: &Output, done: bool, options: &str, short: bool) -> String {
    let rewritten: Vec<&FileReport> = out.files.iter().filter(|f| !f.applied.is_empty()).collect();
    let fixes: usize = rewritten.iter().map(|f| f.applied.len()).sum();
    let one = rewritten.len() == 1;
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
            if one { "it builds" } else { "they build" },
            if one { "produces" } else { "produce" },
        );
    }
    if short {
        text += &per_rule(&rewritten);
    } else {
        for file in &rewritten {
            text += &per_file(file, done);
        }
    }
    let left: Vec<&FindingReport> = out.files.iter().flat_map(|f| &f.left).collect();
    text += &list("Left for a human", left.iter().map(|f| left_line(f)), short);
    text += &list(
        "Not rewritten",
        out.errors
            .iter()
            .map(|e| format!("{}: {}", code(&e.location()), one_line(&e.message))),
        short,
    );
    text += &format!(
        "\n---\nMade with `dockfix --write{}{options}`; `dockfix explain RULE` documents each rule.\n",
        if options.is_empty() { "" } else { " " }
    );
    text
}

/// A file's table: each rule applied, what its fix does, what it brings.
fn per_file(file: &FileReport, done: bool) -> String {
    let mut text = format!("\n### {}\n\n", code(&file.path));
    text += "| Rule | Fixes | Fix | Effect |\n|---|---|---|---|\n";
    for (rule, count) in by_rule(&file.applied).into_values() {
        text += &format!(
            "| {} `{}` | {count} | {} | {} |\n",
            rule.id,
            rule.name,
            cell(rule.fix_title),
            cell(rule.effect)
        );
    }
    // Said only where the rewrite changes what a source edit reruns.
    if let Some((before, after)) = file.source_edit.as_ref().filter(|(b, a)| b != a) {
        text += &format!(
            "\nAn edit of a source file (one no manifest COPY names) reruns {} before the \
             rewrite; after it, {}. Predicted from BuildKit's cache rules (`dockfix cache`){}.\n",
            reruns(before),
            reruns(after),
            if matches!(file.measured, Some(Ok(_))) {
                ""
            } else {
                ", not measured"
            }
        );
    }
    match &file.measured {
        Some(Ok(measured)) => text += &format!("\n{}\n", measurement(measured)),
        Some(Err(why)) => text += &format!("\nNot measured (`--measure`): {}.\n", one_line(why)),
        None => {}
    }
    if !file.companions.is_empty() {
        let names: Vec<String> = file.companions.iter().map(|c| code(c)).collect();
        text += &format!(
            "\nAlso {}: {} (lines the fixes add there).\n",
            if done { "changed" } else { "to change" },
            names.join(", ")
        );
    }
    text
}

/// Both sides' image sizes and rebuilds after a source edit, measured.
fn measurement(measured: &crate::measure::Measured) -> String {
    let (before, after) = (&measured.before, &measured.after);
    let megabytes = |bytes: u64| format!("{:.1} MB", bytes as f64 / 1e6);
    let rebuild = |side: &crate::measure::Side| {
        format!(
            "{:.1} s ({} of {} steps cached)",
            side.rebuild_s, side.steps.cached, side.steps.total
        )
    };
    format!(
        "Measured on Docker {} (`--measure`): the image is {} before the rewrite and {} after it; \
         after a source edit, the rebuild took {} before and {} after.",
        measured.engine,
        megabytes(before.size),
        megabytes(after.size),
        rebuild(before),
        rebuild(after)
    )
}

/// `2 of 4 steps, among them `RUN npm ci` (dependency install)`, and how
/// many more only may rerun.
fn reruns(edit: &crate::cache::SourceEdit) -> String {
    let mut text = format!("{} of {} steps", edit.rerun, edit.steps);
    if !edit.expensive.is_empty() {
        let named: Vec<String> = edit
            .expensive
            .iter()
            .map(|(instruction, cost)| format!("{} ({})", code(instruction), cost.name()))
            .collect();
        text += &format!(", among them {}", named.join(", "));
    }
    if edit.may_rerun > 0 {
        text += &format!(
            ", and up to {} more if what they copy from a rebuilt stage changes",
            edit.may_rerun
        );
    }
    text
}

/// One table for all files: each rule, in how many files, how many fixes.
fn per_rule(rewritten: &[&FileReport]) -> String {
    let mut rules: BTreeMap<&str, (&Rule, usize, usize)> = BTreeMap::new();
    for file in rewritten {
        for (rule, count) in by_rule(&file.applied).into_values() {
            let entry = rules.entry(rule.id).or_insert((rule, 0, 0));
            entry.1 += 1;
            entry.2 += count;
        }
    }
    let mut text = String::from(
        "\nThe files are too many to list here; the commit has them all.\n\n\
         | Rule | Files | Fixes | Fix | Effect |\n|---|---|---|---|---|\n",
    );
    for (rule, files, fixes) in rules.into_values() {
        text += &format!(
            "| {} `{}` | {files} | {fixes} | {} | {} |\n",
            rule.id,
            rule.name,
            cell(rule.fix_title),
            cell(rule.effect)
        );
    }
    text
}

/// A titled list, cut short in a short body.
fn list(title: &str, items: impl ExactSizeIterator<Item = String>, short: bool) -> String {
    let total = items.len();
    if total == 0 {
        return String::new();
    }
    let shown = if short { SHORT_LIST } else { total };
    let mut text = format!("\n### {title}\n\n");
    for item in items.take(shown) {
        text += &format!("- {item}\n");
    }
    if total > shown {
        text += &format!("- and {} more: `dockfix` lists them all.\n", total - shown);
    }
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
        "{} {} `{}`: {}{why}",
        code(&format!("{}:{}", finding.file, finding.range.start.line)),
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

/// A path (or other text from outside) as a code span, fenced with more
/// backticks than it holds, so it shows as written and cannot end early.
fn code(text: &str) -> String {
    let text = one_line(text);
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// Text kept in its table cell: no column breaks either.
fn cell(text: &str) -> String {
    one_line(text).replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::report::example_finding;
    use crate::rules::{find, Rule};

    fn rule(id: &str) -> &'static Rule {
        find(id).expect("a rule")
    }

    /// A run that rewrote `files` Dockerfiles, each with a finding left.
    fn rewrite_of(files: usize) -> Output {
        let reports = (0..files).map(|i| {
            let path = format!("services/service-{i}/Dockerfile");
            FileReport {
                changed: true,
                fixes: 2,
                applied: vec![rule("DF101"), rule("DF204")],
                left: vec![example_finding(&path)],
                path,
                ..Default::default()
            }
        });
        Output {
            files: reports.collect(),
            ..Output::new()
        }
    }

    #[test]
    fn a_rewrite_of_many_files_still_fits_in_a_pull_request() {
        let few = body(&rewrite_of(3), true, "");
        assert!(few.contains("### `services/service-2/Dockerfile`"), "{few}");
        assert!(
            few.contains("- `services/service-2/Dockerfile:1` DF002"),
            "{few}"
        );
        let many = body(&rewrite_of(400), true, "");
        assert!(many.chars().count() + MARGIN <= GITHUB_LIMIT);
        assert!(!many.contains("### `services/"), "{many}");
        assert!(
            many.contains("| DF101 `install-before-copy` | 400 | 400 | Install dependencies from their manifests"),
            "{many}"
        );
        assert!(
            many.contains("- and 350 more: `dockfix` lists them all."),
            "{many}"
        );
        assert!(render(&rewrite_of(400), true, "", false).chars().count() > GITHUB_LIMIT);
    }
}
