//! `gantry delete IMAGE`: deletes an image's manifest by digest (a tag is first resolved to
//! its digest, so every tag pointing at that manifest goes too, as in skopeo).

use clap::Args;
use serde::Serialize;

use crate::args::GlobalOptions;
use crate::{output, registry, target};

/// Arguments of `gantry delete`.
#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// The image, such as localhost:5000/team/app:1 or …/app@sha256:….
    #[arg(value_name = "IMAGE")]
    image: String,
}

/// The JSON form.
#[derive(Serialize)]
struct Deleted {
    name: String,
    digest: String,
}

/// Resolves the digest if needed, deletes, and says what was deleted.
pub(crate) async fn run(args: DeleteArgs, global: &GlobalOptions) -> anyhow::Result<()> {
    let reference = target::image(&args.image)?;
    let client = registry::client_for(global, &[target::domain(&reference)]).await?;
    let digest = match reference.digest() {
        Some(digest) => digest.clone(),
        None => client.head_manifest(&reference).await?.digest,
    };
    let by_digest = reference.name_only().with_digest(digest.clone());
    client.delete_manifest(&by_digest).await?;
    if global.json {
        return output::print_json(&Deleted {
            name: reference.name(),
            digest: digest.to_string(),
        });
    }
    output::print_text(&format!("deleted {by_digest}\n"))
}
