//! `gantry sync SOURCE-REPOSITORY DESTINATION-REPOSITORY`: every tag of a repository (or those
//! a regular expression matches) copied to another, under one shared blob limit.

use anyhow::Context;
use clap::Args;
use gantry_transfer::registry::{SyncOptions, sync_repository};
use regex::Regex;
use serde::Serialize;

use crate::args::GlobalOptions;
use crate::commands::copy::{Copied, TransferOptions};
use crate::exit::usage;
use crate::{output, registry, target};

/// Arguments of `gantry sync`.
#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    /// The repository to copy from, such as registry.example/team/app.
    #[arg(value_name = "SOURCE-REPOSITORY")]
    source: String,
    /// The repository to copy to; each tag keeps its name.
    #[arg(value_name = "DESTINATION-REPOSITORY")]
    destination: String,
    /// Copy only the tags this regular expression matches, whole (such as 'v1\..*').
    #[arg(long, value_name = "REGEX")]
    tags: Option<String>,
    /// How many images are copied at once (their blobs share --jobs).
    #[arg(long, value_name = "N", default_value_t = 4)]
    images: usize,
    /// What to copy and how.
    #[command(flatten)]
    transfer: TransferOptions,
}

/// The JSON form.
#[derive(Serialize)]
struct Synced {
    copied: Vec<SyncedTag>,
    failed: Vec<FailedTag>,
}

#[derive(Serialize)]
struct SyncedTag {
    tag: String,
    #[serde(flatten)]
    copied: Copied,
}

#[derive(Serialize)]
struct FailedTag {
    tag: String,
    error: String,
}

/// Syncs, prints a line per tag (or `--json`), and fails if any tag failed.
pub(crate) async fn run(args: SyncArgs, global: &GlobalOptions) -> anyhow::Result<()> {
    let source = target::repository(&args.source)?;
    let destination = target::repository(&args.destination)?;
    let filter = args
        .tags
        .as_deref()
        .map(|pattern| {
            Regex::new(&format!("^(?:{pattern})$"))
                .map_err(|error| usage(format!("invalid --tags expression: {error}")))
        })
        .transpose()?;
    let mut options =
        SyncOptions::new(args.transfer.copy_options(global)?).with_images_at_once(args.images);
    if let Some(filter) = filter {
        options = options.with_tag_filter(move |tag| filter.is_match(tag));
    }
    let hosts = [target::domain(&source), target::domain(&destination)];
    let client = registry::client_for(global, &hosts).await?;
    let report = sync_repository(
        &args.transfer.copier(),
        &client,
        &source,
        &destination,
        &options,
    )
    .await
    .with_context(|| format!("cannot sync {source} to {destination}"))?;
    let failures = report.failed.len();
    let first_failure = report
        .failed
        .first()
        .map(|(tag, error)| format!("{tag}: {error}"));
    let synced = Synced {
        copied: report
            .copied
            .iter()
            .map(|(tag, copied)| SyncedTag {
                tag: tag.clone(),
                copied: Copied::new(copied),
            })
            .collect(),
        failed: report
            .failed
            .iter()
            .map(|(tag, error)| FailedTag {
                tag: tag.clone(),
                error: error.to_string(),
            })
            .collect(),
    };
    if global.json {
        output::print_json(&synced)?;
    } else {
        let mut text = String::new();
        for tag in &synced.copied {
            text.push_str(&format!("copied {}: {}\n", tag.tag, tag.copied.to_text()));
        }
        for tag in &synced.failed {
            text.push_str(&format!("failed {}: {}\n", tag.tag, tag.error));
        }
        if synced.copied.is_empty() && synced.failed.is_empty() {
            text.push_str("no tag to copy\n");
        }
        output::print_text(&text)?;
    }
    match first_failure {
        None => Ok(()),
        Some(first) => Err(anyhow::anyhow!(
            "{failures} of {} tags failed to sync; the first: {first}",
            synced.copied.len() + failures
        )),
    }
}
