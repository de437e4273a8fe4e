//! Syncing a registry repository: every tag (or those a filter keeps) copied to another
//! repository, several at once, under one [`Copier`] so that the copies share its limits and
//! the blobs their images have in common travel once.

use std::fmt;
use std::sync::Arc;

use futures_util::StreamExt;
use gantry_client::Client;
use gantry_reference::Reference;

use super::{RegistryDestination, RegistrySource};
use crate::copy::{Copier, CopyOptions, CopyReport};
use crate::{ImageDestination, TransferError};

/// Which tags a sync copies.
pub type TagFilter = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// What a sync does.
#[derive(Clone)]
#[non_exhaustive]
pub struct SyncOptions {
    /// What each image copy does.
    pub copy: CopyOptions,
    /// The tags to copy; all when `None`.
    pub tags: Option<TagFilter>,
    /// How many images are copied at once (their blobs share the copier's limit).
    pub images_at_once: usize,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            copy: CopyOptions::default(),
            tags: None,
            images_at_once: 4,
        }
    }
}

impl fmt::Debug for SyncOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncOptions")
            .field("copy", &self.copy)
            .field("tags", &self.tags.as_ref().map(|_| "filter"))
            .field("images_at_once", &self.images_at_once)
            .finish()
    }
}

impl SyncOptions {
    /// Every tag, copied with `copy`, four images at once.
    pub fn new(copy: CopyOptions) -> SyncOptions {
        SyncOptions {
            copy,
            ..SyncOptions::default()
        }
    }

    /// Copies only the tags `filter` accepts.
    #[must_use]
    pub fn with_tag_filter(
        mut self,
        filter: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> SyncOptions {
        self.tags = Some(Arc::new(filter));
        self
    }

    /// Copies `n` images at once (at least 1).
    #[must_use]
    pub fn with_images_at_once(mut self, n: usize) -> SyncOptions {
        self.images_at_once = n.max(1);
        self
    }
}

/// What a sync did, tag by tag, in tag order.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct SyncReport {
    /// The tags copied.
    pub copied: Vec<(String, CopyReport)>,
    /// The tags that failed, and why; the others were still copied.
    pub failed: Vec<(String, TransferError)>,
}

/// Copies every tag of the repository `source` names (its tag or digest is ignored) that the
/// filter keeps to the same tag of the repository `destination` names, through `client`.
/// Fails only when the tags cannot be listed; a tag that fails is reported and the others go
/// on.
pub async fn sync_repository(
    copier: &Copier,
    client: &Client,
    source: &Reference,
    destination: &Reference,
    options: &SyncOptions,
) -> Result<SyncReport, TransferError> {
    let destination = destination.name_only();
    sync_tags(copier, client, source, options, |tag: String| {
        let tagged = destination
            .with_tag(&tag)
            .map_err(|error| TransferError::InvalidName {
                input: format!("{destination}:{tag}"),
                reason: error.to_string(),
            });
        let client = client.clone();
        async move {
            let opened: Box<dyn ImageDestination> =
                Box::new(RegistryDestination::new(client, tagged?));
            Ok(opened)
        }
    })
    .await
}

/// [`sync_repository`] to any transport: `destination_for` gives the destination of each tag
/// (a layout with that ref name, say). Destinations that take one writer at a time (every tag
/// into one OCI layout) need [`SyncOptions::images_at_once`] set to 1.
pub async fn sync_tags<F, D>(
    copier: &Copier,
    client: &Client,
    source: &Reference,
    options: &SyncOptions,
    destination_for: F,
) -> Result<SyncReport, TransferError>
where
    F: Fn(String) -> D + Sync,
    D: Future<Output = Result<Box<dyn ImageDestination>, TransferError>> + Send,
{
    let repository = source.name_only();
    let mut tags = client.list_tags(&repository).await?;
    tags.sort();
    tags.dedup();
    if let Some(filter) = &options.tags {
        tags.retain(|tag| filter(tag));
    }
    let copy_one = |tag: String| {
        let repository = &repository;
        let destination_for = &destination_for;
        async move {
            let result = async {
                let reference =
                    repository
                        .with_tag(&tag)
                        .map_err(|error| TransferError::InvalidName {
                            input: format!("{repository}:{tag}"),
                            reason: error.to_string(),
                        })?;
                let source = RegistrySource::new(client.clone(), reference);
                let destination = destination_for(tag.clone()).await?;
                copier
                    .copy(&source, destination.as_ref(), &options.copy)
                    .await
            }
            .await;
            (tag, result)
        }
    };
    let mut results: Vec<(String, Result<CopyReport, TransferError>)> =
        futures_util::stream::iter(tags)
            .map(copy_one)
            .buffer_unordered(options.images_at_once.max(1))
            .collect()
            .await;
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let mut report = SyncReport::default();
    for (tag, result) in results {
        match result {
            Ok(copied) => report.copied.push((tag, copied)),
            Err(error) => {
                tracing::warn!(%tag, %error, "a tag failed to sync");
                report.failed.push((tag, error));
            }
        }
    }
    Ok(report)
}
