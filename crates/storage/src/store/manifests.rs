//! [`ManifestStore`]: a repository's manifests, stored as blobs and linked under
//! `_manifests/revisions/`, with their exact bytes.

use std::sync::Arc;

use bytes::Bytes;
use gantry_reference::{Digest, RepositoryName, Tag};
use gantry_spec::{DescriptorRole, Manifest, ParseOptions, SpecError, media_type};

use super::inner::Inner;
use super::{blobs, indexes, paths, referrers, tags};
use crate::StorageError;

/// The manifests of one repository. See [`Repository::manifests`](super::Repository::manifests).
#[derive(Debug, Clone)]
pub struct ManifestStore {
    pub(crate) inner: Arc<Inner>,
    pub(crate) name: RepositoryName,
}

impl ManifestStore {
    /// Whether the manifest `digest` is in the repository.
    pub async fn exists(&self, digest: &Digest) -> Result<bool, StorageError> {
        let link = paths::revision_link(&self.name, digest)?;
        match self.inner.read_link(&link).await? {
            Some(target) => Ok(self.inner.blob_size(&target).await?.is_some()),
            None => Ok(false),
        }
    }

    /// The manifest `digest`, with the exact bytes it was pushed with;
    /// [`StorageError::ManifestUnknown`] when it is not in the repository.
    pub async fn get(&self, digest: &Digest) -> Result<Manifest, StorageError> {
        get_manifest(&self.inner, &self.name, digest).await
    }

    /// The manifest `tag` points at.
    pub async fn get_by_tag(&self, tag: &Tag) -> Result<Manifest, StorageError> {
        let digest = self.tags().get(tag).await?;
        self.get(&digest).await
    }

    fn tags(&self) -> tags::TagStore {
        tags::TagStore {
            inner: Arc::clone(&self.inner),
            name: self.name.clone(),
        }
    }

    /// Reads manifest bytes received with `content_type` (within the size limit, as
    /// [`Manifest::parse_with`] does, with sha256) and stores them with
    /// [`put_manifest`](Self::put_manifest). Bad bytes are [`StorageError::ManifestInvalid`].
    pub async fn put(
        &self,
        bytes: Bytes,
        content_type: Option<&str>,
        tag: Option<&Tag>,
    ) -> Result<Digest, StorageError> {
        let options = ParseOptions::new().with_max_size(self.inner.options.max_manifest_size);
        let manifest = Manifest::parse_with(bytes, content_type, &options)
            .map_err(StorageError::ManifestInvalid)?;
        self.put_manifest(&manifest, tag).await
    }

    /// Stores a parsed manifest (under its [`Manifest::digest`], so the caller chooses the
    /// algorithm) and tags it when `tag` is given. Every blob it needs (config and layers,
    /// except non-distributable layers with `urls`) must be linked into the repository, and,
    /// unless sparse indexes are allowed (the default), every index entry must be a manifest
    /// of it, else [`StorageError::ManifestBlobUnknown`]; the `subject` need not exist. A manifest with a subject enters the referrers index.
    pub async fn put_manifest(
        &self,
        manifest: &Manifest,
        tag: Option<&Tag>,
    ) -> Result<Digest, StorageError> {
        let limit = self.inner.options.max_manifest_size;
        if manifest.bytes().len() > limit {
            return Err(StorageError::ManifestInvalid(SpecError::TooLarge {
                limit: limit as u64,
                size: manifest.size(),
            }));
        }
        self.check_references(manifest).await?;
        let digest = manifest.digest().clone();
        blobs::store_content(&self.inner, &digest, manifest.bytes().clone()).await?;
        // The first pull after a push reads it from memory, as every later one does.
        if manifest.bytes().len() <= MANIFEST_CACHE_MAX_SIZE {
            self.inner
                .manifests
                .insert(digest.clone(), manifest.clone());
        }
        let _repository = self.inner.lock_repository(&self.name).await;
        // The referrers entry goes first: the index may name a manifest that is not there
        // (reads check), never miss one that is.
        referrers::add(&self.inner, &self.name, manifest).await?;
        self.inner
            .write_link(&paths::revision_link(&self.name, &digest)?, &digest)
            .await?;
        if let Some(tag) = tag {
            tags::tag_locked(&self.inner, &self.name, tag, &digest).await?;
        }
        Ok(digest)
    }

    async fn check_references(&self, manifest: &Manifest) -> Result<(), StorageError> {
        let blobs = blobs::BlobStore {
            inner: Arc::clone(&self.inner),
            name: self.name.clone(),
        };
        for (role, descriptor) in manifest.references() {
            let present = match role {
                DescriptorRole::Subject => continue,
                DescriptorRole::Manifest if self.inner.options.sparse_indexes => continue,
                DescriptorRole::Manifest => self.exists(&descriptor.digest).await?,
                _ if !descriptor.urls.is_empty()
                    && is_non_distributable(&descriptor.media_type) =>
                {
                    continue;
                }
                _ => match blobs.stat(&descriptor.digest).await {
                    Ok(_) => true,
                    Err(StorageError::BlobUnknown { .. }) => false,
                    Err(error) => return Err(error),
                },
            };
            if !present {
                return Err(StorageError::ManifestBlobUnknown {
                    digest: descriptor.digest.clone(),
                });
            }
        }
        Ok(())
    }

    /// Deletes the manifest: its revision link, every tag pointing at it, and its referrers
    /// index entry (the bytes stay for garbage collection). [`StorageError::DeleteDisabled`]
    /// unless deleting is enabled; [`StorageError::ManifestUnknown`] when it is not there.
    pub async fn delete(&self, digest: &Digest) -> Result<(), StorageError> {
        if !self.inner.options.delete_enabled {
            return Err(StorageError::DeleteDisabled);
        }
        indexes::ensure(&self.inner, &self.name).await?;
        let manifest = self.get(digest).await?;
        let _repository = self.inner.lock_repository(&self.name).await;
        for tag in tags::lookup_indexed(&self.inner, &self.name, digest).await? {
            tags::untag_locked(&self.inner, &self.name, &tag).await?;
        }
        let revision = paths::revision_dir(&self.name, digest)?;
        match self.inner.delete(&revision).await {
            Err(StorageError::PathNotFound { .. }) => {
                return Err(StorageError::ManifestUnknown {
                    reference: digest.to_string(),
                });
            }
            other => other?,
        }
        referrers::remove(&self.inner, &self.name, &manifest).await
    }
}

/// How many manifests the in-memory cache keeps, at most.
pub(crate) const MANIFEST_CACHE_CAPACITY: usize = 1024;

/// Manifests larger than this are read from storage every time.
const MANIFEST_CACHE_MAX_SIZE: usize = 16 << 10;

/// The manifest `digest` of repository `name`. The revision link is read every time (a
/// manifest may be deleted); the bytes it points at never change, so small manifests are kept
/// in memory once read.
pub(crate) async fn get_manifest(
    inner: &Inner,
    name: &RepositoryName,
    digest: &Digest,
) -> Result<Manifest, StorageError> {
    let unknown = || StorageError::ManifestUnknown {
        reference: digest.to_string(),
    };
    let link = paths::revision_link(name, digest)?;
    let target = inner.read_link(&link).await?.ok_or_else(unknown)?;
    if let Some(manifest) = inner.manifests.get(&target) {
        return Ok(manifest);
    }
    let data = paths::blob_data(&target)?;
    let bytes = match inner.driver.get_content(&data).await {
        Ok(bytes) => bytes,
        Err(StorageError::PathNotFound { .. }) => return Err(unknown()),
        Err(error) => return Err(error),
    };
    // What was stored was checked against the limit in force then; read it whatever its size.
    let options = ParseOptions::new()
        .with_max_size(usize::MAX)
        .with_algorithm(target.algorithm());
    let manifest =
        Manifest::parse_with(bytes, None, &options).map_err(StorageError::ManifestInvalid)?;
    if manifest.bytes().len() <= MANIFEST_CACHE_MAX_SIZE && manifest.digest() == &target {
        inner.manifests.insert(target, manifest.clone());
    }
    Ok(manifest)
}

/// Foreign and non-distributable layers, which may live elsewhere (their `urls`).
fn is_non_distributable(media_type: &str) -> bool {
    matches!(
        media_type,
        media_type::OCI_LAYER_NONDISTRIBUTABLE_TAR
            | media_type::OCI_LAYER_NONDISTRIBUTABLE_TAR_GZIP
            | media_type::OCI_LAYER_NONDISTRIBUTABLE_TAR_ZSTD
            | media_type::DOCKER_FOREIGN_LAYER_TAR_GZIP
    )
}
