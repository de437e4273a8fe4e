//! Annotation keys that the OCI image-spec predefines, and the ones tools commonly add.

/// When the image was created, as an RFC 3339 date-time.
pub const CREATED: &str = "org.opencontainers.image.created";
/// Who is responsible for the image.
pub const AUTHORS: &str = "org.opencontainers.image.authors";
/// Where to find more information about the image.
pub const URL: &str = "org.opencontainers.image.url";
/// Where to find the image's documentation.
pub const DOCUMENTATION: &str = "org.opencontainers.image.documentation";
/// Where to find the image's source code.
pub const SOURCE: &str = "org.opencontainers.image.source";
/// The version of the packaged software.
pub const VERSION: &str = "org.opencontainers.image.version";
/// The source control revision the image was built from.
pub const REVISION: &str = "org.opencontainers.image.revision";
/// Who distributes the image.
pub const VENDOR: &str = "org.opencontainers.image.vendor";
/// The licence of the packaged software, as an SPDX expression.
pub const LICENSES: &str = "org.opencontainers.image.licenses";
/// The name of a reference to the image, as used in an image layout's `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// A human-readable title.
pub const TITLE: &str = "org.opencontainers.image.title";
/// A human-readable description.
pub const DESCRIPTION: &str = "org.opencontainers.image.description";
/// The digest of the image this one was built on.
pub const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";
/// The reference of the image this one was built on.
pub const BASE_NAME: &str = "org.opencontainers.image.base.name";
/// The full image reference, as containerd writes it in image layouts and archives.
pub const CONTAINERD_IMAGE_NAME: &str = "io.containerd.image.name";
