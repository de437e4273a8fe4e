//! The four kinds of manifest this crate reads, and how a document's kind is decided.

use crate::media_type;

/// What a manifest is: an image manifest or an index, in its OCI or Docker form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ManifestKind {
    /// An OCI image manifest ([`OCI_IMAGE_MANIFEST`](media_type::OCI_IMAGE_MANIFEST)).
    OciImageManifest,
    /// An OCI image index ([`OCI_IMAGE_INDEX`](media_type::OCI_IMAGE_INDEX)).
    OciImageIndex,
    /// A Docker schema 2 image manifest ([`DOCKER_MANIFEST`](media_type::DOCKER_MANIFEST)).
    DockerManifest,
    /// A Docker manifest list ([`DOCKER_MANIFEST_LIST`](media_type::DOCKER_MANIFEST_LIST)).
    DockerManifestList,
}

impl ManifestKind {
    /// Every kind.
    pub const ALL: [ManifestKind; 4] = [
        ManifestKind::OciImageManifest,
        ManifestKind::OciImageIndex,
        ManifestKind::DockerManifest,
        ManifestKind::DockerManifestList,
    ];

    /// The kind whose media type is exactly `media_type`.
    pub fn from_media_type(media_type: &str) -> Option<ManifestKind> {
        ManifestKind::ALL
            .into_iter()
            .find(|kind| kind.media_type() == media_type)
    }

    /// The kind's media type.
    pub const fn media_type(self) -> &'static str {
        match self {
            ManifestKind::OciImageManifest => media_type::OCI_IMAGE_MANIFEST,
            ManifestKind::OciImageIndex => media_type::OCI_IMAGE_INDEX,
            ManifestKind::DockerManifest => media_type::DOCKER_MANIFEST,
            ManifestKind::DockerManifestList => media_type::DOCKER_MANIFEST_LIST,
        }
    }

    /// True for the two index kinds, whose entries are other manifests.
    pub const fn is_index(self) -> bool {
        matches!(
            self,
            ManifestKind::OciImageIndex | ManifestKind::DockerManifestList
        )
    }

    /// True for the two Docker kinds.
    pub const fn is_docker(self) -> bool {
        matches!(
            self,
            ManifestKind::DockerManifest | ManifestKind::DockerManifestList
        )
    }
}

/// Content types that say nothing about the kind of manifest: clients send them when they do
/// not know better, so they are treated like a missing header.
pub(crate) fn is_generic_content_type(essence: &str) -> bool {
    matches!(
        essence,
        "" | "application/json" | "application/octet-stream"
    )
}
