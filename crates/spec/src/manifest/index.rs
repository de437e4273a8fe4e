//! Image indexes, OCI and Docker manifest lists: a list of manifests, usually one per platform.

use std::collections::BTreeMap;

use gantry_reference::Algorithm;
use serde::{Serialize, Serializer};

use crate::manifest::{Manifest, ManifestKind};
use crate::{Descriptor, SpecError};

/// The body of an OCI image index or a Docker manifest list (the Docker form has no
/// `artifactType`, `subject` or `annotations`; when a Docker list carries them anyway they are
/// read like the OCI fields).
///
/// Read one with [`Manifest::parse`], which validates it; build one with [`ImageIndex::builder`].
/// Serialising writes canonical JSON: `schemaVersion`, `mediaType`, `artifactType`, `manifests`,
/// `subject`, `annotations`, in that order, empty optional fields omitted, no whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImageIndex {
    /// The `mediaType` field, when the document has one.
    pub media_type: Option<String>,
    /// The `artifactType` field: what kind of artifact this index packages.
    pub artifact_type: Option<String>,
    /// The manifests it lists, usually with a `platform` each.
    pub manifests: Vec<Descriptor>,
    /// The manifest this one refers to, for the referrers API.
    pub subject: Option<Descriptor>,
    /// Arbitrary metadata.
    pub annotations: BTreeMap<String, String>,
}

impl ImageIndex {
    /// A builder for an OCI image index.
    ///
    /// ```
    /// use gantry_spec::{Descriptor, ImageIndex, Platform, media_type};
    ///
    /// let amd64 = Descriptor::of(media_type::OCI_IMAGE_MANIFEST, b"{}")
    ///     .with_platform(Platform::parse("linux/amd64")?);
    /// let index = ImageIndex::builder().manifest(amd64.clone()).build()?;
    /// assert_eq!(index.manifests(), &[amd64]);
    /// # Ok::<(), gantry_spec::SpecError>(())
    /// ```
    pub fn builder() -> ImageIndexBuilder {
        ImageIndexBuilder::new(ManifestKind::OciImageIndex)
    }

    /// A builder for a Docker manifest list.
    pub fn docker_builder() -> ImageIndexBuilder {
        ImageIndexBuilder::new(ManifestKind::DockerManifestList)
    }

    /// A builder that starts from every field of this index, for rebuilding or converting a
    /// parsed one: it writes a Docker manifest list when `kind` is
    /// [`ManifestKind::DockerManifestList`], an OCI image index otherwise.
    pub fn to_builder(&self, kind: ManifestKind) -> ImageIndexBuilder {
        let kind = match kind {
            ManifestKind::DockerManifestList => ManifestKind::DockerManifestList,
            _ => ManifestKind::OciImageIndex,
        };
        ImageIndexBuilder {
            kind,
            index: ImageIndex {
                media_type: Some(kind.media_type().to_owned()),
                ..self.clone()
            },
            algorithm: Algorithm::Sha256,
        }
    }
}

impl Serialize for ImageIndex {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Repr<'a> {
            schema_version: u32,
            #[serde(skip_serializing_if = "Option::is_none")]
            media_type: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            artifact_type: Option<&'a str>,
            manifests: &'a [Descriptor],
            #[serde(skip_serializing_if = "Option::is_none")]
            subject: Option<&'a Descriptor>,
            #[serde(skip_serializing_if = "BTreeMap::is_empty")]
            annotations: &'a BTreeMap<String, String>,
        }
        Repr {
            schema_version: 2,
            media_type: self.media_type.as_deref(),
            artifact_type: self.artifact_type.as_deref(),
            manifests: &self.manifests,
            subject: self.subject.as_ref(),
            annotations: &self.annotations,
        }
        .serialize(serializer)
    }
}

/// Builds a new image index as canonical JSON, and reads it back as a [`Manifest`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ImageIndexBuilder {
    kind: ManifestKind,
    index: ImageIndex,
    algorithm: Algorithm,
}

impl ImageIndexBuilder {
    fn new(kind: ManifestKind) -> ImageIndexBuilder {
        ImageIndexBuilder {
            kind,
            index: ImageIndex {
                media_type: Some(kind.media_type().to_owned()),
                artifact_type: None,
                manifests: Vec::new(),
                subject: None,
                annotations: BTreeMap::new(),
            },
            algorithm: Algorithm::Sha256,
        }
    }

    /// Appends an entry.
    pub fn manifest(mut self, manifest: Descriptor) -> Self {
        self.index.manifests.push(manifest);
        self
    }

    /// Appends entries, in order.
    pub fn manifests(mut self, manifests: impl IntoIterator<Item = Descriptor>) -> Self {
        self.index.manifests.extend(manifests);
        self
    }

    /// Sets the subject, the manifest this one refers to.
    pub fn subject(mut self, subject: Descriptor) -> Self {
        self.index.subject = Some(subject);
        self
    }

    /// Sets the artifact type.
    pub fn artifact_type(mut self, artifact_type: impl Into<String>) -> Self {
        self.index.artifact_type = Some(artifact_type.into());
        self
    }

    /// Adds an annotation.
    pub fn annotation(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.index.annotations.insert(key.into(), value.into());
        self
    }

    /// Chooses the algorithm of the index's own digest (SHA-256 unless told otherwise).
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Serialises the index and parses it back, with the same validation as bytes from the wire
    /// (but no size limit).
    pub fn build(self) -> Result<Manifest, SpecError> {
        let bytes = serde_json::to_vec(&self.index).map_err(SpecError::InvalidJson)?;
        Manifest::parse_built(bytes, self.kind, self.algorithm)
    }
}
