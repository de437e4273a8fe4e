//! `gantry tags REPOSITORY`: the tags of a repository, every page of them.

use clap::Args;
use serde::Serialize;

use crate::args::GlobalOptions;
use crate::{output, registry, target};

/// Arguments of `gantry tags`.
#[derive(Debug, Args)]
pub(crate) struct TagsArgs {
    /// The repository, such as localhost:5000/team/app (a tag given is ignored).
    #[arg(value_name = "REPOSITORY")]
    repository: String,
}

/// The JSON form.
#[derive(Serialize)]
struct Listing<'a> {
    name: String,
    tags: &'a [String],
}

/// Prints one tag a line, or `{"name","tags"}` with `--json`.
pub(crate) async fn run(args: TagsArgs, global: &GlobalOptions) -> anyhow::Result<()> {
    let repository = target::repository(&args.repository)?;
    let client = registry::client_for(global, &[target::domain(&repository)]).await?;
    let tags = client.list_tags(&repository).await?;
    if global.json {
        return output::print_json(&Listing {
            name: repository.name(),
            tags: &tags,
        });
    }
    output::print_text(&lines(&tags))
}

/// Each item on its own line.
pub(crate) fn lines(items: &[String]) -> String {
    items.iter().map(|item| format!("{item}\n")).collect()
}
