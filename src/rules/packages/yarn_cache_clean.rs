//! DF214 yarn-cache-clean: clean yarn's cache in the RUN that installs.

use super::cache_clean::{findings, Cache};
use crate::facts::commands::RunCommand;
use crate::facts::yarn::{berry, yarn_use};
use crate::rules::{CacheStyle, Context, Finding, FixSafety, Rule};

pub static RULE: Rule = Rule {
    id: "DF214",
    name: "yarn-cache-clean",
    summary: "yarn's download cache stays in the image",
    fix_title: "Add `yarn cache clean` after the install",
    effect: "smaller image: yarn's download cache no longer stored in the layer",
    fix_safety: FixSafety::Safe,
    cache_style: Some(CacheStyle::Cleanup),
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF214 yarn-cache-clean

## What it does
Appends `yarn cache clean` to a RUN that runs `yarn install`, bare `yarn`
(an install), `yarn add` or `yarn global add`, and does not clean the cache
after it (`yarn cache clean`, or `rm -rf` of `~/.cache/yarn`,
`/usr/local/share/.cache/yarn`, `$(yarn cache dir)`). Equivalent to
hadolint's DL3060, but only in the stages whose layers the image keeps: the
last stage and the stages it is built on (a `docker build --target` dockfix
cannot see). A builder stage whose results are copied out with
`COPY --from` ships no layer, and cleaning there only costs time.

## Why
yarn 1 keeps an unpacked copy of every package it installs in its cache
(`/usr/local/share/.cache/yarn` for root), often larger than
`node_modules`. Nothing in the running container reads it, and removing it
in a later RUN does not shrink the image.

## Example
```dockerfile
RUN yarn install --frozen-lockfile
```
becomes
```dockerfile
RUN yarn install --frozen-lockfile && yarn cache clean
```

## Fix safety
Safe: the cleanup runs only when the install succeeded (in a `RUN <<EOF`
script without `set -e`, chained to its last command), and a cache moved by
`YARN_CACHE_FOLDER` is cleaned too, as the cleanup reads the same setting.
Not for yarn 2 and later (berry), whose cache may be the project's own
`.yarn/cache` that Plug'n'Play loads packages from (zero-installs): where
the stage chain shows berry (`corepack`, `yarn set version`, a copied
`.yarnrc.yml` or `.yarn`, an option such as `--immutable`) the finding says
so and nothing changes. Also not applied, the finding says why: while a
later install of the image runs `--offline` from this cache, or a later
RUN runs a file (script, makefile) that names yarn or that dockfix cannot
read from the build context (see DF206); for an install
given `--cache-folder` or its own `YARN_CACHE_FOLDER=...`; under a SHELL
without `&&` (Windows PowerShell); for a RUN whose shell ends in a comment.
A RUN with a cache or tmpfs mount on the cache is left alone, and RUNs in
exec form are not read.
";

const CACHE: Cache = Cache {
    tool: "yarn",
    env: &["YARN_CACHE_FOLDER"],
    options: &["--cache-folder"],
    clean: "yarn cache clean",
    installs: |c| yarn_use(c).is_some(),
    cleans,
    default_place: |p| {
        p.contains(".cache/yarn") || p.ends_with("/.cache") || p.contains("yarn cache dir")
    },
};

fn check(cx: &Context) -> Vec<Finding> {
    findings(cx, &RULE, &CACHE, |stages, commands, install| {
        berry(cx, stages, commands, install).map(|why| {
            format!("{why}, whose cache may be the project's own `.yarn/cache` (zero-installs): cleaning it could break the app")
        })
    })
}

fn cleans(command: &RunCommand) -> bool {
    command.word(0) == Some("yarn")
        && command.word(1) == Some("cache")
        && command.word(2) == Some("clean")
}
