//! Where a cache mount goes for a RUN, and how it is written: the
//! manager's cache directory as the RUN's user and variables place it, and
//! the `--mount` flags inserted before the RUN's command.

use super::{normalize, Site};
use crate::edit::Edit;
use crate::facts::commands::RunCommand;
use crate::fix::moves::{continuation_style, line_ending};
use crate::model;
use crate::transforms::{CacheDir, CacheManager};

impl<'f> Site<'_, 'f> {
    /// Where `cache` is for this RUN.
    pub(super) fn target(
        &self,
        manager: &CacheManager,
        cache: &CacheDir,
    ) -> Result<String, String> {
        for entry in &cache.env {
            let (var, below) = match entry.split_once('/') {
                Some((v, b)) => (v, Some(b)),
                None => (entry.as_str(), None),
            };
            if let Some(variable) = self.vars.get(var) {
                let value = &variable.value;
                if variable.from_arg {
                    return Err(format!("{var} is an ARG, which `--build-arg` can change"));
                }
                if value.contains('$') || !value.starts_with('/') {
                    return Err(format!(
                        "{var} is set to `{value}`, which dockfix cannot resolve"
                    ));
                }
                let value = value.trim_end_matches('/');
                return Ok(match below {
                    Some(b) => format!("{value}/{b}"),
                    None => value.to_string(),
                });
            }
        }
        let dir = match (&cache.root_dir, self.user.root) {
            (Some(root_dir), true) => root_dir,
            _ => &cache.dir,
        };
        let target = match dir.strip_prefix("~/") {
            Some(rest) => {
                let home = self.user.home.as_deref().ok_or_else(|| {
                    format!(
                        "dockfix cannot tell the HOME of user `{}`, where {}'s cache is",
                        self.user.name, manager.name
                    )
                })?;
                format!("{}/{rest}", home.trim_end_matches('/'))
            }
            None => dir.clone(),
        };
        if target.contains(|c: char| c.is_whitespace() || ",\"'=$`\\".contains(c)) {
            return Err(format!(
                "the cache path `{target}` cannot be written in a mount"
            ));
        }
        if !self.user.root && self.user.uid.is_none() {
            return Err(format!(
                "dockfix cannot tell the uid of user `{}`, who must own the cache",
                self.user.name
            ));
        }
        Ok(target)
    }

    /// Where an output cache (Cargo's target/) is, when the RUN copies what
    /// the command built out of it and nothing after the RUN reads it: the
    /// layer then holds only what was copied, as before.
    pub(super) fn output_target(
        &self,
        cache: &CacheDir,
        uses: &[(&RunCommand, &str)],
    ) -> Option<String> {
        let file = self.cx.file;
        let (last, _) = uses
            .iter()
            .rfind(|(_, sub)| cache.subcommands.iter().any(|s| s == sub))?;
        // `cd` would move the relative directory.
        if self.own.iter().any(|c| c.word(0) == Some("cd")) {
            return None;
        }
        let workdir = self
            .cx
            .scope_at(self.index, self.run.span().start)
            .workdir?;
        let target = match cache.env.iter().find_map(|v| self.vars.get(v)) {
            Some(variable) if variable.from_arg || !variable.value.starts_with('/') => return None,
            Some(variable) => normalize(&variable.value),
            None => normalize(&format!("{workdir}/{}", cache.dir)),
        };
        let relative = target
            .strip_prefix(&format!("{}/", workdir.trim_end_matches('/')))
            .map(String::from);
        let names = |word: &str| {
            let word = word.trim_start_matches("./");
            word.starts_with(&format!("{target}/"))
                || relative
                    .as_ref()
                    .is_some_and(|r| word.starts_with(&format!("{r}/")))
        };
        let copies_out = self
            .own
            .iter()
            .filter(|c| c.range.start > last.range.start)
            .filter(|c| matches!(c.word(0), Some("cp" | "mv" | "install")))
            .any(|c| {
                c.words[1..]
                    .iter()
                    .any(|(w, _)| w.as_deref().is_some_and(names))
            });
        let read_later = model::later_runs(self.stages, self.index, self.position).any(|r| {
            let text = crate::syntax::lossy(&file.source[r.span()]).into_owned();
            text.contains(&target)
                || relative
                    .as_ref()
                    .is_some_and(|r| text.contains(&format!("{r}/")))
        });
        (copies_out && !read_later && self.read_later(&target).is_none()).then_some(target)
    }

    /// The `--mount` flag for `cache` at `target`.
    pub(super) fn mount(&self, cache: &CacheDir, target: &str) -> String {
        let mut flag = format!("--mount=type=cache,id={}", cache.id);
        // An output directory belongs to its project, not to the manager.
        if cache.output {
            flag += &target.replace('/', "-");
        }
        let owner = (!self.user.root).then_some(self.user.uid).flatten();
        if let Some(uid) = owner {
            flag += &format!("-{uid}");
        }
        flag += &format!(",target={target}");
        if let Some(sharing) = &cache.sharing {
            flag += &format!(",sharing={sharing}");
        }
        if let Some(uid) = owner {
            flag += &format!(",uid={uid}");
            if let Some(gid) = self.user.gid {
                flag += &format!(",gid={gid}");
            }
        }
        flag
    }

    /// A word as the shell expands it, where the Dockerfile tells: `~/`
    /// and variables it sets (see `expand`).
    pub(super) fn resolve(&self, raw: &str) -> Option<String> {
        let home = || self.user.home.as_deref();
        match raw {
            "~" | "~/" => home().map(String::from),
            _ => match raw.strip_prefix("~/") {
                Some(rest) => Some(format!("{}/{rest}", home()?.trim_end_matches('/'))),
                None => self.expand(raw),
            },
        }
    }

    /// A word that is a variable the Dockerfile sets to a plain path, with
    /// a path after it (`$POETRY_CACHE_DIR`, `"${HOME}/.npm"`), as the shell
    /// expands it.
    pub(super) fn expand(&self, raw: &str) -> Option<String> {
        let word = raw.trim_matches('"');
        let rest = word.strip_prefix('$')?;
        let (name, after) = match rest.strip_prefix('{') {
            Some(braced) => braced.split_once('}')?,
            None => {
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                rest.split_at(end)
            }
        };
        let value = match name {
            "HOME" => self.user.home.clone()?,
            _ => self.vars.get(name)?.value.clone(),
        };
        let plain = |s: &str| !s.contains(['$', '`', '"', '\\', '*', '?', '[']);
        let glob_free = after.strip_suffix("/*").unwrap_or(after);
        (plain(&value) && plain(glob_free) && value.starts_with('/'))
            .then(|| format!("{value}{after}"))
    }

    /// The edit that puts `mounts` before the RUN's flags and arguments: on
    /// the RUN's line, or one per line when the RUN is continued.
    /// None when BuildKit would not read flags where they would go: it
    /// takes them from just after the blanks that follow `RUN`, so a
    /// command set apart by a Unicode space (or a comment line) there would
    /// take the flag as its own first word.
    pub(super) fn insert_mounts(&self, mounts: &[String]) -> Option<Edit> {
        let file = self.cx.file;
        let run = self.run;
        let at = match run.command.flags.first() {
            Some(flag) => run.file_range(flag.range.clone()).start,
            None => {
                let at = run.args_range().start;
                let escape = file.escape;
                let between = &file.source[run.keyword_range().end..at];
                if !between
                    .iter()
                    .all(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n') || b == escape)
                {
                    return None;
                }
                at
            }
        };
        let continued = run
            .lines
            .iter()
            .filter(|l| matches!(l.kind, crate::syntax::LineKind::Code { .. }))
            .count()
            > 1;
        let text = if continued {
            let eol = line_ending(file, run);
            let (indent, _) = continuation_style(file, run);
            let escape = file.escape as char;
            mounts
                .iter()
                .map(|m| format!("{m} {escape}{eol}{indent}"))
                .collect::<String>()
        } else {
            mounts.iter().map(|m| format!("{m} ")).collect()
        };
        // The blank before the flags is taken and put back, so a fix that
        // removes what precedes them (DF205 merging this RUN into the one
        // before) overlaps this one and waits for the next round.
        let blank = crate::syntax::lossy(&file.source[at - 1..at]).into_owned();
        Some(Edit::replace(at - 1..at, blank + &text))
    }
}
