//! Content digests and container image references.
//!
//! `gantry-reference` is the lowest crate of Gantry: every other crate depends on it and it depends
//! on none of them. It does no I/O and nothing async, and needs only `sha2` and `thiserror` (and
//! `serde` behind the `serde` feature), so tools that only parse references can use it alone.
//!
//! - [`Digest`] and [`Algorithm`]: `sha256:<hex>` and `sha512:<hex>`, validated as go-digest does;
//!   [`Digester`] hashes a stream and [`Verifier`] checks one against an expected digest;
//!   [`ChunkVerifier`] checks content that arrives in chunks and holds back the last one until
//!   the whole has matched, for the stream adaptors of the crates above; [`Ingest`],
//!   [`SavedState`] and [`Resume`] are a resumable ingest's hash state and the rules for
//!   trusting a saved one, for the crates above that keep partial content.
//! - [`Reference`]: the Docker reference grammar, `[domain[:port]/]path[:tag][@digest]`, with
//!   the strict and normalising parsers of `distribution/reference`.
//! - [`RepositoryName`] and [`Tag`]: the names a registry sees in its URLs.
//!
//! Parsing is a hand-written byte scanner with no regular expressions and one allocation per
//! value.
//!
//! ```
//! use gantry_reference::{Algorithm, Digest, Reference, Verifier};
//!
//! let layer = b"layer bytes";
//! let digest = Digest::of(Algorithm::Sha256, layer);
//! let reference = Reference::parse_normalized("ghcr.io/acme/tool:1.0")?.with_digest(digest.clone());
//! assert_eq!(reference.domain(), Some("ghcr.io"));
//! assert_eq!(reference.digest(), Some(&digest));
//!
//! let mut verifier = Verifier::new(digest);
//! verifier.update(layer);
//! assert!(verifier.verified());
//! # Ok::<(), gantry_reference::ReferenceError>(())
//! ```
//!
//! # Features
//!
//! - `serde`: [`Digest`], [`Reference`], [`RepositoryName`] and [`Tag`] serialise as strings and
//!   are validated when deserialised.

mod chunks;
mod digest;
mod error;
mod grammar;
mod ingest;
mod name;
mod reference;
#[cfg(feature = "serde")]
mod serde_impls;

pub use crate::chunks::ChunkVerifier;
pub use crate::digest::{Algorithm, Digest, Digester, Verifier};
pub use crate::error::{DigestError, ReferenceError};
pub use crate::ingest::{Ingest, Rehash, Resume, SavedState};
pub use crate::name::{RepositoryName, Tag};
pub use crate::reference::{
    DEFAULT_DOMAIN, DEFAULT_TAG, LEGACY_DEFAULT_DOMAIN, OFFICIAL_REPOSITORY_PREFIX, Reference,
};
