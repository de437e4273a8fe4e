//! Gantry and Debian's `docker-registry` (CNCF Distribution 2.8) share one on-disk layout:
//! each serves a data directory the other wrote, with the same catalog, the same tags lists,
//! the same manifest digests and every blob readable and matching its digest.
//!
//! Images go in with `skopeo`; the writer is stopped, the other registry is started over the same
//! directory, and both are read through the API alone ([`snapshot`]). Deletes by either one
//! leave the directory consistent for the other, although Distribution does not know Gantry's
//! reverse tag index.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on a broken setup"
)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use gantry_test_support::distribution::Distribution;
use gantry_test_support::gantry::Gantry;
use gantry_test_support::http::{MANIFEST_ACCEPT, Snapshot, request, snapshot};
use gantry_test_support::layout::{Fixture, blob_files, ref_digest};
use gantry_test_support::skopeo::Skopeo;

/// The tags pushed: repository, tag, and whether it names the index (else the single image).
const PUSHES: &[(&str, &str, bool)] = &[
    ("ns/app", "v1", false),
    ("ns/app", "latest", false),
    ("ns/multi", "v1", true),
    ("other/thing", "1.0", false),
    ("other/thing", "multi", true),
];

/// Pushes every entry of [`PUSHES`] from the fixture layout to the registry at `addr`.
fn populate(skopeo: &Skopeo, layout: &Path, addr: SocketAddr) {
    for (repository, tag, is_index) in PUSHES {
        let (name, extra): (&str, &[&str]) = if *is_index {
            (Fixture::INDEX, &["--all"])
        } else {
            (Fixture::IMAGE, &[])
        };
        skopeo.copy(
            &format!("oci:{}:{name}", layout.display()),
            &format!("docker://{addr}/{repository}:{tag}"),
            extra,
        );
    }
}

/// Asserts that `snapshot` holds exactly [`PUSHES`] with the fixture's digests.
fn assert_holds_the_pushes(snapshot: &Snapshot, fixture: &Fixture, who: &str) {
    assert_eq!(
        snapshot.catalog,
        ["ns/app", "ns/multi", "other/thing"],
        "{who}: catalog"
    );
    let mut expected: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (repository, tag, is_index) in PUSHES {
        let digest = if *is_index {
            fixture.index.digest()
        } else {
            fixture.image.digest()
        };
        expected
            .entry((*repository).to_owned())
            .or_default()
            .insert((*tag).to_owned(), digest.to_string());
    }
    let found: BTreeMap<String, BTreeMap<String, String>> = snapshot
        .tags
        .iter()
        .map(|(repository, (_, digests))| (repository.clone(), digests.clone()))
        .collect();
    assert_eq!(found, expected, "{who}: tags and their manifests");
    // One image of 3 layers and an index of two images (3 and 2 layers), all with a config.
    let blobs_of = |repository: &str| {
        snapshot
            .blobs
            .keys()
            .filter(|(repo, _)| repo == repository)
            .count()
    };
    assert_eq!(blobs_of("ns/app"), 4, "{who}: blobs of ns/app");
    assert_eq!(blobs_of("ns/multi"), 7, "{who}: blobs of ns/multi");
    assert_eq!(blobs_of("other/thing"), 11, "{who}: blobs of other/thing");
}

/// Copies `image:tag` from `addr` into a new layout and checks every blob file byte for byte
/// against the fixture layout.
fn assert_pulls_identical(skopeo: &Skopeo, addr: SocketAddr, fixture_dir: &Path, out: &Path) {
    let image = format!("docker://{addr}/other/thing:multi");
    skopeo.copy(&image, &format!("oci:{}:multi", out.display()), &["--all"]);
    let source = blob_files(fixture_dir);
    let copied = blob_files(out);
    assert!(!copied.is_empty());
    for (name, content) in &copied {
        assert!(
            source.get(name) == Some(content),
            "{image}: blob {name} differs from the fixture's"
        );
    }
    assert_eq!(
        ref_digest(out, "multi"),
        ref_digest(fixture_dir, Fixture::INDEX)
    );
}

#[test]
fn distribution_serves_a_data_directory_gantry_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let fixture_dir = dir.path().join("fixture");
    let fixture = Fixture::write(&fixture_dir);
    let skopeo = Skopeo::new();
    let root = dir.path().join("data");

    let gantry = Gantry::start(&root, &dir.path().join("gantry"));
    populate(&skopeo, &fixture_dir, gantry.addr());
    let written = snapshot(gantry.addr());
    assert_holds_the_pushes(&written, &fixture, "gantry serve");
    assert!(written.is_lexically_ordered(), "{written:?}");
    gantry.stop();

    let distribution = Distribution::start(&root, &dir.path().join("distribution"));
    let served = snapshot(distribution.addr());
    assert_eq!(
        served.ignoring_tag_order(),
        written.ignoring_tag_order(),
        "docker-registry serves Gantry's directory differently\n{}",
        distribution.log()
    );
    assert_pulls_identical(
        &skopeo,
        distribution.addr(),
        &fixture_dir,
        &dir.path().join("out"),
    );
}

#[test]
fn gantry_serves_a_data_directory_distribution_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let fixture_dir = dir.path().join("fixture");
    let fixture = Fixture::write(&fixture_dir);
    let skopeo = Skopeo::new();
    let root = dir.path().join("data");

    let distribution = Distribution::start(&root, &dir.path().join("distribution"));
    populate(&skopeo, &fixture_dir, distribution.addr());
    let written = snapshot(distribution.addr());
    assert_holds_the_pushes(&written, &fixture, "docker-registry");
    distribution.stop();

    let gantry = Gantry::start(&root, &dir.path().join("gantry"));
    let served = snapshot(gantry.addr());
    assert!(served.is_lexically_ordered(), "{served:?}");
    assert_eq!(
        served.ignoring_tag_order(),
        written.ignoring_tag_order(),
        "gantry serve serves Distribution's directory differently\n{}",
        gantry.log()
    );
    assert_pulls_identical(
        &skopeo,
        gantry.addr(),
        &fixture_dir,
        &dir.path().join("out"),
    );
}

/// The tags of `repository` at `addr` and the manifest digest each names.
fn tags_of(addr: SocketAddr, repository: &str) -> BTreeMap<String, String> {
    snapshot(addr)
        .tags
        .remove(repository)
        .map(|(_, digests)| digests)
        .unwrap_or_default()
}

#[test]
fn deletes_by_either_registry_leave_the_directory_consistent_for_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let fixture_dir = dir.path().join("fixture");
    let fixture = Fixture::write(&fixture_dir);
    let skopeo = Skopeo::new();
    let root = dir.path().join("data");
    let layout = |name: &str| format!("oci:{}:{name}", fixture_dir.display());
    let image = fixture.image.digest().to_string();
    let index = fixture.index.digest().to_string();

    // Gantry tags the image v1 (and records v1 in its own reverse index).
    let gantry = Gantry::start(&root, &dir.path().join("gantry-1"));
    let g = gantry.addr();
    skopeo.copy(
        &layout(Fixture::IMAGE),
        &format!("docker://{g}/ns/app:v1"),
        &[],
    );
    skopeo.copy(
        &layout(Fixture::INDEX),
        &format!("docker://{g}/ns/app:multi"),
        &["--all"],
    );
    gantry.stop();

    // Distribution deletes the image by digest, which untags v1 but knows nothing of Gantry's
    // reverse index.
    let distribution = Distribution::start(&root, &dir.path().join("distribution"));
    let path = format!("/v2/ns/app/manifests/{image}");
    let deleted = request(distribution.addr(), "DELETE", &path, &[]);
    assert_eq!(deleted.status, 202, "{}", distribution.log());
    distribution.stop();

    // Gantry sees the deletion, and the stale reverse-index entry for v1 must not untag v1
    // once it names another manifest.
    let gantry = Gantry::start(&root, &dir.path().join("gantry-2"));
    let g = gantry.addr();
    let expected = BTreeMap::from([("multi".to_owned(), index.clone())]);
    assert_eq!(tags_of(g, "ns/app"), expected);
    let v1 = request(g, "GET", "/v2/ns/app/manifests/v1", MANIFEST_ACCEPT);
    assert_eq!(v1.status, 404);
    skopeo.copy(
        &layout(Fixture::INDEX),
        &format!("docker://{g}/ns/app:v1"),
        &["--all"],
    );
    skopeo.copy(
        &layout(Fixture::IMAGE),
        &format!("docker://{g}/ns/app:again"),
        &[],
    );
    let deleted = request(g, "DELETE", &path, &[]);
    assert_eq!(deleted.status, 202, "{}", gantry.log());
    let expected = BTreeMap::from([
        ("multi".to_owned(), index.clone()),
        ("v1".to_owned(), index.clone()),
    ]);
    assert_eq!(tags_of(g, "ns/app"), expected, "{}", gantry.log());
    gantry.stop();

    // And Distribution agrees on the result.
    let distribution = Distribution::start(&root, &dir.path().join("distribution-2"));
    assert_eq!(tags_of(distribution.addr(), "ns/app"), expected);
}
