//! DF601 unneeded-context: a copy of the build context takes what no build
//! needs (history, dependency folders and build outputs the image makes
//! again, tool caches, editor files, the Dockerfile itself).

use std::collections::BTreeMap;

use super::{
    dep_runs, finding, first_bytes, list, mentions, named_at, names, DepRun, Sent, Verdict,
};
use crate::cache::ContextRead;
use crate::deps::Role;
use crate::rules::{Applicability, Context, Finding, FixSafety, Rule};
use crate::transforms::{self, Ecosystem, UnneededKind};

pub static RULE: Rule = Rule {
    id: "DF601",
    name: "unneeded-context",
    summary: "the build context sends files no build needs",
    fix_title: "Leave what no build needs out of the build context in `.dockerignore`",
    effect: "the builder receives less, an edit of those files no longer reruns the copy, and the image no longer holds them",
    fix_safety: FixSafety::Sometimes,
    cache_style: None,
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF601 unneeded-context

## What it does
Reads the build context beside the Dockerfile and finds what a COPY, ADD
or bind mount of the build takes that no build needs, and adds it to
`.dockerignore`:
- version control history (`.git`, `.hg`, `.svn`);
- dependency folders an install in the image makes again (`node_modules`
  where `npm ci` runs in the directory the copy puts it, `vendor` for
  composer, `.venv` for uv), and build outputs a build in the image makes
  again (`target` for cargo and Maven, `build` and `.gradle` for Gradle,
  `bin` and `obj` for .NET): the `must_ignore` and `outputs` of
  `transforms/ecosystems.toml`;
- tool caches (`__pycache__`, `.pytest_cache`, `.mypy_cache`, ...) and
  editor and operating-system files (`.DS_Store`, `.idea`, `.vscode`, ...),
  listed in `transforms/context.toml`;
- the Dockerfile and `.dockerignore` themselves (the builder reads them
  apart from the context).

Only what the context holds is proposed, and only what the build takes:
a build that copies `src/` alone sends nothing else.

## Why
Without these lines, `COPY . .` sends them to the builder on every build,
reruns the copy and everything after it when any of them changes (each
commit changes `.git`), and puts them into the image: a developer's
`node_modules`, built for their machine, over the one the image installed.

## Example
```dockerfile
FROM node:22
WORKDIR /app
COPY . .
RUN npm ci
```
with `.git` and `node_modules` in the context gains a `.dockerignore`
(which the builder, like the Dockerfile, reads apart from the context):
```
.git
node_modules
Dockerfile
.dockerignore
```

## Fix safety
Safe where nothing in the build reads what is left out. Otherwise:
- **Reported, not fixed:** a source that names the path (`COPY .git
  .git`), an instruction that names it, a dependency folder or build
  output no install or build in the image makes again in the directory
  the copy puts it (the image would lose it), and paths under a `!`
  pattern of `.dockerignore` (the appended line would undo it).
- **Unsafe:** version control history where the build may read it: a RUN
  that runs `git`, a `go build` (Go stamps the commit into the binary), a
  project file that names a tool computing the version from the history
  (`setuptools_scm`, `husky`, ...); and any path a source with a variable
  may take.

Lines are appended to `.dockerignore`, never reordered; a file that does
not exist is created.
";

/// A path of the context the rule may propose, with its line.
struct Candidate {
    /// The `.dockerignore` line.
    line: String,
    /// The paths of the context it covers.
    paths: Vec<String>,
    what: String,
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Listed(UnneededKind),
    /// Made by an install (`must_ignore`) or a build (`outputs`) of an
    /// ecosystem.
    Made(Role),
    /// The Dockerfile or `.dockerignore`.
    Own,
}

/// The read a finding sits at, and the verdict on each path it takes first.
type Proposals<'r, 'f> = (&'r ContextRead<'f>, Vec<(Candidate, Verdict)>);

fn check(cx: &Context) -> Vec<Finding> {
    let Some(sent) = Sent::of(cx) else {
        return Vec::new();
    };
    // Each proposal goes to the first read that takes it; its verdicts by
    // that read, in the order found.
    let mut at: BTreeMap<usize, Proposals> = BTreeMap::new();
    let deps = dep_runs(cx);
    let (created, found): (Vec<Candidate>, Vec<Candidate>) = candidates(cx, &sent, &deps)
        .into_iter()
        .partition(|c| created_ignore(&sent, c));
    for candidate in found {
        let takers: Vec<&ContextRead> = candidate
            .paths
            .iter()
            .flat_map(|p| sent.takers(p))
            .collect();
        let Some(first) = takers.iter().min_by_key(|r| r.instruction.span().start) else {
            continue;
        };
        let verdict = judge(cx, &sent, &deps, &candidate, &takers);
        at.entry(first.instruction.span().start)
            .or_insert((first, Vec::new()))
            .1
            .push((candidate, verdict));
    }
    let mut findings = Vec::new();
    let own_line: Vec<String> = created.into_iter().map(|c| c.line).collect();
    let with_own = |mut lines: Vec<String>| {
        lines.extend(own_line.iter().cloned());
        lines
    };
    for (read, verdicts) in at.into_values() {
        let copy = crate::cache::one_line(read.instruction);
        let described = |c: &Candidate| format!("{} ({})", c.line, c.what);
        let (safe, rest): (Vec<_>, Vec<_>) = verdicts
            .into_iter()
            .partition(|(_, v)| matches!(v, Verdict::Safe));
        if !safe.is_empty() {
            let names: Vec<String> = safe.iter().map(|(c, _)| described(c)).collect();
            findings.push(finding(
                &RULE,
                cx,
                read,
                format!(
                    "`{copy}` sends {} to the builder and into the image, and no build needs {}; leave {1} out in .dockerignore",
                    list(&names),
                    if names.len() == 1 { "it" } else { "them" }
                ),
                with_own(safe.into_iter().map(|(c, _)| c.line).collect()),
                Some(Applicability::Safe),
            ));
        }
        // The safe ones are grouped above.
        for (candidate, verdict) in rest {
            let (why, applicability) = verdict.said("");
            findings.push(finding(
                &RULE,
                cx,
                read,
                format!(
                    "`{copy}` sends {} to the builder and into the image; {why}",
                    described(&candidate)
                ),
                with_own(vec![candidate.line]),
                applicability,
            ));
        }
    }
    findings
}

/// What the context holds that the rule knows no build needs, not
/// already left out.
fn candidates(cx: &Context, sent: &Sent, deps: &[DepRun]) -> Vec<Candidate> {
    let mut found = Vec::new();
    for entry in &transforms::context().unneeded {
        let paths: Vec<String> = match entry.path.strip_prefix("**/") {
            Some(name) => sent
                .listing
                .entries
                .iter()
                .filter(|(p, _)| {
                    crate::context::wildcard_match(name, p.rsplit('/').next().unwrap_or(p))
                })
                .map(|(p, _)| p.clone())
                .collect(),
            None => sent
                .listing
                .has(&entry.path)
                .then(|| entry.path.clone())
                .into_iter()
                .collect(),
        };
        if !paths.is_empty() {
            found.push(Candidate {
                line: entry.path.clone(),
                paths,
                what: entry.what.clone(),
                kind: Kind::Listed(entry.kind),
            });
        }
    }
    // Only the folders of an ecosystem the file installs or builds with:
    // a `vendor` or `bin` directory means nothing otherwise.
    let mut made: BTreeMap<&str, (Role, &str, Vec<&Ecosystem>)> = BTreeMap::new();
    let mut run: Vec<(&Ecosystem, Role)> = Vec::new();
    for d in deps {
        if !run
            .iter()
            .any(|(e, r)| std::ptr::eq(*e, d.dep.ecosystem) && *r == d.dep.role)
        {
            run.push((d.dep.ecosystem, d.dep.role));
        }
    }
    for (ecosystem, role) in run {
        let (names, what) = match role {
            Role::Install => (&ecosystem.must_ignore, "installed dependencies"),
            Role::Build => (&ecosystem.outputs, "build output"),
        };
        for name in names {
            made.entry(name)
                .or_insert((role, what, Vec::new()))
                .2
                .push(ecosystem);
        }
    }
    for (path, is_dir) in &sent.listing.entries {
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        let Some((role, what, ecosystems)) = made.get(name).filter(|_| *is_dir) else {
            continue;
        };
        // Beside the project that makes it: a `vendor` of templates or
        // a `build` of scripts elsewhere is sources.
        let beside = ecosystems.iter().any(|e| {
            let marks = match e.project_files.is_empty() {
                true => &e.manifests,
                false => &e.project_files,
            };
            sent.listing.entries.iter().any(|(p, _)| {
                let (dir, base) = p.rsplit_once('/').unwrap_or(("", p));
                dir == parent
                    && marks
                        .iter()
                        .any(|m| crate::context::wildcard_match(m, base))
            })
        });
        if beside {
            found.push(Candidate {
                line: path.clone(),
                paths: vec![path.clone()],
                what: what.to_string(),
                kind: Kind::Made(*role),
            });
        }
    }
    let dockerfile = cx.dockerfile.and_then(|p| {
        let full = std::fs::canonicalize(p).ok()?;
        let root = std::fs::canonicalize(sent.root).ok()?;
        Some(crate::dockerignore::slashed(full.strip_prefix(root).ok()?))
    });
    for own in dockerfile.into_iter().chain([".dockerignore".to_string()]) {
        // A `.dockerignore` the fix creates is sent too: every fix adds
        // its line, so a second run has nothing to add.
        let created = own == ".dockerignore" && !sent.root.join(&own).exists();
        if sent.listing.has(&own) || created {
            found.push(Candidate {
                line: own.clone(),
                paths: vec![own],
                what: "read by the builder apart from the context".into(),
                kind: Kind::Own,
            });
        }
    }
    found.retain(|c| {
        c.paths
            .iter()
            .all(|p| sent.may_append(p) && !sent.contents_left_out(p))
    });
    found
}

/// The line for a `.dockerignore` the fix creates, which is sent only
/// once some other line makes the fix create it.
fn created_ignore(sent: &Sent, candidate: &Candidate) -> bool {
    candidate.line == ".dockerignore" && !sent.root.join(".dockerignore").exists()
}

fn judge(
    cx: &Context,
    sent: &Sent,
    deps: &[DepRun],
    candidate: &Candidate,
    takers: &[&ContextRead],
) -> Verdict {
    if let Some(read) = takers
        .iter()
        .find(|r| candidate.paths.iter().any(|p| names(r, p)))
    {
        return Verdict::Kept(format!(
            "line {} copies it by name",
            read.instruction.start_line
        ));
    }
    let base = candidate.line.rsplit('/').next().unwrap_or(&candidate.line);
    let vcs = candidate.kind == Kind::Listed(UnneededKind::Vcs);
    if !vcs {
        if let Some(line) = named_at(cx, base).filter(|_| !matches!(candidate.kind, Kind::Made(_)))
        {
            return Verdict::Kept(format!("line {line} names it"));
        }
    }
    if let Some(read) = takers.iter().find(|r| r.sources.is_err()) {
        return Verdict::Unsafe(format!(
            "line {} copies sources with a variable, which may name it",
            read.instruction.start_line
        ));
    }
    match candidate.kind {
        Kind::Listed(UnneededKind::Vcs) => match vcs_reader(cx, sent) {
            Some(why) => Verdict::Unsafe(why),
            None => Verdict::Safe,
        },
        Kind::Made(role) => {
            for read in takers {
                if !made_again(cx, deps, read, &candidate.line, role) {
                    return Verdict::Kept(format!(
                        "no {} in the image makes {} again where line {} puts it, so the image uses the build context's",
                        match role {
                            Role::Install => "install",
                            Role::Build => "build",
                        },
                        base,
                        read.instruction.start_line
                    ));
                }
            }
            Verdict::Safe
        }
        Kind::Listed(_) | Kind::Own => Verdict::Safe,
    }
}

/// What in the build may read version control history, if anything.
fn vcs_reader(cx: &Context, sent: &Sent) -> Option<String> {
    let table = transforms::context();
    for (index, stage) in cx.stages().iter().enumerate() {
        for instruction in &stage.body {
            let name = instruction.command.name.as_str();
            if matches!(name, "cmd" | "entrypoint" | "healthcheck")
                && mentions(&cx.file.source[instruction.span()], "git")
            {
                return Some(format!("line {} runs git", instruction.start_line));
            }
            if name != "run" {
                continue;
            }
            for command in cx.commands_of(instruction, index).iter() {
                match command.program() {
                    Some("git") => {
                        return Some(format!("line {} runs git", instruction.start_line))
                    }
                    Some("go")
                        if matches!(command.word(1), Some("build" | "install" | "test" | "run" | "generate"))
                            && !command.has(&["-buildvcs"]) =>
                    {
                        return Some(format!(
                            "line {} runs `go {}`, which stamps the commit from the history into the binary",
                            instruction.start_line,
                            command.word(1).unwrap_or_default()
                        ))
                    }
                    _ => {}
                }
            }
        }
    }
    let project_files = sent.listing.entries.iter().filter(|(path, is_dir)| {
        !is_dir
            && !path.contains('/')
            && table
                .vcs_files
                .iter()
                .any(|f| crate::context::wildcard_match(f, path))
    });
    for (file, _) in project_files {
        let Some(text) = first_bytes(&sent.root.join(file), 1024 * 1024) else {
            continue;
        };
        if let Some(word) = table.vcs_readers.iter().find(|w| mentions(&text, w)) {
            return Some(format!(
                "{file} names {word}, which reads the version control history"
            ));
        }
    }
    None
}

/// Whether a command's word may name a project elsewhere: a path, or a
/// project file.
fn names_path(word: &str) -> bool {
    word.contains('/')
        || word.starts_with('.')
        || [
            ".csproj", ".fsproj", ".vbproj", ".sln", ".proj", ".xml", ".toml", ".gradle", ".kts",
        ]
        .iter()
        .any(|ext| word.ends_with(ext))
}

/// `dir/name`, where an empty `dir` is the base image's working directory.
fn join(dir: &str, name: &str) -> String {
    let name = name.trim_start_matches("./");
    match dir.trim_end_matches('/') {
        "" | "." => name.to_string(),
        dir => format!("{dir}/{name}"),
    }
}

/// Whether a WORKDIR of the stage lineage comes before file offset `at`.
fn sets_workdir(cx: &Context, stage: usize, at: usize) -> bool {
    crate::model::lineage(cx.stages(), stage)
        .flat_map(|s| s.body.iter())
        .any(|i| i.command.name == "workdir" && i.span().start < at)
}

/// Whether an install or build of the stage `read` copies into runs where
/// the copy puts `path` (`WORKDIR` and destination known, no `cd` or
/// directory option before it), making it again.
fn made_again(cx: &Context, deps: &[DepRun], read: &ContextRead, path: &str, role: Role) -> bool {
    let Ok((sources, _)) = &read.sources else {
        return false;
    };
    if read.instruction.command.name == "run" {
        return false;
    }
    let Some(dest) = read.instruction.command.values.last() else {
        return false;
    };
    // Without a WORKDIR in the stage lineage, the copy and the install
    // both work in the base image's directory, whichever it is.
    let workdir = |at: usize| {
        let scope = cx.scope_at(read.stage, at);
        match (&scope.workdir, sets_workdir(cx, read.stage, at)) {
            (Some(dir), _) => Some(dir.clone()),
            (None, false) => Some(String::new()),
            (None, true) => None,
        }
    };
    let Some(base) = workdir(read.instruction.span().start) else {
        return false;
    };
    let scope = cx.scope_at(read.stage, read.instruction.span().start);
    let Some(dest) = scope.expand(dest) else {
        return false;
    };
    let dest = match base.as_str() {
        "" if !dest.starts_with('/') => join("", &dest),
        "" => crate::scope::clean(&dest),
        base => crate::scope::absolute(&dest, Some(base)).unwrap_or_default(),
    };
    let Some(landing) = sources.iter().find_map(|s| {
        let rest = if s.is_empty() {
            path
        } else {
            path.strip_prefix(s.as_str())?.strip_prefix('/')?
        };
        Some(join(&dest, rest))
    }) else {
        return false;
    };
    let name = path.rsplit('/').next().unwrap_or(path);
    deps.iter().filter(|d| d.stage == read.stage).any(
        |DepRun {
             instruction,
             dep,
             moved,
             ..
         }| {
            let makes = match role {
                Role::Install => {
                    dep.role == Role::Install && dep.ecosystem.must_ignore.iter().any(|m| m == name)
                }
                Role::Build => {
                    dep.role == Role::Build && dep.ecosystem.outputs.iter().any(|o| o == name)
                }
            };
            // A build may name its project (`dotnet publish src/App.csproj`)
            // and make its outputs there; goals and tasks (`mvn package`)
            // are words, not paths.
            let elsewhere = dep
                .ecosystem
                .directory_flags
                .iter()
                .any(|f| dep.has_flag(f))
                || (dep.role == Role::Build && dep.positional().iter().any(|w| names_path(w)));
            makes
                && !moved
                && !elsewhere
                && !dep.runs_script()
                && workdir(instruction.span().start).map(|w| join(&w, name))
                    == Some(landing.clone())
        },
    )
}
