//! One file of a run: read, lint or fix, report, write; a panic or an
//! unwritable file is that file's error, and the next file still runs.

use std::cell::RefCell;
use std::io::Write;
use std::path::Path;

use super::args::{fix_options, Format, Mode, RunArgs};
use super::discover::Input;
use super::pinning::Pinning;
use super::report::{self, plural, ErrorReport, FileReport, Output};
use super::settings::FileSettings;
use super::subcommands::read_input;
use super::{diff, github, markdown, sarif, write};
use crate::engine::{self, FixError, Settings};
use crate::rules::Applicability;
use crate::syntax;

pub(super) struct Job<'a> {
    pub(super) args: &'a RunArgs,
    pub(super) mode: Mode,
    pub(super) color: bool,
    pub(super) pinning: Option<Pinning>,
    /// With `dockfix pr --measure`: the engine's version, or why none
    /// answered.
    pub(super) measure: Option<Result<String, String>>,
}

impl Job<'_> {
    pub(super) fn text(&self) -> bool {
        self.args.format == Format::Text
    }

    /// The name a file is reported under.
    pub(super) fn name(&self, input: &Input) -> String {
        match input {
            Input::Stdin => self
                .args
                .stdin_filename
                .clone()
                .unwrap_or_else(|| "-".into()),
            Input::File(path) => path.display().to_string(),
        }
    }

    /// Reports on one file into `out`. The rewrite it settles on is left in
    /// `kept`, where it replaces (and drops) the previous file's.
    pub(super) fn process(
        &self,
        input: &Input,
        file_settings: &FileSettings,
        out: &mut Output,
        stdout: &mut dyn Write,
        kept: &mut Option<engine::Fixed>,
    ) {
        let name = self.name(input);
        let (context, read) = match input {
            Input::Stdin => (self.args.fix.context.clone(), read_input("-".as_ref())),
            Input::File(path) => {
                let dir = path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(".".as_ref());
                let context = self
                    .args
                    .fix
                    .context
                    .clone()
                    .or_else(|| Some(dir.to_path_buf()));
                (context, crate::context::read_regular(path))
            }
        };
        let error = |message: String, at: Option<(usize, usize)>| ErrorReport {
            file: name.clone(),
            line: at.map(|a| a.0),
            column: at.map(|a| a.1),
            message,
        };
        let source = match read {
            Ok(source) => source,
            Err(e) => return out.errors.push(error(format!("cannot read: {e}"), None)),
        };
        let original = match syntax::parse_owned(source) {
            Ok(file) => file,
            Err(e) => return out.errors.push(error(e.message, Some((e.line, e.column)))),
        };
        // A suppression dockfix cannot read may be meant to silence a fix:
        // the file is left alone, as one that does not parse, and no registry
        // is asked about it.
        let unreadable = crate::suppress::read(&original).1;
        if !unreadable.is_empty() {
            for (at, why) in unreadable {
                out.errors.push(error(why, Some(original.line_col(at))));
            }
            return;
        }
        let pins = match (&self.pinning, file_settings.pin) {
            (Some(pinning), Some(mode)) => {
                // Asked for and not done: an error, whatever the mode.
                for (at, why) in pinning.resolve(&original, mode, file_settings.pin_args) {
                    out.errors.push(error(why, Some(original.line_col(at))));
                }
                pinning.pins(mode, file_settings.pin_args)
            }
            _ => None,
        };
        let dockerfile = match input {
            Input::File(path) => Some(path.as_path()),
            Input::Stdin => None,
        };
        let settings = Settings {
            rules: file_settings.rules.clone(),
            unsafe_fixes: file_settings.unsafe_fixes,
            build_context: context.as_deref(),
            // Standard input has no place on disk for companion files.
            companions: matches!(input, Input::File(_)),
            dockerfile,
            pins: pins.as_deref(),
            ecosystems: file_settings.ecosystems(),
            runtime_images: &file_settings.runtime_images,
        };
        let (findings, suppressed) = engine::lint_all(&original, &settings);
        if self.args.show_suppressed {
            // Silenced findings are never fixed, whatever their fix.
            out.suppressed.extend(suppressed.iter().map(|f| {
                let mut report = report::finding(&name, &original, f, &settings);
                if let Some(fix) = &mut report.fix {
                    fix.applies = false;
                }
                report
            }));
        }
        let reports: Vec<_> = findings
            .iter()
            .map(|f| report::finding(&name, &original, f, &settings))
            .collect();
        if self.mode == Mode::Lint {
            let fixes = findings.iter().filter(|f| settings.applies(f)).count();
            out.remaining += findings.len();
            out.files.push(FileReport {
                path: name,
                fixes,
                ..Default::default()
            });
            out.findings.extend(reports);
            return;
        }
        // A pull-request body says what a source edit reruns before and
        // after the rewrite.
        let describes_rebuilds = self.mode == Mode::Pr || self.args.format == Format::Markdown;
        let ignore = match (&context, describes_rebuilds) {
            (Some(dir), true) => crate::dockerignore::DockerIgnore::load(dir),
            _ => Default::default(),
        };
        let source_edit = |file: &crate::syntax::Dockerfile| {
            let ecosystems = crate::deps::Ecosystems::or_builtin(settings.ecosystems);
            crate::cache::Model::building(file, None, ecosystems).source_edit(&ignore)
        };
        let source_edit_before = describes_rebuilds.then(|| source_edit(&original));
        let fixed = match engine::fix_parsed(original, findings, &settings) {
            Ok(fixed) => fixed,
            Err(FixError::Parse(e)) => {
                return out.errors.push(error(e.message, Some((e.line, e.column))))
            }
            Err(FixError::Internal(why)) => {
                return out.errors.push(error(
                    format!("internal error, file left untouched: {why}"),
                    None,
                ))
            }
        };
        let source: &[u8] = fixed.original.as_deref().unwrap_or(&fixed.file.source);
        let rewritten = fixed.file.source != source;
        let changed = rewritten || !fixed.companions.is_empty();
        let shown = |c: &engine::Companion| report::shown(&c.path);
        let mut file = FileReport {
            path: name.clone(),
            // A fix may change only a companion file (`.dockerignore`),
            // which has its own entry.
            changed: rewritten,
            fixes: fixed.applied.len(),
            applied: fixed.applied.clone(),
            left: fixed
                .remaining
                .iter()
                .map(|f| report::finding(&name, &fixed.file, f, &settings))
                .collect(),
            source_edit: source_edit_before.filter(|_| rewritten).map(|before| {
                let after = source_edit(&fixed.file);
                (before, after)
            }),
            ..Default::default()
        };
        match self.mode {
            Mode::Diff if changed => {
                let color = self.color && self.text();
                let mut text = String::new();
                if rewritten {
                    text = diff::unified(source, &fixed.file.source, &name, color);
                }
                for companion in &fixed.companions {
                    text += &match &companion.before {
                        Some(before) => {
                            diff::unified(before, &companion.after, &shown(companion), color)
                        }
                        None => diff::created(&companion.after, &shown(companion), color),
                    };
                }
                if self.text() {
                    let _ = stdout.write_all(text.as_bytes());
                } else {
                    file.diff = Some(text);
                }
            }
            Mode::Check if changed && self.text() => {
                if rewritten {
                    let _ = writeln!(stdout, "{}", report::quoted(&name));
                }
                for companion in &fixed.companions {
                    let _ = writeln!(stdout, "{}", report::quoted(&shown(companion)));
                }
            }
            Mode::Pr => {
                if let Input::File(path) = input {
                    if let (Some(engine), true) = (&self.measure, rewritten) {
                        file.measured = Some(engine.clone().and_then(|engine| {
                            let dir = context.as_deref().unwrap_or(".".as_ref());
                            measured(&engine, dir, path, source, &fixed)
                        }));
                    }
                    if rewritten {
                        out.changes.push(engine::Companion {
                            path: path.clone(),
                            before: Some(source.to_vec()),
                            after: fixed.file.source.clone(),
                        });
                    }
                    // Dockerfiles sharing a .dockerignore each add theirs.
                    for companion in &fixed.companions {
                        match out.changes.iter_mut().find(|c| c.path == companion.path) {
                            Some(earlier) => earlier.absorb(companion),
                            None => out.changes.push(companion.clone()),
                        }
                    }
                }
            }
            Mode::Write => {
                let mut targets = Vec::new();
                match input {
                    Input::Stdin if !self.text() => {
                        file.output = Some(crate::syntax::lossy(&fixed.file.source).into_owned());
                    }
                    Input::Stdin => {
                        if let Err(e) = stdout.write_all(&fixed.file.source) {
                            return out.errors.push(error(format!("cannot write: {e}"), None));
                        }
                    }
                    Input::File(path) if rewritten => targets.push(write::Target {
                        path,
                        before: Some(source),
                        after: &fixed.file.source,
                    }),
                    Input::File(_) => {}
                }
                targets.extend(fixed.companions.iter().map(|c| write::Target {
                    path: &c.path,
                    before: c.before.as_deref(),
                    after: &c.after,
                }));
                if let Err(failure) = write::replace(&targets) {
                    return unwritten(failure, &targets, &fixed, out);
                }
                out.remaining += fixed.remaining.len();
                if self.text() {
                    // What is left, at its place in the rewritten file.
                    for left in &file.left {
                        say!("{}", report::finding_line(left));
                    }
                }
            }
            _ => {}
        }
        file.companions = fixed.companions.iter().map(shown).collect();
        // A companion file (.dockerignore) counts as a file rewritten too.
        for companion in &fixed.companions {
            out.files.push(FileReport {
                path: shown(companion),
                changed: true,
                ..Default::default()
            });
        }
        // Annotations and SARIF describe the file as `--write` left it.
        let rewritten_view =
            self.mode == Mode::Write && matches!(self.args.format, Format::Github | Format::Sarif);
        if rewritten_view {
            out.findings.extend(file.left.iter().cloned());
        } else {
            out.findings.extend(reports);
        }
        out.files.push(file);
        *kept = Some(fixed);
    }

    pub(super) fn finish(&self, out: &Output, stdout: &mut dyn Write) -> u8 {
        let changed = out.files.iter().filter(|f| f.changed).count();
        let fixes: usize = out.files.iter().map(|f| f.fixes).sum();
        let document = match self.args.format {
            Format::Text => None,
            Format::Github => Some(github::annotations(out)),
            Format::Markdown => Some(markdown::body(
                out,
                self.mode == Mode::Write,
                &fix_options(&self.args.fix),
            )),
            Format::Sarif => Some(
                serde_json::to_string_pretty(&sarif::log(out)).expect("the log serializes") + "\n",
            ),
            Format::Json => {
                Some(serde_json::to_string_pretty(out).expect("the report serializes") + "\n")
            }
        };
        if let Some(document) = document {
            let _ = stdout.write_all(document.as_bytes());
        } else {
            for error in &out.errors {
                say!("{}", error.text());
            }
            let suppressed = out
                .suppressed
                .iter()
                .map(|f| format!("{} (suppressed)", report::finding_line(f)));
            match self.mode {
                Mode::Lint => {
                    for finding in &out.findings {
                        let _ = writeln!(stdout, "{}", report::finding_line(finding));
                    }
                    for line in suppressed {
                        let _ = writeln!(stdout, "{line}");
                    }
                    let unsafe_only = out
                        .findings
                        .iter()
                        .filter(|f| {
                            f.fix.as_ref().is_some_and(|x| {
                                !x.applies && x.applicability == Applicability::Unsafe
                            })
                        })
                        .count();
                    let mut summary = format!(
                        "{} in {}; {fixes} fixable with {}",
                        plural(out.findings.len(), "finding", "findings"),
                        plural(out.files.len(), "file", "files"),
                        if self.args.fix.unsafe_fixes {
                            "--write --unsafe"
                        } else {
                            "--write"
                        }
                    );
                    if unsafe_only > 0 {
                        summary += &format!(" ({unsafe_only} more with --unsafe)");
                    }
                    say!("{summary}");
                }
                _ => suppressed.for_each(|line| say!("{line}")),
            }
            // As ruff counts: the files left unchanged too, when there are.
            let unchanged = match out.files.iter().filter(|f| !f.changed).count() {
                0 => String::new(),
                n => format!(", {} left unchanged", plural(n, "file", "files")),
            };
            let changed = plural(changed, "file", "files");
            let fixes = plural(fixes, "fix", "fixes");
            match self.mode {
                Mode::Lint | Mode::Pr => {}
                Mode::Diff => say!("{changed} would be rewritten, {fixes}{unchanged}"),
                Mode::Write => say!("{changed} rewritten, {fixes}{unchanged}"),
                Mode::Check => say!("{changed} would be rewritten{unchanged}"),
            }
        }
        if !out.errors.is_empty() {
            2
        } else if match self.mode {
            Mode::Lint | Mode::Write => out.remaining > 0,
            Mode::Diff | Mode::Check | Mode::Pr => changed > 0,
        } {
            1
        } else {
            0
        }
    }
}

/// Reports a rewrite `--write` could not write: the file at fault,
/// why, and what was left as it was (or, when putting a file back
/// failed too, what was left rewritten, which counts as rewritten).
pub(super) fn unwritten(
    failure: write::Failure,
    targets: &[write::Target],
    fixed: &engine::Fixed,
    out: &mut Output,
) {
    let shown = |path: &std::path::Path| report::shown(path);
    let kept: Vec<String> = targets
        .iter()
        .filter(|t| !failure.written.iter().any(|w| w == t.path))
        .map(|t| shown(t.path))
        .collect();
    let quoted = |path: &str| report::quoted(path).into_owned();
    let mut message = match &failure.why {
        write::Why::Changed => failure.why.to_string(),
        write::Why::Io(e) => format!("cannot write: {e}"),
    };
    message += &match kept.as_slice() {
        [one] if *one == shown(&failure.path) => "; left as it is".to_string(),
        [one] => format!("; {} left as it is", quoted(one)),
        many => {
            let many: Vec<String> = many.iter().map(|p| quoted(p)).collect();
            format!("; {} left as they are", many.join(" and "))
        }
    };
    for written in &failure.written {
        message += &format!(
            "; {} was rewritten and could not be put back",
            quoted(&shown(written))
        );
        let dockerfile = !fixed.companions.iter().any(|c| &c.path == written);
        out.files.push(FileReport {
            path: shown(written),
            changed: true,
            fixes: if dockerfile { fixed.applied.len() } else { 0 },
            ..Default::default()
        });
    }
    out.errors.push(ErrorReport {
        file: shown(&failure.path),
        line: None,
        column: None,
        message,
    });
}

/// Runs `work`, which reports on the file `name` into `out`. If it
/// panics, what it reported is taken back and the panic is reported as the
/// file's error instead (a file is written only once its rewrite is
/// complete, so one that panicked is untouched); the run goes on with the
/// next file and exits 2.
pub(super) fn guarded(name: &str, out: &mut Output, work: impl FnOnce(&mut Output)) {
    let mark = (
        out.files.len(),
        out.findings.len(),
        out.suppressed.len(),
        out.errors.len(),
        out.changes.len(),
        out.remaining,
    );
    let Err(panic) = isolated(|| work(out)) else {
        return;
    };
    out.files.truncate(mark.0);
    out.findings.truncate(mark.1);
    out.suppressed.truncate(mark.2);
    out.errors.truncate(mark.3);
    out.changes.truncate(mark.4);
    out.remaining = mark.5;
    out.errors.push(ErrorReport {
        file: name.to_string(),
        line: None,
        column: None,
        message: format!("internal error, file left untouched: {panic}"),
    });
}

/// Runs `work`, catching a panic as its message and place. Meanwhile the
/// panic hook records the message instead of printing it, so it is
/// reported once, with the file, in whatever format the run prints (never
/// on stdout, never twice). The hook is installed once and asks a
/// thread-local flag: a hook swapped in and out per call would, with two
/// threads, let one restore the default while the other is inside.
pub(super) fn isolated<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    thread_local! {
        static PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
        static INSIDE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !INSIDE.with(std::cell::Cell::get) {
                return previous(info);
            }
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("a panic without a message");
            let at = info
                .location()
                .map(|l| format!(" at {}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_default();
            let text = format!("{message}{at}").replace(['\r', '\n'], " ");
            PANIC.with(|p| *p.borrow_mut() = Some(text));
        }));
    });
    let outer = INSIDE.with(|i| i.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    INSIDE.with(|i| i.set(outer));
    result.map_err(|_| {
        PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_else(|| "a panic".into())
    })
}

/// Both sides of a rewrite built on the engine (see `crate::measure`).
fn measured(
    engine: &str,
    context: &Path,
    path: &Path,
    source: &[u8],
    fixed: &engine::Fixed,
) -> Result<crate::measure::Measured, String> {
    let ignore_path = context.join(".dockerignore");
    let ignore_before = crate::context::read_regular(&ignore_path).ok();
    let companion = fixed.companions.iter().find(|c| c.path == ignore_path);
    let ignore_after = companion.map(|c| c.after.as_slice());
    crate::measure::measure(
        engine,
        context,
        path,
        &crate::measure::Sources {
            dockerfile: source,
            dockerignore: ignore_before.as_deref(),
        },
        &crate::measure::Sources {
            dockerfile: &fixed.file.source,
            dockerignore: ignore_after.or(ignore_before.as_deref()),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_one_file_is_that_files_error_and_the_next_file_runs() {
        let mut out = Output::new();
        out.files.push(FileReport {
            path: "first/Dockerfile".into(),
            ..Default::default()
        });
        guarded("bad/Dockerfile", &mut out, |out| {
            out.files.push(FileReport {
                path: "bad/Dockerfile".into(),
                ..Default::default()
            });
            out.remaining += 3;
            let text = String::from("FROM");
            // As a slice past a multi-byte character would, with a message
            // built at run time.
            panic!("byte index {} is out of range of `{text}`", text.len() + 2);
        });
        guarded("next/Dockerfile", &mut out, |out| {
            out.files.push(FileReport {
                path: "next/Dockerfile".into(),
                ..Default::default()
            });
        });
        let paths: Vec<&str> = out.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["first/Dockerfile", "next/Dockerfile"]);
        assert_eq!(out.remaining, 0);
        assert_eq!(out.errors.len(), 1);
        let error = out.errors[0].text();
        assert!(
            error.starts_with(
                "bad/Dockerfile: internal error, file left untouched: \
                 byte index 6 is out of range of `FROM` at src/cli/job.rs:"
            ),
            "{error}"
        );
    }

    #[test]
    fn isolation_gives_back_the_value_or_the_panic_message() {
        assert_eq!(isolated(|| 7), Ok(7));
        let message = isolated(|| -> u8 { panic!("static") }).unwrap_err();
        assert!(
            message.starts_with("static at src/cli/job.rs:"),
            "{message}"
        );
    }
}
