//! The documents that move through a container registry, as Rust types.
//!
//! `gantry-spec` sits directly above `gantry-reference` (digests) and below every crate that
//! handles images: `gantry-storage`, `gantry-client`, `gantry-transfer`, `gantry-registry` and
//! `gantry-conformance`. It does no I/O and nothing async: it turns bytes into checked values and
//! values into canonical JSON.
//!
//! - [`media_type`]: the OCI and Docker media types, and the schema 1 ones for recognition.
//! - [`Descriptor`] and [`Platform`]: what documents use to point at content, and which
//!   platform an index entry is for ([`Platform::best_match`] chooses among them).
//! - [`Manifest`]: the one entry point for manifest bytes from the wire. It decides the kind
//!   ([`ManifestKind`]: OCI image manifest or index, Docker schema 2 manifest or manifest list),
//!   validates it, keeps the exact bytes and their digest, and lists what it points at.
//!   [`ImageManifest::builder`] and [`ImageIndex::builder`] write new ones as canonical JSON.
//! - [`ImageConfig`]: the image config blob. [`layout`]: the OCI image layout's files.
//!   [`referrers`]: the referrers API's response index. [`annotations`]: predefined keys.
//! - [`error_code`]: the registry API's error codes (code, message, status) and error bodies.
//! - [`validate`]: checks a whole image graph, read through a [`ContentSource`](validate::ContentSource)
//!   the caller implements.
//!
//! It never re-serialises a manifest it was given (a manifest's digest is that of the bytes
//! received), never rejects a document for fields it does not know, and never accepts Docker
//! schema 1.
//!
//! ```
//! use gantry_reference::{Algorithm, Digest};
//! use gantry_spec::{Descriptor, ImageManifest, Manifest, ManifestKind, SpecError, media_type};
//!
//! let config = Descriptor::of(media_type::OCI_IMAGE_CONFIG, br#"{"architecture":"amd64"}"#);
//! let layer = Descriptor::of(media_type::OCI_LAYER_TAR_GZIP, b"layer");
//! let built = ImageManifest::builder(config).layer(layer).build()?;
//!
//! // What a registry does with a PUT body:
//! let received = Manifest::parse(built.bytes().clone(), Some(media_type::OCI_IMAGE_MANIFEST))?;
//! assert_eq!(received, built);
//! assert_eq!(received.kind(), ManifestKind::OciImageManifest);
//! assert_eq!(received.digest(), &Digest::of(Algorithm::Sha256, received.bytes()));
//! assert_eq!(received.references().count(), 2);
//!
//! let wrong = Manifest::parse(built.bytes().clone(), Some(media_type::DOCKER_MANIFEST));
//! assert!(matches!(wrong, Err(SpecError::MediaTypeMismatch { .. })));
//! # Ok::<(), SpecError>(())
//! ```
//!
//! # Features
//!
//! None.

pub mod annotations;
mod config;
mod descriptor;
mod error;
pub mod error_code;
pub mod layout;
mod manifest;
pub mod media_type;
mod platform;
pub mod referrers;
mod serde_util;
pub mod validate;

pub use crate::config::{ContainerConfig, History, ImageConfig, ROOTFS_TYPE_LAYERS, RootFs};
pub use crate::descriptor::Descriptor;
pub use crate::error::SpecError;
pub use crate::manifest::{
    DEFAULT_MAX_MANIFEST_SIZE, DescriptorRole, ImageIndex, ImageIndexBuilder, ImageManifest,
    ImageManifestBuilder, Manifest, ManifestKind, ParseOptions,
};
pub use crate::platform::Platform;
