//! Images carried across every pair of transports the copy engine joins, named as users name
//! them: a registry (`gantry serve` in process on 127.0.0.1), OCI layouts and OCI archives.
//! At every hop the top manifest's digest is compared with the original's, and the whole image
//! is read back through the destination's own transport and checked by `gantry_spec::validate`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use gantry_client::{Client, ClientConfig, CredentialSources, RetryPolicy, UploadMode};
use gantry_reference::{Algorithm, Digest, Reference};
use gantry_spec::{
    Descriptor, ImageConfig, ImageIndex, ImageManifest, Manifest, ManifestKind, Platform,
    media_type, validate,
};
use gantry_test_support::in_process::InProcessGantry;
use gantry_test_support::layout::noise;
use gantry_transfer::copy::{Copier, CopyOptions, ManifestFormat, PlatformSelection};
use gantry_transfer::open::{open_destination, open_source};
use gantry_transfer::{ImageName, ImageSource};

fn client() -> Client {
    let mut config = ClientConfig::default().with_retry(RetryPolicy::new(
        3,
        Duration::from_millis(1),
        Duration::from_millis(20),
    ));
    config.credential_sources = CredentialSources::None;
    Client::new(config).unwrap()
}

/// Pushes an image for `platform` with two layers of `layer_type` (uncompressed layers get
/// their own digest as diff ID); returns its manifest.
async fn push_image(
    client: &Client,
    repository: &Reference,
    seed: u64,
    layer_type: &str,
    platform: &str,
) -> Manifest {
    let docker = layer_type.starts_with("application/vnd.docker");
    let platform = Platform::parse(platform).unwrap();
    let mut config = ImageConfig::new(&platform);
    let mut layers = Vec::new();
    for i in 0..2 {
        let bytes = noise(seed * 10 + i, 40_000 + i as usize * 1_000);
        let descriptor = Descriptor::of(layer_type, &bytes);
        client
            .push_blob(
                repository,
                &descriptor.digest,
                UploadMode::monolithic(Bytes::from(bytes.clone())),
            )
            .await
            .unwrap();
        let diff_id = if media_type::is_uncompressed_layer(layer_type) {
            descriptor.digest.clone()
        } else {
            Digest::of(Algorithm::Sha256, &[bytes.as_slice(), b"diff"].concat())
        };
        config.rootfs.diff_ids.push(diff_id);
        layers.push(descriptor);
    }
    let config = config.to_json().unwrap();
    let config_type = if docker {
        media_type::DOCKER_CONTAINER_CONFIG
    } else {
        media_type::OCI_IMAGE_CONFIG
    };
    let config_descriptor = Descriptor::of(config_type, &config);
    client
        .push_blob(
            repository,
            &config_descriptor.digest,
            UploadMode::monolithic(Bytes::from(config)),
        )
        .await
        .unwrap();
    let builder = if docker {
        ImageManifest::docker_builder(config_descriptor)
    } else {
        ImageManifest::builder(config_descriptor)
    };
    let manifest = builder.layers(layers).build().unwrap();
    let by_digest = repository
        .name_only()
        .with_digest(manifest.digest().clone());
    client.put_manifest(&by_digest, &manifest).await.unwrap();
    manifest
}

/// The whole image a source reads, manifests and blobs, for validation.
async fn read_all(source: &dyn ImageSource) -> (Manifest, HashMap<Digest, Bytes>) {
    let top = source.manifest(None).await.unwrap();
    let mut content = HashMap::new();
    content.insert(top.digest().clone(), top.bytes().clone());
    let mut pending: Vec<Descriptor> = top
        .references()
        .filter(|(role, _)| role.is_child())
        .map(|(_, d)| d.clone())
        .collect();
    while let Some(descriptor) = pending.pop() {
        if content.contains_key(&descriptor.digest) {
            continue;
        }
        if ManifestKind::from_media_type(&descriptor.media_type).is_some() {
            let manifest = source.manifest(Some(&descriptor.digest)).await.unwrap();
            pending.extend(
                manifest
                    .references()
                    .filter(|(role, _)| role.is_child())
                    .map(|(_, d)| d.clone()),
            );
            content.insert(descriptor.digest.clone(), manifest.bytes().clone());
        } else {
            let mut stream = source.blob(&descriptor, 0).await.unwrap();
            let mut bytes = Vec::new();
            while let Some(chunk) = stream.next().await {
                bytes.extend_from_slice(&chunk.unwrap());
            }
            content.insert(descriptor.digest.clone(), Bytes::from(bytes));
        }
    }
    (top, content)
}

/// Copies `from` to `to` with `options`, then reads `to` back and validates it; returns the
/// top manifest's digest there.
async fn hop(client: &Client, from: &str, to: &str, options: &CopyOptions) -> Digest {
    let (from, to): (ImageName, ImageName) = (from.parse().unwrap(), to.parse().unwrap());
    let source = open_source(&from, client).await.unwrap();
    let destination = open_destination(&to, client).await.unwrap();
    let report = Copier::new()
        .copy(source.as_ref(), destination.as_ref(), options)
        .await
        .unwrap_or_else(|error| panic!("{from} -> {to}: {error}"));
    drop(destination);
    let back = open_source(&to, client).await.unwrap();
    let (top, content) = read_all(back.as_ref()).await;
    assert_eq!(
        *top.digest(),
        report.manifest.digest,
        "{to} holds what was written"
    );
    validate::image(&content, &top.descriptor()).unwrap_or_else(|error| panic!("{to}: {error}"));
    report.manifest.digest
}

#[tokio::test]
async fn an_index_keeps_its_digest_across_registry_layout_and_archive() {
    let (first, second) = (
        InProcessGantry::start().await,
        InProcessGantry::start().await,
    );
    let client = client();
    let repository = Reference::parse(format!("{}/app/multi", first.host)).unwrap();
    let amd = push_image(
        &client,
        &repository,
        1,
        media_type::OCI_LAYER_TAR_GZIP,
        "linux/amd64",
    )
    .await;
    let arm = push_image(
        &client,
        &repository,
        2,
        media_type::OCI_LAYER_TAR_GZIP,
        "linux/arm64",
    )
    .await;
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
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    let other = dir.path().join("other");
    let archive = dir.path().join("image.tar");
    let (layout, other, archive) = (
        layout.display().to_string(),
        other.display().to_string(),
        archive.display().to_string(),
    );
    let all = CopyOptions::new().with_platforms(PlatformSelection::All);
    let original = index.digest().clone();

    let hops = [
        (
            format!("docker://{}/app/multi:v1", first.host),
            format!("oci:{layout}:v1"),
        ),
        (format!("oci:{layout}:v1"), format!("oci:{other}:copy")),
        (
            format!("oci:{other}:copy"),
            format!("oci-archive:{archive}:v1"),
        ),
        (
            format!("oci-archive:{archive}:v1"),
            format!("docker://{}/back/multi:v1", second.host),
        ),
        (
            format!("oci:{layout}:v1"),
            format!("docker://{}/direct/multi:v1", second.host),
        ),
    ];
    for (from, to) in &hops {
        assert_eq!(
            hop(&client, from, to, &all).await,
            original,
            "{from} -> {to}"
        );
    }

    // One platform out of the layout: the destination holds that image manifest alone.
    let arm64 = CopyOptions::new().with_platforms(PlatformSelection::Platform(
        Platform::parse("linux/arm64").unwrap(),
    ));
    let chosen = hop(
        &client,
        &format!("oci:{layout}:v1"),
        &format!("oci:{other}:arm"),
        &arm64,
    )
    .await;
    assert_eq!(chosen, *arm.digest());
}

#[tokio::test]
async fn a_docker_image_becomes_oci_in_a_layout_and_docker_again_in_a_registry() {
    let registry = InProcessGantry::start().await;
    let client = client();
    let repository = Reference::parse(format!("{}/app/docker", registry.host)).unwrap();
    let docker = push_image(
        &client,
        &repository,
        3,
        media_type::DOCKER_LAYER_TAR_GZIP,
        "linux/amd64",
    )
    .await;
    client
        .put_manifest(&repository.with_tag("v1").unwrap(), &docker)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout").display().to_string();

    let kept = hop(
        &client,
        &format!("docker://{}/app/docker:v1", registry.host),
        &format!("oci:{layout}:kept"),
        &CopyOptions::new(),
    )
    .await;
    assert_eq!(
        kept,
        *docker.digest(),
        "a layout holds a Docker manifest as it is"
    );

    let oci = CopyOptions::new().with_format(Some(ManifestFormat::Oci));
    let converted = hop(
        &client,
        &format!("docker://{}/app/docker:v1", registry.host),
        &format!("oci:{layout}:oci"),
        &oci,
    )
    .await;
    assert_ne!(converted, *docker.digest());

    let v2s2 = CopyOptions::new().with_format(Some(ManifestFormat::DockerV2S2));
    let back = hop(
        &client,
        &format!("oci:{layout}:oci"),
        &format!("docker://{}/app/again:v1", registry.host),
        &v2s2,
    )
    .await;
    assert_eq!(
        back,
        *docker.digest(),
        "canonical Docker JSON again, the same digest"
    );
}

#[tokio::test]
async fn a_docker_archive_carries_an_image_between_registries_and_a_layout() {
    let (first, second) = (
        InProcessGantry::start().await,
        InProcessGantry::start().await,
    );
    let client = client();
    let repository = Reference::parse(format!("{}/app/saved", first.host)).unwrap();
    let image = push_image(
        &client,
        &repository,
        4,
        media_type::DOCKER_LAYER_TAR,
        "linux/amd64",
    )
    .await;
    client
        .put_manifest(&repository.with_tag("v1").unwrap(), &image)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("saved.tar").display().to_string();
    let layout = dir.path().join("layout").display().to_string();
    let options = CopyOptions::new();
    let hops = [
        (
            format!("docker://{}/app/saved:v1", first.host),
            format!("docker-archive:{archive}:app/saved:v1"),
        ),
        (
            format!("docker-archive:{archive}"),
            format!("docker://{}/app/loaded:v1", second.host),
        ),
        (
            format!("docker-archive:{archive}:app/saved:v1"),
            format!("oci:{layout}:loaded"),
        ),
        (
            format!("oci:{layout}:loaded"),
            format!("docker-archive:{archive}:app/again:v2"),
        ),
    ];
    for (from, to) in &hops {
        assert_eq!(
            hop(&client, from, to, &options).await,
            *image.digest(),
            "{from} -> {to}"
        );
    }

    // An index does not fit in a Docker archive: one platform of it does.
    let multi = push_image(
        &client,
        &repository,
        5,
        media_type::DOCKER_LAYER_TAR,
        "linux/arm64",
    )
    .await;
    let list = ImageIndex::docker_builder()
        .manifest(
            image
                .descriptor()
                .with_platform(Platform::parse("linux/amd64").unwrap()),
        )
        .manifest(
            multi
                .descriptor()
                .with_platform(Platform::parse("linux/arm64").unwrap()),
        )
        .build()
        .unwrap();
    client
        .put_manifest(&repository.with_tag("list").unwrap(), &list)
        .await
        .unwrap();
    let arm64 = CopyOptions::new().with_platforms(PlatformSelection::Platform(
        Platform::parse("linux/arm64").unwrap(),
    ));
    let chosen = hop(
        &client,
        &format!("docker://{}/app/saved:list", first.host),
        &format!(
            "docker-archive:{}:app/arm:v1",
            dir.path().join("arm.tar").display()
        ),
        &arm64,
    )
    .await;
    assert_eq!(chosen, *multi.digest());
}
