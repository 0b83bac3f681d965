//! DF303 syntax-directive: `# syntax=docker/dockerfile:1` for a file that
//! uses `RUN --mount`, on request (`--syntax-directive`).

use crate::edit::Edit;
use crate::rules::{Applicability, CacheStyle, Context, Finding, Fix, FixSafety, Rule};
use crate::syntax::ItemKind;

pub static RULE: Rule = Rule {
    id: "DF303",
    name: "syntax-directive",
    summary: "RUN --mount without a # syntax directive",
    fix_title: "Add `# syntax=docker/dockerfile:1`",
    effect: "the Dockerfile names the frontend that reads `RUN --mount`",
    fix_safety: FixSafety::Safe,
    cache_style: Some(CacheStyle::Mounts),
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF303 syntax-directive

## What it does
Adds `# syntax=docker/dockerfile:1` as the first line of a Dockerfile that
uses `RUN --mount` and has no `# syntax` directive. Off unless asked for
with `--syntax-directive` (or selected by its ID or name).

## Why
BuildKit's built-in Dockerfile frontend reads `RUN --mount` (the e2e
harness builds mounts on Docker 26 without a directive), so dockfix adds
none by default: with one, every build first pulls the `docker/dockerfile`
frontend image, which fails offline and behind registries that do not
mirror it. Builders with an older built-in frontend need the directive;
teams that want the newest stable frontend everywhere add it on purpose.

## Example
```dockerfile
FROM debian:bookworm
RUN --mount=type=cache,id=apt-cache,target=/var/cache/apt,sharing=locked apt-get update
```
becomes
```dockerfile
# syntax=docker/dockerfile:1
FROM debian:bookworm
RUN --mount=type=cache,id=apt-cache,target=/var/cache/apt,sharing=locked apt-get update
```

## Fix safety
Safe: the directive selects a frontend that reads every Dockerfile the
built-in one reads; builds then need to reach the registry that serves it.
";

const DIRECTIVE: &str = "# syntax=docker/dockerfile:1";

fn check(cx: &Context) -> Vec<Finding> {
    let file = cx.file;
    let has_directive = file.items.iter().any(
        |i| matches!(&i.kind, ItemKind::Directive(d) if d.name.eq_ignore_ascii_case("syntax")),
    );
    let Some(run) = file.instructions().find(|i| {
        let command = i.command.sub.as_deref().unwrap_or(&i.command);
        command.flags.iter().any(|f| f.name() == "mount")
    }) else {
        return Vec::new();
    };
    if has_directive {
        return Vec::new();
    }
    let at = file
        .items
        .iter()
        .find(|i| !matches!(i.kind, ItemKind::Bom))
        .map_or(file.source.len(), |i| i.span.start);
    let eol = crate::fix::moves::line_ending(file, run);
    vec![Finding {
        rule: &RULE,
        range: run.keyword_range(),
        message: RULE.summary.to_string(),
        fix: Some(Fix::new(
            Applicability::Safe,
            vec![Edit::insert(at, format!("{DIRECTIVE}{eol}"))],
        )),
    }]
}
