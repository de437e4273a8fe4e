//! Tar archives for `oci-archive:` and `docker-archive:`, through the `tar` crate (sync, so
//! every call runs in `spawn_blocking`).
//!
//! Reading never extracts: [`TarIndex::scan`] walks the headers once, seeking over the data,
//! and keeps where each regular file's bytes lie; reads are then ranges of the archive file.
//! Entries whose path is absolute or climbs out with `..` make the whole archive refused
//! ([`TransferError::UnsafePath`]); symbolic and hard links are followed within the archive
//! (`docker save` links duplicate layers), never out of it.
//!
//! Writing ([`write_atomically`]) produces a ustar archive with fixed metadata (mode 0644 or
//! 0755, owner 0, time 0, so the same content gives the same bytes) under a temporary name
//! beside the target, fsynced and renamed into place.

use std::collections::HashMap;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use tar::EntryType;

use crate::fsutil::{self, io_error};
use crate::{BlobStream, TransferError};

/// How many links in a row a lookup follows before giving up (a loop, or a silly archive).
const MAX_LINK_HOPS: usize = 16;

/// Where one regular file's bytes lie in the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TarFile {
    /// The offset of the first byte in the archive file.
    pub(crate) offset: u64,
    /// The number of bytes.
    pub(crate) size: u64,
}

#[derive(Debug, Clone)]
enum Member {
    File(TarFile),
    /// A symbolic or hard link, its target already made relative to the archive's root.
    Link(String),
}

/// The regular files of a tar archive, by normalised path.
#[derive(Debug)]
pub(crate) struct TarIndex {
    path: PathBuf,
    format: &'static str,
    members: HashMap<String, Member>,
}

impl TarIndex {
    /// Walks the archive at `path`. A damaged or truncated archive is
    /// [`TransferError::InvalidFormat`] of `format`; an unsafe path is
    /// [`TransferError::UnsafePath`].
    pub(crate) async fn scan(
        path: &Path,
        format: &'static str,
    ) -> Result<Arc<TarIndex>, TransferError> {
        let owned = path.to_path_buf();
        fsutil::blocking(path, move || scan_blocking(owned, format).map(Arc::new)).await
    }

    /// The archive file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The format name errors use (`OCI archive`, `Docker archive`).
    pub(crate) fn format(&self) -> &'static str {
        self.format
    }

    fn invalid(&self, reason: String) -> TransferError {
        TransferError::InvalidFormat {
            format: self.format,
            reason,
        }
    }

    /// The regular file at `name` (a path relative to the archive's root, `./` and `//`
    /// allowed), following links; `None` when there is none. A name that climbs out with `..`
    /// is [`TransferError::UnsafePath`].
    pub(crate) fn get(&self, name: &str) -> Result<Option<TarFile>, TransferError> {
        let mut current = normalize(name).map_err(|()| TransferError::UnsafePath {
            archive: self.path.clone(),
            entry: name.to_owned(),
        })?;
        for _ in 0..MAX_LINK_HOPS {
            match self.members.get(&current) {
                None => return Ok(None),
                Some(Member::File(file)) => return Ok(Some(*file)),
                Some(Member::Link(target)) => current.clone_from(target),
            }
        }
        Err(self.invalid(format!("{name}: too many links in a row")))
    }

    /// The whole file at `name`, or `None` when there is none; a file longer than `limit` is
    /// [`TransferError::InvalidFormat`].
    pub(crate) async fn read(
        &self,
        name: &str,
        limit: u64,
    ) -> Result<Option<Bytes>, TransferError> {
        let Some(file) = self.get(name)? else {
            return Ok(None);
        };
        if file.size > limit {
            return Err(self.invalid(format!(
                "{name} is {} bytes, more than the {limit} allowed",
                file.size
            )));
        }
        let path = self.path.clone();
        let content = fsutil::blocking(&self.path, move || {
            let mut archive = std::fs::File::open(&path).map_err(io_error(&path))?;
            std::io::Seek::seek(&mut archive, std::io::SeekFrom::Start(file.offset))
                .map_err(io_error(&path))?;
            let mut content = vec![0; usize::try_from(file.size).unwrap_or(0)];
            archive.read_exact(&mut content).map_err(io_error(&path))?;
            Ok(content)
        })
        .await?;
        Ok(Some(Bytes::from(content)))
    }

    /// The bytes `start..end` of the file at `name` (to its end when `end` is `None`, clamped
    /// to its size), or `None` when there is no such file.
    pub(crate) async fn stream(
        &self,
        name: &str,
        start: u64,
        end: Option<u64>,
    ) -> Result<Option<BlobStream>, TransferError> {
        let Some(file) = self.get(name)? else {
            return Ok(None);
        };
        let end = end.unwrap_or(file.size).min(file.size);
        let start = start.min(end);
        let stream = fsutil::file_stream(&self.path, file.offset + start, Some(end - start))
            .await
            .map_err(io_error(&self.path))?;
        Ok(Some(stream))
    }

    /// Opens `file` for a blocking read of its bytes.
    pub(crate) fn open_blocking(
        &self,
        file: TarFile,
    ) -> Result<std::io::Take<BufReader<std::fs::File>>, TransferError> {
        let mut archive = std::fs::File::open(&self.path).map_err(io_error(&self.path))?;
        std::io::Seek::seek(&mut archive, std::io::SeekFrom::Start(file.offset))
            .map_err(io_error(&self.path))?;
        Ok(BufReader::with_capacity(256 * 1024, archive).take(file.size))
    }
}

fn scan_blocking(path: PathBuf, format: &'static str) -> Result<TarIndex, TransferError> {
    let invalid = |reason: String| TransferError::InvalidFormat { format, reason };
    let file = std::fs::File::open(&path).map_err(io_error(&path))?;
    let length = file.metadata().map_err(io_error(&path))?.len();
    let mut archive = tar::Archive::new(BufReader::new(file));
    let entries = archive
        .entries_with_seek()
        .map_err(|error| invalid(format!("{}: {error}", path.display())))?;
    let mut members = HashMap::new();
    for entry in entries {
        let entry = entry.map_err(|error| invalid(format!("{}: {error}", path.display())))?;
        let raw_name = entry.path_bytes();
        let name = std::str::from_utf8(&raw_name)
            .map_err(|_| invalid(format!("an entry path is not UTF-8: {raw_name:?}")))?;
        let unsafe_path = || TransferError::UnsafePath {
            archive: path.clone(),
            entry: name.to_owned(),
        };
        let normalized = normalize(name).map_err(|()| unsafe_path())?;
        let kind = entry.header().entry_type();
        let member = match kind {
            EntryType::Regular | EntryType::Continuous => {
                let offset = entry.raw_file_position();
                let size = entry.size();
                let end = offset.saturating_add(size);
                if end > length {
                    return Err(invalid(format!(
                        "truncated: {name} ends at byte {end}, past the end of the file ({length} bytes)"
                    )));
                }
                Some(Member::File(TarFile { offset, size }))
            }
            EntryType::Symlink | EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| invalid(format!("link {name} has no target")))?;
                let target = std::str::from_utf8(&target)
                    .map_err(|_| invalid(format!("link {name}'s target is not UTF-8")))?;
                // A symbolic link is relative to its directory, a hard link to the root.
                let base = match kind {
                    EntryType::Symlink => normalized
                        .rsplit_once('/')
                        .map_or("", |(dir, _)| dir)
                        .to_owned(),
                    _ => String::new(),
                };
                let resolved = resolve(&base, target).map_err(|()| unsafe_path())?;
                Some(Member::Link(resolved))
            }
            _ => None,
        };
        if normalized.is_empty() {
            continue;
        }
        // A later entry of the same path replaces an earlier one, as when extracting.
        match member {
            Some(member) => {
                members.insert(normalized, member);
            }
            None => {
                members.remove(&normalized);
            }
        }
    }
    Ok(TarIndex {
        path,
        format,
        members,
    })
}

/// `name` relative to the archive's root, without `.` or empty components; `Err` when it is
/// absolute or has a `..` component.
fn normalize(name: &str) -> Result<String, ()> {
    if name.starts_with('/') {
        return Err(());
    }
    let mut parts = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(()),
            part => parts.push(part),
        }
    }
    Ok(parts.join("/"))
}

/// A link target read from `base` (a directory relative to the root): `..` may climb, but not
/// out of the archive; an absolute target is refused.
fn resolve(base: &str, target: &str) -> Result<String, ()> {
    if target.starts_with('/') {
        return Err(());
    }
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop().ok_or(())?;
            }
            part => parts.push(part),
        }
    }
    Ok(parts.join("/"))
}

/// What one member of an archive being written holds.
#[derive(Debug)]
pub(crate) enum TarContent {
    /// A directory.
    Directory,
    /// These bytes.
    Bytes(Bytes),
    /// The bytes of this file, which must have this size.
    File(PathBuf, u64),
}

/// One member of an archive being written.
#[derive(Debug)]
pub(crate) struct TarMember {
    /// Its path in the archive (relative, `/`-separated).
    pub(crate) name: String,
    /// What it holds.
    pub(crate) content: TarContent,
}

impl TarMember {
    /// A directory member.
    pub(crate) fn directory(name: impl Into<String>) -> TarMember {
        TarMember {
            name: name.into(),
            content: TarContent::Directory,
        }
    }

    /// A member holding `bytes`.
    pub(crate) fn bytes(name: impl Into<String>, bytes: impl Into<Bytes>) -> TarMember {
        TarMember {
            name: name.into(),
            content: TarContent::Bytes(bytes.into()),
        }
    }

    /// A member holding the `size` bytes of the file at `path`.
    pub(crate) fn file(name: impl Into<String>, path: PathBuf, size: u64) -> TarMember {
        TarMember {
            name: name.into(),
            content: TarContent::File(path, size),
        }
    }
}

/// Writes `members`, in order, as a tar archive at `target`: into a temporary file beside it,
/// fsynced, then renamed over it. On error nothing is left behind and `target` is unchanged.
pub(crate) async fn write_atomically(
    target: &Path,
    members: Vec<TarMember>,
) -> Result<(), TransferError> {
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fsutil::replace_file(target, &dir, move |file, temporary| {
        write_tar(file, temporary, members)
    })
    .await
}

/// Writes `members` as a tar archive into `file` (at `temporary`, for messages).
fn write_tar(
    file: &mut std::fs::File,
    temporary: &Path,
    members: Vec<TarMember>,
) -> Result<(), TransferError> {
    let mut builder = tar::Builder::new(BufWriter::with_capacity(256 * 1024, file));
    for member in members {
        let mut header = tar::Header::new_ustar();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        match member.content {
            TarContent::Directory => {
                header.set_entry_type(EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                let name = format!("{}/", member.name.trim_end_matches('/'));
                builder
                    .append_data(&mut header, name, std::io::empty())
                    .map_err(io_error(temporary))?;
            }
            TarContent::Bytes(bytes) => {
                header.set_entry_type(EntryType::Regular);
                header.set_mode(0o644);
                header.set_size(bytes.len() as u64);
                builder
                    .append_data(&mut header, &member.name, &bytes[..])
                    .map_err(io_error(temporary))?;
            }
            TarContent::File(path, size) => {
                header.set_entry_type(EntryType::Regular);
                header.set_mode(0o644);
                header.set_size(size);
                let file = std::fs::File::open(&path).map_err(io_error(&path))?;
                let reader = Exactly {
                    inner: BufReader::with_capacity(256 * 1024, file).take(size),
                    remaining: size,
                };
                builder
                    .append_data(&mut header, &member.name, reader)
                    .map_err(io_error(&path))?;
            }
        }
    }
    let mut writer = builder.into_inner().map_err(io_error(temporary))?;
    writer.flush().map_err(io_error(temporary))
}

/// A reader that fails unless its inner reader yields exactly `remaining` bytes, so that a file
/// that shrank cannot corrupt the archive being written.
struct Exactly<R> {
    inner: R,
    remaining: u64,
}

impl<R: Read> Read for Exactly<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        if read == 0 && self.remaining > 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("file ended {} bytes early", self.remaining),
            ));
        }
        self.remaining -= read as u64;
        Ok(read)
    }
}

/// The staging directory an archive destination writes into before its commit: hidden, beside
/// the target (same file system, so the final rename is atomic), and named after it, so that a
/// copy started again finds the partial blobs of the last one.
pub(crate) fn staging_dir(target: &Path) -> PathBuf {
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = target
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.join(format!(".{file_name}.gantry-staging"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalise_or_are_refused() {
        assert_eq!(
            normalize("./blobs//sha256/x"),
            Ok("blobs/sha256/x".to_owned())
        );
        assert_eq!(normalize("index.json"), Ok("index.json".to_owned()));
        assert_eq!(normalize("./"), Ok(String::new()));
        assert_eq!(normalize("/etc/passwd"), Err(()));
        assert_eq!(normalize("a/../../b"), Err(()));
        assert_eq!(normalize("../b"), Err(()));
    }

    #[test]
    fn link_targets_resolve_within_the_archive() {
        assert_eq!(resolve("abc", "../x.tar"), Ok("x.tar".to_owned()));
        assert_eq!(resolve("a/b", "./c"), Ok("a/b/c".to_owned()));
        assert_eq!(resolve("", "../x"), Err(()));
        assert_eq!(resolve("a", "/etc/passwd"), Err(()));
    }
}
