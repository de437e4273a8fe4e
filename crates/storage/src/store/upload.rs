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
    /// The blob `file` writes straight to, staged until the commit verifies it (see
    /// [`expect_digest`](BlobWriter::expect_digest)).
    pub(crate) direct: Option<Digest>,
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

    /// Says the upload is to be committed as `digest` before its bytes come, as a request
    /// that carries a whole blob with its digest does. When nothing was written yet, `digest`
    /// uses the running hash's algorithm, the registry does not hold the blob already, and the
    /// driver stages writes ([`StorageDriver::staged_writer`](crate::StorageDriver::staged_writer):
    /// an object store), the bytes go straight to the blob's path, invisible until
    /// [`commit`](Self::commit) has verified them, and need no move after. Otherwise nothing
    /// changes. The bytes of a staged upload that does not commit are not kept: the session
    /// goes on from where it was before them.
    pub async fn expect_digest(&mut self, digest: &Digest) -> Result<(), StorageError> {
        if self.size() > 0
            || self.file.is_some()
            || digest.algorithm() != self.ingest.algorithm()
            || self.inner.blob_size(digest).await?.is_some()
        {
            return Ok(());
        }
        let target = paths::blob_data(digest)?;
        if let Some(file) = self.inner.driver.staged_writer(&target).await? {
            self.file = Some(file);
            self.direct = Some(digest.clone());
        }
        Ok(())
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
        if self.direct.is_some() {
            // Staged bytes are not kept: the session stays as it was before them.
            if let Some(file) = self.file.take() {
                file.cancel().await?;
            }
            return Ok(());
        }
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
        if let Some(target) = self.direct.take() {
            return self.commit_direct(provisional, expected_size, target).await;
        }
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

    /// Commits bytes staged at the blob's path: verified first, then made visible at once.
    async fn commit_direct(
        mut self,
        provisional: &Digest,
        expected_size: Option<u64>,
        target: Digest,
    ) -> Result<Descriptor, StorageError> {
        let file = self.file.take();
        let verified = match self.verify(provisional, expected_size).await {
            Ok(canonical) if canonical == target => Ok(canonical),
            Ok(canonical) => Err(StorageError::DigestMismatch {
                expected: target,
                actual: canonical,
            }),
            Err(error) => Err(error),
        };
        let canonical = match verified {
            Ok(canonical) => canonical,
            Err(error) => {
                if let Some(file) = file {
                    file.cancel().await?;
                }
                self.remove_session().await?;
                return Err(error);
            }
        };
        {
            let _blob = self.inner.lock_blob(&canonical).await;
            match file {
                Some(file) => file.commit().await?,
                None => {
                    let path = paths::blob_data(&canonical)?;
                    self.inner.driver.put_content(&path, Bytes::new()).await?;
                }
            }
            self.inner.sizes.insert(canonical.clone(), self.size());
        }
        self.link_and_end(provisional, canonical).await
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
        self.link_and_end(provisional, canonical).await
    }

    /// Links the stored blob into the repository (under both digests when they differ) and
    /// removes the session.
    async fn link_and_end(
        self,
        provisional: &Digest,
        canonical: Digest,
    ) -> Result<Descriptor, StorageError> {
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
        // Staged at the blob's path, outside the session, the bytes are abandoned on their
        // own; otherwise the whole session goes below, and the writer only lets go.
        if let Some(file) = self.file.take()
            && self.direct.is_some()
        {
            file.cancel().await?;
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
