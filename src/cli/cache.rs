//! `dockfix cache`: each build step, what its cache key depends on, and
//! which steps a change to files of the build context reruns.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde_json::{json, Value};

use super::report;
use super::subcommands::read_input;
use crate::cache::{files, ContextFile, Input, Model, Rerun, Why};
use crate::dockerignore::{slashed, DockerIgnore};
use crate::syntax::{self, Dockerfile};

#[derive(Args)]
pub(super) struct CacheArgs {
    /// The Dockerfile; `-` reads standard input.
    file: PathBuf,
    /// The build context (default: the Dockerfile's directory); its
    /// `.dockerignore` applies, and the files each COPY takes are listed
    /// with their checksums.
    #[arg(long, value_name = "DIR")]
    context: Option<PathBuf>,
    /// A file of the build context that changed (repeat for several):
    /// which steps rerun, and why.
    #[arg(long, value_name = "PATH")]
    changed: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = CacheFormat::Text)]
    format: CacheFormat,
}

#[derive(Clone, Copy, ValueEnum)]
pub(super) enum CacheFormat {
    Text,
    /// A document following `schemas/cache-v1.schema.json`.
    Json,
    /// A table for a pull request or a wiki page.
    Markdown,
}

/// What the run read, beside the model.
struct Run<'f> {
    name: String,
    model: Model<'f>,
    /// The context's files each step reads, when the context is on disk.
    files: Vec<Option<Vec<ContextFile>>>,
    changed: Option<Vec<String>>,
    reruns: Vec<Option<Rerun>>,
    any_edit_from: Option<usize>,
}

pub(super) fn cache(args: CacheArgs) -> u8 {
    let shown = report::quoted_path(&args.file);
    let source = match read_input(&args.file) {
        Ok(source) => source,
        Err(e) => {
            say!("{shown}: {e}");
            return 2;
        }
    };
    let file = match syntax::parse(&source) {
        Ok(file) => file,
        Err(e) => {
            say!("{shown}:{}:{}: {}", e.line, e.column, e.message);
            return 2;
        }
    };
    let stdin = args.file.as_os_str() == "-";
    let context = args.context.clone().or_else(|| {
        (!stdin).then(|| {
            let dir = args.file.parent().unwrap_or(Path::new(""));
            if dir.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                dir.to_path_buf()
            }
        })
    });
    if let Some(dir) = context.as_deref().filter(|d| !d.is_dir()) {
        say!(
            "dockfix cache: --context {}: not a directory",
            dir.display()
        );
        return 2;
    }
    let changed = match changed_in_context(&args.changed, context.as_deref()) {
        Ok(changed) => changed,
        Err(message) => {
            say!("dockfix cache: {message}");
            return 2;
        }
    };
    let ignore = context
        .as_deref()
        .map(DockerIgnore::load)
        .unwrap_or_default();
    let run = match read(&file, shown.clone(), context.as_deref(), &ignore, changed) {
        Ok(run) => run,
        Err(e) => {
            say!("dockfix cache: reading the build context: {e}");
            return 2;
        }
    };
    let text = match args.format {
        CacheFormat::Text => text(&run),
        CacheFormat::Json => {
            let document = json(&run, context.as_deref());
            serde_json::to_string_pretty(&document).expect("serializable") + "\n"
        }
        CacheFormat::Markdown => markdown(&run),
    };
    super::subcommands::print_bytes(text.as_bytes())
}

/// `--changed` paths relative to the context root: a path is taken
/// relative to the working directory and must lie in the context.
fn changed_in_context(
    changed: &[PathBuf],
    context: Option<&Path>,
) -> Result<Option<Vec<String>>, String> {
    if changed.is_empty() {
        return Ok(None);
    }
    let absolute = |p: &Path| std::path::absolute(p).map_err(|e| format!("{}: {e}", p.display()));
    let root = match context {
        Some(dir) => absolute(dir)?,
        None => return Ok(Some(changed.iter().map(|p| slashed(p)).collect())),
    };
    changed
        .iter()
        .map(|path| {
            let full = absolute(path)?;
            let inside = normalized(&full);
            inside
                .strip_prefix(normalized(&root))
                .map(slashed)
                .map_err(|_| format!("--changed {}: not in the build context", path.display()))
        })
        .collect::<Result<_, _>>()
        .map(Some)
}

/// A path without `.` and `..` components, lexically.
fn normalized(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            part => out.push(part),
        }
    }
    out
}

fn read<'f>(
    file: &'f Dockerfile,
    name: String,
    context: Option<&Path>,
    ignore: &DockerIgnore,
    changed: Option<Vec<String>>,
) -> std::io::Result<Run<'f>> {
    let model = Model::of(file);
    let files = model
        .steps
        .iter()
        .map(|step| {
            let Some(dir) = context else {
                return Ok(None);
            };
            let mut taken: Vec<ContextFile> = Vec::new();
            for input in &step.inputs {
                if let Input::Context { sources, excludes } = input {
                    let excludes = DockerIgnore::parse(&excludes.join("\n"));
                    taken.extend(files(dir, ignore, sources, &excludes)?);
                }
            }
            Ok(Some(taken))
        })
        .collect::<std::io::Result<_>>()?;
    let reruns = model.reruns(changed.as_deref().unwrap_or_default(), ignore);
    let any_edit_from = model.any_edit_reruns_from(ignore);
    Ok(Run {
        name,
        model,
        files,
        changed,
        reruns,
        any_edit_from,
    })
}

fn shorten(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let kept: String = text.chars().take(width - 1).collect();
    format!("{kept}…")
}

/// One line per input, as the text and Markdown outputs show it.
/// `stage build`, or `stage 0` in a build whose stages have no names.
fn stage(run: &Run, i: usize) -> String {
    match run.model.stages[i].label.as_str() {
        "" => format!("stage {i}"),
        name => format!("stage {name}"),
    }
}

fn describe(run: &Run, input: &Input, files: Option<&[ContextFile]>) -> String {
    let list = |sources: &[String]| {
        sources
            .iter()
            .map(|s| if s.is_empty() { "." } else { s.as_str() })
            .collect::<Vec<_>>()
            .join(" ")
    };
    match input {
        Input::Image(image) => format!("image {image}"),
        Input::Command(text) => format!("command `{}`", shorten(text, 60)),
        Input::Path(path) => format!("directory {path}"),
        Input::Variables(variables) => {
            let shown: Vec<String> = variables
                .iter()
                .map(|(name, value)| match value {
                    Some(value) => format!("{name}={}", shorten(value, 30)),
                    None => name.clone(),
                })
                .collect();
            format!("variables {}", shown.join(" "))
        }
        Input::Context { sources, excludes } => {
            let mut line = format!("context {}", list(sources));
            if !excludes.is_empty() {
                line += &format!(" except {}", excludes.join(" "));
            }
            if let Some(files) = files {
                let bytes: u64 = files.iter().map(|f| f.size).sum();
                let plural = if files.len() == 1 { "" } else { "s" };
                line += &format!(" ({} file{plural}, {bytes} bytes)", files.len());
            }
            line
        }
        Input::StageFiles {
            stage: from,
            sources,
        } => {
            format!("files of {}: {}", stage(run, *from), list(sources))
        }
        Input::ImageFiles { image, sources } => {
            format!("files of image {image}: {}", list(sources))
        }
        Input::Inline => "inline text (heredoc)".to_string(),
        Input::Remote(url) => format!("remote {url}"),
        Input::Unknown(word) => format!("unknown sources: `{word}` has no value dockfix knows"),
    }
}

fn reason(run: &Run, why: &Why) -> String {
    let label = |i: usize| run.model.label(&run.model.steps[i]);
    match why {
        Why::Reads(path) => format!("reads {path}"),
        Why::After(step) => format!("after {}", label(*step)),
        Why::BuildsOn(from) => format!("builds on {}, which changed", stage(run, *from)),
        Why::TakesFrom(from) => format!("takes files from {}, which changed", stage(run, *from)),
        Why::Unknown => "its sources are unknown".to_string(),
    }
}

fn text(run: &Run) -> String {
    let model = &run.model;
    let stages = model.stages.len();
    let mut out = format!(
        "{}: {} steps in {stages} stage{}\n",
        run.name,
        model.steps.len(),
        if stages == 1 { "" } else { "s" }
    );
    for (i, _) in model.stages.iter().enumerate().filter(|(_, s)| !s.built) {
        out += &format!(
            "{} is not built: the last stage does not need it\n",
            stage(run, i)
        );
    }
    for (at, step) in model.steps.iter().enumerate() {
        let line = step.instruction.start_line;
        out += &format!(
            "{} {}  (line {line}{})\n",
            model.label(step),
            shorten(&step.text(), 70),
            step.cost
                .map_or(String::new(), |c| format!(", {}", c.name()))
        );
        for input in &step.inputs {
            out += &format!("    {}\n", describe(run, input, run.files[at].as_deref()));
        }
        match &run.reruns[at] {
            Some(rerun) if rerun.certain => {
                out += &format!("    RERUNS: {}\n", reason(run, &rerun.why));
            }
            Some(rerun) => {
                out += &format!(
                    "    MAY RERUN: {} (if the files taken came out different)\n",
                    reason(run, &rerun.why)
                );
            }
            None => {}
        }
    }
    if let Some(at) = run.any_edit_from {
        let step = &model.steps[at];
        out += &format!(
            "An edit of any file the context sends reruns {} (line {}) and the steps that follow from it.\n",
            model.label(step),
            step.instruction.start_line
        );
    }
    if let Some(changed) = &run.changed {
        let rerun = |certain: bool| -> Vec<&crate::cache::Step> {
            model
                .steps
                .iter()
                .zip(&run.reruns)
                .filter_map(|(s, r)| r.as_ref().filter(|r| r.certain == certain).map(|_| s))
                .collect()
        };
        let (surely, maybe) = (rerun(true), rerun(false));
        let costly: Vec<String> = surely
            .iter()
            .filter_map(|s| s.cost.map(|c| format!("{} ({})", model.label(s), c.name())))
            .collect();
        out += &format!(
            "Changing {} reruns {} of {} steps{}{}.\n",
            changed.join(", "),
            surely.len(),
            model.steps.len(),
            if costly.is_empty() {
                String::new()
            } else {
                format!(", among them {}", costly.join(", "))
            },
            match maybe.len() {
                0 => String::new(),
                n => format!(
                    "; {n} more rerun only if the files they take from a stage that reran came out different"
                ),
            }
        );
    }
    out
}

fn markdown(run: &Run) -> String {
    let model = &run.model;
    let cell = |text: &str| text.replace('|', "\\|").replace('\n', " ");
    let mut out = format!("#### Build steps of `{}`\n\n", run.name);
    let changed = run.changed.is_some();
    out += "| Step | Instruction | Depends on |";
    out += if changed {
        " Reruns |\n|---|---|---|---|\n"
    } else {
        "\n|---|---|---|\n"
    };
    for (at, step) in model.steps.iter().enumerate() {
        let inputs: Vec<String> = step
            .inputs
            .iter()
            .map(|i| cell(&describe(run, i, run.files[at].as_deref())))
            .collect();
        out += &format!(
            "| `{}` | `{}`{} | {} |",
            model.label(step),
            cell(&shorten(&step.text(), 70)),
            step.cost
                .map_or(String::new(), |c| format!(" ({})", c.name())),
            inputs.join("<br>")
        );
        if changed {
            let rerun = match &run.reruns[at] {
                None => "cached".to_string(),
                Some(r) if r.certain => format!("**yes**: {}", cell(&reason(run, &r.why))),
                Some(r) => format!(
                    "**maybe**: {}, if the files taken came out different",
                    cell(&reason(run, &r.why))
                ),
            };
            out += &format!(" {rerun} |");
        }
        out += "\n";
    }
    if let Some(at) = run.any_edit_from {
        out += &format!(
            "\nAn edit of any file the build context sends reruns `{}` and the steps that follow from it.\n",
            model.label(&model.steps[at])
        );
    }
    out
}

fn json(run: &Run, context: Option<&Path>) -> Value {
    let model = &run.model;
    let stages: Vec<Value> = model
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({
                "index": i,
                "name": (!s.label.is_empty()).then_some(&s.label),
                "base": s.base,
                "builds_on": s.builds_on,
                "built": s.built,
            })
        })
        .collect();
    let steps: Vec<Value> = model
        .steps
        .iter()
        .enumerate()
        .map(|(at, step)| {
            let mut value = json!({
                "label": model.label(step),
                "stage": step.stage,
                "number": step.number,
                "line": step.instruction.start_line,
                "instruction": step.text(),
                "inputs": step.inputs.iter().map(|i| input_json(i, run.files[at].as_deref())).collect::<Vec<_>>(),
                "cost": step.cost.map(|c| c.name().replace(' ', "-")),
            });
            if run.changed.is_some() {
                value["rerun"] = json!(run.reruns[at].as_ref().map(|r| {
                    let mut why = why_json(run, &r.why);
                    why["certain"] = json!(r.certain);
                    why
                }));
            }
            value
        })
        .collect();
    let mut document = json!({
        "version": 1,
        "file": run.name,
        "context": context.map(|c| c.to_string_lossy().into_owned()),
        "stages": stages,
        "steps": steps,
        "any_edit_reruns_from": run.any_edit_from.map(|at| model.label(&model.steps[at])),
    });
    if let Some(changed) = &run.changed {
        document["changed"] = json!(changed);
        let labels = |keep: fn(&Rerun) -> bool| {
            model
                .steps
                .iter()
                .zip(&run.reruns)
                .filter(|(_, r)| r.as_ref().is_some_and(keep))
                .map(|(s, _)| model.label(s))
                .collect::<Vec<_>>()
        };
        document["reruns"] = json!(labels(|_| true));
        document["may_rerun"] = json!(labels(|r| !r.certain));
    }
    document
}

fn input_json(input: &Input, files: Option<&[ContextFile]>) -> Value {
    match input {
        Input::Image(image) => json!({"kind": "image", "image": image}),
        Input::Command(text) => json!({"kind": "command", "text": text}),
        Input::Path(path) => json!({"kind": "directory", "path": path}),
        Input::Variables(variables) => json!({
            "kind": "variables",
            "variables": variables
                .iter()
                .map(|(name, value)| json!({"name": name, "value": value}))
                .collect::<Vec<_>>(),
        }),
        Input::Context { sources, excludes } => {
            let mut value = json!({"kind": "context", "sources": sources, "excludes": excludes});
            if let Some(files) = files {
                value["files"] = json!(files
                    .iter()
                    .map(|f| json!({"path": f.path, "size": f.size, "sha256": f.sha256}))
                    .collect::<Vec<_>>());
            }
            value
        }
        Input::StageFiles { stage, sources } => {
            json!({"kind": "stage-files", "stage": stage, "sources": sources})
        }
        Input::ImageFiles { image, sources } => {
            json!({"kind": "image-files", "image": image, "sources": sources})
        }
        Input::Inline => json!({"kind": "inline"}),
        Input::Remote(url) => json!({"kind": "remote", "url": url}),
        Input::Unknown(word) => json!({"kind": "unknown", "word": word}),
    }
}

fn why_json(run: &Run, why: &Why) -> Value {
    let label = |i: usize| run.model.label(&run.model.steps[i]);
    match why {
        Why::Reads(path) => json!({"reason": "reads", "path": path}),
        Why::After(step) => json!({"reason": "after", "step": label(*step)}),
        Why::BuildsOn(stage) => json!({"reason": "builds-on", "stage": stage}),
        Why::TakesFrom(stage) => json!({"reason": "takes-from", "stage": stage}),
        Why::Unknown => json!({"reason": "unknown-sources"}),
    }
}
