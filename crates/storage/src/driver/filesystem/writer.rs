//! The pipelined writer behind [`FileWriter`]: batches written at their offsets on blocking
//! threads, background syncs, and the handover of a sync a closed writer left running.

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::{Bytes, BytesMut};
use futures_util::FutureExt;
use tokio::task::JoinHandle;

use super::BUFFER_SIZE;
use super::paths::{Access, blocking, fs_error, sync_dirs};
use crate::driver::{BoxFuture, FileWriter};
use crate::{StorageError, StoragePath};

/// Writes straight to the file. Chunks gather into batches of [`BUFFER_SIZE`] (small chunks are
/// copied together, larger ones kept as they are); each batch is written at its offset on a
/// blocking thread, with up to [`IN_FLIGHT`] batches under way while the caller goes on, so
/// hashing and disk writes overlap and a stalled write does not stall the caller at once.
#[derive(Debug)]
pub(super) struct FilesystemWriter {
    pub(super) path: StoragePath,
    pub(super) full: PathBuf,
    pub(super) file: Arc<File>,
    /// Batches being written, oldest first.
    pub(super) in_flight: VecDeque<JoinHandle<io::Result<()>>>,
    /// The batch being gathered, and its length.
    pub(super) batch: Vec<Bytes>,
    pub(super) batch_len: usize,
    /// Small chunks copied together.
    pub(super) small: BytesMut,
    /// Where the batch being gathered starts in the file.
    pub(super) batch_offset: u64,
    pub(super) size: u64,
    /// Set once a write failed: the file's content is then unknown.
    pub(super) failed: bool,
    /// A `sync_data` under way, started to keep the disk busy while the caller writes on.
    pub(super) syncing: Option<JoinHandle<io::Result<()>>>,
    /// The file's length when the last such sync began.
    pub(super) synced_at: u64,
    /// Directories to sync on commit, because this writer created entries in them.
    pub(super) sync_on_commit: Vec<PathBuf>,
    /// Where `close` leaves a sync still under way.
    pub(super) handover: Arc<SyncHandover>,
}

/// Background syncs that closed writers left running, by file. `close` promises visibility,
/// not durability, so it need not wait for them; the next writer of the file takes its sync
/// over, and so sees its outcome before it commits.
#[derive(Debug, Default)]
pub(super) struct SyncHandover(Mutex<HashMap<PathBuf, HandedSync>>);

#[derive(Debug)]
pub(super) enum HandedSync {
    Running(JoinHandle<io::Result<()>>),
    /// A sync that failed after its writer closed: the next writer of the file fails with it.
    Failed(io::Error),
}

impl SyncHandover {
    fn syncs(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, HandedSync>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Leaves `sync` of `file` for the next writer, forgetting those that finished well.
    fn give(&self, file: PathBuf, sync: JoinHandle<io::Result<()>>) {
        let mut syncs = self.syncs();
        let finished: Vec<PathBuf> = syncs
            .iter()
            .filter(|(_, handed)| matches!(handed, HandedSync::Running(task) if task.is_finished()))
            .map(|(file, _)| file.clone())
            .collect();
        for done in finished {
            if let Some(HandedSync::Running(task)) = syncs.remove(&done)
                && let Some(outcome) = task.now_or_never()
                && let Err(error) = outcome.unwrap_or_else(|e| Err(io::Error::other(e)))
            {
                syncs.insert(done, HandedSync::Failed(error));
            }
        }
        syncs.insert(file, HandedSync::Running(sync));
    }

    /// The sync left running for `file`, if any; the error of one that failed.
    pub(super) fn take(&self, file: &Path) -> io::Result<Option<JoinHandle<io::Result<()>>>> {
        match self.syncs().remove(file) {
            None => Ok(None),
            Some(HandedSync::Running(task)) => Ok(Some(task)),
            Some(HandedSync::Failed(error)) => Err(error),
        }
    }
}

/// Batches written at once, at most, per writer.
pub(super) const IN_FLIGHT: usize = 3;

/// Chunks below this are copied into a shared buffer rather than written one by one.
pub(super) const SMALL_CHUNK: usize = 64 << 10;

/// Once this much more has been written, the next batch also starts a `sync_data` in the
/// background. Without it the kernel starts writing a large upload back only at `commit`, so
/// the disk idles while the caller hashes and writes, and then the caller idles while the disk
/// writes: syncing along the way overlaps the two.
pub(super) const SYNC_EVERY: u64 = 16 << 20;

impl FilesystemWriter {
    fn io_error(&self, error: io::Error) -> StorageError {
        fs_error(self.path.as_str(), Access::Write, error)
    }

    fn broken(&self) -> StorageError {
        self.io_error(io::Error::other("an earlier write to this file failed"))
    }

    /// Waits for the oldest batch under way.
    async fn settle_one(&mut self) -> Result<(), StorageError> {
        if let Some(task) = self.in_flight.front_mut() {
            // Awaiting by reference: if this future is dropped, the write is still tracked.
            let outcome = task.await;
            self.in_flight.pop_front();
            let written = outcome.unwrap_or_else(|e| Err(io::Error::other(e)));
            if let Err(error) = written {
                self.failed = true;
                return Err(self.io_error(error));
            }
        }
        Ok(())
    }

    /// Waits for the background sync, if any.
    async fn settle_sync(&mut self) -> Result<(), StorageError> {
        if let Some(task) = &mut self.syncing {
            let outcome = task.await;
            self.syncing = None;
            if let Err(error) = outcome.unwrap_or_else(|e| Err(io::Error::other(e))) {
                self.failed = true;
                return Err(self.io_error(error));
            }
        }
        Ok(())
    }

    /// Starts a background sync when enough was written since the last and none is under way.
    async fn pace(&mut self) -> Result<(), StorageError> {
        if self.batch_offset - self.synced_at < SYNC_EVERY
            || self
                .syncing
                .as_ref()
                .is_some_and(|task| !task.is_finished())
        {
            return Ok(());
        }
        self.settle_sync().await?;
        self.synced_at = self.batch_offset;
        let file = Arc::clone(&self.file);
        self.syncing = Some(tokio::task::spawn_blocking(move || file.sync_data()));
        Ok(())
    }

    /// Sends the batch being gathered to a blocking thread, once fewer than [`IN_FLIGHT`] are
    /// under way.
    async fn dispatch(&mut self) -> Result<(), StorageError> {
        if !self.small.is_empty() {
            self.batch.push(self.small.split().freeze());
        }
        if self.batch.is_empty() {
            return Ok(());
        }
        while self.in_flight.len() >= IN_FLIGHT {
            self.settle_one().await?;
        }
        let batch = std::mem::take(&mut self.batch);
        let file = Arc::clone(&self.file);
        let mut offset = self.batch_offset;
        self.batch_offset += self.batch_len as u64;
        self.batch_len = 0;
        self.in_flight
            .push_back(tokio::task::spawn_blocking(move || {
                for chunk in batch {
                    write_all_at(&file, &chunk, offset)?;
                    offset += chunk.len() as u64;
                }
                Ok(())
            }));
        self.pace().await
    }

    /// Writes everything gathered and waits until it is all in the file.
    async fn flush_writes(&mut self) -> Result<(), StorageError> {
        if self.failed {
            return Err(self.broken());
        }
        self.dispatch().await?;
        while !self.in_flight.is_empty() {
            self.settle_one().await?;
        }
        Ok(())
    }

    /// [`flush_writes`](Self::flush_writes), then waits for the background sync too: its
    /// error, if any, would not be seen by a later sync through another handle.
    async fn flush(&mut self) -> Result<(), StorageError> {
        self.flush_writes().await?;
        self.settle_sync().await
    }
}

/// Writes `data` at `offset`, leaving the file position alone.
#[cfg(unix)]
pub(super) fn write_all_at(file: &File, data: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, data, offset)
}

/// Writes `data` at `offset`.
#[cfg(windows)]
pub(super) fn write_all_at(file: &File, mut data: &[u8], mut offset: u64) -> io::Result<()> {
    while !data.is_empty() {
        match std::os::windows::fs::FileExt::seek_write(file, data, offset) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                data = &data[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl FileWriter for FilesystemWriter {
    fn write<'a>(&'a mut self, chunk: Bytes) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            if self.failed {
                return Err(self.broken());
            }
            let len = chunk.len();
            if len < SMALL_CHUNK {
                if self.small.capacity() - self.small.len() < len {
                    self.small.reserve(SMALL_CHUNK.max(len));
                }
                self.small.extend_from_slice(&chunk);
                if self.small.len() >= SMALL_CHUNK {
                    self.batch.push(self.small.split().freeze());
                }
            } else {
                if !self.small.is_empty() {
                    self.batch.push(self.small.split().freeze());
                }
                self.batch.push(chunk);
            }
            self.batch_len += len;
            self.size += len as u64;
            if self.batch_len >= BUFFER_SIZE {
                self.dispatch().await?;
            }
            Ok(())
        })
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn close(mut self: Box<Self>) -> BoxFuture<'static, Result<(), StorageError>> {
        Box::pin(async move {
            self.flush_writes().await?;
            match self.syncing.take() {
                Some(sync) if !sync.is_finished() => {
                    self.handover.give(self.full.clone(), sync);
                    Ok(())
                }
                finished => {
                    self.syncing = finished;
                    self.settle_sync().await
                }
            }
        })
    }

    fn commit(mut self: Box<Self>) -> BoxFuture<'static, Result<(), StorageError>> {
        Box::pin(async move {
            self.flush().await?;
            let file = Arc::clone(&self.file);
            let dirs = std::mem::take(&mut self.sync_on_commit);
            let path = self.path.clone();
            blocking(&self.path, move || {
                file.sync_all()
                    .map_err(|e| fs_error(path.as_str(), Access::Write, e))?;
                sync_dirs(dirs, &path)
            })
            .await
        })
    }

    fn cancel(mut self: Box<Self>) -> BoxFuture<'static, Result<(), StorageError>> {
        Box::pin(async move {
            // Writes under way must end before the file is removed, or one could outlive the
            // removal. Their outcome no longer matters.
            while !self.in_flight.is_empty() {
                let _ = self.settle_one().await;
            }
            let _ = self.settle_sync().await;
            let full = std::mem::take(&mut self.full);
            let path = self.path.clone();
            blocking(&self.path, move || match fs::remove_file(&full) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    Err(fs_error(path.as_str(), Access::Write, e))
                }
                _ => Ok(()),
            })
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{HandedSync, SyncHandover};

    #[tokio::test]
    async fn a_handed_over_sync_reaches_the_next_writer_with_its_outcome() {
        let handover = SyncHandover::default();
        let (a, b) = (Path::new("/a").to_path_buf(), Path::new("/b").to_path_buf());
        // A sync that fails once its writer has closed, and one still running.
        let failing = tokio::task::spawn_blocking(|| Err(std::io::Error::other("disk on fire")));
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let running = tokio::task::spawn_blocking(move || {
            let _ = wait.recv();
            Ok(())
        });
        handover.give(a.clone(), failing);
        for _ in 0..1000 {
            if handover
                .syncs()
                .values()
                .all(|handed| matches!(handed, HandedSync::Running(task) if task.is_finished()))
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        // Giving another sweeps the finished one, keeping its error for `a`'s next writer.
        handover.give(b.clone(), running);
        let error = handover.take(&a).unwrap_err();
        assert_eq!(error.to_string(), "disk on fire");
        assert!(handover.take(&a).unwrap().is_none(), "taken once");
        let running = handover.take(&b).unwrap().expect("still running");
        release.send(()).unwrap();
        running.await.unwrap().unwrap();
    }
}
