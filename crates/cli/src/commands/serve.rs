//! `gantry serve`: the registry server, configured from a file, `GANTRY_*` variables and
//! flags, until SIGINT or SIGTERM.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use gantry_registry::{Config, LogFormat, Server, StorageKind};

use crate::args::GlobalOptions;
use crate::exit::usage;

mod storage_flag;

use storage_flag::StorageFlag;

/// Arguments of `gantry serve`. The global `--log-level` (or `-v`) sets its log filter.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// A TOML configuration file; `GANTRY_*` variables and these flags override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The address to listen on, such as 0.0.0.0:5000 (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// The storage root directory (the same as `--storage DIR`).
    #[arg(long, value_name = "DIR", conflicts_with = "storage")]
    root: Option<PathBuf>,
    /// Where to store: a directory, or an S3 bucket and optional key prefix as
    /// s3://BUCKET/PREFIX (credentials and region from the AWS_* variables).
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    storage: Option<String>,
    /// The S3 endpoint's URL, for object stores other than AWS (path-style addressing).
    #[arg(long, value_name = "URL")]
    s3_endpoint: Option<String>,
    /// Allow deleting manifests, tags and blobs.
    #[arg(long)]
    allow_delete: bool,
    /// Where to serve /metrics, /healthz and /readyz.
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<SocketAddr>,
}

/// Runs the server until a shutdown signal. The first line on standard output is
/// `listening on <scheme>://<address>`.
pub(crate) fn run(args: ServeArgs, global: &GlobalOptions) -> anyhow::Result<()> {
    let mut config = Config::load(args.config.as_deref(), std::env::vars())?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    let storage = match (args.root, args.storage) {
        (Some(root), _) => Some(StorageFlag::Directory(root)),
        (None, Some(storage)) => Some(StorageFlag::parse(&storage)?),
        (None, None) => None,
    };
    if let Some(storage) = storage {
        storage.apply(&mut config);
    }
    if let Some(endpoint) = args.s3_endpoint {
        let s3 = config
            .storage
            .s3
            .as_mut()
            .filter(|_| config.storage.driver == StorageKind::S3)
            .ok_or_else(|| {
                usage("--s3-endpoint needs --storage s3://BUCKET or [storage] driver = \"s3\"")
            })?;
        s3.endpoint = Some(endpoint);
    }
    if args.allow_delete {
        config.delete_enabled = true;
    }
    if let Some(address) = args.metrics_listen {
        config.metrics_listen = Some(address);
    }
    if let Some(level) = global.log_filter() {
        config.log.level = level;
    }
    init_logging(&config)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let server = Server::bind(&config).await?;
        let address = server.local_addr()?;
        println!("listening on {}://{address}", server.scheme());
        let storage = StorageFlag::describe(&config);
        tracing::info!(%address, %storage, delete = config.delete_enabled, "serving");
        if let Some(metrics) = server.metrics_addr() {
            tracing::info!(%metrics, "metrics, health and readiness");
        }
        server.run(shutdown_signal()).await?;
        tracing::info!("stopped");
        Ok(())
    })
}

/// The most threads storage I/O runs on at once (tokio allows 512). Each one that has run
/// keeps its stack and a malloc arena, so after a burst of requests the server's memory
/// would grow with the burst; file operations beyond this many wait their turn, which costs
/// nothing on a machine whose disk and cores are already busy with this many.
const BLOCKING_THREADS: usize = 64;

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

fn init_logging(config: &Config) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .with_context(|| format!("invalid log filter {:?}", config.log.level))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}
