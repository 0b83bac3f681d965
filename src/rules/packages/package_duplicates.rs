//! DF217 package-duplicates: a package named twice in one install.

use std::collections::HashSet;
use std::ops::Range;

use crate::edit::Edit;
use crate::facts::package_install::{install, Install};
use crate::rules::{Applicability, Context, Finding, Fix, FixSafety, Rule};
use crate::syntax::Dockerfile;

pub static RULE: Rule = Rule {
    id: "DF217",
    name: "package-duplicates",
    summary: "a package is named twice in one install",
    fix_title: "Remove the package's second mention",
    effect: "each package named once in its install",
    fix_safety: FixSafety::Safe,
    cache_style: None,
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF217 package-duplicates

## What it does
Removes the second mention of a package in one `apt-get install`, `apt
install`, `apk add`, `dnf`/`yum`/`microdnf install` or `zypper install`.
Where one mention pins a version (`curl=7.88.1-10`) and the other does not,
the unpinned one goes and the pin stays; two different pins are left alone.
A package alone on its continuation line takes the line with it.

## Why
Long package lists grow by copy and paste; a duplicate hides which version
is meant and makes the list harder to review.

## Example
```dockerfile
RUN apt-get install -y curl git curl=7.88.1-10
```
becomes
```dockerfile
RUN apt-get install -y git curl=7.88.1-10
```

## Fix safety
Safe: the package manager installs a package named twice once, at the
pinned version when one is given.
";

fn check(cx: &Context) -> Vec<Finding> {
    let mut findings = Vec::new();
    for command in cx.run_commands() {
        let Some(install) = install(command) else {
            continue;
        };
        for (word, range) in duplicates(&install) {
            let before = command
                .words
                .iter()
                .map(|(_, r)| r)
                .take_while(|r| r.start < range.start)
                .last()
                .expect("a package follows its subcommand");
            let fix = removal(cx.file, before.end, range)
                .map(|removed| Fix::new(Applicability::Safe, vec![Edit::replace(removed, "")]));
            let message = match fix {
                Some(_) => format!("{word} is named twice"),
                None => format!("{word} is named twice; not fixed: a comment line is in the way"),
            };
            findings.push(Finding {
                rule: &RULE,
                range: range.clone(),
                message,
                fix,
            });
        }
    }
    findings
}

/// The mentions to drop: a repeated word, or an unpinned name that is also
/// pinned.
fn duplicates<'c>(install: &Install<'c>) -> Vec<(&'c str, &'c Range<usize>)> {
    let packages: Vec<(&str, &Range<usize>)> = install
        .packages
        .iter()
        .filter_map(|&(w, r)| Some((w?, r)))
        .collect();
    // The names that some word pins to a version (`curl` of `curl=7.88`).
    let pinned_names: HashSet<&str> = packages
        .iter()
        .map(|(w, _)| install.name(w))
        .zip(&packages)
        .filter(|(name, (w, _))| name != w)
        .map(|(name, _)| name)
        .collect();
    let mut seen = HashSet::new();
    let mut drop = Vec::new();
    for &(word, range) in &packages {
        let pinned = install.name(word) != word;
        let repeated = !seen.insert(word);
        let pinned_elsewhere = !pinned && pinned_names.contains(word);
        if repeated || pinned_elsewhere {
            drop.push((word, range));
        }
    }
    drop
}

/// The bytes to delete for a word, given where the word before it ends:
/// its whole line when it stands alone on a continued line; back to the
/// word before when it ends the instruction alone on its line (the line
/// before must then lose its continuation); else the word and its blanks.
fn removal(file: &Dockerfile, before: usize, word: &Range<usize>) -> Option<Range<usize>> {
    let src = &file.source;
    let line_start = src[..word.start]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line_end = src[word.end..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(src.len(), |i| word.end + i + 1);
    let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let first_on_line = src[line_start..word.start].iter().all(blank);
    let rest: Vec<u8> = src[word.end..line_end]
        .iter()
        .copied()
        .filter(|b| !blank(b))
        .collect();
    let (mut start, mut end) = (word.start, word.end);
    match (first_on_line, rest.as_slice()) {
        (true, [escape]) if *escape == file.escape => return Some(line_start..line_end),
        (true, []) => start = before,
        // What stays would start with `#`: a comment line, which Docker
        // drops from the continuation.
        (true, [b'#', ..]) => return None,
        // First on its line: the indentation stays, the blanks after go.
        (true, _) => {
            while matches!(src.get(end), Some(b' ' | b'\t')) {
                end += 1;
            }
        }
        (false, _) => {
            while matches!(src[start - 1], b' ' | b'\t') {
                start -= 1;
            }
        }
    }
    let comment_between = src[start..end]
        .split(|&b| b == b'\n')
        .skip(1)
        .any(|line| line.trim_ascii_start().starts_with(b"#"));
    (!comment_between).then_some(start..end)
}
