//! What `Manifest::parse` accepts and refuses, and with which error: one table of documents and
//! content types.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on bad fixtures"
)]

use gantry_reference::{Algorithm, Digest};
use gantry_spec::{Manifest, ManifestKind, ParseOptions, SpecError, media_type};

fn digest(seed: &str) -> String {
    Digest::of(Algorithm::Sha256, seed.as_bytes()).to_string()
}

/// A descriptor's JSON with this media type, size and a valid digest.
fn descriptor(media_type: &str, size: &str) -> String {
    format!(
        r#"{{"mediaType":"{media_type}","digest":"{}","size":{size}}}"#,
        digest(media_type)
    )
}

fn image_manifest(media_type_field: Option<&str>, config: &str, extra: &str) -> String {
    let media_type_field =
        media_type_field.map_or(String::new(), |mt| format!(r#""mediaType":"{mt}","#));
    format!(
        r#"{{"schemaVersion":2,{media_type_field}"config":{config},"layers":[{}]{extra}}}"#,
        descriptor(media_type::OCI_LAYER_TAR_GZIP, "10")
    )
}

fn oci_config() -> String {
    descriptor(media_type::OCI_IMAGE_CONFIG, "100")
}

fn oci_manifest() -> String {
    image_manifest(Some(media_type::OCI_IMAGE_MANIFEST), &oci_config(), "")
}

fn oci_index(media_type_field: Option<&str>) -> String {
    let media_type_field =
        media_type_field.map_or(String::new(), |mt| format!(r#""mediaType":"{mt}","#));
    format!(
        r#"{{"schemaVersion":2,{media_type_field}"manifests":[{}]}}"#,
        descriptor(media_type::OCI_IMAGE_MANIFEST, "500")
    )
}

type Check = fn(&SpecError) -> bool;

#[test]
fn documents_are_accepted_with_the_kind_their_media_types_say() {
    let cases: Vec<(&str, String, Option<&str>, ManifestKind)> = vec![
        (
            "field and header agree",
            oci_manifest(),
            Some(media_type::OCI_IMAGE_MANIFEST),
            ManifestKind::OciImageManifest,
        ),
        (
            "header with parameters and other case",
            oci_manifest(),
            Some("Application/Vnd.Oci.Image.Manifest.V1+Json; charset=utf-8"),
            ManifestKind::OciImageManifest,
        ),
        (
            "generic JSON header defers to the field",
            oci_manifest(),
            Some("application/json"),
            ManifestKind::OciImageManifest,
        ),
        (
            "octet-stream header defers to the field",
            oci_manifest(),
            Some("application/octet-stream"),
            ManifestKind::OciImageManifest,
        ),
        (
            "empty header defers to the field",
            oci_manifest(),
            Some(""),
            ManifestKind::OciImageManifest,
        ),
        (
            "no field, header decides",
            image_manifest(None, &oci_config(), ""),
            Some(media_type::OCI_IMAGE_MANIFEST),
            ManifestKind::OciImageManifest,
        ),
        (
            "no field, Docker header decides",
            image_manifest(
                None,
                &descriptor(media_type::DOCKER_CONTAINER_CONFIG, "100"),
                "",
            ),
            Some(media_type::DOCKER_MANIFEST),
            ManifestKind::DockerManifest,
        ),
        (
            "no field nor header: config means manifest",
            image_manifest(None, &oci_config(), ""),
            None,
            ManifestKind::OciImageManifest,
        ),
        (
            "no field nor header: manifests means index",
            oci_index(None),
            None,
            ManifestKind::OciImageIndex,
        ),
        (
            "index with field",
            oci_index(Some(media_type::OCI_IMAGE_INDEX)),
            Some(media_type::OCI_IMAGE_INDEX),
            ManifestKind::OciImageIndex,
        ),
        (
            "Docker list by field",
            oci_index(Some(media_type::DOCKER_MANIFEST_LIST)),
            None,
            ManifestKind::DockerManifestList,
        ),
        (
            "empty config with an artifact type",
            image_manifest(
                Some(media_type::OCI_IMAGE_MANIFEST),
                &serde_json::to_string(&gantry_spec::Descriptor::empty()).unwrap(),
                r#","artifactType":"application/vnd.example+type""#,
            ),
            None,
            ManifestKind::OciImageManifest,
        ),
        (
            "a subject that need not exist",
            image_manifest(
                Some(media_type::OCI_IMAGE_MANIFEST),
                &oci_config(),
                &format!(
                    r#","subject":{}"#,
                    descriptor(media_type::OCI_IMAGE_MANIFEST, "1")
                ),
            ),
            None,
            ManifestKind::OciImageManifest,
        ),
        (
            "annotations null",
            image_manifest(
                Some(media_type::OCI_IMAGE_MANIFEST),
                &oci_config(),
                r#","annotations":null"#,
            ),
            None,
            ManifestKind::OciImageManifest,
        ),
        (
            "a zero size",
            image_manifest(
                Some(media_type::OCI_IMAGE_MANIFEST),
                &descriptor(media_type::OCI_IMAGE_CONFIG, "0"),
                "",
            ),
            None,
            ManifestKind::OciImageManifest,
        ),
    ];
    for (name, json, content_type, kind) in cases {
        let manifest = Manifest::parse(json.clone().into_bytes(), content_type)
            .unwrap_or_else(|e| panic!("{name}: {e}\n{json}"));
        assert_eq!(manifest.kind(), kind, "{name}");
        assert_eq!(manifest.bytes().as_ref(), json.as_bytes(), "{name}");
    }
}

#[test]
fn invalid_documents_are_refused_with_typed_errors() {
    let cases: Vec<(&str, String, Option<&str>, Check)> = vec![
        ("not JSON", "not json".to_owned(), None, |e| {
            matches!(e, SpecError::InvalidJson(_))
        }),
        ("a JSON array", "[]".to_owned(), None, |e| {
            matches!(e, SpecError::UnrecognisedDocument)
        }),
        (
            "a manifest's fields in array form",
            format!(
                r#" [2,"{}",null,{},[],null,null,{{}}]"#,
                media_type::OCI_IMAGE_MANIFEST,
                oci_config()
            ),
            None,
            |e| matches!(e, SpecError::UnrecognisedDocument),
        ),
        ("empty object", "{}".to_owned(), None, |e| {
            matches!(e, SpecError::UnrecognisedDocument)
        }),
        (
            "both config and manifests, no media type",
            format!(
                r#"{{"schemaVersion":2,"config":{},"layers":[],"manifests":[]}}"#,
                oci_config()
            ),
            None,
            |e| matches!(e, SpecError::UnrecognisedDocument),
        ),
        (
            "header disagrees with field",
            oci_manifest(),
            Some(media_type::DOCKER_MANIFEST),
            |e| {
                matches!(e, SpecError::MediaTypeMismatch { header, field }
                    if header == media_type::DOCKER_MANIFEST && field == media_type::OCI_IMAGE_MANIFEST)
            },
        ),
        (
            "index header for a manifest",
            oci_manifest(),
            Some(media_type::OCI_IMAGE_INDEX),
            |e| matches!(e, SpecError::MediaTypeMismatch { .. }),
        ),
        (
            "index header, manifest shape, no field",
            image_manifest(None, &oci_config(), ""),
            Some(media_type::OCI_IMAGE_INDEX),
            |e| matches!(e, SpecError::MissingField { field: "manifests" }),
        ),
        (
            "unknown header",
            image_manifest(None, &oci_config(), ""),
            Some("application/vnd.example.unknown+json"),
            |e| matches!(e, SpecError::UnsupportedMediaType { .. }),
        ),
        (
            "unknown field",
            image_manifest(
                Some("application/vnd.example.unknown+json"),
                &oci_config(),
                "",
            ),
            None,
            |e| matches!(e, SpecError::UnsupportedMediaType { .. }),
        ),
        (
            "malformed field",
            image_manifest(Some("not a media type"), &oci_config(), ""),
            None,
            |e| matches!(e, SpecError::InvalidMediaType { .. }),
        ),
        (
            "schema 1 header",
            oci_manifest(),
            Some(media_type::DOCKER_SCHEMA1_SIGNED_MANIFEST),
            SpecError::is_schema1,
        ),
        (
            "schema 1 field",
            image_manifest(Some(media_type::DOCKER_SCHEMA1_MANIFEST), &oci_config(), ""),
            None,
            SpecError::is_schema1,
        ),
        (
            "schema 1 with fields of the wrong shape",
            r#"{"schemaVersion":1,"config":"x","layers":7}"#.to_owned(),
            None,
            SpecError::is_schema1,
        ),
        (
            "schemaVersion 3",
            oci_manifest().replace(r#""schemaVersion":2"#, r#""schemaVersion":3"#),
            None,
            |e| matches!(e, SpecError::UnsupportedSchemaVersion { found: Some(3) }),
        ),
        (
            "schemaVersion missing",
            oci_manifest().replace(r#""schemaVersion":2,"#, ""),
            None,
            |e| matches!(e, SpecError::UnsupportedSchemaVersion { found: None }),
        ),
        (
            "schemaVersion a string",
            oci_manifest().replace(r#""schemaVersion":2"#, r#""schemaVersion":"2""#),
            None,
            |e| matches!(e, SpecError::UnsupportedSchemaVersion { found: None }),
        ),
        (
            "config missing",
            format!(
                r#"{{"schemaVersion":2,"mediaType":"{}","layers":[]}}"#,
                media_type::OCI_IMAGE_MANIFEST
            ),
            None,
            |e| matches!(e, SpecError::MissingField { field: "config" }),
        ),
        (
            "layers missing",
            format!(
                r#"{{"schemaVersion":2,"mediaType":"{}","config":{}}}"#,
                media_type::OCI_IMAGE_MANIFEST,
                oci_config()
            ),
            None,
            |e| matches!(e, SpecError::MissingField { field: "layers" }),
        ),
        (
            "manifests missing",
            format!(
                r#"{{"schemaVersion":2,"mediaType":"{}"}}"#,
                media_type::OCI_IMAGE_INDEX
            ),
            None,
            |e| matches!(e, SpecError::MissingField { field: "manifests" }),
        ),
        (
            "negative config size",
            image_manifest(
                Some(media_type::OCI_IMAGE_MANIFEST),
                &descriptor(media_type::OCI_IMAGE_CONFIG, "-7"),
                "",
            ),
            None,
            |e| matches!(e, SpecError::NegativeSize { size: -7 }),
        ),
        (
            "negative layer size",
            oci_manifest().replace(r#""size":10}"#, r#""size":-10}"#),
            None,
            |e| matches!(e, SpecError::NegativeSize { size: -10 }),
        ),
        (
            "size as a string",
            image_manifest(
                Some(media_type::OCI_IMAGE_MANIFEST),
                &descriptor(media_type::OCI_IMAGE_CONFIG, r#""100""#),
                "",
            ),
            None,
            |e| matches!(e, SpecError::InvalidJson(_)),
        ),
        (
            "invalid digest in an index entry",
            oci_index(None).replace("sha256:", "sha256:zz"),
            None,
            |e| matches!(e, SpecError::InvalidDigest { .. }),
        ),
        (
            "unsupported digest algorithm",
            oci_manifest().replacen("sha256:", "sha384:", 1),
            None,
            |e| matches!(e, SpecError::InvalidDigest { .. }),
        ),
        (
            "empty config without artifact type",
            image_manifest(
                Some(media_type::OCI_IMAGE_MANIFEST),
                &serde_json::to_string(&gantry_spec::Descriptor::empty()).unwrap(),
                "",
            ),
            None,
            |e| matches!(e, SpecError::MissingArtifactType),
        ),
        (
            "malformed artifact type",
            image_manifest(
                Some(media_type::OCI_IMAGE_MANIFEST),
                &oci_config(),
                r#","artifactType":"sbom""#,
            ),
            None,
            |e| matches!(e, SpecError::InvalidMediaType { .. }),
        ),
        (
            "malformed index artifact type",
            oci_index(None).replace(r#""manifests""#, r#""artifactType":"x","manifests""#),
            None,
            |e| matches!(e, SpecError::InvalidMediaType { .. }),
        ),
        (
            "subject with a negative size",
            image_manifest(
                Some(media_type::OCI_IMAGE_MANIFEST),
                &oci_config(),
                &format!(
                    r#","subject":{}"#,
                    descriptor(media_type::OCI_IMAGE_MANIFEST, "-1")
                ),
            ),
            None,
            |e| matches!(e, SpecError::NegativeSize { .. }),
        ),
        (
            "duplicate field",
            oci_manifest().replace(
                r#""schemaVersion":2,"#,
                r#""schemaVersion":2,"schemaVersion":2,"#,
            ),
            None,
            |e| matches!(e, SpecError::InvalidJson(_)),
        ),
    ];
    for (name, json, content_type, check) in cases {
        let result = Manifest::parse(json.clone().into_bytes(), content_type);
        match result {
            Ok(manifest) => panic!("{name}: accepted as {:?}\n{json}", manifest.kind()),
            Err(error) => assert!(check(&error), "{name}: wrong error {error:?}\n{json}"),
        }
    }
}

#[test]
fn the_size_limit_is_checked_before_anything_else() {
    let json = oci_manifest();
    let limit = json.len() - 1;
    let options = ParseOptions::new().with_max_size(limit);
    let error = Manifest::parse_with(json.clone().into_bytes(), None, &options).unwrap_err();
    assert!(error.is_too_large());
    assert!(matches!(
        error,
        SpecError::TooLarge { limit: l, size: s } if l == limit as u64 && s == json.len() as u64
    ));
    let exact = ParseOptions::new().with_max_size(json.len());
    Manifest::parse_with(json.into_bytes(), None, &exact).unwrap();

    let garbage = vec![b'x'; gantry_spec::DEFAULT_MAX_MANIFEST_SIZE + 1];
    assert!(Manifest::parse(garbage, None).unwrap_err().is_too_large());
}

#[test]
fn error_questions_sort_the_failures() {
    let mismatch = Manifest::parse(
        oci_manifest().into_bytes(),
        Some(media_type::OCI_IMAGE_INDEX),
    )
    .unwrap_err();
    assert!(mismatch.is_media_type_error());
    assert!(!mismatch.is_too_large() && !mismatch.is_digest_mismatch());
    let message = mismatch.to_string();
    assert!(message.contains(media_type::OCI_IMAGE_INDEX), "{message}");
}
