//! Whether a cache mount would change what the build sees: a RUN or a
//! later one that can use only what the cache holds (offline, no network),
//! a command that moves the cache, or a later instruction that reads the
//! cache's directory from the image.

use std::collections::HashMap;

use super::{first_words, invocation, strs, within, Site};
use crate::facts::apt::{later_lists_use, AptUse};
use crate::facts::commands::{mounts, RunCommand};
use crate::rules::Context;
use crate::syntax::Instruction;
use crate::transforms::CacheManager;

impl<'f> Site<'_, 'f> {
    /// Whether the RUN fills apt's lists itself before it uses them, and
    /// no later RUN installs from what it leaves.
    pub(super) fn fills_index(&self) -> bool {
        let own = AptUse::of(self.cx, self.run)
            .is_some_and(|u| u.readable && u.updates && u.needs_lists.is_none());
        own && later_lists_use(self.cx, self.index, self.position).is_none()
    }

    /// Why the RUN, or a later one, can use only what the manager's cache
    /// holds: an offline option or setting, or no network.
    pub(super) fn offline_use(&self, manager: &CacheManager) -> Option<String> {
        let file = self.cx.file;
        let no_network = |run: &Instruction| {
            run.command
                .flags
                .iter()
                .any(|f| f.name() == "network" && f.value() == Some("none"))
        };
        if no_network(self.run) {
            return Some("the RUN has no network (`--network=none`)".into());
        }
        let setting = |instruction: &Instruction| {
            manager
                .offline_env
                .iter()
                .find(|e| instruction.mentions(&file.source, &[e.as_str()]))
                .map(|setting| format!("`{setting}` keeps {} offline", manager.name))
        };
        let programs = first_words(manager);
        let runs_manager = |run: &Instruction| run.names_program(&file.source, &programs);
        let later = |key: &str, test: &dyn Fn(&'f Instruction) -> Option<String>| {
            self.cx
                .first_later(&format!("{key} {}", manager.name), |run| {
                    runs_manager(run).then(|| test(run)).flatten()
                })
                .after(self.index, self.position)
                .map(|(_, why)| why.clone())
        };
        // An ENV or ARG anywhere, the RUN, or a later RUN of the manager
        // that sets it; nothing to look for where no setting keeps the
        // manager offline (apt, apk).
        if !manager.offline_env.is_empty() {
            let set = self.cx.file_fact(
                &format!("ENV or ARG keeps {} offline", manager.name),
                || {
                    file.instructions()
                        .filter(|i| matches!(i.command.name.as_str(), "env" | "arg"))
                        .find_map(setting)
                },
            );
            if let Some(why) = set.or_else(|| setting(self.run)) {
                return Some(why);
            }
            if let Some(why) = later("a later RUN's setting keeps offline", &setting) {
                return Some(why);
            }
        }
        later("a later RUN is offline", &|run| {
            let line = run.start_line;
            if no_network(run) {
                return Some(format!("line {line} runs {} without network", manager.name));
            }
            let offline = self
                .cx
                .commands_of(run, self.index)
                .iter()
                .filter(|c| invocation(manager, c).is_some())
                .any(|c| c.has(&strs(&manager.offline)));
            offline.then(|| format!("line {line} reads only what the cache holds"))
        })
    }

    /// Whether a command of the RUN moves the manager's cache (`HOME=`,
    /// `export PIP_CACHE_DIR=`, `pip config set`).
    pub(super) fn moves_cache(&self, manager: &CacheManager, command: &RunCommand) -> bool {
        let configures = || {
            manager
                .config_commands
                .iter()
                .any(|c| command.words_at(0, c))
        };
        // Most commands set no variable: no text to read for them.
        let bytes = &self.cx.file.source[command.range.clone()];
        if !bytes.contains(&b'=') {
            return configures();
        }
        let text = crate::syntax::lossy(bytes);
        let variables = manager
            .caches
            .iter()
            .flat_map(|c| &c.env)
            .map(|e| e.split('/').next().unwrap_or(e))
            .chain(["HOME"]);
        let sets = |var: &str| {
            text.match_indices(&format!("{var}=")).any(|(at, _)| {
                at == 0 || !text[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_')
            })
        };
        variables.into_iter().any(sets) || configures()
    }

    /// The line of a later instruction that reads `target` from the image:
    /// a RUN naming it, or a COPY, ADD or RUN mount taking it (or a
    /// directory above it, which may exist only for the cache) from this
    /// stage.
    pub(super) fn read_later(&self, target: &str) -> Option<usize> {
        let file = self.cx.file;
        // Its shell, not its flags (a later RUN may mount the same cache),
        // and not an `rm`, which reads nothing.
        let shell_mentions = |run: &Instruction| {
            let text = |range: std::ops::Range<usize>| {
                crate::syntax::lossy(&file.source[range]).into_owned()
            };
            if !run.mentions(&file.source, &[target]) {
                return false;
            }
            let mentioned = std::iter::once(text(run.args_range()))
                .chain(run.heredocs.iter().map(|h| text(h.body.clone())))
                .any(|t| t.contains(target));
            let commands = self.cx.commands_of(run, self.index);
            mentioned
                && (commands.is_empty()
                    || commands
                        .iter()
                        .any(|c| c.word(0) != Some("rm") && text(c.range.clone()).contains(target)))
        };
        let mentions = self
            .cx
            .first_later(&format!("a RUN's shell reads {target}"), |r| {
                shell_mentions(r).then(String::new)
            });
        if let Some((run, _)) = mentions.after(self.index, self.position) {
            return Some(run.start_line);
        }
        let stage = &self.stages[self.index];
        let reads = |path: &str| {
            let path = path.trim_end_matches('/');
            let above = within(target, path)
                && path.matches('/').count() >= 2
                && self.user.home.as_deref() != Some(path);
            path == target || within(path, target) || above
        };
        let taken = taken_from_stages(self.cx);
        stage
            .name
            .iter()
            .cloned()
            .chain([self.index.to_string()])
            .filter_map(|name| {
                taken
                    .get(&name.to_lowercase())?
                    .iter()
                    .find(|(paths, _)| paths.iter().any(|p| reads(p)))
                    .map(|(_, line)| *line)
            })
            .min()
    }
}

type TakenFromStages = HashMap<String, Vec<(Vec<String>, usize)>>;

/// What the COPY and ADD instructions and RUN mounts of the file take from
/// other stages: by the stage named in `--from` (lower-cased), the paths
/// each takes and its line, in file order. Read once per file.
fn taken_from_stages(cx: &Context) -> std::rc::Rc<TakenFromStages> {
    cx.file_fact("what COPY, ADD and mounts take from stages", || {
        let mut taken = TakenFromStages::new();
        for i in cx.file.instructions() {
            let command = i.command.sub.as_deref().unwrap_or(&i.command);
            let from = command
                .flags
                .iter()
                .find(|f| f.name() == "from")
                .and_then(|f| f.value());
            if let (true, Some(from)) = (matches!(command.name.as_str(), "copy" | "add"), from) {
                if let Some((_, sources)) = command.values.split_last() {
                    let entry = taken.entry(from.to_lowercase()).or_default();
                    entry.push((sources.iter().map(String::from).collect(), i.start_line));
                }
            }
            for mount in mounts(i) {
                if let Some(from) = &mount.from {
                    let source = mount.source.clone().unwrap_or_else(|| "/".into());
                    let entry = taken.entry(from.to_lowercase()).or_default();
                    entry.push((vec![source], i.start_line));
                }
            }
        }
        std::rc::Rc::new(taken)
    })
}
