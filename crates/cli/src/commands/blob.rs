//! `gantry blob REPOSITORY@DIGEST`: a blob to standard output or a file, streamed and verified
//! (the last bytes are written only after the digest matched).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use futures_util::StreamExt;
use serde::Serialize;
use tokio::io::AsyncWriteExt;

use crate::args::GlobalOptions;
use crate::{output, registry, target};

/// Arguments of `gantry blob`.
#[derive(Debug, Args)]
pub(crate) struct BlobArgs {
    /// The blob, such as localhost:5000/team/app@sha256:….
    #[arg(value_name = "REPOSITORY@DIGEST")]
    blob: String,
    /// Write the blob to this file (it appears only once complete and verified) instead of
    /// standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// What `--json` prints after writing to a file.
#[derive(Serialize)]
struct Written<'a> {
    digest: String,
    size: u64,
    path: &'a Path,
}

/// Streams the blob to its destination.
pub(crate) async fn run(args: BlobArgs, global: &GlobalOptions) -> anyhow::Result<()> {
    let (repository, digest) = target::blob(&args.blob)?;
    let client = registry::client_for(global, &[target::domain(&repository)]).await?;
    let mut stream = client.get_blob(&repository, &digest).await?;
    let Some(path) = args.output else {
        let mut stdout = tokio::io::stdout();
        while let Some(chunk) = stream.next().await {
            match stdout.write_all(&chunk?).await {
                Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                result => result.context("cannot write to standard output")?,
            }
        }
        return stdout
            .flush()
            .await
            .context("cannot write to standard output");
    };
    let partial = partial_path(&path);
    let written = async {
        let mut file = tokio::fs::File::create(&partial)
            .await
            .with_context(|| format!("cannot create {}", partial.display()))?;
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            size += chunk.len() as u64;
            file.write_all(&chunk)
                .await
                .with_context(|| format!("cannot write {}", partial.display()))?;
        }
        file.sync_all()
            .await
            .with_context(|| format!("cannot write {}", partial.display()))?;
        tokio::fs::rename(&partial, &path).await.with_context(|| {
            format!("cannot rename {} to {}", partial.display(), path.display())
        })?;
        anyhow::Ok(size)
    }
    .await;
    let size = match written {
        Ok(size) => size,
        Err(error) => {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(error);
        }
    };
    if global.json {
        return output::print_json(&Written {
            digest: digest.to_string(),
            size,
            path: &path,
        });
    }
    if !global.quiet {
        eprintln!("wrote {size} bytes to {}", path.display());
    }
    Ok(())
}

/// Where the blob is written until it is complete: beside `path`, hidden.
fn partial_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "blob".to_owned());
    path.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}
