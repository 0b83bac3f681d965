//! DF215 yarn-frozen-lockfile: `yarn install` without `--frozen-lockfile`
//! where the image has a yarn.lock.

use crate::edit::Edit;
use crate::facts::commands::RunCommand;
use crate::facts::yarn::{berry, copied, yarn_use, YarnUse};
use crate::model::{self, Stage};
use crate::rules::{Applicability, Context, Finding, Fix, FixSafety, Rule};
use crate::syntax::Word;

pub static RULE: Rule = Rule {
    id: "DF215",
    name: "yarn-frozen-lockfile",
    summary: "yarn install may resolve other versions than yarn.lock names",
    fix_title: "Add `--frozen-lockfile` to `yarn install`",
    effect: "the install uses exactly the versions yarn.lock names, or fails",
    fix_safety: FixSafety::Unsafe,
    cache_style: None,
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF215 yarn-frozen-lockfile

## What it does
Adds `--frozen-lockfile` to yarn 1's `yarn install` (or bare `yarn`) when a
COPY or ADD earlier in the stage chain brings a `yarn.lock` into the image:
named (`COPY package.json yarn.lock ./`), or inside a copied directory of
the build context that holds one.

## Why
Without it, yarn resolves again whatever `package.json` allows when the
lockfile does not match it, writes a new lockfile inside the image, and
the image holds other versions than the ones reviewed and tested. With it,
the build installs exactly the locked versions or fails.

## Example
```dockerfile
COPY package.json yarn.lock ./
RUN yarn install --production
```
becomes
```dockerfile
COPY package.json yarn.lock ./
RUN yarn install --frozen-lockfile --production
```

## Fix safety
Unsafe: a build whose yarn.lock is out of date now fails instead of
quietly updating it. That is the point, but it changes what the build
does. Reported without a fix: an install with no yarn.lock known to be
copied before it (no build context to look into, or none there), and yarn 2
and later (berry), whose option is `--immutable` (seen from `corepack`,
`yarn set version`, a copied `.yarnrc.yml` or `.yarn`). Not reported: an
install with `--frozen-lockfile`, `--pure-lockfile`, `--no-lockfile` or
`--immutable`, and `yarn add`.
";

const PRESENT: &[&str] = &[
    "--frozen-lockfile",
    "--pure-lockfile",
    "--no-lockfile",
    "--immutable",
];

fn check(cx: &Context) -> Vec<Finding> {
    let stages = cx.stages();
    let commands = cx.run_commands();
    let mut findings = Vec::new();
    for install in commands {
        let Some(YarnUse::Install(at)) = yarn_use(install) else {
            continue;
        };
        if install.has(PRESENT) {
            continue;
        }
        let report = |why: String| Finding {
            rule: &RULE,
            range: install.range.clone(),
            message: format!("{}; not fixed: {why}", RULE.summary),
            fix: None,
        };
        if let Some(why) = berry(cx, stages, commands, install) {
            findings.push(report(format!("{why}, whose option is --immutable")));
            continue;
        }
        findings.push(match lockfile(cx, stages, commands, install) {
            Ok(line) => Finding {
                rule: &RULE,
                range: install.range.clone(),
                message: format!(
                    "{}; install exactly the yarn.lock copied at line {line}",
                    RULE.summary
                ),
                fix: Some(Fix::new(
                    Applicability::Unsafe,
                    vec![Edit::insert(at, " --frozen-lockfile")],
                )),
            },
            Err(why) => report(why),
        });
    }
    findings
}

/// The line of the COPY that puts a yarn.lock where the install runs, or
/// why dockfix cannot tell that there is one.
fn lockfile(
    cx: &Context,
    stages: &[Stage],
    commands: &[RunCommand],
    install: &RunCommand,
) -> Result<usize, String> {
    let mut chain: Vec<&Stage> = model::lineage(stages, install.stage).collect();
    chain.reverse();
    // Directories in the image: absolute, or relative to the base image's
    // working directory (""); `None` once a variable makes one unknown.
    let mut cwd = Some(String::new());
    let mut copies: Vec<(Option<String>, usize)> = Vec::new();
    for i in chain
        .iter()
        .flat_map(|s| s.body.iter())
        .filter(|i| i.span().start < install.range.start)
    {
        match i.command.name.as_str() {
            "workdir" => cwd = join(cwd, i.command.values.first().map_or("$", Word::as_str)),
            "copy" | "add" if copied(cx, i, &["yarn.lock"]).is_some() => {
                let dest = i.command.values.last().map_or("$", Word::as_str);
                let mut dir = join(cwd.clone(), dest);
                // `COPY yarn.lock /app/yarn.lock` names the file itself.
                if dest.trim_end_matches('/').ends_with("yarn.lock") {
                    dir = join(dir, "..");
                }
                copies.push((dir, i.start_line));
            }
            _ => {}
        }
    }
    // `cd` earlier in the RUN, then `--cwd`.
    let run = stages[install.stage]
        .body
        .iter()
        .find(|i| i.span().contains(&install.range.start))
        .map(|i| i.span());
    let before = |c: &&RunCommand| {
        run.as_ref().is_some_and(|r| r.contains(&c.range.start))
            && c.range.start < install.range.start
    };
    for c in commands.iter().filter(before) {
        if c.word(0) == Some("cd") {
            cwd = join(cwd, c.word(1).filter(|_| c.words.len() == 2).unwrap_or("$"));
        }
    }
    for (i, (word, _)) in install.words.iter().enumerate() {
        match word.as_deref() {
            Some("--cwd") => cwd = join(cwd, install.word(i + 1).unwrap_or("$")),
            Some(w) if w.starts_with("--cwd=") => cwd = join(cwd, &w["--cwd=".len()..]),
            _ => {}
        }
    }
    if let Some((_, line)) = copies.iter().find(|(dir, _)| dir.is_some() && *dir == cwd) {
        return Ok(*line);
    }
    let place = |dir: &str| match dir {
        "" => "the base image's working directory".to_string(),
        dir => dir.to_string(),
    };
    match (copies.last(), &cwd) {
        (Some((Some(dir), line)), Some(cwd)) => Err(format!(
            "the yarn.lock copied at line {line} goes to {}, and the install runs in {}",
            place(dir),
            place(cwd)
        )),
        (Some((_, line)), _) => Err(format!(
            "dockfix cannot tell whether the yarn.lock copied at line {line} is where the install runs"
        )),
        (None, _) if cx.build_context.is_none() => Err(
            "without a build context dockfix cannot tell whether a yarn.lock is copied before it (use --context)".into(),
        ),
        (None, _) => Err("no yarn.lock is copied into the image before it".into()),
    }
}

/// `path` from `dir`, normalised; `None` when either is unknown.
fn join(dir: Option<String>, path: &str) -> Option<String> {
    let dir = dir?;
    if path.contains(['$', '~']) || path == "-" {
        return None;
    }
    let absolute = path.starts_with('/') || dir.starts_with('/');
    let mut parts: Vec<&str> = if path.starts_with('/') {
        Vec::new()
    } else {
        dir.split('/').filter(|p| !p.is_empty()).collect()
    };
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.is_empty() && !absolute => return None,
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    let joined = parts.join("/");
    Some(if absolute {
        format!("/{joined}")
    } else {
        joined
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_like_the_image_does() {
        let at = |dir: &str, path: &str| join(Some(dir.to_string()), path);
        assert_eq!(at("", "/app/").as_deref(), Some("/app"));
        assert_eq!(at("/app", "./web/../api").as_deref(), Some("/app/api"));
        assert_eq!(at("", "app").as_deref(), Some("app"));
        assert_eq!(at("/", "..").as_deref(), Some("/"));
        assert_eq!(at("", "."), Some(String::new()));
        assert_eq!(at("/app", "$DIR"), None);
        assert_eq!(at("", ".."), None, "above the unknown base directory");
    }
}
