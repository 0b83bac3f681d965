//! Running the rules on a file and applying their fixes: edits from all
//! rules are checked for overlap and applied in one pass, the result is
//! re-parsed (it must parse), and the rules run again until nothing more
//! applies, so a second run never changes the output.

use std::path::Path;

use crate::edit::{self, Edit};
use crate::rules::{Applicability, Context, Finding, Rule};
use crate::syntax::{parse, Dockerfile, ParseError};

/// Rounds of fixing before dockfix gives up on a file that does not settle.
const MAX_ROUNDS: usize = 8;

pub struct Settings<'a> {
    pub rules: Vec<&'static Rule>,
    /// Also apply fixes marked unsafe.
    pub unsafe_fixes: bool,
    pub build_context: Option<&'a Path>,
}

impl Settings<'_> {
    pub fn applies(&self, finding: &Finding) -> bool {
        finding
            .fix
            .as_ref()
            .is_some_and(|fix| match fix.applicability {
                Applicability::Safe => true,
                Applicability::Unsafe => self.unsafe_fixes,
            })
    }
}

/// The rules' findings on a parsed file, in file order.
pub fn lint(file: &Dockerfile, settings: &Settings) -> Vec<Finding> {
    let cx = Context {
        file,
        build_context: settings.build_context,
    };
    let mut findings: Vec<Finding> = settings
        .rules
        .iter()
        .flat_map(|rule| (rule.check)(&cx))
        .collect();
    findings.sort_by_key(|f| (f.range.start, f.rule.id));
    findings
}

pub struct Fixed {
    /// The file after every applicable fix.
    pub file: Dockerfile,
    /// Findings left in the fixed file.
    pub remaining: Vec<Finding>,
    pub applied: usize,
}

#[derive(Debug)]
pub enum FixError {
    /// The input does not parse.
    Parse(ParseError),
    /// A rewrite went wrong; the file must be left untouched.
    Internal(String),
}

pub fn fix(source: &[u8], settings: &Settings) -> Result<Fixed, FixError> {
    let mut file = parse(source).map_err(FixError::Parse)?;
    let mut applied = 0;
    for _ in 0..MAX_ROUNDS {
        let findings = lint(&file, settings);
        let mut accepted: Vec<Edit> = Vec::new();
        let mut count = 0;
        for finding in findings.iter().filter(|f| settings.applies(f)) {
            let edits = &finding
                .fix
                .as_ref()
                .expect("applies() checked the fix")
                .edits;
            let clashes = edits.iter().enumerate().any(|(i, e)| {
                accepted
                    .iter()
                    .chain(&edits[..i])
                    .any(|other| other.conflicts_with(e))
            });
            if !clashes {
                accepted.extend(edits.iter().cloned());
                count += 1;
            }
        }
        if count == 0 {
            return Ok(Fixed {
                file,
                remaining: findings,
                applied,
            });
        }
        let output = edit::apply(&file.source, &accepted).map_err(|o| {
            FixError::Internal(format!("overlapping edits at {:?} and {:?}", o.0, o.1))
        })?;
        file = parse(&output)
            .map_err(|e| FixError::Internal(format!("the rewrite does not parse: {e}")))?;
        applied += count;
    }
    Err(FixError::Internal(format!(
        "fixes did not settle after {MAX_ROUNDS} rounds"
    )))
}
