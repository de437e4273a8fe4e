//! Documents in the shapes of the OCI image-spec's and Docker's examples parse to the expected
//! values, and their digest is that of their exact bytes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on bad fixtures"
)]

mod common;

use common::fixture;
use gantry_reference::{Algorithm, Digest};
use gantry_spec::{DescriptorRole, Manifest, ManifestKind, ParseOptions, SpecError, media_type};

/// Every manifest fixture, the content type it is served with, and its kind.
const MANIFESTS: &[(&str, Option<&str>, ManifestKind)] = &[
    (
        "oci-manifest.json",
        Some(media_type::OCI_IMAGE_MANIFEST),
        ManifestKind::OciImageManifest,
    ),
    ("oci-manifest.json", None, ManifestKind::OciImageManifest),
    (
        "oci-manifest-minimal.json",
        None,
        ManifestKind::OciImageManifest,
    ),
    (
        "oci-manifest-minimal.json",
        Some(media_type::OCI_IMAGE_MANIFEST),
        ManifestKind::OciImageManifest,
    ),
    (
        "oci-manifest-unknown-fields.json",
        Some(media_type::OCI_IMAGE_MANIFEST),
        ManifestKind::OciImageManifest,
    ),
    (
        "oci-artifact.json",
        Some(media_type::OCI_IMAGE_MANIFEST),
        ManifestKind::OciImageManifest,
    ),
    (
        "oci-index.json",
        Some(media_type::OCI_IMAGE_INDEX),
        ManifestKind::OciImageIndex,
    ),
    ("oci-index-minimal.json", None, ManifestKind::OciImageIndex),
    (
        "oci-index-artifact.json",
        Some(media_type::OCI_IMAGE_INDEX),
        ManifestKind::OciImageIndex,
    ),
    (
        "docker-manifest.json",
        Some(media_type::DOCKER_MANIFEST),
        ManifestKind::DockerManifest,
    ),
    (
        "docker-manifest.json",
        Some("application/json"),
        ManifestKind::DockerManifest,
    ),
    (
        "docker-manifest-list.json",
        Some(media_type::DOCKER_MANIFEST_LIST),
        ManifestKind::DockerManifestList,
    ),
    (
        "layout-index.json",
        Some(media_type::OCI_IMAGE_INDEX),
        ManifestKind::OciImageIndex,
    ),
    (
        "referrers-response.json",
        Some(media_type::OCI_IMAGE_INDEX),
        ManifestKind::OciImageIndex,
    ),
];

#[test]
fn every_fixture_parses_to_its_kind_and_keeps_its_bytes() {
    for &(name, content_type, kind) in MANIFESTS {
        let bytes = fixture(name);
        let manifest = Manifest::parse(bytes.clone(), content_type)
            .unwrap_or_else(|e| panic!("{name} with {content_type:?}: {e}"));
        assert_eq!(manifest.kind(), kind, "{name}");
        assert_eq!(manifest.media_type(), kind.media_type(), "{name}");
        assert_eq!(manifest.bytes(), &bytes, "{name}");
        assert_eq!(
            manifest.digest(),
            &Digest::of(Algorithm::Sha256, &bytes),
            "{name}"
        );
        assert_eq!(manifest.size(), bytes.len() as u64, "{name}");
        assert_eq!(manifest.kind().is_index(), manifest.as_index().is_some());
    }
}

#[test]
fn the_digest_algorithm_can_be_chosen() {
    let bytes = fixture("oci-manifest.json");
    let options = ParseOptions::new().with_algorithm(Algorithm::Sha512);
    let manifest = Manifest::parse_with(bytes.clone(), None, &options).unwrap();
    assert_eq!(manifest.digest(), &Digest::of(Algorithm::Sha512, &bytes));
    let sha256 = Digest::of(Algorithm::Sha256, &bytes);
    manifest.verify_digest(&sha256).unwrap();
    manifest.verify_digest(manifest.digest()).unwrap();
    let other = Digest::of(Algorithm::Sha256, b"other");
    assert!(
        manifest
            .verify_digest(&other)
            .unwrap_err()
            .is_digest_mismatch()
    );
}

#[test]
fn oci_manifest_exposes_config_layers_and_annotations() {
    let manifest = Manifest::parse(fixture("oci-manifest.json"), None).unwrap();
    let config = manifest.config().unwrap();
    assert_eq!(config.media_type, media_type::OCI_IMAGE_CONFIG);
    assert_eq!(config.size, 7023);
    assert_eq!(config.digest, Digest::of(Algorithm::Sha256, b"config"));
    let layers: Vec<(&str, u64)> = manifest
        .layers()
        .iter()
        .map(|l| (l.media_type.as_str(), l.size))
        .collect();
    assert_eq!(
        layers,
        [
            (media_type::OCI_LAYER_TAR_GZIP, 32654),
            (media_type::OCI_LAYER_TAR_GZIP, 16724),
            (media_type::OCI_LAYER_TAR_ZSTD, 73109),
        ]
    );
    assert_eq!(manifest.annotations()["com.example.key2"], "value2");
    assert!(manifest.subject().is_none());
    assert!(manifest.artifact_type().is_none());
    assert!(manifest.manifests().is_empty());
    let image = manifest.as_image().unwrap();
    assert_eq!(
        image.media_type.as_deref(),
        Some(media_type::OCI_IMAGE_MANIFEST)
    );
    assert_eq!(
        image.effective_artifact_type(),
        media_type::OCI_IMAGE_CONFIG
    );
}

#[test]
fn a_manifest_without_media_type_keeps_the_field_absent() {
    let manifest = Manifest::parse(fixture("oci-manifest-minimal.json"), None).unwrap();
    let image = manifest.as_image().unwrap();
    assert_eq!(image.media_type, None);
    assert_eq!(manifest.media_type(), media_type::OCI_IMAGE_MANIFEST);
    assert_eq!(image.layers.len(), 1);
    assert!(image.annotations.is_empty());
}

#[test]
fn unknown_fields_are_accepted_and_kept_in_the_bytes() {
    let bytes = fixture("oci-manifest-unknown-fields.json");
    let manifest = Manifest::parse(bytes.clone(), None).unwrap();
    assert!(manifest.layers().is_empty());
    assert_eq!(manifest.bytes(), &bytes);
    assert!(
        std::str::from_utf8(manifest.bytes())
            .unwrap()
            .contains("com.example.extension")
    );
}

#[test]
fn artifact_manifest_has_type_subject_and_inlined_empty_config() {
    let manifest = Manifest::parse(fixture("oci-artifact.json"), None).unwrap();
    assert_eq!(
        manifest.artifact_type(),
        Some("application/vnd.example.sbom.v1")
    );
    let config = manifest.config().unwrap();
    assert_eq!(config, &gantry_spec::Descriptor::empty());
    assert_eq!(config.data.as_deref(), Some(&b"{}"[..]));
    let subject = manifest.subject().unwrap();
    assert_eq!(subject.media_type, media_type::OCI_IMAGE_MANIFEST);
    assert_eq!(subject.size, 1234);
    assert_eq!(
        manifest.layers()[0].annotations["org.opencontainers.image.title"],
        "sbom.json"
    );
}

#[test]
fn index_entries_carry_platforms() {
    let manifest = Manifest::parse(fixture("oci-index.json"), None).unwrap();
    let platforms: Vec<String> = manifest
        .manifests()
        .iter()
        .map(|entry| entry.platform.as_ref().unwrap().to_string())
        .collect();
    assert_eq!(
        platforms,
        ["linux/ppc64le", "linux/amd64", "linux/arm64/v8"]
    );
    assert!(manifest.config().is_none());
    assert!(manifest.layers().is_empty());
    assert_eq!(manifest.annotations().len(), 2);
}

#[test]
fn minimal_index_is_recognised_by_shape() {
    let manifest = Manifest::parse(fixture("oci-index-minimal.json"), None).unwrap();
    assert_eq!(manifest.kind(), ManifestKind::OciImageIndex);
    assert_eq!(manifest.as_index().unwrap().media_type, None);
    assert_eq!(manifest.manifests().len(), 1);
    assert!(manifest.manifests()[0].platform.is_none());
}

#[test]
fn artifact_index_has_type_and_subject() {
    let manifest = Manifest::parse(fixture("oci-index-artifact.json"), None).unwrap();
    assert_eq!(
        manifest.artifact_type(),
        Some("application/vnd.example.bundle.v1")
    );
    assert_eq!(
        manifest.subject().unwrap().media_type,
        media_type::OCI_IMAGE_INDEX
    );
    assert_eq!(
        manifest.manifests()[0].artifact_type.as_deref(),
        Some("application/vnd.example.signature.v1")
    );
}

#[test]
fn docker_manifest_has_foreign_layer_urls() {
    let manifest = Manifest::parse(fixture("docker-manifest.json"), None).unwrap();
    assert_eq!(manifest.kind(), ManifestKind::DockerManifest);
    assert_eq!(
        manifest.config().unwrap().media_type,
        media_type::DOCKER_CONTAINER_CONFIG
    );
    let foreign = &manifest.layers()[2];
    assert_eq!(
        foreign.media_type,
        media_type::DOCKER_FOREIGN_LAYER_TAR_GZIP
    );
    assert_eq!(foreign.urls, ["https://example.com/layers/base.tar.gz"]);
    assert!(media_type::is_non_distributable(&foreign.media_type));
}

#[test]
fn docker_manifest_list_reads_windows_platform_fields() {
    let manifest = Manifest::parse(fixture("docker-manifest-list.json"), None).unwrap();
    assert_eq!(manifest.kind(), ManifestKind::DockerManifestList);
    let windows = manifest.manifests()[2].platform.as_ref().unwrap();
    assert_eq!(windows.os, "windows");
    assert_eq!(windows.os_version.as_deref(), Some("10.0.20348.2227"));
    assert_eq!(windows.os_features, ["win32k"]);
    let arm = manifest.manifests()[1].platform.as_ref().unwrap();
    assert_eq!(arm.variant.as_deref(), Some("v7"));
}

#[test]
fn references_list_config_layers_entries_and_subject_with_their_roles() {
    let artifact = Manifest::parse(fixture("oci-artifact.json"), None).unwrap();
    let roles: Vec<DescriptorRole> = artifact.references().map(|(role, _)| role).collect();
    assert_eq!(
        roles,
        [
            DescriptorRole::Config,
            DescriptorRole::Layer,
            DescriptorRole::Subject
        ]
    );
    let children = artifact
        .references()
        .filter(|(role, _)| role.is_child())
        .count();
    assert_eq!(children, 2);

    let index = Manifest::parse(fixture("oci-index.json"), None).unwrap();
    let references: Vec<_> = index.references().collect();
    assert_eq!(references.len(), 3);
    assert!(
        references
            .iter()
            .all(|(role, _)| *role == DescriptorRole::Manifest)
    );
    assert_eq!(references[1].1, &index.manifests()[1]);
}

#[test]
fn schema1_fixtures_are_refused_with_or_without_a_content_type() {
    let cases: &[(&str, Option<&str>)] = &[
        ("schema1-signed.json", None),
        (
            "schema1-signed.json",
            Some(media_type::DOCKER_SCHEMA1_SIGNED_MANIFEST),
        ),
        ("schema1-unsigned.json", None),
        (
            "schema1-unsigned.json",
            Some(media_type::DOCKER_SCHEMA1_MANIFEST),
        ),
        ("schema1-unsigned.json", Some("application/json")),
    ];
    for &(name, content_type) in cases {
        let error = Manifest::parse(fixture(name), content_type).unwrap_err();
        assert!(error.is_schema1(), "{name} with {content_type:?}: {error}");
        assert!(matches!(error, SpecError::Schema1Unsupported));
    }
}

#[test]
fn the_descriptor_of_a_manifest_names_its_bytes() {
    let manifest = Manifest::parse(fixture("docker-manifest-list.json"), None).unwrap();
    let descriptor = manifest.descriptor();
    assert_eq!(descriptor.media_type, media_type::DOCKER_MANIFEST_LIST);
    descriptor.verify(manifest.bytes()).unwrap();
}
