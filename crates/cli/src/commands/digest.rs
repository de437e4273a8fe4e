//! `gantry digest IMAGE`: the digest of an image's manifest (from a `HEAD` request, for a
//! registry).

use clap::Args;
use serde::Serialize;

use crate::args::GlobalOptions;
use gantry_transfer::ImageName;

use crate::output;
use crate::source::OpenedImage;

/// Arguments of `gantry digest`.
#[derive(Debug, Args)]
pub(crate) struct DigestArgs {
    /// The image: a registry reference such as localhost:5000/team/app:1, or oci:DIR[:REF],
    /// oci-archive:FILE[:REF], docker-archive:FILE[:REF].
    #[arg(value_name = "IMAGE")]
    image: String,
}

/// The JSON form.
#[derive(Serialize)]
struct DigestOutput {
    name: String,
    digest: String,
    #[serde(rename = "mediaType")]
    media_type: String,
    size: u64,
}

/// Prints the digest, or `{"name","digest","mediaType","size"}` with `--json`.
pub(crate) async fn run(args: DigestArgs, global: &GlobalOptions) -> anyhow::Result<()> {
    let reader = OpenedImage::open(&args.image, global).await?;
    let descriptor = match reader.source.name() {
        ImageName::Registry(reference) => reader.client.head_manifest(reference).await?,
        _ => reader.source.manifest(None).await?.descriptor(),
    };
    if global.json {
        return output::print_json(&DigestOutput {
            name: reader.name(),
            digest: descriptor.digest.to_string(),
            media_type: descriptor.media_type,
            size: descriptor.size,
        });
    }
    output::print_text(&format!("{}\n", descriptor.digest))
}
