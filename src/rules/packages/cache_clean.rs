//! What the rules that clean a package manager's download cache at the end
//! of an install's RUN share (npm, yarn): which RUNs end up in the image that
//! ships, where the cache is, and the finding that appends the cleanup.

use crate::facts::commands::{mounts, RunCommand};
use crate::facts::scripts;
use crate::fix::append::append_command;
use crate::model::{self, Stage};
use crate::rules::{Applicability, Context, Finding, Fix, Rule};
use crate::syntax::Instruction;

/// A package manager's download cache.
pub struct Cache {
    /// The package manager, as messages name it.
    pub tool: &'static str,
    /// Environment variables that move the cache (matched in any case, as
    /// npm reads its `npm_config_*` variables).
    pub env: &'static [&'static str],
    /// Install options that move the cache for that command alone.
    pub options: &'static [&'static str],
    /// The command appended.
    pub clean: &'static str,
    pub installs: fn(&RunCommand) -> bool,
    pub cleans: fn(&RunCommand) -> bool,
    /// Whether a path, as written, is the cache's default place or holds it.
    pub default_place: fn(&str) -> bool,
}

/// Findings for the RUNs of the shipped image that install without cleaning
/// the cache. `not_fixed` gives a reason to leave a RUN alone, given the
/// RUN's last install.
pub fn findings(
    cx: &Context,
    rule: &'static Rule,
    cache: &Cache,
    not_fixed: impl Fn(&[Stage], &[RunCommand], &RunCommand) -> Option<String>,
) -> Vec<Finding> {
    let file = cx.file;
    let stages = cx.stages();
    let Some(last) = stages.len().checked_sub(1) else {
        return Vec::new();
    };
    let commands = cx.run_commands();
    let mut findings = Vec::new();
    // Read once for the lineage of the last stage, in file order: where the
    // cache's variables are set, and where an install reads it offline.
    let lineage: Vec<usize> = {
        let mut chain: Vec<usize> = model::lineage_indices(stages, last).collect();
        chain.reverse();
        chain
    };
    let settings = configured(stages, &lineage, cache);
    let mut in_lineage = vec![false; stages.len()];
    for &index in &lineage {
        in_lineage[index] = true;
    }
    let offline: Vec<&RunCommand> = commands
        .iter()
        .filter(|c| in_lineage[c.stage] && (cache.installs)(c) && c.has(&["--offline"]))
        .collect();
    // The last stage first, then the stages it builds on.
    for &index in lineage.iter().rev() {
        for (position, run) in stages[index].each(&["run"]) {
            if run.command.name != "run" {
                continue;
            }
            let span = run.span();
            let first = commands.partition_point(|c| c.range.start < span.start);
            let own: Vec<&RunCommand> = commands[first..]
                .iter()
                .take_while(|c| span.contains(&c.range.start))
                .collect();
            let Some(last_install) = own.iter().rposition(|c| (cache.installs)(c)) else {
                continue;
            };
            let install = own[last_install];
            let set_before = settings.partition_point(|(at, _)| *at < install.range.start);
            let mut places: Vec<String> = settings[..set_before]
                .iter()
                .map(|(_, p)| p.clone())
                .collect();
            places.extend(
                own.iter()
                    .filter(|c| (cache.installs)(c))
                    .flat_map(|c| option_values(c, cache.options)),
            );
            let cleaned = own[last_install + 1..].iter().any(|c| {
                (cache.cleans)(c)
                    || removes(&file.source, c, |p| {
                        (cache.default_place)(p) || places.iter().any(|d| d == p)
                    })
            });
            if cleaned || mounted(run, cache, &places) {
                continue;
            }
            let message = format!("{}'s download cache stays in the image", cache.tool);
            // A later install of the image that works offline reads the cache.
            let offline = offline
                .get(offline.partition_point(|c| c.range.start < span.end))
                .copied();
            let why = offline
                .map(|c| {
                    let line = file.line_col(c.range.start).0;
                    format!("line {line} installs offline from this cache")
                })
                .or_else(|| scripts::later_use(cx, index, position, &[cache.tool]))
                .or_else(|| own_place(&file.source, &own, cache))
                .or_else(|| not_fixed(stages, commands, install));
            let fix = match why {
                Some(why) => Err(why),
                None => append_command(file, run, cache.clean),
            };
            findings.push(match fix {
                Ok(edit) => Finding {
                    rule,
                    range: run.keyword_range(),
                    message: format!("{message}; clean it in the same RUN"),
                    fix: Some(Fix::new(Applicability::Safe, vec![edit])),
                },
                Err(why) => Finding {
                    rule,
                    range: run.keyword_range(),
                    message: format!("{message}; not fixed: {why}"),
                    fix: None,
                },
            });
        }
    }
    findings.sort_by_key(|f| f.range.start);
    findings
}

/// Where ENV and ARG of the stages in `lineage` move the cache, each with
/// the offset of its instruction: an install sees those before it. The
/// appended cleanup reads the same variables, so it cleans the same place.
fn configured(stages: &[Stage], lineage: &[usize], cache: &Cache) -> Vec<(usize, String)> {
    lineage
        .iter()
        .flat_map(|&index| stages[index].each(&["env", "arg"]))
        .flat_map(|(_, i)| {
            model::settings_of(i)
                .into_iter()
                .map(move |setting| (i.span().start, setting))
        })
        .filter(|(_, (name, _, _))| cache.env.iter().any(|v| v.eq_ignore_ascii_case(name)))
        .map(|(at, (_, value, _))| (at, path(value)))
        .collect()
}

/// A path as written, without quotes or a trailing `/` or `/*`.
fn path(word: &str) -> String {
    let unquoted: String = word.chars().filter(|c| !matches!(c, '"' | '\'')).collect();
    let trimmed = unquoted.trim_end_matches("/*").trim_end_matches('/');
    if trimmed.is_empty() {
        unquoted
    } else {
        trimmed.to_string()
    }
}

/// The values of `options` on a command (`--cache dir`, `--cache=dir`).
fn option_values(command: &RunCommand, options: &[&str]) -> Vec<String> {
    let mut values = Vec::new();
    for (i, (word, _)) in command.words.iter().enumerate() {
        let Some(word) = word.as_deref() else {
            continue;
        };
        for option in options {
            if word == *option {
                values.extend(command.word(i + 1).map(path));
            } else if let Some(value) = word.strip_prefix(option).and_then(|r| r.strip_prefix('='))
            {
                values.push(path(value));
            }
        }
    }
    values
}

/// `rm` of a path `place` accepts (`$HOME/.npm` is read as written).
fn removes(source: &[u8], command: &RunCommand, place: impl Fn(&str) -> bool) -> bool {
    command.word(0) == Some("rm")
        && command.words[1..]
            .iter()
            .any(|(_, range)| place(&path(&crate::syntax::lossy(&source[range.clone()]))))
}

/// A cache or tmpfs mount on the cache: the layer never holds it, and
/// cleaning a cache mount throws away what it is there to keep.
fn mounted(run: &Instruction, cache: &Cache, places: &[String]) -> bool {
    mounts(run)
        .into_iter()
        .filter(|m| matches!(m.kind.as_str(), "cache" | "tmpfs"))
        .map(|m| path(&m.target))
        .any(|target| {
            target.contains(cache.tool)
                || (cache.default_place)(&target)
                || places
                    .iter()
                    .any(|p| *p == target || p.starts_with(&format!("{target}/")))
        })
}

/// Why the appended cleanup would miss the cache: an install that puts it
/// elsewhere by an option or a variable set for that command alone.
fn own_place(source: &[u8], commands: &[&RunCommand], cache: &Cache) -> Option<String> {
    commands
        .iter()
        .filter(|c| (cache.installs)(c))
        .find_map(|c| {
            if let Some(option) = cache.options.iter().find(|o| c.has(&[**o])) {
                return Some(format!(
                    "the install keeps its cache where {option} says, which `{}` does not clean",
                    cache.clean
                ));
            }
            let prefix = crate::syntax::lossy(&source[c.range.start..c.words.first()?.1.start])
                .to_lowercase();
            cache
                .env
                .iter()
                .find(|v| prefix.contains(&format!("{}=", v.to_lowercase())))
                .map(|v| {
                    format!(
                        "the install alone sets {v}, so `{}` would not clean that place",
                        cache.clean
                    )
                })
        })
}
