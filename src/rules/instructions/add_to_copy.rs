//! DF001 add-to-copy: `ADD` of local files or directories becomes `COPY`.

use crate::context;
use crate::edit::Edit;
use crate::fix::keyword_like;
use crate::rules::{Applicability, Context, Finding, Fix, FixSafety, Rule};
use crate::syntax::Word;

pub static RULE: Rule = Rule {
    id: "DF001",
    name: "add-to-copy",
    summary: "ADD of local files or directories: use COPY",
    fix_title: "Use `COPY` for local files instead of `ADD`",
    effect: "the instruction only copies local files, as it says: ADD's URL fetching and archive unpacking can no longer surprise",
    fix_safety: FixSafety::Sometimes,
    cache_style: None,
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF001 add-to-copy

## What it does
Finds `ADD` instructions whose sources are local files or directories and
replaces the keyword with `COPY`. Equivalent to hadolint's DL3020.

## Why
`ADD` does more than copy: it downloads URLs and unpacks local tar archives.
A reader cannot tell from `ADD app.bin /opt/` whether the file will be
unpacked; with `COPY` the answer is always no. Docker's best practices ask
for `COPY` unless the extra behaviour is wanted.

## Example
```dockerfile
ADD requirements.txt /app/
```
becomes
```dockerfile
COPY requirements.txt /app/
```

Left alone on purpose: URL and git sources, archive sources (ADD unpacks
them), heredoc sources, and flags only ADD has (`--checksum`,
`--keep-git-dir`, `--unpack`).

## Fix safety
Safe when every source is a directory, or a file that dockfix read in the
build context (`--context`, by default the Dockerfile's directory) and
found not to be an archive: ADD decides by content, not by name, so dockfix
checks the tar header and compression magic bytes the same way. When a
source cannot be read (no build context, a file missing from it, an ONBUILD
trigger that runs in another build) the fix is unsafe: the file might be an
archive that ADD would unpack. A source that uses a variable is reported
without a fix.
";

const COPY_FLAGS: &[&str] = &["chown", "chmod", "link", "parents", "exclude"];

fn check(cx: &Context) -> Vec<Finding> {
    let mut findings = Vec::new();
    // The ADDs of each stage, found by keyword, and any before the first
    // FROM (a file BuildKit rejects, which the editor still shows).
    let outside = cx
        .file
        .instructions()
        .take_while(|i| i.command.name != "from");
    let staged = cx.stages().iter().flat_map(|s| s.each(&["add"]));
    for instruction in outside.chain(staged.map(|(_, i)| i)) {
        let (command, in_onbuild) = match &instruction.command.sub {
            Some(sub) => (&**sub, true),
            None => (&instruction.command, false),
        };
        if command.name != "add" || !instruction.heredocs.is_empty() || command.values.len() < 2 {
            continue;
        }
        if command
            .flags
            .iter()
            .any(|f| !COPY_FLAGS.contains(&f.name()))
        {
            continue;
        }
        let sources = &command.values[..command.values.len() - 1];
        if sources.iter().any(|s| is_remote(s)) {
            continue;
        }
        let keyword_range = instruction.file_range(command.keyword.clone());
        let verdict = if sources.iter().any(|s| s.contains(['"', '\''])) {
            Verdict::NoFix("a source is quoted, and dockfix does not read quoted names yet")
        } else if sources.iter().any(|s| s.contains('$')) {
            Verdict::NoFix("a source uses a variable, so dockfix cannot tell a URL or an archive from a plain file")
        } else if in_onbuild {
            judge_unread(
                sources,
                "runs in a downstream build whose context dockfix cannot read",
            )
        } else {
            judge(cx, sources)
        };
        let original = crate::syntax::lossy(&cx.file.source[keyword_range.clone()]).into_owned();
        let edit = Edit::replace(keyword_range.clone(), keyword_like(&original, "COPY"));
        let (message, fix) = match verdict {
            Verdict::Archive => continue,
            Verdict::Safe => (
                RULE.summary.to_string(),
                Some(fix(Applicability::Safe, edit)),
            ),
            Verdict::Unsafe(why) => (
                format!("{}; the fix is unsafe: {why}", RULE.summary),
                Some(fix(Applicability::Unsafe, edit)),
            ),
            Verdict::NoFix(why) => (format!("{}; not fixed: {why}", RULE.summary), None),
        };
        findings.push(Finding {
            rule: &RULE,
            range: keyword_range,
            message,
            fix,
        });
    }
    findings
}

enum Verdict {
    Safe,
    Unsafe(&'static str),
    NoFix(&'static str),
    Archive,
}

fn fix(applicability: Applicability, edit: Edit) -> Fix {
    Fix::new(applicability, vec![edit])
}

/// URLs and git sources, including scp-like `user@host:path` ones.
fn is_remote(source: &str) -> bool {
    if source.contains("://") {
        return true;
    }
    let before_path = source.split('/').next().unwrap_or_default();
    before_path
        .split_once('@')
        .is_some_and(|(user, host)| !user.is_empty() && host.contains(':'))
}

/// A source that names a directory by its form alone.
fn is_directory_form(source: &str) -> bool {
    source == "." || source == ".." || source.ends_with('/') || source.ends_with("/.")
}

fn judge(cx: &Context, sources: &[Word]) -> Verdict {
    let Some(root) = cx.build_context else {
        return judge_unread(
            sources,
            "there is no build context to check the sources for archives",
        );
    };
    let mut unread = false;
    for source in sources {
        if is_directory_form(source) {
            continue;
        }
        let paths = context::resolve(root, source);
        if paths.is_empty() {
            unread = true;
            if context::looks_like_archive(source) {
                return Verdict::Archive;
            }
        }
        for path in paths {
            if path.is_dir() {
                continue;
            }
            match context::is_archive(&path) {
                Ok(false) => {}
                Ok(true) => return Verdict::Archive,
                Err(_) => unread = true,
            }
        }
    }
    if unread {
        Verdict::Unsafe(
            "a source is missing from the build context, so it could not be checked for an archive",
        )
    } else {
        Verdict::Safe
    }
}

/// Sources that cannot be read: directories are safe, archive-like names
/// are left alone, anything else might still be an archive.
fn judge_unread(sources: &[Word], why: &'static str) -> Verdict {
    if sources.iter().all(|s| is_directory_form(s)) {
        Verdict::Safe
    } else if sources.iter().any(|s| context::looks_like_archive(s)) {
        Verdict::Archive
    } else {
        Verdict::Unsafe(why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_sources() {
        for remote in [
            "https://example.com/a.tgz",
            "git@github.com:o/r.git",
            "deploy@host:repo.git",
            "ssh://h/r",
        ] {
            assert!(is_remote(remote), "{remote}");
        }
        for local in ["app.tar", "dir/file@2x.png", "a:b", "./x@y"] {
            assert!(!is_remote(local), "{local}");
        }
    }
}
