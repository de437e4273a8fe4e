//! Gantry's indexes beside Distribution's layout (`_gantry/`): made complete from the layout
//! when absent, and on request, so they are never the only copy of a fact.
//!
//! `_gantry/version` is written last by a rebuild: without it (a directory Distribution wrote,
//! or a rebuild cut short) the indexes are rebuilt before they are read.

use bytes::Bytes;
use gantry_reference::{Digest, RepositoryName, Tag};

use super::inner::Inner;
use super::manifests::get_manifest;
use super::{paths, referrers, tags};
use crate::StorageError;

/// The layout version of the `_gantry` indexes.
pub(crate) const VERSION: &str = "1";

/// Rebuilds the indexes when the version file is missing or names another version.
pub(crate) async fn ensure(inner: &Inner, name: &RepositoryName) -> Result<(), StorageError> {
    if is_current(inner, name).await? {
        return Ok(());
    }
    let _repository = inner.lock_repository(name).await;
    // Another task may have rebuilt them while this one waited.
    if is_current(inner, name).await? {
        return Ok(());
    }
    if inner
        .list_names(&paths::repository(name)?)
        .await?
        .iter()
        .all(|child| child != "_manifests")
    {
        // No manifests, no tags: nothing to index, and nothing to write for a repository that
        // may not exist.
        return Ok(());
    }
    rebuild_locked(inner, name).await
}

async fn is_current(inner: &Inner, name: &RepositoryName) -> Result<bool, StorageError> {
    match inner.driver.get_content(&paths::index_version(name)?).await {
        Ok(content) => Ok(content.as_ref() == VERSION.as_bytes()),
        Err(StorageError::PathNotFound { .. }) => Ok(false),
        Err(error) => Err(error),
    }
}

/// Rebuilds both indexes from the layout; the caller holds the repository's lock.
pub(crate) async fn rebuild_locked(
    inner: &Inner,
    name: &RepositoryName,
) -> Result<(), StorageError> {
    inner.delete_if_exists(&paths::index_version(name)?).await?;
    inner
        .delete_if_exists(&paths::tags_by_digest_root(name)?)
        .await?;
    inner
        .delete_if_exists(&paths::referrers_root(name)?)
        .await?;

    for tag in inner.list_names(&paths::tags(name)?).await? {
        let Ok(tag) = Tag::parse(&tag) else {
            continue;
        };
        let link = paths::tag_current_link(name, &tag)?;
        if let Some(digest) = inner.read_link_stored(&link).await? {
            tags::write_reverse_entry(inner, name, &tag, &digest).await?;
        }
    }

    let revisions = paths::revisions(name)?;
    for algorithm in inner.list_names(&revisions).await? {
        for encoded in inner.list_names(&revisions.join(&algorithm)?).await? {
            let Ok(digest) = Digest::parse(&format!("{algorithm}:{encoded}")) else {
                continue;
            };
            match get_manifest(inner, name, &digest).await {
                Ok(manifest) => referrers::add(inner, name, &manifest).await?,
                // A damaged or vanished revision has no referrers entry; reads do not fail.
                Err(
                    StorageError::ManifestUnknown { .. }
                    | StorageError::ManifestInvalid(_)
                    | StorageError::Corrupt { .. },
                ) => {}
                Err(error) => return Err(error),
            }
        }
    }
    inner
        .driver
        .put_content(
            &paths::index_version(name)?,
            Bytes::from_static(VERSION.as_bytes()),
        )
        .await
}
