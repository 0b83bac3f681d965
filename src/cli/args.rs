//! The command line's definition: its options, subcommands and modes.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use super::pr;
use crate::pin::PinMode;
use crate::rules::CacheStyle;

#[derive(Parser)]
#[command(
    name = "dockfix",
    version,
    about = "Rewrites Dockerfiles so they build faster and produce smaller, reproducible images",
    args_conflicts_with_subcommands = true
)]
pub(super) struct Cli {
    #[command(subcommand)]
    pub(super) command: Option<Command>,
    #[command(flatten)]
    pub(super) run: RunArgs,
}

#[derive(Subcommand)]
pub(super) enum Command {
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
    /// Show each build step, what its cache key depends on, and which steps
    /// a change to files of the build context reruns.
    Cache(super::cache::CacheArgs),
    /// Serve the Language Server Protocol over standard input and output:
    /// diagnostics, quick fixes and rule documentation in an editor.
    Server(FixArgs),
    /// Print a shell completion script.
    Completions {
        /// The shell the script is for.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) for `man -l -` or a man1 directory.
    Man,
}

#[derive(Args)]
pub(super) struct PrArgs {
    #[command(flatten)]
    pub(super) options: pr::PrOptions,
    /// Dockerfiles or directories to walk (default: `.`).
    pub(super) paths: Vec<PathBuf>,
    #[command(flatten)]
    pub(super) fix: FixArgs,
}

#[derive(Args)]
pub(super) struct RunArgs {
    /// Dockerfiles or directories to walk (default: `.`) for `*Dockerfile`,
    /// `*.dockerfile`, `Dockerfile.*`, `Dockerfile-*` and their Containerfile
    /// twins; `-` reads standard input.
    pub(super) paths: Vec<PathBuf>,
    /// Print a unified diff of the rewrite; exit 1 if anything would change.
    #[arg(long, group = "mode")]
    pub(super) diff: bool,
    /// Apply the rewrite in place.
    #[arg(long, group = "mode")]
    pub(super) write: bool,
    /// List the files that would change and exit 1 if any would.
    #[arg(long, group = "mode")]
    pub(super) check: bool,
    /// Also list the findings `# dockfix: ignore[...]` comments silence.
    #[arg(long)]
    pub(super) show_suppressed: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(super) format: Format,
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub(super) color: Color,
    /// The name to report standard input under.
    #[arg(long, value_name = "PATH")]
    pub(super) stdin_filename: Option<String>,
    #[command(flatten)]
    pub(super) fix: FixArgs,
}

/// The options that decide what is fixed and how: the same for a run and
/// for `dockfix pr`.
#[derive(Args)]
pub(super) struct FixArgs {
    /// Only these rules (IDs, ID prefixes or names; comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "RULES")]
    pub(super) select: Vec<String>,
    /// Skip these rules (IDs, ID prefixes or names; comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "RULES")]
    pub(super) ignore: Vec<String>,
    /// Also apply fixes marked unsafe.
    #[arg(long = "unsafe")]
    pub(super) unsafe_fixes: bool,
    /// How package caches are kept out of the image; only that style's
    /// rules run (default: cleanup).
    #[arg(long, value_enum)]
    pub(super) cache_style: Option<CacheStyle>,
    /// Add `# syntax=docker/dockerfile:1` to files that use `RUN --mount`
    /// (DF303); builds then pull that frontend image.
    #[arg(long)]
    pub(super) syntax_directive: bool,
    /// Pin base images against their registries (the only time dockfix
    /// uses the network): `version` turns floating tags (none, `latest`,
    /// `lts`) into version tags (DF401), `digest` adds `@sha256:` digests
    /// (DF402), `both` does both.
    #[arg(long, value_enum, value_name = "MODE")]
    pub(super) pin: Option<PinMode>,
    /// Also pin images named through a global ARG, in its default.
    #[arg(long)]
    pub(super) pin_args: bool,
    /// Ask a mirror for a registry's images, as Docker's `registry-mirrors`
    /// does: `docker.io=https://mirror.example` (repeatable).
    /// (Parsed by dockfix, not clap, whose errors would echo credentials.)
    #[arg(long, value_name = "DOMAIN=URL")]
    pub(super) registry_mirror: Vec<String>,
    /// Speak plain HTTP to this registry (repeatable); loopback registries
    /// always are, as with Docker.
    #[arg(long, value_name = "HOST", value_parser = registry_host)]
    pub(super) insecure_registry: Vec<String>,
    /// Build context directory (default: each Dockerfile's directory; none for standard input).
    #[arg(long, value_name = "DIR")]
    pub(super) context: Option<PathBuf>,
    /// Use this configuration file for every input instead of each one's
    /// nearest `.dockfix.toml`.
    #[arg(long, value_name = "PATH")]
    pub(super) config: Option<PathBuf>,
    /// Read no configuration file.
    #[arg(long, conflicts_with = "config")]
    pub(super) isolated: bool,
}

/// The options that choose which fixes apply, as typed: the rewrite is
/// `dockfix --write` with them.
pub(super) fn fix_options(args: &FixArgs) -> String {
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
pub(super) fn registry_host(text: &str) -> Result<String, String> {
    if text.is_empty() || text.contains(['/', '@', '?']) {
        return Err("a registry is `host` or `host:port`, without a scheme or path".into());
    }
    Ok(text.to_string())
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum Format {
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
pub(super) enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
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
