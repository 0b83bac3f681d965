//! `dockfix pr`: the rewrite as a pull request. The branch is named after
//! the change itself, so the same rewrite always lands on the same branch,
//! and a run that finds that branch's pull request open updates it instead
//! of opening another.

pub mod api;
pub mod git;

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::rules::Rule;

/// A file of the repository as it is and as the rewrite leaves it.
pub struct Change {
    /// Relative to the checkout's top, with `/`.
    pub path: String,
    /// `None` for a file the rewrite creates.
    pub before: Option<Vec<u8>>,
    pub after: Vec<u8>,
}

/// `dockfix/` and a digest of the base branch and the changed files' paths
/// and contents before and after: the same rewrite of the same files into
/// the same branch gives the same branch.
pub fn branch(base: &str, changes: &[Change]) -> String {
    let mut sorted: Vec<&Change> = changes.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut hash = Sha256::new();
    hash.update(base.as_bytes());
    hash.update([0]);
    for change in sorted {
        hash.update(change.path.as_bytes());
        hash.update([0]);
        match &change.before {
            Some(before) => hash.update(Sha256::digest(before)),
            None => hash.update(b"new"),
        }
        hash.update(Sha256::digest(&change.after));
    }
    format!("dockfix/{}", hex(&hash.finalize()[..6]))
}

/// A line for the pull request's body naming what a run covers: the base,
/// the paths it was given and the options that chose the fixes. An open
/// pull request with the same line and another branch is an older rewrite
/// of the same files, which a new one supersedes.
pub fn scope(base: &str, paths: &[String], options: &str) -> String {
    let mut paths = paths.to_vec();
    paths.sort();
    let mut hash = Sha256::new();
    for part in [base, &paths.join("\0"), options] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    format!("<!-- dockfix-scope: {} -->", hex(&hash.finalize()[..8]))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The pull request's title and the commit's subject: the files and rules.
pub fn title(rewritten: &[(String, Vec<&'static Rule>)]) -> String {
    let mut ids: Vec<&str> = rewritten
        .iter()
        .flat_map(|(_, rules)| rules.iter().map(|r| r.id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let what = match rewritten {
        [(path, _)] => format!("rewrite {}", path.replace(['\r', '\n'], " ")),
        _ => format!("rewrite {} Dockerfiles", rewritten.len()),
    };
    format!("dockfix: {what} ({})", ids.join(", "))
}

/// The commit message: the title, then each rule with what it brings and
/// the files it changed.
pub fn commit_message(rewritten: &[(String, Vec<&'static Rule>)]) -> String {
    let mut by_rule: BTreeMap<&str, (&Rule, Vec<&str>)> = BTreeMap::new();
    for (path, rules) in rewritten {
        for rule in rules {
            let files = &mut by_rule.entry(rule.id).or_insert((*rule, vec![])).1;
            if !files.contains(&path.as_str()) {
                files.push(path);
            }
        }
    }
    let mut message = title(rewritten) + "\n\n";
    for (rule, files) in by_rule.into_values() {
        message += &format!(
            "- {} {}: {} ({})\n",
            rule.id,
            rule.name,
            rule.effect,
            files.join(", ")
        );
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(path: &str, before: &str, after: &str) -> Change {
        Change {
            path: path.into(),
            before: Some(before.into()),
            after: after.into(),
        }
    }

    #[test]
    fn the_branch_names_the_change_and_its_base_whatever_the_order() {
        let pair = || {
            (
                change("Dockerfile", "FROM x\n", "FROM y\n"),
                change("api/Dockerfile", "FROM x\n", "FROM z\n"),
            )
        };
        let (a, b) = pair();
        let name = branch("main", &[a, b]);
        assert!(name.starts_with("dockfix/") && name.len() == "dockfix/".len() + 12);
        let (a, b) = pair();
        assert_eq!(branch("main", &[b, a]), name);
        let same = || change("Dockerfile", "FROM x\n", "FROM y\n");
        let other = change("Dockerfile", "FROM x\n", "FROM w\n");
        assert_ne!(branch("main", &[other]), branch("main", &[same()]));
        assert_ne!(branch("release", &[same()]), branch("main", &[same()]));
        let created = Change {
            path: "Dockerfile".into(),
            before: None,
            after: "FROM y\n".into(),
        };
        let emptied = change("Dockerfile", "", "FROM y\n");
        assert_ne!(branch("main", &[created]), branch("main", &[emptied]));
    }

    #[test]
    fn the_scope_is_the_base_paths_and_options() {
        let paths = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let scope_of = |base, p: &[&str], options| scope(base, &paths(p), options);
        assert_eq!(
            scope_of("main", &["a", "b"], ""),
            scope_of("main", &["b", "a"], "")
        );
        assert_ne!(scope_of("main", &["a"], ""), scope_of("main", &["b"], ""));
        assert_ne!(
            scope_of("main", &["a"], ""),
            scope_of("main", &["a"], "--unsafe")
        );
        assert_ne!(scope_of("main", &["a"], ""), scope_of("dev", &["a"], ""));
        assert!(scope_of("main", &[], "").starts_with("<!-- dockfix-scope: "));
    }
}
