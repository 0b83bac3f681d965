//! DF602 secrets-in-context: a COPY or ADD puts a file that looks like a
//! secret into the image.

use regex::bytes::Regex;

use super::{dep_runs, finding, first_bytes, mentions, named_at, names, DepRun, Sent, Verdict};
use crate::cache::ContextRead;
use crate::context::wildcard_match;
use crate::rules::{Context, Finding, FixSafety, Rule};
use crate::transforms::{self, Secret};

pub static RULE: Rule = Rule {
    id: "DF602",
    name: "secrets-in-context",
    summary: "a COPY puts a file that looks like a secret into the image",
    fix_title: "Keep files that look like secrets out of the build context in `.dockerignore`",
    effect: "the image no longer holds a file that looks like a secret, which anyone who pulls it could read",
    fix_safety: FixSafety::Sometimes,
    cache_style: None,
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF602 secrets-in-context

## What it does
Finds files of the build context that look like secrets and that a COPY or
ADD puts into the image, says which instruction takes each, and adds the
file to `.dockerignore`. What looks like a secret is data
(`transforms/context.toml`): environment files (`.env`, `.env.production`;
not templates such as `.env.example`), private keys (`*.pem`, `*.key`,
`id_rsa`, ... holding a `PRIVATE KEY` block), key stores (`*.p12`,
`*.jks`), `.npmrc` and `.yarnrc.yml` with a registry token, `.pypirc`,
`.netrc` and `.git-credentials` with a password or token, and cloud
credential files. dockfix prints the path of such a file, never what it
holds.

## Why
Every layer of an image can be read by anyone who pulls it: a key copied
by `COPY . .` and deleted by a later RUN is still in the layer that copied
it. A build that needs a credential should get it as a secret
(`RUN --mount=type=secret`), which never lands in a layer.

## Example
```dockerfile
FROM python:3.12-slim
COPY . /app
```
with a `.env` holding a database password and nothing that reads it gains
a `.dockerignore` line:
```
.env
```

## Fix safety
Safe only where nothing reads the file: no instruction names it, no file
the build copies names it (dockfix reads the copied text files for its
name), and no tool loads it without naming it. Otherwise:
- **Unsafe** (the image would lose a file it may use): a project file
  names a library or framework that loads `.env` files by itself
  (`dotenv`, Next.js, Vite, Laravel, ...), a copied file names it, a
  source with a variable may take it, or the context holds more files
  than dockfix reads to be sure.
- **Reported, not fixed:** a source or an instruction names it, an install
  after the copy reads it (`npm ci` reads `.npmrc`: pass it as a secret
  mount instead), or a `!` pattern of `.dockerignore` brings it back.
";

/// Copied text files read for a secret's name: at most this many, each at
/// most `MAX_TEXT` bytes; a context with more of them leaves the fix unsafe.
const MAX_READ: usize = 3_000;
const MAX_TEXT: u64 = 256 * 1024;

fn check(cx: &Context) -> Vec<Finding> {
    let Some(sent) = Sent::of(cx) else {
        return Vec::new();
    };
    let table = transforms::context();
    let mut found: Vec<(String, &Secret, Vec<&ContextRead>)> = Vec::new();
    for path in sent.listing.files() {
        let base = path.rsplit('/').next().unwrap_or(path);
        let Some(secret) = table.secret.iter().find(|s| looks_like(s, base)) else {
            continue;
        };
        // A bind mount sends the file to the builder, not into the image.
        let takers: Vec<&ContextRead> = sent
            .takers(path)
            .into_iter()
            .filter(|r| r.instruction.command.name != "run")
            .collect();
        if takers.is_empty() || !holds(secret, &sent.root.join(path)) {
            continue;
        }
        found.push((path.to_string(), secret, takers));
    }
    if found.is_empty() {
        return Vec::new();
    }
    let named_in = copied_files_naming(&sent, &found);
    let deps = dep_runs(cx);
    found
        .iter()
        .map(|(path, secret, takers)| {
            let first = takers
                .iter()
                .min_by_key(|r| r.instruction.span().start)
                .expect("takers is not empty");
            let verdict = judge(cx, &sent, &deps, path, secret, takers, &named_in);
            let copy = crate::cache::one_line(first.instruction);
            let head = format!(
                "`{copy}` puts {path} ({}, by its name) into the image",
                secret.what
            );
            let (why, applicability) =
                verdict.said("nothing in the build reads it: leave it out in .dockerignore");
            let message = format!("{head}; {why}");
            finding(&RULE, cx, first, message, vec![path.clone()], applicability)
        })
        .collect()
}

fn looks_like(secret: &Secret, base: &str) -> bool {
    secret.names.iter().any(|n| wildcard_match(n, base))
        && !secret.except.iter().any(|n| wildcard_match(n, base))
}

/// Whether the file holds what makes it a secret, when its kind says what
/// (`.npmrc` with a token); the content is only tested, never kept.
fn holds(secret: &Secret, path: &std::path::Path) -> bool {
    let Some(pattern) = &secret.content else {
        return true;
    };
    let Some(text) = first_bytes(path, 1024 * 1024) else {
        return false;
    };
    Regex::new(pattern).is_ok_and(|re| re.is_match(&text))
}

/// For each secret's base name, a copied file (not a secret itself) that
/// names it; `Err` when the context holds more than dockfix reads.
fn copied_files_naming(
    sent: &Sent,
    found: &[(String, &Secret, Vec<&ContextRead>)],
) -> Result<Vec<(String, String)>, String> {
    if !sent.listing.complete {
        return Err("the build context holds more files than dockfix lists".into());
    }
    let secrets: Vec<&str> = found.iter().map(|(p, ..)| p.as_str()).collect();
    let mut named = Vec::new();
    let mut read = 0;
    for path in sent.listing.files() {
        if secrets.contains(&path) || sent.takers(path).is_empty() || only_names(path) {
            continue;
        }
        let full = sent.root.join(path);
        if std::fs::symlink_metadata(&full).map_or(true, |m| m.len() > MAX_TEXT) {
            continue;
        }
        read += 1;
        if read > MAX_READ {
            return Err(format!(
                "the build context holds more than {MAX_READ} files dockfix reads for its name"
            ));
        }
        let Some(text) = first_bytes(&full, MAX_TEXT) else {
            continue;
        };
        if text.contains(&0) {
            continue;
        }
        for secret in &secrets {
            let base = secret.rsplit('/').next().unwrap_or(secret);
            if mentions(&text, base) {
                named.push((secret.to_string(), path.to_string()));
            }
        }
    }
    Ok(named)
}

/// Files that name paths without reading them: ignore lists (a
/// `.gitignore` naming `.env` keeps it out of the history) and prose.
fn only_names(path: &str) -> bool {
    let base = path.rsplit('/').next().unwrap_or(path);
    (base.starts_with('.') && base.ends_with("ignore"))
        || [".md", ".rst", ".adoc"]
            .iter()
            .any(|ext| base.ends_with(ext))
        || base.starts_with("README")
        || base.starts_with("CHANGELOG")
}

fn judge(
    cx: &Context,
    sent: &Sent,
    deps: &[DepRun],
    path: &str,
    secret: &Secret,
    takers: &[&ContextRead],
    named_in: &Result<Vec<(String, String)>, String>,
) -> Verdict {
    let base = path.rsplit('/').next().unwrap_or(path);
    if !sent.may_append(path) {
        return Verdict::Kept("a `!` pattern of .dockerignore brings it back".into());
    }
    if let Some(read) = takers.iter().find(|r| names(r, path)) {
        return Verdict::Kept(format!(
            "line {} copies it by name",
            read.instruction.start_line
        ));
    }
    if let Some(line) = named_at(cx, base) {
        return Verdict::Kept(format!("line {line} names it"));
    }
    if let Some(line) = install_reading(deps, secret, takers) {
        return Verdict::Kept(format!(
            "line {line} runs an install that reads it; pass it as a secret mount (`RUN --mount=type=secret`) instead"
        ));
    }
    if let Some(read) = takers.iter().find(|r| r.sources.is_err()) {
        return Verdict::Unsafe(format!(
            "line {} copies sources with a variable, which may name it",
            read.instruction.start_line
        ));
    }
    // The project a file belongs to may sit in its directory or above it
    // (`ui/.env` beside `ui/package.json`).
    let dirs = std::iter::successors(Some(path), |p| p.rsplit_once('/').map(|(dir, _)| dir))
        .skip(1)
        .chain(std::iter::once(""));
    for dir in dirs
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .rev()
    {
        for file in &secret.reader_files {
            let file = match dir {
                "" => file.clone(),
                dir => format!("{dir}/{file}"),
            };
            let Some(text) = first_bytes(&sent.root.join(&file), MAX_TEXT) else {
                continue;
            };
            if let Some(word) = secret.readers.iter().find(|w| mentions(&text, w)) {
                return Verdict::Unsafe(format!(
                    "{file} names {word}, which may load it without naming it"
                ));
            }
        }
    }
    match named_in {
        Err(why) => Verdict::Unsafe(why.clone()),
        Ok(named) => match named.iter().find(|(secret, _)| secret == path) {
            Some((_, by)) => {
                Verdict::Unsafe(format!("{by} names {base}, and the image may read it"))
            }
            None => Verdict::Safe,
        },
    }
}

/// The line of a RUN, in a stage a read copies the file into, that runs an
/// install of an ecosystem that reads the file from its directory.
fn install_reading(deps: &[DepRun], secret: &Secret, takers: &[&ContextRead]) -> Option<usize> {
    takers.iter().find_map(|read| {
        deps.iter()
            .find(|d| d.stage == read.stage && secret.installs.contains(&d.dep.ecosystem.name))
            .map(|d| d.instruction.start_line)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_files_look_like_secrets_and_their_templates_do_not() {
        let env = &transforms::context().secret[0];
        for name in [
            ".env",
            ".env.production",
            ".env.local",
            "prod.env",
            "secrets.env",
        ] {
            assert!(looks_like(env, name), "{name}");
        }
        for name in [
            ".env.example",
            ".env.dev.default",
            "app.sample.env",
            "envoy.yaml",
        ] {
            assert!(!looks_like(env, name), "{name}");
        }
    }
}
