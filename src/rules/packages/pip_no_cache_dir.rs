//! DF204 pip-no-cache-dir: `pip install` without `--no-cache-dir`.

use super::flags::flag_findings;
use crate::facts::commands::{mounts_cache, FlagSpec, RunCommand};
use crate::rules::{Applicability, CacheStyle, Context, Finding, FixSafety, Rule};

pub static RULE: Rule = Rule {
    id: "DF204",
    name: "pip-no-cache-dir",
    summary: "pip install keeps its download cache in the image",
    fix_title: "Add `--no-cache-dir` to `pip install` (`--no-cache` to `uv pip install`)",
    effect: "smaller image: pip's download cache no longer stored in the layer",
    fix_safety: FixSafety::Safe,
    cache_style: Some(CacheStyle::Cleanup),
    doc: DOC,
    check,
};

const DOC: &str = "\
# DF204 pip-no-cache-dir

## What it does
Adds `--no-cache-dir` to `pip install` (also `pip3` and `python -m pip`),
unless the stage sets `PIP_NO_CACHE_DIR`. Equivalent to hadolint's DL3042.

## Why
pip keeps every wheel it downloads or builds in `~/.cache/pip`; in an image
that cache is dead weight, often tens of megabytes.

## Example
```dockerfile
RUN pip install -r requirements.txt
```
becomes
```dockerfile
RUN pip install --no-cache-dir -r requirements.txt
```

## Fix safety
Safe: the same packages install; pip only keeps no copy of them.
";

const PIP: FlagSpec = FlagSpec {
    programs: &[
        &["pip"],
        &["pip3"],
        &["python", "-m", "pip"],
        &["python3", "-m", "pip"],
        &["uv", "pip"],
    ],
    value_options: &[
        "--log",
        "--proxy",
        "--retries",
        "--timeout",
        "--exists-action",
        "--trusted-host",
        "--cert",
        "--client-cert",
        "--cache-dir",
        "--python",
    ],
    subcommands: &["install"],
    present: &["--no-cache-dir", "--no-cache"],
    short: &[],
    insert: "--no-cache-dir",
};

fn check(cx: &Context) -> Vec<Finding> {
    let uv = FlagSpec {
        insert: "--no-cache",
        ..PIP
    };
    // Whether each stage configures pip not to cache, read once.
    let configured: Vec<bool> = cx
        .stages()
        .iter()
        .map(|stage| {
            stage
                .each(&["env", "arg"])
                .any(|(_, i)| sets_no_cache_dir(i))
        })
        .collect();
    let unless_configured = |_: &[crate::model::Stage], command: &RunCommand| {
        (!configured[command.stage]).then(|| (RULE.summary.to_string(), vec![]))
    };
    let pip = flag_findings(cx, &RULE, &PIP, Applicability::Safe, |stages, command| {
        unless_configured(stages, command).filter(|_| {
            command.word(0) != Some("uv") && !mounts_cache(cx.file, command, &[".cache/pip"])
        })
    });
    let uv = flag_findings(cx, &RULE, &uv, Applicability::Safe, |stages, command| {
        unless_configured(stages, command).filter(|_| {
            command.word(0) == Some("uv") && !mounts_cache(cx.file, command, &[".cache/uv"])
        })
    });
    let mut findings = [pip, uv].concat();
    findings.sort_by_key(|f| f.range.start);
    findings
}

fn sets_no_cache_dir(instruction: &crate::syntax::Instruction) -> bool {
    matches!(instruction.command.name.as_str(), "env" | "arg")
        && instruction
            .command
            .values
            .iter()
            .any(|v| v.starts_with("PIP_NO_CACHE_DIR"))
}
