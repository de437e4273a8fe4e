//! Builders write canonical JSON that parses back to what was built, and no input makes
//! `Manifest::parse` panic.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a property fails loudly on a bad case"
)]

use std::collections::BTreeMap;

use bytes::Bytes;
use gantry_reference::{Algorithm, Digest};
use gantry_spec::{
    Descriptor, ImageIndex, ImageManifest, Manifest, ManifestKind, Platform, media_type,
};
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;

/// The fields of an image manifest a test builds, to compare with what parsing gives back.
#[derive(Debug, Clone)]
struct ImageFields {
    artifact_type: Option<String>,
    config: Descriptor,
    layers: Vec<Descriptor>,
    subject: Option<Descriptor>,
    annotations: BTreeMap<String, String>,
}

impl ImageFields {
    fn matches(&self, kind: ManifestKind, image: &ImageManifest) -> bool {
        image.media_type.as_deref() == Some(kind.media_type())
            && image.artifact_type == self.artifact_type
            && image.config == self.config
            && image.layers == self.layers
            && image.subject == self.subject
            && image.annotations == self.annotations
    }
}

/// The fields of an image index a test builds, to compare with what parsing gives back.
#[derive(Debug, Clone)]
struct IndexFields {
    artifact_type: Option<String>,
    manifests: Vec<Descriptor>,
    subject: Option<Descriptor>,
    annotations: BTreeMap<String, String>,
}

impl IndexFields {
    fn matches(&self, kind: ManifestKind, index: &ImageIndex) -> bool {
        index.media_type.as_deref() == Some(kind.media_type())
            && index.artifact_type == self.artifact_type
            && index.manifests == self.manifests
            && index.subject == self.subject
            && index.annotations == self.annotations
    }
}

fn media_type_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(media_type::OCI_LAYER_TAR_GZIP.to_owned()),
        Just(media_type::OCI_IMAGE_CONFIG.to_owned()),
        Just(media_type::DOCKER_LAYER_TAR_GZIP.to_owned()),
        "[a-z]{1,8}/[a-z0-9][a-z0-9.+_-]{0,24}",
    ]
}

fn digest_strategy() -> impl Strategy<Value = Digest> {
    (
        prop_oneof![Just(Algorithm::Sha256), Just(Algorithm::Sha512)],
        any::<u64>(),
    )
        .prop_map(|(algorithm, seed)| Digest::of(algorithm, &seed.to_le_bytes()))
}

fn annotations_strategy() -> impl Strategy<Value = BTreeMap<String, String>> {
    // Values of any characters, to exercise JSON escaping.
    btree_map("[a-z][a-z0-9.]{0,15}", any::<String>(), 0..3)
}

fn platform_strategy() -> impl Strategy<Value = Platform> {
    (
        prop_oneof![Just("linux"), Just("windows"), Just("darwin")],
        prop_oneof![Just("amd64"), Just("arm64"), Just("arm"), Just("s390x")],
        option::of(prop_oneof![Just("v5"), Just("v7"), Just("v8")]),
        option::of("[0-9]{1,2}\\.[0-9]\\.[0-9]{1,5}"),
        vec("[a-z0-9]{1,8}", 0..2),
    )
        .prop_map(|(os, architecture, variant, os_version, os_features)| {
            let mut platform = Platform::new(os, architecture);
            platform.variant = variant.map(str::to_owned);
            platform.os_version = os_version;
            platform.os_features = os_features;
            platform
        })
}

/// Descriptors of every shape: with or without inlined data (which then matches), URLs,
/// annotations, a platform and an artifact type.
fn descriptor_strategy() -> impl Strategy<Value = Descriptor> {
    let pointer = (
        media_type_strategy(),
        digest_strategy(),
        0..=i64::MAX as u64,
    )
        .prop_map(|(media_type, digest, size)| Descriptor::new(media_type, digest, size));
    let inlined =
        (media_type_strategy(), vec(any::<u8>(), 0..64)).prop_map(|(media_type, data)| {
            Descriptor::of(media_type, &data).with_data(Bytes::from(data))
        });
    (
        prop_oneof![3 => pointer, 1 => inlined],
        vec("https://[a-z]{1,10}\\.example/[a-z0-9/]{0,12}", 0..2),
        annotations_strategy(),
        option::of(platform_strategy()),
        option::of(media_type_strategy()),
    )
        .prop_map(
            |(mut descriptor, urls, annotations, platform, artifact_type)| {
                descriptor.urls = urls;
                descriptor.annotations = annotations;
                descriptor.platform = platform;
                descriptor.artifact_type = artifact_type;
                descriptor
            },
        )
}

fn image_manifest_strategy() -> impl Strategy<Value = (ManifestKind, ImageFields)> {
    (
        prop_oneof![
            Just(ManifestKind::OciImageManifest),
            Just(ManifestKind::DockerManifest)
        ],
        prop_oneof![3 => descriptor_strategy(), 1 => Just(Descriptor::empty())],
        vec(descriptor_strategy(), 0..4),
        option::of(descriptor_strategy()),
        option::of(media_type_strategy()),
        annotations_strategy(),
    )
        .prop_map(
            |(kind, config, layers, subject, artifact_type, annotations)| {
                // The image-spec requires an artifact type when the config is empty.
                let artifact_type = if config.media_type == media_type::OCI_EMPTY {
                    artifact_type.or_else(|| Some("application/vnd.example.artifact".to_owned()))
                } else {
                    artifact_type
                };
                let manifest = ImageFields {
                    artifact_type,
                    config,
                    layers,
                    subject,
                    annotations,
                };
                (kind, manifest)
            },
        )
}

fn image_index_strategy() -> impl Strategy<Value = (ManifestKind, IndexFields)> {
    (
        prop_oneof![
            Just(ManifestKind::OciImageIndex),
            Just(ManifestKind::DockerManifestList)
        ],
        vec(descriptor_strategy(), 0..4),
        option::of(descriptor_strategy()),
        option::of(media_type_strategy()),
        annotations_strategy(),
    )
        .prop_map(|(kind, manifests, subject, artifact_type, annotations)| {
            let index = IndexFields {
                artifact_type,
                manifests,
                subject,
                annotations,
            };
            (kind, index)
        })
}

fn build_image(kind: ManifestKind, manifest: &ImageFields) -> Manifest {
    let builder = match kind {
        ManifestKind::DockerManifest => ImageManifest::docker_builder(manifest.config.clone()),
        _ => ImageManifest::builder(manifest.config.clone()),
    };
    let mut builder = builder.layers(manifest.layers.clone());
    if let Some(subject) = &manifest.subject {
        builder = builder.subject(subject.clone());
    }
    if let Some(artifact_type) = &manifest.artifact_type {
        builder = builder.artifact_type(artifact_type.clone());
    }
    for (key, value) in &manifest.annotations {
        builder = builder.annotation(key.clone(), value.clone());
    }
    builder.build().unwrap()
}

fn build_index(kind: ManifestKind, index: &IndexFields) -> Manifest {
    let builder = match kind {
        ManifestKind::DockerManifestList => ImageIndex::docker_builder(),
        _ => ImageIndex::builder(),
    };
    let mut builder = builder.manifests(index.manifests.clone());
    if let Some(subject) = &index.subject {
        builder = builder.subject(subject.clone());
    }
    if let Some(artifact_type) = &index.artifact_type {
        builder = builder.artifact_type(artifact_type.clone());
    }
    for (key, value) in &index.annotations {
        builder = builder.annotation(key.clone(), value.clone());
    }
    builder.build().unwrap()
}

/// What every built manifest must satisfy: its bytes are canonical, its digest is theirs, and
/// parsing the bytes again, with or without a content type, gives the same manifest.
fn assert_reparses(built: &Manifest) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        built.digest(),
        &Digest::of(built.digest().algorithm(), built.bytes())
    );
    for content_type in [None, Some(built.media_type()), Some("application/json")] {
        let options = gantry_spec::ParseOptions::new()
            .with_max_size(usize::MAX)
            .with_algorithm(built.digest().algorithm());
        let parsed = Manifest::parse_with(built.bytes().clone(), content_type, &options).unwrap();
        prop_assert_eq!(&parsed, built);
    }
    Ok(())
}

proptest! {
    #[test]
    fn built_image_manifests_parse_back_to_what_was_built((kind, manifest) in image_manifest_strategy()) {
        let built = build_image(kind, &manifest);
        prop_assert_eq!(built.kind(), kind);
        prop_assert!(manifest.matches(kind, built.as_image().unwrap()));
        let canonical = serde_json::to_vec(built.as_image().unwrap()).unwrap();
        prop_assert_eq!(built.bytes().as_ref(), canonical.as_slice());
        assert_reparses(&built)?;
        let children = built.references().filter(|(role, _)| role.is_child()).count();
        prop_assert_eq!(children, 1 + manifest.layers.len());
    }

    #[test]
    fn built_indexes_parse_back_to_what_was_built((kind, index) in image_index_strategy()) {
        let built = build_index(kind, &index);
        prop_assert_eq!(built.kind(), kind);
        prop_assert!(index.matches(kind, built.as_index().unwrap()));
        assert_reparses(&built)?;
        prop_assert_eq!(built.manifests(), index.manifests.as_slice());
    }

    #[test]
    fn a_parsed_document_rebuilds_to_the_same_bytes(
        (image_kind, manifest) in image_manifest_strategy(),
        (index_kind, index) in image_index_strategy(),
    ) {
        let built = build_image(image_kind, &manifest);
        let rebuilt = built.as_image().unwrap().to_builder(image_kind).build().unwrap();
        prop_assert_eq!(rebuilt.bytes(), built.bytes());
        let built = build_index(index_kind, &index);
        let rebuilt = built.as_index().unwrap().to_builder(index_kind).build().unwrap();
        prop_assert_eq!(rebuilt.bytes(), built.bytes());
    }

    #[test]
    fn a_chosen_digest_algorithm_is_used((_, manifest) in image_manifest_strategy()) {
        let built = ImageManifest::builder(manifest.config.clone())
            .layers(manifest.layers.clone())
            .artifact_type("application/vnd.example.artifact")
            .algorithm(Algorithm::Sha512)
            .build()
            .unwrap();
        prop_assert_eq!(built.digest().algorithm(), Algorithm::Sha512);
        prop_assert_eq!(built.kind(), ManifestKind::OciImageManifest);
        assert_reparses(&built)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512), content_type in option::of(any::<String>())) {
        let _ = Manifest::parse(bytes, content_type.as_deref());
    }

    #[test]
    fn damaged_manifests_never_panic(
        (kind, manifest) in image_manifest_strategy(),
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        truncate in any::<bool>(),
    ) {
        let built = build_image(kind, &manifest);
        let mut bytes = built.bytes().to_vec();
        let at = position.index(bytes.len());
        if truncate {
            bytes.truncate(at);
        } else {
            bytes[at] = byte;
        }
        if let Ok(parsed) = Manifest::parse_with(
            bytes.clone(),
            None,
            &gantry_spec::ParseOptions::new().with_max_size(usize::MAX),
        ) {
            prop_assert_eq!(parsed.bytes().as_ref(), bytes.as_slice());
            prop_assert_eq!(parsed.digest(), &Digest::of(Algorithm::Sha256, &bytes));
        }
    }
}

#[test]
fn builders_write_canonical_json_in_the_image_spec_field_order() {
    let config = Descriptor::new(
        media_type::OCI_IMAGE_CONFIG,
        Digest::of(Algorithm::Sha256, b"config"),
        7,
    );
    let layer = Descriptor::new(
        media_type::OCI_LAYER_TAR_GZIP,
        Digest::of(Algorithm::Sha256, b"layer"),
        5,
    )
    .with_annotation("org.opencontainers.image.title", "a \"quoted\" name");
    let subject = Descriptor::new(
        media_type::OCI_IMAGE_MANIFEST,
        Digest::of(Algorithm::Sha256, b"subject"),
        100,
    );
    let built = ImageManifest::builder(config.clone())
        .annotation("z", "last")
        .annotation("a", "first")
        .layer(layer.clone())
        .subject(subject.clone())
        .artifact_type("application/vnd.example+type")
        .build()
        .unwrap();
    let expected = format!(
        concat!(
            r#"{{"schemaVersion":2,"mediaType":"{mt}","artifactType":"application/vnd.example+type","#,
            r#""config":{{"mediaType":"{config_mt}","digest":"{config}","size":7}},"#,
            r#""layers":[{{"mediaType":"{layer_mt}","digest":"{layer}","size":5,"#,
            r#""annotations":{{"org.opencontainers.image.title":"a \"quoted\" name"}}}}],"#,
            r#""subject":{{"mediaType":"{mt}","digest":"{subject}","size":100}},"#,
            r#""annotations":{{"a":"first","z":"last"}}}}"#,
        ),
        mt = media_type::OCI_IMAGE_MANIFEST,
        config_mt = media_type::OCI_IMAGE_CONFIG,
        config = config.digest,
        layer_mt = media_type::OCI_LAYER_TAR_GZIP,
        layer = layer.digest,
        subject = subject.digest,
    );
    assert_eq!(std::str::from_utf8(built.bytes()).unwrap(), expected);

    let index = ImageIndex::builder()
        .manifest(
            built
                .descriptor()
                .with_platform(Platform::parse("linux/amd64").unwrap()),
        )
        .build()
        .unwrap();
    let expected_index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{{"mediaType":"{}","digest":"{}","size":{},"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
        media_type::OCI_IMAGE_INDEX,
        media_type::OCI_IMAGE_MANIFEST,
        built.digest(),
        built.size()
    );
    assert_eq!(std::str::from_utf8(index.bytes()).unwrap(), expected_index);
}

#[test]
fn builders_refuse_what_parsing_refuses() {
    let error = ImageManifest::builder(Descriptor::empty())
        .build()
        .unwrap_err();
    assert!(matches!(error, gantry_spec::SpecError::MissingArtifactType));

    let bad_data =
        Descriptor::of(media_type::OCI_LAYER_TAR, b"right").with_data(Bytes::from_static(b"wrong"));
    let error = ImageManifest::builder(Descriptor::of(media_type::OCI_IMAGE_CONFIG, b"{}"))
        .layer(bad_data)
        .build()
        .unwrap_err();
    assert!(error.is_digest_mismatch());

    let error = ImageIndex::builder()
        .artifact_type("no-slash")
        .build()
        .unwrap_err();
    assert!(matches!(
        error,
        gantry_spec::SpecError::InvalidMediaType { .. }
    ));
}
