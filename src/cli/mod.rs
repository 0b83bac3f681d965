//! The command line: `dockfix [PATH...]` with `--diff`, `--write` or
//! `--check`, and the `rules`, `explain`, `parse`, `completions` and `man`
//! subcommands. Here: `main` and a run over the paths. Its definition is
//! in `args`, one file's work in `job`, the registry of a pinning run in
//! `pinning`, the printing subcommands in `subcommands`, and each output
//! format in a module of its own.

mod diff;
mod discover;
mod github;
mod manpage;
mod markdown;
mod report;
mod sarif;
mod server;
mod settings;
mod write;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};

use crate::rules;
use report::{ErrorReport, Output};

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

// After the macros, which they use.
mod args;
mod cache;
mod job;
mod pinning;
mod pr;
mod subcommands;

pub use args::command;
use args::*;
use job::{guarded, Job};
use pinning::Pinning;
use subcommands::{explain, list_rules, parse, print_bytes};

/// Exit codes: 0 nothing to report, 1 findings or changes, 2 usage errors
/// and files that cannot be read or parsed.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Some(Command::Rules) => list_rules(),
        Some(Command::Explain { rule }) => explain(&rule),
        Some(Command::Parse { dump, file }) => parse(&file, dump),
        Some(Command::Cache(args)) => cache::cache(args),
        Some(Command::Server(args)) => server::serve(args),
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
        measure: pr.filter(|p| p.measure).map(|_| crate::measure::engine()),
    };
    let mut stdout = std::io::stdout().lock();
    let mut kept = None;
    for (input, settings) in &files {
        // A bug met in one file must not cost the others their run.
        guarded(&job.name(input), &mut out, |out| {
            job.process(input, settings, out, &mut stdout, &mut kept);
        });
    }
    // The last file's tree is never freed: the process ends soon and the
    // system takes its memory back at once, where freeing a large file's
    // tree node by node took 8% of the run (26,000 COPY lines).
    std::mem::forget(kept);
    crate::syntax::shell::leave_cache_to_exit();
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
