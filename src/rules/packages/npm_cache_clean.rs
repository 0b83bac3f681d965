//! DF213 npm-cache-clean: clean npm's cache in the RUN that installs.

use super::cache_clean::{findings, Cache};
use crate::facts::commands::{subcommand, FlagSpec, RunCommand};
use crate::rules::{CacheStyle, Context, Finding, FixSafety, Rule};

pub static RULE: Rule = Rule {
    id: "DF213",
    name: "npm-cache-clean",
    summary: "npm's download cache stays in the image",
    fix_title: "Add `npm cache clean --force` after the install",
    effect: "smaller image: npm's download cache no longer stored in the layer",
    fix_safety: FixSafety::Safe,
    cache_style: Some(CacheStyle::Cleanup),
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF213 npm-cache-clean

## What it does
Appends `npm cache clean --force` to a RUN that runs `npm install` (`i`,
`add`, `ci`, `update`, with `-g` too) and does not clean the cache after it
(`npm cache clean`, or `rm -rf ~/.npm`, `/root/.npm`, `$HOME/.npm`). Only in
the stages whose layers the image keeps: the last stage and the stages it
is built on (a `docker build --target` dockfix cannot see). A builder
stage whose results are copied out with `COPY --from` ships no layer, and
cleaning there only costs time.

## Why
npm keeps a copy of every package tarball it fetches in `~/.npm/_cacache`,
often as large as `node_modules` itself. Nothing in the running container
reads it, and removing it in a later RUN does not shrink the image: the
layer that wrote it keeps it.

## Example
```dockerfile
RUN npm ci --omit=dev
```
becomes
```dockerfile
RUN npm ci --omit=dev && npm cache clean --force
```

## Fix safety
Safe: the cleanup runs only when the install succeeded (in a `RUN <<EOF`
script without `set -e`, chained to its last command), and removes nothing
the install put in place. A cache moved by `ENV npm_config_cache=...` is
cleaned too, as the cleanup reads the same setting. Not applied, the finding
says why: while a later install of the image runs `--offline` from this
cache, or a later RUN runs a file (script, makefile) that names npm or that
dockfix cannot read from the build context (see DF206); for an install given `--cache` or its own `npm_config_cache=...`
(the cleanup would clean another place); under a SHELL without `&&`
(Windows PowerShell); for a RUN whose shell ends in a comment. A RUN with a
cache or tmpfs mount on the cache is left alone (the layer never holds it,
and a cache mount is there to be kept), and RUNs in exec form are not read.
";

/// npm's install commands and their aliases.
const NPM: FlagSpec = FlagSpec::finding(
    &[&["npm"]],
    &[
        "--prefix",
        "--cache",
        "--registry",
        "--userconfig",
        "--globalconfig",
        "--loglevel",
        "--location",
        "-w",
        "--workspace",
        "-C",
    ],
    &[
        "install",
        "i",
        "in",
        "ins",
        "inst",
        "insta",
        "instal",
        "isnt",
        "isnta",
        "isntal",
        "isntall",
        "add",
        "ci",
        "clean-install",
        "ic",
        "install-clean",
        "isntall-clean",
        "install-test",
        "it",
        "install-ci-test",
        "cit",
        "update",
        "up",
        "upgrade",
        "udpate",
    ],
);

const CACHE: Cache = Cache {
    tool: "npm",
    env: &["npm_config_cache"],
    options: &["--cache"],
    clean: "npm cache clean --force",
    installs: |c| subcommand(c, &NPM).is_some(),
    cleans,
    default_place: |p| p == "~/.npm" || p.ends_with("/.npm") || p.ends_with("/.npm/_cacache"),
};

fn check(cx: &Context) -> Vec<Finding> {
    findings(cx, &RULE, &CACHE, |_, _, _| None)
}

/// `npm cache clean` (or its aliases `clear` and `rm`).
fn cleans(command: &RunCommand) -> bool {
    let cache = FlagSpec {
        subcommands: &["cache"],
        ..NPM
    };
    subcommand(command, &cache)
        .and_then(|i| command.word(i + 1))
        .is_some_and(|w| matches!(w, "clean" | "clear" | "rm"))
}
