//! [`Registry`]: the store over one driver, its repositories, the catalog, upload purging and
//! upload tokens.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use gantry_reference::RepositoryName;

use super::blobs::random_secret;
use super::cache::BoundedCache;
use super::catalog::{self, CatalogCache};
use super::inner::Inner;
use super::links::LinkCache;
use super::locks::KeyedLocks;
use super::manifests::MANIFEST_CACHE_CAPACITY;
use super::options::RegistryOptions;
use super::repository::Repository;
use super::{paths, token, upload};
use crate::{StorageDriver, StorageError, StoragePath, WalkControl};

/// The registry store: CNCF Distribution's layout over any [`StorageDriver`]. Clones share
/// everything (driver, cache, locks).
#[derive(Debug, Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

impl Registry {
    /// A registry over `driver`. It reads whatever layout is there; nothing is written until
    /// asked. Fails only when no random upload secret could be drawn.
    pub fn new(
        driver: Arc<dyn StorageDriver>,
        options: RegistryOptions,
    ) -> Result<Registry, StorageError> {
        let secret = if options.upload_secret.is_empty() {
            random_secret()?
        } else {
            options.upload_secret.clone()
        };
        let link_cache_ttl = options.link_cache_ttl;
        Ok(Registry {
            inner: Arc::new(Inner {
                driver,
                sizes: BoundedCache::new(options.descriptor_cache_capacity),
                manifests: BoundedCache::new(
                    MANIFEST_CACHE_CAPACITY.min(options.descriptor_cache_capacity),
                ),
                options,
                secret,
                locks: KeyedLocks::default(),
                catalog: CatalogCache::default(),
                links: LinkCache::new(link_cache_ttl),
            }),
        })
    }

    /// The options the registry was made with.
    pub fn options(&self) -> &RegistryOptions {
        &self.inner.options
    }

    /// The driver underneath.
    pub fn driver(&self) -> &Arc<dyn StorageDriver> {
        &self.inner.driver
    }

    /// A handle on the repository `name`. No I/O: the repository need not exist yet.
    pub fn repository(&self, name: &RepositoryName) -> Repository {
        Repository::new(Arc::clone(&self.inner), name.clone())
    }

    /// Up to `n` repository names after `last` (all of them from the start when `None`),
    /// sorted by the full name. Only as much of the tree is read as the page needs.
    pub async fn catalog(
        &self,
        n: usize,
        last: Option<&str>,
    ) -> Result<Vec<RepositoryName>, StorageError> {
        catalog::page(&self.inner, n, last).await
    }

    /// Removes upload sessions, in every repository, that started longer than `older_than`
    /// ago, and says how many. A session whose `startedat` cannot be read is judged by its
    /// directory's time.
    pub async fn purge_uploads(&self, older_than: Duration) -> Result<usize, StorageError> {
        let root = paths::repositories()?;
        let mut sessions: Vec<StoragePath> = Vec::new();
        let mut visit = |info: &crate::FileInfo| {
            let parent_is_uploads = info
                .path
                .parent()
                .is_some_and(|parent| parent.file_name() == Some("_uploads"));
            match info.path.file_name() {
                _ if parent_is_uploads && info.is_dir => {
                    sessions.push(info.path.clone());
                    WalkControl::SkipDir
                }
                Some("_layers" | "_manifests" | "_gantry") => WalkControl::SkipDir,
                _ if !info.is_dir => WalkControl::Continue,
                _ => WalkControl::Continue,
            }
        };
        match self.inner.driver.walk(&root, &mut visit).await {
            Ok(()) | Err(StorageError::PathNotFound { .. }) => {}
            Err(error) => return Err(error),
        }
        let now = SystemTime::now();
        let mut purged = 0;
        for session in sessions {
            let Some((name, id)) = session_of(&session) else {
                continue;
            };
            let started = match upload::read_started_at(&self.inner, &name, &id).await {
                Ok(started) => started,
                Err(StorageError::BlobUploadUnknown { .. }) => continue,
                Err(error) => return Err(error),
            };
            let age = now.duration_since(started).unwrap_or(Duration::ZERO);
            if age >= older_than {
                let _guard = self.inner.lock_upload(&name, &id).await;
                self.inner.delete_if_exists(&session).await?;
                purged += 1;
            }
        }
        Ok(purged)
    }

    /// [`purge_uploads`](Self::purge_uploads) with the configured age (7 days by default).
    pub async fn purge_expired_uploads(&self) -> Result<usize, StorageError> {
        self.purge_uploads(self.inner.options.upload_purge_age)
            .await
    }

    /// A token for the upload `id` of `name`, started at `started_at`
    /// ([`BlobWriter::started_at`](super::BlobWriter::started_at)): an HMAC-SHA256 with the
    /// upload secret, for the server to put in the upload location.
    pub fn upload_token(&self, name: &RepositoryName, id: &str, started_at: SystemTime) -> String {
        token::sign(&self.inner.secret, name, id, started_at)
    }

    /// Checks a token from [`upload_token`](Self::upload_token) against the repository and
    /// upload it is presented for, in constant time. Gives the start time it signs (to compare
    /// with the resumed writer's), or `None` for a forged, altered or misdirected token.
    pub fn verify_upload_token(
        &self,
        name: &RepositoryName,
        id: &str,
        token: &str,
    ) -> Option<SystemTime> {
        token::verify(&self.inner.secret, name, id, token)
    }
}

/// The repository and id of `.../repositories/<name>/_uploads/<id>`.
fn session_of(path: &StoragePath) -> Option<(RepositoryName, String)> {
    let components: Vec<&str> = path.components().collect();
    let start = components.iter().position(|c| *c == "repositories")? + 1;
    let [.., uploads, id] = components.as_slice() else {
        return None;
    };
    if *uploads != "_uploads" || components.len() < start + 3 {
        return None;
    }
    let name = components[start..components.len() - 2].join("/");
    Some((RepositoryName::parse(name).ok()?, (*id).to_owned()))
}
