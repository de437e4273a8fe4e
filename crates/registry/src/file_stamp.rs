//! What tells one version of a file from the next, for the files the server reads again when
//! they change (the htpasswd file, the TLS certificate and key).

use std::path::Path;
use std::time::SystemTime;

/// One version of a file: its modification time, length and (on Unix) inode, so that an edit
/// in place and a file renamed over the old one are both seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: u64,
}

impl FileStamp {
    /// The stamp of the file at `path` now.
    pub(crate) fn of(path: &Path) -> std::io::Result<FileStamp> {
        let metadata = std::fs::metadata(path)?;
        Ok(FileStamp {
            modified: metadata.modified().ok(),
            len: metadata.len(),
            #[cfg(unix)]
            inode: std::os::unix::fs::MetadataExt::ino(&metadata),
        })
    }
}
