//! `gantry`: the command line over every Gantry crate.
//!
//! `gantry serve` runs the registry server. Its first line on standard output is
//! `listening on <scheme>://<address>`, so scripts that start it on port 0 learn the port.
//! The other commands read and manage images in registries (`inspect`, `tags`, `catalog`,
//! `digest`, `manifest`, `blob`, `delete`), keep credentials (`login`, `logout`) and write
//! shell completions. `docs/cli.md` describes every command and the exit codes.

mod args;
mod auth_store;
mod commands;
mod exit;
mod logging;
mod output;
mod progress;
mod registry;
mod source;
mod target;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => exit::report(&error),
    }
}
