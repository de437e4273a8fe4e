//! Gantry's local transports against skopeo 1.9 (containers/image), both ways:
//!
//! - what `gantry copy` writes to `oci:`, `oci-archive:` and `docker-archive:` is read by
//!   `skopeo copy` into an `oci:` layout with the same manifest digest (for `docker-archive:`,
//!   which keeps no registry manifest, the same config and layer digests);
//! - what skopeo writes to the three transports (from a layout made by the test helpers) is
//!   read by Gantry's sources with the expected digests, and the content checks with
//!   `gantry_spec::validate`.
//!
//! Layers are uncompressed (`application/vnd.oci.image.layer.v1.tar`), so their digests are
//! their diff IDs: that is what a `docker-archive:` keeps on both sides.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on a broken setup"
)]

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use gantry_reference::{Digest, Reference};
use gantry_spec::{Manifest, ParseOptions, layout, validate};
use gantry_test_support::gantry::gantry_binary;
use gantry_test_support::layout::{Fixture, ref_digest};
use gantry_test_support::process::run_bounded;
use gantry_test_support::skopeo::Skopeo;
use gantry_transfer::copy::{Copier, CopyOptions, PlatformSelection};
use gantry_transfer::{
    DockerArchiveRef, DockerArchiveSource, ImageDestination, ImageSource, OciArchiveSource,
    OciLayoutDestination, OciLayoutSource,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

fn display(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temporary path")
}

/// Copies every platform of what `source` names into `destination` with Gantry's engine.
async fn gantry_copy(source: &dyn ImageSource, destination: &dyn ImageDestination) {
    let options = CopyOptions::new().with_platforms(PlatformSelection::All);
    Copier::new()
        .copy(source, destination, &options)
        .await
        .unwrap_or_else(|error| panic!("{} -> {}: {error}", source.name(), destination.name()));
}

/// Runs `gantry copy ARGS…`, the command as users run it, and checks that it succeeded.
fn gantry_copy_command(args: &[&str]) {
    let output = run_bounded(
        Command::new(gantry_binary())
            .args(["copy", "--quiet"])
            .args(args),
        Duration::from_secs(120),
    );
    assert!(
        output.status.success(),
        "gantry copy {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Reads the image through `source`, children and blobs, and checks it with `validate`.
async fn read_and_validate(source: &dyn ImageSource) -> Manifest {
    let top = source.manifest(None).await.unwrap();
    let mut content: HashMap<Digest, Bytes> = HashMap::new();
    content.insert(top.digest().clone(), top.bytes().clone());
    let mut images = Vec::new();
    if top.kind().is_index() {
        for child in top.manifests() {
            let manifest = source.manifest(Some(&child.digest)).await.unwrap();
            content.insert(manifest.digest().clone(), manifest.bytes().clone());
            images.push(manifest);
        }
    } else {
        images.push(top.clone());
    }
    for image in &images {
        for (_, descriptor) in image.references() {
            let mut stream = source.blob(descriptor, 0).await.unwrap();
            let mut bytes = Vec::new();
            while let Some(chunk) = stream.next().await {
                bytes.extend_from_slice(&chunk.unwrap());
            }
            content.insert(descriptor.digest.clone(), Bytes::from(bytes));
        }
    }
    validate::image(&content, &top.descriptor())
        .unwrap_or_else(|error| panic!("{}: {error}", source.name()));
    top
}

/// The image manifest `name` names in the layout at `dir`, read from its blobs.
fn layout_manifest(dir: &Path, name: &str) -> Manifest {
    let digest = ref_digest(dir, name);
    let bytes = std::fs::read(dir.join(layout::blob_path(&digest))).unwrap();
    Manifest::parse_with(bytes, None, &ParseOptions::new()).unwrap()
}

/// Asserts that two image manifests name the same config and layer digests.
fn assert_same_blobs(got: &Manifest, want: &Manifest, what: &str) {
    assert_eq!(
        got.config().map(|c| &c.digest),
        want.config().map(|c| &c.digest),
        "{what}: config"
    );
    let digests = |m: &Manifest| {
        m.layers()
            .iter()
            .map(|l| l.digest.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(digests(got), digests(want), "{what}: layers");
}

#[test]
fn skopeo_reads_what_gantry_writes() {
    let dir = tempfile::tempdir().unwrap();
    let fixture_dir = dir.path().join("fixture");
    let fixture = Fixture::write(&fixture_dir);
    let skopeo = Skopeo::new();

    let written = dir.path().join("written");
    let archive = dir.path().join("written.tar");
    let docker = dir.path().join("written-docker.tar");
    let fixture_at = |name: &str| format!("oci:{}:{name}", display(&fixture_dir));
    for name in [Fixture::IMAGE, Fixture::INDEX] {
        gantry_copy_command(&[
            "--all",
            &fixture_at(name),
            &format!("oci:{}:{name}", display(&written)),
        ]);
    }
    gantry_copy_command(&[
        "--all",
        &fixture_at(Fixture::INDEX),
        &format!("oci-archive:{}:{}", display(&archive), Fixture::INDEX),
    ]);
    gantry_copy_command(&[
        &fixture_at(Fixture::IMAGE),
        &format!("docker-archive:{}:gantry/app:v1", display(&docker)),
    ]);

    // oci: with two images, each read by name.
    for (name, expected, extra) in [
        (Fixture::IMAGE, &fixture.image, &[][..]),
        (Fixture::INDEX, &fixture.index, &["--all"][..]),
    ] {
        let out = dir.path().join(format!("skopeo-from-oci-{name}"));
        skopeo.copy(
            &format!("oci:{}:{name}", display(&written)),
            &format!("oci:{}:copy", display(&out)),
            extra,
        );
        assert_eq!(ref_digest(&out, "copy"), *expected.digest(), "oci:{name}");
    }
    // oci-archive:, the index with both platforms.
    let out = dir.path().join("skopeo-from-oci-archive");
    skopeo.copy(
        &format!("oci-archive:{}:{}", display(&archive), Fixture::INDEX),
        &format!("oci:{}:copy", display(&out)),
        &["--all"],
    );
    assert_eq!(ref_digest(&out, "copy"), *fixture.index.digest());
    for child in &fixture.children {
        assert!(out.join(layout::blob_path(child.digest())).exists());
    }
    // docker-archive:, by tag and alone; skopeo makes its own manifest, so compare the blobs.
    for source in [
        format!("docker-archive:{}:gantry/app:v1", display(&docker)),
        format!("docker-archive:{}", display(&docker)),
    ] {
        let out = dir.path().join("skopeo-from-docker-archive");
        let _ = std::fs::remove_dir_all(&out);
        // Kept uncompressed, the layers keep their digests (skopeo gzips them otherwise).
        skopeo.run(&[
            "copy",
            "--quiet",
            "--dest-oci-accept-uncompressed-layers",
            &source,
            &format!("oci:{}:copy", display(&out)),
        ]);
        assert_same_blobs(&layout_manifest(&out, "copy"), &fixture.image, &source);
    }
}

#[test]
fn gantry_reads_what_skopeo_writes() {
    let dir = tempfile::tempdir().unwrap();
    let fixture_dir = dir.path().join("fixture");
    let fixture = Fixture::write(&fixture_dir);
    let skopeo = Skopeo::new();
    let from = |name: &str| format!("oci:{}:{name}", display(&fixture_dir));

    let layout_dir = dir.path().join("skopeo-layout");
    skopeo.copy(
        &from(Fixture::IMAGE),
        &format!("oci:{}:{}", display(&layout_dir), Fixture::IMAGE),
        &[],
    );
    skopeo.copy(
        &from(Fixture::INDEX),
        &format!("oci:{}:{}", display(&layout_dir), Fixture::INDEX),
        &["--all"],
    );
    let archive = dir.path().join("skopeo.tar");
    skopeo.copy(
        &from(Fixture::INDEX),
        &format!("oci-archive:{}:{}", display(&archive), Fixture::INDEX),
        &["--all"],
    );
    let image_archive = dir.path().join("skopeo-image.tar");
    skopeo.copy(
        &from(Fixture::IMAGE),
        &format!("oci-archive:{}", display(&image_archive)),
        &[],
    );
    let docker = dir.path().join("skopeo-docker.tar");
    skopeo.run(&[
        "copy",
        "--quiet",
        &from(Fixture::IMAGE),
        &format!("docker-archive:{}:skopeo/app:v1", display(&docker)),
    ]);

    runtime().block_on(async {
        for (name, expected) in [
            (Fixture::IMAGE, &fixture.image),
            (Fixture::INDEX, &fixture.index),
        ] {
            let source = OciLayoutSource::open(&layout_dir, Some(name.to_owned()))
                .await
                .unwrap();
            let top = read_and_validate(&source).await;
            assert_eq!(top.digest(), expected.digest(), "oci:{name}");
        }
        let source = OciArchiveSource::open(&archive, Some(Fixture::INDEX.to_owned()))
            .await
            .unwrap();
        let top = read_and_validate(&source).await;
        assert_eq!(top.digest(), fixture.index.digest());
        for child in &fixture.children {
            let manifest = source.manifest(Some(child.digest())).await.unwrap();
            assert_eq!(manifest.bytes(), child.bytes());
        }
        // skopeo names no image when given no REF: the archive's only entry.
        let source = OciArchiveSource::open(&image_archive, None).await.unwrap();
        let top = read_and_validate(&source).await;
        assert_eq!(top.digest(), fixture.image.digest());

        for reference in [
            None,
            Some(DockerArchiveRef::Tagged(
                Reference::parse_docker_ref("skopeo/app:v1").unwrap(),
            )),
            Some(DockerArchiveRef::Index(0)),
        ] {
            let source = DockerArchiveSource::open(&docker, reference.clone())
                .await
                .unwrap();
            let top = read_and_validate(&source).await;
            assert_same_blobs(
                &top,
                &fixture.image,
                &format!("docker-archive {reference:?}"),
            );
        }

        // And Gantry copies what skopeo wrote on, digests intact.
        let source = OciArchiveSource::open(&archive, Some(Fixture::INDEX.to_owned()))
            .await
            .unwrap();
        let out = dir.path().join("gantry-from-skopeo");
        let destination = OciLayoutDestination::create(&out, Some("copy".to_owned()))
            .await
            .unwrap();
        gantry_copy(&source, &destination).await;
        assert_eq!(ref_digest(&out, "copy"), *fixture.index.digest());
    });
}
