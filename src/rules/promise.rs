//! What a fix promises of the build cache, checked with the cache model
//! that `dockfix cache` and the pull-request body use, so a fix and the
//! explanation of what it saves cannot disagree: after an ordering fix, an
//! edit of a source file reruns fewer steps of the kind the fix moves;
//! after a split into stages, no more expensive steps than before.

use crate::cache::{one_line, Cost, Model};
use crate::dockerignore::DockerIgnore;
use crate::edit::{self, Edit};
use crate::rules::Context;
use crate::syntax::{Dockerfile, Instruction};

/// A step of a build: its text, its cost, and whether an edit of a source
/// file reruns it, surely or perhaps (a guard reads "may rerun" as rerun).
type Steps = Vec<(String, Option<Cost>, bool)>;

/// The steps of the build of stage `stage` (of the last stage for
/// `None`), only those of `stage` itself when one is named.
fn steps(cx: &Context, file: &Dockerfile, stage: Option<usize>, ignore: &DockerIgnore) -> Steps {
    let model = Model::building(file, stage, cx.ecosystems());
    model
        .steps
        .iter()
        .zip(model.source_edit_reruns(ignore))
        .filter(|(step, _)| stage.is_none_or(|s| step.stage == s))
        .map(|(step, rerun)| (step.text(), step.cost, rerun.is_some()))
        .collect()
}

/// The steps before and after `edits` (which, where `stage` is named, add
/// or remove no stage).
fn before_and_after(
    cx: &Context,
    stage: Option<usize>,
    edits: &[Edit],
) -> Result<(Steps, Steps), String> {
    let ignore = cx.dockerignore();
    let source = edit::apply(&cx.file.source, edits).map_err(|_| unproven("its edits overlap"))?;
    let fixed = crate::syntax::parse(&source)
        .map_err(|e| unproven(&format!("the fixed file does not parse ({})", e.message)))?;
    Ok((
        steps(cx, cx.file, stage, &ignore),
        steps(cx, &fixed, stage, &ignore),
    ))
}

fn unproven(why: &str) -> String {
    format!("the build cache model cannot confirm it: {why}")
}

/// `2 dependency install steps`.
fn counted(n: usize, cost: Cost) -> String {
    format!("{n} {} step{}", cost.name(), if n == 1 { "" } else { "s" })
}

/// How many steps of `cost` a source edit reruns (`true`) or leaves
/// cached (`false`).
fn count(steps: &Steps, cost: Cost, rerun: bool) -> usize {
    steps
        .iter()
        .filter(|(_, c, r)| *c == Some(cost) && *r == rerun)
        .count()
}

/// `Err(why)` when, in stage `stage`, a source edit reruns steps of `cost`
/// before `edits`, and after them no more such steps are served from the
/// cache, or more rerun (DF101: the install may be split from the commands
/// after it, or into a download before the copy and an install of the
/// project after it, so steps are counted, not named). A stage where
/// none reruns before has nothing to compare and passes: its
/// `.dockerignore` sends no file only the full copy takes, or the fix adds
/// a download before a compile (`go mod download`).
pub(crate) fn more_cached(
    cx: &Context,
    stage: usize,
    edits: &[Edit],
    cost: Cost,
) -> Result<(), String> {
    let (before, after) = before_and_after(cx, Some(stage), edits)?;
    let (rerun, cached) = (count(&after, cost, true), count(&after, cost, false));
    if count(&before, cost, true) == 0 {
        Ok(())
    } else if cached <= count(&before, cost, false) {
        Err(unproven(&format!(
            "a source edit would leave {} cached, as before",
            counted(cached, cost)
        )))
    } else if rerun > count(&before, cost, true) {
        Err(unproven(&format!(
            "a source edit would rerun {}, more than before",
            counted(rerun, cost)
        )))
    } else {
        Ok(())
    }
}

/// `Err(why)` when a RUN of `moved`, in stage `stage`, that a source edit
/// reruns before `edits` still reruns after them (DF102, DF103: the RUNs
/// move whole).
pub(crate) fn moved_out_of_reruns(
    cx: &Context,
    stage: usize,
    edits: &[Edit],
    moved: &[&Instruction],
) -> Result<(), String> {
    let (before, after) = before_and_after(cx, Some(stage), edits)?;
    // A set, not a scan per RUN: a group of thousands of RUNs moves at once.
    fn reruns(steps: &Steps) -> std::collections::HashSet<&str> {
        steps
            .iter()
            .filter(|(_, _, rerun)| *rerun)
            .map(|(text, _, _)| text.as_str())
            .collect()
    }
    let (rerun_before, rerun_after) = (reruns(&before), reruns(&after));
    let still: Vec<String> = moved
        .iter()
        .map(|run| one_line(run))
        .filter(|t| rerun_before.contains(t.as_str()) && rerun_after.contains(t.as_str()))
        .collect();
    match still.first() {
        None => Ok(()),
        Some(run) => Err(unproven(&format!(
            "a source edit would still rerun `{run}`"
        ))),
    }
}

/// `Err(why)` when, after `edits`, a source edit reruns more steps of some
/// cost (package installs, dependency installs, compiles) in the build of
/// the last stage than before (DF503: a split must not make a source edit
/// dearer).
pub(crate) fn no_dearer_reruns(cx: &Context, edits: &[Edit]) -> Result<(), String> {
    let (before, after) = before_and_after(cx, None, edits)?;
    let dearer = [Cost::PackageInstall, Cost::DependencyInstall, Cost::Compile]
        .into_iter()
        .find(|&cost| count(&after, cost, true) > count(&before, cost, true));
    match dearer {
        None => Ok(()),
        Some(cost) => Err(unproven(&format!(
            "a source edit would rerun {}, not {}",
            counted(count(&after, cost, true), cost),
            count(&before, cost, true)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(source: &str, edits: &[Edit], cost: Cost) -> Result<(), String> {
        let file = crate::syntax::parse(source.as_bytes()).unwrap();
        let cx = Context::new(&file, None, false);
        more_cached(&cx, 0, edits, cost)
    }

    const NPM: &str = "FROM node:20\nWORKDIR /app\nCOPY . .\nRUN npm ci\n";

    #[test]
    fn a_move_that_takes_the_install_out_of_a_source_edit_passes() {
        let copy = NPM.find("COPY . .").unwrap();
        let install = NPM.find("RUN npm ci").unwrap();
        let moved = [
            Edit::insert(copy, "COPY package.json ./\nRUN npm ci\n"),
            Edit::replace(install..NPM.len(), ""),
        ];
        assert_eq!(checked(NPM, &moved, Cost::DependencyInstall), Ok(()));
    }

    #[test]
    fn the_stage_of_the_fix_is_built_and_counted_alone() {
        // The first stage is not one the last needs, and the last keeps an
        // install after its copy: the fix of the first still counts.
        let source = format!("{NPM}FROM node:20\nCOPY . .\nRUN npm ci\n");
        let file = crate::syntax::parse(source.as_bytes()).unwrap();
        let cx = Context::new(&file, None, false);
        let copy = source.find("COPY . .").unwrap();
        let install = source.find("RUN npm ci").unwrap();
        let moved = [
            Edit::insert(copy, "COPY package.json ./\nRUN npm ci\n"),
            Edit::replace(install..NPM.len(), ""),
        ];
        assert_eq!(more_cached(&cx, 0, &moved, Cost::DependencyInstall), Ok(()));
        // Edits of another stage spare the last one nothing.
        assert!(more_cached(&cx, 1, &moved, Cost::DependencyInstall).is_err());
    }

    #[test]
    fn a_move_that_leaves_the_install_after_the_full_copy_is_refused() {
        // Moved to the end, after the copy still.
        let copy = NPM.find("COPY . .").unwrap();
        let install = NPM.find("RUN npm ci").unwrap();
        let last = [
            Edit::replace(install..NPM.len(), ""),
            Edit::insert(copy, "RUN true\n"),
            Edit::insert(NPM.len(), "RUN npm ci\n"),
        ];
        assert!(checked(NPM, &last, Cost::DependencyInstall).is_err());
        // The manifest copy is the whole context: the install still reruns.
        let install = NPM.find("RUN npm ci").unwrap();
        let edits = [
            Edit::insert(copy, "COPY . ./\nRUN npm ci\n"),
            Edit::replace(install..NPM.len(), ""),
        ];
        assert_eq!(
            checked(NPM, &edits, Cost::DependencyInstall),
            Err("the build cache model cannot confirm it: a source edit would leave 0 dependency install steps cached, as before".into())
        );
        assert!(checked(
            NPM,
            &[Edit::insert(0, "RUN <<EOF\n")],
            Cost::DependencyInstall
        )
        .unwrap_err()
        .contains("does not parse"));
        // Nothing reruns before, so nothing is compared.
        assert_eq!(checked(NPM, &edits, Cost::PackageInstall), Ok(()));
    }

    #[test]
    fn a_split_must_not_make_a_source_edit_dearer() {
        let go = "FROM golang:1.22\nWORKDIR /src\nCOPY go.mod .\nRUN go mod download\nCOPY . .\nRUN go build -o /app .\nCMD [\"/app\"]\n";
        let file = crate::syntax::parse(go.as_bytes()).unwrap();
        let cx = Context::new(&file, None, false);
        let end = go.len();
        let split = [Edit::insert(
            end,
            "FROM scratch\nCOPY --from=0 /app /app\nCMD [\"/app\"]\n",
        )];
        assert_eq!(no_dearer_reruns(&cx, &split), Ok(()));
        // A runtime stage that downloads the modules again on every edit.
        let dearer = [Edit::insert(
            end,
            "FROM golang:1.22\nCOPY . .\nRUN go mod download\nCOPY --from=0 /app /app\n",
        )];
        assert_eq!(
            no_dearer_reruns(&cx, &dearer),
            Err("the build cache model cannot confirm it: a source edit would rerun 1 dependency install step, not 0".into())
        );
    }

    #[test]
    fn a_moved_run_must_leave_what_a_source_edit_reruns() {
        let source = "FROM debian\nCOPY . /app\nRUN apt-get install -y curl\nRUN make\n";
        let file = crate::syntax::parse(source.as_bytes()).unwrap();
        let cx = Context::new(&file, None, false);
        let run = file.instructions().nth(2).unwrap();
        let (copy, install) = (
            source.find("COPY").unwrap(),
            source.find("RUN apt").unwrap(),
        );
        let make = source.find("RUN make").unwrap();
        let up = [
            Edit::replace(install..make, ""),
            Edit::insert(copy, "RUN apt-get install -y curl\n"),
        ];
        assert_eq!(moved_out_of_reruns(&cx, 0, &up, &[run]), Ok(()));
        // Moved, but still after the copy.
        let down = [
            Edit::replace(install..make, ""),
            Edit::insert(source.len(), "RUN apt-get install -y curl\n"),
        ];
        assert_eq!(
            moved_out_of_reruns(&cx, 0, &down, &[run]),
            Err("the build cache model cannot confirm it: a source edit would still rerun `RUN apt-get install -y curl`".into())
        );
    }
}
