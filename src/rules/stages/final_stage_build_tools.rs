//! DF501 final-stage-build-tools: a final stage that installs compilers or
//! headers though an earlier stage built what it copies.

use super::{is_build_tool, removes_packages, Split};
use crate::facts::commands::RunCommand;
use crate::facts::package_install::install;
use crate::rules::{Context, Finding, FixSafety, Rule};

pub static RULE: Rule = Rule {
    id: "DF501",
    name: "final-stage-build-tools",
    summary: "the final stage installs build tools an earlier stage already used",
    fix_title: "Install build tools in the builder stage only",
    effect: "the image no longer ships compilers and headers it does not run",
    fix_safety: FixSafety::ReportOnly,
    cache_style: None,
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF501 final-stage-build-tools

## What it does
Reports a package install in the final stage of a multi-stage build that
names build tools (compilers, `make`, `build-essential`, headers such as
`libpq-dev`, a JDK, Go or Rust toolchains; the list is
`transforms/stages.toml`), when the final stage's `ENTRYPOINT` or `CMD`
runs a file that a `COPY --from` of an earlier stage (not the final
stage's own base) put there: that earlier stage is the builder, and the
build tools belong there.

## Why
A multi-stage build exists to leave the toolchain behind. Build tools in
the runtime stage make the image larger (build-essential alone is over
200 MB on Debian), slower to pull and scan, and give an attacker a
compiler. Headers come with the library they describe: the runtime needs
`libpq5`, not `libpq-dev`.

## Example
```dockerfile
FROM golang:1.22 AS build
WORKDIR /src
COPY . .
RUN go build -o /out/app .

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y gcc make && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/app /usr/local/bin/app
CMD [\"app\"]
```
DF501 reports line 7: `gcc` and `make` go to the `build` stage, or away.

Not reported: an install that a later command of the stage may undo
(`apt-get purge`, `apk del` of the same packages or of the `--virtual`
group, `--auto-remove`), packages the shell expands from a variable, and
a final stage that copies only from its own base or from images, and one
with no command that runs what a builder built (a toolchain image built in
stages, such as the official golang image, ships its compilers on
purpose).

## Fix safety
Report only: whether the program runs a tool at run time (a `make`
target, a compiler it shells out to) cannot be read from the Dockerfile.
";

fn check(cx: &Context) -> Vec<Finding> {
    let Some(split) = Split::of(cx) else {
        return Vec::new();
    };
    // A toolchain image built in stages (the official golang image) ships
    // its compilers on purpose: only an image that runs what a builder
    // built is judged.
    if split.runs_built(cx).is_none() {
        return Vec::new();
    }
    let stages = cx.stages();
    let stage = &stages[split.index];
    let runs: Vec<_> = stage
        .body
        .iter()
        .filter(|i| i.command.name == "run" && i.command.sub.is_none())
        .map(|&run| (run, cx.commands_of(run, split.index)))
        .collect();
    let commands: Vec<(&crate::syntax::Instruction, &RunCommand)> = runs
        .iter()
        .flat_map(|(run, commands)| commands.iter().map(move |c| (*run, c)))
        .collect();
    let mut findings = Vec::new();
    for (at, (run, command)) in commands.iter().enumerate() {
        let Some(found) = install(command) else {
            continue;
        };
        if commands[at + 1..].iter().any(|(_, c)| removes_packages(c)) {
            continue;
        }
        let mut tools: Vec<&str> = Vec::new();
        for (word, _) in &found.packages {
            let name = word.map(|w| found.name(w));
            if let Some(name) = name.filter(|n| is_build_tool(n) && !tools.contains(n)) {
                tools.push(name);
            }
        }
        if tools.is_empty() {
            continue;
        }
        let listed = tools
            .iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(", ");
        findings.push(Finding {
            rule: &RULE,
            range: run.keyword_range(),
            message: format!(
                "the final stage installs build tools ({listed}) though it copies what stage `{}` built: install them in that stage, and here only what the program runs",
                split.builder_name(stages)
            ),
            fix: None,
        });
    }
    findings
}
