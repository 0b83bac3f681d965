//! DF402 base-image-digest: `image:tag` becomes `image:tag@sha256:...`.

use super::base_image_version::subject;
use super::base_images::{self, Source};
use crate::pin::{self, Pins};
use crate::rules::{Applicability, Context, Finding, Fix, FixSafety, Rule};

pub static RULE: Rule = Rule {
    id: "DF402",
    name: "base-image-digest",
    summary: "base image without a digest",
    fix_title: "Pin the base image to its digest",
    effect: "reproducible builds: the base image is pinned to the exact image by its digest",
    fix_safety: FixSafety::Safe,
    cache_style: None,
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF402 base-image-digest

## What it does
Adds the digest the registry reports for a FROM's tag: `node:22.11.0` ->
`node:22.11.0@sha256:...`. An untagged image is written with `latest`
before the digest, so the tag it tracks stays readable. Runs with
`--pin digest` or `--pin both` (or when selected by its ID or name); with
`both`, DF401 first replaces a floating tag with a version tag, and the
digest is added to that.

Images named through a global `ARG` default are pinned with `--pin-args`,
in the default (`ARG TAG=22.11.0@sha256:...`), so `--build-arg TAG=...`
still chooses another image. FROM lines dockfix cannot read (an ARG
without a default) are reported.

## Why
A tag can be pushed again: the same `node:22.11.0` gets a rebuilt image
with new system packages. A digest names one image, so a build is
reproducible, and an update becomes a change someone reviews (Renovate and
Dependabot update pinned digests).

## Example
```dockerfile
FROM debian:bookworm-slim
```
becomes
```dockerfile
FROM debian:bookworm-slim@sha256:<the digest the registry reports>
```

## Fix safety
Safe: the digest is the one the tag names when dockfix asks, so the build
pulls the same image; for a multi-platform image it is the index's digest,
so every platform still builds. Builders pull by digest when the tag is
given too.
";

fn check(cx: &Context) -> Vec<Finding> {
    let mut findings = Vec::new();
    for image in base_images::images(cx.file, cx.stages()) {
        let finding = |message: String, fix| Finding {
            rule: &RULE,
            range: image.range.clone(),
            message,
            fix,
        };
        let Some((reads, reference)) = image.reads_as() else {
            if let Source::Unreadable(why) = &image.source {
                findings.push(finding(format!("cannot pin `{}`: {why}", image.text), None));
            }
            continue;
        };
        if reference.digest.is_some() || versioned_first(cx.pins, &image) {
            continue;
        }
        let what = subject(&image, reads);
        let target = cx
            .pins
            .ok_or_else(|| "`--pin digest` looks it up".to_string())
            .and_then(|pins| base_images::answer(pins, &image))
            .map(|answer| base_images::with_digest(reads, &answer.digest));
        findings.push(
            match target.and_then(|t| image.rewrite(&t).map(|e| (t, e))) {
                Ok((target, edit)) => finding(
                    format!("{what} has no digest; it is `{target}` today"),
                    Some(Fix::new(Applicability::Safe, vec![edit])),
                ),
                Err(why) => finding(format!("{what} has no digest; {why}"), None),
            },
        );
    }
    findings
}

/// Whether DF401 rewrites the tag first (the digest follows next round).
fn versioned_first(pins: Option<&Pins>, image: &base_images::BaseImage) -> bool {
    let Some(pins) = pins.filter(|p| p.mode.versions()) else {
        return false;
    };
    let Some((_, reference)) = image.reads_as() else {
        return false;
    };
    pin::floating_variant(reference.tag.as_deref()).is_some()
        && base_images::answer(pins, image).is_ok_and(|a| matches!(a.version, Ok(Some(_))))
}
