//! [`TagStore`]: a repository's tags, in Distribution's `_manifests/tags/<tag>/` layout, with
//! Gantry's reverse index (`_gantry/tags_by_digest/`) for [`TagStore::lookup`].
//!
//! Writes go in an order that keeps the reverse index a superset of the truth (the index entry
//! before the tag, the tag before the old entry's removal), and reads check each entry against
//! the tag's `current/link`, so a crash or another writer can leave a stale entry but never a
//! wrong answer. A tag's `current/link` is its first file, before its `index/` link: the list
//! of tags is the list of tag directories, so a tag whose write failed half-way is not listed
//! without resolving.

use std::sync::Arc;

use bytes::Bytes;
use gantry_reference::{Digest, RepositoryName, Tag};

use super::inner::Inner;
use super::repository::repository_exists;
use super::{indexes, paths};
use crate::StorageError;

/// The tags of one repository. See [`Repository::tags`](super::Repository::tags).
#[derive(Debug, Clone)]
pub struct TagStore {
    pub(crate) inner: Arc<Inner>,
    pub(crate) name: RepositoryName,
}

impl TagStore {
    /// The digest `tag` points at; [`StorageError::ManifestUnknown`] when there is no such tag.
    pub async fn get(&self, tag: &Tag) -> Result<Digest, StorageError> {
        let link = paths::tag_current_link(&self.name, tag)?;
        self.inner
            .read_link(&link)
            .await?
            .ok_or_else(|| StorageError::ManifestUnknown {
                reference: tag.to_string(),
            })
    }

    /// Points `tag` at the manifest `digest`, which must be in the repository. Writes
    /// `current/link`, then `index/<alg>/<hex>/link`, each atomically.
    pub async fn tag(&self, tag: &Tag, digest: &Digest) -> Result<(), StorageError> {
        let revision = paths::revision_link(&self.name, digest)?;
        if self.inner.read_link_stored(&revision).await?.is_none() {
            return Err(StorageError::ManifestUnknown {
                reference: digest.to_string(),
            });
        }
        let _repository = self.inner.lock_repository(&self.name).await;
        tag_locked(&self.inner, &self.name, tag, digest).await
    }

    /// Removes `tag` (the manifest stays); [`StorageError::ManifestUnknown`] when there is no
    /// such tag.
    pub async fn untag(&self, tag: &Tag) -> Result<(), StorageError> {
        let _repository = self.inner.lock_repository(&self.name).await;
        untag_locked(&self.inner, &self.name, tag).await
    }

    /// Up to `n` tags after `last`, sorted.
    /// [`StorageError::NameUnknown`] when the repository does not exist.
    pub async fn all(&self, n: usize, last: Option<&Tag>) -> Result<Vec<Tag>, StorageError> {
        if !repository_exists(&self.inner, &self.name).await? {
            return Err(StorageError::NameUnknown {
                name: self.name.to_string(),
            });
        }
        let mut names = self.inner.list_names(&paths::tags(&self.name)?).await?;
        names.sort_unstable();
        Ok(names
            .iter()
            .filter(|name| last.is_none_or(|last| name.as_str() > last.as_str()))
            .filter_map(|name| Tag::parse(name).ok())
            .take(n)
            .collect())
    }

    /// The tags that point at `digest`, sorted, from the reverse index (each checked against
    /// its tag as stored): no scan of every tag.
    pub async fn lookup(&self, digest: &Digest) -> Result<Vec<Tag>, StorageError> {
        indexes::ensure(&self.inner, &self.name).await?;
        lookup_indexed(&self.inner, &self.name, digest).await
    }
}

/// [`TagStore::lookup`] once the index exists. Each tag is read from storage, not the link
/// cache: a manifest delete untags what this finds, and a tag another process has just moved
/// onto the manifest must not be missed.
pub(crate) async fn lookup_indexed(
    inner: &Inner,
    name: &RepositoryName,
    digest: &Digest,
) -> Result<Vec<Tag>, StorageError> {
    let entries = inner
        .list_names(&paths::tags_by_digest(name, digest)?)
        .await?;
    let mut tags = Vec::new();
    for entry in entries {
        let Ok(tag) = Tag::parse(&entry) else {
            continue;
        };
        let current = inner
            .read_link_stored(&paths::tag_current_link(name, &tag)?)
            .await?;
        if current.as_ref() == Some(digest) {
            tags.push(tag);
        }
    }
    tags.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
    Ok(tags)
}

/// Points `tag` at `digest`; the caller holds the repository's lock.
pub(crate) async fn tag_locked(
    inner: &Inner,
    name: &RepositoryName,
    tag: &Tag,
    digest: &Digest,
) -> Result<(), StorageError> {
    let current = paths::tag_current_link(name, tag)?;
    let previous = inner.read_link_stored(&current).await?;
    write_reverse_entry(inner, name, tag, digest).await?;
    // The tag's current link first: until it exists the tag is not listed.
    inner.write_link(&current, digest).await?;
    inner
        .write_link(&paths::tag_index_link(name, tag, digest)?, digest)
        .await?;
    if let Some(previous) = previous.filter(|previous| previous != digest) {
        inner
            .delete_if_exists(&paths::tag_by_digest(name, &previous, tag)?)
            .await?;
    }
    Ok(())
}

/// Removes `tag`; the caller holds the repository's lock.
pub(crate) async fn untag_locked(
    inner: &Inner,
    name: &RepositoryName,
    tag: &Tag,
) -> Result<(), StorageError> {
    let current = paths::tag_current_link(name, tag)?;
    let Some(previous) = inner.read_link_stored(&current).await? else {
        return Err(StorageError::ManifestUnknown {
            reference: tag.to_string(),
        });
    };
    inner.delete_if_exists(&paths::tag_dir(name, tag)?).await?;
    inner
        .delete_if_exists(&paths::tag_by_digest(name, &previous, tag)?)
        .await
}

/// Records in the reverse index that `tag` points at `digest`.
pub(crate) async fn write_reverse_entry(
    inner: &Inner,
    name: &RepositoryName,
    tag: &Tag,
    digest: &Digest,
) -> Result<(), StorageError> {
    inner
        .driver
        .put_content(
            &paths::tag_by_digest(name, digest, tag)?,
            Bytes::copy_from_slice(tag.as_str().as_bytes()),
        )
        .await
}
