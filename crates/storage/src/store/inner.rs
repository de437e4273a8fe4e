//! What every handle of one registry shares: the driver, the options, the descriptor cache and
//! the keyed locks, with the small file helpers the stores build on.

use std::sync::Arc;

use bytes::Bytes;
use gantry_reference::Digest;
use gantry_spec::Manifest;
use tokio::sync::OwnedMutexGuard;

use super::cache::BoundedCache;
use super::catalog::CatalogCache;
use super::links::LinkCache;
use super::locks::KeyedLocks;
use super::options::RegistryOptions;
use super::paths;
use crate::{StorageDriver, StorageError, StoragePath};

/// The shared state behind a [`Registry`](super::Registry) and its handles.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) driver: Arc<dyn StorageDriver>,
    pub(crate) options: RegistryOptions,
    pub(crate) secret: Vec<u8>,
    /// Blob sizes by digest: a blob's content never changes while it exists.
    pub(crate) sizes: BoundedCache<Digest, u64>,
    /// Small manifests by the digest of their bytes, which never change under it.
    pub(crate) manifests: BoundedCache<Digest, Manifest>,
    pub(crate) locks: KeyedLocks,
    /// Repository names between catalog walks.
    pub(crate) catalog: CatalogCache,
    /// Links read recently, for `link_cache_ttl`.
    pub(crate) links: LinkCache,
}

impl Inner {
    /// The digest a `link` file holds; `None` when there is no such file. It may come from
    /// the link cache: what another process changed is seen within its lifetime.
    pub(crate) async fn read_link(
        &self,
        path: &StoragePath,
    ) -> Result<Option<Digest>, StorageError> {
        if let Some(digest) = self.links.get(path) {
            return Ok(Some(digest));
        }
        self.read_link_stored(path).await
    }

    /// The digest a `link` file holds in storage now, whatever the link cache holds (which it
    /// updates): for reads that decide what to write or delete, since a write made on a stale
    /// answer would outlive the cache's lifetime.
    pub(crate) async fn read_link_stored(
        &self,
        path: &StoragePath,
    ) -> Result<Option<Digest>, StorageError> {
        match self.driver.get_content(path).await {
            Ok(content) => {
                let digest = paths::parse_link(path, &content)?;
                self.links.put(path, &digest);
                Ok(Some(digest))
            }
            Err(StorageError::PathNotFound { .. }) => {
                self.links.forget_below(path);
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// Writes a `link` file: the digest string, no newline, replaced atomically.
    pub(crate) async fn write_link(
        &self,
        path: &StoragePath,
        digest: &Digest,
    ) -> Result<(), StorageError> {
        self.driver
            .put_content(path, Bytes::copy_from_slice(digest.as_str().as_bytes()))
            .await?;
        self.links.put(path, digest);
        if let Some(name) = paths::catalog_name(path) {
            self.catalog.note(name);
        }
        Ok(())
    }

    /// True when something exists at `path`.
    pub(crate) async fn exists(&self, path: &StoragePath) -> Result<bool, StorageError> {
        match self.driver.stat(path).await {
            Ok(_) => Ok(true),
            Err(StorageError::PathNotFound { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Deletes `path` and what is below it; nothing there is not an error.
    pub(crate) async fn delete_if_exists(&self, path: &StoragePath) -> Result<(), StorageError> {
        match self.delete(path).await {
            Ok(()) | Err(StorageError::PathNotFound { .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Deletes `path` and what is below it, and forgets the links there.
    pub(crate) async fn delete(&self, path: &StoragePath) -> Result<(), StorageError> {
        self.links.forget_below(path);
        let deleted = self.driver.delete(path).await;
        // Again: a read between the first forgetting and the delete may have cached a link.
        self.links.forget_below(path);
        deleted
    }

    /// The children of a directory by name; empty when it does not exist.
    pub(crate) async fn list_names(&self, path: &StoragePath) -> Result<Vec<String>, StorageError> {
        match self.driver.list(path).await {
            Ok(children) => Ok(children
                .iter()
                .filter_map(|child| child.file_name().map(str::to_owned))
                .collect()),
            Err(StorageError::PathNotFound { .. }) => Ok(Vec::new()),
            Err(error) => Err(error),
        }
    }

    /// The size of the blob stored under `digest`, from the cache or the driver; `None` when
    /// the registry does not hold it.
    pub(crate) async fn blob_size(&self, digest: &Digest) -> Result<Option<u64>, StorageError> {
        if let Some(size) = self.sizes.get(digest) {
            return Ok(Some(size));
        }
        match self.driver.stat(&paths::blob_data(digest)?).await {
            Ok(info) if !info.is_dir => {
                self.sizes.insert(digest.clone(), info.size);
                Ok(Some(info.size))
            }
            Ok(_) | Err(StorageError::PathNotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The lock for one blob's content, across repositories.
    pub(crate) async fn lock_blob(&self, digest: &Digest) -> OwnedMutexGuard<()> {
        self.locks.lock(format!("blob:{digest}")).await
    }

    /// The lock for one repository's manifests, tags and indexes.
    pub(crate) async fn lock_repository(
        &self,
        name: &gantry_reference::RepositoryName,
    ) -> OwnedMutexGuard<()> {
        self.locks.lock(format!("repo:{name}")).await
    }

    /// The lock for one upload session.
    pub(crate) async fn lock_upload(
        &self,
        name: &gantry_reference::RepositoryName,
        id: &str,
    ) -> OwnedMutexGuard<()> {
        self.locks.lock(format!("upload:{name}:{id}")).await
    }
}
