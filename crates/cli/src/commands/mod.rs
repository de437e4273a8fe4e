//! One module per command (or pair of commands), and the dispatch to them.

pub(crate) mod blob;
pub(crate) mod catalog;
pub(crate) mod completions;
pub(crate) mod copy;
pub(crate) mod delete;
pub(crate) mod digest;
pub(crate) mod inspect;
pub(crate) mod login;
pub(crate) mod manifest;
pub(crate) mod serve;
pub(crate) mod sync;
pub(crate) mod tags;

use anyhow::Context;

use crate::args::{Cli, Command};

/// Runs the command `cli` names.
pub(crate) fn run(cli: Cli) -> anyhow::Result<()> {
    let global = cli.global;
    match cli.command {
        Command::Serve(args) => serve::run(args, &global),
        Command::Completions(args) => completions::run(&args),
        command => {
            crate::logging::init(global.log_filter().as_deref())?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(async {
                match command {
                    Command::Copy(args) => copy::run(args, &global).await,
                    Command::Sync(args) => sync::run(args, &global).await,
                    Command::Inspect(args) => inspect::run(args, &global).await,
                    Command::Tags(args) => tags::run(args, &global).await,
                    Command::Catalog(args) => catalog::run(args, &global).await,
                    Command::Digest(args) => digest::run(args, &global).await,
                    Command::Manifest(args) => manifest::run(args, &global).await,
                    Command::Blob(args) => blob::run(args, &global).await,
                    Command::Delete(args) => delete::run(args, &global).await,
                    Command::Login(args) => login::login(args, &global).await,
                    Command::Logout(args) => login::logout(args, &global).await,
                    Command::Serve(_) | Command::Completions(_) => Ok(()),
                }
            })
        }
    }
}
