//! `skopeo` (containers/image) copies images into `gantry serve`, back out, and between Gantry
//! and Debian's `docker-registry` (CNCF Distribution 2.8), and every digest survives every hop:
//! the manifest bytes `skopeo inspect --raw` reads hash to the digest the source layout names,
//! and the blob files of every layout copied back out are byte-identical to the source's.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on a broken setup"
)]

use std::net::SocketAddr;
use std::path::Path;

use gantry_reference::{Algorithm, Digest};
use gantry_spec::Manifest;
use gantry_test_support::distribution::Distribution;
use gantry_test_support::gantry::Gantry;
use gantry_test_support::http::request;
use gantry_test_support::layout::{Fixture, blob_files, ref_digest};
use gantry_test_support::skopeo::Skopeo;

fn oci(dir: &Path, name: &str) -> String {
    format!("oci:{}:{name}", dir.display())
}

fn docker(addr: SocketAddr, image: &str) -> String {
    format!("docker://{addr}/{image}")
}

/// Asserts that `image` serves exactly `expected`'s bytes, and that each of `children` is
/// served by digest in the same repository.
fn assert_serves(skopeo: &Skopeo, image: &str, expected: &Manifest, children: &[Manifest]) {
    let raw = skopeo.inspect_raw(image);
    assert_eq!(
        Digest::of(Algorithm::Sha256, &raw),
        *expected.digest(),
        "{image} serves other manifest bytes than were pushed:\n{}",
        String::from_utf8_lossy(&raw)
    );
    let repository = image.rsplit_once(':').map_or(image, |(repo, _)| repo);
    for child in children {
        let by_digest = format!("{repository}@{}", child.digest());
        let raw = skopeo.inspect_raw(&by_digest);
        assert_eq!(
            Digest::of(Algorithm::Sha256, &raw),
            *child.digest(),
            "{by_digest}"
        );
    }
}

/// Asserts that the layout in `copy` holds exactly the source layout's blob files, byte for
/// byte, and names `expected` `name`.
fn assert_same_layout(source: &Path, copy: &Path, name: &str, expected: &Manifest) {
    assert_eq!(
        ref_digest(copy, name),
        *expected.digest(),
        "{}",
        copy.display()
    );
    let want = blob_files(source);
    let got = blob_files(copy);
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>(),
        "{} holds other blobs than {}",
        copy.display(),
        source.display()
    );
    for (name, content) in &want {
        assert!(
            got[name] == *content,
            "{}: blob {name} differs",
            copy.display()
        );
    }
}

#[test]
fn a_multi_layer_image_keeps_its_digests_through_gantry_and_distribution() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    // A layout of the single image only, so the copies out can be compared file for file.
    let fixture = Fixture::write(&dir.path().join("fixture"));
    let skopeo = Skopeo::new();
    skopeo.copy(
        &oci(&dir.path().join("fixture"), Fixture::IMAGE),
        &oci(&source, Fixture::IMAGE),
        &[],
    );
    assert_eq!(ref_digest(&source, Fixture::IMAGE), *fixture.image.digest());
    assert_eq!(
        blob_files(&source).len(),
        5,
        "manifest, config and three layers"
    );

    let gantry = Gantry::start(&dir.path().join("gantry-data"), dir.path());
    let distribution = Distribution::start(&dir.path().join("distribution-data"), dir.path());
    let (g, d) = (gantry.addr(), distribution.addr());

    // Layout -> Gantry, and back out to a new layout.
    skopeo.copy(&oci(&source, Fixture::IMAGE), &docker(g, "ns/app:v1"), &[]);
    assert_serves(&skopeo, &docker(g, "ns/app:v1"), &fixture.image, &[]);
    let out = dir.path().join("out-of-gantry");
    skopeo.copy(&docker(g, "ns/app:v1"), &oci(&out, "v1"), &[]);
    assert_same_layout(&source, &out, "v1", &fixture.image);

    // Gantry -> Distribution -> Gantry (another repository), registry to registry.
    skopeo.copy(&docker(g, "ns/app:v1"), &docker(d, "mirror/app:v1"), &[]);
    assert_serves(&skopeo, &docker(d, "mirror/app:v1"), &fixture.image, &[]);
    skopeo.copy(&docker(d, "mirror/app:v1"), &docker(g, "back/app:v2"), &[]);
    assert_serves(&skopeo, &docker(g, "back/app:v2"), &fixture.image, &[]);
    let out = dir.path().join("round-trip");
    skopeo.copy(&docker(g, "back/app:v2"), &oci(&out, "v2"), &[]);
    assert_same_layout(&source, &out, "v2", &fixture.image);

    // And what Distribution holds, read back through it.
    let out = dir.path().join("out-of-distribution");
    skopeo.copy(&docker(d, "mirror/app:v1"), &oci(&out, "v1"), &[]);
    assert_same_layout(&source, &out, "v1", &fixture.image);
}

#[test]
fn a_multi_arch_index_keeps_its_digests_with_all_and_index_only() {
    let dir = tempfile::tempdir().unwrap();
    let fixture_dir = dir.path().join("fixture");
    let fixture = Fixture::write(&fixture_dir);
    let skopeo = Skopeo::new();
    // A layout of the index and its images only.
    let source = dir.path().join("source");
    skopeo.copy(
        &oci(&fixture_dir, Fixture::INDEX),
        &oci(&source, Fixture::INDEX),
        &["--all"],
    );
    assert_eq!(ref_digest(&source, Fixture::INDEX), *fixture.index.digest());

    let gantry = Gantry::start(&dir.path().join("gantry-data"), dir.path());
    let distribution = Distribution::start(&dir.path().join("distribution-data"), dir.path());
    let (g, d) = (gantry.addr(), distribution.addr());
    let children = &fixture.children;

    skopeo.copy(
        &oci(&source, Fixture::INDEX),
        &docker(g, "ns/multi:v1"),
        &["--all"],
    );
    assert_serves(&skopeo, &docker(g, "ns/multi:v1"), &fixture.index, children);
    let out = dir.path().join("out-of-gantry");
    skopeo.copy(&docker(g, "ns/multi:v1"), &oci(&out, "v1"), &["--all"]);
    assert_same_layout(&source, &out, "v1", &fixture.index);

    skopeo.copy(
        &docker(g, "ns/multi:v1"),
        &docker(d, "mirror/multi:v1"),
        &["--all"],
    );
    assert_serves(
        &skopeo,
        &docker(d, "mirror/multi:v1"),
        &fixture.index,
        children,
    );
    skopeo.copy(
        &docker(d, "mirror/multi:v1"),
        &docker(g, "back/multi:v2"),
        &["--all"],
    );
    assert_serves(
        &skopeo,
        &docker(g, "back/multi:v2"),
        &fixture.index,
        children,
    );
    let out = dir.path().join("round-trip");
    skopeo.copy(&docker(g, "back/multi:v2"), &oci(&out, "v2"), &["--all"]);
    assert_same_layout(&source, &out, "v2", &fixture.index);

    // `--multi-arch index-only` pushes the index without its images: Gantry accepts such a
    // sparse index by default and serves its exact bytes, while the images stay unknown.
    skopeo.copy(
        &oci(&source, Fixture::INDEX),
        &docker(g, "sparse/multi:v1"),
        &["--multi-arch", "index-only"],
    );
    assert_serves(&skopeo, &docker(g, "sparse/multi:v1"), &fixture.index, &[]);
    for child in children {
        let path = format!("/v2/sparse/multi/manifests/{}", child.digest());
        assert_eq!(request(g, "HEAD", &path, &[]).status, 404, "{path}");
    }
}
