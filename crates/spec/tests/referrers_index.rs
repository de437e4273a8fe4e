//! The referrers response: built from the manifests that name a subject, filtered by artifact
//! type, and in the shape of the distribution-spec's example.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on bad fixtures"
)]

mod common;

use common::fixture;
use gantry_spec::{
    Descriptor, ImageIndex, ImageManifest, Manifest, ManifestKind, annotations, media_type,
    referrers,
};

fn subject() -> Manifest {
    ImageManifest::builder(Descriptor::of(media_type::OCI_IMAGE_CONFIG, b"{}"))
        .build()
        .unwrap()
}

#[test]
fn referrer_descriptors_carry_artifact_type_and_annotations() {
    let subject = subject();
    let sbom = ImageManifest::builder(Descriptor::empty())
        .artifact_type("application/vnd.example.sbom.v1")
        .annotation(annotations::CREATED, "2024-03-01T12:00:00Z")
        .subject(subject.descriptor())
        .build()
        .unwrap();
    let described = referrers::descriptor(&sbom);
    assert_eq!(described.media_type, media_type::OCI_IMAGE_MANIFEST);
    assert_eq!(described.digest, *sbom.digest());
    assert_eq!(described.size, sbom.size());
    assert_eq!(
        described.artifact_type.as_deref(),
        Some("application/vnd.example.sbom.v1")
    );
    assert_eq!(
        described.annotations[annotations::CREATED],
        "2024-03-01T12:00:00Z"
    );

    // Without artifactType, an image manifest's artifact type is its config's media type.
    let legacy = ImageManifest::builder(Descriptor::of(
        "application/vnd.example.legacy.config.v1+json",
        b"{}",
    ))
    .subject(subject.descriptor())
    .build()
    .unwrap();
    assert_eq!(
        referrers::descriptor(&legacy).artifact_type.as_deref(),
        Some("application/vnd.example.legacy.config.v1+json")
    );

    // An index referrer without artifactType has none.
    let bundle = ImageIndex::builder()
        .subject(subject.descriptor())
        .build()
        .unwrap();
    assert_eq!(referrers::descriptor(&bundle).artifact_type, None);
}

#[test]
fn the_response_is_an_oci_index_that_parses_back() {
    let subject = subject();
    let referrer_manifests: Vec<Manifest> = ["sbom", "signature", "sbom"]
        .iter()
        .enumerate()
        .map(|(n, kind)| {
            ImageManifest::builder(Descriptor::empty())
                .artifact_type(format!("application/vnd.example.{kind}.v1"))
                .annotation("com.example.n", n.to_string())
                .subject(subject.descriptor())
                .build()
                .unwrap()
        })
        .collect();
    let entries: Vec<Descriptor> = referrer_manifests
        .iter()
        .map(referrers::descriptor)
        .collect();
    let response = referrers::index(entries.clone()).unwrap();
    assert_eq!(response.kind(), ManifestKind::OciImageIndex);
    assert_eq!(response.manifests(), entries.as_slice());
    assert!(response.annotations().is_empty() && response.subject().is_none());
    assert_eq!(
        Manifest::parse(response.bytes().clone(), Some(media_type::OCI_IMAGE_INDEX)).unwrap(),
        response
    );

    let sboms = referrers::filter_by_artifact_type(&entries, "application/vnd.example.sbom.v1");
    assert_eq!(sboms.len(), 2);
    assert_eq!(sboms[0].annotations["com.example.n"], "0");
    assert_eq!(sboms[1].annotations["com.example.n"], "2");
    assert!(referrers::filter_by_artifact_type(&entries, "text/plain").is_empty());

    let empty = referrers::index([]).unwrap();
    assert_eq!(
        std::str::from_utf8(empty.bytes()).unwrap(),
        r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#
    );
}

#[test]
fn the_example_response_reads_as_referrers() {
    let response = Manifest::parse(fixture("referrers-response.json"), None).unwrap();
    let types: Vec<Option<&str>> = response
        .manifests()
        .iter()
        .map(|entry| entry.artifact_type.as_deref())
        .collect();
    assert_eq!(
        types,
        [
            Some("application/vnd.example.sbom.v1"),
            Some("application/vnd.example.signature.v1")
        ]
    );
    let rebuilt = referrers::index(response.manifests().to_vec()).unwrap();
    assert_eq!(rebuilt.manifests(), response.manifests());
}
