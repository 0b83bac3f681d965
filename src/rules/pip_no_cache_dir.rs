//! DF204 pip-no-cache-dir: `pip install` without `--no-cache-dir`.

use super::commands::{missing_flag, run_commands, FlagSpec};
use super::{Applicability, Context, Finding, Fix, FixSafety, Rule};
use crate::edit::Edit;
use crate::model;

pub static RULE: Rule = Rule {
    id: "DF204",
    name: "pip-no-cache-dir",
    summary: "pip install keeps its download cache in the image",
    fix_safety: FixSafety::Safe,
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
    let stages = model::stages(cx.file);
    let commands = run_commands(cx.file, &stages);
    missing_flag(&commands, &PIP)
        .into_iter()
        .filter(|(command, _)| {
            !stages[command.stage]
                .body
                .iter()
                .any(|i| sets_no_cache_dir(i))
        })
        .map(|(command, at)| {
            let flag = if command.word(0) == Some("uv") {
                "--no-cache"
            } else {
                PIP.insert
            };
            Finding {
                rule: &RULE,
                range: command.range.clone(),
                message: RULE.summary.to_string(),
                fix: Some(Fix::new(
                    Applicability::Safe,
                    vec![Edit::insert(at, format!(" {flag}"))],
                )),
            }
        })
        .collect()
}

fn sets_no_cache_dir(instruction: &crate::syntax::Instruction) -> bool {
    matches!(instruction.command.name.as_str(), "env" | "arg")
        && instruction
            .command
            .values
            .iter()
            .any(|v| v.starts_with("PIP_NO_CACHE_DIR"))
}
