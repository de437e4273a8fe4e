//! `gantry inspect IMAGE`: an image's manifest, config summary, layers and platforms; with
//! `--raw` the manifest's bytes, with `--config` the config blob's.

use std::collections::BTreeMap;

use anyhow::Context;
use clap::Args;
use gantry_spec::{Descriptor, ImageConfig, Manifest, Platform};
use serde::Serialize;

use crate::args::GlobalOptions;
use crate::exit::usage;
use crate::output::{self, human_size};
use crate::source::OpenedImage;

/// The largest config blob read for the summary; larger ones are left out of it.
const MAX_CONFIG_SIZE: u64 = 8 * 1024 * 1024;

/// Arguments of `gantry inspect`.
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// The image: a registry reference such as localhost:5000/team/app:1, or oci:DIR[:REF],
    /// oci-archive:FILE[:REF], docker-archive:FILE[:REF].
    #[arg(value_name = "IMAGE")]
    image: String,
    /// Print the manifest's bytes as the registry holds them.
    #[arg(long, conflicts_with = "config")]
    raw: bool,
    /// Print the config blob's bytes (of the --platform image, or the host's, for an index).
    #[arg(long)]
    config: bool,
    /// For an index: inspect the image for this platform, such as linux/arm64.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<String>,
}

/// Prints the summary (text or `--json`), or the raw manifest or config.
pub(crate) async fn run(args: InspectArgs, global: &GlobalOptions) -> anyhow::Result<()> {
    let platform = args.platform.as_deref().map(parse_platform).transpose()?;
    let reader = OpenedImage::open(&args.image, global).await?;
    let top = reader.source.manifest(None).await?;
    let wanted = match (&platform, args.config) {
        (Some(platform), _) => Some(platform.clone()),
        (None, true) => Some(Platform::host()),
        (None, false) => None,
    };
    let (image, index) = match (top.as_index(), wanted) {
        (Some(_), Some(platform)) => {
            let child = reader.platform_manifest(&top, &platform).await?;
            (child, Some(top))
        }
        _ => (top, None),
    };
    if args.raw {
        return output::write_stdout(image.bytes());
    }
    if args.config {
        let config = image.config().ok_or_else(|| {
            anyhow::anyhow!(
                "{} is not an image manifest: it has no config",
                reader.name()
            )
        })?;
        return reader.stream_blob(config, output::write_stdout).await;
    }
    let summary = summarise(&reader, &image, index.as_ref()).await?;
    if global.json {
        return output::print_json(&summary);
    }
    output::print_text(&summary.to_text())
}

/// Reads `os/arch[/variant]`.
pub(crate) fn parse_platform(input: &str) -> anyhow::Result<Platform> {
    Platform::parse(input).map_err(|error| usage(format!("invalid platform {input:?}: {error}")))
}

/// What `inspect` shows of an image or an index.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Summary {
    name: String,
    digest: String,
    media_type: String,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    artifact_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    platform: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    config: Option<Descriptor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    layers: Option<Vec<Descriptor>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total_layer_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    manifests: Option<Vec<Descriptor>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cmd: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    env: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
}

/// Gathers the summary of `manifest` (and of its config, when it is an image's).
async fn summarise(
    reader: &OpenedImage,
    manifest: &Manifest,
    index: Option<&Manifest>,
) -> anyhow::Result<Summary> {
    let mut summary = Summary {
        name: reader.name(),
        digest: manifest.digest().to_string(),
        media_type: manifest.media_type().to_owned(),
        size: manifest.size(),
        index: index.map(|index| index.digest().to_string()),
        artifact_type: manifest.artifact_type().map(str::to_owned),
        platform: None,
        created: None,
        config: None,
        layers: None,
        total_layer_size: None,
        manifests: None,
        annotations: manifest.annotations().clone(),
        entrypoint: None,
        cmd: None,
        env: Vec::new(),
        labels: BTreeMap::new(),
    };
    if manifest.as_index().is_some() {
        summary.manifests = Some(manifest.manifests().to_vec());
        return Ok(summary);
    }
    summary.layers = Some(manifest.layers().to_vec());
    summary.total_layer_size = Some(manifest.layers().iter().map(|layer| layer.size).sum());
    if let Some(descriptor) = manifest.config() {
        summary.config = Some(descriptor.clone());
        if let Some(config) = read_config(reader, descriptor).await? {
            summary.platform = Some(config.platform().to_string());
            summary.created = config.created.clone();
            if let Some(container) = config.config {
                summary.entrypoint = container.entrypoint;
                summary.cmd = container.cmd;
                summary.env = container.env;
                summary.labels = container.labels;
            }
        }
    }
    Ok(summary)
}

/// The image config `descriptor` names, when it is one of reasonable size that parses (an
/// artifact's config often is not).
async fn read_config(
    reader: &OpenedImage,
    descriptor: &Descriptor,
) -> anyhow::Result<Option<ImageConfig>> {
    if descriptor.size > MAX_CONFIG_SIZE {
        return Ok(None);
    }
    let bytes = reader
        .small_blob(descriptor)
        .await
        .with_context(|| format!("cannot read the config blob {}", descriptor.digest))?;
    Ok(ImageConfig::parse(&bytes).ok())
}

impl Summary {
    /// The text form: aligned fields, then the layers or platforms, one a line.
    fn to_text(&self) -> String {
        let mut out = String::new();
        field(&mut out, "Name", &self.name);
        field(&mut out, "Digest", &self.digest);
        field(&mut out, "Media type", &self.media_type);
        field(&mut out, "Size", &self.size.to_string());
        if let Some(index) = &self.index {
            field(&mut out, "Index", index);
        }
        if let Some(artifact_type) = &self.artifact_type {
            field(&mut out, "Artifact type", artifact_type);
        }
        if let Some(platform) = &self.platform {
            field(&mut out, "Platform", platform);
        }
        if let Some(created) = &self.created {
            field(&mut out, "Created", created);
        }
        if let Some(entrypoint) = &self.entrypoint {
            field(&mut out, "Entrypoint", &entrypoint.join(" "));
        }
        if let Some(cmd) = &self.cmd {
            field(&mut out, "Cmd", &cmd.join(" "));
        }
        if let Some(config) = &self.config {
            field(&mut out, "Config", config.digest.as_ref());
        }
        for (key, value) in &self.annotations {
            out.push_str(&format!("Annotation:   {key}={value}\n"));
        }
        for (key, value) in &self.labels {
            out.push_str(&format!("Label:        {key}={value}\n"));
        }
        if let Some(layers) = &self.layers {
            let total = self.total_layer_size.unwrap_or_default();
            out.push_str(&format!(
                "Layers:       {} ({})\n",
                layers.len(),
                human_size(total)
            ));
            for layer in layers {
                out.push_str(&format!(
                    "  {}  {:>10}  {}\n",
                    layer.digest,
                    human_size(layer.size),
                    layer.media_type
                ));
            }
        }
        if let Some(manifests) = &self.manifests {
            out.push_str(&format!("Platforms:    {}\n", manifests.len()));
            for entry in manifests {
                let platform = entry
                    .platform
                    .as_ref()
                    .map_or_else(|| "unknown".to_owned(), ToString::to_string);
                out.push_str(&format!(
                    "  {platform:<16}  {}  {}\n",
                    entry.digest, entry.media_type
                ));
            }
        }
        out
    }
}

/// Appends `name:` and `value`, aligned, on a line of its own.
fn field(out: &mut String, name: &str, value: &str) {
    out.push_str(&format!("{:<14}{value}\n", format!("{name}:")));
}
