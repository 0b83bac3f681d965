//! DF503 single-stage-build: a program compiled in the image that runs it,
//! split into a builder stage and a runtime stage that keeps only the
//! program.

use super::builder::{self, Build};
use super::{command_words, image_command, is_simple_command, program_paths, start_script_runner};
use super::{go, java, node, python, rust};
use crate::edit::Edit;
use crate::fix::moves::line_ending;
use crate::model::{settings_of, Stage};
use crate::rules::{promise, Applicability, Context, Finding, Fix, FixSafety, Rule};
use crate::syntax::{Instruction, Word};
use crate::transforms::{self, Runtime};

pub static RULE: Rule = Rule {
    id: "DF503",
    name: "single-stage-build",
    summary: "a program compiled in the image that ships it, toolchain and sources included",
    fix_title: "Build in a builder stage and ship only the program",
    effect: "the image holds the program, not the toolchain and sources that built it",
    fix_safety: FixSafety::Unsafe,
    cache_style: None,
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF503 single-stage-build

## What it does
Finds a Dockerfile of one stage that compiles its program on a toolchain
image and ships it there, and splits it: the stage becomes the builder
(`AS build`), and a runtime stage after the build copies the binary, with
the CA bundle for TLS, onto the runtime image `transforms/stages.toml`
names for the ecosystem:
- Go (`FROM golang`, `go build -o`, cgo off): `scratch`, with an empty
  `/tmp` that anyone may write (made in the builder, as COPY would not keep
  the mode);
- Rust (`FROM rust`, `cargo build`): the slim Debian image of the release
  whose C library the binary links against (`debian:bookworm-slim` for
  `rust:1.85-bookworm`; for a version tag that names no release,
  `rust:1.85`, the newest its day's default may be, as glibc runs what an
  older release linked), with the binary the command runs from
  `target/release` or where the build's RUN copied it. The runtime has a
  shell, so a shell-form command that is one simple command runs too;
- Node.js (`FROM node`, TypeScript compiled by `tsc` or an `npm run`
  of a script that runs `tsc`, named `build`, `compile` or `tsc` or
  starting so (`build-ts`), after `npm ci`): the slim variant of the tag
  (`node:20-slim` for `node:20`; a slim or Alpine tag keeps its image),
  with package.json, the production dependencies (the builder runs `npm
  prune --omit=dev` after the build) and the tsconfig's `outDir`, which
  `node` (or `npm start`, when package.json's `start` script runs `node`)
  runs;
- Java (`FROM maven`, `gradle` or `eclipse-temurin`, a jar packaged by
  `mvn package` into `target/` or by Gradle's `build`, `jar` or `bootJar`
  into `build/libs/`): the JRE of the JDK the tag names
  (`eclipse-temurin:17-jre` for `maven:3.9-eclipse-temurin-17`,
  `gradle:8.5-jdk17` or `eclipse-temurin:17-jdk`), with the jar that
  `java -jar` runs;
- Python (`FROM python`, a RUN that installs build tools such as
  `build-essential` or `libpq-dev`, then `pip install`): the builder
  installs the packages into a virtual environment at `/opt/venv` (one
  that also sees the image's own packages), and the runtime, on the same
  image, runs the stage's instructions up to the last `pip install` again
  with the environment copied in their place, and the tools' RUN installing
  the library each header package describes (`libpq5` for `libpq-dev`;
  the table is `transforms/stages.toml`) instead of the tools.

The stage's ENV, ARG, LABEL, EXPOSE, VOLUME, USER, WORKDIR, CMD and
ENTRYPOINT lines before the build are written again in the runtime stage;
those after it belong to it.

A toolchain image with no build whose command compiles the program each
time it starts (`go run`, `cargo run`, `ts-node`, `tsx`, also as the
script `npm start` runs) is reported, without a fix.

## Why
A toolchain image is hundreds of megabytes of compiler, package caches and
sources that the program never runs: a builder stage leaves them behind,
so the image is smaller, faster to pull, and offers an attacker no
compiler. It is the first lever of every guide to smaller images.

## Example
```dockerfile
FROM golang:1.22
WORKDIR /src
COPY go.mod main.go ./
ENV CGO_ENABLED=0
RUN go build -o /usr/local/bin/app .
CMD [\"app\"]
```
becomes
```dockerfile
FROM golang:1.22 AS build
WORKDIR /src
COPY go.mod main.go ./
ENV CGO_ENABLED=0
RUN go build -o /usr/local/bin/app .
RUN mkdir -p -m 1777 /runtime-root/tmp

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /runtime-root/ /
WORKDIR /src
ENV CGO_ENABLED=0
COPY --from=build /usr/local/bin/app /usr/local/bin/app
CMD [\"app\"]
```

Reported without a fix, with the reason: a build cgo may link to the
toolchain image's C library (no `CGO_ENABLED=0`); `go build` without `-o`;
`go install` or `cargo install`; a build more than once, or after a `cd`;
`cargo build` with `--target`, `--target-dir`, a profile of its own or
`CARGO_TARGET_DIR`; for Node.js, a build script other than `tsc` (with
at most `-p`), a build through yarn or pnpm (`yarn build`), no `outDir` of the tsconfig's own, no package-lock.json, an
`npm install` of named packages, install scripts of the package or a
dependency (native code), workspaces, or code that imports a development
dependency or an undeclared package; a Rust tag of no known release (`rust:latest`,
`rust:1`, a version newer than the table knows) or on Alpine (musl); a
shell-form command that is more than one simple command; a `Cargo.lock` with a crate that links a system library
(`openssl-sys`), or none; a build as a user other than root; a RUN up to
the build (its own included) that runs other than the toolchain, package
installs and directory changes, or writes files (copying the binary out
of `target/` is the build's); any RUN, COPY or ADD after it (but a RUN of
`npm prune --omit=dev` or `--production` right after a Node.js build, which
then ends the builder); a HEALTHCHECK
or SHELL (on a runtime image other than the toolchain's; a Python split
keeps its image and the packages its RUNs install, other than the build
tools); a USER by name the runtime image may not resolve (any, on
`scratch`); a CMD or ENTRYPOINT that runs something else, runs a program
by name from a PATH the stage sets, or runs through a shell (DF002's exec
form lets a later pass split it); sources that hold files other than code
and the repository's own (`README.md`, `.github/`, `vendor/`), which the
program may read at run time; code that runs other programs (`os/exec`,
`std::process::Command`, `child_process`), looks users up (`os/user`), loads plugins or
libraries, or loads time zones by name without embedding them
(`time/tzdata`); an `ENV TZ`; no build context to read the sources from;
a Windows toolchain image; a COPY source the build context dockfix reads
does not hold, or no code there at all (a Dockerfile built with another
context: give it with `--context`), an ADD of a remote source, or a
`NAME.dockerignore` beside `.dockerignore`; a RUN before the build that
runs the toolchain's program runners (`go run`, `cargo run`, `npx`, `npm
run`) or, for Rust and Node.js, installs packages the program may link; a
configuration line that uses a variable only the toolchain image sets
(`${GOPATH}`); for Node.js, `prebuild`/`postbuild`/`prestart`/`poststart`
scripts, `importHelpers` without `tslib` as a dependency, `NODE_OPTIONS`,
a USER or `--chown` before the build (the runtime's copies are root's),
or a tag named by a variable; for Java, a tag that names no JDK
(`maven:3.9`, whose default JDK changes), `java` without `-jar` or with
`-cp` or `-javaagent:`, a build of another project (`-f`, `-pl`, `-p`), a
build file that writes a class path into the jar's manifest
(`addClasspath`, `Class-Path`, `copy-dependencies`), and code that runs
programs, loads native libraries or uses the JDK's tools (`javax.tools`);
for Python, an Alpine tag, a header package
the table does not know (or whose library Debian renamed between
releases, on a tag that names no release) or pinned to a version, build
tools installed twice or in the RUN of the packages, a RUN between the
tools and the last `pip install` other than pip's, a `pip install --user`
(`--prefix`, `--target`, `-e`, a local path, or a requirements file with
them), a compiler or `pip install` after the build, an ENV of `PATH`,
`VIRTUAL_ENV` or pip's install location, a USER before the build, and a
command that names where the packages were (`/usr/local/bin/gunicorn`).
A `--platform` on the FROM line is kept on the runtime's.

## Fix safety
Unsafe: the runtime image has nothing but the program, the CA bundle and
the working directory (and, for Rust, a minimal Debian), and dockfix reads
only the Dockerfile and the build context. The variables the toolchain
image sets (`GOPATH`, `CARGO_HOME`, its `PATH`) are gone, and so is
everything a RUN installed; a program that reads them, or a file by a path
built at run time, fails. Only the program's own code is read, not that of
its dependencies: a module or crate that runs programs or reads files is
not seen. The toolchain image must hold the CA bundle at
`/etc/ssl/certs/ca-certificates.crt`, as the official golang and rust
images do. Node.js code is read for the packages it imports by name
(`import`, `require` of a literal); one named by a variable is not seen.
The official maven and eclipse-temurin images wrap the command in an
entrypoint script that runs it (`mvn-entrypoint.sh`,
`__cacert_entrypoint.sh`): a split image runs the JRE image's.
A Python package that links a library the header packages do not name
(OpenMP's `libgomp1`, which comes with gcc) fails to import in the
runtime, and one that writes outside its environment (data files, a
program's scripts run by their old path) is not where it was.

The split is checked with the build cache model `dockfix cache` prints:
a source edit must not rerun more package installs, dependency installs
or compiles after it than before, or the finding says why it is not
split.
";

/// Instructions that configure the image: a runtime stage needs them as
/// they were.
const CONFIG: &[&str] = &[
    "env",
    "arg",
    "label",
    "expose",
    "volume",
    "stopsignal",
    "maintainer",
    "user",
    "workdir",
    "cmd",
    "entrypoint",
];

/// The configuration instructions whose variables BuildKit expands.
const EXPANDED: &[&str] = &[
    "env",
    "arg",
    "label",
    "expose",
    "volume",
    "stopsignal",
    "user",
    "workdir",
];

/// Where the builder makes the runtime's shared directories.
const SHARED_ROOT: &str = "/runtime-root";

fn check(cx: &Context) -> Vec<Finding> {
    let stages = cx.stages();
    let [stage] = stages else {
        return Vec::new();
    };
    if let Some(found) = python::read(cx, stage) {
        return vec![python_finding(cx, stage, found)];
    }
    let repository = repository(&stage.base);
    let Some(runtime) = transforms::stages()
        .runtime
        .iter()
        .find(|r| r.toolchains.iter().any(|t| t == repository))
    else {
        return Vec::new();
    };
    let Some(build) = reader(&runtime.ecosystem).and_then(|read| read(cx, stage)) else {
        // No build to split; an image that compiles each time it starts
        // is reported.
        return starts_toolchain(cx, runtime, stage)
            .map(|command| Finding {
                rule: &RULE,
                range: stage.from.keyword_range(),
                message: format!(
                    "a single-stage image runs the {} toolchain at start (`{command}`): compile in a builder stage and run what it writes",
                    runtime.language
                ),
                fix: None,
            })
            .into_iter()
            .collect();
    };
    let message = format!(
        "a single-stage build ships the {} toolchain with the program",
        runtime.language
    );
    let split = build
        .and_then(|build| split(cx, runtime, stage, build))
        .and_then(|edits| promise::no_dearer_reruns(cx, &edits).map(|()| edits));
    let (message, fix) = match split {
        Ok(edits) => (
            format!("{message}: a builder stage leaves it out of the image"),
            Some(Fix::new(Applicability::Unsafe, edits)),
        ),
        Err(why) => (format!("{message}; not split: {why}"), None),
    };
    vec![Finding {
        rule: &RULE,
        range: stage.from.keyword_range(),
        message,
        fix,
    }]
}

/// A Python image's build tools, split off or reported.
fn python_finding(cx: &Context, stage: &Stage, found: python::Found) -> Finding {
    let tools: Vec<String> = found.tools.iter().map(|t| format!("`{t}`")).collect();
    let message = format!(
        "a single-stage build ships the build tools its Python packages compile with ({})",
        tools.join(", ")
    );
    let split = found
        .split
        .and_then(|edits| promise::no_dearer_reruns(cx, &edits).map(|()| edits));
    let (message, fix) = match split {
        Ok(edits) => (
            format!("{message}: a builder stage leaves them out of the image"),
            Some(Fix::new(Applicability::Unsafe, edits)),
        ),
        Err(why) => (format!("{message}; not split: {why}"), None),
    };
    Finding {
        rule: &RULE,
        range: stage.from.keyword_range(),
        message,
        fix,
    }
}

/// The command of the stage's ENTRYPOINT or CMD (the last of each), or of
/// package.json's script that `npm start` runs, when it starts with one of
/// the runtime's `starts_toolchain` commands (`go run`, `ts-node`).
fn starts_toolchain(cx: &Context, runtime: &Runtime, stage: &Stage) -> Option<String> {
    let mut words = command_words(image_command(&stage.body)?);
    if matches!(start_script_runner(&words), Some("npm" | "yarn" | "pnpm")) {
        let root = cx.build_context?;
        let package = crate::context::read_to_string(root, root.join("package.json")).ok()?;
        let package: serde_json::Value = serde_json::from_str(&package).ok()?;
        let start = package["scripts"]["start"].as_str()?;
        words = start.split_whitespace().map(String::from).collect();
    }
    let program = |w: &String| w.rsplit('/').next().unwrap_or(w).to_string();
    runtime.starts_toolchain.iter().find_map(|pattern| {
        let pattern: Vec<&str> = pattern.split_whitespace().collect();
        let matches = words.len() >= pattern.len()
            && words
                .iter()
                .zip(&pattern)
                .enumerate()
                .all(|(i, (w, p))| match i {
                    0 => program(w) == *p,
                    _ => w == p,
                });
        matches.then(|| words.join(" "))
    })
}

/// What finds an ecosystem's build RUN in a stage.
type Reader = for<'f> fn(&Context<'f>, &Stage<'f>) -> Option<Result<Build<'f>, String>>;

fn reader(ecosystem: &str) -> Option<Reader> {
    match ecosystem {
        "go" => Some(go::build),
        "rust" => Some(rust::build),
        "node" => Some(node::build),
        "java" => Some(java::build),
        _ => None,
    }
}

/// An image reference's repository as Docker Hub names official images:
/// `golang` for `docker.io/library/golang:1.22@sha256:...`.
pub(super) fn repository(image: &str) -> &str {
    let name = image.split('@').next().unwrap_or(image);
    let name = match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => name,
    };
    let name = name.strip_prefix("docker.io/").unwrap_or(name);
    name.strip_prefix("library/").unwrap_or(name)
}

/// The edits that split the stage, or why it stays whole.
fn split<'f>(
    cx: &Context,
    runtime: &Runtime,
    stage: &Stage<'f>,
    mut build: Build<'f>,
) -> Result<Vec<Edit>, String> {
    if ["windows", "nanoserver"]
        .iter()
        .any(|w| stage.base.contains(w))
    {
        return Err(format!(
            "`FROM {}` is a Windows image; `{}` is for Linux",
            stage.base, runtime.image
        ));
    }
    let image = image(cx, runtime, stage)?;
    if runtime.ecosystem == "go" && !go::is_static(cx, &build) {
        return Err(
            "cgo may link the binary to the toolchain image's C library: `CGO_ENABLED=0` builds a static one".into(),
        );
    }
    let body = &stage.body;
    build.finished = build.finish.and_then(|finish| {
        let next = *body.get(build.position + 1)?;
        runs_only(cx, next, finish).then_some(next)
    });
    let after = build.position + 1 + usize::from(build.finished.is_some());
    for later in &body[after..] {
        if !CONFIG.contains(&later.command.name.as_str()) {
            return Err(format!(
                "line {} ({}) after the build may use the toolchain or the sources",
                later.start_line,
                later.command.name.to_uppercase()
            ));
        }
    }
    let workdirs: Vec<String> = body
        .iter()
        .filter(|i| i.command.name == "workdir")
        .filter_map(|i| cx.scope_at(0, i.span().end).workdir)
        .collect();
    let mut copies = Vec::new();
    let mut replicated = Vec::new();
    for &before in &body[..build.position] {
        let line = before.start_line;
        match before.command.name.as_str() {
            "copy" | "add" => {
                if before.command.flags.iter().any(|f| f.name() == "from")
                    || !before.heredocs.is_empty()
                {
                    return Err(format!("line {line} copies files dockfix does not read"));
                }
                copies.push(before);
            }
            "run" if before.command.sub.is_none() => {
                builder::before_build(cx, runtime, before, &workdirs, &[])?
            }
            name if CONFIG.contains(&name) => replicated.push(before),
            name => {
                return Err(format!(
                    "line {line} ({}) needs more than FROM {image} gives",
                    name.to_uppercase(),
                ))
            }
        }
    }
    // The zone TZ names is read from the system's time zone data.
    if let Some(tz) = env_setting(body, "TZ") {
        return Err(format!(
            "line {} sets `TZ`, whose time zone data `FROM {image}` may lack",
            tz.start_line
        ));
    }
    // The builder makes the runtime's shared directories at `/`, as root.
    if let Some(user) = body[..build.position]
        .iter()
        .rev()
        .filter(|_| !runtime.shared_dirs.is_empty())
        .find(|i| i.command.name == "user")
    {
        let value = user.command.values.first().map(Word::as_str).unwrap_or("");
        if !matches!(value.split(':').next(), Some("root" | "0")) {
            return Err(format!(
                "line {} builds as `{value}`, who may not make the runtime's directories at `/`",
                user.start_line
            ));
        }
    }
    // What the build's own RUN does besides building, as a RUN before it.
    let own: Vec<usize> = build
        .placing
        .iter()
        .copied()
        .chain([build.command_start])
        .collect();
    builder::before_build(cx, runtime, build.run, &workdirs, &own)?;
    toolchain_variables(cx, body)?;
    users(body, runtime, &image)?;
    let sources = builder::sources(cx, &runtime.build_only_dirs, &copies, None);
    if runtime.ecosystem == "node" {
        node::complete(
            cx,
            runtime,
            &mut build,
            body,
            sources.as_ref().map_err(Clone::clone)?,
        )?;
    }
    let binary = runs_binary(cx, runtime, body, &build)?;
    let sources = sources?;
    builder::needs(runtime, &image, &sources)?;
    if runtime.ecosystem == "rust" {
        rust::links(runtime, &image, &sources)?;
    }
    if runtime.ecosystem == "java" {
        java::classpath(&sources)?;
    }
    Ok(edits(
        cx,
        runtime,
        &image,
        stage,
        &build,
        &binary,
        &replicated,
    ))
}

/// Whether `run` is a RUN, with no flags, of one command alone, written as
/// one of `spellings` (`npm prune --omit=dev`, `npm prune --production`).
fn runs_only(cx: &Context, run: &Instruction, spellings: &[&str]) -> bool {
    let commands = cx.commands_of(run, 0);
    run.command.name == "run"
        && run.command.flags.is_empty()
        && run.heredocs.is_empty()
        && match &commands[..] {
            [only] if !only.shell_error => {
                let words: Option<Vec<&str>> =
                    only.words.iter().map(|(w, _)| w.as_deref()).collect();
                words.is_some_and(|w| spellings.contains(&w.join(" ").as_str()))
            }
            _ => false,
        }
}

/// The runtime image for a stage: the configuration's for the ecosystem or
/// else `runtime.image`, with the Debian release the stage's tag ends with
/// (`rust:1.85-bookworm`) for `{release}`.
fn image(cx: &Context, runtime: &Runtime, stage: &Stage) -> Result<String, String> {
    let chosen = cx
        .runtime_images
        .get(&runtime.ecosystem)
        .unwrap_or(&runtime.image);
    let name = stage.base.split('@').next().unwrap_or(&stage.base);
    let tag = name.rsplit_once(':').map_or("", |(_, tag)| tag);
    let configured = cx.runtime_images.contains_key(&runtime.ecosystem);
    if !configured && runtime.keep_image.iter().any(|k| tag.contains(k.as_str())) {
        return Ok(stage.base.clone());
    }
    if tag.contains('$') && (chosen.contains("{tag}") || chosen.contains("{jdk}")) {
        return Err(format!(
            "`FROM {}` names its tag with a variable, so dockfix cannot tell the runtime image",
            stage.base
        ));
    }
    if chosen.contains("{jdk}") {
        let (jdk, variant) = java::jdk(repository(&stage.base), tag).ok_or_else(|| {
            format!(
                "`FROM {}` names no JDK whose JRE dockfix knows: `maven:3.9-eclipse-temurin-17`, `gradle:8.5-jdk17` and `eclipse-temurin:17-jdk` do",
                stage.base
            )
        })?;
        return Ok(chosen.replace("{jdk}", &jdk).replace("{variant}", &variant));
    }
    if chosen.contains("{tag}") {
        return Ok(match tag {
            "" | "latest" => chosen.replace("{tag}-", "").replace("{tag}", "latest"),
            tag => chosen.replace("{tag}", tag),
        });
    }
    if !chosen.contains("{release}") {
        return Ok(chosen.clone());
    }
    let named = tag.rsplit('-').next().unwrap_or(tag);
    if let Some(release) = runtime.releases.iter().find(|r| *r == named) {
        return Ok(chosen.replace("{release}", release));
    }
    if tag.contains("alpine") {
        return Err(format!(
            "`FROM {}` links the binary against musl, not the C library of a Debian release",
            stage.base
        ));
    }
    // A version tag's default release is one of its day, none newer than
    // `newest_release` up to `newest_up_to`; glibc runs what an older one
    // linked.
    let version = tag.strip_suffix("-slim").unwrap_or(tag);
    match (&runtime.newest_release, &runtime.newest_up_to) {
        (Some(release), Some(up_to)) if at_most(version, up_to) => {
            Ok(chosen.replace("{release}", release))
        }
        _ => Err(format!(
            "`FROM {}` names no Debian release, and may be built on one newer than dockfix knows: `{}:{}-{}` names it",
            stage.base,
            repository(&stage.base),
            if version.is_empty() || version == "latest" { "<version>" } else { version },
            runtime.newest_release.as_deref().unwrap_or("<release>")
        )),
    }
}

/// Whether `version` (`1.85`, `1.85.0`) is a version of the same or an
/// earlier minor than `bound` (`1.99`); not for a major alone (`1`), whose
/// newest minor may be later.
fn at_most(version: &str, bound: &str) -> bool {
    let parts =
        |text: &str| -> Option<Vec<u64>> { text.split('.').map(|p| p.parse().ok()).collect() };
    match (parts(version), parts(bound)) {
        (Some(version), Some(bound)) if version.len() >= bound.len() => {
            version[..bound.len()] <= bound[..]
        }
        _ => false,
    }
}

/// Why the stage's configuration would read differently in the runtime:
/// a variable it uses that no ENV or ARG of the stage sets, but the
/// toolchain image may (`${GOPATH}`, `$PATH`), which the runtime lacks.
fn toolchain_variables(cx: &Context, body: &[&Instruction]) -> Result<(), String> {
    let mut declared: Vec<String> = Vec::new();
    for instruction in body {
        let name = instruction.command.name.as_str();
        // The instructions BuildKit expands variables in; a shell-form
        // command's `$` is its shell's, which `runs_binary` reads.
        if !EXPANDED.contains(&name) {
            continue;
        }
        match name {
            "env" => declared.extend(
                settings_of(instruction)
                    .iter()
                    .map(|(n, _, _)| n.to_string()),
            ),
            "arg" => declared.extend(
                instruction
                    .command
                    .values
                    .iter()
                    .map(|v| v.split_once('=').map_or(v.as_str(), |(n, _)| n).to_string()),
            ),
            _ => {}
        }
        let text = crate::syntax::lossy(&cx.file.source[instruction.args_range()]);
        for used in variables_in(&text) {
            if !declared.iter().any(|d| d == used) {
                return Err(format!(
                    "line {} uses `${used}`, which the toolchain image may set and the runtime image does not",
                    instruction.start_line
                ));
            }
        }
    }
    Ok(())
}

/// The names `$NAME` and `${NAME...}` in `text` refer to.
fn variables_in(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        let after = &rest[at + 1..];
        let after = after.strip_prefix('{').unwrap_or(after);
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if end > 0 && !after.starts_with(|c: char| c.is_ascii_digit()) {
            found.push(&after[..end]);
        }
        rest = &rest[at + 1..];
    }
    found
}

/// Why a USER of the stage cannot be the runtime's: a name the runtime
/// image may not resolve (any, on an image with no `/etc/passwd`).
fn users(body: &[&Instruction], runtime: &Runtime, image: &str) -> Result<(), String> {
    for user in body.iter().filter(|i| i.command.name == "user") {
        let value = user.command.values.first().map(Word::as_str).unwrap_or("");
        if !value.split(':').all(|part| {
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit())
                || runtime.users.iter().any(|u| u == part)
        }) {
            return Err(format!(
                "line {} runs as `{value}`, a name `FROM {image}` may not resolve",
                user.start_line
            ));
        }
    }
    Ok(())
}

/// The file the image's command runs (the binary, or the script its
/// interpreter runs), as an absolute path; or why it is not one the build
/// writes, run directly: no CMD or ENTRYPOINT, a shell form the runtime
/// cannot run or dockfix cannot read, or another program.
fn runs_binary(
    cx: &Context,
    runtime: &Runtime,
    body: &[&Instruction],
    build: &Build,
) -> Result<String, String> {
    let command = image_command(body).ok_or("no CMD or ENTRYPOINT runs the binary")?;
    let keyword = command.command.name.to_uppercase();
    let line = command.start_line;
    if !command.command.json {
        if !runtime.shell {
            return Err(format!(
                "the {keyword} on line {line} runs through a shell the runtime lacks; its exec form (DF002) can be split"
            ));
        }
        if !is_simple_command(&command.command.values.join(" ")) {
            return Err(format!(
                "the {keyword} on line {line} is a shell script, not a command dockfix reads"
            ));
        }
    }
    // A simple command: the runtime's shell runs its words.
    let words = command_words(command);
    let workdir = cx.scope_at(0, command.span().start).workdir;
    // `npm start` runs package.json's `start` script in the package's
    // directory, the build's.
    let words = match &build.start {
        Some(start) if start_script_runner(&words) == Some("npm") => {
            if workdir != cx.scope_at(0, build.run.span().start).workdir {
                return Err(format!(
                    "the {keyword} on line {line} runs `npm start` in another directory than the build's"
                ));
            }
            start.clone()
        }
        _ => words,
    };
    let program = words.first().map_or("", String::as_str);
    // A program named without a slash is looked up on the default PATH,
    // unless the stage sets its own.
    if let Some(path) = env_setting(body, "PATH").filter(|_| !program.contains('/')) {
        return Err(format!(
            "the {keyword} on line {line} runs `{program}` from the PATH line {} sets",
            path.start_line
        ));
    }
    let not_built = |what: &str| {
        format!(
            "the {keyword} on line {line} runs `{what}`, not a {} the {} build writes",
            if build.interpreter.is_some() {
                "script"
            } else {
                "binary"
            },
            runtime.language
        )
    };
    let Some(interpreter) = build.interpreter else {
        return build
            .binary(&program_paths(program, workdir.as_deref()))
            .cloned()
            .ok_or_else(|| not_built(program));
    };
    if program.rsplit('/').next() != Some(interpreter) {
        return Err(not_built(program));
    }
    // The interpreter's first argument is the script: options before it
    // may name modules to load first (`node -r`), which dockfix does not
    // read; `java` runs the jar after `-jar`, past options of its own.
    let script = match interpreter {
        "java" => java::jar(&words).ok_or_else(|| {
            format!(
                "the {keyword} on line {line} runs `java` without `-jar`, or with options dockfix does not read (`-cp`, `-javaagent:`)"
            )
        })?,
        _ => words.get(1).map_or("", String::as_str),
    };
    if script.starts_with('-') {
        return Err(format!(
            "the {keyword} on line {line} passes `{interpreter}` options dockfix does not read"
        ));
    }
    let path = crate::scope::absolute(script, workdir.as_deref()).unwrap_or_default();
    build
        .binary(std::slice::from_ref(&path))
        .cloned()
        .ok_or_else(|| not_built(script))
}

/// The first ENV of the stage that sets variable `name`.
fn env_setting<'f>(body: &[&'f Instruction], name: &str) -> Option<&'f Instruction> {
    body.iter()
        .copied()
        .find(|i| i.command.name == "env" && settings_of(i).iter().any(|(set, _, _)| *set == name))
}

/// The builder's name on its FROM line, and a runtime stage after the
/// build: the runtime files, the image's configuration as it stood, the
/// binary.
fn edits(
    cx: &Context,
    runtime: &Runtime,
    image: &str,
    stage: &Stage,
    build: &Build,
    binary: &String,
    replicated: &[&Instruction],
) -> Vec<Edit> {
    let file = cx.file;
    let mut edits = Vec::new();
    let name = match &stage.name {
        // As written on the FROM line, whose case BuildKit ignores.
        Some(_) => stage.from.command.values[2].to_string(),
        None => {
            edits.push(Edit::insert(stage.from.args_range().end, " AS build"));
            "build".to_string()
        }
    };
    let last = build.finished.unwrap_or(build.run);
    let eol = line_ending(file, last);
    let at = last.span().end;
    let mut text = String::new();
    if !file.source[..at].ends_with(b"\n") {
        text += &eol;
    }
    // COPY gives a directory it creates mode 755: the shared ones are made
    // in the builder, under a directory whose contents COPY keeps as they are.
    let shared: Vec<String> = runtime
        .shared_dirs
        .iter()
        .map(|d| format!("{SHARED_ROOT}{d}"))
        .collect();
    if let Some(finish) = build.finish.filter(|_| build.finished.is_none()) {
        text += &format!("RUN {}{eol}", finish[0]);
    }
    if !shared.is_empty() {
        text += &format!("RUN mkdir -p -m 1777 {}{eol}", shared.join(" "));
    }
    text += &eol;
    // The runtime runs on the platform the builder built for.
    let flags: String = stage
        .from
        .command
        .flags
        .iter()
        .map(|f| format!("--{}={} ", f.name(), f.value().unwrap_or("")))
        .collect();
    text += &format!("FROM {flags}{image}{eol}");
    for path in &runtime.files {
        text += &format!("COPY --from={name} {path} {path}{eol}");
    }
    if !shared.is_empty() {
        text += &format!("COPY --from={name} {SHARED_ROOT}/ /{eol}");
    }
    for instruction in replicated {
        text += &crate::syntax::lossy(&file.source[instruction.span()]);
    }
    let ships = match build.ships.as_slice() {
        [] => std::slice::from_ref(binary),
        ships => ships,
    };
    for path in ships {
        text += &format!("COPY --from={name} {path} {path}{eol}");
    }
    edits.push(Edit::insert(at, text));
    edits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_a_line_uses() {
        assert_eq!(
            variables_in("APP=${GOPATH}/x:$PATH \\$"),
            ["GOPATH", "PATH"]
        );
        assert_eq!(variables_in("${A:-b} $1 $"), ["A"]);
    }

    #[test]
    fn versions_at_most_a_bound() {
        assert!(at_most("1.85", "1.99"));
        assert!(at_most("1.85.0", "1.99"));
        assert!(at_most("1.99.1", "1.99"));
        assert!(!at_most("1.100", "1.99"));
        assert!(!at_most("2.0", "1.99"));
        assert!(!at_most("1", "1.99"));
        assert!(!at_most("latest", "1.99"));
        assert!(!at_most("", "1.99"));
        assert!(!at_most("1.85-bookworm", "1.99"));
    }

    #[test]
    fn every_runtime_of_the_table_has_a_reader() {
        for runtime in &transforms::stages().runtime {
            assert!(
                reader(&runtime.ecosystem).is_some(),
                "{}",
                runtime.ecosystem
            );
        }
    }
}
