//! Media type constants of the OCI image-spec and of Docker's image formats, and small questions
//! about media types.

/// OCI image manifest.
pub const OCI_IMAGE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_IMAGE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image config.
pub const OCI_IMAGE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI layer, an uncompressed tar archive.
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// OCI layer, a gzip-compressed tar archive.
pub const OCI_LAYER_TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// OCI layer, a zstd-compressed tar archive.
pub const OCI_LAYER_TAR_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// OCI non-distributable layer, uncompressed (deprecated by the image-spec, still read).
pub const OCI_LAYER_NONDISTRIBUTABLE_TAR: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar";
/// OCI non-distributable layer, gzip-compressed (deprecated by the image-spec, still read).
pub const OCI_LAYER_NONDISTRIBUTABLE_TAR_GZIP: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
/// OCI non-distributable layer, zstd-compressed (deprecated by the image-spec, still read).
pub const OCI_LAYER_NONDISTRIBUTABLE_TAR_ZSTD: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
/// The empty descriptor's media type: content `{}`, used as the config of artifacts.
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// The OCI image layout header, the `oci-layout` file.
pub const OCI_LAYOUT_HEADER: &str = "application/vnd.oci.layout.header.v1+json";

/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list (the "fat manifest"), schema 2.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker container image config.
pub const DOCKER_CONTAINER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker layer, a gzip-compressed tar archive.
pub const DOCKER_LAYER_TAR_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// Docker layer, an uncompressed tar archive (seldom seen, but accepted by Docker).
pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
/// Docker foreign layer, fetched from its `urls` rather than from the registry.
pub const DOCKER_FOREIGN_LAYER_TAR_GZIP: &str =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
/// Docker plugin config.
pub const DOCKER_PLUGIN_CONFIG: &str = "application/vnd.docker.plugin.v1+json";

/// Docker schema 1 manifest, unsigned. Recognised only, to be refused.
pub const DOCKER_SCHEMA1_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v1+json";
/// Docker schema 1 manifest, signed with JWS. Recognised only, to be refused.
pub const DOCKER_SCHEMA1_SIGNED_MANIFEST: &str =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// The content of the empty descriptor: the two bytes `{}`.
pub const EMPTY_JSON: &[u8] = b"{}";

/// The media type part of a `Content-Type` value: parameters and surrounding whitespace removed,
/// ASCII letters lower-cased where needed.
///
/// ```
/// use gantry_spec::media_type;
///
/// assert_eq!(
///     media_type::essence(" Application/JSON; charset=utf-8"),
///     "application/json"
/// );
/// ```
pub fn essence(content_type: &str) -> String {
    let bare = content_type
        .split_once(';')
        .map_or(content_type, |(bare, _)| bare);
    bare.trim().to_ascii_lowercase()
}

/// True when `media_type` has the `type/subtype` form of RFC 6838: each part starts with a letter
/// or digit, continues with letters, digits and `!#$&-^_.+`, and is at most 127 characters.
///
/// ```
/// use gantry_spec::media_type;
///
/// assert!(media_type::is_valid(media_type::OCI_IMAGE_MANIFEST));
/// assert!(!media_type::is_valid("application"));
/// assert!(!media_type::is_valid("application/json; charset=utf-8"));
/// ```
pub fn is_valid(media_type: &str) -> bool {
    fn is_restricted_name(part: &str) -> bool {
        let bytes = part.as_bytes();
        let Some((&first, rest)) = bytes.split_first() else {
            return false;
        };
        bytes.len() <= 127
            && first.is_ascii_alphanumeric()
            && rest.iter().all(|&b| {
                b.is_ascii_alphanumeric()
                    || matches!(
                        b,
                        b'!' | b'#' | b'$' | b'&' | b'-' | b'^' | b'_' | b'.' | b'+'
                    )
            })
    }
    match media_type.split_once('/') {
        Some((kind, subtype)) => is_restricted_name(kind) && is_restricted_name(subtype),
        None => false,
    }
}

/// True for the two Docker schema 1 manifest media types.
pub fn is_schema1(media_type: &str) -> bool {
    media_type == DOCKER_SCHEMA1_MANIFEST || media_type == DOCKER_SCHEMA1_SIGNED_MANIFEST
}

/// True for the media types of image configs this crate reads as [`ImageConfig`](crate::ImageConfig).
pub fn is_image_config(media_type: &str) -> bool {
    media_type == OCI_IMAGE_CONFIG || media_type == DOCKER_CONTAINER_CONFIG
}

/// True for the media types of image layers, OCI or Docker, compressed or not.
pub fn is_layer(media_type: &str) -> bool {
    matches!(
        media_type,
        OCI_LAYER_TAR
            | OCI_LAYER_TAR_GZIP
            | OCI_LAYER_TAR_ZSTD
            | OCI_LAYER_NONDISTRIBUTABLE_TAR
            | OCI_LAYER_NONDISTRIBUTABLE_TAR_GZIP
            | OCI_LAYER_NONDISTRIBUTABLE_TAR_ZSTD
            | DOCKER_LAYER_TAR_GZIP
            | DOCKER_LAYER_TAR
            | DOCKER_FOREIGN_LAYER_TAR_GZIP
    )
}

/// True for uncompressed layers, whose digest is also their `diff_id`.
pub fn is_uncompressed_layer(media_type: &str) -> bool {
    matches!(
        media_type,
        OCI_LAYER_TAR | OCI_LAYER_NONDISTRIBUTABLE_TAR | DOCKER_LAYER_TAR
    )
}

/// True for layers that registries need not hold: the OCI non-distributable layers and Docker's
/// foreign layers, which are fetched from their `urls`.
pub fn is_non_distributable(media_type: &str) -> bool {
    matches!(
        media_type,
        OCI_LAYER_NONDISTRIBUTABLE_TAR
            | OCI_LAYER_NONDISTRIBUTABLE_TAR_GZIP
            | OCI_LAYER_NONDISTRIBUTABLE_TAR_ZSTD
            | DOCKER_FOREIGN_LAYER_TAR_GZIP
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_type_validity_follows_rfc_6838_restricted_names() {
        let cases: &[(&str, bool)] = &[
            (OCI_IMAGE_MANIFEST, true),
            (DOCKER_SCHEMA1_SIGNED_MANIFEST, true),
            ("application/vnd.cncf.helm.config.v1+json", true),
            ("text/plain", true),
            ("a/b", true),
            ("", false),
            ("/", false),
            ("application/", false),
            ("/json", false),
            ("application/json/x", false),
            ("application/-json", false),
            ("application/js on", false),
            ("application/json;charset=utf-8", false),
        ];
        for &(input, valid) in cases {
            assert_eq!(is_valid(input), valid, "{input:?}");
        }
        assert!(is_valid(&format!("a/{}", "b".repeat(127))));
        assert!(!is_valid(&format!("a/{}", "b".repeat(128))));
    }

    #[test]
    fn essence_strips_parameters_and_case() {
        let cases: &[(&str, &str)] = &[
            ("application/json", "application/json"),
            ("application/json; charset=utf-8", "application/json"),
            (
                "  Application/Vnd.OCI.Image.Index.v1+JSON ",
                OCI_IMAGE_INDEX,
            ),
            ("", ""),
        ];
        for &(input, expected) in cases {
            assert_eq!(essence(input), expected, "{input:?}");
        }
    }
}
