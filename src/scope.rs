//! What an instruction sees of the instructions before it: the variables
//! ENV and ARG set, expanded as BuildKit expands them, and the working
//! directory WORKDIRs set. Only what dockfix can be sure of is known: a
//! value set by ARG can be changed with `--build-arg`, and a variable the
//! Dockerfile does not set may come from the base image, so words that
//! name either have no known value.

use std::collections::BTreeMap;

use crate::model::{lineage, Stage};

#[derive(Clone)]
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
            let values = &instruction.command.values;
            match instruction.command.name.as_str() {
                // BuildKit's AST keeps ENV as (name, value, separator)
                // triples; each value is expanded with what came before.
                "env" => {
                    for triple in values.chunks(3) {
                        let value = triple.get(1).and_then(|v| scope.expand(v));
                        scope.vars.insert(triple[0].clone(), value);
                    }
                }
                "arg" => {
                    for arg in values {
                        let name = arg.split_once('=').map_or(arg.as_str(), |(n, _)| n);
                        scope.vars.insert(name.to_string(), None);
                    }
                }
                "workdir" => {
                    let dir = values.first().and_then(|v| scope.expand(v));
                    scope.workdir = dir.and_then(|d| absolute(&d, scope.workdir.as_deref()));
                }
                _ => {}
            }
        }
        scope
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
}
