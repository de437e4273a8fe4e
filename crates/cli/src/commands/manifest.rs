//! `gantry manifest IMAGE`: an image's manifest, byte for byte as the registry holds it.

use clap::Args;

use crate::args::GlobalOptions;
use crate::commands::inspect::parse_platform;
use crate::output;
use crate::source::OpenedImage;

/// Arguments of `gantry manifest`.
#[derive(Debug, Args)]
pub(crate) struct ManifestArgs {
    /// The image: a registry reference such as localhost:5000/team/app:1, or oci:DIR[:REF],
    /// oci-archive:FILE[:REF], docker-archive:FILE[:REF].
    #[arg(value_name = "IMAGE")]
    image: String,
    /// For an index: print the manifest of the image for this platform instead.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<String>,
}

/// Writes the manifest's bytes (JSON already, so `--json` changes nothing) to standard output.
pub(crate) async fn run(args: ManifestArgs, global: &GlobalOptions) -> anyhow::Result<()> {
    let platform = args.platform.as_deref().map(parse_platform).transpose()?;
    let reader = OpenedImage::open(&args.image, global).await?;
    let mut manifest = reader.source.manifest(None).await?;
    if let Some(platform) = platform
        && manifest.as_index().is_some()
    {
        manifest = reader.platform_manifest(&manifest, &platform).await?;
    }
    output::write_stdout(manifest.bytes())
}
