//! The command line's shape: the global options every command shares and the list of
//! commands. Each command's own arguments live beside the command, in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::commands::{
    blob::BlobArgs, catalog::CatalogArgs, completions::CompletionsArgs, copy::CopyArgs,
    delete::DeleteArgs, digest::DigestArgs, inspect::InspectArgs, login::LoginArgs,
    login::LogoutArgs, manifest::ManifestArgs, serve::ServeArgs, sync::SyncArgs, tags::TagsArgs,
};

/// Gantry: a container image registry and the tools around it.
#[derive(Debug, Parser)]
#[command(name = "gantry", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// Options every command understands.
    #[command(flatten)]
    pub(crate) global: GlobalOptions,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the registry server (by default on 127.0.0.1:5000, storing in ./gantry-data).
    Serve(ServeArgs),
    /// Copy an image between registries and local layouts or archives.
    Copy(CopyArgs),
    /// Copy every tag of a repository (or those a regex matches) to another.
    Sync(SyncArgs),
    /// Show an image: its manifest, config summary, layers and platforms.
    Inspect(InspectArgs),
    /// List the tags of a repository.
    Tags(TagsArgs),
    /// List the repositories of a registry.
    Catalog(CatalogArgs),
    /// Print the digest of an image's manifest.
    Digest(DigestArgs),
    /// Print an image's manifest, byte for byte as the registry holds it.
    Manifest(ManifestArgs),
    /// Write a blob to standard output or a file, verified as it streams.
    Blob(BlobArgs),
    /// Delete an image's manifest from a registry (every tag pointing at it goes with it).
    Delete(DeleteArgs),
    /// Check credentials against a registry and save them.
    Login(LoginArgs),
    /// Remove the saved credentials of a registry.
    Logout(LogoutArgs),
    /// Write a shell completion script to standard output.
    Completions(CompletionsArgs),
}

/// Options every command understands; they may be written before or after the command.
#[derive(Debug, Args)]
pub(crate) struct GlobalOptions {
    /// Do not verify TLS certificates, and fall back to plain HTTP when a registry does not
    /// speak HTTPS. The same as --tls-verify=false.
    #[arg(long, global = true)]
    pub(crate) insecure: bool,
    /// Verify TLS certificates and require HTTPS (except on loopback); false is --insecure.
    #[arg(
        long,
        global = true,
        value_name = "BOOL",
        require_equals = true,
        num_args = 0..=1,
        default_value_t = true,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub(crate) tls_verify: bool,
    /// A PEM file of certificate authorities to trust beside the system's (repeatable).
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) ca_file: Vec<PathBuf>,
    /// A directory of TLS material: every *.crt is a trusted CA, client.cert with client.key
    /// is a client certificate.
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) cert_dir: Option<PathBuf>,
    /// Credentials for the registries of this command, USER:PASS (with USER alone, the
    /// password is asked on the terminal).
    #[arg(long, global = true, value_name = "USER[:PASS]")]
    pub(crate) creds: Option<String>,
    /// The credential file to read (and for login and logout, to write) instead of Docker's
    /// config.json and containers' auth.json.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) authfile: Option<PathBuf>,
    /// More log output on standard error: -v info, -vv debug, -vvv trace.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// The log filter, such as info or gantry_client=debug (overrides -v).
    #[arg(long, global = true, value_name = "FILTER")]
    pub(crate) log_level: Option<String>,
    /// Print the result of a read command as JSON.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Print nothing but errors and the command's result.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
    /// How to show the progress of transfers.
    #[arg(long, global = true, value_enum, default_value_t = ProgressMode::Auto)]
    pub(crate) progress: ProgressMode,
    /// How many times a request that may pass (a cut connection, a 429 or 503) is tried
    /// again, with backoff and the registry's Retry-After.
    #[arg(long, global = true, value_name = "N", default_value_t = 3)]
    pub(crate) retry_times: u32,
}

impl GlobalOptions {
    /// Whether TLS verification is off (`--insecure` or `--tls-verify=false`).
    pub(crate) fn is_insecure(&self) -> bool {
        self.insecure || !self.tls_verify
    }

    /// The log filter the options ask for, if any: `--log-level`, else one from `-v`.
    pub(crate) fn log_filter(&self) -> Option<String> {
        if let Some(level) = &self.log_level {
            return Some(level.clone());
        }
        match self.verbose {
            0 => None,
            1 => Some("info".to_owned()),
            2 => Some("debug".to_owned()),
            _ => Some("trace".to_owned()),
        }
    }
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ProgressMode {
    /// Bars on a terminal, plain lines otherwise.
    Auto,
    /// Progress bars.
    Bars,
    /// One line per finished step.
    Plain,
    /// One JSON object per progress event, one per line, on standard error.
    Json,
    /// Nothing.
    None,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn tls_verify_false_means_insecure() {
        let cli = Cli::try_parse_from(["gantry", "tags", "--tls-verify=false", "r.example/a"])
            .expect("parses");
        assert!(cli.global.is_insecure());
        let cli =
            Cli::try_parse_from(["gantry", "--tls-verify", "tags", "r.example/a"]).expect("parses");
        assert!(!cli.global.is_insecure());
    }

    #[test]
    fn verbosity_becomes_a_filter() {
        let cli = Cli::try_parse_from(["gantry", "-vv", "catalog", "r.example"]).expect("parses");
        assert_eq!(cli.global.log_filter().as_deref(), Some("debug"));
        let cli = Cli::try_parse_from(["gantry", "-v", "--log-level", "warn", "catalog", "r"])
            .expect("parses");
        assert_eq!(cli.global.log_filter().as_deref(), Some("warn"));
    }
}
