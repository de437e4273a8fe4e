//! [`BlobWriter`]: one resumable upload session, kept in `_uploads/<id>/` so that any process
//! sharing the storage can continue it.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use gantry_reference::{Algorithm, Digest, Ingest, Rehash, RepositoryName};
use gantry_spec::Descriptor;
use tokio::io::AsyncReadExt;
use tokio::sync::OwnedMutexGuard;

use super::inner::Inner;
use super::{paths, time};
use crate::{FileWriter, StorageError};

/// The media type of a blob seen without a manifest around it.
pub(crate) const BLOB_MEDIA_TYPE: &str = "application/octet-stream";

/// An upload in progress: bytes are appended to `_uploads/<id>/data` and hashed as they come.
///
/// A request ends with one of [`close`](Self::close) (the upload goes on later, perhaps in
/// another process: the hash state is saved beside the data), [`commit`](Self::commit) or
/// [`cancel`](Self::cancel). Dropping a writer without them may lose what it wrote since the
/// last close; the session itself stays and can be resumed. While a writer exists, other
/// attempts to resume the same session in this process wait for it.
pub struct BlobWriter {
    pub(crate) inner: Arc<Inner>,
    pub(crate) name: RepositoryName,
    pub(crate) id: String,
    pub(crate) started_at: SystemTime,
    /// The bytes received so far: their running hash and count.
    pub(crate) ingest: Ingest,
    pub(crate) file: Option<Box<dyn FileWriter>>,
    pub(crate) _guard: OwnedMutexGuard<()>,
}

impl fmt::Debug for BlobWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobWriter")
            .field("repository", &self.name)
            .field("id", &self.id)
            .field("size", &self.ingest.length())
            .field("algorithm", &self.ingest.algorithm())
            .finish_non_exhaustive()
    }
}

impl BlobWriter {
    /// The session's identifier, the last component of its upload location.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The bytes received so far: where the next chunk must start.
    pub fn size(&self) -> u64 {
        self.ingest.length()
    }

    /// When the session began.
    pub fn started_at(&self) -> SystemTime {
        self.started_at
    }

    /// The repository the upload is for.
    pub fn repository(&self) -> &RepositoryName {
        &self.name
    }

    /// The algorithm the upload is hashed with as it streams.
    pub fn algorithm(&self) -> Algorithm {
        self.ingest.algorithm()
    }

    /// Appends `chunk`, hashing it. After an error the writer should be dropped: the session
    /// is resumed from what storage holds.
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), StorageError> {
        if chunk.is_empty() {
            return Ok(());
        }
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let path = paths::upload_data(&self.name, &self.id)?;
                let file = self.inner.driver.writer(&path, self.size() > 0).await?;
                self.file.insert(file)
            }
        };
        file.write(chunk.clone()).await?;
        self.ingest.update(&chunk);
        Ok(())
    }

    /// Appends `chunk`, which the client says starts at `offset`: unless that is
    /// [`size`](Self::size), nothing is written and the answer is
    /// [`StorageError::UploadOffsetMismatch`] (the server's 416).
    pub async fn write_at(&mut self, offset: u64, chunk: Bytes) -> Result<(), StorageError> {
        if offset != self.size() {
            return Err(StorageError::UploadOffsetMismatch {
                id: self.id.clone(),
                size: self.size(),
                offset,
            });
        }
        self.write(chunk).await
    }

    /// Ends this request's part of the upload: the data and the hash state at the current
    /// size (`hashstates/<alg>/<size>`) are stored, so [`resume`](super::BlobStore::resume)
    /// can carry on, in this process or another.
    ///
    /// Neither is synced here: the data is synced when the upload commits, and the hash state
    /// is a shortcut that [`resume`](super::BlobStore::resume) only takes when it is whole and
    /// saved at the data's size, else it hashes the data again. Waiting for the disk at every
    /// chunk would stall a chunked upload on each one.
    ///
    /// The hash state goes first: it is named by its offset, so until the data reaches that
    /// size nobody takes it, and a process that dies between the two leaves the previous
    /// state matching the data. Drivers that cannot read an unfinished file cheaply (S3) then
    /// never need to hash it again.
    pub async fn close(mut self) -> Result<(), StorageError> {
        let saved = self.ingest.saved();
        let path =
            paths::upload_hash_state(&self.name, &self.id, saved.algorithm(), saved.offset())?;
        self.inner
            .driver
            .put_content_unsynced(&path, Bytes::from(saved.into_bytes()))
            .await?;
        match self.file.take() {
            Some(file) => file.close().await,
            None => Ok(()),
        }
    }

    /// Finishes the upload as the blob `provisional`, checking the size (when `expected_size`
    /// is given) and the digest. On success the content is stored once under its digest,
    /// linked into this repository, and the session removed. On a mismatch
    /// ([`StorageError::SizeMismatch`], [`StorageError::DigestMismatch`]) nothing becomes
    /// visible and the session is removed.
    ///
    /// When `provisional` uses another algorithm than the running hash, the data is hashed
    /// again as a stream; it is then stored under the running hash's digest (the canonical
    /// one) and linked under both, as Distribution does.
    pub async fn commit(
        mut self,
        provisional: &Digest,
        expected_size: Option<u64>,
    ) -> Result<Descriptor, StorageError> {
        if let Some(file) = self.file.take() {
            file.commit().await?;
        }
        match self.verify(provisional, expected_size).await {
            Ok(canonical) => self.publish(provisional, canonical).await,
            Err(error) => {
                self.remove_session().await?;
                Err(error)
            }
        }
    }

    async fn verify(
        &self,
        provisional: &Digest,
        expected_size: Option<u64>,
    ) -> Result<Digest, StorageError> {
        let size = self.size();
        if let Some(expected) = expected_size
            && expected != size
        {
            return Err(StorageError::SizeMismatch {
                expected,
                actual: size,
            });
        }
        let canonical = self.ingest.digest();
        let actual = if provisional.algorithm() == canonical.algorithm() {
            canonical.clone()
        } else {
            let again = Rehash::new(provisional.algorithm(), size);
            rehash(&self.inner, &self.name, &self.id, again)
                .await?
                .finish()
        };
        if &actual != provisional {
            return Err(StorageError::DigestMismatch {
                expected: provisional.clone(),
                actual,
            });
        }
        Ok(canonical)
    }

    async fn publish(
        self,
        provisional: &Digest,
        canonical: Digest,
    ) -> Result<Descriptor, StorageError> {
        let data = paths::upload_data(&self.name, &self.id)?;
        {
            let _blob = self.inner.lock_blob(&canonical).await;
            if self.inner.blob_size(&canonical).await?.is_none() {
                let target = paths::blob_data(&canonical)?;
                if self.size() == 0 && !self.inner.exists(&data).await? {
                    self.inner.driver.put_content(&target, Bytes::new()).await?;
                } else {
                    self.inner.driver.move_path(&data, &target).await?;
                }
                self.inner.sizes.insert(canonical.clone(), self.size());
            }
        }
        let links = [canonical.clone(), provisional.clone()];
        for alias in links
            .iter()
            .take(if provisional == &canonical { 1 } else { 2 })
        {
            let link = paths::layer_link(&self.name, alias)?;
            self.inner.write_link(&link, &canonical).await?;
        }
        self.remove_session().await?;
        Ok(Descriptor::new(
            BLOB_MEDIA_TYPE,
            provisional.clone(),
            self.size(),
        ))
    }

    /// Abandons the upload: the session and its data are removed. Cancelling a session that
    /// is already gone (cancelled elsewhere, committed, purged) is fine.
    pub async fn cancel(mut self) -> Result<(), StorageError> {
        if let Some(file) = self.file.take() {
            // The whole session goes below; the writer only needs to let go.
            drop(file);
        }
        self.remove_session().await
    }

    async fn remove_session(&self) -> Result<(), StorageError> {
        let dir = paths::upload_dir(&self.name, &self.id)?;
        self.inner.delete_if_exists(&dir).await
    }
}

/// Hashes the session's data again as `again` asks (its first [`Rehash::length`] bytes), as a
/// stream; the ingest to carry on with.
pub(crate) async fn rehash(
    inner: &Inner,
    name: &RepositoryName,
    id: &str,
    mut again: Rehash,
) -> Result<Ingest, StorageError> {
    let path = paths::upload_data(name, id)?;
    let corrupt = || StorageError::Corrupt {
        path: path.to_string(),
    };
    if again.remaining() > 0 {
        let mut reader = inner.driver.reader(&path, 0).await?;
        let mut buffer = vec![0u8; 256 * 1024];
        while again.remaining() > 0 {
            let want = usize::try_from(again.remaining())
                .unwrap_or(buffer.len())
                .min(buffer.len());
            let read = reader
                .read(&mut buffer[..want])
                .await
                .map_err(|source| StorageError::io(path.as_str(), source))?;
            if read == 0 {
                return Err(corrupt());
            }
            again.update(&buffer[..read]);
        }
    }
    again.finish().map_err(|_| corrupt())
}

/// Reads a session's start time: `startedat`, or failing that the session directory's time.
pub(crate) async fn read_started_at(
    inner: &Inner,
    name: &RepositoryName,
    id: &str,
) -> Result<SystemTime, StorageError> {
    let path = paths::upload_started_at(name, id)?;
    match inner.driver.get_content(&path).await {
        Ok(content) => {
            if let Some(time) = std::str::from_utf8(&content)
                .ok()
                .and_then(time::parse_rfc3339)
            {
                return Ok(time);
            }
        }
        Err(StorageError::PathNotFound { .. }) => {}
        Err(error) => return Err(error),
    }
    let dir = paths::upload_dir(name, id)?;
    match inner.driver.stat(&dir).await {
        Ok(info) => Ok(info.modified),
        Err(StorageError::PathNotFound { .. }) => {
            Err(StorageError::BlobUploadUnknown { id: id.to_owned() })
        }
        Err(error) => Err(error),
    }
}
