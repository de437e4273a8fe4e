//! Logging for the client commands: `tracing` to standard error, warnings only unless `-v` or
//! `--log-level` asks for more. (`gantry serve` sets up its own, from its configuration.)

use std::io::IsTerminal;

use anyhow::Context;

/// The filter when none is asked for.
const DEFAULT_FILTER: &str = "warn";

/// Sends `tracing` events that pass `filter` (or warnings) to standard error.
pub(crate) fn init(filter: Option<&str>) -> anyhow::Result<()> {
    let filter = filter.unwrap_or(DEFAULT_FILTER);
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .map_err(|error| crate::exit::usage(format!("invalid log filter {filter:?}: {error}")))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init()
        .map_err(|error| anyhow::anyhow!(error))
        .context("cannot set up logging")
}
