//! `gantry catalog REGISTRY`: the repositories of a registry, every page of them.

use clap::Args;
use serde::Serialize;

use crate::args::GlobalOptions;
use crate::{output, registry, target};

/// Arguments of `gantry catalog`.
#[derive(Debug, Args)]
pub(crate) struct CatalogArgs {
    /// The registry, such as localhost:5000.
    #[arg(value_name = "REGISTRY")]
    registry: String,
}

/// The JSON form.
#[derive(Serialize)]
struct Catalog<'a> {
    registry: &'a str,
    repositories: &'a [String],
}

/// Prints one repository a line, or `{"registry","repositories"}` with `--json`.
pub(crate) async fn run(args: CatalogArgs, global: &GlobalOptions) -> anyhow::Result<()> {
    let host = target::registry_host(&args.registry)?;
    let client = registry::client_for(global, &[&host]).await?;
    let repositories = client.catalog(&host).await?;
    if global.json {
        return output::print_json(&Catalog {
            registry: &host,
            repositories: &repositories,
        });
    }
    output::print_text(&super::tags::lines(&repositories))
}
