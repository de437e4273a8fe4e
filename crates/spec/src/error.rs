//! The crate's one error type.

use gantry_reference::{Digest, DigestError};

/// Why a document was rejected, or why an image graph is inconsistent.
///
/// Every variant is the client's mistake or the content's: nothing here is an I/O failure.
/// Errors from parsing bytes off the wire ([`Manifest::parse`](crate::Manifest::parse)) and from
/// checking an image graph ([`validate`](crate::validate)) share this type so that callers can ask
/// the same questions of both.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The document is larger than the caller's limit.
    #[error("document of {size} bytes is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit in force, in bytes.
        limit: u64,
        /// The size of the document, in bytes.
        size: u64,
    },
    /// The bytes are not JSON, or not JSON of the expected shape.
    #[error("invalid JSON: {0}")]
    InvalidJson(#[source] serde_json::Error),
    /// A Docker schema 1 manifest (signed or not), which this project recognises and refuses.
    #[error("Docker schema 1 manifests are not supported; push the image again as schema 2 or OCI")]
    Schema1Unsupported,
    /// `schemaVersion` is missing or is not 2.
    #[error("unsupported schemaVersion {found:?}: expected 2")]
    UnsupportedSchemaVersion {
        /// The value found, if the field was there and an integer.
        found: Option<i64>,
    },
    /// The media type the document was announced with disagrees with its `mediaType` field.
    #[error("media type {header} does not match the document's mediaType field {field}")]
    MediaTypeMismatch {
        /// The announced media type: the `Content-Type` header, or the media type of the
        /// descriptor that points at the document.
        header: String,
        /// The document's own `mediaType` field.
        field: String,
    },
    /// The document's media type is well-formed but is not a manifest or index this crate knows.
    #[error("unsupported manifest media type {media_type}")]
    UnsupportedMediaType {
        /// The media type.
        media_type: String,
    },
    /// A media type does not have the `type/subtype` form of RFC 6838.
    #[error("invalid media type {media_type:?}")]
    InvalidMediaType {
        /// The offending value.
        media_type: String,
    },
    /// Neither a media type nor the document's fields say what kind of manifest it is.
    #[error("the document is neither an image manifest nor an image index")]
    UnrecognisedDocument,
    /// A field the document's kind requires is missing.
    #[error("missing required field {field}")]
    MissingField {
        /// The JSON name of the field.
        field: &'static str,
    },
    /// A descriptor's digest is not a valid digest of a supported algorithm.
    #[error("invalid digest {value:?}: {source}")]
    InvalidDigest {
        /// The offending value.
        value: String,
        /// Why it is invalid.
        #[source]
        source: DigestError,
    },
    /// A descriptor's size is negative.
    #[error("negative size {size}")]
    NegativeSize {
        /// The offending value.
        size: i64,
    },
    /// A descriptor's size is not an integer in `0..=i64::MAX`.
    #[error("size {value} is not an integer between 0 and 2^63-1")]
    InvalidSize {
        /// The offending value, as it was written.
        value: String,
    },
    /// A descriptor's `data` field is not valid base64.
    #[error("descriptor data is not valid base64")]
    InvalidData,
    /// Content does not have the digest it was announced with.
    #[error("digest mismatch: expected {expected}, computed {actual}")]
    DigestMismatch {
        /// The digest the content was supposed to have.
        expected: Digest,
        /// The digest the content has.
        actual: Digest,
    },
    /// Content does not have the size it was announced with.
    #[error("size mismatch: expected {expected} bytes, found {actual}")]
    SizeMismatch {
        /// The size the content was supposed to have.
        expected: u64,
        /// The size the content has.
        actual: u64,
    },
    /// An image manifest whose config is the empty descriptor has no `artifactType`, which the
    /// OCI image-spec requires.
    #[error(
        "artifactType is required when config.mediaType is {}",
        crate::media_type::OCI_EMPTY
    )]
    MissingArtifactType,
    /// A platform string is not `os[/arch[/variant]]` with non-empty parts.
    #[error("invalid platform {value:?}")]
    InvalidPlatform {
        /// The offending value.
        value: String,
    },
    /// An image config's `rootfs.type` is not `layers`.
    #[error("unsupported rootfs type {found:?}: expected \"layers\"")]
    UnsupportedRootfsType {
        /// The value found.
        found: String,
    },
    /// An `oci-layout` file names an image layout version this crate does not read.
    #[error("unsupported image layout version {found:?}")]
    UnsupportedLayoutVersion {
        /// The value found.
        found: String,
    },
    /// Content that an image graph points at is missing from the content source.
    #[error("content {digest} is missing")]
    MissingContent {
        /// The digest of the missing content.
        digest: Digest,
    },
    /// An image config lists a different number of `rootfs.diff_ids` than its manifest has
    /// layers.
    #[error("the manifest has {layers} layers but its config has {diff_ids} diff_ids")]
    LayerCountMismatch {
        /// The number of layers in the manifest.
        layers: usize,
        /// The number of `diff_ids` in the config.
        diff_ids: usize,
    },
    /// An index entry's platform disagrees with the platform in the image config it leads to.
    #[error("index entry for {entry} leads to an image config for {config}")]
    PlatformMismatch {
        /// The platform the index entry claims, as `os/arch[/variant]`.
        entry: String,
        /// The platform of the image config, as `os/arch[/variant]`.
        config: String,
    },
}

impl SpecError {
    /// True when the document exceeded the size limit (a registry answers 413).
    pub fn is_too_large(&self) -> bool {
        matches!(self, Self::TooLarge { .. })
    }

    /// True when the document is a Docker schema 1 manifest.
    pub fn is_schema1(&self) -> bool {
        matches!(self, Self::Schema1Unsupported)
    }

    /// True when content did not match the digest or size it was announced with.
    pub fn is_digest_mismatch(&self) -> bool {
        matches!(
            self,
            Self::DigestMismatch { .. } | Self::SizeMismatch { .. }
        )
    }

    /// True when content the graph needs is missing.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::MissingContent { .. })
    }

    /// True when the document's media type is one this crate does not handle, or disagrees with
    /// the media type it was announced with (a registry answers `MANIFEST_INVALID` or 415).
    pub fn is_media_type_error(&self) -> bool {
        matches!(
            self,
            Self::MediaTypeMismatch { .. }
                | Self::UnsupportedMediaType { .. }
                | Self::InvalidMediaType { .. }
                | Self::Schema1Unsupported
        )
    }
}
