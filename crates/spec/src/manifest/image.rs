//! Image manifests, OCI and Docker schema 2: one config, a list of layers, and for OCI an
//! optional subject and artifact type.

use std::collections::BTreeMap;

use gantry_reference::Algorithm;
use serde::{Serialize, Serializer};

use crate::manifest::{Manifest, ManifestKind};
use crate::{Descriptor, SpecError};

/// The body of an OCI image manifest or a Docker schema 2 manifest (the Docker form has no
/// `artifactType`, `subject` or `annotations`; when a Docker manifest carries them anyway they
/// are read like the OCI fields).
///
/// Read one with [`Manifest::parse`], which validates it; build one with
/// [`ImageManifest::builder`]. Serialising writes canonical JSON: `schemaVersion`, `mediaType`,
/// `artifactType`, `config`, `layers`, `subject`, `annotations`, in that order, empty optional
/// fields omitted, no whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImageManifest {
    /// The `mediaType` field, when the document has one.
    pub media_type: Option<String>,
    /// The `artifactType` field: what kind of artifact this manifest packages.
    pub artifact_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers, base first.
    pub layers: Vec<Descriptor>,
    /// The manifest this one refers to, for the referrers API.
    pub subject: Option<Descriptor>,
    /// Arbitrary metadata.
    pub annotations: BTreeMap<String, String>,
}

impl ImageManifest {
    /// A builder for an OCI image manifest with this config.
    ///
    /// ```
    /// use gantry_spec::{Descriptor, ImageManifest, ManifestKind, media_type};
    ///
    /// let config = Descriptor::of(media_type::OCI_IMAGE_CONFIG, b"{}");
    /// let layer = Descriptor::of(media_type::OCI_LAYER_TAR_GZIP, b"layer");
    /// let manifest = ImageManifest::builder(config).layer(layer.clone()).build()?;
    /// assert_eq!(manifest.kind(), ManifestKind::OciImageManifest);
    /// assert_eq!(manifest.layers(), &[layer]);
    /// # Ok::<(), gantry_spec::SpecError>(())
    /// ```
    pub fn builder(config: Descriptor) -> ImageManifestBuilder {
        ImageManifestBuilder::new(ManifestKind::OciImageManifest, config)
    }

    /// A builder for a Docker schema 2 manifest with this config.
    pub fn docker_builder(config: Descriptor) -> ImageManifestBuilder {
        ImageManifestBuilder::new(ManifestKind::DockerManifest, config)
    }

    /// A builder that starts from every field of this manifest, for rebuilding or converting a
    /// parsed one: it writes a Docker schema 2 manifest when `kind` is
    /// [`ManifestKind::DockerManifest`], an OCI image manifest otherwise.
    pub fn to_builder(&self, kind: ManifestKind) -> ImageManifestBuilder {
        let kind = match kind {
            ManifestKind::DockerManifest => ManifestKind::DockerManifest,
            _ => ManifestKind::OciImageManifest,
        };
        ImageManifestBuilder {
            kind,
            manifest: ImageManifest {
                media_type: Some(kind.media_type().to_owned()),
                ..self.clone()
            },
            algorithm: Algorithm::Sha256,
        }
    }

    /// The artifact type the referrers API reports for this manifest: `artifactType` when set,
    /// otherwise the config's media type.
    pub fn effective_artifact_type(&self) -> &str {
        self.artifact_type
            .as_deref()
            .unwrap_or(&self.config.media_type)
    }
}

impl Serialize for ImageManifest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Repr<'a> {
            schema_version: u32,
            #[serde(skip_serializing_if = "Option::is_none")]
            media_type: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            artifact_type: Option<&'a str>,
            config: &'a Descriptor,
            layers: &'a [Descriptor],
            #[serde(skip_serializing_if = "Option::is_none")]
            subject: Option<&'a Descriptor>,
            #[serde(skip_serializing_if = "BTreeMap::is_empty")]
            annotations: &'a BTreeMap<String, String>,
        }
        Repr {
            schema_version: 2,
            media_type: self.media_type.as_deref(),
            artifact_type: self.artifact_type.as_deref(),
            config: &self.config,
            layers: &self.layers,
            subject: self.subject.as_ref(),
            annotations: &self.annotations,
        }
        .serialize(serializer)
    }
}

/// Builds a new image manifest as canonical JSON, and reads it back as a [`Manifest`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ImageManifestBuilder {
    kind: ManifestKind,
    manifest: ImageManifest,
    algorithm: Algorithm,
}

impl ImageManifestBuilder {
    fn new(kind: ManifestKind, config: Descriptor) -> ImageManifestBuilder {
        ImageManifestBuilder {
            kind,
            manifest: ImageManifest {
                media_type: Some(kind.media_type().to_owned()),
                artifact_type: None,
                config,
                layers: Vec::new(),
                subject: None,
                annotations: BTreeMap::new(),
            },
            algorithm: Algorithm::Sha256,
        }
    }

    /// Appends a layer.
    pub fn layer(mut self, layer: Descriptor) -> Self {
        self.manifest.layers.push(layer);
        self
    }

    /// Appends layers, in order.
    pub fn layers(mut self, layers: impl IntoIterator<Item = Descriptor>) -> Self {
        self.manifest.layers.extend(layers);
        self
    }

    /// Sets the subject, the manifest this one refers to.
    pub fn subject(mut self, subject: Descriptor) -> Self {
        self.manifest.subject = Some(subject);
        self
    }

    /// Sets the artifact type.
    pub fn artifact_type(mut self, artifact_type: impl Into<String>) -> Self {
        self.manifest.artifact_type = Some(artifact_type.into());
        self
    }

    /// Adds an annotation.
    pub fn annotation(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.manifest.annotations.insert(key.into(), value.into());
        self
    }

    /// Chooses the algorithm of the manifest's own digest (SHA-256 unless told otherwise).
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Serialises the manifest and parses it back, with the same validation as bytes from the
    /// wire (but no size limit).
    pub fn build(self) -> Result<Manifest, SpecError> {
        let bytes = serde_json::to_vec(&self.manifest).map_err(SpecError::InvalidJson)?;
        Manifest::parse_built(bytes, self.kind, self.algorithm)
    }
}
