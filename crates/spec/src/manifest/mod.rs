//! [`Manifest`], the one entry point for manifest bytes from the wire, and the document types
//! and builders of the four kinds it reads.

mod image;
mod index;
mod kind;
mod parse;

use std::collections::BTreeMap;

use bytes::Bytes;
use gantry_reference::{Algorithm, Digest};

pub use self::image::{ImageManifest, ImageManifestBuilder};
pub use self::index::{ImageIndex, ImageIndexBuilder};
pub use self::kind::ManifestKind;
use crate::descriptor::len_u64;
use crate::{Descriptor, SpecError};

/// The manifest size limit unless the caller sets another: 4 MiB, as the distribution-spec
/// suggests and registries enforce.
pub const DEFAULT_MAX_MANIFEST_SIZE: usize = 4 * 1024 * 1024;

/// How [`Manifest::parse_with`] reads a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    max_size: usize,
    algorithm: Algorithm,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            max_size: DEFAULT_MAX_MANIFEST_SIZE,
            algorithm: Algorithm::Sha256,
        }
    }
}

impl ParseOptions {
    /// The defaults: a limit of [`DEFAULT_MAX_MANIFEST_SIZE`] and SHA-256 digests.
    pub fn new() -> ParseOptions {
        ParseOptions::default()
    }

    /// Documents larger than `max_size` bytes are refused with [`SpecError::TooLarge`].
    #[must_use]
    pub fn with_max_size(mut self, max_size: usize) -> ParseOptions {
        self.max_size = max_size;
        self
    }

    /// The manifest's digest is computed with `algorithm`.
    #[must_use]
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> ParseOptions {
        self.algorithm = algorithm;
        self
    }

    /// The size limit in bytes.
    pub fn max_size(&self) -> usize {
        self.max_size
    }

    /// The algorithm of the manifest's digest.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

/// Why a manifest points at a descriptor, as [`Manifest::references`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DescriptorRole {
    /// An image manifest's config blob.
    Config,
    /// One of an image manifest's layers.
    Layer,
    /// One of an index's entries.
    Manifest,
    /// The manifest this one refers to. Unlike the others, a subject is a back-reference: it
    /// need not exist when the manifest is pushed, and it does not keep its target alive.
    Subject,
}

impl DescriptorRole {
    /// True for the roles whose content must exist for the manifest to be complete (everything
    /// but [`Subject`](Self::Subject)).
    pub fn is_child(self) -> bool {
        !matches!(self, DescriptorRole::Subject)
    }
}

/// The body of a manifest, one of two shapes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Body {
    Image(Box<ImageManifest>),
    Index(Box<ImageIndex>),
}

/// A manifest or index as received: its exact bytes, their digest, its kind and its validated
/// body.
///
/// The digest is always that of the bytes: a manifest is never re-serialised. Two manifests are
/// equal when their bytes are.
///
/// ```
/// use gantry_spec::{Manifest, ManifestKind, media_type};
///
/// let json = br#"{
///   "schemaVersion": 2,
///   "mediaType": "application/vnd.oci.image.manifest.v1+json",
///   "config": {
///     "mediaType": "application/vnd.oci.image.config.v1+json",
///     "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
///     "size": 2
///   },
///   "layers": []
/// }"#;
/// let manifest = Manifest::parse(&json[..], Some(media_type::OCI_IMAGE_MANIFEST))?;
/// assert_eq!(manifest.kind(), ManifestKind::OciImageManifest);
/// assert_eq!(manifest.bytes().as_ref(), &json[..]);
/// assert_eq!(manifest.config().map(|c| c.size), Some(2));
/// # Ok::<(), gantry_spec::SpecError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    bytes: Bytes,
    digest: Digest,
    kind: ManifestKind,
    body: Body,
}

impl Manifest {
    /// Reads manifest bytes received with `content_type` (the `Content-Type` header, if any),
    /// with the default [`ParseOptions`].
    ///
    /// The kind comes from the document's `mediaType` field, else from the content type, else
    /// from its shape (`manifests` makes an OCI index, `config` an OCI manifest). A content type
    /// of `application/json` or `application/octet-stream`, or an empty one, counts as none. When
    /// both the content type and the field are there, they must be equal.
    ///
    /// Checked: the size limit, `schemaVersion` 2, the fields each kind requires, every
    /// descriptor (media type, digest, size, inlined data), and the referrers rule that an
    /// image manifest whose config is the empty descriptor has an `artifactType`. Unknown fields
    /// are allowed and kept in the bytes. Docker schema 1, signed or not, is refused with
    /// [`SpecError::Schema1Unsupported`].
    pub fn parse(
        bytes: impl Into<Bytes>,
        content_type: Option<&str>,
    ) -> Result<Manifest, SpecError> {
        Manifest::parse_with(bytes, content_type, &ParseOptions::default())
    }

    /// [`Manifest::parse`] with a chosen size limit and digest algorithm.
    pub fn parse_with(
        bytes: impl Into<Bytes>,
        content_type: Option<&str>,
        options: &ParseOptions,
    ) -> Result<Manifest, SpecError> {
        let bytes = bytes.into();
        if bytes.len() > options.max_size {
            return Err(SpecError::TooLarge {
                limit: u64::try_from(options.max_size).unwrap_or(u64::MAX),
                size: len_u64(&bytes),
            });
        }
        let (kind, body) = parse::parse_body(&bytes, content_type)?;
        let digest = Digest::of(options.algorithm, &bytes);
        Ok(Manifest {
            bytes,
            digest,
            kind,
            body,
        })
    }

    /// Reads back what a builder wrote, as bytes from the wire but without a size limit.
    fn parse_built(
        bytes: Vec<u8>,
        kind: ManifestKind,
        algorithm: Algorithm,
    ) -> Result<Manifest, SpecError> {
        let options = ParseOptions::new()
            .with_max_size(usize::MAX)
            .with_algorithm(algorithm);
        Manifest::parse_with(bytes, Some(kind.media_type()), &options)
    }

    /// What kind of manifest this is.
    pub fn kind(&self) -> ManifestKind {
        self.kind
    }

    /// The manifest's media type, the one to answer `Content-Type` with.
    pub fn media_type(&self) -> &'static str {
        self.kind.media_type()
    }

    /// The digest of [`bytes`](Self::bytes).
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// The exact bytes received.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The size of the bytes.
    pub fn size(&self) -> u64 {
        len_u64(&self.bytes)
    }

    /// A descriptor of this manifest: its media type, digest and size.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(self.media_type(), self.digest.clone(), self.size())
    }

    /// Checks that the bytes have the digest `expected`, computing it with `expected`'s
    /// algorithm (which may differ from the one [`digest`](Self::digest) used).
    pub fn verify_digest(&self, expected: &Digest) -> Result<(), SpecError> {
        let actual = if expected.algorithm() == self.digest.algorithm() {
            self.digest.clone()
        } else {
            Digest::of(expected.algorithm(), &self.bytes)
        };
        if &actual == expected {
            Ok(())
        } else {
            Err(SpecError::DigestMismatch {
                expected: expected.clone(),
                actual,
            })
        }
    }

    /// The body, when this is an image manifest.
    pub fn as_image(&self) -> Option<&ImageManifest> {
        match &self.body {
            Body::Image(image) => Some(image),
            Body::Index(_) => None,
        }
    }

    /// The body, when this is an index.
    pub fn as_index(&self) -> Option<&ImageIndex> {
        match &self.body {
            Body::Index(index) => Some(index),
            Body::Image(_) => None,
        }
    }

    /// An image manifest's config; `None` for an index.
    pub fn config(&self) -> Option<&Descriptor> {
        self.as_image().map(|image| &image.config)
    }

    /// An image manifest's layers; empty for an index.
    pub fn layers(&self) -> &[Descriptor] {
        self.as_image().map_or(&[], |image| &image.layers)
    }

    /// An index's entries; empty for an image manifest.
    pub fn manifests(&self) -> &[Descriptor] {
        self.as_index().map_or(&[], |index| &index.manifests)
    }

    /// The manifest this one refers to, if any.
    pub fn subject(&self) -> Option<&Descriptor> {
        match &self.body {
            Body::Image(image) => image.subject.as_ref(),
            Body::Index(index) => index.subject.as_ref(),
        }
    }

    /// The `artifactType` field, if any.
    pub fn artifact_type(&self) -> Option<&str> {
        match &self.body {
            Body::Image(image) => image.artifact_type.as_deref(),
            Body::Index(index) => index.artifact_type.as_deref(),
        }
    }

    /// The annotations.
    pub fn annotations(&self) -> &BTreeMap<String, String> {
        match &self.body {
            Body::Image(image) => &image.annotations,
            Body::Index(index) => &index.annotations,
        }
    }

    /// Every descriptor the manifest points at, with why: the config, then the layers, or the
    /// index entries, then the subject. Storage links and garbage collection walk these;
    /// [`DescriptorRole::is_child`] tells the content that must exist from the back-reference.
    pub fn references(&self) -> impl Iterator<Item = (DescriptorRole, &Descriptor)> {
        let (config, children, child_role) = match &self.body {
            Body::Image(image) => (
                Some(&image.config),
                image.layers.as_slice(),
                DescriptorRole::Layer,
            ),
            Body::Index(index) => (None, index.manifests.as_slice(), DescriptorRole::Manifest),
        };
        config
            .map(|config| (DescriptorRole::Config, config))
            .into_iter()
            .chain(children.iter().map(move |child| (child_role, child)))
            .chain(
                self.subject()
                    .map(|subject| (DescriptorRole::Subject, subject)),
            )
    }
}
