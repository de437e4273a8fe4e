//! File helpers the local transports share: files replaced whole or not at all, directory
//! fsyncs, and files (or ranges of them) read as a [`BlobStream`].

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use futures_util::stream;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::{BlobStream, TransferError};

/// How much one read of a file hands to a stream.
const CHUNK: usize = 256 * 1024;

/// Wraps an I/O error with its path.
pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> TransferError + '_ {
    move |source| TransferError::io(path, source)
}

/// Fsyncs a directory, so that a rename into it survives a crash.
pub(crate) async fn sync_dir(dir: &Path) -> Result<(), TransferError> {
    let file = tokio::fs::File::open(dir).await.map_err(io_error(dir))?;
    file.sync_all().await.map_err(io_error(dir))
}

/// Replaces `path` whole or not at all: `fill` writes a new file created in `scratch` (a
/// directory on the same file system: the target's own, or an area whose leftovers are swept),
/// which is synced and renamed over `path`; then `path`'s directory is synced. On error the new
/// file is removed and `path` is unchanged. The new file gets the permissions
/// `File::create` would give (0666 less the umask), not a temporary file's 0600.
pub(crate) async fn replace_file<F>(
    path: &Path,
    scratch: &Path,
    fill: F,
) -> Result<(), TransferError>
where
    F: FnOnce(&mut std::fs::File, &Path) -> Result<(), TransferError> + Send + 'static,
{
    let target = path.to_path_buf();
    let scratch = scratch.to_path_buf();
    let prefix = format!(
        ".{}.tmp-",
        path.file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    blocking(path, move || {
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix);
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let mut file = builder.tempfile_in(&scratch).map_err(io_error(&scratch))?;
        let temporary = file.path().to_path_buf();
        fill(file.as_file_mut(), &temporary)?;
        file.as_file().sync_all().map_err(io_error(&temporary))?;
        file.persist(&target)
            .map_err(|error| TransferError::io(&target, error.error))?;
        Ok(())
    })
    .await?;
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    sync_dir(dir).await
}

/// Replaces `path` with `content`, whole or not at all, through a new file in `scratch`
/// ([`replace_file`]).
pub(crate) async fn write_atomic(
    path: &Path,
    scratch: &Path,
    content: &[u8],
) -> Result<(), TransferError> {
    let content = content.to_vec();
    replace_file(path, scratch, move |file, temporary| {
        std::io::Write::write_all(file, &content).map_err(io_error(temporary))
    })
    .await
}

/// Reads a whole file, or `None` when it does not exist; a file longer than `limit` bytes is
/// refused with `too_large`.
pub(crate) async fn read_limited(
    path: &Path,
    limit: u64,
    too_large: impl FnOnce(u64) -> TransferError,
) -> Result<Option<Bytes>, TransferError> {
    let file = match tokio::fs::File::open(path).await {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(TransferError::io(path, error)),
    };
    let size = file.metadata().await.map_err(io_error(path))?.len();
    if size > limit {
        return Err(too_large(size));
    }
    let mut content = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut content)
        .await
        .map_err(io_error(path))?;
    if content.len() as u64 > limit {
        return Err(too_large(content.len() as u64));
    }
    Ok(Some(Bytes::from(content)))
}

/// The bytes of `path` from `start`, at most `length` of them (all the rest when `None`), as a
/// stream. The file is opened before this returns, so a missing file is an error here rather
/// than in the stream.
pub(crate) async fn file_stream(
    path: &Path,
    start: u64,
    length: Option<u64>,
) -> Result<BlobStream, std::io::Error> {
    let mut file = tokio::fs::File::open(path).await?;
    if start > 0 {
        file.seek(SeekFrom::Start(start)).await?;
    }
    Ok(reader_stream(file, path.to_path_buf(), length))
}

/// Reads `file` from where it stands, at most `length` bytes (until its end when `None`).
fn reader_stream(file: tokio::fs::File, path: PathBuf, length: Option<u64>) -> BlobStream {
    let state = (file, path, length.unwrap_or(u64::MAX), false);
    Box::pin(stream::unfold(
        state,
        |(mut file, path, remaining, done)| async move {
            if done || remaining == 0 {
                return None;
            }
            let want = usize::try_from(remaining).unwrap_or(CHUNK).min(CHUNK);
            let mut buffer = BytesMut::zeroed(want);
            match file.read(&mut buffer).await {
                Ok(0) => None,
                Ok(read) => {
                    buffer.truncate(read);
                    let remaining = remaining - read as u64;
                    Some((Ok(buffer.freeze()), (file, path, remaining, false)))
                }
                Err(error) => {
                    let error = TransferError::io(&path, error);
                    Some((Err(error), (file, path, remaining, true)))
                }
            }
        },
    ))
}

/// A blocking task's result, its panic or cancellation turned into an I/O error.
pub(crate) async fn blocking<T: Send + 'static>(
    path: &Path,
    task: impl FnOnce() -> Result<T, TransferError> + Send + 'static,
) -> Result<T, TransferError> {
    match tokio::task::spawn_blocking(task).await {
        Ok(result) => result,
        Err(error) => Err(TransferError::io(path, std::io::Error::other(error))),
    }
}

/// The size of a file.
pub(crate) async fn file_size(path: &Path) -> Result<u64, TransferError> {
    Ok(tokio::fs::metadata(path)
        .await
        .map_err(io_error(path))?
        .len())
}
