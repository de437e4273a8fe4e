//! Choosing an index entry for a platform, over indexes in the documentation's shapes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on bad fixtures"
)]

mod common;

use common::fixture;
use gantry_reference::{Algorithm, Digest};
use gantry_spec::{Descriptor, Manifest, Platform, media_type};

fn entry(platform: &str) -> Descriptor {
    Descriptor::new(
        media_type::OCI_IMAGE_MANIFEST,
        Digest::of(Algorithm::Sha256, platform.as_bytes()),
        100,
    )
    .with_platform(Platform::parse(platform).unwrap())
}

#[test]
fn best_match_picks_the_closest_entry() {
    let entries = [
        entry("linux/386"),
        entry("linux/amd64"),
        entry("linux/amd64/v3"),
        entry("linux/arm/v5"),
        entry("linux/arm/v6"),
        entry("linux/arm64"),
        entry("windows/amd64"),
    ];
    // (wanted, chosen)
    let cases: &[(&str, Option<&str>)] = &[
        ("linux/amd64", Some("linux/amd64")),
        ("linux/x86_64", Some("linux/amd64")),
        ("linux/amd64/v2", Some("linux/amd64")),
        ("linux/amd64/v3", Some("linux/amd64/v3")),
        ("linux/amd64/v4", Some("linux/amd64/v3")),
        ("linux/386", Some("linux/386")),
        ("linux/arm/v7", Some("linux/arm/v6")),
        ("linux/armel", Some("linux/arm/v6")),
        ("linux/arm/v5", Some("linux/arm/v5")),
        ("linux/aarch64", Some("linux/arm64/v8")),
        ("windows/amd64", Some("windows/amd64")),
        ("linux/s390x", None),
        ("darwin/arm64", None),
    ];
    for &(wanted, chosen) in cases {
        let wanted_platform = Platform::parse(wanted).unwrap();
        let found = wanted_platform
            .best_match(&entries)
            .map(|d| d.platform.as_ref().unwrap().to_string());
        assert_eq!(found.as_deref(), chosen, "{wanted}");
    }
}

#[test]
fn entries_without_platform_are_never_chosen() {
    let mut attestation = entry("linux/amd64");
    attestation.platform = None;
    let unknown = entry("linux/amd64").with_platform(Platform::new("unknown", "unknown"));
    let wanted = Platform::parse("linux/amd64").unwrap();
    assert!(wanted.best_match([&attestation, &unknown]).is_none());
}

#[test]
fn the_first_of_equal_entries_wins() {
    let first = entry("linux/arm64");
    let mut second = entry("linux/aarch64/v8");
    second.digest = Digest::of(Algorithm::Sha256, b"second");
    let wanted = Platform::parse("linux/arm64").unwrap();
    assert_eq!(wanted.best_match([&first, &second]), Some(&first));
}

#[test]
fn fixture_indexes_offer_their_platforms() {
    let list = Manifest::parse(fixture("docker-manifest-list.json"), None).unwrap();
    let arm = Platform::parse("linux/arm/v7").unwrap();
    assert_eq!(arm.best_match(list.manifests()), Some(&list.manifests()[1]));
    let mut server = Platform::parse("windows/amd64").unwrap();
    server.os_version = Some("10.0.20348.2340".to_owned());
    assert_eq!(
        server.best_match(list.manifests()),
        Some(&list.manifests()[2])
    );
    server.os_version = Some("10.0.17763.1".to_owned());
    assert_eq!(server.best_match(list.manifests()), None);

    let index = Manifest::parse(fixture("oci-index.json"), None).unwrap();
    let power = Platform::parse("linux/ppc64el").unwrap();
    assert_eq!(
        power.best_match(index.manifests()),
        Some(&index.manifests()[0])
    );
}
