//! What a RUN needs for one manager: the mounts, their targets, and the
//! removal of the cleanups and cache-defeating options a mount replaces.

use super::{names_variable, normalize, strs, within, Plan, Site};
use crate::edit::Edit;
use crate::facts::commands::{mounts, RunCommand};
use crate::facts::yarn;
use crate::fix::remove;
use crate::syntax::shell;
use crate::transforms::{CacheManager, YarnRelease};

impl<'f> Site<'_, 'f> {
    /// The edits that remove the commands at `gone` (or, of an `rm` that
    /// removes more, the paths in `targets`).
    pub(super) fn removals(
        &self,
        gone: &[std::ops::Range<usize>],
        targets: &[String],
    ) -> Result<Vec<Edit>, String> {
        if gone.is_empty() {
            return Ok(Vec::new());
        }
        let file = self.cx.file;
        let script = shell::parse(file, self.run).expect("the RUN was parsed");
        // Searched sorted: a merged RUN of thousands of installs has as
        // many cleanups to remove, and a scan of them for each command grew
        // as their square.
        let mut gone: Vec<(usize, usize)> = gone.iter().map(|r| (r.start, r.end)).collect();
        gone.sort_unstable();
        let commands: Vec<_> = script
            .commands()
            .iter()
            .filter(|c| gone.binary_search(&(c.range.start, c.range.end)).is_ok())
            .collect();
        let in_cache = |p: &str| {
            let p = normalize(&self.resolve(p).unwrap_or_else(|| p.to_string()));
            let p = p.trim_end_matches("/*");
            targets.iter().any(|t| p == t || within(p, t))
        };
        remove::commands(file, self.run, script, &commands, &in_cache)
    }

    /// The mounts one manager needs in this RUN and the removals that go
    /// with them; `None` when the RUN is left as it is, an error when it is
    /// reported instead.
    pub(super) fn plan(
        &self,
        manager: &CacheManager,
        uses: &[(&RunCommand, &str)],
    ) -> Result<Option<Plan>, String> {
        if manager
            .disabled_by
            .iter()
            .any(|v| self.vars.contains_key(v))
            || uses.iter().any(|(c, _)| c.has(&strs(&manager.moved_by)))
            || (manager.root_only && !self.user.root)
        {
            return Ok(None);
        }
        if let Some(release) = manager.yarn {
            let berry = yarn::berry(self.cx, self.stages, self.cx.run_commands(), uses[0].0);
            match (release, berry) {
                (YarnRelease::Classic, None) => {}
                (YarnRelease::Berry, Some(why)) if why.starts_with("this looks like") => {}
                (YarnRelease::Classic, Some(why)) if why.starts_with("yarn may be") => {
                    return Err(why)
                }
                _ => return Ok(None),
            }
        }
        if let Some(flag) = uses
            .iter()
            .find_map(|(c, _)| manager.offline.iter().find(|o| c.has(&[o.as_str()])))
        {
            return Err(format!(
                "`{flag}` reads only what the cache holds, so it stays in the image"
            ));
        }
        if let Some(why) = self.offline_use(manager) {
            return Err(format!("{why}, so its cache stays in the image"));
        }
        if let Some(command) = self.own.iter().find(|c| self.moves_cache(manager, c)) {
            return Err(format!(
                "`{}` changes where {} keeps its cache",
                crate::syntax::lossy(&self.cx.file.source[command.range.clone()]),
                manager.name
            ));
        }
        let existing = mounts(self.run);
        let mut plan = Plan::default();
        for cache in &manager.caches {
            let used = cache.subcommands.is_empty()
                || uses
                    .iter()
                    .any(|(_, sub)| cache.subcommands.iter().any(|s| s == sub));
            if !used {
                continue;
            }
            let target = if cache.output {
                match self.output_target(cache, uses) {
                    Some(target) => target,
                    None => continue,
                }
            } else {
                self.target(manager, cache)?
            };
            let covered = existing.iter().any(|m| {
                let t = m.target.trim_end_matches('/');
                m.kind == "cache" && (t == target || within(&target, t))
            });
            if covered {
                plan.targets.push(target);
                continue;
            }
            // Another mount at or inside the target decides what is there.
            if existing.iter().any(|m| {
                let t = m.target.trim_end_matches('/');
                t == target || within(t, &target) || within(&target, t)
            }) {
                continue;
            }
            if cache.index && !self.fills_index() {
                continue;
            }
            // BuildKit reads a flag's value byte by byte, each byte a
            // character: a target with `é` would mount at `Ã©`, elsewhere.
            if !target.is_ascii() {
                return Err(format!(
                    "BuildKit reads `--mount` values byte by byte, so the cache's directory {target} (not ASCII) cannot be named there"
                ));
            }
            // A blank would end the flag (the rest becoming the command), a
            // comma or a quote would start another field; dockfix writes
            // the value unquoted.
            if target.contains(|c: char| c.is_ascii_whitespace() || ",\"'\\$`".contains(c)) {
                return Err(format!(
                    "the cache's directory {target:?} has a character a `--mount` value cannot hold unquoted"
                ));
            }
            if let Some(line) = self.read_later(&target) {
                return Err(format!(
                    "line {line} reads {target} after this RUN, so it stays in the image"
                ));
            }
            if !self.user.root {
                let parent = target.rsplit_once('/').map_or("", |(p, _)| p);
                let home_is_parent = self.user.home.as_deref() == Some(parent);
                if !(home_is_parent && self.user.home_made) {
                    plan.unsafe_reason = Some(format!(
                        "BuildKit creates missing directories above a mount (such as {parent}) as root, where `{}` cannot write",
                        self.user.name
                    ));
                }
            }
            plan.mounts.push(self.mount(cache, &target));
            plan.added.push(target.clone());
            plan.targets.push(target);
        }
        if plan.targets.is_empty() {
            return Ok(None);
        }
        self.defeats(manager, uses, &mut plan)?;
        Ok(Some(plan))
    }

    /// Adds to `plan` the removal of what would empty its mounts.
    pub(super) fn defeats(
        &self,
        manager: &CacheManager,
        uses: &[(&RunCommand, &str)],
        plan: &mut Plan,
    ) -> Result<(), String> {
        let file = self.cx.file;
        for (command, _) in uses {
            for (word, range) in &command.words[1..] {
                let Some(word) = word else { continue };
                let Some(defeat) = manager.defeat_flags.iter().find(|d| &d.flag == word) else {
                    continue;
                };
                plan.removed.push(format!("`{word}`"));
                plan.edits.push(match &defeat.replace {
                    Some(replacement) => Edit::replace(range.clone(), replacement.clone()),
                    None => Edit::replace(remove::word(file, self.run, range.clone())?, ""),
                });
            }
        }
        let mut gone = Vec::new();
        for command in self.own {
            let cleans = manager
                .defeat_commands
                .iter()
                .any(|d| command.words_at(0, d));
            let rm = command.word(0) == Some("rm");
            let mut removes = false;
            if rm {
                for (word, range) in &command.words[1..] {
                    let raw = crate::syntax::lossy(&file.source[range.clone()]).into_owned();
                    let path = match word {
                        Some(w) if w.starts_with('-') => continue,
                        Some(w) if w.starts_with('~') => match self.resolve(w) {
                            Some(path) => path,
                            None => {
                                return Err(format!(
                                    "`rm {raw}` may empty the cache, and dockfix cannot resolve it"
                                ))
                            }
                        },
                        Some(w) => w.clone(),
                        None => match self.resolve(&raw) {
                            Some(path) => path,
                            None => {
                                let named = manager
                                    .caches
                                    .iter()
                                    .flat_map(|c| &c.env)
                                    .map(|e| e.split('/').next().unwrap_or(e))
                                    .chain(["HOME"])
                                    .any(|var| names_variable(&raw, var));
                                if named || raw.starts_with('~') {
                                    return Err(format!(
                                    "`rm {raw}` may empty the cache, and dockfix cannot resolve it"
                                ));
                                }
                                continue;
                            }
                        },
                    };
                    let path = normalize(&path);
                    // A pattern may name the cache or what holds it.
                    if let Some(at) = path.find(['*', '?', '[']) {
                        let fixed = &path[..at];
                        if plan
                            .targets
                            .iter()
                            .any(|t| t.starts_with(fixed) && !fixed.starts_with(&format!("{t}/")))
                            && !path.ends_with("/*")
                        {
                            return Err(format!("`rm {raw}` may remove the cache"));
                        }
                    }
                    let path = path.trim_end_matches("/*").to_string();
                    for target in &plan.targets {
                        if within(target, &path) {
                            return Err(format!(
                                "`rm {raw}` removes the directory that holds the cache"
                            ));
                        }
                        if path == *target || within(&path, target) {
                            removes = true;
                        }
                    }
                }
            }
            if cleans || removes {
                plan.removed.push(format!(
                    "`{}`",
                    crate::syntax::lossy(&file.source[command.range.clone()])
                ));
                gone.push(command.range.clone());
            }
        }
        // Removing them alone must work; with the other managers' removals
        // it is checked again.
        self.removals(&gone, &plan.targets)?;
        plan.gone = gone;
        Ok(())
    }
}
