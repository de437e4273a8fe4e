//! [`Repository`]: a cheap handle on one repository, from which its blob, manifest and tag
//! stores and its referrers are reached.

use std::sync::Arc;

use gantry_reference::{Digest, RepositoryName};
use gantry_spec::Descriptor;

use super::blobs::BlobStore;
use super::inner::Inner;
use super::manifests::ManifestStore;
use super::tags::TagStore;
use super::{indexes, paths, referrers};
use crate::StorageError;

/// One repository of a [`Registry`](super::Registry). Making one does no I/O.
#[derive(Debug, Clone)]
pub struct Repository {
    inner: Arc<Inner>,
    name: RepositoryName,
}

impl Repository {
    pub(crate) fn new(inner: Arc<Inner>, name: RepositoryName) -> Repository {
        Repository { inner, name }
    }

    /// The repository's name.
    pub fn name(&self) -> &RepositoryName {
        &self.name
    }

    /// Whether the repository exists: its directory holds `_manifests` or `_layers`, as
    /// Distribution decides.
    pub async fn exists(&self) -> Result<bool, StorageError> {
        repository_exists(&self.inner, &self.name).await
    }

    /// The blobs linked into the repository.
    pub fn blobs(&self) -> BlobStore {
        BlobStore {
            inner: Arc::clone(&self.inner),
            name: self.name.clone(),
        }
    }

    /// The repository's manifests.
    pub fn manifests(&self) -> ManifestStore {
        ManifestStore {
            inner: Arc::clone(&self.inner),
            name: self.name.clone(),
        }
    }

    /// The repository's tags.
    pub fn tags(&self) -> TagStore {
        TagStore {
            inner: Arc::clone(&self.inner),
            name: self.name.clone(),
        }
    }

    /// The descriptors of the manifests in this repository whose `subject` is `subject`
    /// (media type, digest, size, artifact type and annotations), sorted by digest, keeping
    /// only those of `artifact_type` when given. Read from the referrers index, not by parsing
    /// manifests.
    pub async fn referrers(
        &self,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, StorageError> {
        indexes::ensure(&self.inner, &self.name).await?;
        referrers::list(&self.inner, &self.name, subject, artifact_type).await
    }

    /// Rebuilds the indexes Distribution lacks (tags by digest, referrers) from the layout.
    /// Done on its own when they are absent; call it after another program (such as
    /// Distribution) wrote to the repository.
    pub async fn rebuild_indexes(&self) -> Result<(), StorageError> {
        let _repository = self.inner.lock_repository(&self.name).await;
        indexes::rebuild_locked(&self.inner, &self.name).await
    }
}

/// Whether `name`'s directory holds `_manifests` or `_layers`.
pub(crate) async fn repository_exists(
    inner: &Inner,
    name: &RepositoryName,
) -> Result<bool, StorageError> {
    let children = inner.list_names(&paths::repository(name)?).await?;
    Ok(children
        .iter()
        .any(|child| child == "_manifests" || child == "_layers"))
}
