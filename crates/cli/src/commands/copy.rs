//! `gantry copy SOURCE DESTINATION`: one image between any two transports, through the
//! transfer engine, with progress.

use anyhow::Context;
use clap::Args;
use gantry_client::Credential;
use gantry_transfer::ImageName;
use gantry_transfer::copy::{Copier, CopyOptions, CopyReport, ManifestFormat, PlatformSelection};
use gantry_transfer::open::{open_destination, open_source};
use serde::Serialize;

use crate::args::GlobalOptions;
use crate::exit::usage;
use crate::output::{self, human_size};
use crate::{progress, registry, target};

/// Arguments of `gantry copy`.
#[derive(Debug, Args)]
pub(crate) struct CopyArgs {
    /// Where the image is: a registry reference (docker://… or bare), oci:DIR[:REF],
    /// oci-archive:FILE[:REF] or docker-archive:FILE[:REF].
    #[arg(value_name = "SOURCE")]
    source: String,
    /// Where to put it, named the same way.
    #[arg(value_name = "DESTINATION")]
    destination: String,
    /// Credentials for the source registry, USER:PASS (over --creds).
    #[arg(long, value_name = "USER:PASS")]
    src_creds: Option<String>,
    /// Credentials for the destination registry, USER:PASS (over --creds).
    #[arg(long, value_name = "USER:PASS")]
    dest_creds: Option<String>,
    /// What to copy and how.
    #[command(flatten)]
    transfer: TransferOptions,
}

/// What `copy` and `sync` share: which images, in which format, how many blobs at once.
#[derive(Debug, Args)]
pub(crate) struct TransferOptions {
    /// From an index, copy the image for this platform (the host's by default).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", conflicts_with = "all")]
    platform: Option<String>,
    /// Copy the whole index and every image it lists.
    #[arg(long)]
    all: bool,
    /// Write manifests in this format (by default they are copied byte for byte, digests
    /// unchanged).
    #[arg(long, value_name = "FORMAT", value_parser = ["oci", "v2s2"])]
    format: Option<String>,
    /// Copy the referrers (signatures, SBOMs) of every manifest copied.
    #[arg(long)]
    referrers: bool,
    /// How many blobs are copied at once, over every image of the command.
    #[arg(long, value_name = "N", default_value_t = Copier::DEFAULT_BLOBS)]
    jobs: usize,
}

impl TransferOptions {
    /// The copy options these ask for, reporting progress to `global`'s renderer.
    pub(crate) fn copy_options(&self, global: &GlobalOptions) -> anyhow::Result<CopyOptions> {
        let platforms = match (&self.platform, self.all) {
            (_, true) => PlatformSelection::All,
            (Some(platform), false) => PlatformSelection::parse(platform)
                .map_err(|error| usage(format!("invalid platform {platform:?}: {error}")))?,
            (None, false) => PlatformSelection::Host,
        };
        let format = self
            .format
            .as_deref()
            .map(ManifestFormat::parse)
            .transpose()
            .map_err(|error| usage(error.to_string()))?;
        Ok(CopyOptions::new()
            .with_platforms(platforms)
            .with_format(format)
            .with_referrers(self.referrers)
            .with_progress(progress::sink(progress::mode(global))))
    }

    /// A copier with this many blobs at once.
    pub(crate) fn copier(&self) -> Copier {
        Copier::with_limits(self.jobs.max(1), Copier::DEFAULT_REQUESTS_PER_REGISTRY)
    }
}

/// The JSON form of a finished copy.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Copied {
    digest: String,
    media_type: String,
    size: u64,
    source_digest: String,
    manifests: usize,
    blobs_transferred: u64,
    blobs_skipped: u64,
    blobs_mounted: u64,
    blobs_shared: u64,
    bytes: u64,
    retries: u64,
    referrers: usize,
}

impl Copied {
    /// The summary of `report`.
    pub(crate) fn new(report: &CopyReport) -> Copied {
        Copied {
            digest: report.manifest.digest.to_string(),
            media_type: report.manifest.media_type.clone(),
            size: report.manifest.size,
            source_digest: report.source_digest.to_string(),
            manifests: report.manifests.len(),
            blobs_transferred: report.blobs.transferred,
            blobs_skipped: report.blobs.skipped,
            blobs_mounted: report.blobs.mounted,
            blobs_shared: report.blobs.shared,
            bytes: report.bytes,
            retries: report.retries,
            referrers: report.referrers.len(),
        }
    }

    /// One line for people.
    pub(crate) fn to_text(&self) -> String {
        format!(
            "{} ({} sent; blobs: {} copied, {} already there, {} mounted)",
            self.digest,
            human_size(self.bytes),
            self.blobs_transferred + self.blobs_shared,
            self.blobs_skipped,
            self.blobs_mounted
        )
    }
}

/// Copies, then prints the destination's digest and what moved (or `--json`).
pub(crate) async fn run(args: CopyArgs, global: &GlobalOptions) -> anyhow::Result<()> {
    let source = target::image_name(&args.source)?;
    let destination = target::image_name(&args.destination)?;
    let options = args.transfer.copy_options(global)?;
    let mut overrides: Vec<(&str, Credential)> = Vec::new();
    for (flag, creds, name) in [
        ("--src-creds", &args.src_creds, &source),
        ("--dest-creds", &args.dest_creds, &destination),
    ] {
        let Some(creds) = creds else { continue };
        let ImageName::Registry(reference) = name else {
            return Err(usage(format!(
                "{flag} applies to a registry, and {name} is not one"
            )));
        };
        overrides.push((target::domain(reference), registry::parse_creds(creds)?));
    }
    let hosts = target::registry_hosts(&[&source, &destination]);
    let client = registry::client_with_overrides(global, &hosts, &overrides).await?;
    let from = open_source(&source, &client)
        .await
        .with_context(|| format!("cannot read {source}"))?;
    let to = open_destination(&destination, &client)
        .await
        .with_context(|| format!("cannot write {destination}"))?;
    let report = args
        .transfer
        .copier()
        .copy(from.as_ref(), to.as_ref(), &options)
        .await
        .with_context(|| format!("copying {source} to {destination} failed"))?;
    let copied = Copied::new(&report);
    if global.json {
        return output::print_json(&copied);
    }
    output::print_text(&format!(
        "copied {source} to {destination}: {}\n",
        copied.to_text()
    ))
}
