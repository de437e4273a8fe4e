//! [`BlobStore`]: a repository's view of the content-addressed blobs: stat, read, ingest
//! (put, create, resume) and delete. A repository sees only the blobs linked into it.

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use gantry_reference::{Algorithm, Digest, Ingest, Rehash, RepositoryName, Resume, SavedState};
use gantry_spec::Descriptor;

use super::inner::Inner;
use super::upload::{self, BLOB_MEDIA_TYPE, BlobWriter};
use super::{paths, time};
use crate::FileWriter;
use crate::driver::{BoxByteStream, BoxReader};
use crate::{StorageError, StoragePath};

/// Where a cross-repository mount takes the blob from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MountFrom {
    /// From this repository, when the blob is linked into it.
    Repository(RepositoryName),
    /// From any repository: when the registry holds the blob at all. Whoever calls this must
    /// have decided the caller may read it.
    Any,
}

/// A cross-repository mount: link `digest` into this repository instead of uploading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The blob.
    pub digest: Digest,
    /// Where it may come from.
    pub from: MountFrom,
}

/// How [`BlobStore::create`] starts: the hash algorithm and an optional mount.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreateOptions {
    /// The running hash of the upload (sha256 by default).
    pub algorithm: Algorithm,
    /// A mount to try first.
    pub mount: Option<Mount>,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            algorithm: Algorithm::Sha256,
            mount: None,
        }
    }
}

impl CreateOptions {
    /// A plain sha256 upload.
    pub fn new() -> CreateOptions {
        CreateOptions::default()
    }

    /// Hashes the upload with `algorithm` as it streams.
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Tries to mount `digest` from the repository `from` first.
    pub fn mount_from(mut self, digest: Digest, from: RepositoryName) -> Self {
        self.mount = Some(Mount {
            digest,
            from: MountFrom::Repository(from),
        });
        self
    }

    /// Tries to mount `digest` from wherever the registry holds it first.
    pub fn mount_any(mut self, digest: Digest) -> Self {
        self.mount = Some(Mount {
            digest,
            from: MountFrom::Any,
        });
        self
    }
}

/// What [`BlobStore::create`] did.
#[derive(Debug)]
pub enum Created {
    /// The mount worked: the blob is now linked into the repository.
    Mounted(Descriptor),
    /// An upload session began (also when a mount was asked for but not possible).
    Upload(BlobWriter),
}

/// The blobs of one repository. Cheap to make: see [`Repository::blobs`](super::Repository::blobs).
#[derive(Debug, Clone)]
pub struct BlobStore {
    pub(crate) inner: Arc<Inner>,
    pub(crate) name: RepositoryName,
}

impl BlobStore {
    /// Resolves `digest` in this repository: its descriptor and where its content is.
    async fn resolve(&self, digest: &Digest) -> Result<(Descriptor, StoragePath), StorageError> {
        let unknown = || StorageError::BlobUnknown {
            digest: digest.clone(),
        };
        let link = paths::layer_link(&self.name, digest)?;
        // A link may name the blob by another algorithm's digest (Distribution links a
        // sha512-named upload to its sha256 content).
        let target = self.inner.read_link(&link).await?.ok_or_else(unknown)?;
        let size = self.inner.blob_size(&target).await?.ok_or_else(unknown)?;
        let descriptor = Descriptor::new(BLOB_MEDIA_TYPE, digest.clone(), size);
        Ok((descriptor, paths::blob_data(&target)?))
    }

    /// The blob's descriptor (digest and size), when it is linked into this repository;
    /// otherwise [`StorageError::BlobUnknown`].
    pub async fn stat(&self, digest: &Digest) -> Result<Descriptor, StorageError> {
        Ok(self.resolve(digest).await?.0)
    }

    /// The whole blob, as a stream, with its descriptor.
    pub async fn get(&self, digest: &Digest) -> Result<(Descriptor, BoxReader), StorageError> {
        self.open(digest, 0).await
    }

    /// The blob from `offset` on (for `Range` requests), with its descriptor. An offset past
    /// the end is [`StorageError::InvalidOffset`].
    pub async fn open(
        &self,
        digest: &Digest,
        offset: u64,
    ) -> Result<(Descriptor, BoxReader), StorageError> {
        let (descriptor, path) = self.resolve(digest).await?;
        if offset > descriptor.size {
            return Err(StorageError::InvalidOffset {
                path: path.to_string(),
                offset,
            });
        }
        let reader = self.inner.driver.reader(&path, offset).await?;
        Ok((descriptor, reader))
    }

    /// The `len` bytes of the blob from `offset`, as a stream of chunks read ahead of the
    /// consumer, with its descriptor: what a `GET` sends. A range past the end is
    /// [`StorageError::InvalidOffset`].
    pub async fn stream(
        &self,
        digest: &Digest,
        offset: u64,
        len: u64,
    ) -> Result<(Descriptor, BoxByteStream), StorageError> {
        let (descriptor, path) = self.resolve(digest).await?;
        if offset
            .checked_add(len)
            .is_none_or(|end| end > descriptor.size)
        {
            return Err(StorageError::InvalidOffset {
                path: path.to_string(),
                offset,
            });
        }
        let stream = self.inner.driver.read_stream(&path, offset, len).await?;
        Ok((descriptor, stream))
    }

    /// A URL the client may fetch the blob from directly, when redirects are enabled and the
    /// driver offers one.
    pub async fn redirect_url(&self, digest: &Digest) -> Result<Option<String>, StorageError> {
        let (_, path) = self.resolve(digest).await?;
        if !self.inner.options.redirect {
            return Ok(None);
        }
        self.inner.driver.redirect_url(&path, "GET").await
    }

    /// Stores a small blob held in memory (sha256), linked into this repository.
    pub async fn put(&self, content: Bytes) -> Result<Descriptor, StorageError> {
        let digest = Digest::of(Algorithm::Sha256, &content);
        let size = content.len() as u64;
        store_content(&self.inner, &digest, content).await?;
        self.inner
            .write_link(&paths::layer_link(&self.name, &digest)?, &digest)
            .await?;
        Ok(Descriptor::new(BLOB_MEDIA_TYPE, digest, size))
    }

    /// Begins an upload, or mounts the blob when `options` asks for a mount that is possible.
    pub async fn create(&self, options: CreateOptions) -> Result<Created, StorageError> {
        if let Some(mount) = &options.mount
            && let Some(descriptor) = self.mount(mount).await?
        {
            return Ok(Created::Mounted(descriptor));
        }
        let id = new_upload_id()?;
        let guard = self.inner.lock_upload(&self.name, &id).await;
        let started_at = SystemTime::now();
        let started_path = paths::upload_started_at(&self.name, &id)?;
        self.inner
            .driver
            .put_content(&started_path, Bytes::from(time::format_rfc3339(started_at)))
            .await?;
        let ingest = Ingest::new(options.algorithm);
        // The state at offset 0 records the session's algorithm for whoever resumes it.
        let state = paths::upload_hash_state(&self.name, &id, options.algorithm, 0)?;
        self.inner
            .driver
            .put_content_unsynced(&state, Bytes::from(ingest.saved().into_bytes()))
            .await?;
        Ok(Created::Upload(BlobWriter {
            inner: Arc::clone(&self.inner),
            name: self.name.clone(),
            id,
            // Stored with whole seconds: report what a resumed writer will see.
            started_at: time::parse_rfc3339(&time::format_rfc3339(started_at))
                .unwrap_or(started_at),
            ingest,
            file: None,
            direct: None,
            _guard: guard,
        }))
    }

    async fn mount(&self, mount: &Mount) -> Result<Option<Descriptor>, StorageError> {
        let target = match &mount.from {
            MountFrom::Repository(from) => {
                let link = paths::layer_link(from, &mount.digest)?;
                self.inner.read_link(&link).await?
            }
            MountFrom::Any => Some(mount.digest.clone()),
        };
        let Some(target) = target else {
            return Ok(None);
        };
        let Some(size) = self.inner.blob_size(&target).await? else {
            return Ok(None);
        };
        self.inner
            .write_link(&paths::layer_link(&self.name, &mount.digest)?, &target)
            .await?;
        Ok(Some(Descriptor::new(
            BLOB_MEDIA_TYPE,
            mount.digest.clone(),
            size,
        )))
    }

    /// Continues the upload `id`, from what storage holds: the data, and the hash state saved
    /// at its size (or, when that is missing or in another format, such as Distribution's,
    /// the data hashed again from the start). [`StorageError::BlobUploadUnknown`] when there is
    /// no such session.
    ///
    /// The data's writer is opened here, and its size is the session's: one look at storage
    /// for both (an object store's unfinished upload says its size in its state).
    pub async fn resume(&self, id: &str) -> Result<BlobWriter, StorageError> {
        paths::check_upload_id(id)?;
        let guard = self.inner.lock_upload(&self.name, id).await;
        let started_at = upload::read_started_at(&self.inner, &self.name, id).await?;
        let data = paths::upload_data(&self.name, id)?;
        let mut file = self.open_data(&data).await?;
        let size = file.as_ref().map_or(0, |file| file.size());
        let ingest = match self.restore_ingest(id, size).await? {
            Ok(ingest) => ingest,
            Err(again) => {
                // Hashing again reads the data: the writer lets go of it first (a driver may
                // have to finish an unfinished file to read it), and opens it again after.
                drop(file.take());
                let ingest = upload::rehash(&self.inner, &self.name, id, again).await?;
                file = self.open_data(&data).await?;
                ingest
            }
        };
        Ok(BlobWriter {
            inner: Arc::clone(&self.inner),
            name: self.name.clone(),
            id: id.to_owned(),
            started_at,
            ingest,
            file,
            direct: None,
            _guard: guard,
        })
    }

    /// A writer appending to a session's data; `None` when nothing was written yet.
    async fn open_data(
        &self,
        data: &StoragePath,
    ) -> Result<Option<Box<dyn FileWriter>>, StorageError> {
        match self.inner.driver.writer(data, true).await {
            Ok(file) => Ok(Some(file)),
            Err(StorageError::PathNotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The ingest of a session whose data holds `size` bytes, from the hash state saved at
    /// that size when one is whole ([`Resume::trusting_state`]): sha256's is tried first, the
    /// others' after a listing. Otherwise what hashing the data again with the session's
    /// algorithm (sha256 when the states do not say which) needs.
    async fn restore_ingest(
        &self,
        id: &str,
        size: u64,
    ) -> Result<Result<Ingest, Rehash>, StorageError> {
        if let Some(ingest) = self.saved_ingest(id, Algorithm::Sha256, size).await? {
            return Ok(Ok(ingest));
        }
        let upload = paths::upload_dir(&self.name, id)?;
        let algorithms: Vec<Algorithm> = self
            .inner
            .list_names(&upload.join("hashstates")?)
            .await?
            .iter()
            .filter_map(|name| name.parse().ok())
            .collect();
        for &algorithm in algorithms.iter().filter(|&&a| a != Algorithm::Sha256) {
            if let Some(ingest) = self.saved_ingest(id, algorithm, size).await? {
                return Ok(Ok(ingest));
            }
        }
        let algorithm = match algorithms.as_slice() {
            [only] => *only,
            _ => Algorithm::Sha256,
        };
        Ok(match Resume::trusting_state(algorithm, None, size) {
            Resume::Continue(ingest) => Ok(ingest),
            Resume::Rehash(again) => Err(again),
            Resume::Restart => Ok(Ingest::new(algorithm)),
        })
    }

    /// The ingest the hash state of `algorithm` saved at `size` gives, when there is one and
    /// it is whole.
    async fn saved_ingest(
        &self,
        id: &str,
        algorithm: Algorithm,
        size: u64,
    ) -> Result<Option<Ingest>, StorageError> {
        let path = paths::upload_hash_state(&self.name, id, algorithm, size)?;
        let saved = match self.inner.driver.get_content(&path).await {
            Ok(state) => SavedState::new(algorithm, size, state.to_vec()),
            Err(StorageError::PathNotFound { .. }) => return Ok(None),
            Err(error) => return Err(error),
        };
        Ok(
            match Resume::trusting_state(algorithm, Some(&saved), size) {
                Resume::Continue(ingest) => Some(ingest),
                _ => None,
            },
        )
    }

    /// Removes the upload session `id`. A second cancel of the same session (or one of a
    /// session that never was) is a clean [`StorageError::BlobUploadUnknown`], which the server
    /// answers with 404; [`BlobWriter::cancel`] on a writer already holds the session and
    /// succeeds even when it is gone.
    pub async fn cancel_upload(&self, id: &str) -> Result<(), StorageError> {
        paths::check_upload_id(id)?;
        let _guard = self.inner.lock_upload(&self.name, id).await;
        let dir = paths::upload_dir(&self.name, id)?;
        match self.inner.delete(&dir).await {
            Err(StorageError::PathNotFound { .. }) => {
                Err(StorageError::BlobUploadUnknown { id: id.to_owned() })
            }
            other => other,
        }
    }

    /// Unlinks the blob from this repository (the content stays for garbage collection to
    /// judge, as in Distribution). [`StorageError::DeleteDisabled`] unless deleting is enabled.
    pub async fn delete(&self, digest: &Digest) -> Result<(), StorageError> {
        if !self.inner.options.delete_enabled {
            return Err(StorageError::DeleteDisabled);
        }
        let link_dir = paths::layer_link(&self.name, digest)?
            .parent()
            .ok_or_else(|| StorageError::BlobUnknown {
                digest: digest.clone(),
            })?;
        match self.inner.delete(&link_dir).await {
            Err(StorageError::PathNotFound { .. }) => Err(StorageError::BlobUnknown {
                digest: digest.clone(),
            }),
            other => other,
        }
    }
}

/// Stores `content` under `digest` unless the registry already holds it.
pub(crate) async fn store_content(
    inner: &Inner,
    digest: &Digest,
    content: Bytes,
) -> Result<(), StorageError> {
    let _blob = inner.lock_blob(digest).await;
    if inner.blob_size(digest).await?.is_none() {
        let size = content.len() as u64;
        inner
            .driver
            .put_content(&paths::blob_data(digest)?, content)
            .await?;
        inner.sizes.insert(digest.clone(), size);
    }
    Ok(())
}

/// A fresh upload id: a random UUID (version 4), as Distribution makes them.
fn new_upload_id() -> Result<String, StorageError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|error| StorageError::Io {
        path: "getrandom".to_owned(),
        source: std::io::Error::other(error.to_string()),
    })?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = base16ct::lower::encode_string(&bytes);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

/// Random bytes for a secret.
pub(crate) fn random_secret() -> Result<Vec<u8>, StorageError> {
    let mut secret = vec![0u8; 32];
    getrandom::fill(&mut secret).map_err(|error| StorageError::Io {
        path: "getrandom".to_owned(),
        source: std::io::Error::other(error.to_string()),
    })?;
    Ok(secret)
}
