//! DF502 final-stage-full-copy: a final stage that copies the whole build
//! context though what it runs comes from an earlier stage.

use super::Split;
use crate::facts::copies::full_copy;
use crate::rules::{Context, Finding, FixSafety, Rule};

pub static RULE: Rule = Rule {
    id: "DF502",
    name: "final-stage-full-copy",
    summary: "the final stage copies the whole build context though it runs what an earlier stage built",
    fix_title: "Copy only what the program reads at run time into the final stage",
    effect: "the image no longer ships the sources, and a source edit no longer rebuilds the runtime stage",
    fix_safety: FixSafety::ReportOnly,
    cache_style: None,
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF502 final-stage-full-copy

## What it does
Reports `COPY . <dir>` (or `ADD .`) in the final stage of a multi-stage
build when the stage's `CMD` or `ENTRYPOINT` runs a file that a
`COPY --from` of an earlier stage (not the final stage's own base) put
there: a binary, a jar, a `dist/` script.

## Why
The builder stage compiled the sources into what the final stage runs;
copying the whole context again ships the sources (and whatever else the
context holds) in the image, and every source edit invalidates the final
stage's cache from that COPY on.

## Example
```dockerfile
FROM golang:1.22 AS build
WORKDIR /src
COPY . .
RUN go build -o /out/app .

FROM debian:bookworm-slim
WORKDIR /app
COPY . .
COPY --from=build /out/app /usr/local/bin/app
CMD [\"app\"]
```
DF502 reports line 8: `app` comes from the `build` stage.

Not reported: a final stage whose command runs something the context
provides (`python app.py`, `node server.js` copied from the context), or
a command dockfix cannot resolve to a path.

## Fix safety
Report only: the program may read files of the context at run time
(templates, static assets, configuration), which only its author knows.
";

fn check(cx: &Context) -> Vec<Finding> {
    let Some(split) = Split::of(cx) else {
        return Vec::new();
    };
    let stages = cx.stages();
    let Some(copy) = stages[split.index].body.iter().find_map(|&i| full_copy(i)) else {
        return Vec::new();
    };
    let Some(artifact) = split.runs_built(cx) else {
        return Vec::new();
    };
    vec![Finding {
        rule: &RULE,
        range: copy.instruction.keyword_range(),
        message: format!(
            "the final stage copies the whole build context though what it runs (`{artifact}`) comes from stage `{}`: copy only the files the program reads at run time",
            split.builder_name(stages)
        ),
        fix: None,
    }]
}
