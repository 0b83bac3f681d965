//! What an instruction sees of the instructions before it: the variables
//! ENV and ARG set, expanded as BuildKit expands them, and the working
//! directory WORKDIRs set. Only what dockfix can be sure of is known: a
//! value set by ARG can be changed with `--build-arg`, and a variable the
//! Dockerfile does not set may come from the base image, so words that
//! name either have no known value.

use std::collections::{BTreeMap, HashMap};

use std::cell::RefCell;
use std::rc::Rc;

use crate::model::{lineage, lineage_indices, Stage};
use crate::syntax::Instruction;

#[derive(Clone, Debug, PartialEq)]
pub struct Scope {
    /// Each variable the stage chain sets, with its value when known.
    vars: BTreeMap<String, Option<String>>,
    /// The working directory, when WORKDIRs of known value set it.
    pub workdir: Option<String>,
}

impl Scope {
    /// What the instruction starting at file offset `at` in stage `index`
    /// sees, from the stage and the stages it builds on.
    pub fn at(stages: &[Stage], index: usize, at: usize) -> Scope {
        let chain: Vec<&Stage> = lineage(stages, index).collect();
        let mut scope = Scope {
            vars: BTreeMap::new(),
            workdir: None,
        };
        for instruction in chain.iter().rev().flat_map(|s| s.body.iter()) {
            if instruction.span().start >= at {
                break;
            }
            scope.apply(instruction);
        }
        scope
    }

    /// What one instruction changes: the variables ENV and ARG set, the
    /// directory WORKDIR sets.
    fn apply(&mut self, instruction: &Instruction) {
        let values = &instruction.command.values;
        match instruction.command.name.as_str() {
            // BuildKit's AST keeps ENV as (name, value, separator)
            // triples; each value is expanded with what came before.
            "env" => {
                for triple in values.chunks(3) {
                    let value = triple.get(1).and_then(|v| self.expand(v));
                    self.vars.insert(triple[0].to_string(), value);
                }
            }
            "arg" => {
                for arg in values {
                    let name = arg.split_once('=').map_or(arg.as_str(), |(n, _)| n);
                    self.vars.insert(name.to_string(), None);
                }
            }
            "workdir" => {
                let dir = values.first().and_then(|v| self.expand(v));
                self.workdir = dir.and_then(|d| absolute(&d, self.workdir.as_deref()));
            }
            _ => {}
        }
    }

    /// A word of WORKDIR, COPY or ADD with its variables expanded, when
    /// every variable it names has a known value. Quoting is read only when
    /// the whole word is in double quotes (which expand) or single quotes
    /// (which do not); other quotes and backslashes are not read.
    pub fn expand(&self, word: &str) -> Option<String> {
        if let Some(inner) = word.strip_prefix('\'').and_then(|w| w.strip_suffix('\'')) {
            return (!inner.contains('\'')).then(|| inner.to_string());
        }
        let word = word
            .strip_prefix('"')
            .and_then(|w| w.strip_suffix('"'))
            .unwrap_or(word);
        if word.contains(['"', '\'', '\\', '`']) {
            return None;
        }
        let mut out = String::new();
        let mut rest = word;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let (name, tail) = match after.strip_prefix('{') {
                Some(braced) => {
                    let end = braced.find('}')?;
                    (&braced[..end], &braced[end + 1..])
                }
                None => {
                    let end = after
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            let plain = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !plain {
                return None;
            }
            out.push_str(self.vars.get(name)?.as_deref()?);
            rest = tail;
        }
        out.push_str(rest);
        Some(out)
    }

    /// The variables set before this point, with their values when known.
    pub fn variables(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.vars
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_deref()))
    }

    /// Sets a variable, as a shell assignment in a RUN does for the
    /// commands after it.
    pub fn set(&mut self, name: &str, value: Option<String>) {
        self.vars.insert(name.to_string(), value);
    }

    /// The variables set before this point whose names start with
    /// `prefix` (`PIP_` settings), with their values when known.
    pub fn prefixed<'s>(
        &'s self,
        prefix: &'s str,
    ) -> impl Iterator<Item = (&'s str, Option<&'s str>)> + 's {
        self.vars
            .iter()
            .filter(move |(name, _)| name.starts_with(prefix))
            .map(|(name, value)| (name.as_str(), value.as_deref()))
    }
}

/// How many instructions of a stage lie between two of `Scopes`'
/// snapshots: at most this many are replayed per question.
const STRIDE: usize = 64;

/// What each instruction of a file sees, for rules that ask at many
/// instructions: `Scope::at` replays the stage chain from its start, so
/// asking at every instruction would be quadratic. Each stage keeps the
/// scope before every `STRIDE`-th instruction of its body, found on first
/// use; a question replays at most `STRIDE` instructions from the nearest.
#[derive(Default)]
pub struct Scopes {
    snapshots: RefCell<HashMap<usize, Rc<Vec<Scope>>>>,
}

impl Scopes {
    /// `Scope::at(stages, index, at)`; every question asks of the same
    /// file's `stages`.
    pub fn at(&self, stages: &[Stage], index: usize, at: usize) -> Scope {
        let body = &stages[index].body;
        if body.first().is_none_or(|first| first.span().start >= at) {
            return Scope::at(stages, index, at);
        }
        let before = body.partition_point(|i| i.span().start < at);
        let snapshots = self.snapshots(stages, index);
        let mut scope = snapshots[before / STRIDE].clone();
        for instruction in &body[before / STRIDE * STRIDE..before] {
            scope.apply(instruction);
        }
        scope
    }

    /// The scope before every `STRIDE`-th instruction of stage `index`,
    /// and after its last (`Vec::last`), built on the stages it builds on
    /// first, without recursion: a chain of stages can be long.
    fn snapshots(&self, stages: &[Stage], index: usize) -> Rc<Vec<Scope>> {
        let chain: Vec<usize> = lineage_indices(stages, index).collect();
        let mut base = Scope {
            vars: BTreeMap::new(),
            workdir: None,
        };
        for &stage in chain.iter().rev() {
            if let Some(known) = self.snapshots.borrow().get(&stage) {
                base = known.last().cloned().unwrap_or(base);
                continue;
            }
            let mut snapshots = Vec::new();
            let mut scope = base;
            for (i, instruction) in stages[stage].body.iter().enumerate() {
                if i % STRIDE == 0 {
                    snapshots.push(scope.clone());
                }
                scope.apply(instruction);
            }
            snapshots.push(scope.clone());
            base = scope;
            self.snapshots
                .borrow_mut()
                .insert(stage, Rc::new(snapshots));
        }
        Rc::clone(&self.snapshots.borrow()[&index])
    }
}

/// `path` made absolute against the working directory `cwd` (when it is
/// relative and `cwd` is known), and cleaned.
pub fn absolute(path: &str, cwd: Option<&str>) -> Option<String> {
    if path.starts_with('/') {
        return Some(clean(path));
    }
    Some(clean(&format!("{}/{path}", cwd?)))
}

/// An absolute path without `.` and `..` components, doubled or trailing
/// slashes.
pub fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::stages;
    use crate::syntax::parse;

    /// The scope at the last instruction of `source`.
    fn last(source: &str) -> Scope {
        let file = parse(source.as_bytes()).unwrap();
        let stages = stages(&file);
        let index = stages.len() - 1;
        let at = stages[index].body.last().unwrap().span().start;
        Scope::at(&stages, index, at)
    }

    #[test]
    fn workdirs_resolve_variables_env_sets() {
        let scope = last("FROM a\nENV APP_HOME /srv/app\nWORKDIR $APP_HOME\nRUN x\n");
        assert_eq!(scope.workdir.as_deref(), Some("/srv/app"));
        let scope = last("FROM a\nENV B=/b D=${B}/d\nWORKDIR \"$D\"\nWORKDIR ../e/\nRUN x\n");
        assert_eq!(scope.workdir.as_deref(), Some("/b/e"));
    }

    #[test]
    fn a_build_argument_or_an_unset_variable_has_no_known_value() {
        assert_eq!(
            last("FROM a\nARG D=/app\nWORKDIR $D\nRUN x\n").workdir,
            None
        );
        assert_eq!(last("FROM a\nWORKDIR $HOME/app\nRUN x\n").workdir, None);
        let scope = last("FROM a\nARG V=1\nENV D=/app$V\nWORKDIR /x\nRUN x\n");
        assert_eq!(scope.expand("$D"), None);
        assert_eq!(scope.expand("${D:-/y}"), None);
        assert_eq!(scope.expand("'$D'").as_deref(), Some("$D"));
    }

    #[test]
    fn a_relative_workdir_needs_a_known_one_before_it() {
        assert_eq!(last("FROM a\nWORKDIR app\nRUN x\n").workdir, None);
        assert_eq!(
            last("FROM a AS base\nWORKDIR /usr/src\nFROM base\nWORKDIR app\nRUN x\n")
                .workdir
                .as_deref(),
            Some("/usr/src/app")
        );
    }

    #[test]
    fn scopes_answer_as_scope_at_does_at_every_offset() {
        // Stages longer than a stride, one built on another, with ENV,
        // ARG and WORKDIR changes on both sides of each snapshot.
        let mut source = String::from("FROM debian AS base\n");
        for i in 0..150_usize {
            source += &match i % 5 {
                0 => format!("ENV V{i}=x${{V{}}}\n", i.saturating_sub(5_usize)),
                1 => format!("WORKDIR d{i}\n"),
                2 => format!("ARG A{i}\n"),
                _ => format!("RUN echo {i}\n"),
            };
        }
        source += "FROM base\nWORKDIR /w\nENV V0=y\n";
        for i in 0..70 {
            source += &format!("RUN echo {i}\nENV W{i}=$V0/{i}\n");
        }
        let file = parse(source.as_bytes()).unwrap();
        let all = stages(&file);
        let scopes = Scopes::default();
        for (index, stage) in all.iter().enumerate() {
            let mut offsets = vec![stage.from.span().start, stage.from.span().end];
            for instruction in &stage.body {
                offsets.extend([instruction.span().start, instruction.span().end]);
            }
            for at in offsets {
                assert_eq!(
                    scopes.at(&all, index, at),
                    Scope::at(&all, index, at),
                    "stage {index}, offset {at}"
                );
            }
        }
        assert_eq!(
            scopes.at(&all, 1, source.len()).expand("$W69").as_deref(),
            Some("y/69")
        );
    }
}
