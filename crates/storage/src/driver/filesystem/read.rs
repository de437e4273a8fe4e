//! Reads: opening a file at an offset, small files read whole, and streams that read ahead of
//! their consumer.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use tokio::task::JoinHandle;

use super::paths::{Access, fs_error, invalid, resolve};
use crate::driver::beneath::{Beneath, Purpose};
use crate::{StorageError, StoragePath};

/// Opens the file at `path` for reading from `offset`, which must not be past its end.
pub(super) fn open_at(
    root: &Path,
    beneath: &Beneath,
    path: &StoragePath,
    offset: u64,
) -> Result<File, StorageError> {
    let error = |e| fs_error(path.as_str(), Access::Read, e);
    let file = match beneath.open(path, Purpose::Read) {
        Some(file) => file?,
        None => File::open(resolve(root, path, Access::Read)?.full).map_err(error)?,
    };
    check_read_offset(file, path, offset)
}

/// `file`, opened at `path` to be read from `offset`, unless it is a directory or shorter.
pub(super) fn check_read_offset(
    file: File,
    path: &StoragePath,
    offset: u64,
) -> Result<File, StorageError> {
    let meta = file
        .metadata()
        .map_err(|e| fs_error(path.as_str(), Access::Read, e))?;
    if meta.is_dir() {
        return Err(invalid(path));
    }
    if offset > meta.len() {
        return Err(StorageError::InvalidOffset {
            path: path.to_string(),
            offset,
        });
    }
    Ok(file)
}

/// A whole small file, read through an open handle.
pub(super) fn read_whole(mut file: &File) -> io::Result<Vec<u8>> {
    let size = file.metadata().map(|meta| meta.len()).unwrap_or(0);
    let mut content = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    io::Read::read_to_end(&mut file, &mut content)?;
    Ok(content)
}

/// Files up to this size that the kernel's caches hold whole are read by `get_content` in the
/// caller's task (a few microseconds) rather than on a blocking thread, whose hand-off costs
/// more than the read: links, tags and small manifests.
pub(super) const CACHED_READ_MAX: u64 = 64 << 10;

/// The chunk size of [`FilesystemDriver`]'s read streams.
pub(super) const READ_CHUNK: u64 = 1 << 20;

/// How many chunks a read stream keeps in flight ahead of its consumer.
pub(super) const READ_AHEAD: usize = 2;

/// A file sent out in chunks: positional reads on blocking threads, [`READ_AHEAD`] of them
/// under way while the consumer sends the last, each into a buffer that becomes the chunk.
pub(super) struct ReadsAhead {
    pub(super) file: Arc<File>,
    /// Where the next read to start begins.
    pub(super) next: u64,
    pub(super) end: u64,
    pub(super) in_flight: VecDeque<JoinHandle<io::Result<Bytes>>>,
    pub(super) path: String,
}

impl ReadsAhead {
    pub(super) async fn next_chunk(mut self) -> Result<Option<(Bytes, ReadsAhead)>, StorageError> {
        while self.in_flight.len() < READ_AHEAD && self.next < self.end {
            let len = (self.end - self.next).min(READ_CHUNK);
            let (file, at) = (Arc::clone(&self.file), self.next);
            // Allocated here rather than on the blocking thread: the caller's thread frees it
            // once sent, and memory freed where it was allocated goes back to the allocator's
            // few per-worker arenas instead of lingering in one per blocking thread.
            let mut buffer = vec![0; len as usize]; // at most READ_CHUNK
            self.in_flight
                .push_back(tokio::task::spawn_blocking(move || {
                    read_exact_at(&file, &mut buffer, at)?;
                    Ok(Bytes::from(buffer))
                }));
            self.next += len;
        }
        let Some(read) = self.in_flight.pop_front() else {
            return Ok(None);
        };
        match read.await.unwrap_or_else(|e| Err(io::Error::other(e))) {
            Ok(chunk) => Ok(Some((chunk, self))),
            Err(source) => Err(StorageError::Io {
                path: self.path,
                source,
            }),
        }
    }
}

/// Fills `buffer` from `offset`; a file that ends first is [`io::ErrorKind::UnexpectedEof`].
#[cfg(unix)]
pub(super) fn read_exact_at(file: &File, buffer: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buffer, offset)
}

/// Fills `buffer` from `offset`.
#[cfg(windows)]
pub(super) fn read_exact_at(file: &File, mut buffer: &mut [u8], mut offset: u64) -> io::Result<()> {
    while !buffer.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(file, buffer, offset) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buffer = &mut buffer[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
