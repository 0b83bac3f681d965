//! DF216 gem-no-document: `gem install` without `--no-document`.

use super::flags::flag_findings;
use crate::facts::commands::{FlagSpec, RunCommand};
use crate::model::{self, Stage};
use crate::rules::{Applicability, Context, Finding, FixSafety, Rule};

pub static RULE: Rule = Rule {
    id: "DF216",
    name: "gem-no-document",
    summary: "gem install builds documentation nobody reads in the image",
    fix_title: "Add `--no-document` to `gem install`",
    effect: "smaller image and faster install: no gem documentation built",
    fix_safety: FixSafety::Safe,
    cache_style: None,
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF216 gem-no-document

## What it does
Adds `--no-document` to `gem install`, unless the command already says
what to do with documentation (`--no-document`, `-N`, `--document=...`, the
old `--no-rdoc`/`--no-ri`), or an earlier RUN of the stage chain writes a
gemrc with `--no-document` (`echo 'gem: --no-document' >> /etc/gemrc`). Not
for the official `ruby` images, whose gemrc already says it, nor for
`bundle install`, which builds no documentation.

## Why
By default gem builds rdoc and ri documentation for every gem it installs:
slow (often the longest part of the install) and megabytes of files no
container reads. It is worth skipping in every stage, a builder's too.

## Example
```dockerfile
RUN gem install bundler
```
becomes
```dockerfile
RUN gem install --no-document bundler
```

## Fix safety
Safe: the same gems install, without their documentation. `--no-document`
needs RubyGems 2.0 (2013, Ruby 2.0); on a base image known to ship an older
one (Ruby 1.x, CentOS 5/6, Ubuntu 12.04, Debian 7) the finding says so and
nothing is changed, as the flag would be an error there.
";

const GEM: FlagSpec = FlagSpec {
    programs: &[&["gem"]],
    value_options: &["--config-file"],
    subcommands: &["install", "i"],
    present: &["--no-document", "--document", "--no-rdoc", "--no-ri"],
    short: &[('N', 1)],
    insert: "--no-document",
};

const TOO_OLD: &str = "; not fixed: the base image ships RubyGems older than 2.0, which has no --no-document (use --no-rdoc --no-ri)";

fn check(cx: &Context) -> Vec<Finding> {
    let mut findings = flag_findings(cx, &RULE, &GEM, Applicability::Safe, |stages, command| {
        let base = base_image(stages, command.stage);
        if official_ruby(&base) || gemrc_says_so(cx, stages, command) {
            return None;
        }
        let message = if old_rubygems(&base) {
            format!("{}{TOO_OLD}", RULE.summary)
        } else {
            RULE.summary.to_string()
        };
        Some((message, vec![]))
    });
    for finding in &mut findings {
        if finding.message.ends_with(TOO_OLD) {
            finding.fix = None;
        }
    }
    findings
}

/// The image at the root of the stage's chain, lower-cased, without the
/// Docker Hub prefixes that name the same image.
fn base_image(stages: &[Stage], stage: usize) -> String {
    let root = model::lineage(stages, stage).last().expect("a stage");
    let base = root.base.to_lowercase();
    ["docker.io/library/", "docker.io/", "library/"]
        .iter()
        .find_map(|p| base.strip_prefix(p))
        .unwrap_or(&base)
        .to_string()
}

/// The official image writes `install: --no-document` to its gemrc.
fn official_ruby(base: &str) -> bool {
    base == "ruby" || base.starts_with("ruby:") || base.starts_with("ruby@")
}

/// Base images whose RubyGems predates `--no-document`.
fn old_rubygems(base: &str) -> bool {
    const OLD: &[&str] = &[
        "ruby:1.",
        "centos:5",
        "centos:6",
        "centos:centos5",
        "centos:centos6",
        "ubuntu:12.04",
        "ubuntu:precise",
        "ubuntu:14.04",
        "ubuntu:trusty",
        "debian:7",
        "debian:wheezy",
        "debian:6",
        "debian:squeeze",
    ];
    OLD.iter().any(|o| base.starts_with(o))
}

/// An earlier RUN of the stage chain (or the same RUN, before the command)
/// writes a gemrc that turns documentation off.
fn gemrc_says_so(cx: &Context, stages: &[Stage], command: &RunCommand) -> bool {
    let source = &cx.file.source;
    model::lineage(stages, command.stage)
        .flat_map(|s| s.body.iter())
        .filter(|i| i.command.name == "run" && i.span().start < command.range.start)
        .any(|i| {
            let text = &source[i.span().start..i.span().end.min(command.range.start)];
            let has = |word: &str| text.windows(word.len()).any(|w| w == word.as_bytes());
            has("gemrc") && (has("--no-document") || has("--no-rdoc"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_images() {
        let file = crate::syntax::parse(
            b"FROM docker.io/library/Ruby:3.3 AS a\nFROM a\nFROM centos:6\nFROM rubylang/ruby\n",
        )
        .unwrap();
        let stages = model::stages(&file);
        assert!(official_ruby(&base_image(&stages, 1)), "through stage a");
        assert!(old_rubygems(&base_image(&stages, 2)));
        assert!(!official_ruby(&base_image(&stages, 3)));
        assert!(!old_rubygems("centos:7") && !old_rubygems("ruby:2.7"));
    }
}
