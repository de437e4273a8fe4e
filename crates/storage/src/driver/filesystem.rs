//! A driver over a local directory: the default, and the layout CNCF Distribution's
//! `filesystem` driver reads and writes.
//!
//! The [`StoragePath`] `/a/b` is the file `<root>/a/b`. Paths cannot leave the root:
//! [`StoragePath`] has no `.` or `..` components, and every existing component of a path is
//! checked before use, so a symbolic link anywhere below the root makes the path
//! [`StorageError::InvalidPath`]; [`list`](StorageDriver::list) and
//! [`walk`](StorageDriver::walk) pass symbolic links over. The check and the use are separate
//! system calls: a process that creates links inside the root while the driver runs could race
//! them. The root belongs to the driver.
//!
//! Whole files ([`put_content`](StorageDriver::put_content)) are written under a temporary name
//! in the target's directory, synced, renamed over the target, and the directory is synced. A
//! temporary name contains `~`, which no [`StoragePath`] can, so it never collides with a path
//! and listings never show it (one left by a crash stays until its directory is deleted).
//! A [`FileWriter`] writes to its file directly, in batches of 1 MiB written at their offsets
//! on blocking threads, up to three at a time while the caller goes on (at most 4 MiB held per
//! writer), and syncs the data in the background every 16 MiB so the disk works while the
//! caller does; `commit` syncs the file and the directories whose entries it created.
//!
//! Directories are created as files are put below them and stay when emptied, as in
//! Distribution's driver.

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use futures_util::FutureExt;
use tokio::io::BufReader;
use tokio::task::JoinHandle;

use super::beneath::{Beneath, Purpose};
use super::{
    BoxByteStream, BoxFuture, BoxReader, FileInfo, FileWriter, StorageDriver, WalkControl,
    WalkVisitor,
};
use crate::{StorageError, StoragePath};

/// The size of read buffers and of the writer's buffer.
const BUFFER_SIZE: usize = 1 << 20;

/// Files in a directory on the local disk. Clones share the root.
#[derive(Debug, Clone)]
pub struct FilesystemDriver {
    root: Arc<Path>,
    beneath: Arc<Beneath>,
    handover: Arc<SyncHandover>,
}

impl FilesystemDriver {
    /// A driver rooted at `root`, which is created if absent and made canonical (absolute, with
    /// no symbolic links). This blocks briefly: call it at start-up.
    pub fn new(root: impl AsRef<Path>) -> Result<FilesystemDriver, StorageError> {
        let root = root.as_ref();
        let name = root.display().to_string();
        fs::create_dir_all(root).map_err(|error| fs_error(&name, Access::Write, error))?;
        let root = fs::canonicalize(root).map_err(|error| fs_error(&name, Access::Read, error))?;
        if !root.is_dir() {
            return Err(StorageError::InvalidPath { path: name });
        }
        Ok(FilesystemDriver {
            beneath: Arc::new(Beneath::new(&root)),
            root: root.into(),
            handover: Arc::default(),
        })
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes `content` to a temporary file beside `path` and renames it over `path`; when
    /// `durability` asks, syncs the file first and the directories it changed after.
    async fn replace(
        &self,
        path: &StoragePath,
        content: Bytes,
        durability: Durability,
    ) -> Result<(), StorageError> {
        let root = Arc::clone(&self.root);
        let owned = path.clone();
        blocking(path, move || {
            let path = owned;
            if path.is_root() {
                return Err(invalid(&path));
            }
            let resolved = resolve(&root, &path, Access::Write)?;
            let dir = resolved.full.parent().unwrap_or(&root).to_path_buf();
            let error = |e| fs_error(path.as_str(), Access::Write, e);
            let (temp, mut file) = create_temp(&dir).map_err(error)?;
            let written = file
                .write_all(&content)
                .and_then(|()| match durability {
                    Durability::Synced => file.sync_all(),
                    Durability::Unsynced => Ok(()),
                })
                .and_then(|()| fs::rename(&temp, &resolved.full));
            if let Err(e) = written {
                drop(file);
                // Best effort: the temporary's name is invisible to the driver anyway.
                let _ = fs::remove_file(&temp);
                return Err(error(e));
            }
            match durability {
                Durability::Synced => {
                    let mut dirs = resolved.changed_dirs;
                    dirs.push(dir);
                    sync_dirs(dirs, &path)
                }
                Durability::Unsynced => Ok(()),
            }
        })
        .await
    }
}

/// Whether [`FilesystemDriver::replace`] waits for the new file to reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Durability {
    Synced,
    Unsynced,
}

/// Whether an operation only looks at a path or needs its parent directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// A file below a file is simply not there.
    Read,
    /// A file where a directory is needed is an invalid path.
    Write,
}

/// Maps an I/O error at `path`: not found is [`StorageError::PathNotFound`]; a file where a
/// directory is needed, or the other way round, is [`StorageError::InvalidPath`] (or not found,
/// when only reading).
fn fs_error(path: &str, access: Access, error: io::Error) -> StorageError {
    let path = path.to_owned();
    match error.kind() {
        io::ErrorKind::NotADirectory if access == Access::Read => {
            StorageError::PathNotFound { path }
        }
        io::ErrorKind::NotADirectory
        | io::ErrorKind::IsADirectory
        | io::ErrorKind::DirectoryNotEmpty
        | io::ErrorKind::AlreadyExists => StorageError::InvalidPath { path },
        _ => StorageError::io(path, error),
    }
}

fn invalid(path: &StoragePath) -> StorageError {
    StorageError::InvalidPath {
        path: path.to_string(),
    }
}

fn not_found(path: &StoragePath) -> StorageError {
    StorageError::PathNotFound {
        path: path.to_string(),
    }
}

/// A [`StoragePath`] checked and mapped onto the disk.
#[derive(Debug)]
struct Resolved {
    /// `<root>/<path>`.
    full: PathBuf,
    /// What is at `full` (never a symbolic link), when something is.
    meta: Option<Metadata>,
    /// Directories that gained an entry because parents were created: to sync for durability.
    changed_dirs: Vec<PathBuf>,
}

/// Maps `path` below `root`, refusing symbolic links in every existing component. With
/// [`Access::Write`], missing parent directories are created.
fn resolve(root: &Path, path: &StoragePath, access: Access) -> Result<Resolved, StorageError> {
    let mut full = root.to_path_buf();
    let mut changed_dirs = Vec::new();
    if path.is_root() {
        let meta = fs::metadata(root).map_err(|error| fs_error(path.as_str(), access, error))?;
        return Ok(Resolved {
            full,
            meta: Some(meta),
            changed_dirs,
        });
    }
    let count = path.components().count();
    let mut missing = false;
    for (index, name) in path.components().enumerate() {
        let last = index + 1 == count;
        let parent = full.clone();
        full.push(name);
        if missing {
            // Everything from here down is ours to create.
            if !last {
                make_dir(&full, path)?;
                changed_dirs.push(parent);
            }
            continue;
        }
        match fs::symlink_metadata(&full) {
            Ok(meta) if meta.file_type().is_symlink() => return Err(invalid(path)),
            Ok(meta) if last => {
                return Ok(Resolved {
                    full,
                    meta: Some(meta),
                    changed_dirs,
                });
            }
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(match access {
                    Access::Read => not_found(path),
                    Access::Write => invalid(path),
                });
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => match access {
                Access::Read => break,
                Access::Write => {
                    missing = true;
                    if !last {
                        make_dir(&full, path)?;
                        changed_dirs.push(parent);
                    }
                }
            },
            Err(error) => return Err(fs_error(path.as_str(), access, error)),
        }
    }
    let full = root.join(path.as_str().trim_start_matches('/'));
    Ok(Resolved {
        full,
        meta: None,
        changed_dirs,
    })
}

/// Creates one directory; one that appeared meanwhile is fine if it is a real directory.
fn make_dir(dir: &Path, path: &StoragePath) -> Result<(), StorageError> {
    match fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            match fs::symlink_metadata(dir) {
                Ok(meta) if meta.is_dir() => Ok(()),
                Ok(_) => Err(invalid(path)),
                Err(error) => Err(fs_error(path.as_str(), Access::Write, error)),
            }
        }
        Err(error) => Err(fs_error(path.as_str(), Access::Write, error)),
    }
}

/// Flushes a directory's entries to the disk.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Syncs each directory once.
fn sync_dirs(mut dirs: Vec<PathBuf>, path: &StoragePath) -> Result<(), StorageError> {
    dirs.sort();
    dirs.dedup();
    for dir in dirs {
        sync_dir(&dir).map_err(|error| fs_error(path.as_str(), Access::Write, error))?;
    }
    Ok(())
}

/// Creates a new, empty temporary file in `dir`, named so that no [`StoragePath`] can name it.
fn create_temp(dir: &Path) -> io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut last_error = None;
    // A leftover from a crashed process with the same id may hold a name: try the next one.
    for _ in 0..64 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!(".tmp~{}~{n}", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(file) => return Ok((temp, file)),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => last_error = Some(error),
            Err(error) => return Err(error),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no free temporary name")))
}

/// Runs blocking file system work on tokio's blocking threads.
async fn blocking<T, F>(path: &StoragePath, work: F) -> Result<T, StorageError>
where
    F: FnOnce() -> Result<T, StorageError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|error| {
            Err(StorageError::Io {
                path: path.to_string(),
                source: io::Error::other(error),
            })
        })
}

fn file_info(path: StoragePath, meta: &Metadata) -> FileInfo {
    FileInfo {
        path,
        size: if meta.is_dir() { 0 } else { meta.len() },
        modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        is_dir: meta.is_dir(),
    }
}

/// The entries of the directory `full` (the driver path `dir`) that the driver can name, in
/// lexical order of their names: symbolic links, temporary files and names that are not path
/// components are passed over.
fn read_children(full: &Path, dir: &StoragePath) -> Result<Vec<(FileInfo, PathBuf)>, StorageError> {
    let error = |error| fs_error(dir.as_str(), Access::Read, error);
    let mut children = Vec::new();
    for entry in fs::read_dir(full).map_err(error)? {
        let entry = entry.map_err(error)?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let Ok(child) = dir.join(&name) else {
            continue;
        };
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            // Deleted since the listing began.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(error(e)),
        };
        if meta.file_type().is_symlink() {
            continue;
        }
        children.push((file_info(child, &meta), entry.path()));
    }
    children.sort_by(|(a, _), (b, _)| a.path.file_name().cmp(&b.path.file_name()));
    Ok(children)
}

/// The paths of a directory's children, sorted, symlinks left out, without a `stat` per child:
/// the directory entry's type is enough.
fn read_child_paths(full: &Path, dir: &StoragePath) -> Result<Vec<StoragePath>, StorageError> {
    let error = |error| fs_error(dir.as_str(), Access::Read, error);
    let mut children = Vec::new();
    for entry in fs::read_dir(full).map_err(error)? {
        let entry = entry.map_err(error)?;
        match entry.file_type() {
            Ok(kind) if kind.is_symlink() => continue,
            Ok(_) => {}
            // Deleted since the listing began.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(error(e)),
        }
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if let Ok(child) = dir.join(&name) {
            children.push(child);
        }
    }
    children.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(children)
}

impl StorageDriver for FilesystemDriver {
    fn name(&self) -> &'static str {
        "filesystem"
    }

    fn get_content<'a>(
        &'a self,
        path: &'a StoragePath,
    ) -> BoxFuture<'a, Result<Bytes, StorageError>> {
        let root = Arc::clone(&self.root);
        let beneath = Arc::clone(&self.beneath);
        let owned = path.clone();
        Box::pin(async move {
            if let Some(cached) = beneath.read_cached(path, CACHED_READ_MAX) {
                return cached.map(Bytes::from);
            }
            let content = blocking(path, move || {
                let error = |e| fs_error(owned.as_str(), Access::Read, e);
                match beneath.open(&owned, Purpose::Read) {
                    Some(file) => read_whole(&file?).map_err(error),
                    None => {
                        let resolved = resolve(&root, &owned, Access::Read)?;
                        fs::read(&resolved.full).map_err(error)
                    }
                }
            })
            .await?;
            Ok(Bytes::from(content))
        })
    }

    fn put_content<'a>(
        &'a self,
        path: &'a StoragePath,
        content: Bytes,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(self.replace(path, content, Durability::Synced))
    }

    fn put_content_unsynced<'a>(
        &'a self,
        path: &'a StoragePath,
        content: Bytes,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(self.replace(path, content, Durability::Unsynced))
    }

    fn reader<'a>(
        &'a self,
        path: &'a StoragePath,
        offset: u64,
    ) -> BoxFuture<'a, Result<BoxReader, StorageError>> {
        let root = Arc::clone(&self.root);
        let beneath = Arc::clone(&self.beneath);
        let owned = path.clone();
        Box::pin(async move {
            let file = blocking(path, move || {
                let mut file = open_at(&root, &beneath, &owned, offset)?;
                file.seek(SeekFrom::Start(offset))
                    .map_err(|e| fs_error(owned.as_str(), Access::Read, e))?;
                Ok(file)
            })
            .await?;
            let reader: BoxReader = Box::pin(BufReader::with_capacity(
                BUFFER_SIZE,
                tokio::fs::File::from_std(file),
            ));
            Ok(reader)
        })
    }

    fn read_stream<'a>(
        &'a self,
        path: &'a StoragePath,
        offset: u64,
        len: u64,
    ) -> BoxFuture<'a, Result<BoxByteStream, StorageError>> {
        let root = Arc::clone(&self.root);
        let beneath = Arc::clone(&self.beneath);
        let owned = path.clone();
        Box::pin(async move {
            let file = match beneath.open_cached(path) {
                Some(opened) => check_read_offset(opened?, path, offset)?,
                None => blocking(path, move || open_at(&root, &beneath, &owned, offset)).await?,
            };
            let reads = ReadsAhead {
                file: Arc::new(file),
                next: offset,
                end: offset.saturating_add(len),
                in_flight: VecDeque::new(),
                path: path.to_string(),
            };
            let stream: BoxByteStream = Box::pin(futures_util::stream::try_unfold(
                reads,
                ReadsAhead::next_chunk,
            ));
            Ok(stream)
        })
    }

    fn writer<'a>(
        &'a self,
        path: &'a StoragePath,
        append: bool,
    ) -> BoxFuture<'a, Result<Box<dyn FileWriter>, StorageError>> {
        let root = Arc::clone(&self.root);
        let handover = Arc::clone(&self.handover);
        let owned = path.clone();
        Box::pin(async move {
            let writer = blocking(path, move || {
                let path = owned;
                if path.is_root() {
                    return Err(invalid(&path));
                }
                let access = if append { Access::Read } else { Access::Write };
                let resolved = resolve(&root, &path, access)?;
                let error = |e| fs_error(path.as_str(), Access::Write, e);
                if resolved.meta.as_ref().is_some_and(Metadata::is_dir) {
                    return Err(invalid(&path));
                }
                let mut options = OpenOptions::new();
                options.write(true);
                if !append {
                    options.create(true).truncate(true);
                }
                let mut file = options.open(&resolved.full).map_err(|e| {
                    let access = if append { Access::Read } else { Access::Write };
                    fs_error(path.as_str(), access, e)
                })?;
                let size = if append {
                    file.seek(SeekFrom::End(0)).map_err(error)?
                } else {
                    0
                };
                // A sync the last writer of this file left running is this writer's now.
                let syncing = handover.take(&resolved.full).map_err(error)?;
                let mut sync_on_commit = resolved.changed_dirs;
                if resolved.meta.is_none() {
                    // A new entry in the parent directory.
                    sync_on_commit.push(resolved.full.parent().unwrap_or(&root).to_path_buf());
                }
                Ok(FilesystemWriter {
                    path,
                    full: resolved.full,
                    file: Arc::new(file),
                    in_flight: VecDeque::new(),
                    batch: Vec::new(),
                    batch_len: 0,
                    small: BytesMut::new(),
                    batch_offset: size,
                    size,
                    failed: false,
                    syncing,
                    synced_at: size,
                    sync_on_commit,
                    handover,
                })
            })
            .await?;
            let writer: Box<dyn FileWriter> = Box::new(writer);
            Ok(writer)
        })
    }

    fn stat<'a>(&'a self, path: &'a StoragePath) -> BoxFuture<'a, Result<FileInfo, StorageError>> {
        let root = Arc::clone(&self.root);
        let beneath = Arc::clone(&self.beneath);
        let owned = path.clone();
        Box::pin(blocking(path, move || {
            if let Some(file) = beneath.open(&owned, Purpose::Stat) {
                let meta = file?
                    .metadata()
                    .map_err(|e| fs_error(owned.as_str(), Access::Read, e))?;
                return Ok(file_info(owned, &meta));
            }
            let resolved = resolve(&root, &owned, Access::Read)?;
            match resolved.meta {
                Some(meta) => Ok(file_info(owned, &meta)),
                None => Err(not_found(&owned)),
            }
        }))
    }

    fn list<'a>(
        &'a self,
        path: &'a StoragePath,
    ) -> BoxFuture<'a, Result<Vec<StoragePath>, StorageError>> {
        let root = Arc::clone(&self.root);
        let owned = path.clone();
        Box::pin(blocking(path, move || {
            let resolved = resolve(&root, &owned, Access::Read)?;
            match resolved.meta {
                None => Err(not_found(&owned)),
                Some(meta) if !meta.is_dir() => Err(invalid(&owned)),
                Some(_) => read_child_paths(&resolved.full, &owned),
            }
        }))
    }

    fn move_path<'a>(
        &'a self,
        from: &'a StoragePath,
        to: &'a StoragePath,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        let root = Arc::clone(&self.root);
        let (from_owned, to_owned) = (from.clone(), to.clone());
        Box::pin(blocking(from, move || {
            let (from, to) = (from_owned, to_owned);
            if from.is_root() {
                return Err(invalid(&from));
            }
            if to.is_root() {
                return Err(invalid(&to));
            }
            let source = resolve(&root, &from, Access::Read)?;
            match &source.meta {
                None => return Err(not_found(&from)),
                Some(meta) if meta.is_dir() => return Err(invalid(&from)),
                Some(_) => {}
            }
            let target = resolve(&root, &to, Access::Write)?;
            fs::rename(&source.full, &target.full).map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => not_found(&from),
                _ => fs_error(to.as_str(), Access::Write, e),
            })?;
            let mut dirs = target.changed_dirs;
            dirs.extend(target.full.parent().map(Path::to_path_buf));
            dirs.extend(source.full.parent().map(Path::to_path_buf));
            sync_dirs(dirs, &to)
        }))
    }

    fn delete<'a>(&'a self, path: &'a StoragePath) -> BoxFuture<'a, Result<(), StorageError>> {
        let root = Arc::clone(&self.root);
        let owned = path.clone();
        Box::pin(blocking(path, move || {
            let path = owned;
            let resolved = resolve(&root, &path, Access::Read)?;
            let error = |e| fs_error(path.as_str(), Access::Read, e);
            match resolved.meta {
                None => Err(not_found(&path)),
                Some(_) if path.is_root() => {
                    // Empty the root but keep it.
                    for entry in fs::read_dir(&resolved.full).map_err(error)? {
                        let entry = entry.map_err(error)?;
                        let removed = if entry.file_type().map_err(error)?.is_dir() {
                            fs::remove_dir_all(entry.path())
                        } else {
                            fs::remove_file(entry.path())
                        };
                        match removed {
                            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(error(e)),
                            _ => {}
                        }
                    }
                    Ok(())
                }
                Some(meta) if meta.is_dir() => fs::remove_dir_all(&resolved.full).map_err(error),
                Some(_) => fs::remove_file(&resolved.full).map_err(error),
            }
        }))
    }

    fn walk<'a>(
        &'a self,
        path: &'a StoragePath,
        visit: &'a mut WalkVisitor<'_>,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        let root = Arc::clone(&self.root);
        let owned = path.clone();
        Box::pin(async move {
            // One blocking call per directory: it lists and stats every entry.
            let first = blocking(path, move || {
                let resolved = resolve(&root, &owned, Access::Read)?;
                match resolved.meta {
                    None => Err(not_found(&owned)),
                    Some(meta) if !meta.is_dir() => Err(invalid(&owned)),
                    Some(_) => read_children(&resolved.full, &owned),
                }
            })
            .await?;
            let mut pending: Vec<(FileInfo, PathBuf)> = first.into_iter().rev().collect();
            while let Some((info, full)) = pending.pop() {
                match visit(&info) {
                    WalkControl::Stop => return Ok(()),
                    WalkControl::SkipDir => {}
                    WalkControl::Continue if info.is_dir => {
                        let dir = info.path.clone();
                        let children =
                            blocking(&info.path, move || read_children(&full, &dir)).await;
                        match children {
                            Ok(children) => pending.extend(children.into_iter().rev()),
                            // Deleted while the walk ran.
                            Err(error) if error.is_not_found() => {}
                            Err(error) => return Err(error),
                        }
                    }
                    WalkControl::Continue => {}
                }
            }
            Ok(())
        })
    }
}

/// Writes straight to the file. Chunks gather into batches of [`BUFFER_SIZE`] (small chunks are
/// copied together, larger ones kept as they are); each batch is written at its offset on a
/// blocking thread, with up to [`IN_FLIGHT`] batches under way while the caller goes on, so
/// hashing and disk writes overlap and a stalled write does not stall the caller at once.
#[derive(Debug)]
struct FilesystemWriter {
    path: StoragePath,
    full: PathBuf,
    file: Arc<File>,
    /// Batches being written, oldest first.
    in_flight: VecDeque<JoinHandle<io::Result<()>>>,
    /// The batch being gathered, and its length.
    batch: Vec<Bytes>,
    batch_len: usize,
    /// Small chunks copied together.
    small: BytesMut,
    /// Where the batch being gathered starts in the file.
    batch_offset: u64,
    size: u64,
    /// Set once a write failed: the file's content is then unknown.
    failed: bool,
    /// A `sync_data` under way, started to keep the disk busy while the caller writes on.
    syncing: Option<JoinHandle<io::Result<()>>>,
    /// The file's length when the last such sync began.
    synced_at: u64,
    /// Directories to sync on commit, because this writer created entries in them.
    sync_on_commit: Vec<PathBuf>,
    /// Where `close` leaves a sync still under way.
    handover: Arc<SyncHandover>,
}

/// Background syncs that closed writers left running, by file. `close` promises visibility,
/// not durability, so it need not wait for them; the next writer of the file takes its sync
/// over, and so sees its outcome before it commits.
#[derive(Debug, Default)]
struct SyncHandover(Mutex<HashMap<PathBuf, HandedSync>>);

#[derive(Debug)]
enum HandedSync {
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
    fn take(&self, file: &Path) -> io::Result<Option<JoinHandle<io::Result<()>>>> {
        match self.syncs().remove(file) {
            None => Ok(None),
            Some(HandedSync::Running(task)) => Ok(Some(task)),
            Some(HandedSync::Failed(error)) => Err(error),
        }
    }
}

/// Batches written at once, at most, per writer.
const IN_FLIGHT: usize = 3;

/// Chunks below this are copied into a shared buffer rather than written one by one.
const SMALL_CHUNK: usize = 64 << 10;

/// Once this much more has been written, the next batch also starts a `sync_data` in the
/// background. Without it the kernel starts writing a large upload back only at `commit`, so
/// the disk idles while the caller hashes and writes, and then the caller idles while the disk
/// writes: syncing along the way overlaps the two.
const SYNC_EVERY: u64 = 16 << 20;

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

/// Opens the file at `path` for reading from `offset`, which must not be past its end.
fn open_at(
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
fn check_read_offset(file: File, path: &StoragePath, offset: u64) -> Result<File, StorageError> {
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
fn read_whole(mut file: &File) -> io::Result<Vec<u8>> {
    let size = file.metadata().map(|meta| meta.len()).unwrap_or(0);
    let mut content = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    io::Read::read_to_end(&mut file, &mut content)?;
    Ok(content)
}

/// Files up to this size that the kernel's caches hold whole are read by `get_content` in the
/// caller's task (a few microseconds) rather than on a blocking thread, whose hand-off costs
/// more than the read: links, tags and small manifests.
const CACHED_READ_MAX: u64 = 64 << 10;

/// The chunk size of [`FilesystemDriver`]'s read streams.
const READ_CHUNK: u64 = 1 << 20;

/// How many chunks a read stream keeps in flight ahead of its consumer.
const READ_AHEAD: usize = 2;

/// A file sent out in chunks: positional reads on blocking threads, [`READ_AHEAD`] of them
/// under way while the consumer sends the last, each into a buffer that becomes the chunk.
struct ReadsAhead {
    file: Arc<File>,
    /// Where the next read to start begins.
    next: u64,
    end: u64,
    in_flight: VecDeque<JoinHandle<io::Result<Bytes>>>,
    path: String,
}

impl ReadsAhead {
    async fn next_chunk(mut self) -> Result<Option<(Bytes, ReadsAhead)>, StorageError> {
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
fn read_exact_at(file: &File, buffer: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buffer, offset)
}

/// Fills `buffer` from `offset`.
#[cfg(windows)]
fn read_exact_at(file: &File, mut buffer: &mut [u8], mut offset: u64) -> io::Result<()> {
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

/// Writes `data` at `offset`, leaving the file position alone.
#[cfg(unix)]
fn write_all_at(file: &File, data: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, data, offset)
}

/// Writes `data` at `offset`.
#[cfg(windows)]
fn write_all_at(file: &File, mut data: &[u8], mut offset: u64) -> io::Result<()> {
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
    use std::fs;
    #[cfg(unix)]
    use std::os::unix::fs::symlink;
    use std::path::Path;
    use std::sync::Arc;

    use bytes::Bytes;

    use super::{FilesystemDriver, SyncHandover};
    use crate::{StorageDriver, StorageError, StoragePath, WalkControl};

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
            if handover.syncs().values().all(
                |handed| matches!(handed, super::HandedSync::Running(task) if task.is_finished()),
            ) {
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

    #[tokio::test]
    async fn appends_across_background_syncs_keep_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let driver = FilesystemDriver::new(dir.path()).unwrap();
        let file = StoragePath::new("/upload/data").unwrap();
        let chunk = |i: u64| Bytes::from(crate::testing::pattern(i, 0, 1 << 20));
        let mut written = Vec::new();
        let mut writer = driver.writer(&file, false).await.unwrap();
        // Three closes, each after more than a sync's worth of data, as chunked uploads do.
        for round in 0..3u64 {
            for i in 0..17 {
                let bytes = chunk(round * 100 + i);
                written.extend_from_slice(&bytes);
                writer.write(bytes).await.unwrap();
            }
            writer.close().await.unwrap();
            writer = driver.writer(&file, true).await.unwrap();
            assert_eq!(writer.size(), written.len() as u64);
        }
        writer.commit().await.unwrap();
        assert!(driver.get_content(&file).await.unwrap() == written[..]);
    }

    fn path(path: &str) -> StoragePath {
        StoragePath::new(path).unwrap()
    }

    /// Every name in `dir` and below, relative to it, sorted.
    fn tree(dir: &Path) -> Vec<String> {
        let mut names = Vec::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(next) = pending.pop() {
            for entry in fs::read_dir(&next).unwrap() {
                let entry = entry.unwrap();
                let relative = entry.path().strip_prefix(dir).unwrap().to_owned();
                names.push(relative.display().to_string());
                if entry.file_type().unwrap().is_dir() {
                    pending.push(entry.path());
                }
            }
        }
        names.sort();
        names
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn passes_the_driver_suite() {
        let dir = tempfile::tempdir().unwrap();
        crate::testing::driver_suite(Arc::new(FilesystemDriver::new(dir.path()).unwrap())).await;
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn paths_are_files_below_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("not/yet/there");
        let driver = FilesystemDriver::new(&root).unwrap();
        assert_eq!(driver.root(), fs::canonicalize(&root).unwrap());
        let link = path("/docker/registry/v2/repositories/library/alpine/_layers/sha256/ab/link");
        driver
            .put_content(&link, Bytes::from_static(b"sha256:ab"))
            .await
            .unwrap();
        let on_disk =
            root.join("docker/registry/v2/repositories/library/alpine/_layers/sha256/ab/link");
        assert_eq!(fs::read(on_disk).unwrap(), b"sha256:ab");
        fs::write(root.join("docker/written-by-another"), b"hi").unwrap();
        assert_eq!(
            driver
                .get_content(&path("/docker/written-by-another"))
                .await
                .unwrap(),
            "hi"
        );

        // A root through a symbolic link is made canonical; a file cannot be a root.
        let alias = dir.path().join("alias");
        symlink(&root, &alias).unwrap();
        assert_eq!(FilesystemDriver::new(&alias).unwrap().root(), driver.root());
        assert!(matches!(
            FilesystemDriver::new(root.join("docker/written-by-another")),
            Err(StorageError::InvalidPath { .. })
        ));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn symbolic_links_never_lead_out_of_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("secret"), b"secret").unwrap();
        let root = dir.path().join("root");
        let driver = FilesystemDriver::new(&root).unwrap();
        driver
            .put_content(&path("/dir/file"), Bytes::from_static(b"inside"))
            .await
            .unwrap();
        symlink(&outside, root.join("escape")).unwrap();
        symlink(outside.join("secret"), root.join("dir/secret")).unwrap();
        // A link to a directory inside the root is refused as well.
        symlink(root.join("dir"), root.join("alias")).unwrap();

        let invalid = |result: Result<(), StorageError>| {
            assert!(
                matches!(result, Err(StorageError::InvalidPath { .. })),
                "{result:?}"
            );
        };
        for linked in ["/escape/secret", "/dir/secret", "/alias/file"] {
            let linked = path(linked);
            invalid(driver.get_content(&linked).await.map(drop));
            invalid(driver.reader(&linked, 0).await.map(drop));
            invalid(driver.stat(&linked).await.map(drop));
            invalid(driver.writer(&linked, true).await.map(drop));
            invalid(driver.writer(&linked, false).await.map(drop));
            invalid(driver.put_content(&linked, Bytes::new()).await);
            invalid(driver.delete(&linked).await);
            invalid(driver.move_path(&linked, &path("/moved")).await);
            invalid(driver.move_path(&path("/dir/file"), &linked).await);
        }
        for link in ["/escape", "/alias"] {
            invalid(driver.list(&path(link)).await.map(drop));
            invalid(driver.delete(&path(link)).await);
            invalid(
                driver
                    .put_content(&path(&format!("{link}/new/file")), Bytes::new())
                    .await,
            );
        }
        // Listings and walks pass links over.
        assert_eq!(
            driver.list(&StoragePath::root()).await.unwrap(),
            [path("/dir")]
        );
        assert_eq!(
            driver.list(&path("/dir")).await.unwrap(),
            [path("/dir/file")]
        );
        let mut seen = Vec::new();
        driver
            .walk(&StoragePath::root(), &mut |info| {
                seen.push(info.path.to_string());
                WalkControl::Continue
            })
            .await
            .unwrap();
        assert_eq!(seen, ["/dir", "/dir/file"]);
        // Deleting everything deletes the links, not what they point at.
        driver.delete(&StoragePath::root()).await.unwrap();
        assert!(tree(&root).is_empty());
        assert_eq!(tree(&outside), ["secret"]);
        assert_eq!(fs::read(outside.join("secret")).unwrap(), b"secret");
    }

    /// `get_content` reads small files that the kernel's caches hold in the caller's task, and
    /// every other file on a blocking thread; either way the answer is the same.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn small_cached_files_are_read_in_place_and_others_on_a_blocking_thread() {
        let dir = tempfile::tempdir().unwrap();
        let driver = FilesystemDriver::new(dir.path()).unwrap();
        let (small, large) = (path("/a/small"), path("/a/large"));
        driver
            .put_content(&small, Bytes::from_static(b"small"))
            .await
            .unwrap();
        let big = Bytes::from(vec![7u8; (super::CACHED_READ_MAX + 1) as usize]);
        driver.put_content(&large, big.clone()).await.unwrap();
        let max = super::CACHED_READ_MAX;
        let cached = |p: &StoragePath| driver.beneath.read_cached(p, max);

        assert_eq!(cached(&small).unwrap().unwrap(), b"small");
        assert!(cached(&large).is_none(), "larger than the bound");
        assert!(cached(&path("/a")).is_none(), "a directory");
        // A name the kernel has looked up before and knows to be missing.
        let missing = path("/a/missing");
        let not_found = |result| matches!(result, Err(StorageError::PathNotFound { .. }));
        assert!(not_found(driver.get_content(&missing).await.map(drop)));
        assert!(not_found(cached(&missing).unwrap().map(drop)));

        // Data dropped from the page cache is not waited for here.
        let file = fs::File::open(dir.path().join("a/small")).unwrap();
        file.sync_all().unwrap();
        rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
        assert!(
            cached(&small).is_none(),
            "the data is not in the page cache"
        );
        assert_eq!(driver.get_content(&small).await.unwrap(), "small");
        assert_eq!(driver.get_content(&large).await.unwrap(), big);
    }

    #[tokio::test]
    async fn put_content_leaves_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let driver = FilesystemDriver::new(dir.path()).unwrap();
        for round in 0..3u8 {
            driver
                .put_content(&path("/a/b/file"), Bytes::from(vec![round; 100_000]))
                .await
                .unwrap();
        }
        assert_eq!(tree(dir.path()), ["a", "a/b", "a/b/file"]);
        // A put that fails at the rename (onto a directory) removes its temporary.
        driver
            .put_content(&path("/a/dir/inside"), Bytes::new())
            .await
            .unwrap();
        assert!(matches!(
            driver
                .put_content(&path("/a/dir"), Bytes::from_static(b"x"))
                .await,
            Err(StorageError::InvalidPath { .. })
        ));
        assert_eq!(
            tree(dir.path()),
            ["a", "a/b", "a/b/file", "a/dir", "a/dir/inside"]
        );
        // Temporaries left by a crash are never listed.
        fs::write(dir.path().join("a/.tmp~1~2"), b"torn").unwrap();
        assert_eq!(
            driver.list(&path("/a")).await.unwrap(),
            [path("/a/b"), path("/a/dir")]
        );
    }

    #[tokio::test]
    async fn committed_writes_are_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let driver = FilesystemDriver::new(dir.path()).unwrap();
        let data = path("/uploads/1/data");
        let mut writer = driver.writer(&data, false).await.unwrap();
        // The file is there from the start: the upload writes it directly.
        assert!(dir.path().join("uploads/1/data").is_file());
        let mut expected = Vec::new();
        for n in 0..40u8 {
            let chunk = vec![n; 100_003];
            expected.extend_from_slice(&chunk);
            writer.write(Bytes::from(chunk)).await.unwrap();
        }
        writer.commit().await.unwrap();
        assert_eq!(
            fs::read(dir.path().join("uploads/1/data")).unwrap(),
            expected
        );

        // A writer dropped unclosed leaves what it had sent; appending goes on from there.
        let mut writer = driver.writer(&data, true).await.unwrap();
        writer.write(Bytes::from(vec![7; 3 << 20])).await.unwrap();
        drop(writer);
        let writer = driver.writer(&data, true).await.unwrap();
        let size = writer.size();
        assert!(size >= expected.len() as u64 && size <= expected.len() as u64 + (3 << 20));
        writer.cancel().await.unwrap();
        assert!(!dir.path().join("uploads/1/data").exists());
    }
}
