//! The one error type of `gantry-transfer`.

use std::path::PathBuf;

use gantry_client::ClientError;
use gantry_reference::Digest;
use gantry_spec::SpecError;

/// What can go wrong while naming, reading, writing or copying an image.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransferError {
    /// An image name that no transport accepts, such as `ftp:x` or `oci:` with no path.
    #[error("invalid image name {input:?}: {reason}")]
    InvalidName {
        /// The name as given.
        input: String,
        /// Why it was refused.
        reason: String,
    },
    /// A registry answered with an error, or could not be reached.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A manifest, index, configuration or descriptor is malformed.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A file or directory could not be read or written.
    #[error("{path}: {source}", path = path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The image, manifest or blob asked for is not there.
    #[error("not found: {0}")]
    NotFound(String),
    /// A layout or archive breaks its format (a missing `oci-layout`, a bad `manifest.json`).
    #[error("invalid {format}: {reason}")]
    InvalidFormat {
        /// The format: `OCI layout`, `OCI archive`, `Docker archive`.
        format: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Bytes received do not hash to the digest they were asked for under.
    #[error("digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The digest asked for.
        expected: Digest,
        /// The digest of the bytes received.
        actual: Digest,
    },
    /// A blob was longer or shorter than its descriptor says.
    #[error("size mismatch for {digest}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// The blob's digest.
        digest: Digest,
        /// The size the descriptor gives.
        expected: u64,
        /// The number of bytes received.
        actual: u64,
    },
    /// A source has no manifest for the platform asked for.
    #[error("no image for platform {wanted} (available: {available})")]
    NoMatchingPlatform {
        /// The platform asked for.
        wanted: String,
        /// The platforms the index lists, comma-separated.
        available: String,
    },
    /// A destination cannot hold what it was given (an index in a Docker archive, say).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A name that fits several images of a layout or archive, such as none for one of two.
    #[error("{name} holds several images ({candidates}); name one")]
    AmbiguousImage {
        /// The layout or archive, as named.
        name: String,
        /// The images it holds, comma-separated (ref names, tags or positions).
        candidates: String,
    },
    /// An archive entry whose path is absolute or climbs out with `..`.
    #[error("{archive}: unsafe entry path {entry:?}", archive = archive.display())]
    UnsafePath {
        /// The archive file.
        archive: PathBuf,
        /// The entry's path as stored.
        entry: String,
    },
    /// A blob write asked to continue from an offset the destination does not hold.
    #[error("cannot resume {digest} at byte {offset}: {available} verified bytes are kept")]
    ResumeMismatch {
        /// The blob.
        digest: Digest,
        /// The offset asked for.
        offset: u64,
        /// What the destination can resume from (0 when nothing is kept).
        available: u64,
    },
    /// The copy stopped feeding a blob to its destination: the source failed for good (the
    /// copy reports that failure itself), or the copy was cancelled.
    #[error("the copy stopped sending this blob: {0}")]
    Interrupted(String),
    /// A blob stalled: no byte arrived within the watchdog's window.
    #[error("no data received for {seconds} s")]
    Stalled {
        /// The watchdog's window, in seconds.
        seconds: u64,
    },
}

impl TransferError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> TransferError {
        TransferError::Io {
            path: path.into(),
            source,
        }
    }

    /// Whether trying the same operation again may succeed (a cut connection, a 503, a stall).
    pub fn is_retryable(&self) -> bool {
        match self {
            TransferError::Client(error) => error.is_retryable(),
            TransferError::Stalled { .. } => true,
            _ => false,
        }
    }

    /// Whether the thing asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        match self {
            TransferError::Client(error) => error.is_not_found(),
            TransferError::NotFound(_) => true,
            _ => false,
        }
    }
}
