//! Image configs in the shapes of the OCI image-spec's and Docker's examples, and the OCI image
//! layout's files.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on bad fixtures"
)]

mod common;

use common::fixture;
use gantry_reference::{Algorithm, Digest};
use gantry_spec::layout::{self, OciLayout};
use gantry_spec::{ImageConfig, ManifestKind, ParseOptions, SpecError, annotations};

#[test]
fn oci_config_reads_every_field() {
    let config = ImageConfig::parse(&fixture("oci-config.json")).unwrap();
    assert_eq!(
        config.created.as_deref(),
        Some("2024-01-15T10:20:30.123456789Z")
    );
    assert_eq!(
        config.author.as_deref(),
        Some("Example Maintainers <maintainers@example.com>")
    );
    assert_eq!(config.platform().to_string(), "linux/amd64");
    let run = config.config.as_ref().unwrap();
    assert_eq!(run.user.as_deref(), Some("app:app"));
    assert_eq!(
        run.exposed_ports
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["53/udp", "8080/tcp"]
    );
    assert_eq!(run.env.len(), 2);
    assert_eq!(
        run.entrypoint.as_deref(),
        Some(&["/usr/bin/app".to_owned()][..])
    );
    assert_eq!(run.cmd.as_deref(), Some(&["--serve".to_owned()][..]));
    assert!(run.volumes.contains("/var/lib/app"));
    assert_eq!(run.working_dir.as_deref(), Some("/srv/app"));
    assert_eq!(run.labels["com.example.component"], "server");
    assert_eq!(run.stop_signal.as_deref(), Some("SIGTERM"));
    assert_eq!(
        config.rootfs.diff_ids,
        [
            Digest::of(Algorithm::Sha256, b"uncompressed one"),
            Digest::of(Algorithm::Sha256, b"uncompressed two"),
        ]
    );
    assert_eq!(config.history.len(), 3);
    assert!(config.history[1].empty_layer);
    assert_eq!(config.history[1].comment.as_deref(), Some("metadata only"));
    assert!(!config.history[2].empty_layer);
}

#[test]
fn minimal_config_has_only_the_required_fields() {
    let config = ImageConfig::parse(&fixture("oci-config-minimal.json")).unwrap();
    assert_eq!(config.platform().to_string(), "linux/arm64/v8");
    assert!(config.config.is_none());
    assert!(config.rootfs.diff_ids.is_empty());
    assert!(config.history.is_empty());
    assert_eq!(
        std::str::from_utf8(&config.to_json().unwrap()).unwrap(),
        r#"{"architecture":"arm64","os":"linux","variant":"v8","rootfs":{"type":"layers","diff_ids":[]}}"#
    );
}

#[test]
fn docker_config_reads_past_nulls_and_docker_fields() {
    let config = ImageConfig::parse(&fixture("docker-config.json")).unwrap();
    let run = config.config.as_ref().unwrap();
    assert_eq!(run.cmd.as_deref(), Some(&["/bin/sh".to_owned()][..]));
    assert!(run.entrypoint.is_none());
    assert!(run.volumes.is_empty());
    assert!(run.labels.is_empty());
    assert_eq!(run.user.as_deref(), Some(""));
    assert_eq!(config.rootfs.diff_ids.len(), 1);
    assert!(config.history[1].empty_layer);
}

#[test]
fn configs_round_trip_through_their_canonical_json() {
    for name in [
        "oci-config.json",
        "oci-config-minimal.json",
        "docker-config.json",
    ] {
        let config = ImageConfig::parse(&fixture(name)).unwrap();
        let json = config.to_json().unwrap();
        assert_eq!(ImageConfig::parse(&json).unwrap(), config, "{name}");
        assert_eq!(config.to_json().unwrap(), json, "{name}");
    }
}

#[test]
fn configs_with_bad_fields_are_refused() {
    let cases: &[(&str, &[u8])] = &[
        ("not JSON", b"{"),
        ("no architecture", br#"{"os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#),
        ("no rootfs", br#"{"architecture":"amd64","os":"linux"}"#),
        (
            "bad diff_id",
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:x"]}}"#,
        ),
    ];
    for &(name, bytes) in cases {
        let error = ImageConfig::parse(bytes).unwrap_err();
        assert!(
            matches!(error, SpecError::InvalidJson(_)),
            "{name}: {error:?}"
        );
    }
}

#[test]
fn oci_layout_file_reads_and_writes() {
    let layout = OciLayout::parse(&fixture("oci-layout")).unwrap();
    assert_eq!(layout.image_layout_version, layout::IMAGE_LAYOUT_VERSION);
    assert_eq!(
        layout.to_json().unwrap(),
        br#"{"imageLayoutVersion":"1.0.0"}"#
    );
    let error = OciLayout::parse(br#"{"imageLayoutVersion":"2.0.0"}"#).unwrap_err();
    assert!(matches!(error, SpecError::UnsupportedLayoutVersion { found } if found == "2.0.0"));
    assert!(matches!(
        OciLayout::parse(b"{}"),
        Err(SpecError::InvalidJson(_))
    ));
}

#[test]
fn layout_index_finds_entries_by_ref_name() {
    let index = layout::parse_index(fixture("layout-index.json"), &ParseOptions::new()).unwrap();
    assert_eq!(index.kind(), ManifestKind::OciImageIndex);
    let v1 = layout::find_ref_name(&index, "v1.0").unwrap();
    assert_eq!(v1.annotations[annotations::REF_NAME], "v1.0");
    assert_eq!(v1.platform.as_ref().unwrap().architecture, "ppc64le");
    let stable = layout::find_ref_name(&index, "stable-release").unwrap();
    assert_eq!(stable.media_type, gantry_spec::media_type::OCI_IMAGE_INDEX);
    assert!(layout::find_ref_name(&index, "missing").is_none());
    assert_eq!(
        layout::blob_path(&v1.digest),
        format!("blobs/sha256/{}", v1.digest.encoded())
    );
}
