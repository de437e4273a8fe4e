//! [`S3Writer`]: an appending writer over one S3 multipart upload that lasts as long as the
//! file is unfinished, across requests, processes and replicas.
//!
//! Bytes are cut into parts of the configured size and sent as they come, several at once.
//! [`close`](FileWriter::close) sends what is left as a part when it is large enough to be one
//! and keeps the rest (under the 5 MiB S3 asks of every part but the last) in the writer's
//! state, `<file>~writing`, beside the upload's id and its parts' tags: whoever opens the
//! file to append next carries the same upload on. [`commit`](FileWriter::commit) sends the tail
//! as the last part and completes the upload, so the object appears whole at once.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use object_store::multipart::{MultipartStore, PartId};
use object_store::{ObjectStoreExt, PutPayload};
use tokio::task::JoinHandle;

use super::listing::Kind;
use super::state::WriterState;
use super::{Bucket, MIN_PART, failed};
use crate::driver::{BoxFuture, FileWriter};
use crate::{StorageError, StoragePath};

/// A part on its way.
type PartUpload = JoinHandle<Result<PartId, StorageError>>;

/// A writer of one file in the bucket.
pub(super) struct S3Writer {
    bucket: Arc<Bucket>,
    path: StoragePath,
    key: String,
    /// The upload and the parts sent so far.
    upload: Option<String>,
    parts: Vec<String>,
    pending: VecDeque<PartUpload>,
    /// The bytes not in a part yet.
    buffer: Chunks,
    size: u64,
    /// What the last close stored (empty for a new file).
    closed: WriterState,
    /// A state is stored for this file.
    has_state: bool,
    /// An object is stored for this file: the content before this writer started over.
    replaces_object: bool,
    /// The upload of an unfinished writer this one started over from, to abort.
    abandoned: Option<String>,
    /// A staged writer: no state is ever stored, and an upload left unfinished is aborted.
    staged: bool,
}

/// Bytes waiting to be a part, as the chunks they came in: never copied into one buffer, so
/// nothing large is allocated per part (and nothing left behind in the allocator's arenas).
#[derive(Debug, Default)]
struct Chunks {
    chunks: Vec<Bytes>,
    len: usize,
}

impl Chunks {
    fn push(&mut self, chunk: Bytes) {
        if !chunk.is_empty() {
            self.len += chunk.len();
            self.chunks.push(chunk);
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Everything, as one payload of the same chunks.
    fn take(&mut self) -> PutPayload {
        self.len = 0;
        std::mem::take(&mut self.chunks).into_iter().collect()
    }

    /// Everything, in one buffer: for a tail, which is under a part's size.
    fn concat(&mut self) -> Bytes {
        let mut whole = BytesMut::with_capacity(self.len);
        for chunk in self.chunks.drain(..) {
            whole.extend_from_slice(&chunk);
        }
        self.len = 0;
        whole.freeze()
    }
}

impl fmt::Debug for S3Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Writer")
            .field("path", &self.path)
            .field("upload", &self.upload)
            .field("parts", &self.parts.len())
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl Drop for S3Writer {
    fn drop(&mut self) {
        for part in &self.pending {
            part.abort();
        }
        // A staged writer's upload is known to nobody else: abort it rather than leave its
        // parts stored. (Finishing, cancelling or failing before the first part leaves none.)
        if self.staged
            && let Some(upload) = self.upload.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let (bucket, path, key) = (
                Arc::clone(&self.bucket),
                self.path.clone(),
                self.key.clone(),
            );
            runtime.spawn(async move {
                let _ = bucket.abort_upload(&path, &key, &upload).await;
            });
        }
    }
}

impl S3Writer {
    /// A writer of the file at `path`: a new one, or with `append` one that carries on after
    /// what is there (an unfinished writer's state, or a finished object).
    pub(super) async fn open(
        bucket: Arc<Bucket>,
        path: &StoragePath,
        append: bool,
    ) -> Result<S3Writer, StorageError> {
        let key = bucket.keys.file(path);
        let mut writer = S3Writer {
            bucket: Arc::clone(&bucket),
            path: path.clone(),
            key,
            upload: None,
            parts: Vec::new(),
            pending: VecDeque::new(),
            buffer: Chunks::default(),
            size: 0,
            closed: WriterState::default(),
            has_state: false,
            replaces_object: false,
            abandoned: None,
            staged: false,
        };
        if path.is_root() {
            return Err(writer.invalid());
        }
        if append {
            // Most appends carry an unfinished writer on: its state first, in one request.
            match bucket.writer_state(path).await {
                Ok(state) => {
                    writer.has_state = true;
                    writer.upload.clone_from(&state.upload);
                    writer.parts.clone_from(&state.parts);
                    writer.buffer.push(state.tail.clone());
                    writer.size = state.size;
                    writer.closed = state;
                    return Ok(writer);
                }
                Err(StorageError::PathNotFound { .. }) => {}
                Err(error) => return Err(error),
            }
            return match writer.carry_on_from_object().await {
                Err(StorageError::PathNotFound { .. }) => {
                    match bucket.around(&writer.key).await?.kind() {
                        Some(Kind::Dir) => Err(writer.invalid()),
                        _ => Err(StorageError::PathNotFound {
                            path: path.to_string(),
                        }),
                    }
                }
                other => other.map(|()| writer),
            };
        }
        let existing = bucket.check_write(path).await?;
        writer.replaces_object = existing.object;
        if existing.writing {
            match bucket.writer_state(path).await {
                Ok(state) => writer.abandoned = state.upload,
                Err(StorageError::PathNotFound { .. } | StorageError::Corrupt { .. }) => {}
                Err(error) => return Err(error),
            }
            writer.has_state = true;
        }
        Ok(writer)
    }

    /// A staged writer of a new file at `path`: nothing of it is visible, nor stored as
    /// state, before it commits. The path is checked as for any write.
    pub(super) async fn staged(
        bucket: Arc<Bucket>,
        path: &StoragePath,
    ) -> Result<S3Writer, StorageError> {
        let mut writer = S3Writer::open(Arc::clone(&bucket), path, false).await?;
        writer.staged = true;
        Ok(writer)
    }

    /// Appends to a finished object: its bytes become this writer's first ones, read back
    /// (S3 cannot add to an object).
    async fn carry_on_from_object(&mut self) -> Result<(), StorageError> {
        let object = super::keys::object(&self.key)?;
        let found = self
            .bucket
            .store
            .get(&object)
            .await
            .map_err(|error| failed(&self.path, error))?;
        self.replaces_object = true;
        let mut stream = found.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|error| failed(&self.path, error))?;
            self.append(chunk).await?;
        }
        Ok(())
    }

    fn invalid(&self) -> StorageError {
        StorageError::InvalidPath {
            path: self.path.to_string(),
        }
    }

    async fn append(&mut self, mut chunk: Bytes) -> Result<(), StorageError> {
        self.size += chunk.len() as u64;
        while !chunk.is_empty() {
            let room = self.bucket.part_size - self.buffer.len();
            if chunk.len() < room {
                self.buffer.push(chunk);
                break;
            }
            self.buffer.push(chunk.split_to(room));
            let part = self.buffer.take();
            self.send(part).await?;
        }
        Ok(())
    }

    /// Sends `part` as the next part, keeping at most the configured number on their way.
    async fn send(&mut self, part: PutPayload) -> Result<(), StorageError> {
        let upload = match &self.upload {
            Some(upload) => upload.clone(),
            None => self.begin_upload().await?,
        };
        while self.pending.len() >= self.bucket.concurrency {
            self.receive_one().await?;
        }
        let index = self.parts.len() + self.pending.len();
        let bucket = Arc::clone(&self.bucket);
        let path = self.path.clone();
        let object = super::keys::object(&self.key)?;
        self.pending.push_back(tokio::spawn(async move {
            bucket
                .store
                .put_part(&object, &upload, index, part)
                .await
                .map_err(|error| failed(&path, error))
        }));
        Ok(())
    }

    /// Starts the multipart upload, and stores its id at once, with what was closed before,
    /// so that a crash cannot lose it (the upload is aborted when the file is deleted). A
    /// staged writer stores nothing: its upload lives as long as the writer.
    async fn begin_upload(&mut self) -> Result<String, StorageError> {
        let object = super::keys::object(&self.key)?;
        let upload = self
            .bucket
            .store
            .create_multipart(&object)
            .await
            .map_err(|error| failed(&self.path, error))?;
        if self.staged {
            self.upload = Some(upload.clone());
            return Ok(upload);
        }
        let state = WriterState {
            upload: Some(upload.clone()),
            ..self.closed.clone()
        };
        self.bucket.put_state(&self.path, &state).await?;
        self.has_state = true;
        self.upload = Some(upload.clone());
        Ok(upload)
    }

    async fn receive_one(&mut self) -> Result<(), StorageError> {
        if let Some(part) = self.pending.pop_front() {
            let part = part.await.map_err(|error| StorageError::Io {
                path: self.path.to_string(),
                source: std::io::Error::other(error),
            })??;
            self.parts.push(part.content_id);
        }
        Ok(())
    }

    async fn receive_all(&mut self) -> Result<(), StorageError> {
        while !self.pending.is_empty() {
            self.receive_one().await?;
        }
        Ok(())
    }

    async fn close_inner(mut self) -> Result<(), StorageError> {
        if self.staged {
            return Err(StorageError::Io {
                path: self.path.to_string(),
                source: std::io::Error::other("a staged writer cannot be closed, only committed"),
            });
        }
        self.receive_all().await?;
        if self.buffer.len() >= MIN_PART {
            let part = self.buffer.take();
            self.send(part).await?;
            self.receive_all().await?;
        }
        let state = WriterState {
            upload: self.upload.clone(),
            parts: std::mem::take(&mut self.parts),
            tail: self.buffer.concat(),
            size: self.size,
        };
        self.bucket.put_state(&self.path, &state).await?;
        if self.replaces_object {
            self.bucket.delete_object(&self.path, &self.key).await?;
        }
        self.abort_abandoned().await
    }

    async fn commit_inner(mut self) -> Result<(), StorageError> {
        self.receive_all().await?;
        let object = super::keys::object(&self.key)?;
        // An upload begun but with no part yet (its first part never arrived) holds nothing:
        // S3 completes no upload without parts, so it goes and the file is one plain object.
        if let Some(upload) = self.upload.clone()
            && self.parts.is_empty()
            && self.buffer.is_empty()
        {
            self.bucket
                .abort_upload(&self.path, &self.key, &upload)
                .await?;
            self.upload = None;
        }
        match self.upload.clone() {
            None => {
                let content = self.buffer.take();
                self.bucket
                    .store
                    .put(&object, content)
                    .await
                    .map_err(|error| failed(&self.path, error))?;
            }
            Some(upload) => {
                if !self.buffer.is_empty() {
                    let part = self.buffer.take();
                    self.send(part).await?;
                    self.receive_all().await?;
                }
                let parts = self
                    .parts
                    .iter()
                    .map(|tag| PartId {
                        content_id: tag.clone(),
                    })
                    .collect();
                self.bucket
                    .store
                    .complete_multipart(&object, &upload, parts)
                    .await
                    .map_err(|error| failed(&self.path, error))?;
                self.upload = None;
            }
        }
        if self.has_state {
            self.bucket.delete_state(&self.path).await?;
        }
        self.abort_abandoned().await
    }

    async fn cancel_inner(mut self) -> Result<(), StorageError> {
        for part in self.pending.drain(..) {
            part.abort();
        }
        if let Some(upload) = self.upload.take() {
            self.bucket
                .abort_upload(&self.path, &self.key, &upload)
                .await?;
        }
        self.abort_abandoned().await?;
        if self.has_state {
            self.bucket.delete_state(&self.path).await?;
        }
        // What a staged writer's path holds is someone else's: it wrote nothing there.
        if self.staged {
            return Ok(());
        }
        self.bucket.delete_object(&self.path, &self.key).await
    }

    async fn abort_abandoned(&mut self) -> Result<(), StorageError> {
        match self.abandoned.take() {
            Some(upload) => {
                self.bucket
                    .abort_upload(&self.path, &self.key, &upload)
                    .await
            }
            None => Ok(()),
        }
    }
}

impl FileWriter for S3Writer {
    fn write<'a>(&'a mut self, chunk: Bytes) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(self.append(chunk))
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, Result<(), StorageError>> {
        Box::pin(self.close_inner())
    }

    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), StorageError>> {
        Box::pin(self.commit_inner())
    }

    fn cancel(self: Box<Self>) -> BoxFuture<'static, Result<(), StorageError>> {
        Box::pin(self.cancel_inner())
    }
}

/// Completes an unfinished writer's upload as the object at `path`, so it can be read: what a
/// read of a closed file with parts needs (S3 cannot read parts before completion). A later
/// append reads the object back.
pub(super) async fn finish(bucket: &Bucket, path: &StoragePath) -> Result<(), StorageError> {
    let state = bucket.writer_state(path).await?;
    let key = bucket.keys.file(path);
    let object = super::keys::object(&key)?;
    match state.upload {
        None => {
            bucket
                .store
                .put(&object, PutPayload::from(state.tail))
                .await
                .map_err(|error| failed(path, error))?;
        }
        Some(upload) => {
            let mut parts: Vec<PartId> = state
                .parts
                .into_iter()
                .map(|content_id| PartId { content_id })
                .collect();
            if !state.tail.is_empty() {
                let part = bucket
                    .store
                    .put_part(&object, &upload, parts.len(), PutPayload::from(state.tail))
                    .await
                    .map_err(|error| failed(path, error))?;
                parts.push(part);
            }
            bucket
                .store
                .complete_multipart(&object, &upload, parts)
                .await
                .map_err(|error| failed(path, error))?;
        }
    }
    bucket.delete_state(path).await
}
