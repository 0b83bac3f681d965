//! The build cache as BuildKit keys it: the steps a build runs (`[stage
//! k/n]` in its progress), what each step's cache key depends on, and which
//! steps a change to files of the build context reruns.
//!
//! BuildKit keys a step on its definition and its parent step's key, and
//! on the content of what it reads from elsewhere: the context files a
//! COPY, ADD or bind mount selects, the files a `COPY --from` takes from a
//! stage. So a step reruns when the step before it reran, or when the
//! content it reads changed; everything after it in its stage then reruns
//! too. Only the stages the last stage needs are built.
//!
//! A step that takes files from a stage that reran reruns only if those
//! files came out different, which depends on what the rerun commands
//! wrote: a rebuilt binary differs, a CA bundle or a pruned `node_modules`
//! may not. The model cannot run the commands, so it says such a step
//! (and what follows from it) *may* rerun rather than guess.

mod sources;

use crate::dockerignore::{clean, DockerIgnore};
use crate::facts::commands::{instruction_commands, mounts};
use crate::model::{self, Stage};
use crate::scope::Scope;

use crate::syntax::{Dockerfile, Instruction, Word};

pub use sources::{files, paths, selects, ContextFile};

/// A stage of the file as the build sees it.
#[derive(Debug, Clone)]
pub struct StageInfo {
    /// The name BuildKit's progress shows: the `AS` name, `stage-N`, or
    /// nothing when the build has one stage.
    pub label: String,
    /// The image or stage FROM names, as written.
    pub base: String,
    /// The earlier stage it builds on.
    pub builds_on: Option<usize>,
    /// Whether the build (of the last stage, or of the target) needs it.
    pub built: bool,
}

/// A step of the build: FROM an image, RUN, COPY, ADD or WORKDIR.
#[derive(Debug, Clone)]
pub struct Step<'f> {
    pub stage: usize,
    /// `k` of `[stage k/n]`.
    pub number: usize,
    pub instruction: &'f Instruction,
    /// What its cache key depends on besides the step before it.
    pub inputs: Vec<Input>,
    pub cost: Option<Cost>,
}

impl Step<'_> {
    /// The instruction as one line.
    pub fn text(&self) -> String {
        one_line(self.instruction)
    }
}

/// An instruction as one line, its runs of blanks made one space.
pub fn one_line(instruction: &Instruction) -> String {
    let text = crate::syntax::lossy(&instruction.logical.text);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Something a step's cache key depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The base image.
    Image(String),
    /// The command a RUN runs, as written.
    Command(String),
    /// The directory a WORKDIR makes.
    Path(String),
    /// ENV and ARG values a RUN sees (any of them changing reruns it),
    /// with the value when the file says it (an ARG's may be given at
    /// build time).
    Variables(Vec<(String, Option<String>)>),
    /// Files of the build context by source pattern (cleaned; empty
    /// for the whole context), without those `--exclude` leaves out.
    Context {
        sources: Vec<String>,
        excludes: Vec<String>,
    },
    /// Files taken from an earlier stage.
    StageFiles { stage: usize, sources: Vec<String> },
    /// Files taken from an image.
    ImageFiles { image: String, sources: Vec<String> },
    /// A heredoc's text.
    Inline,
    /// A URL or Git repository ADD fetches.
    Remote(String),
    /// Sources dockfix cannot resolve (variables with unknown values).
    Unknown(String),
}

/// Why a rerun is worth noticing, the weightiest first: a package install
/// outweighs a dependency install, which outweighs a compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cost {
    PackageInstall,
    DependencyInstall,
    Compile,
}

impl Cost {
    pub fn name(self) -> &'static str {
        match self {
            Cost::PackageInstall => "package install",
            Cost::DependencyInstall => "dependency install",
            Cost::Compile => "compile",
        }
    }
}

/// What an edit of a source file reruns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceEdit {
    pub steps: usize,
    pub rerun: usize,
    /// Steps that rerun only if the files they take from a rerun stage
    /// came out different.
    pub may_rerun: usize,
    /// The expensive steps among those surely rerun: the instruction, and
    /// why.
    pub expensive: Vec<(String, Cost)>,
}

/// A step a change reruns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rerun {
    pub why: Why,
    /// False when it reruns only if files taken from a stage that reran
    /// came out different (see the module's comment).
    pub certain: bool,
}

/// Why a step reruns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// It reads this changed file of the context.
    Reads(String),
    /// The step before it reruns (its index in `Model::steps`).
    After(usize),
    /// Its stage builds on a stage that changed.
    BuildsOn(usize),
    /// It copies or mounts from a stage that changed.
    TakesFrom(usize),
    /// Its sources are unknown, so any change may be one it reads.
    Unknown,
}

pub struct Model<'f> {
    pub stages: Vec<StageInfo>,
    pub steps: Vec<Step<'f>>,
    totals: Vec<usize>,
}

impl<'f> Model<'f> {
    /// The model of a file BuildKit accepts.
    pub fn of(file: &'f Dockerfile) -> Model<'f> {
        Self::building(file, None, crate::deps::Ecosystems::builtin())
    }

    /// The model of the build of stage `target` (`docker build --target`),
    /// or of the last stage, weighing installs by `ecosystems` (a
    /// configuration's table, or the built-in one).
    pub fn building(
        file: &'f Dockerfile,
        target: Option<usize>,
        ecosystems: &crate::deps::Ecosystems,
    ) -> Model<'f> {
        let stages = model::stages(file);
        let deps: Vec<Vec<usize>> = (0..stages.len()).map(|i| takes_from(&stages, i)).collect();
        let target = target.or(stages.len().checked_sub(1));
        let built = reachable(&stages, &deps, target);
        // BuildKit counts an image taken by `COPY --from` or a mount (any
        // mount: one without `from=` takes scratch) as a stage of its own
        // when it decides whether to name stages.
        let image_sources = stages
            .iter()
            .enumerate()
            .flat_map(|(i, s)| {
                s.body
                    .iter()
                    .flat_map(move |c| froms(c).into_iter().map(move |f| (i, f)))
            })
            .filter(|(i, from)| model::stage_from(&stages, *i, from).is_none())
            .count();
        let single = stages.len() + image_sources == 1;
        let infos = stages
            .iter()
            .enumerate()
            .map(|(i, s)| StageInfo {
                label: match (&s.name, single) {
                    (_, true) => String::new(),
                    (Some(name), _) => name.clone(),
                    (None, _) => format!("stage-{i}"),
                },
                base: s.base.clone(),
                builds_on: s.parent,
                built: built[i],
            })
            .collect();
        let mut steps = Vec::new();
        let mut totals = Vec::new();
        let scopes = crate::scope::Scopes::default();
        for (index, stage) in stages.iter().enumerate() {
            let from_image = stage.parent.is_none() && !stage.base.eq_ignore_ascii_case("scratch");
            let makes_step = |i: &&&Instruction| {
                matches!(i.command.name.as_str(), "run" | "copy" | "add" | "workdir")
            };
            totals.push(usize::from(from_image) + stage.body.iter().filter(makes_step).count());
            if !built[index] {
                continue;
            }
            let mut number = 0;
            if from_image {
                number += 1;
                steps.push(Step {
                    stage: index,
                    number,
                    instruction: stage.from,
                    inputs: vec![Input::Image(stage.base.clone())],
                    cost: None,
                });
            }
            for &instruction in stage.body.iter().filter(makes_step) {
                let scope = scopes.at(&stages, index, instruction.span().start);
                // BuildKit makes no step of a WORKDIR that leaves the
                // directory `/`, though it counts one.
                if instruction.command.name == "workdir"
                    && scopes
                        .at(&stages, index, instruction.span().end)
                        .workdir
                        .as_deref()
                        == Some("/")
                {
                    continue;
                }
                number += 1;
                steps.push(Step {
                    stage: index,
                    number,
                    instruction,
                    inputs: inputs(&stages, index, instruction, &scope),
                    cost: cost(file, instruction, index, ecosystems),
                });
            }
        }
        Model {
            stages: infos,
            steps,
            totals,
        }
    }

    /// `[stage k/n]`, as BuildKit's progress names the step.
    pub fn label(&self, step: &Step) -> String {
        let total = self.totals[step.stage];
        let stage = &self.stages[step.stage].label;
        let width = total.to_string().len();
        let number = format!("{:>width$}/{total}", step.number);
        if stage.is_empty() {
            format!("[{number}]")
        } else {
            format!("[{stage} {number}]")
        }
    }

    /// Why each step reruns when the context files `changed` (relative to
    /// the context root) change; `None` for a step served from the cache.
    /// Files `.dockerignore` leaves out change nothing.
    pub fn reruns(&self, changed: &[String], ignore: &DockerIgnore) -> Vec<Option<Rerun>> {
        let seen: Vec<String> = changed
            .iter()
            .map(|c| clean(c))
            .filter(|c| !ignore.excludes(c))
            .collect();
        let mut reruns: Vec<Option<Rerun>> = vec![None; self.steps.len()];
        // Whether a step of each stage reruns: `Some(true)` if one surely does.
        let mut stage_changed: Vec<Option<bool>> = vec![None; self.stages.len()];
        for (at, step) in self.steps.iter().enumerate() {
            let previous = at
                .checked_sub(1)
                .filter(|&p| self.steps[p].stage == step.stage);
            let inherited = match previous {
                Some(p) => reruns[p].as_ref().map(|r| Rerun {
                    why: Why::After(p),
                    certain: r.certain,
                }),
                None => self.stages[step.stage].builds_on.and_then(|parent| {
                    stage_changed[parent].map(|certain| Rerun {
                        why: Why::BuildsOn(parent),
                        certain,
                    })
                }),
            };
            reruns[at] = match inherited {
                Some(rerun) if rerun.certain => Some(rerun),
                inherited => match self.reads_change(step, &seen, &stage_changed) {
                    Some(own) if own.certain => Some(own),
                    own => inherited.or(own),
                },
            };
            if let Some(rerun) = &reruns[at] {
                let changed = &mut stage_changed[step.stage];
                *changed = Some(changed.unwrap_or(false) || rerun.certain);
            }
        }
        reruns
    }

    /// Why `step` reruns because of what it reads, a certain reason before
    /// one that depends on what a rerun stage wrote.
    fn reads_change(
        &self,
        step: &Step,
        seen: &[String],
        stage_changed: &[Option<bool>],
    ) -> Option<Rerun> {
        let mut found = step.inputs.iter().filter_map(|input| match input {
            Input::Context { sources, excludes } => {
                let excludes = DockerIgnore::parse(&excludes.join("\n"));
                seen.iter()
                    .find(|path| {
                        !excludes.excludes(path) && sources.iter().any(|s| selects(s, path))
                    })
                    .map(|path| Rerun {
                        why: Why::Reads(path.clone()),
                        certain: true,
                    })
            }
            // BuildKit keys these on the content of the files taken.
            Input::StageFiles { stage, .. } => stage_changed[*stage].map(|_| Rerun {
                why: Why::TakesFrom(*stage),
                certain: false,
            }),
            Input::Unknown(_) => (!seen.is_empty()).then_some(Rerun {
                why: Why::Unknown,
                certain: true,
            }),
            _ => None,
        });
        let first = found.next()?;
        if first.certain {
            return Some(first);
        }
        Some(found.find(|r| r.certain).unwrap_or(first))
    }

    /// The first step an edit of any file the context sends reruns: a
    /// step that reads the whole context.
    pub fn any_edit_reruns_from(&self, ignore: &DockerIgnore) -> Option<usize> {
        self.source_edit_reruns(ignore)
            .iter()
            .position(Option::is_some)
    }

    /// What an edit of a source file reruns: a file no specific source
    /// names, which only a copy of the whole context (`.`, `*`) takes.
    pub fn source_edit_reruns(&self, ignore: &DockerIgnore) -> Vec<Option<Rerun>> {
        self.reruns(&["\u{1}".to_string()], ignore)
    }

    /// How many steps a source edit reruns, of how many, and the
    /// expensive ones among them.
    pub fn source_edit(&self, ignore: &DockerIgnore) -> SourceEdit {
        let reruns = self.source_edit_reruns(ignore);
        let surely: Vec<&Step> = self
            .steps
            .iter()
            .zip(&reruns)
            .filter_map(|(step, r)| r.as_ref().filter(|r| r.certain).map(|_| step))
            .collect();
        SourceEdit {
            steps: self.steps.len(),
            rerun: surely.len(),
            may_rerun: reruns.iter().flatten().filter(|r| !r.certain).count(),
            expensive: surely
                .iter()
                .filter_map(|step| step.cost.map(|cost| (step.text(), cost)))
                .collect(),
        }
    }
}

/// The `--from` of a COPY, as written.
fn from_flag(instruction: &Instruction) -> Option<String> {
    let command = &instruction.command;
    (command.name == "copy")
        .then(|| command.flags.iter().find(|f| f.name() == "from"))
        .flatten()
        .and_then(|f| f.value())
        .map(str::to_string)
}

/// What an instruction takes files from, as written: a COPY's `--from`, a
/// RUN's mounts' `from=`. BuildKit takes a mount without one (a cache, a
/// secret, the context) from `scratch`.
fn froms(instruction: &Instruction) -> Vec<String> {
    let mut found: Vec<String> = from_flag(instruction).into_iter().collect();
    if instruction.command.name == "run" {
        found.extend(
            mounts(instruction)
                .into_iter()
                .map(|m| m.from.unwrap_or_else(|| "scratch".into())),
        );
    }
    found
}

/// The earlier stages stage `index` takes files from.
fn takes_from(stages: &[Stage], index: usize) -> Vec<usize> {
    stages[index]
        .body
        .iter()
        .flat_map(|i| froms(i))
        .filter_map(|from| model::stage_from(stages, index, &from))
        .collect()
}

/// Which stages building `target` needs.
fn reachable(stages: &[Stage], deps: &[Vec<usize>], target: Option<usize>) -> Vec<bool> {
    let mut built = vec![false; stages.len()];
    let mut pending: Vec<usize> = target.into_iter().collect();
    while let Some(i) = pending.pop() {
        if std::mem::replace(&mut built[i], true) {
            continue;
        }
        pending.extend(stages[i].parent);
        pending.extend(&deps[i]);
    }
    built
}

/// What the key of a RUN, COPY, ADD or WORKDIR depends on.
fn inputs(stages: &[Stage], index: usize, instruction: &Instruction, scope: &Scope) -> Vec<Input> {
    let command = &instruction.command;
    match command.name.as_str() {
        "workdir" => {
            let path = command.values.first().map(Word::as_str).unwrap_or_default();
            vec![Input::Path(
                scope
                    .expand(path)
                    .and_then(|p| crate::scope::absolute(&p, scope.workdir.as_deref()))
                    .unwrap_or_else(|| path.to_string()),
            )]
        }
        "run" => {
            let text = crate::syntax::lossy(instruction.text(command.args.clone())).into_owned();
            let mut found = vec![Input::Command(text)];
            let variables: Vec<(String, Option<String>)> = scope
                .variables()
                .map(|(name, value)| (name.to_string(), value.map(str::to_string)))
                .collect();
            if !variables.is_empty() {
                found.push(Input::Variables(variables));
            }
            if !instruction.heredocs.is_empty() {
                found.push(Input::Inline);
            }
            for mount in mounts(instruction) {
                if mount.kind != "bind" {
                    continue;
                }
                let source = mount.source.as_deref().unwrap_or(".");
                let sources = resolve(scope, &[source.to_string()]);
                found.push(match (&mount.from, sources) {
                    (None, Ok(sources)) => Input::Context {
                        sources,
                        excludes: Vec::new(),
                    },
                    (Some(from), Ok(sources)) => match model::stage_from(stages, index, from) {
                        Some(stage) => Input::StageFiles { stage, sources },
                        None => Input::ImageFiles {
                            image: from.clone(),
                            sources,
                        },
                    },
                    (_, Err(word)) => Input::Unknown(word),
                });
            }
            found
        }
        _ => copy_inputs(stages, index, instruction, scope),
    }
}

/// A RUN, COPY or ADD of any stage that reads the build context: a COPY or
/// ADD without `--from`, a RUN's bind mount without `from=`.
pub struct ContextRead<'f> {
    pub stage: usize,
    pub instruction: &'f Instruction,
    /// The source patterns, cleaned (empty for the whole context), and
    /// what `--exclude` leaves out; or the first word dockfix cannot read.
    pub sources: Result<(Vec<String>, Vec<String>), String>,
}

/// Every read of the build context in the file, whichever stage a build
/// targets (`.dockerignore` serves them all), in file order.
pub fn context_reads<'f>(stages: &[Stage<'f>]) -> Vec<ContextRead<'f>> {
    let scopes = crate::scope::Scopes::default();
    let mut found = Vec::new();
    for (index, stage) in stages.iter().enumerate() {
        for &instruction in &stage.body {
            if !matches!(instruction.command.name.as_str(), "run" | "copy" | "add") {
                continue;
            }
            let scope = scopes.at(stages, index, instruction.span().start);
            for input in inputs(stages, index, instruction, &scope) {
                let sources = match input {
                    Input::Context { sources, excludes } => Ok((sources, excludes)),
                    Input::Unknown(word) => Err(word),
                    _ => continue,
                };
                found.push(ContextRead {
                    stage: index,
                    instruction,
                    sources,
                });
            }
        }
    }
    found
}

/// A COPY's or ADD's sources, by where they come from.
fn copy_inputs(
    stages: &[Stage],
    index: usize,
    instruction: &Instruction,
    scope: &Scope,
) -> Vec<Input> {
    let command = &instruction.command;
    let mut found = Vec::new();
    if !instruction.heredocs.is_empty() {
        found.push(Input::Inline);
    }
    let written: Vec<String> = match command.values.split_last() {
        Some((_, sources)) => sources
            .iter()
            // A heredoc's opener (`<<EOF`, `2<<-EOF`) is inline text.
            .filter(|s| {
                instruction.heredocs.is_empty()
                    || !s
                        .trim_start_matches(|c: char| c.is_ascii_digit())
                        .starts_with("<<")
            })
            .map(String::from)
            .collect(),
        None => Vec::new(),
    };
    let (remote, local): (Vec<String>, Vec<String>) = written
        .into_iter()
        .partition(|s| command.name == "add" && is_remote(s));
    found.extend(remote.into_iter().map(Input::Remote));
    if local.is_empty() {
        return found;
    }
    let excludes: Vec<String> = command
        .flags
        .iter()
        .filter(|f| f.name() == "exclude")
        .filter_map(|f| f.value().map(str::to_string))
        .collect();
    let sources = match resolve(scope, &local) {
        Ok(sources) => sources,
        Err(word) => {
            found.push(Input::Unknown(word));
            return found;
        }
    };
    found.push(match from_flag(instruction) {
        None => Input::Context { sources, excludes },
        Some(from) => match model::stage_from(stages, index, &from) {
            Some(stage) => Input::StageFiles { stage, sources },
            None => Input::ImageFiles {
                image: from,
                sources,
            },
        },
    });
    found
}

/// The sources with their variables expanded and cleaned; the first
/// word whose value dockfix cannot know, when one is.
fn resolve(scope: &Scope, words: &[String]) -> Result<Vec<String>, String> {
    words
        .iter()
        .map(|w| scope.expand(w).map(|s| clean(&s)).ok_or_else(|| w.clone()))
        .collect()
}

/// An ADD source BuildKit fetches: a URL or a Git repository.
fn is_remote(source: &str) -> bool {
    ["http://", "https://", "git@", "git://", "ssh://"]
        .iter()
        .any(|p| source.starts_with(p))
}

/// What makes a RUN expensive to rerun.
fn cost(
    file: &Dockerfile,
    instruction: &Instruction,
    stage: usize,
    ecosystems: &crate::deps::Ecosystems,
) -> Option<Cost> {
    if instruction.command.name != "run" {
        return None;
    }
    let ecosystem_cost = |dep: Option<crate::deps::DepCommand>| {
        dep.filter(|d| !d.runs_script()).map(|d| match d.role {
            crate::deps::Role::Install => Cost::DependencyInstall,
            crate::deps::Role::Build => Cost::Compile,
        })
    };
    if instruction.command.json {
        return ecosystem_cost(ecosystems.recognise(&instruction.command.values));
    }
    instruction_commands(file, instruction, stage)
        .iter()
        .filter_map(|command| {
            if crate::facts::package_install::install(command).is_some() {
                return Some(Cost::PackageInstall);
            }
            let words = command.literal_words()?;
            ecosystem_cost(ecosystems.recognise(&words))
        })
        .min()
}

#[cfg(test)]
mod tests;
