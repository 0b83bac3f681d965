//! Running the rules on a file and applying their fixes: edits from all
//! rules are checked for overlap and applied in one pass, the result is
//! re-parsed (it must parse), and the rules run again until nothing more
//! applies, so a second run never changes the output.

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::edit::{self, Edit};
use crate::rules::{Append, Applicability, Context, Finding, Rule};
use crate::syntax::{parse, Dockerfile, ParseError};

/// Rounds of fixing before dockfix gives up on a file that does not settle.
const MAX_ROUNDS: usize = 8;

pub struct Settings<'a> {
    pub rules: Vec<&'static Rule>,
    /// Also apply fixes marked unsafe.
    pub unsafe_fixes: bool,
    pub build_context: Option<&'a Path>,
    /// Whether fixes may change files besides the Dockerfile.
    pub companions: bool,
    /// Where the Dockerfile is, when it is a file.
    pub dockerfile: Option<&'a Path>,
    /// Registry answers, when pinning is asked for.
    pub pins: Option<&'a crate::pin::Pins>,
    /// The dependency ecosystems DF101 knows: a configuration's table, or
    /// `None` for the built-in one, read only when a rule asks.
    pub ecosystems: Option<&'a crate::deps::Ecosystems>,
    /// DF503's runtime images the configuration sets, by ecosystem.
    pub runtime_images: &'a std::collections::BTreeMap<String, String>,
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

/// The rules' findings on a parsed file, in file order, but those a
/// `# dockfix: ignore[...]` comment silences.
pub fn lint(file: &Dockerfile, settings: &Settings) -> Vec<Finding> {
    let (kept, _) = lint_all(file, settings);
    kept
}

/// The findings kept, and those suppressions silence.
pub fn lint_all(file: &Dockerfile, settings: &Settings) -> (Vec<Finding>, Vec<Finding>) {
    let (suppressions, _) = crate::suppress::read(file);
    let offered = |id: &str, at: usize, safe: bool| {
        settings.rules.iter().any(|r| r.id == id)
            && (safe || settings.unsafe_fixes)
            && !suppressions.silences(id, at)
    };
    let mut cx = Context::new(file, settings.build_context, settings.companions);
    cx.dockerfile = settings.dockerfile;
    cx.pins = settings.pins;
    cx.ecosystems = settings.ecosystems;
    cx.runtime_images = settings.runtime_images;
    cx.offered = &offered;
    let mut findings: Vec<Finding> = settings
        .rules
        .iter()
        .flat_map(|rule| (rule.check)(&cx))
        .collect();
    let utf8 = std::str::from_utf8(&file.source).is_ok();
    for finding in &mut findings {
        keep_bytes(finding, &file.source, utf8);
    }
    drop_orphans(&mut findings);
    findings.sort_by_key(|f| (f.range.start, f.rule.id));
    findings.into_iter().partition(|f| !suppressions.covers(f))
}

/// A finding whose fix requires fixes `keep_bytes` withdrew is about a
/// change that will not be made: it goes.
fn drop_orphans(findings: &mut Vec<Finding>) {
    if findings
        .iter()
        .all(|f| f.fix.as_ref().is_none_or(|fix| fix.requires.is_empty()))
    {
        return;
    }
    let fixed: HashSet<(&str, Range<usize>)> = findings
        .iter()
        .filter(|f| f.fix.is_some())
        .map(|f| (f.rule.id, f.range.clone()))
        .collect();
    let kept: Vec<bool> = findings
        .iter()
        .map(|f| {
            f.fix
                .as_ref()
                .is_none_or(|fix| fix.requires.iter().all(|r| fixed.contains(r)))
        })
        .collect();
    let mut kept = kept.into_iter();
    findings.retain(|_| kept.next().expect("one flag per finding"));
}

/// Rules build their edits as text, reading the file's bytes as UTF-8 with
/// U+FFFD in place of what is not, and find their offsets in it. A fix is
/// reported and not applied, whichever rule made it, when an edit starts or
/// ends inside a character (its bytes would no longer be that character),
/// or, in a file that is not all UTF-8, writes U+FFFD (which could stand
/// for bytes it replaced).
fn keep_bytes(finding: &mut Finding, source: &[u8], utf8: bool) {
    let inside_char = |at: usize| source.get(at).is_some_and(|b| b & 0xC0 == 0x80);
    let why = finding.fix.as_ref().and_then(|fix| {
        if fix
            .edits
            .iter()
            .any(|e| inside_char(e.range.start) || inside_char(e.range.end))
        {
            Some("the fix would split a character")
        } else if !utf8
            && fix
                .edits
                .iter()
                .any(|e| e.replacement.contains(char::REPLACEMENT_CHARACTER))
        {
            Some("the fix would rewrite bytes that are not UTF-8")
        } else {
            None
        }
    });
    if let Some(why) = why {
        finding.fix = None;
        finding.message.push_str("; not fixed: ");
        finding.message.push_str(why);
    }
}

pub struct Fixed {
    /// The file after every applicable fix.
    pub file: Dockerfile,
    /// Findings left in the fixed file.
    pub remaining: Vec<Finding>,
    /// The rule of each fix applied, round after round.
    pub applied: Vec<&'static Rule>,
    /// Other files the fixes change (.dockerignore), as they were and as
    /// they will be.
    pub companions: Vec<Companion>,
    /// The source as parsed, once a fix was applied; `None` when `file`
    /// is the file as parsed. Kept here, not by the caller, so that the
    /// caller can hand its bytes to the parser uncopied.
    pub original: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub struct Companion {
    pub path: PathBuf,
    /// `None` when the file does not exist yet.
    pub before: Option<Vec<u8>>,
    pub after: Vec<u8>,
}

#[derive(Debug)]
pub enum FixError {
    /// The input does not parse.
    Parse(ParseError),
    /// A rewrite went wrong; the file must be left untouched.
    Internal(String),
}

pub fn fix(source: &[u8], settings: &Settings) -> Result<Fixed, FixError> {
    let file = parse(source).map_err(FixError::Parse)?;
    let findings = lint(&file, settings);
    fix_parsed(file, findings, settings)
}

/// `fix` for a file already parsed and linted with these settings.
///
/// Without a final line ending, the last instruction ends where the file
/// does, so an edit at the end of its command (an appended cleanup) and
/// one just after it meet at the offset where an edit of the whole
/// instruction (a move deleting it) ends: the overlap check cannot tell
/// that the first belongs to the instruction. The fixes run on the file
/// with a line ending added, taken off again after, so every instruction
/// ends with a line ending and the file keeps its missing one.
pub fn fix_parsed(
    file: Dockerfile,
    findings: Vec<Finding>,
    settings: &Settings,
) -> Result<Fixed, FixError> {
    if file.source.is_empty() || file.source.ends_with(b"\n") {
        return settle(file, findings, settings);
    }
    let eol = line_ending(&file.source);
    let ended = reparse(&[&file.source[..], eol].concat())?;
    let ended_findings = lint(&ended, settings);
    let mut fixed = settle(ended, ended_findings, settings)?;
    if fixed.applied.is_empty() {
        fixed.file = file;
        fixed.remaining = findings;
        fixed.original = None;
        return Ok(fixed);
    }
    if let Some(unended) = fixed.file.source.strip_suffix(eol) {
        fixed.file = reparse(unended)?;
        fixed.remaining = lint(&fixed.file, settings);
    }
    fixed.original = Some(file.source);
    Ok(fixed)
}

/// A rewrite parsed again; one that does not parse is dockfix's error.
fn reparse(source: &[u8]) -> Result<Dockerfile, FixError> {
    parse(source).map_err(|e| FixError::Internal(format!("the rewrite does not parse: {e}")))
}

/// Fixes applied round after round until none applies.
fn settle(
    mut file: Dockerfile,
    mut findings: Vec<Finding>,
    settings: &Settings,
) -> Result<Fixed, FixError> {
    let mut applied = Vec::new();
    let mut companions: Vec<Companion> = Vec::new();
    let mut original = None;
    for _ in 0..MAX_ROUNDS {
        let mut accepted: Vec<Edit> = Vec::new();
        let mut taken = Taken::default();
        let mut rules = Vec::new();
        let mut fixed: HashSet<(&str, Range<usize>)> = HashSet::new();
        // A fix that requires others is weighed after every other one.
        let (free, bound): (Vec<&Finding>, Vec<&Finding>) = findings
            .iter()
            .filter(|f| settings.applies(f))
            .partition(|f| f.fix.as_ref().is_some_and(|fix| fix.requires.is_empty()));
        for finding in free.into_iter().chain(bound) {
            let fix = finding.fix.as_ref().expect("applies() checked the fix");
            if settled(fix, &companions) {
                fixed.insert((finding.rule.id, finding.range.clone()));
                continue;
            }
            if !fix
                .requires
                .iter()
                .all(|(rule, range)| fixed.contains(&(*rule, range.clone())))
            {
                continue;
            }
            let mut own = Taken::default();
            let clashes = fix.edits.iter().any(|e| {
                let clash = taken.clashes(e) || own.clashes(e);
                own.insert(e);
                clash
            });
            if !clashes {
                taken.0.extend(own.0);
                accepted.extend(fix.edits.iter().cloned());
                for append in &fix.appends {
                    add_lines(&mut companions, append);
                }
                fixed.insert((finding.rule.id, finding.range.clone()));
                rules.push(finding.rule);
            }
        }
        if rules.is_empty() {
            findings.retain(|f| !f.fix.as_ref().is_some_and(|fix| settled(fix, &companions)));
            return Ok(Fixed {
                file,
                remaining: findings,
                applied,
                companions: changed(companions),
                original,
            });
        }
        let output = edit::apply(&file.source, &accepted).map_err(|o| {
            FixError::Internal(format!("overlapping edits at {:?} and {:?}", o.0, o.1))
        })?;
        let edited: Vec<(Range<usize>, usize)> = accepted
            .iter()
            .map(|e| (e.range.clone(), e.replacement.len()))
            .collect();
        crate::syntax::reparse::keep_edited(&file, &edited);
        let previous = std::mem::replace(&mut file, reparse(&output)?);
        original.get_or_insert(previous.source);
        findings = lint(&file, settings);
        crate::syntax::reparse::forget_edited();
        applied.extend(rules);
    }
    Err(FixError::Internal(format!(
        "fixes did not settle after {MAX_ROUNDS} rounds"
    )))
}

/// The ranges of edits already accepted in a round, ordered, so that
/// whether another edit conflicts with one of them (`Edit::conflicts_with`)
/// is found among its neighbours, not by comparing with each.
#[derive(Default)]
struct Taken(std::collections::BTreeSet<(usize, usize)>);

impl Taken {
    fn clashes(&self, edit: &Edit) -> bool {
        let (start, end) = (edit.range.start, edit.range.end);
        // Accepted edits do not overlap one another, so going down from the
        // last one starting at or before `end`, the first one that ends
        // before `start` (or at it, when it starts before) ends the search.
        for &(s, e) in self.0.range(..=(end, usize::MAX)).rev() {
            if Edit::replace(s..e, "").conflicts_with(edit) {
                return true;
            }
            if s < start && e <= start {
                return false;
            }
        }
        false
    }

    fn insert(&mut self, edit: &Edit) {
        self.0.insert((edit.range.start, edit.range.end));
    }
}

/// Adds the lines `append` names to its file unless the file holds them,
/// keeping the file's line endings.
fn add_lines(companions: &mut Vec<Companion>, append: &Append) {
    let index = match companions.iter().position(|c| c.path == append.path) {
        Some(index) => index,
        None => {
            let before = crate::context::read_regular(&append.path).ok();
            let after = before.clone().unwrap_or_default();
            companions.push(Companion {
                path: append.path.clone(),
                before,
                after,
            });
            companions.len() - 1
        }
    };
    append_missing(&mut companions[index].after, &append.lines);
}

impl Companion {
    /// Takes in the lines `other`, the same file as another Dockerfile's
    /// fixes leave it, adds: both Dockerfiles' lines, as `--write` leaves
    /// the file after fixing one and then the other.
    pub fn absorb(&mut self, other: &Companion) {
        let lines: Vec<String> = crate::syntax::lossy(&other.after)
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect();
        append_missing(&mut self.after, &lines);
    }
}

/// A fix that only adds lines to other files, which they hold by now:
/// it has nothing left to do (rules read those files from disk, so they
/// find it again after each round).
fn settled(fix: &crate::rules::Fix, companions: &[Companion]) -> bool {
    fix.edits.is_empty()
        && fix.appends.iter().all(|append| {
            companions.iter().any(|c| {
                c.path == append.path && append.lines.iter().all(|line| holds(&c.after, line))
            })
        })
}

/// Whether the text has `line` as a line of its own.
fn holds(text: &[u8], line: &str) -> bool {
    crate::syntax::lossy(text).lines().any(|l| l.trim() == line)
}

/// Appends each of `lines` the text lacks, in its line endings.
pub fn append_missing(text: &mut Vec<u8>, lines: &[String]) {
    let eol = line_ending(text);
    for line in lines {
        if !holds(text, line) {
            if !text.is_empty() && !text.ends_with(b"\n") {
                text.extend_from_slice(eol);
            }
            text.extend_from_slice(line.as_bytes());
            text.extend_from_slice(eol);
        }
    }
}

/// The line ending lines added to `text` take: CRLF when it has any.
fn line_ending(text: &[u8]) -> &'static [u8] {
    if text.windows(2).any(|w| w == b"\r\n") {
        b"\r\n"
    } else {
        b"\n"
    }
}

fn changed(companions: Vec<Companion>) -> Vec<Companion> {
    companions
        .into_iter()
        .filter(|c| c.before.as_deref() != Some(&c.after[..]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taken_ranges_clash_as_comparing_with_each_does() {
        // A small deterministic generator: every mix of inserts, empty and
        // overlapping ranges near one another.
        let mut seed = 7u64;
        let mut next = |m: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) % m) as usize
        };
        for _ in 0..200 {
            let mut taken = Taken::default();
            let mut accepted: Vec<Edit> = Vec::new();
            for _ in 0..40 {
                let start = next(30);
                let edit = Edit::replace(start..start + next(4), "");
                let naive = accepted.iter().any(|a| a.conflicts_with(&edit));
                assert_eq!(
                    taken.clashes(&edit),
                    naive,
                    "{:?} against {accepted:?}",
                    edit.range
                );
                if !naive {
                    taken.insert(&edit);
                    accepted.push(edit);
                }
            }
        }
    }

    /// Settings running no rule, so the findings given are all there is.
    fn no_rules() -> Settings<'static> {
        Settings {
            rules: Vec::new(),
            unsafe_fixes: false,
            build_context: None,
            companions: false,
            dockerfile: None,
            pins: None,
            ecosystems: None,
            runtime_images: &crate::config::NO_RUNTIME_IMAGES,
        }
    }

    fn fixing(id: &str, range: Range<usize>, edit: Edit) -> Finding {
        Finding {
            rule: crate::rules::find(id).unwrap(),
            range,
            message: String::new(),
            fix: Some(crate::rules::Fix::new(Applicability::Safe, vec![edit])),
        }
    }

    #[test]
    fn a_fix_applies_only_with_every_fix_it_requires() {
        let source = b"FROM a\nRUN b\n";
        let run = |findings: Vec<Finding>| {
            let file = parse(source).unwrap();
            let fixed = fix_parsed(file, findings, &no_rules()).unwrap();
            String::from_utf8(fixed.file.source).unwrap()
        };
        let first = || fixing("DF001", 7..10, Edit::replace(11..12, "c"));
        // Overlaps the first, so it waits (for ever, no rule runs again).
        let second = || fixing("DF002", 7..10, Edit::replace(11..12, "d"));
        let requiring = |id: &'static str| {
            let mut f = fixing("DF101", 0..4, Edit::insert(0, "# x\n"));
            f.fix.as_mut().unwrap().requires = vec![(id, 7..10)];
            f
        };
        // Given first, weighed after the fixes it requires.
        assert_eq!(
            run(vec![requiring("DF001"), first(), second()]),
            "# x\nFROM a\nRUN c\n"
        );
        assert_eq!(
            run(vec![requiring("DF002"), first(), second()]),
            "FROM a\nRUN c\n"
        );
    }

    #[test]
    fn the_source_as_parsed_is_kept_once_a_fix_applies() {
        let settings = Settings {
            rules: vec![crate::rules::find("DF201").unwrap()],
            ..no_rules()
        };
        for (source, fixed_source) in [
            (
                "FROM a\nRUN apt-get install b\n",
                "FROM a\nRUN apt-get install -y b\n",
            ),
            // Without a final line ending, the rules read the file with one.
            (
                "FROM a\nRUN apt-get install b",
                "FROM a\nRUN apt-get install -y b",
            ),
            ("FROM a\nRUN b", "FROM a\nRUN b"),
        ] {
            let file = parse(source.as_bytes()).unwrap();
            let findings = lint(&file, &settings);
            let fixed = fix_parsed(file, findings, &settings).unwrap();
            assert_eq!(fixed.file.source, fixed_source.as_bytes(), "{source:?}");
            let kept = (source != fixed_source).then_some(source.as_bytes());
            assert_eq!(fixed.original.as_deref(), kept, "{source:?}");
        }
    }

    #[test]
    fn a_finding_whose_required_fix_was_withdrawn_goes() {
        let mut withdrawn = fixing("DF001", 7..10, Edit::replace(11..12, "c"));
        withdrawn.fix = None;
        let mut requiring = fixing("DF101", 0..4, Edit::insert(0, "# x\n"));
        requiring.fix.as_mut().unwrap().requires = vec![("DF001", 7..10)];
        let other = fixing("DF002", 7..10, Edit::replace(11..12, "d"));
        let mut findings = vec![requiring, withdrawn, other];
        drop_orphans(&mut findings);
        let ids: Vec<&str> = findings.iter().map(|f| f.rule.id).collect();
        assert_eq!(ids, ["DF001", "DF002"]);
    }

    #[test]
    fn a_fix_that_only_adds_lines_a_companion_holds_is_settled() {
        let append = |lines: &[&str]| crate::rules::Fix {
            appends: vec![Append {
                path: ".dockerignore".into(),
                lines: lines.iter().map(|l| l.to_string()).collect(),
            }],
            ..crate::rules::Fix::new(Applicability::Safe, Vec::new())
        };
        let companion = Companion {
            path: ".dockerignore".into(),
            before: None,
            after: b".git\r\nnode_modules\r\n".to_vec(),
        };
        let companions = [companion];
        assert!(settled(&append(&[".git", "node_modules"]), &companions));
        assert!(!settled(&append(&[".git", ".env"]), &companions));
        assert!(!settled(&append(&[".git"]), &[]));
        // A fix that edits the Dockerfile as well has work left.
        let mut edits = append(&[".git"]);
        edits.edits.push(Edit::replace(0..0, "x"));
        assert!(!settled(&edits, &companions));
    }

    #[test]
    fn a_companion_takes_in_the_lines_another_fix_adds_to_the_same_file() {
        let file = |after: &str| Companion {
            path: ".dockerignore".into(),
            before: Some(b".git\r\n".to_vec()),
            after: after.as_bytes().to_vec(),
        };
        let mut first = file(".git\r\nnode_modules\r\n");
        first.absorb(&file(".git\r\n.venv\r\nnode_modules\r\n"));
        assert_eq!(first.after, b".git\r\nnode_modules\r\n.venv\r\n");
    }

    fn finding(edit: Edit) -> Finding {
        Finding {
            rule: crate::rules::ALL[0],
            range: 0..1,
            message: "m".into(),
            fix: Some(crate::rules::Fix::new(Applicability::Safe, vec![edit])),
        }
    }

    #[test]
    fn a_fix_that_would_split_a_character_is_reported_not_applied() {
        let source = "RUN é\n".as_bytes();
        // 4 and 6 are the boundaries of `é`; 5 is inside it.
        for (edit, kept) in [
            (Edit::insert(5, "x"), false),
            (Edit::replace(4..5, ""), false),
            (Edit::insert(4, "x"), true),
            (Edit::replace(4..6, "e"), true),
        ] {
            let mut f = finding(edit);
            keep_bytes(&mut f, source, true);
            assert_eq!(f.fix.is_some(), kept, "{}", f.message);
            assert_eq!(
                f.message.ends_with("the fix would split a character"),
                !kept
            );
        }
    }

    #[test]
    fn a_fix_writing_u_fffd_is_applied_only_where_it_cannot_stand_for_bytes() {
        let edit = || Edit::insert(0, "\u{fffd}");
        let mut not_utf8 = finding(edit());
        keep_bytes(&mut not_utf8, b"RUN caf\xe9\n", false);
        assert!(not_utf8.fix.is_none());
        let mut utf8 = finding(edit());
        keep_bytes(&mut utf8, "RUN \u{fffd}\n".as_bytes(), true);
        assert!(utf8.fix.is_some());
    }
}
