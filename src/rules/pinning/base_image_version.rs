//! DF401 base-image-version: a floating base image tag (none, `latest`,
//! `lts`, `alpine`) becomes the version tag it is today.

use super::base_images::{self, BaseImage, Source};
use crate::pin::{self, Pins};
use crate::rules::{Applicability, Context, Finding, Fix, FixSafety, Rule};

pub static RULE: Rule = Rule {
    id: "DF401",
    name: "base-image-version",
    summary: "base image without a version tag",
    fix_title: "Pin the base image to the version tag it is today",
    effect: "reproducible builds: the base image names a version, not a tag that moves with every release",
    fix_safety: FixSafety::Safe,
    cache_style: None,
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF401 base-image-version

## What it does
Finds FROM lines whose image has no version: no tag, `latest`, or another
tag that moves to each release (`lts`, `current`, `stable`, and variants
alone such as `alpine` or `lts-slim`; see `transforms/pinning.toml`). With
`--pin version` (or `--pin both`) it asks the image's registry for the most
specific version tag that has the same digest as that tag today, keeping
the variant, and writes it in: `node` -> `node:22.11.0`, `node:alpine` ->
`node:22.11.0-alpine`.

An image named through a global `ARG` default (`FROM node:${TAG}`) is
reported; `--pin-args` rewrites the default when only that FROM reads the
ARG and the ARG ends the image name.

Without `--pin` dockfix does not touch the network: the rule reports and
does not fix. Release names (`debian:bookworm`) and tags with a version are
left to DF402.

## Why
A floating tag builds a different image whenever upstream publishes one:
a rebuild of the same commit can pick up a new major version. A version
tag says which release the Dockerfile was written for, and changes only
when someone changes it.

## Example
```dockerfile
FROM python:slim
```
becomes, when `slim` and `3.13.1-slim` share a digest,
```dockerfile
FROM python:3.13.1-slim
```

## Fix safety
Safe: the version tag has the same digest as the floating tag when dockfix
asks, so the build pulls the same image. It is not rewritten when no
version tag has that digest, or the registry cannot be asked.
";

fn check(cx: &Context) -> Vec<Finding> {
    let mut findings = Vec::new();
    for image in base_images::images(cx.file, cx.stages()) {
        let Some((reads, reference)) = image.reads_as() else {
            continue;
        };
        if reference.digest.is_some() {
            continue;
        }
        if pin::floating_variant(reference.tag.as_deref()).is_none() {
            continue;
        }
        let what = subject(&image, reads);
        let tag = reference.tag_or_latest();
        let (message, fix) = match outcome(cx.pins, &image, reads) {
            Ok(target) => match image.rewrite(&target) {
                Ok(edit) => (
                    format!("{what} floats; `{target}` has the same digest today"),
                    Some(Fix::new(Applicability::Safe, vec![edit])),
                ),
                Err(why) => (format!("{what} floats; not rewritten: {why}"), None),
            },
            Err(why) => (
                format!("{what} has no version: builds pull whatever `{tag}` is that day; {why}"),
                None,
            ),
        };
        findings.push(Finding {
            rule: &RULE,
            range: image.range.clone(),
            message,
            fix,
        });
    }
    findings
}

/// How the image reads in a message: `node`, or `${BASE}` (`node`).
pub fn subject(image: &BaseImage, reads: &str) -> String {
    match &image.source {
        Source::Arg(arg) => format!("`{}` (ARG `{}`: `{reads}`)", image.text, arg.name),
        _ => format!("`{reads}`"),
    }
}

/// The version-tagged image to write, or what stands in the way.
fn outcome(pins: Option<&Pins>, image: &BaseImage, reads: &str) -> Result<String, String> {
    let asked = "`--pin version` looks up the version tag it is today";
    let pins = match pins {
        Some(pins) if pins.mode.versions() => pins,
        _ => return Err(asked.into()),
    };
    let answer = base_images::answer(pins, image)?;
    match &answer.version {
        Ok(Some(version)) => Ok(base_images::retag(reads, version)),
        Ok(None) => Err(format!(
            "no version tag has its digest ({}); DF402 can pin that digest",
            answer.digest
        )),
        Err(e) => Err(format!("the version lookup failed: {e}")),
    }
}
