//! `gantry digest IMAGE`: the digest of an image's manifest, from a `HEAD` request.

use clap::Args;
use serde::Serialize;

use crate::args::GlobalOptions;
use crate::{output, registry, target};

/// Arguments of `gantry digest`.
#[derive(Debug, Args)]
pub(crate) struct DigestArgs {
    /// The image, such as localhost:5000/team/app:1.
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
    let reference = target::image(&args.image)?;
    let client = registry::client_for(global, &[target::domain(&reference)]).await?;
    let descriptor = client.head_manifest(&reference).await?;
    if global.json {
        return output::print_json(&DigestOutput {
            name: reference.to_string(),
            digest: descriptor.digest.to_string(),
            media_type: descriptor.media_type,
            size: descriptor.size,
        });
    }
    output::print_text(&format!("{}\n", descriptor.digest))
}
