//! Build stages: which instructions belong to which `FROM`, and which
//! earlier stage (if any) a stage builds on.

use crate::syntax::{Dockerfile, Instruction};

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
}

pub fn stages(file: &Dockerfile) -> Vec<Stage<'_>> {
    let mut stages: Vec<Stage> = Vec::new();
    for instruction in file.instructions() {
        if instruction.command.name == "from" {
            let values = &instruction.command.values;
            let base = values.first().cloned().unwrap_or_default();
            let name = match values.as_slice() {
                [_, keyword, name, ..] if keyword.eq_ignore_ascii_case("as") => {
                    Some(name.to_lowercase())
                }
                _ => None,
            };
            // BuildKit resolves FROM by stage name only (an index works
            // for COPY --from, not for FROM).
            let lower = base.to_lowercase();
            let parent = stages
                .iter()
                .position(|s| s.name.as_deref() == Some(&lower));
            stages.push(Stage {
                from: instruction,
                base,
                name,
                parent,
                body: Vec::new(),
            });
        } else if let Some(stage) = stages.last_mut() {
            stage.body.push(instruction);
        }
    }
    stages
}

/// The stages from `index` up through its in-file ancestors.
pub fn lineage<'s, 'f>(
    stages: &'s [Stage<'f>],
    index: usize,
) -> impl Iterator<Item = &'s Stage<'f>> {
    std::iter::successors(Some(index), |&i| stages[i].parent).map(|i| &stages[i])
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse;

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
}
