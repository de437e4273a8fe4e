//! Opening a file below the driver's root in one system call, where the kernel offers one.
//!
//! On Linux 5.6 and later, `openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS` opens a path
//! below a directory and refuses a symbolic link anywhere on the way: what the filesystem
//! driver's walk does with one `lstat` per component, in one call, and without the race
//! between checking and opening. Elsewhere, and when the kernel refuses the call (an older
//! kernel, a seccomp filter), [`Beneath::open`] answers `None` and the driver walks the path.

use std::fs::File;
use std::path::Path;

use crate::{StorageError, StoragePath};

/// What the opened file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    /// Reading its bytes.
    Read,
    /// Its metadata only (`O_PATH`: no read permission needed, nothing to read).
    Stat,
}

/// The root directory, held open, to open paths beneath.
#[derive(Debug)]
pub(super) struct Beneath {
    #[cfg(target_os = "linux")]
    linux: linux::Root,
}

impl Beneath {
    /// Holds `root` open. Never fails: without it, every open walks the path.
    pub(super) fn new(root: &Path) -> Beneath {
        #[cfg(not(target_os = "linux"))]
        let _ = root;
        Beneath {
            #[cfg(target_os = "linux")]
            linux: linux::Root::new(root),
        }
    }

    /// Reads the file at `path` whole, if no larger than `max`, without waiting for the disk:
    /// `None` when that would mean waiting (a component of the path or some of the data is
    /// not in the kernel's caches), when the file is larger or not a regular file, and on
    /// systems without the calls. The caller then reads it on a blocking thread; this lets a
    /// small read that the caches can answer skip the trip to one.
    pub(super) fn read_cached(
        &self,
        path: &StoragePath,
        max: u64,
    ) -> Option<Result<Vec<u8>, StorageError>> {
        #[cfg(target_os = "linux")]
        return self.linux.read_cached(path, max);
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (path, max);
            None
        }
    }

    /// Opens `path` for reading like [`open`](Self::open), but only if every component of
    /// the path is in the kernel's lookup cache, so that the call cannot wait for the disk.
    /// `None` when it would have to, and on systems without such a call.
    pub(super) fn open_cached(&self, path: &StoragePath) -> Option<Result<File, StorageError>> {
        #[cfg(target_os = "linux")]
        return self.linux.open_cached(path);
        #[cfg(not(target_os = "linux"))]
        {
            let _ = path;
            None
        }
    }

    /// Opens `path` (never the root itself), refusing symbolic links; `None` when this
    /// system cannot, and the caller must walk the path instead.
    pub(super) fn open(
        &self,
        path: &StoragePath,
        purpose: Purpose,
    ) -> Option<Result<File, StorageError>> {
        #[cfg(target_os = "linux")]
        return self.linux.open(path, purpose);
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (path, purpose);
            None
        }
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::fs::File;
    use std::io::IoSliceMut;
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};

    use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};
    use rustix::io::{Errno, ReadWriteFlags};

    use super::Purpose;
    use crate::{StorageError, StoragePath};

    #[derive(Debug)]
    pub(super) struct Root {
        dir: Option<File>,
        /// Cleared the first time the kernel refuses `openat2` itself.
        available: AtomicBool,
        /// Cleared the first time the kernel refuses `RESOLVE_CACHED` (before Linux 5.12).
        cached_available: AtomicBool,
    }

    impl Root {
        pub(super) fn new(root: &Path) -> Root {
            let dir = File::open(root).ok();
            let available = AtomicBool::new(dir.is_some());
            let cached_available = AtomicBool::new(dir.is_some());
            Root {
                dir,
                available,
                cached_available,
            }
        }

        pub(super) fn open_cached(&self, path: &StoragePath) -> Option<Result<File, StorageError>> {
            let flags = OFlags::RDONLY | OFlags::CLOEXEC;
            self.openat2(path, flags, ResolveFlags::CACHED, &self.cached_available)
        }

        pub(super) fn read_cached(
            &self,
            path: &StoragePath,
            max: u64,
        ) -> Option<Result<Vec<u8>, StorageError>> {
            let file = match self.open_cached(path)? {
                Ok(file) => file,
                Err(error) => return Some(Err(error)),
            };
            let stat = rustix::fs::fstat(&file).ok()?;
            let size = u64::try_from(stat.st_size).ok()?;
            if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile || size > max {
                return None;
            }
            // One byte more than the size: a file that grew since is read the slow way.
            let mut content = vec![0; usize::try_from(size).ok()? + 1];
            match read_at_nowait(&file, &mut content, 0) {
                Some(read) if read as u64 == size => {
                    content.truncate(read);
                    Some(Ok(content))
                }
                // Some of the data is not cached, or the file changed.
                _ => None,
            }
        }

        pub(super) fn open(
            &self,
            path: &StoragePath,
            purpose: Purpose,
        ) -> Option<Result<File, StorageError>> {
            let flags = match purpose {
                Purpose::Read => OFlags::RDONLY | OFlags::CLOEXEC,
                Purpose::Stat => OFlags::PATH | OFlags::CLOEXEC,
            };
            self.openat2(path, flags, ResolveFlags::empty(), &self.available)
        }

        /// `openat2` of `path` below the root, refusing symbolic links, with `extra` resolve
        /// flags; `None` when the call cannot answer. `usable` is cleared when the kernel refuses
        /// the call itself.
        fn openat2(
            &self,
            path: &StoragePath,
            flags: OFlags,
            extra: ResolveFlags,
            usable: &AtomicBool,
        ) -> Option<Result<File, StorageError>> {
            let dir = self.dir.as_ref()?;
            if !usable.load(Ordering::Relaxed) || path.is_root() {
                return None;
            }
            let relative = path.as_str().trim_start_matches('/');
            let resolve = ResolveFlags::BENEATH
                | ResolveFlags::NO_SYMLINKS
                | ResolveFlags::NO_MAGICLINKS
                | extra;
            match rustix::fs::openat2(dir, relative, flags, Mode::empty(), resolve) {
                Ok(fd) => Some(Ok(File::from(fd))),
                // A symbolic link on the way: the path leaves the store's own tree.
                Err(Errno::LOOP) => Some(Err(StorageError::InvalidPath {
                    path: path.to_string(),
                })),
                // Missing, or a file where a directory should be: nothing there to read. (With
                // `RESOLVE_CACHED`, the caches know it is missing.)
                Err(Errno::NOENT | Errno::NOTDIR) => Some(Err(StorageError::PathNotFound {
                    path: path.to_string(),
                })),
                // The call itself refused (an old kernel, a filter): not again.
                Err(Errno::NOSYS | Errno::PERM | Errno::INVAL) => {
                    usable.store(false, Ordering::Relaxed);
                    None
                }
                // A rename raced the lookup; with `RESOLVE_CACHED`, `EAGAIN`: the lookup would
                // wait for the disk. Either way the caller takes the slow path.
                Err(_) => None,
            }
        }
    }

    /// Set the first time the kernel refuses `RWF_NOWAIT` (before Linux 4.14, or a
    /// filesystem without it for buffered reads).
    static NOWAIT_REFUSED: AtomicBool = AtomicBool::new(false);

    /// Reads into `buffer` from `offset` only what the page cache holds there: the bytes read
    /// (fewer than asked when only some are cached, 0 at the end of the file), or `None` when
    /// none are cached or the system cannot read this way.
    fn read_at_nowait(file: &File, buffer: &mut [u8], offset: u64) -> Option<usize> {
        if NOWAIT_REFUSED.load(Ordering::Relaxed) {
            return None;
        }
        let mut buffers = [IoSliceMut::new(buffer)];
        match rustix::io::preadv2(file, &mut buffers, offset, ReadWriteFlags::NOWAIT) {
            Ok(read) => Some(read),
            Err(Errno::OPNOTSUPP | Errno::NOSYS | Errno::INVAL) => {
                NOWAIT_REFUSED.store(true, Ordering::Relaxed);
                None
            }
            // `EAGAIN`: nothing there is cached.
            Err(_) => None,
        }
    }
}
