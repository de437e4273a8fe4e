//! The copy engine between `gantry serve` (in process) and Debian's `docker-registry` (CNCF
//! Distribution 2.8, which has no referrers API and moves its upload sessions' `_state` on every
//! chunk): an index and its referrers go to Distribution and come back with the same digests,
//! referrers found through the tag schema there; a copy within Distribution mounts; a large
//! layer goes up in chunks; and the `gantry copy` command itself carries an index there and
//! back.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use gantry_client::{Client, ClientConfig, CredentialSources, UploadMode};
use gantry_reference::{Algorithm, Digest, Reference};
use gantry_spec::{
    Descriptor, ImageConfig, ImageIndex, ImageManifest, Manifest, ManifestKind, Platform, layout,
    media_type, validate,
};
use gantry_test_support::distribution::Distribution;
use gantry_test_support::gantry::gantry_binary;
use gantry_test_support::in_process::InProcessGantry;
use gantry_test_support::layout::{Fixture, noise, ref_digest};
use gantry_test_support::process::run_bounded;
use gantry_transfer::copy::{Copier, CopyOptions, PlatformSelection};
use gantry_transfer::registry::{RegistryDestination, RegistrySource};

fn reference(host: &str, rest: &str) -> Reference {
    Reference::parse(format!("{host}/{rest}")).unwrap()
}

/// Pushes an image for `platform` whose one layer holds `layer_len` bytes.
async fn push_image(
    client: &Client,
    repository: &Reference,
    seed: u64,
    layer_len: usize,
    platform: &str,
) -> Manifest {
    let layer = Bytes::from(noise(seed, layer_len));
    let layer_descriptor = Descriptor::of(media_type::OCI_LAYER_TAR, &layer);
    client
        .push_blob(
            repository,
            &layer_descriptor.digest,
            UploadMode::monolithic(layer),
        )
        .await
        .unwrap();
    let mut config = ImageConfig::new(&Platform::parse(platform).unwrap());
    config.rootfs.diff_ids.push(layer_descriptor.digest.clone());
    let config = Bytes::from(config.to_json().unwrap());
    let config_descriptor = Descriptor::of(media_type::OCI_IMAGE_CONFIG, &config);
    client
        .push_blob(
            repository,
            &config_descriptor.digest,
            UploadMode::monolithic(config),
        )
        .await
        .unwrap();
    let manifest = ImageManifest::builder(config_descriptor)
        .layer(layer_descriptor)
        .build()
        .unwrap();
    client
        .put_manifest(
            &repository
                .name_only()
                .with_digest(manifest.digest().clone()),
            &manifest,
        )
        .await
        .unwrap();
    manifest
}

/// Reads the image `reference` names and validates its whole graph; returns its top manifest.
async fn validate_at(client: &Client, reference: &Reference) -> Manifest {
    let top = client.get_manifest(reference).await.unwrap();
    let repository = reference.name_only();
    let mut content: HashMap<Digest, Bytes> = HashMap::new();
    let mut pending = vec![top.descriptor()];
    while let Some(descriptor) = pending.pop() {
        if content.contains_key(&descriptor.digest) {
            continue;
        }
        if ManifestKind::from_media_type(&descriptor.media_type).is_some() {
            let manifest = client
                .get_manifest(&repository.with_digest(descriptor.digest.clone()))
                .await
                .unwrap();
            pending.extend(
                manifest
                    .references()
                    .filter(|(role, _)| role.is_child())
                    .map(|(_, d)| d.clone()),
            );
            content.insert(descriptor.digest.clone(), manifest.bytes().clone());
        } else {
            let bytes = client
                .get_blob(&repository, &descriptor.digest)
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            content.insert(descriptor.digest.clone(), bytes);
        }
    }
    validate::image(&content, &top.descriptor()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_and_referrers_go_to_distribution_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let distribution = Distribution::start(&dir.path().join("root"), dir.path());
    let far = distribution.addr().to_string();
    let gantry = InProcessGantry::start().await;
    let client = Client::new(
        ClientConfig::default()
            .with_chunk_size(256 * 1024)
            .with_credential_sources(CredentialSources::None),
    )
    .unwrap();

    // An index of two images, one with a layer large enough to go up in chunks, and a
    // signature of the index.
    let repository = reference(&gantry.host, "team/app");
    let amd = push_image(&client, &repository, 1, 1_500_000, "linux/amd64").await;
    let arm = push_image(&client, &repository, 2, 20_000, "linux/arm64").await;
    let index = ImageIndex::builder()
        .manifest(
            amd.descriptor()
                .with_platform(Platform::parse("linux/amd64").unwrap()),
        )
        .manifest(
            arm.descriptor()
                .with_platform(Platform::parse("linux/arm64").unwrap()),
        )
        .build()
        .unwrap();
    client
        .put_manifest(&repository.with_tag("v1").unwrap(), &index)
        .await
        .unwrap();
    client
        .push_blob(
            &repository,
            &Digest::of(Algorithm::Sha256, b"{}"),
            UploadMode::monolithic(Bytes::from_static(b"{}")),
        )
        .await
        .unwrap();
    let signature = ImageManifest::builder(Descriptor::empty())
        .artifact_type("application/vnd.example.signature")
        .subject(index.descriptor())
        .build()
        .unwrap();
    client
        .put_manifest(
            &repository.with_digest(signature.digest().clone()),
            &signature,
        )
        .await
        .unwrap();

    let copier = Copier::new();
    let all = CopyOptions::new()
        .with_platforms(PlatformSelection::All)
        .with_referrers(true);

    // To Distribution: same digests, a valid graph, the signature found through the tag schema.
    let source = RegistrySource::new(client.clone(), reference(&gantry.host, "team/app:v1"));
    let destination = RegistryDestination::new(client.clone(), reference(&far, "mirror/app:v1"));
    let report = copier.copy(&source, &destination, &all).await.unwrap();
    assert_eq!(report.manifest.digest, *index.digest());
    assert_eq!(report.referrers.len(), 1);
    let there = validate_at(&client, &reference(&far, "mirror/app:v1")).await;
    assert_eq!(there.bytes(), index.bytes());
    let referrers = client
        .referrers(&reference(&far, "mirror/app"), index.digest(), None)
        .await
        .unwrap();
    assert_eq!(referrers.len(), 1);
    assert_eq!(referrers[0].digest, *signature.digest());

    // Within Distribution: every blob is mounted.
    let source = RegistrySource::new(client.clone(), reference(&far, "mirror/app:v1"));
    let destination = RegistryDestination::new(client.clone(), reference(&far, "other/app:v1"));
    let report = copier
        .copy(
            &source,
            &destination,
            &CopyOptions::new().with_platforms(PlatformSelection::All),
        )
        .await
        .unwrap();
    assert_eq!(report.blobs.mounted, 4);
    assert_eq!(report.blobs.transferred, 0);
    validate_at(&client, &reference(&far, "other/app:v1")).await;

    // And back to gantry, digests unchanged, the signature with it.
    let destination =
        RegistryDestination::new(client.clone(), reference(&gantry.host, "back/app:v1"));
    let source = RegistrySource::new(client.clone(), reference(&far, "mirror/app:v1"));
    let report = copier.copy(&source, &destination, &all).await.unwrap();
    assert_eq!(report.manifest.digest, *index.digest());
    assert_eq!(report.referrers.len(), 1);
    validate_at(&client, &reference(&gantry.host, "back/app:v1")).await;
    distribution.stop();
}

/// `gantry copy`, the command, into Distribution and out again: an index with both of its
/// platforms from an OCI layout, back into another layout with the same digests.
#[test]
fn the_gantry_copy_command_goes_to_distribution_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let fixture_dir = dir.path().join("fixture");
    let fixture = Fixture::write(&fixture_dir);
    let distribution = Distribution::start(&dir.path().join("root"), dir.path());
    let remote = format!("docker://{}/command/app:multi", distribution.addr());
    let back = dir.path().join("back");
    for (from, to) in [
        (
            format!("oci:{}:{}", fixture_dir.display(), Fixture::INDEX),
            remote.clone(),
        ),
        (remote.clone(), format!("oci:{}:copy", back.display())),
    ] {
        let output = run_bounded(
            Command::new(gantry_binary()).args(["copy", "--quiet", "--all", &from, &to]),
            Duration::from_secs(120),
        );
        assert!(
            output.status.success(),
            "gantry copy {from} {to}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert_eq!(ref_digest(&back, "copy"), *fixture.index.digest());
    for child in &fixture.children {
        assert!(back.join(layout::blob_path(child.digest())).exists());
    }
}
