//! The storage driver interface, in the shape of CNCF Distribution's `StorageDriver`.
//!
//! A driver stores files at [`StoragePath`]s and knows nothing of registries: the registry store
//! builds Distribution's layout on top of any driver. The trait is dyn-compatible, so the driver
//! is chosen at run time (`Arc<dyn StorageDriver>`); its methods return boxed futures.
//!
//! What every driver promises (the shared suite in [`testing`](crate::testing) checks each):
//! - [`put_content`](StorageDriver::put_content) replaces a file whole or not at all;
//! - [`create_content`](StorageDriver::create_content) writes a file only where none is, and of
//!   concurrent creators exactly one wins;
//! - a [`FileWriter`]'s bytes are at the path once it is closed or committed, and
//!   [`writer`](StorageDriver::writer) with `append` carries on after them;
//! - [`list`](StorageDriver::list) and [`walk`](StorageDriver::walk) go in lexical order;
//! - directories exist while something is below them; deleting a path deletes everything below it;
//! - a missing path is [`StorageError::PathNotFound`], a read past the end
//!   [`StorageError::InvalidOffset`].

mod beneath;
mod filesystem;
mod inmemory;
#[cfg(feature = "s3")]
pub mod s3;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::{StorageError, StoragePath};

pub use filesystem::FilesystemDriver;
pub use inmemory::InMemoryDriver;
#[cfg(feature = "s3")]
pub use s3::{S3Credentials, S3Driver, S3Options};

/// A boxed, sendable future: what every driver method returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A boxed reader over a file's bytes.
pub type BoxReader = Pin<Box<dyn AsyncRead + Send>>;

/// A boxed stream of a file's bytes, in chunks, from [`StorageDriver::read_stream`].
pub type BoxByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, StorageError>> + Send>>;

/// The chunk size of [`StorageDriver::read_stream`]'s default implementation.
const READ_STREAM_CHUNK: usize = 256 << 10;

/// What [`StorageDriver::stat`] and [`StorageDriver::walk`] report about a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// The path.
    pub path: StoragePath,
    /// The size in bytes; zero for a directory.
    pub size: u64,
    /// When the file was last written.
    pub modified: SystemTime,
    /// True for a directory.
    pub is_dir: bool,
}

/// What a [`StorageDriver::walk`] visitor tells the walk to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkControl {
    /// Go on, into this entry if it is a directory.
    Continue,
    /// Go on, but not into this directory.
    SkipDir,
    /// End the walk now, successfully.
    Stop,
}

/// A visitor called for every entry of a walk.
pub type WalkVisitor<'a> = dyn FnMut(&FileInfo) -> WalkControl + Send + 'a;

/// A store of files at paths: local disk, memory, or an object store.
pub trait StorageDriver: Send + Sync + fmt::Debug + 'static {
    /// A short name for logs: `filesystem`, `inmemory`, `s3`.
    fn name(&self) -> &'static str;

    /// The whole content of a small file.
    fn get_content<'a>(
        &'a self,
        path: &'a StoragePath,
    ) -> BoxFuture<'a, Result<Bytes, StorageError>>;

    /// Replaces the file at `path` with `content`, atomically and durably, creating parents.
    fn put_content<'a>(
        &'a self,
        path: &'a StoragePath,
        content: Bytes,
    ) -> BoxFuture<'a, Result<(), StorageError>>;

    /// Writes `content` at `path` only when nothing is there, atomically and durably, creating
    /// parents; true when this call created it, false when a file was already there (left as it
    /// was). Of several concurrent creators exactly one wins, and every reader sees the
    /// winner's bytes whole: for what must be made once though many servers start at once.
    fn create_content<'a>(
        &'a self,
        path: &'a StoragePath,
        content: Bytes,
    ) -> BoxFuture<'a, Result<bool, StorageError>>;

    /// Replaces the file at `path` with `content` atomically, like
    /// [`put_content`](Self::put_content), but without waiting for it to reach the disk: for
    /// what can be rebuilt after a crash, such as an upload's saved hash state. Readers see the
    /// old content or the new, whole; after a crash the file may hold either, or be missing or
    /// empty.
    fn put_content_unsynced<'a>(
        &'a self,
        path: &'a StoragePath,
        content: Bytes,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        self.put_content(path, content)
    }

    /// A reader from `offset` to the end. An offset equal to the size reads nothing; one past
    /// it is [`StorageError::InvalidOffset`].
    fn reader<'a>(
        &'a self,
        path: &'a StoragePath,
        offset: u64,
    ) -> BoxFuture<'a, Result<BoxReader, StorageError>>;

    /// The `len` bytes from `offset` as a stream of chunks, for sending a file out as it is
    /// read. A file shorter than `offset + len` ends the stream with an error rather than
    /// early. The default reads through [`reader`](Self::reader); drivers with a faster way
    /// (positional reads ahead of the consumer) override it.
    fn read_stream<'a>(
        &'a self,
        path: &'a StoragePath,
        offset: u64,
        len: u64,
    ) -> BoxFuture<'a, Result<BoxByteStream, StorageError>> {
        Box::pin(async move {
            let reader = self.reader(path, offset).await?;
            let name = path.to_string();
            let stream =
                futures_util::stream::try_unfold(
                    (reader.take(len), len, name),
                    |(mut reader, remaining, name)| async move {
                        if remaining == 0 {
                            return Ok(None);
                        }
                        let want = usize::try_from(remaining)
                            .map_or(READ_STREAM_CHUNK, |r| r.min(READ_STREAM_CHUNK));
                        let mut chunk = BytesMut::with_capacity(want);
                        let read = reader.read_buf(&mut chunk).await.map_err(|source| {
                            StorageError::Io {
                                path: name.clone(),
                                source,
                            }
                        })?;
                        if read == 0 {
                            return Err(StorageError::Io {
                                path: name,
                                source: std::io::ErrorKind::UnexpectedEof.into(),
                            });
                        }
                        let remaining = remaining - read as u64;
                        Ok(Some((chunk.freeze(), (reader, remaining, name))))
                    },
                );
            let stream: BoxByteStream = Box::pin(stream);
            Ok(stream)
        })
    }

    /// A writer to `path`: a new, empty file, or with `append` one that carries on after the
    /// file's current bytes (which must exist).
    fn writer<'a>(
        &'a self,
        path: &'a StoragePath,
        append: bool,
    ) -> BoxFuture<'a, Result<Box<dyn FileWriter>, StorageError>>;

    /// What is at `path`.
    fn stat<'a>(&'a self, path: &'a StoragePath) -> BoxFuture<'a, Result<FileInfo, StorageError>>;

    /// The direct children of the directory at `path`, in lexical order.
    fn list<'a>(
        &'a self,
        path: &'a StoragePath,
    ) -> BoxFuture<'a, Result<Vec<StoragePath>, StorageError>>;

    /// Moves a file from `from` to `to`, replacing whatever is at `to` and creating its parents.
    fn move_path<'a>(
        &'a self,
        from: &'a StoragePath,
        to: &'a StoragePath,
    ) -> BoxFuture<'a, Result<(), StorageError>>;

    /// Deletes the file or directory at `path` and everything below it.
    fn delete<'a>(&'a self, path: &'a StoragePath) -> BoxFuture<'a, Result<(), StorageError>>;

    /// Visits everything below `path`, depth first, in lexical order.
    fn walk<'a>(
        &'a self,
        path: &'a StoragePath,
        visit: &'a mut WalkVisitor<'_>,
    ) -> BoxFuture<'a, Result<(), StorageError>>;

    /// A writer of a new file at `path` whose bytes appear there only when it commits, all
    /// at once, and never before (no close, no partial file, nothing left if it is dropped),
    /// when the driver has such writes: an object store's multipart upload. Content whose
    /// digest is known before its bytes can then be written straight to its final path and
    /// committed once verified, with no move after. `None` when the driver has none (the
    /// default); the filesystem's files are visible as they are written.
    fn staged_writer<'a>(
        &'a self,
        path: &'a StoragePath,
    ) -> BoxFuture<'a, Result<Option<Box<dyn FileWriter>>, StorageError>> {
        let _ = path;
        Box::pin(async { Ok(None) })
    }

    /// A URL the client can fetch the file from directly (for `method`, such as `GET`), when
    /// the driver offers one. Local drivers never do.
    fn redirect_url<'a>(
        &'a self,
        path: &'a StoragePath,
        method: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, StorageError>> {
        let _ = (path, method);
        Box::pin(async { Ok(None) })
    }
}

/// An appending writer from [`StorageDriver::writer`].
///
/// Dropping a writer without closing, committing or cancelling it may lose what was written
/// since the last close.
pub trait FileWriter: Send + Sync + fmt::Debug {
    /// Appends `chunk`.
    fn write<'a>(&'a mut self, chunk: Bytes) -> BoxFuture<'a, Result<(), StorageError>>;

    /// The file's size so far, including what was there before an append.
    fn size(&self) -> u64;

    /// Makes everything written so far visible at the path, for a later append.
    fn close(self: Box<Self>) -> BoxFuture<'static, Result<(), StorageError>>;

    /// Makes everything written visible and durable: the file is complete.
    fn commit(self: Box<Self>) -> BoxFuture<'static, Result<(), StorageError>>;

    /// Abandons the file: the path is removed.
    fn cancel(self: Box<Self>) -> BoxFuture<'static, Result<(), StorageError>>;
}

/// A walk built from [`StorageDriver::list`] and [`StorageDriver::stat`], for drivers with no
/// faster way. Entries deleted while the walk runs are passed over.
pub(crate) async fn walk_by_listing(
    driver: &(impl StorageDriver + ?Sized),
    root: &StoragePath,
    visit: &mut WalkVisitor<'_>,
) -> Result<(), StorageError> {
    let mut pending: Vec<StoragePath> = driver.list(root).await?.into_iter().rev().collect();
    while let Some(path) = pending.pop() {
        let info = match driver.stat(&path).await {
            Ok(info) => info,
            Err(error) if error.is_not_found() => continue,
            Err(error) => return Err(error),
        };
        match visit(&info) {
            WalkControl::Stop => return Ok(()),
            WalkControl::SkipDir => {}
            WalkControl::Continue if info.is_dir => match driver.list(&path).await {
                Ok(children) => pending.extend(children.into_iter().rev()),
                Err(error) if error.is_not_found() => {}
                Err(error) => return Err(error),
            },
            WalkControl::Continue => {}
        }
    }
    Ok(())
}
