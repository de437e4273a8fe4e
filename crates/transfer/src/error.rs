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
    /// The image, manifest, blob or file asked for is not there.
    #[error("{location} has no {what}")]
    NotFound {
        /// What was looked for.
        what: Missing,
        /// Where it was looked for: a layout, an archive, a directory or a registry name.
        location: String,
    },
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
    /// A destination cannot hold what it was given (an index in a Docker archive, say), or an
    /// operation asks for something the engine does not do.
    #[error("unsupported: {0}")]
    Unsupported(Unsupported),
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
    /// copy reports that failure itself), or the copier was closed.
    #[error("the copy stopped sending this blob: {0}")]
    Interrupted(Interruption),
    /// A blob stalled: no byte arrived within the watchdog's window.
    #[error("no data received for {seconds} s")]
    Stalled {
        /// The watchdog's window, in seconds.
        seconds: u64,
    },
}

/// What a [`TransferError::NotFound`] looked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Missing {
    /// An image by name, tag or position.
    #[error("image {wanted} (it has: {available})")]
    Image {
        /// The name, tag (`repo:tag`) or position (`@N`) asked for.
        wanted: String,
        /// What the place holds instead: names, tags or a count.
        available: String,
    },
    /// Any image: the place holds none.
    #[error("image")]
    AnyImage,
    /// A manifest by digest.
    #[error("manifest {digest}{}", held.as_ref().map(|held| format!(" (it has only {held})")).unwrap_or_default())]
    Manifest {
        /// The digest asked for.
        digest: Digest,
        /// The one manifest the place holds, when it holds exactly one.
        held: Option<Digest>,
    },
    /// A blob by digest.
    #[error("blob {digest}")]
    Blob {
        /// The digest asked for.
        digest: Digest,
    },
    /// A blob that an image being written or checked refers to.
    #[error("blob {digest} ({media_type}), which the image needs")]
    NeededBlob {
        /// The blob's digest.
        digest: Digest,
        /// Its media type, as the manifest gives it.
        media_type: String,
    },
    /// A file of a layout or an archive, such as `index.json` or an archive member.
    #[error("file {name}")]
    File {
        /// The file's name inside the layout or archive.
        name: String,
    },
}

/// What a [`TransferError::Unsupported`] could not do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unsupported {
    /// An index given to a destination that holds single images only.
    #[error("{destination} cannot hold an index{}; choose one platform", index.as_ref().map(|index| format!(" ({index})")).unwrap_or_default())]
    Index {
        /// The destination, as named.
        destination: String,
        /// The index, when known.
        index: Option<Digest>,
    },
    /// An artifact given to a destination, or a format, that holds container images only.
    #[error("{destination} holds container images, not the artifact {manifest} ({reason})")]
    Artifact {
        /// The destination or format, as named.
        destination: String,
        /// The artifact's manifest.
        manifest: Digest,
        /// What makes it an artifact: a subject, an artifact type, a config that is not an
        /// image's.
        reason: String,
    },
    /// A config or layer media type that a manifest format has no counterpart for.
    #[error("a {role} of type {media_type} in {format}")]
    MediaType {
        /// `config` or `layer`.
        role: &'static str,
        /// The media type found.
        media_type: String,
        /// The manifest format asked for.
        format: crate::copy::ManifestFormat,
    },
    /// An index whose entries and converted children do not line up.
    #[error("an index whose children were not read ({index})")]
    UnreadChildren {
        /// The index.
        index: Digest,
    },
    /// Indexes nested deeper than the engine follows.
    #[error("indexes nested more than {limit} deep")]
    NestedIndexes {
        /// How deep the engine follows them.
        limit: usize,
    },
    /// A byte range that is empty or reaches past the blob.
    #[error("range {start}..{end} of a blob of {size} bytes")]
    Range {
        /// The first byte asked for.
        start: u64,
        /// One past the last byte asked for.
        end: u64,
        /// The blob's size.
        size: u64,
    },
    /// A source that stopped serving byte ranges part-way through a blob.
    #[error("the source stopped serving ranges")]
    RangesWithdrawn,
    /// A manifest format name other than `oci`, `v2s2` or `docker`.
    #[error("manifest format {name:?}; use oci or v2s2")]
    ManifestFormat {
        /// The name given.
        name: String,
    },
}

/// Why a [`TransferError::Interrupted`] blob stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Interruption {
    /// The source failed for good; the copy reports that failure itself.
    #[error("the source failed")]
    SourceFailed,
    /// The copier was closed while the blob waited for a slot.
    #[error("the copier was closed")]
    CopierClosed,
}

impl TransferError {
    /// A [`TransferError::NotFound`] for `what` in `location`.
    pub fn not_found(what: Missing, location: impl std::fmt::Display) -> TransferError {
        TransferError::NotFound {
            what,
            location: location.to_string(),
        }
    }

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

    /// Whether the source or destination cannot do what was asked (an index for a Docker
    /// archive, a conversion a format cannot hold).
    pub fn is_unsupported(&self) -> bool {
        matches!(self, TransferError::Unsupported(_))
    }

    /// Whether the thing asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        match self {
            TransferError::Client(error) => error.is_not_found(),
            TransferError::NotFound { .. } => true,
            _ => false,
        }
    }
}
