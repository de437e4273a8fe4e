//! The crate's one error type.

use std::io;

use gantry_reference::Digest;
use gantry_spec::SpecError;

/// Everything that can go wrong in a driver or in the registry store.
///
/// Driver errors name the path; store errors name what the registry protocol names (a digest,
/// an upload, a tag), so the server can map each to its OCI error code and status.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    // Driver errors.
    /// Nothing exists at the path.
    #[error("path not found: {path}")]
    PathNotFound {
        /// The path asked for.
        path: String,
    },
    /// The path is not a valid driver path, or names something it cannot (such as a file where
    /// a directory is needed).
    #[error("invalid path: {path}")]
    InvalidPath {
        /// The offending path.
        path: String,
    },
    /// A read or write began at an offset the file does not have.
    #[error("invalid offset {offset} for {path}")]
    InvalidOffset {
        /// The file.
        path: String,
        /// The offset asked for.
        offset: u64,
    },
    /// The underlying storage failed.
    #[error("storage I/O failed at {path}")]
    Io {
        /// Where it failed.
        path: String,
        /// What the operating system or the object store said.
        #[source]
        source: io::Error,
    },

    // Registry store errors.
    /// The repository does not exist.
    #[error("repository name not known to registry: {name}")]
    NameUnknown {
        /// The repository name.
        name: String,
    },
    /// The blob is not in the repository.
    #[error("blob unknown to registry: {digest}")]
    BlobUnknown {
        /// The blob's digest.
        digest: Digest,
    },
    /// The upload session does not exist, finished, was cancelled or was purged.
    #[error("blob upload unknown to registry: {id}")]
    BlobUploadUnknown {
        /// The upload's identifier.
        id: String,
    },
    /// A chunk did not start where the upload ends.
    #[error("upload {id} is at offset {size}, not {offset}")]
    UploadOffsetMismatch {
        /// The upload's identifier.
        id: String,
        /// What the upload holds so far.
        size: u64,
        /// Where the chunk said it starts.
        offset: u64,
    },
    /// The uploaded content does not hash to the digest it was committed under.
    #[error(
        "provided digest did not match uploaded content: expected {expected}, computed {actual}"
    )]
    DigestMismatch {
        /// The digest the client gave.
        expected: Digest,
        /// The digest of the bytes received.
        actual: Digest,
    },
    /// The uploaded content does not have the size it was committed with.
    #[error("provided length did not match content length: expected {expected}, received {actual}")]
    SizeMismatch {
        /// The size the client gave.
        expected: u64,
        /// The size received.
        actual: u64,
    },
    /// The manifest is not in the repository.
    #[error("manifest unknown to registry: {reference}")]
    ManifestUnknown {
        /// The tag or digest asked for.
        reference: String,
    },
    /// The manifest refers to a blob or child manifest that the repository does not have.
    #[error("manifest references a blob unknown to the repository: {digest}")]
    ManifestBlobUnknown {
        /// The missing blob's digest.
        digest: Digest,
    },
    /// The manifest could not be parsed or failed validation.
    #[error("manifest invalid")]
    ManifestInvalid(#[source] SpecError),
    /// Deleting is disabled in this registry's options.
    #[error("the operation is unsupported: deleting is disabled")]
    DeleteDisabled,
    /// Stored data that should hold a digest or a state does not: the layout was damaged.
    #[error("corrupt stored data at {path}")]
    Corrupt {
        /// The damaged file.
        path: String,
    },
}

impl StorageError {
    /// True when the thing asked for does not exist (a path, repository, blob, upload or
    /// manifest).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Self::PathNotFound { .. }
                | Self::NameUnknown { .. }
                | Self::BlobUnknown { .. }
                | Self::BlobUploadUnknown { .. }
                | Self::ManifestUnknown { .. }
        )
    }

    /// True when content did not match the digest or size it claimed.
    pub fn is_digest_mismatch(&self) -> bool {
        matches!(
            self,
            Self::DigestMismatch { .. } | Self::SizeMismatch { .. }
        )
    }

    /// An I/O error at `path`, with `NotFound` turned into [`StorageError::PathNotFound`].
    pub fn io(path: impl Into<String>, source: io::Error) -> StorageError {
        let path = path.into();
        if source.kind() == io::ErrorKind::NotFound {
            StorageError::PathNotFound { path }
        } else {
            StorageError::Io { path, source }
        }
    }
}
