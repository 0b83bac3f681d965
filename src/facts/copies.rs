//! Copies of the whole build context (`COPY . /app`) and where a COPY
//! lands: what the reordering rules and the cache mounts ask about paths.

use crate::scope::{absolute, Scope};
use crate::syntax::Instruction;

/// Instructions that do not change how a later RUN runs, so a RUN may move
/// across them.
pub const INERT: &[&str] = &[
    "label",
    "expose",
    "maintainer",
    "stopsignal",
    "healthcheck",
    "cmd",
    "entrypoint",
];

/// A COPY or ADD of the whole build context, with its destination.
pub struct FullCopy<'f> {
    pub instruction: &'f Instruction,
    pub dest: String,
}

pub fn full_copy(instruction: &Instruction) -> Option<FullCopy<'_>> {
    let command = &instruction.command;
    if !command.copies_context_root()
        || !instruction.heredocs.is_empty()
        || command.flags.iter().any(|f| f.name() == "from")
    {
        return None;
    }
    Some(FullCopy {
        instruction,
        dest: command.values[1].to_string(),
    })
}

/// Where a COPY's destination `dest` (as written) is, as an absolute
/// path, when dockfix can know it.
pub fn destination(scope: &Scope, dest: &str) -> Option<String> {
    absolute(&scope.expand(dest)?, scope.workdir.as_deref())
}

pub fn normalize(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".into()
    } else {
        trimmed.into()
    }
}
