//! The crate's errors: one for digests, one for references that wraps it.

use crate::Digest;

/// Why a string is not a valid digest, or why content did not match one.
///
/// The first three variants follow go-digest's validation order: a string with no colon or an
/// empty part is [`InvalidFormat`](Self::InvalidFormat); a registered algorithm checks the encoded
/// length first ([`InvalidLength`](Self::InvalidLength)) and then its lower-case hex
/// ([`InvalidFormat`](Self::InvalidFormat)); a well-formed but unregistered algorithm is
/// [`Unsupported`](Self::Unsupported).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// The string is not of the form `algorithm:encoded`, or the encoded part has characters the
    /// algorithm does not allow.
    #[error("invalid checksum digest format")]
    InvalidFormat,
    /// The encoded part has the wrong length for its algorithm.
    #[error("invalid checksum digest length")]
    InvalidLength,
    /// The algorithm is well-formed but not one this crate implements.
    #[error("unsupported digest algorithm")]
    Unsupported,
    /// A saved hasher state is not one [`Digester::resume`](crate::Digester::resume) can
    /// carry on from: another algorithm's, truncated or corrupt.
    #[error("invalid saved digester state")]
    InvalidState,
    /// Content was verified against a digest and did not match it.
    #[error("digest mismatch: expected {expected}, computed {actual}")]
    Mismatch {
        /// The digest the content was supposed to have.
        expected: Digest,
        /// The digest the content has.
        actual: Digest,
    },
    /// Content was checked against a size and had another: more bytes than expected (counted
    /// up to the chunk that went over), or fewer when it ended.
    #[error("size mismatch: expected {expected} bytes, received {actual}")]
    SizeMismatch {
        /// The size the content was supposed to have.
        expected: u64,
        /// The bytes received.
        actual: u64,
    },
}

impl DigestError {
    /// True when content did not match the digest it was verified against.
    pub fn is_mismatch(&self) -> bool {
        matches!(self, Self::Mismatch { .. })
    }

    /// True when content did not have the size it was checked against.
    pub fn is_size_mismatch(&self) -> bool {
        matches!(self, Self::SizeMismatch { .. })
    }
}

/// Why a string is not a valid image reference, repository name or tag.
///
/// Returned in the cases where `github.com/distribution/reference` returns the error of the same
/// name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReferenceError {
    /// The string does not match the reference grammar.
    #[error("invalid reference format")]
    InvalidFormat,
    /// The tag does not match `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
    #[error("invalid tag format")]
    TagInvalidFormat,
    /// The digest part has the shape of a digest but is not a valid one.
    #[error("invalid digest format: {0}")]
    DigestInvalidFormat(#[source] DigestError),
    /// The name would be valid in lower case.
    #[error("repository name must be lowercase")]
    NameContainsUppercase,
    /// The name is empty.
    #[error("repository name must have at least one component")]
    NameEmpty,
    /// The path part of the name is longer than 255 characters.
    #[error("repository name must not be more than 255 characters")]
    NameTooLong,
    /// The reference is valid but not in its canonical, fully qualified form.
    #[error("repository name must be canonical")]
    NameNotCanonical,
    /// A bare 64-character hex string, which Docker reserves for image identifiers.
    #[error("invalid repository name: a 64-character hexadecimal string is an image identifier")]
    NameIsIdentifier,
}
