//! Mapping a [`StoragePath`] onto the disk below the root, refusing symbolic links, and the
//! directory work around it: creating and syncing directories, temporary names, listings.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::driver::FileInfo;
use crate::{StorageError, StoragePath};

/// Whether an operation only looks at a path or needs its parent directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    /// A file below a file is simply not there.
    Read,
    /// A file where a directory is needed is an invalid path.
    Write,
}

/// Maps an I/O error at `path`: not found is [`StorageError::PathNotFound`]; a file where a
/// directory is needed, or the other way round, is [`StorageError::InvalidPath`] (or not found,
/// when only reading).
pub(super) fn fs_error(path: &str, access: Access, error: io::Error) -> StorageError {
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

pub(super) fn invalid(path: &StoragePath) -> StorageError {
    StorageError::InvalidPath {
        path: path.to_string(),
    }
}

pub(super) fn not_found(path: &StoragePath) -> StorageError {
    StorageError::PathNotFound {
        path: path.to_string(),
    }
}

/// A [`StoragePath`] checked and mapped onto the disk.
#[derive(Debug)]
pub(super) struct Resolved {
    /// `<root>/<path>`.
    pub(super) full: PathBuf,
    /// What is at `full` (never a symbolic link), when something is.
    pub(super) meta: Option<Metadata>,
    /// Directories that gained an entry because parents were created: to sync for durability.
    pub(super) changed_dirs: Vec<PathBuf>,
}

/// Maps `path` below `root`, refusing symbolic links in every existing component. With
/// [`Access::Write`], missing parent directories are created.
pub(super) fn resolve(
    root: &Path,
    path: &StoragePath,
    access: Access,
) -> Result<Resolved, StorageError> {
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
pub(super) fn make_dir(dir: &Path, path: &StoragePath) -> Result<(), StorageError> {
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
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Syncs each directory once.
pub(super) fn sync_dirs(mut dirs: Vec<PathBuf>, path: &StoragePath) -> Result<(), StorageError> {
    dirs.sort();
    dirs.dedup();
    for dir in dirs {
        sync_dir(&dir).map_err(|error| fs_error(path.as_str(), Access::Write, error))?;
    }
    Ok(())
}

/// Creates a new, empty temporary file in `dir`, named so that no [`StoragePath`] can name it;
/// `private` makes it readable and writable by its owner only (on Unix).
pub(super) fn create_temp(dir: &Path, private: bool) -> io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut last_error = None;
    // A leftover from a crashed process with the same id may hold a name: try the next one.
    for _ in 0..64 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(format!(".tmp~{}~{n}", std::process::id()));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        if private {
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        }
        #[cfg(not(unix))]
        let _ = private;
        match options.open(&temp) {
            Ok(file) => return Ok((temp, file)),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => last_error = Some(error),
            Err(error) => return Err(error),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no free temporary name")))
}

/// Runs blocking file system work on tokio's blocking threads.
pub(super) async fn blocking<T, F>(path: &StoragePath, work: F) -> Result<T, StorageError>
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

pub(super) fn file_info(path: StoragePath, meta: &Metadata) -> FileInfo {
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
pub(super) fn read_children(
    full: &Path,
    dir: &StoragePath,
) -> Result<Vec<(FileInfo, PathBuf)>, StorageError> {
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
pub(super) fn read_child_paths(
    full: &Path,
    dir: &StoragePath,
) -> Result<Vec<StoragePath>, StorageError> {
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
