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
//! in the target's directory, synced, renamed over the target, and the directory is synced;
//! [`create_content`](StorageDriver::create_content) links the temporary file to the target
//! instead, which never replaces, and makes the file readable by its owner only (mode 0600 on
//! Unix: what is made once, such as a server's secrets, is private). A
//! temporary name contains `~`, which no [`StoragePath`] can, so it never collides with a path
//! and listings never show it (one left by a crash stays until its directory is deleted).
//! A [`FileWriter`] writes to its file directly, in batches of 1 MiB written at their offsets
//! on blocking threads, up to three at a time while the caller goes on (at most 4 MiB held per
//! writer), and syncs the data in the background every 16 MiB so the disk works while the
//! caller does; `commit` syncs the file and the directories whose entries it created.
//!
//! Directories are created as files are put below them and stay when emptied, as in
//! Distribution's driver.

use std::collections::VecDeque;
use std::fs::{self, Metadata, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::BufReader;

use super::beneath::{Beneath, Purpose};
use super::{
    BoxByteStream, BoxFuture, BoxReader, FileInfo, FileWriter, StorageDriver, WalkControl,
    WalkVisitor,
};
use crate::{StorageError, StoragePath};

mod paths;
mod read;
mod writer;

use paths::{
    Access, blocking, create_temp, file_info, fs_error, invalid, not_found, read_child_paths,
    read_children, resolve, sync_dirs,
};
use read::{CACHED_READ_MAX, ReadsAhead, check_read_offset, open_at, read_whole};
use writer::{FilesystemWriter, SyncHandover};

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

    /// Replaces the file at `path` whole, as [`place`](Self::place) does.
    async fn replace(
        &self,
        path: &StoragePath,
        content: Bytes,
        durability: Durability,
    ) -> Result<(), StorageError> {
        let placement = Placement::Replace(durability);
        self.place(path, content, placement).await.map(drop)
    }

    /// Writes `content` to a temporary file beside `path` and renames it over `path`
    /// ([`Placement::Replace`]) or links it there only when nothing is
    /// ([`Placement::Create`]; false when something was); syncs the file first and the
    /// directories it changed after, unless the placement says it need not.
    async fn place(
        &self,
        path: &StoragePath,
        content: Bytes,
        placement: Placement,
    ) -> Result<bool, StorageError> {
        let root = Arc::clone(&self.root);
        let owned = path.clone();
        blocking(path, move || {
            let path = owned;
            if path.is_root() {
                return Err(invalid(&path));
            }
            let resolved = resolve(&root, &path, Access::Write)?;
            if placement == Placement::Create {
                match &resolved.meta {
                    Some(meta) if meta.is_dir() => return Err(invalid(&path)),
                    Some(_) => return Ok(false),
                    None => {}
                }
            }
            let dir = resolved.full.parent().unwrap_or(&root).to_path_buf();
            let error = |e| fs_error(path.as_str(), Access::Write, e);
            let private = placement == Placement::Create;
            let (temp, mut file) = create_temp(&dir, private).map_err(error)?;
            let written = file.write_all(&content).and_then(|()| match placement {
                Placement::Replace(Durability::Unsynced) => Ok(()),
                _ => file.sync_all(),
            });
            let placed = written.and_then(|()| match placement {
                Placement::Replace(_) => fs::rename(&temp, &resolved.full).map(|()| true),
                // A link never replaces: the file appears whole, or the first one stays.
                Placement::Create => {
                    let linked = match fs::hard_link(&temp, &resolved.full) {
                        Ok(()) => Ok(true),
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
                        Err(e) => Err(e),
                    };
                    // Best effort, as below: the temporary's name is invisible to the driver.
                    let _ = fs::remove_file(&temp);
                    linked
                }
            });
            let created = match placed {
                Ok(created) => created,
                Err(e) => {
                    drop(file);
                    // Best effort: the temporary's name is invisible to the driver anyway.
                    let _ = fs::remove_file(&temp);
                    return Err(error(e));
                }
            };
            if !created {
                // Lost the race: what won must be a file.
                return match fs::symlink_metadata(&resolved.full) {
                    Ok(meta) if meta.is_file() => Ok(false),
                    Ok(_) => Err(invalid(&path)),
                    Err(e) => Err(error(e)),
                };
            }
            match placement {
                Placement::Replace(Durability::Unsynced) => Ok(true),
                _ => {
                    let mut dirs = resolved.changed_dirs;
                    dirs.push(dir);
                    sync_dirs(dirs, &path).map(|()| true)
                }
            }
        })
        .await
    }
}

/// How [`FilesystemDriver::place`] puts a file at its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// Over whatever is there.
    Replace(Durability),
    /// Only where nothing is, synced, and readable by the owner only.
    Create,
}

/// Whether [`Placement::Replace`] waits for the new file to reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Durability {
    Synced,
    Unsynced,
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

    fn create_content<'a>(
        &'a self,
        path: &'a StoragePath,
        content: Bytes,
    ) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(self.place(path, content, Placement::Create))
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

#[cfg(test)]
mod tests {
    use std::fs;
    #[cfg(unix)]
    use std::os::unix::fs::symlink;
    use std::path::Path;
    use std::sync::Arc;

    use bytes::Bytes;

    use super::FilesystemDriver;
    use crate::{StorageDriver, StorageError, StoragePath, WalkControl};

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
    async fn created_files_are_private_and_leave_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let driver = FilesystemDriver::new(dir.path()).unwrap();
        let made = path("/gantry/made");
        assert!(
            driver
                .create_content(&made, Bytes::from_static(b"one"))
                .await
                .unwrap()
        );
        assert!(
            !driver
                .create_content(&made, Bytes::from_static(b"two"))
                .await
                .unwrap()
        );
        assert_eq!(fs::read(dir.path().join("gantry/made")).unwrap(), b"one");
        assert_eq!(tree(dir.path()), ["gantry", "gantry/made"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let meta = fs::metadata(dir.path().join("gantry/made")).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        }
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
