//! Development tasks for dockfix.
//!
//! `cargo run -p xtask -- e2e` proves rewrites on a real Docker engine: see
//! `e2e/`.

mod e2e;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Build every fixture in fixtures/e2e before and after `dockfix --write`
    /// on a real engine, compare behaviour, size and rebuild time.
    E2e(e2e::Options),
}

fn main() -> ExitCode {
    match Cli::parse().task {
        Task::E2e(options) => match e2e::run(&options) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                eprintln!("[e2e] error: {e}");
                ExitCode::from(2)
            }
        },
    }
}
