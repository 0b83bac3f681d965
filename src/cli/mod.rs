//! The command line: `dockfix [PATH...]` with `--diff`, `--write` or
//! `--check`, and the `rules`, `explain`, `parse`, `completions` and `man`
//! subcommands.

mod diff;
mod discover;
mod github;
mod manpage;
mod markdown;
mod report;
mod sarif;
mod settings;
mod write;

use std::cell::{Ref, RefCell};
use std::collections::HashMap;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::engine::{self, FixError, Settings};
use crate::pin::{floating_variant, PinMode, Pins, Resolver};
use crate::registry::{self, Mirror};
use crate::rules::{self, Applicability, CacheStyle};
use crate::syntax::{self, dump::dump};
use discover::Input;
use report::{plural, ErrorReport, FileReport, Output};
use settings::FileSettings;

/// `eprintln!` that does not panic when stderr is closed (`2>&1 | head`).
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `eprint!`, likewise.
macro_rules! say_part {
    ($($arg:tt)*) => {{
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

// After the macros, which it uses.
mod pr;

#[derive(Parser)]
#[command(
    name = "dockfix",
    version,
    about = "Rewrites Dockerfiles so they build faster and produce smaller, reproducible images",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// List every rule with its ID, name and fix safety.
    Rules,
    /// Print the documentation of a rule (by ID or name).
    Explain {
        /// A rule's ID (`DF002`) or name (`exec-form`).
        rule: String,
    },
    /// Commit the rewrite `--write` would make on a branch named after it,
    /// push it, and open its GitHub pull request (or update the open one).
    Pr(Box<PrArgs>),
    /// Parse a Dockerfile (`-` for standard input) and print its syntax tree.
    Parse {
        /// Print BuildKit's AST dump format instead.
        #[arg(long)]
        dump: bool,
        /// The Dockerfile; `-` reads standard input.
        file: PathBuf,
    },
    /// Print a shell completion script.
    Completions {
        /// The shell the script is for.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) for `man -l -` or a man1 directory.
    Man,
}

#[derive(Args)]
struct PrArgs {
    #[command(flatten)]
    options: pr::PrOptions,
    /// Dockerfiles or directories to walk (default: `.`).
    paths: Vec<PathBuf>,
    #[command(flatten)]
    fix: FixArgs,
}

#[derive(Args)]
struct RunArgs {
    /// Dockerfiles or directories to walk (default: `.`) for `*Dockerfile`,
    /// `*.dockerfile`, `Dockerfile.*`, `Dockerfile-*` and their Containerfile
    /// twins; `-` reads standard input.
    paths: Vec<PathBuf>,
    /// Print a unified diff of the rewrite; exit 1 if anything would change.
    #[arg(long, group = "mode")]
    diff: bool,
    /// Apply the rewrite in place.
    #[arg(long, group = "mode")]
    write: bool,
    /// List the files that would change and exit 1 if any would.
    #[arg(long, group = "mode")]
    check: bool,
    /// Also list the findings `# dockfix: ignore[...]` comments silence.
    #[arg(long)]
    show_suppressed: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
    /// The name to report standard input under.
    #[arg(long, value_name = "PATH")]
    stdin_filename: Option<String>,
    #[command(flatten)]
    fix: FixArgs,
}

/// The options that decide what is fixed and how: the same for a run and
/// for `dockfix pr`.
#[derive(Args)]
struct FixArgs {
    /// Only these rules (IDs, ID prefixes or names; comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "RULES")]
    select: Vec<String>,
    /// Skip these rules (IDs, ID prefixes or names; comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "RULES")]
    ignore: Vec<String>,
    /// Also apply fixes marked unsafe.
    #[arg(long = "unsafe")]
    unsafe_fixes: bool,
    /// How package caches are kept out of the image; only that style's
    /// rules run (default: cleanup).
    #[arg(long, value_enum)]
    cache_style: Option<CacheStyle>,
    /// Add `# syntax=docker/dockerfile:1` to files that use `RUN --mount`
    /// (DF303); builds then pull that frontend image.
    #[arg(long)]
    syntax_directive: bool,
    /// Pin base images against their registries (the only time dockfix
    /// uses the network): `version` turns floating tags (none, `latest`,
    /// `lts`) into version tags (DF401), `digest` adds `@sha256:` digests
    /// (DF402), `both` does both.
    #[arg(long, value_enum, value_name = "MODE")]
    pin: Option<PinMode>,
    /// Also pin images named through a global ARG, in its default.
    #[arg(long)]
    pin_args: bool,
    /// Ask a mirror for a registry's images, as Docker's `registry-mirrors`
    /// does: `docker.io=https://mirror.example` (repeatable).
    /// (Parsed by dockfix, not clap, whose errors would echo credentials.)
    #[arg(long, value_name = "DOMAIN=URL")]
    registry_mirror: Vec<String>,
    /// Speak plain HTTP to this registry (repeatable); loopback registries
    /// always are, as with Docker.
    #[arg(long, value_name = "HOST", value_parser = registry_host)]
    insecure_registry: Vec<String>,
    /// Build context directory (default: each Dockerfile's directory; none for standard input).
    #[arg(long, value_name = "DIR")]
    context: Option<PathBuf>,
    /// Use this configuration file for every input instead of each one's
    /// nearest `.dockfix.toml`.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Read no configuration file.
    #[arg(long, conflicts_with = "config")]
    isolated: bool,
}

/// The options that choose which fixes apply, as typed: the rewrite is
/// `dockfix --write` with them.
fn fix_options(args: &FixArgs) -> String {
    let mut options = Vec::new();
    for (flag, selectors) in [("--select", &args.select), ("--ignore", &args.ignore)] {
        let list: Vec<&str> = selectors
            .iter()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .collect();
        if !list.is_empty() {
            options.push(format!("{flag} {}", list.join(",")));
        }
    }
    if let Some(config) = &args.config {
        options.push(format!("--config {}", config.display()));
    }
    if args.isolated {
        options.push("--isolated".into());
    }
    if args.unsafe_fixes {
        options.push("--unsafe".into());
    }
    if let Some(style) = args.cache_style {
        options.push(format!("--cache-style {}", style.label()));
    }
    if args.syntax_directive {
        options.push("--syntax-directive".into());
    }
    if let Some(pin) = args.pin {
        options.push(format!(
            "--pin {}",
            pin.to_possible_value()
                .expect("no skipped modes")
                .get_name()
        ));
        if args.pin_args {
            options.push("--pin-args".into());
        }
    }
    options.join(" ")
}

/// A registry as `host` or `host:port`, as images name it.
fn registry_host(text: &str) -> Result<String, String> {
    if text.is_empty() || text.contains(['/', '@', '?']) {
        return Err("a registry is `host` or `host:port`, without a scheme or path".into());
    }
    Ok(text.to_string())
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    /// GitHub Actions annotations (`::warning file=...,line=...::message`).
    Github,
    /// A pull-request body describing the rewrite (with `--diff`,
    /// `--check` or `--write`).
    Markdown,
    /// A SARIF 2.1.0 log, for GitHub code scanning.
    Sarif,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Lint,
    Diff,
    Write,
    Check,
    /// `dockfix pr`: the rewrite is kept for a commit, not written.
    Pr,
}

/// The command line's definition, which completions and the man page are
/// generated from.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Exit codes: 0 nothing to report, 1 findings or changes, 2 usage errors
/// and files that cannot be read or parsed.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Some(Command::Rules) => list_rules(),
        Some(Command::Explain { rule }) => explain(&rule),
        Some(Command::Parse { dump, file }) => parse(&file, dump),
        Some(Command::Pr(pr)) => {
            let PrArgs {
                options,
                paths,
                fix,
            } = *pr;
            // A run in pr mode: no output options, plain text for messages.
            let args = RunArgs {
                paths,
                diff: false,
                write: false,
                check: false,
                show_suppressed: false,
                format: Format::Text,
                color: Color::Never,
                stdin_filename: None,
                fix,
            };
            run(args, Some(&options))
        }
        Some(Command::Completions { shell }) => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command(), "dockfix", &mut script);
            print_bytes(&script)
        }
        Some(Command::Man) => print_bytes(&manpage::render(command())),
        None => run(cli.run, None),
    };
    ExitCode::from(code)
}

/// Writes generated text to stdout; a closed stdout (`| head`) is no error.
fn print_bytes(bytes: &[u8]) -> u8 {
    let _ = std::io::stdout().write_all(bytes);
    0
}

fn list_rules() -> u8 {
    for rule in rules::ALL {
        let style = rule.cache_style.map_or("", CacheStyle::label);
        println!(
            "{}  {:<26} {:<15} {:<8} {}",
            rule.id,
            rule.name,
            rule.fix_safety.label(),
            style,
            rule.summary
        );
    }
    0
}

fn explain(key: &str) -> u8 {
    match rules::find(key) {
        Some(rule) => {
            print!("{}", rule.doc);
            0
        }
        None => {
            say!("dockfix: unknown rule `{key}` (see `dockfix rules`)");
            2
        }
    }
}

fn read_input(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf)?;
        Ok(buf)
    } else {
        std::fs::read(path)
    }
}

fn parse(path: &std::path::Path, as_dump: bool) -> u8 {
    let source = match read_input(path) {
        Ok(source) => source,
        Err(e) => {
            say!("{}: {e}", report::quoted_path(path));
            return 2;
        }
    };
    let (file, errors) = syntax::parse_lossless(&source);
    if as_dump && errors.is_empty() {
        print!("{}", dump(&file));
    } else if !as_dump {
        // The tree exists for invalid files too: every byte in one item.
        for item in &file.items {
            let (line, _) = file.line_col(item.span.start);
            let what = match &item.kind {
                syntax::ItemKind::Instruction(i) => {
                    let text = String::from_utf8_lossy(&i.logical.text);
                    format!("instruction {} {text:?}", i.command.name)
                }
                other => format!("{other:?}").to_lowercase(),
            };
            println!("{line}: {}..{} {what}", item.span.start, item.span.end);
        }
    }
    for e in &errors {
        let shown = report::quoted_path(path);
        say!("{shown}:{}:{}: {}", e.line, e.column, e.message);
    }
    if errors.is_empty() {
        0
    } else {
        2
    }
}

/// A run over the paths; with `pr`, one that proposes its rewrite as a
/// pull request.
fn run(args: RunArgs, pr: Option<&pr::PrOptions>) -> u8 {
    let mut resolver = match settings::Resolver::new(&args.fix) {
        Ok(resolver) => resolver,
        Err(e) => {
            say!("{e}");
            return 2;
        }
    };
    if let Some(dir) = &args.fix.context {
        if !dir.is_dir() {
            let dir = report::quoted_path(dir);
            say!("dockfix: --context {dir}: not a directory");
            return 2;
        }
    }
    let mode = match (args.diff, args.write, args.check) {
        _ if pr.is_some() => Mode::Pr,
        (true, _, _) => Mode::Diff,
        (_, true, _) => Mode::Write,
        (_, _, true) => Mode::Check,
        _ => Mode::Lint,
    };
    let stdin = args.paths.iter().any(|p| p.as_os_str() == "-");
    if mode == Mode::Pr && stdin {
        say!("dockfix pr: it commits the rewrite of files; standard input (`-`) is none");
        return 2;
    }
    // Only text and JSON leave room on stdout for the rewrite of `--write -`.
    if mode == Mode::Write && stdin && !matches!(args.format, Format::Text | Format::Json) {
        let format = args
            .format
            .to_possible_value()
            .expect("no format is hidden");
        say!(
            "dockfix: --format {} has no room for the rewrite of standard input; use text or json",
            format.get_name()
        );
        return 2;
    }
    if mode == Mode::Lint && args.format == Format::Markdown {
        say!("dockfix: --format markdown describes a rewrite: add --diff, --check or --write");
        return 2;
    }
    let color = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let discover::Found {
        mut inputs,
        errors: unreadable,
        empty,
    } = discover::inputs(&paths);
    for dir in &empty {
        say!(
            "dockfix: warning: no Dockerfiles in {}, nothing checked",
            report::quoted_path(dir)
        );
    }
    // `dockfix pr` needs a clean checkout: known before any work.
    let checkout = match pr.map(|_| pr::Checkout::open(&mut inputs)).transpose() {
        Ok(checkout) => checkout,
        Err(e) => {
            say!("dockfix pr: {e}");
            return 2;
        }
    };
    let mut out = Output::new();
    for (path, message) in unreadable {
        out.errors.push(ErrorReport {
            file: path.display().to_string(),
            line: None,
            column: None,
            message,
        });
    }
    let files: Vec<_> = inputs
        .iter()
        .filter_map(|input| {
            let settings = resolver.settings(input, args.stdin_filename.as_deref())?;
            Some((input, settings))
        })
        .collect();
    out.errors.extend(resolver.errors());
    if let Some(checkout) = &checkout {
        if let Err(e) = checkout.admit_configs(resolver.configs_used()) {
            say!("dockfix pr: {e}");
            return 2;
        }
    }
    // The rules any file runs, in ID order, for SARIF's rule list.
    out.rules = rules::ALL
        .iter()
        .copied()
        .filter(|rule| {
            files
                .iter()
                .any(|(_, s)| s.rules.iter().any(|r| r.id == rule.id))
        })
        .collect();
    let mirrors = match args.fix.registry_mirror.iter().map(|m| m.parse()).collect() {
        Ok(mirrors) => mirrors,
        Err(e) => {
            say!("dockfix: --registry-mirror {e}");
            return 2;
        }
    };
    let pins = files.iter().any(|(_, settings)| settings.pin.is_some());
    let pinning = match pins.then(|| Pinning::new(&args.fix, mirrors)).transpose() {
        Ok(pinning) => pinning,
        Err(e) => {
            say!("dockfix: {e}");
            return 2;
        }
    };
    let job = Job {
        args: &args,
        mode,
        color,
        pinning,
    };
    let mut stdout = std::io::stdout().lock();
    for (input, settings) in &files {
        // A bug met in one file must not cost the others their run.
        guarded(&job.name(input), &mut out, |out| {
            job.process(input, settings, out, &mut stdout);
        });
    }
    if let Some(pinning) = &job.pinning {
        pinning.finish();
    }
    match (pr, checkout) {
        (Some(options), Some(checkout)) => {
            let request = pr::Request {
                options,
                paths: &args.paths,
                fix_options: &fix_options(&args.fix),
            };
            pr::open(checkout, out, &request)
        }
        _ => job.finish(&out, &mut stdout),
    }
}

/// The registry answers of a run that pins, asked for file by file and kept
/// for the next run in the disk cache.
struct Pinning {
    /// By what is pinned (the mode, and whether ARG defaults are), which
    /// each file's settings choose; one client and cache serve them all.
    pins: RefCell<HashMap<(PinMode, bool), Pins>>,
    resolver: RefCell<Resolver>,
    /// Shows which image is being asked about, on a terminal.
    progress: bool,
}

impl Pinning {
    fn new(args: &FixArgs, mirrors: Vec<Mirror>) -> Result<Pinning, String> {
        let store = registry::auth::Store::load(registry::auth::docker_config_path().as_deref())?;
        let options = registry::Options {
            mirrors,
            insecure: args.insecure_registry.clone(),
            ..Default::default()
        };
        let client = registry::Client::new(store, options);
        let cache =
            registry::cache::Cache::open(registry::cache::default_dir(), registry::cache::EXPIRY);
        Ok(Pinning {
            pins: RefCell::new(HashMap::new()),
            resolver: RefCell::new(Resolver::new(client, cache)),
            progress: std::io::stderr().is_terminal(),
        })
    }

    /// Asks about the images a file pulls that were not asked about yet,
    /// and returns where in the file the registry could not answer, and why.
    fn resolve(
        &self,
        file: &syntax::Dockerfile,
        mode: PinMode,
        args: bool,
    ) -> Vec<(usize, String)> {
        let mut all = self.pins.borrow_mut();
        let pins = all
            .entry((mode, args))
            .or_insert_with(|| Pins::new(mode, args));
        let mut resolver = self.resolver.borrow_mut();
        // A version-only run asks only about floating tags.
        let images: Vec<_> = rules::pinning::pinnable_images(file, pins.args)
            .into_iter()
            .filter(|(_, image)| mode.digests() || floating_variant(image.tag.as_deref()).is_some())
            .collect();
        let mut seen = std::collections::HashSet::new();
        let pending: Vec<_> = images
            .iter()
            .map(|(_, image)| image)
            .filter(|image| pins.answer(image).is_none() && seen.insert(*image))
            .collect();
        for (i, image) in pending.iter().enumerate() {
            if self.progress {
                say_part!(
                    "\r\x1b[Kdockfix: pinning {}/{}: {image} ({})",
                    i + 1,
                    pending.len(),
                    resolver.api_origin(image)
                );
            }
            pins.resolve(image, &mut resolver);
        }
        if self.progress && !pending.is_empty() {
            say_part!("\r\x1b[K");
        }
        images
            .iter()
            .filter_map(|(at, image)| {
                let why = match pins.answer(image)? {
                    Err(e) => e.clone(),
                    Ok(resolved) => resolved.version.as_ref().err()?.clone(),
                };
                Some((*at, format!("could not pin `{image}`: {why}")))
            })
            .collect()
    }

    /// The answers for files pinned in `mode`, once `resolve` asked.
    fn pins(&self, mode: PinMode, args: bool) -> Option<Ref<'_, Pins>> {
        Ref::filter_map(self.pins.borrow(), |all| all.get(&(mode, args))).ok()
    }

    fn finish(&self) {
        if let Err(e) = self.resolver.borrow_mut().save() {
            say!("dockfix: warning: cannot keep registry answers: {e}");
        }
    }
}

struct Job<'a> {
    args: &'a RunArgs,
    mode: Mode,
    color: bool,
    pinning: Option<Pinning>,
}

impl Job<'_> {
    fn text(&self) -> bool {
        self.args.format == Format::Text
    }

    /// The name a file is reported under.
    fn name(&self, input: &Input) -> String {
        match input {
            Input::Stdin => self
                .args
                .stdin_filename
                .clone()
                .unwrap_or_else(|| "-".into()),
            Input::File(path) => path.display().to_string(),
        }
    }

    fn process(
        &self,
        input: &Input,
        file_settings: &FileSettings,
        out: &mut Output,
        stdout: &mut dyn Write,
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
                (context, write::read_regular(path))
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
        let original = match syntax::parse(&source) {
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
        let settings = Settings {
            rules: file_settings.rules.clone(),
            unsafe_fixes: file_settings.unsafe_fixes,
            build_context: context.as_deref(),
            // Standard input has no place on disk for companion files.
            companions: matches!(input, Input::File(_)),
            pins: pins.as_deref(),
            ecosystems: file_settings.ecosystems(),
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
        let rewritten = fixed.file.source != source;
        let changed = rewritten || !fixed.companions.is_empty();
        let shown = |c: &engine::Companion| report::shown(&c.path);
        let mut file = FileReport {
            path: name.clone(),
            changed,
            fixes: fixed.applied.len(),
            applied: fixed.applied.clone(),
            left: fixed
                .remaining
                .iter()
                .map(|f| report::finding(&name, &fixed.file, f, &settings))
                .collect(),
            ..Default::default()
        };
        match self.mode {
            Mode::Diff if changed => {
                let color = self.color && self.text();
                let mut text = String::new();
                if rewritten {
                    text = diff::unified(&source, &fixed.file.source, &name, color);
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
                    if rewritten {
                        out.changes.push(engine::Companion {
                            path: path.clone(),
                            before: Some(source.clone()),
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
                        file.output =
                            Some(String::from_utf8_lossy(&fixed.file.source).into_owned());
                    }
                    Input::Stdin => {
                        if let Err(e) = stdout.write_all(&fixed.file.source) {
                            return out.errors.push(error(format!("cannot write: {e}"), None));
                        }
                    }
                    Input::File(path) if rewritten => targets.push(write::Target {
                        path,
                        before: Some(&source),
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
    }

    fn finish(&self, out: &Output, stdout: &mut dyn Write) -> u8 {
        let changed = out.files.iter().filter(|f| f.changed).count();
        let fixes: usize = out
            .files
            .iter()
            .filter(|f| f.changed || self.mode == Mode::Lint)
            .map(|f| f.fixes)
            .sum();
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
fn unwritten(
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
fn guarded(name: &str, out: &mut Output, work: impl FnOnce(&mut Output)) {
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

/// Runs `work`, catching a panic as its message and place. The panic hook
/// is silenced meanwhile, so the message is reported once, with the file,
/// in whatever format the run prints (never on stdout, never twice).
fn isolated<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    thread_local! {
        static PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
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
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    std::panic::set_hook(previous);
    result.map_err(|_| {
        PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_else(|| "a panic".into())
    })
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
                 byte index 6 is out of range of `FROM` at src/cli/mod.rs:"
            ),
            "{error}"
        );
    }

    #[test]
    fn isolation_gives_back_the_value_or_the_panic_message() {
        assert_eq!(isolated(|| 7), Ok(7));
        let message = isolated(|| -> u8 { panic!("static") }).unwrap_err();
        assert!(
            message.starts_with("static at src/cli/mod.rs:"),
            "{message}"
        );
    }
}
