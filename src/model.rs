//! Build stages: which instructions belong to which `FROM`, and which
//! earlier stage (if any) a stage builds on.

use crate::syntax::{Dockerfile, Instruction, Keyword, Word};

pub struct Stage<'f> {
    pub from: &'f Instruction,
    /// The image or stage named by FROM, as written.
    pub base: String,
    /// The `AS name`, lower-cased.
    pub name: Option<String>,
    /// The earlier stage this one builds on.
    pub parent: Option<usize>,
    /// The instructions after FROM, up to the next FROM.
    pub body: Vec<&'f Instruction>,
    /// The keywords of `body` (`Dockerfile::kinds`), for `each`.
    kinds: &'f [u32],
}

impl<'f> Stage<'f> {
    /// The instructions of `body` that are one of `keywords`, or an ONBUILD
    /// of one, with their positions.
    pub fn each<'s>(
        &'s self,
        keywords: &[&str],
    ) -> impl Iterator<Item = (usize, &'f Instruction)> + 's {
        self.each_with(keywords, 0)
    }

    /// The instructions `each` finds whose kinds (`Dockerfile::kinds`)
    /// also have every bit of `also` (`Dockerfile::FLAGGED`, ...).
    pub fn each_with<'s>(
        &'s self,
        keywords: &[&str],
        also: u32,
    ) -> impl Iterator<Item = (usize, &'f Instruction)> + 's {
        let wanted = Keyword::bits(keywords);
        // Both tests without a branch between them, so that a block of
        // eight is tested at once.
        let wants = move |kind: u32| (kind & wanted != 0) & (kind & also == also);
        let kinds = self.kinds;
        let mut next = 0;
        std::iter::from_fn(move || {
            while next < kinds.len() {
                // Most instructions are not wanted: passed over eight at a
                // time, `also` included (a file of thousands of COPYs has
                // few of the whole context).
                if let Some(block) = kinds.get(next..next + 8) {
                    if !block.iter().fold(false, |any, &kind| any | wants(kind)) {
                        next += 8;
                        continue;
                    }
                }
                let position = next;
                next += 1;
                if wants(kinds[position]) {
                    return Some((position, self.body[position]));
                }
            }
            None
        })
    }
}

pub fn stages(file: &Dockerfile) -> Vec<Stage<'_>> {
    // Found by keyword: only the FROMs are read.
    let from = Keyword::bits(&["from"]);
    let starts: Vec<usize> = (0..file.kinds.len())
        .filter(|&i| file.kinds[i] & from != 0 && file.instructions[i].command.name == "from")
        .collect();
    let mut stages: Vec<Stage> = Vec::with_capacity(starts.len());
    // The first stage of each name, as BuildKit resolves it.
    let mut named: std::collections::HashMap<String, usize> = Default::default();
    for (nth, &start) in starts.iter().enumerate() {
        let instruction = &file.instructions[start];
        let values = &instruction.command.values;
        let base = values.first().map(String::from).unwrap_or_default();
        let name = match &values[..] {
            [_, keyword, name, ..] if keyword.eq_ignore_ascii_case("as") => {
                Some(name.to_lowercase())
            }
            _ => None,
        };
        // BuildKit resolves FROM by stage name only (an index works for
        // COPY --from, not for FROM).
        let parent = named.get(&base.to_lowercase()).copied();
        if let Some(name) = &name {
            named.entry(name.clone()).or_insert(stages.len());
        }
        // The instructions up to the next FROM, side by side in the file.
        let body = start + 1..starts.get(nth + 1).copied().unwrap_or(file.kinds.len());
        stages.push(Stage {
            from: instruction,
            base,
            name,
            parent,
            body: file.instructions[body.clone()].iter().collect(),
            kinds: &file.kinds[body],
        });
    }
    stages
}

/// The stage before stage `before` that a `--from` value names, as
/// BuildKit resolves it: a stage name (any case), else a stage index;
/// `None` for an image.
pub fn stage_from(stages: &[Stage], before: usize, value: &str) -> Option<usize> {
    let name = value.to_lowercase();
    stages[..before]
        .iter()
        .position(|s| s.name.as_deref() == Some(name.as_str()))
        .or_else(|| value.parse::<usize>().ok().filter(|&i| i < before))
}

/// The stages from `index` up through its in-file ancestors.
pub fn lineage<'s, 'f>(
    stages: &'s [Stage<'f>],
    index: usize,
) -> impl Iterator<Item = &'s Stage<'f>> {
    lineage_indices(stages, index).map(|i| &stages[i])
}

/// The indices of `lineage`.
pub fn lineage_indices<'s>(stages: &'s [Stage], index: usize) -> impl Iterator<Item = usize> + 's {
    std::iter::successors(Some(index), |&i| stages[i].parent)
}

/// The RUNs after `position` in the stage, in stages built on it, and in
/// ONBUILD triggers anywhere.
pub fn later_runs<'s, 'f>(
    stages: &'s [Stage<'f>],
    index: usize,
    position: usize,
) -> impl Iterator<Item = &'f Instruction> + 's {
    let own = stages[index].body[position + 1..].iter().copied();
    let descendants = stages
        .iter()
        .enumerate()
        .filter(move |(i, _)| {
            *i != index && lineage(stages, *i).any(|s| std::ptr::eq(s, &stages[index]))
        })
        .flat_map(|(_, s)| s.body.iter().copied());
    let triggers = stages
        .iter()
        .flat_map(|s| s.body.iter().copied())
        .filter(|i| i.command.sub.is_some());
    own.chain(descendants).chain(triggers)
}

/// For one test of an instruction, the first instruction after each point
/// of the file, in `later_runs` order, that passes it: built in one pass,
/// so that asking at every point costs no rescan of what follows.
pub struct FirstLater<'f, T> {
    /// Every passing instruction, with what the test found; the tables
    /// below hold indices into it, so a finding is never copied.
    passed: Vec<(&'f Instruction, T)>,
    /// Per stage and position, the first passing instruction after it in
    /// the stage's own body.
    own: Vec<Vec<Option<usize>>>,
    /// Per stage, the first passing instruction of the stages built on it,
    /// in stage order.
    descendants: Vec<Option<usize>>,
    /// The first passing ONBUILD trigger of the file.
    trigger: Option<usize>,
}

impl<'f, T> FirstLater<'f, T> {
    pub fn new(stages: &[Stage<'f>], test: impl Fn(&'f Instruction) -> Option<T>) -> Self {
        let mut passed = Vec::new();
        let mut own = Vec::with_capacity(stages.len());
        let mut whole = Vec::with_capacity(stages.len());
        let mut trigger = None;
        for stage in stages {
            let first = passed.len();
            let mut at = Vec::with_capacity(stage.body.len());
            for instruction in &stage.body {
                at.push(test(instruction).map(|t| {
                    passed.push((*instruction, t));
                    passed.len() - 1
                }));
            }
            if trigger.is_none() {
                trigger = (first..passed.len()).find(|&p| passed[p].0.command.sub.is_some());
            }
            let mut next = None;
            let mut after = vec![None; stage.body.len()];
            for position in (0..stage.body.len()).rev() {
                after[position] = next;
                if at[position].is_some() {
                    next = at[position];
                }
            }
            own.push(after);
            whole.push(next);
        }
        // The first stage (by index) built on each stage with a passing
        // instruction; a walk up stops at an ancestor already given one, whose
        // ancestors all have one too.
        let mut descendants: Vec<Option<usize>> = vec![None; stages.len()];
        for (index, found) in whole.iter().enumerate() {
            let Some(found) = found else { continue };
            let mut ancestor = stages[index].parent;
            while let Some(a) = ancestor.filter(|&a| a != index && descendants[a].is_none()) {
                descendants[a] = Some(*found);
                ancestor = stages[a].parent;
            }
        }
        FirstLater {
            passed,
            own,
            descendants,
            trigger,
        }
    }

    /// The first instruction after `position` of stage `index` that passes,
    /// with what the test found.
    pub fn after(&self, index: usize, position: usize) -> Option<&(&'f Instruction, T)> {
        let found = self.own[index][position]
            .or(self.descendants[index])
            .or(self.trigger)?;
        Some(&self.passed[found])
    }
}

/// The instructions before `position` in the stage and in the stages it
/// builds on, nearest first.
pub fn earlier<'s, 'f>(
    stages: &'s [Stage<'f>],
    index: usize,
    position: usize,
) -> impl Iterator<Item = &'f Instruction> + 's {
    let own = stages[index].body[..position].iter().rev().copied();
    let ancestors = lineage(stages, index)
        .skip(1)
        .flat_map(|s| s.body.iter().rev().copied());
    own.chain(ancestors)
}

/// The RUNs among `earlier` (ONBUILD triggers are not).
pub fn earlier_runs<'s, 'f>(
    stages: &'s [Stage<'f>],
    index: usize,
    position: usize,
) -> impl Iterator<Item = &'f Instruction> + 's {
    earlier(stages, index, position).filter(|i| i.command.name == "run" && i.command.sub.is_none())
}

/// A variable's value as the Dockerfile sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub value: String,
    /// Set by ARG, which `--build-arg` can change.
    pub from_arg: bool,
}

/// Each setting of a variable by ENV or ARG (with a default) before file
/// offset `at` in the stage and the stages it builds on, in file order:
/// name, value as written, and whether ARG set it.
pub fn settings_before<'f>(
    stages: &[Stage<'f>],
    index: usize,
    at: usize,
) -> Vec<(&'f str, &'f str, bool)> {
    let chain: Vec<&Stage<'f>> = lineage(stages, index).collect();
    let mut found = Vec::new();
    for (_, instruction) in chain.iter().rev().flat_map(|s| s.each(&["env", "arg"])) {
        if instruction.span().start >= at {
            continue;
        }
        found.extend(settings_of(instruction));
    }
    found
}

/// The variables one ENV or ARG (with a default) sets: name, value as
/// written, and whether ARG set it.
pub fn settings_of(instruction: &Instruction) -> Vec<(&str, &str, bool)> {
    let values = &instruction.command.values;
    match instruction.command.name.as_str() {
        // BuildKit's AST keeps ENV as (name, value, separator) triples.
        "env" => values
            .chunks(3)
            .map(|pair| {
                let value = pair.get(1).map_or("", Word::as_str);
                (pair[0].as_str(), value, false)
            })
            .collect(),
        "arg" => values
            .iter()
            .filter_map(|v| v.split_once('='))
            .map(|(name, value)| (name, value, true))
            .collect(),
        _ => Vec::new(),
    }
}

/// Adds what one instruction sets to `variables` (see `variables_before`):
/// walking a stage forward with it gives the variables at each point.
pub fn set_variables(
    variables: &mut std::collections::BTreeMap<String, Variable>,
    instruction: &Instruction,
) {
    for (name, value, from_arg) in settings_of(instruction) {
        let value = unquote(value);
        variables.insert(name.to_string(), Variable { value, from_arg });
    }
}

/// The variables ENV and ARG (with a default) set before file offset `at`
/// in the stage and the stages it builds on; a later setting wins.
pub fn variables_before(
    stages: &[Stage],
    index: usize,
    at: usize,
) -> std::collections::BTreeMap<String, Variable> {
    settings_before(stages, index, at)
        .into_iter()
        .map(|(name, value, from_arg)| {
            let value = unquote(value);
            (name.to_string(), Variable { value, from_arg })
        })
        .collect()
}

/// A value as the shell reads it when it is one quoted or plain string
/// without expansions; anything else stays as written.
pub fn unquote(value: &str) -> String {
    let inner = |q: char| value.strip_prefix(q).and_then(|rest| rest.strip_suffix(q));
    match (inner('\''), inner('"')) {
        (Some(inner), _) if !inner.contains('\'') => inner.to_string(),
        (_, Some(inner)) if !inner.contains(['"', '\\', '`']) => inner.to_string(),
        _ => value.to_string(),
    }
}

/// The image a stage's lineage starts from, by name: the last part of its
/// repository, without registry, tag or digest (`docker.io/library/golang:1.22`
/// is `golang`).
pub fn base_image_name(stages: &[Stage], index: usize) -> String {
    let root = lineage(stages, index)
        .last()
        .expect("a lineage has its stage");
    let image = root.base.split('@').next().unwrap_or_default();
    let last = image.rsplit('/').next().unwrap_or_default();
    last.split(':').next().unwrap_or_default().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse;

    #[test]
    fn a_stage_finds_its_instructions_by_keyword() {
        let file =
            parse(b"FROM a\nrun x\nCOPY . .\nONBUILD RUN y\nENV A=1\nRUN z\nFROM b\nRUN w\n")
                .unwrap();
        let stages = stages(&file);
        let positions = |index: usize, keywords: &[&str]| -> Vec<usize> {
            stages[index].each(keywords).map(|(p, _)| p).collect()
        };
        // An ONBUILD counts as its trigger, and as itself.
        assert_eq!(positions(0, &["run"]), [0, 2, 4]);
        assert_eq!(positions(0, &["onbuild"]), [2]);
        assert_eq!(positions(0, &["env", "copy"]), [1, 3]);
        assert_eq!(positions(0, &["workdir"]), [] as [usize; 0]);
        assert_eq!(positions(1, &["run"]), [0]);
        let (position, run) = stages[0].each(&["run"]).last().unwrap();
        assert!(std::ptr::eq(run, stages[0].body[position]));
    }

    #[test]
    fn a_stage_finds_flagged_instructions_and_copies_of_the_context() {
        let file = parse(
            b"FROM a\nCOPY --from=b x y\nCOPY . /app\nADD ./ /app\nCOPY . a b\nCOPY src .\nONBUILD COPY . .\n",
        )
        .unwrap();
        let stages = stages(&file);
        let positions = |keywords: &[&str], also: u32| -> Vec<usize> {
            stages[0]
                .each_with(keywords, also)
                .map(|(p, _)| p)
                .collect()
        };
        assert_eq!(positions(&["copy"], Dockerfile::FLAGGED), [0]);
        assert_eq!(
            positions(&["copy", "add"], Dockerfile::WHOLE_CONTEXT),
            [1, 2]
        );
        assert_eq!(positions(&["add"], Dockerfile::WHOLE_CONTEXT), [2]);
        assert_eq!(positions(&["copy"], 0), [0, 1, 3, 4, 5]);
    }

    #[test]
    fn stages_know_their_parents() {
        let file =
            parse(b"FROM golang AS Build\nRUN x\nFROM build\nCMD y\nFROM 0\nFROM BUILD\n").unwrap();
        let stages = stages(&file);
        assert_eq!(stages.len(), 4);
        assert_eq!(stages[0].name.as_deref(), Some("build"));
        assert_eq!(stages[1].parent, Some(0));
        assert_eq!(stages[2].parent, None, "FROM 0 names an image, not stage 0");
        assert_eq!(stages[3].parent, Some(0));
        assert_eq!(stages[1].body.len(), 1);
        assert_eq!(lineage(&stages, 1).count(), 2);
    }

    #[test]
    fn the_first_later_table_answers_as_a_scan_of_later_runs() {
        let file = parse(
            b"FROM a AS base\nRUN x 1\nRUN y\nFROM base AS mid\nRUN y\nONBUILD RUN x 2\n\
              FROM mid\nRUN x 3\nFROM base AS other\nRUN x 4\nFROM c\nRUN y\nRUN x 5\nRUN y\n",
        )
        .unwrap();
        let stages = stages(&file);
        let test = |i: &Instruction| {
            let text = crate::syntax::lossy(&file.source[i.span()]).into_owned();
            text.contains(" x ").then(|| text.trim().to_string())
        };
        let table = FirstLater::new(&stages, test);
        for (index, stage) in stages.iter().enumerate() {
            for position in 0..stage.body.len() {
                let scanned = later_runs(&stages, index, position).find_map(test);
                let found = table.after(index, position).map(|(_, t)| t.clone());
                assert_eq!(found, scanned, "stage {index}, position {position}");
            }
        }
        // The stage built on `base` first (`mid`, by way of its trigger)
        // comes before `other`; after the last `x` of the last stage, only
        // the trigger is left.
        assert_eq!(table.after(0, 1).unwrap().1, "ONBUILD RUN x 2");
        assert_eq!(table.after(4, 1).unwrap().1, "ONBUILD RUN x 2");
    }

    #[test]
    fn variables_and_base_images_follow_the_lineage() {
        let file = parse(
            b"FROM docker.io/library/golang:1.22@sha256:ab AS b\nENV A=1 B=\"2\"\nARG C='3'\nARG D\nENV E=\"$A\"/x\nRUN x\nFROM b\nENV A=4\nRUN y\n",
        )
        .unwrap();
        let stages = stages(&file);
        let run = stages[1].body[1].span().start;
        let vars = variables_before(&stages, 1, run);
        assert_eq!(vars["A"].value, "4");
        assert_eq!(vars["B"].value, "2");
        assert_eq!(vars["C"].value, "3");
        assert!(vars["C"].from_arg && !vars["A"].from_arg);
        assert!(!vars.contains_key("D"));
        assert_eq!(vars["E"].value, "\"$A\"/x", "expansions stay as written");
        let before_env = variables_before(&stages, 0, stages[0].body[0].span().start);
        assert!(before_env.is_empty());
        assert_eq!(base_image_name(&stages, 1), "golang");
    }

    #[test]
    fn unquote_keeps_whole_characters() {
        assert_eq!(unquote(""), "");
        assert_eq!(unquote("'"), "'");
        assert_eq!(unquote("\""), "\"");
        assert_eq!(unquote("café"), "café");
        assert_eq!(unquote("é"), "é");
        assert_eq!(unquote("'café'"), "café");
        assert_eq!(unquote("\"ü\""), "ü");
        assert_eq!(unquote("''"), "");
        assert_eq!(unquote("'a'b'"), "'a'b'");
        assert_eq!(unquote("\"$A\""), "$A");
        assert_eq!(unquote("\"a\\b\""), "\"a\\b\"");
    }
}
