//! The registry transport and the copy engine against real `gantry serve` instances on
//! 127.0.0.1: copies between two servers and between two repositories of one (mounts), skips,
//! indexes (nested too) and platform selection, format conversion both ways, referrers,
//! progress events, and blobs shared by two copies of one copier.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod copy_support;

use std::time::Duration;

use copy_support::proxy::{Fault, FaultProxy, Rule};
use copy_support::{
    Image, Kind, Registry, client, content, index, push_image, push_manifest, recorder, validate_at,
};
use gantry_client::UploadMode;
use gantry_spec::{Descriptor, ImageManifest, ManifestKind, Platform, media_type};
use gantry_transfer::copy::{Copier, CopyOptions, ManifestFormat, PlatformSelection};
use gantry_transfer::layout::{OciLayoutDestination, OciLayoutSource};
use gantry_transfer::registry::{
    RegistryDestination, RegistrySource, SyncOptions, sync_repository, sync_tags,
};
use gantry_transfer::{ImageDestination, ImageSource, ProgressEvent};

/// The blob an event is about, for the events that name one.
fn blob_of(event: &ProgressEvent) -> Option<&gantry_reference::Digest> {
    match event {
        ProgressEvent::Waiting { digest, .. }
        | ProgressEvent::Skipped { digest, .. }
        | ProgressEvent::Mounted { digest, .. }
        | ProgressEvent::Transferring { digest, .. }
        | ProgressEvent::Verifying { digest }
        | ProgressEvent::Retrying { digest, .. }
        | ProgressEvent::Done { digest, .. } => Some(digest),
        _ => None,
    }
}

fn layers(seed: u64, n: usize, len: usize) -> Vec<Vec<u8>> {
    (0..n as u64)
        .map(|i| content(seed * 100 + i, len))
        .collect()
}

#[tokio::test]
async fn an_image_copies_between_two_registries_with_its_digest() {
    let (from, to) = (Registry::start().await, Registry::start().await);
    let client = client();
    let image = Image::new(Kind::Oci, "linux/amd64", &layers(1, 3, 50_000));
    push_image(&client, &from.reference("app/one"), &image, Some("v1")).await;

    let source = RegistrySource::new(client.clone(), from.reference("app/one:v1"));
    let destination = RegistryDestination::new(client.clone(), to.reference("mirror/one:v1"));
    let report = Copier::new()
        .copy(&source, &destination, &CopyOptions::new())
        .await
        .unwrap();

    assert_eq!(report.manifest.digest, *image.manifest.digest());
    assert_eq!(report.source_digest, *image.manifest.digest());
    assert_eq!(report.blobs.transferred, 4);
    assert_eq!(report.bytes, image.size() - image.manifest.size());
    let copied = validate_at(&client, &to.reference("mirror/one:v1")).await;
    assert_eq!(copied.bytes(), image.manifest.bytes(), "byte for byte");
}

#[tokio::test]
async fn within_one_registry_blobs_are_mounted_and_present_ones_skipped() {
    let registry = Registry::start().await;
    let client = client();
    let image = Image::new(Kind::Docker, "linux/amd64", &layers(2, 3, 20_000));
    push_image(&client, &registry.reference("team/app"), &image, Some("1")).await;
    let source = RegistrySource::new(client.clone(), registry.reference("team/app:1"));
    let copier = Copier::new();

    let destination = RegistryDestination::new(client.clone(), registry.reference("other/app:1"));
    let report = copier
        .copy(&source, &destination, &CopyOptions::new())
        .await
        .unwrap();
    assert_eq!(report.blobs.mounted, 4);
    assert_eq!(report.blobs.transferred, 0);
    assert_eq!(report.bytes, 0);
    validate_at(&client, &registry.reference("other/app:1")).await;

    let again = RegistryDestination::new(client.clone(), registry.reference("other/app:2"));
    let (sink, events) = recorder();
    let report = copier
        .copy(&source, &again, &CopyOptions::new().with_progress(sink))
        .await
        .unwrap();
    assert_eq!(report.blobs.skipped, 4);
    let skipped = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, ProgressEvent::Skipped { .. }))
        .count();
    assert_eq!(skipped, 4);
    let tagged = client
        .get_manifest(&registry.reference("other/app:2"))
        .await
        .unwrap();
    assert_eq!(tagged.digest(), image.manifest.digest());
}

/// An index of amd64 and arm64 images, with a nested index holding arm/v7 and ppc64le.
async fn push_nested_index(client: &gantry_client::Client, registry: &Registry) -> Vec<Image> {
    let repository = registry.reference("multi/app");
    let platforms = [
        "linux/amd64",
        "linux/arm64",
        "linux/arm/v7",
        "linux/ppc64le",
    ];
    let mut images = Vec::new();
    for (i, platform) in platforms.iter().enumerate() {
        // Every image shares its first layer with the others.
        let mut own = vec![content(999, 30_000)];
        own.extend(layers(10 + i as u64, 2, 10_000));
        let image = Image::new(Kind::Oci, platform, &own);
        push_image(client, &repository, &image, None).await;
        images.push(image);
    }
    let nested = index(
        Kind::Oci,
        vec![
            images[2].entry("linux/arm/v7"),
            images[3].entry("linux/ppc64le"),
        ],
    );
    push_manifest(client, &repository, &nested, None).await;
    let top = index(
        Kind::Oci,
        vec![
            images[0].entry("linux/amd64"),
            images[1].entry("linux/arm64"),
            nested.descriptor(),
        ],
    );
    push_manifest(client, &repository, &top, Some("multi")).await;
    images
}

#[tokio::test]
async fn all_platforms_copy_the_index_and_its_nested_index() {
    let (from, to) = (Registry::start().await, Registry::start().await);
    let client = client();
    let images = push_nested_index(&client, &from).await;
    let source = RegistrySource::new(client.clone(), from.reference("multi/app:multi"));
    let top = source.manifest(None).await.unwrap();
    let destination = RegistryDestination::new(client.clone(), to.reference("copy/app:multi"));
    let options = CopyOptions::new().with_platforms(PlatformSelection::All);
    let report = Copier::new()
        .copy(&source, &destination, &options)
        .await
        .unwrap();

    assert_eq!(report.manifest.digest, *top.digest());
    assert_eq!(report.manifests.len(), 6, "four images, two indexes");
    // One shared layer, two own layers and a config per image.
    assert_eq!(report.blobs.transferred, 1 + 4 * 3);
    let copied = validate_at(&client, &to.reference("copy/app:multi")).await;
    assert_eq!(copied.bytes(), top.bytes());
    for image in &images {
        let child = client
            .get_manifest(
                &to.reference("copy/app")
                    .with_digest(image.manifest.digest().clone()),
            )
            .await
            .unwrap();
        assert_eq!(child.bytes(), image.manifest.bytes());
    }
}

#[tokio::test]
async fn one_platform_is_chosen_from_an_index_or_a_nested_one() {
    let (from, to) = (Registry::start().await, Registry::start().await);
    let client = client();
    let images = push_nested_index(&client, &from).await;
    let source = RegistrySource::new(client.clone(), from.reference("multi/app:multi"));
    let copier = Copier::new();
    for (wanted, image) in [("linux/arm64", &images[1]), ("linux/arm/v7", &images[2])] {
        let tag = wanted.replace('/', "-");
        let destination =
            RegistryDestination::new(client.clone(), to.reference(&format!("one/app:{tag}")));
        let options = CopyOptions::new().with_platforms(PlatformSelection::Platform(
            Platform::parse(wanted).unwrap(),
        ));
        let report = copier.copy(&source, &destination, &options).await.unwrap();
        assert_eq!(report.manifest.digest, *image.manifest.digest(), "{wanted}");
        let copied = validate_at(&client, &to.reference(&format!("one/app:{tag}"))).await;
        assert_eq!(copied.kind(), ManifestKind::OciImageManifest);
    }

    // The default is the host's platform.
    let host = Platform::host();
    let destination = RegistryDestination::new(client.clone(), to.reference("one/app:host"));
    match copier
        .copy(&source, &destination, &CopyOptions::new())
        .await
    {
        Ok(report) => {
            let chosen = images
                .iter()
                .find(|i| i.manifest.digest() == &report.manifest.digest)
                .unwrap();
            let entry_platform = [
                "linux/amd64",
                "linux/arm64",
                "linux/arm/v7",
                "linux/ppc64le",
            ][images
                .iter()
                .position(|i| i.manifest.digest() == chosen.manifest.digest())
                .unwrap()];
            assert!(host.matches(&Platform::parse(entry_platform).unwrap()));
        }
        Err(error) => assert!(
            matches!(
                error,
                gantry_transfer::TransferError::NoMatchingPlatform { .. }
            ),
            "{error}"
        ),
    }

    let destination = RegistryDestination::new(client.clone(), to.reference("one/app:none"));
    let options = CopyOptions::new().with_platforms(PlatformSelection::Platform(
        Platform::parse("windows/amd64").unwrap(),
    ));
    let error = copier
        .copy(&source, &destination, &options)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("linux/arm/v7"), "{error}");
}

#[tokio::test]
async fn formats_convert_both_ways_with_new_digests_that_validate() {
    let registry = Registry::start().await;
    let client = client();
    let docker = Image::new(Kind::Docker, "linux/amd64", &layers(3, 2, 10_000));
    let arm = Image::new(Kind::Docker, "linux/arm64", &layers(4, 2, 10_000));
    push_image(
        &client,
        &registry.reference("src/app"),
        &docker,
        Some("docker"),
    )
    .await;
    push_image(&client, &registry.reference("src/app"), &arm, None).await;
    let list = index(
        Kind::Docker,
        vec![docker.entry("linux/amd64"), arm.entry("linux/arm64")],
    );
    push_manifest(&client, &registry.reference("src/app"), &list, Some("list")).await;
    let copier = Copier::new();

    // Docker to OCI, a single image.
    let source = RegistrySource::new(client.clone(), registry.reference("src/app:docker"));
    let destination = RegistryDestination::new(client.clone(), registry.reference("dst/app:oci"));
    let options = CopyOptions::new().with_format(Some(ManifestFormat::Oci));
    let report = copier.copy(&source, &destination, &options).await.unwrap();
    assert_ne!(report.manifest.digest, *docker.manifest.digest());
    let oci = validate_at(&client, &registry.reference("dst/app:oci")).await;
    assert_eq!(oci.kind(), ManifestKind::OciImageManifest);
    assert_eq!(
        oci.config().unwrap().media_type,
        media_type::OCI_IMAGE_CONFIG
    );
    assert_eq!(
        oci.config().unwrap().digest,
        docker.manifest.config().unwrap().digest
    );
    assert_eq!(oci.layers()[0].media_type, media_type::OCI_LAYER_TAR_GZIP);

    // And back: the same bytes as the original, since both are canonical.
    let source = RegistrySource::new(client.clone(), registry.reference("dst/app:oci"));
    let destination = RegistryDestination::new(client.clone(), registry.reference("dst/app:back"));
    let options = CopyOptions::new().with_format(Some(ManifestFormat::DockerV2S2));
    let report = copier.copy(&source, &destination, &options).await.unwrap();
    assert_eq!(report.manifest.digest, *docker.manifest.digest());
    let back = validate_at(&client, &registry.reference("dst/app:back")).await;
    assert_eq!(back.kind(), ManifestKind::DockerManifest);

    // A Docker manifest list becomes an OCI index whose children are converted too.
    let source = RegistrySource::new(client.clone(), registry.reference("src/app:list"));
    let destination = RegistryDestination::new(client.clone(), registry.reference("dst/app:index"));
    let options = CopyOptions::new()
        .with_platforms(PlatformSelection::All)
        .with_format(Some(ManifestFormat::Oci));
    let report = copier.copy(&source, &destination, &options).await.unwrap();
    assert_ne!(report.manifest.digest, *list.digest());
    let converted = validate_at(&client, &registry.reference("dst/app:index")).await;
    assert_eq!(converted.kind(), ManifestKind::OciImageIndex);
    for entry in converted.manifests() {
        assert_eq!(entry.media_type, media_type::OCI_IMAGE_MANIFEST);
        assert!(entry.platform.is_some());
    }
}

#[tokio::test]
async fn referrers_are_copied_when_asked() {
    let (from, to) = (Registry::start().await, Registry::start().await);
    let client = client();
    let repository = from.reference("signed/app");
    let image = Image::new(Kind::Oci, "linux/amd64", &layers(5, 1, 5_000));
    push_image(&client, &repository, &image, Some("v1")).await;
    let signature_blob = bytes::Bytes::from_static(b"a signature");
    let signature_layer = Descriptor::of("application/vnd.example.signature", &signature_blob);
    client
        .push_blob(
            &repository,
            &signature_layer.digest,
            UploadMode::monolithic(signature_blob),
        )
        .await
        .unwrap();
    client
        .push_blob(
            &repository,
            &Descriptor::empty().digest,
            UploadMode::monolithic(bytes::Bytes::from_static(b"{}")),
        )
        .await
        .unwrap();
    let signature = ImageManifest::builder(Descriptor::empty())
        .artifact_type("application/vnd.example.signature")
        .layer(signature_layer)
        .subject(image.manifest.descriptor())
        .build()
        .unwrap();
    push_manifest(&client, &repository, &signature, None).await;

    let source = RegistrySource::new(client.clone(), from.reference("signed/app:v1"));
    let plain = RegistryDestination::new(client.clone(), to.reference("plain/app:v1"));
    let report = Copier::new()
        .copy(&source, &plain, &CopyOptions::new())
        .await
        .unwrap();
    assert!(report.referrers.is_empty());

    let destination = RegistryDestination::new(client.clone(), to.reference("signed/app:v1"));
    let options = CopyOptions::new().with_referrers(true);
    let report = Copier::new()
        .copy(&source, &destination, &options)
        .await
        .unwrap();
    assert_eq!(report.referrers.len(), 1);
    assert_eq!(report.referrers[0].digest, *signature.digest());
    let listed = client
        .referrers(&to.reference("signed/app"), image.manifest.digest(), None)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].digest, *signature.digest());
    let copied = client
        .get_manifest(
            &to.reference("signed/app")
                .with_digest(signature.digest().clone()),
        )
        .await
        .unwrap();
    assert_eq!(copied.bytes(), signature.bytes());
}

#[tokio::test]
async fn referrers_reach_a_registry_without_the_api_through_the_tag_schema() {
    let (from, to) = (Registry::start().await, Registry::start().await);
    let client = client();
    let repository = from.reference("signed/app");
    let image = Image::new(Kind::Oci, "linux/amd64", &layers(15, 1, 5_000));
    push_image(&client, &repository, &image, Some("v1")).await;
    client
        .push_blob(
            &repository,
            &Descriptor::empty().digest,
            UploadMode::monolithic(bytes::Bytes::from_static(b"{}")),
        )
        .await
        .unwrap();
    let mut signatures = Vec::new();
    for kind in ["signature", "sbom"] {
        let referrer = ImageManifest::builder(Descriptor::empty())
            .artifact_type(format!("application/vnd.example.{kind}"))
            .subject(image.manifest.descriptor())
            .build()
            .unwrap();
        push_manifest(&client, &repository, &referrer, None).await;
        signatures.push(referrer);
    }
    // The destination answers 404 to the referrers API, as registries without it do.
    let proxy = FaultProxy::start(
        &to.host,
        vec![Rule::new(
            "GET",
            "/referrers/",
            100,
            Fault::Answer(404, vec![]),
        )],
    )
    .await;
    let source = RegistrySource::new(client.clone(), from.reference("signed/app:v1"));
    let destination = RegistryDestination::new(
        client.clone(),
        copy_support::reference(&proxy.host, "signed/app:v1"),
    );
    let options = CopyOptions::new().with_referrers(true);
    let report = Copier::new()
        .copy(&source, &destination, &options)
        .await
        .unwrap();
    assert_eq!(report.referrers.len(), 2);

    let tag = gantry_client::fallback_tag(image.manifest.digest());
    let index = client
        .get_manifest(&to.reference(&format!("signed/app:{tag}")))
        .await
        .unwrap();
    let mut listed: Vec<_> = index.manifests().iter().map(|d| d.digest.clone()).collect();
    let mut expected: Vec<_> = signatures.iter().map(|m| m.digest().clone()).collect();
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);
    let through_fallback = client
        .referrers(
            &copy_support::reference(&proxy.host, "signed/app"),
            image.manifest.digest(),
            Some("application/vnd.example.sbom"),
        )
        .await
        .unwrap();
    assert_eq!(through_fallback.len(), 1);
    assert_eq!(through_fallback[0].digest, *signatures[1].digest());
}

#[tokio::test]
async fn every_blob_reports_its_progress() {
    let (from, to) = (Registry::start().await, Registry::start().await);
    let client = client();
    let image = Image::new(Kind::Oci, "linux/amd64", &layers(6, 2, 2_000_000));
    push_image(&client, &from.reference("app/big"), &image, Some("v1")).await;
    let source = RegistrySource::new(client.clone(), from.reference("app/big:v1"));
    let destination = RegistryDestination::new(client.clone(), to.reference("app/big:v1"));
    let (sink, events) = recorder();
    Copier::new()
        .copy(
            &source,
            &destination,
            &CopyOptions::new().with_progress(sink),
        )
        .await
        .unwrap();
    let events = events.lock().unwrap().clone();
    for (descriptor, _) in &image.blobs {
        let mine: Vec<&ProgressEvent> = events
            .iter()
            .filter(|e| blob_of(e) == Some(&descriptor.digest))
            .collect();
        assert!(
            matches!(mine.first(), Some(ProgressEvent::Waiting { .. })),
            "{mine:?}"
        );
        assert!(
            matches!(mine.last(), Some(ProgressEvent::Done { .. })),
            "{mine:?}"
        );
        assert!(
            mine.iter()
                .any(|e| matches!(e, ProgressEvent::Verifying { .. }))
        );
        let done: Vec<u64> = mine
            .iter()
            .filter_map(|e| match **e {
                ProgressEvent::Transferring { done, .. } => Some(done),
                _ => None,
            })
            .collect();
        assert!(done.windows(2).all(|w| w[0] <= w[1]), "{done:?}");
        assert_eq!(done.last(), Some(&descriptor.size));
        if descriptor.size > 1_000_000 {
            assert!(done.len() > 3, "large blobs report along the way: {done:?}");
        }
    }
    assert!(events.iter().any(|e| matches!(
        e,
        ProgressEvent::ManifestWritten { digest, .. } if digest == image.manifest.digest()
    )));
}

#[tokio::test]
async fn two_copies_sharing_a_copier_fetch_each_blob_once() {
    let (from, to) = (Registry::start().await, Registry::start().await);
    let client = client();
    let shared = layers(7, 3, 200_000);
    let mut first_layers = shared.clone();
    first_layers.push(content(71, 1_000));
    let mut second_layers = shared.clone();
    second_layers.push(content(72, 1_000));
    let first = Image::new(Kind::Oci, "linux/amd64", &first_layers);
    let second = Image::new(Kind::Oci, "linux/amd64", &second_layers);
    push_image(&client, &from.reference("app/x"), &first, Some("1")).await;
    push_image(&client, &from.reference("app/x"), &second, Some("2")).await;
    // Slow blob downloads, so that both copies have the shared layers in flight together.
    let proxy = FaultProxy::start(
        &from.host,
        vec![Rule::new(
            "GET",
            "/blobs/",
            100,
            Fault::Delay(Duration::from_millis(200)),
        )],
    )
    .await;
    let copier = Copier::new();
    let source_one = RegistrySource::new(
        client.clone(),
        copy_support::reference(&proxy.host, "app/x:1"),
    );
    let source_two = RegistrySource::new(
        client.clone(),
        copy_support::reference(&proxy.host, "app/x:2"),
    );
    let destination_one = RegistryDestination::new(client.clone(), to.reference("app/x:1"));
    let destination_two = RegistryDestination::new(client.clone(), to.reference("app/x:2"));
    let (sink_one, events_one) = recorder();
    let (sink_two, events_two) = recorder();
    let options_one = CopyOptions::new().with_progress(sink_one);
    let options_two = CopyOptions::new().with_progress(sink_two);
    let (one, two) = tokio::join!(
        copier.copy(&source_one, &destination_one, &options_one),
        copier.copy(&source_two, &destination_two, &options_two),
    );
    let (one, two) = (one.unwrap(), two.unwrap());
    for layer in &shared {
        let digest = copy_support::sha256(layer);
        assert_eq!(proxy.blob_gets(digest.as_str()).len(), 1, "{digest}");
        for events in [&events_one, &events_two] {
            let heard =
                events.lock().unwrap().iter().any(|e| {
                    matches!(e, ProgressEvent::Done { .. }) && blob_of(e) == Some(&digest)
                });
            assert!(heard, "both copies hear that {digest} is done");
        }
    }
    assert_eq!(one.blobs.shared + two.blobs.shared, 3);
    validate_at(&client, &to.reference("app/x:1")).await;
    validate_at(&client, &to.reference("app/x:2")).await;
}

#[tokio::test]
async fn a_destination_by_digest_checks_the_digest() {
    let (from, to) = (Registry::start().await, Registry::start().await);
    let client = client();
    let image = Image::new(Kind::Oci, "linux/amd64", &layers(8, 1, 1_000));
    let other = Image::new(Kind::Oci, "linux/amd64", &layers(9, 1, 1_000));
    push_image(&client, &from.reference("app/d"), &image, Some("v1")).await;
    let source = RegistrySource::new(client.clone(), from.reference("app/d:v1"));
    let by_digest = to
        .reference("app/d")
        .with_digest(image.manifest.digest().clone());
    let destination = RegistryDestination::new(client.clone(), by_digest.clone());
    Copier::new()
        .copy(&source, &destination, &CopyOptions::new())
        .await
        .unwrap();
    validate_at(&client, &by_digest).await;
    let wrong = RegistryDestination::new(
        client.clone(),
        to.reference("app/wrong")
            .with_digest(other.manifest.digest().clone()),
    );
    let error = Copier::new()
        .copy(&source, &wrong, &CopyOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(error, gantry_transfer::TransferError::DigestMismatch { .. }),
        "{error}"
    );
    let layer = &image.blobs[1].0.digest;
    let absent = client.head_blob(&to.reference("app/wrong"), layer).await;
    assert!(
        absent.unwrap_err().is_not_found(),
        "refused before any blob moved"
    );
    assert!(wrong.supports_index());
}

#[tokio::test]
async fn a_repository_syncs_the_tags_its_filter_keeps() {
    let (from, to) = (Registry::start().await, Registry::start().await);
    let client = client();
    let shared = content(1_000, 300_000);
    for (i, tag) in ["1.0", "1.1", "dev"].iter().enumerate() {
        let image = Image::new(
            Kind::Oci,
            "linux/amd64",
            &[shared.clone(), content(1_001 + i as u64, 5_000)],
        );
        push_image(&client, &from.reference("sync/app"), &image, Some(tag)).await;
    }
    let proxy = FaultProxy::start(&from.host, Vec::new()).await;
    let options = SyncOptions::new(CopyOptions::new()).with_tag_filter(|tag| tag.starts_with("1."));
    let report = sync_repository(
        &Copier::new(),
        &client,
        &copy_support::reference(&proxy.host, "sync/app"),
        &to.reference("mirror/app"),
        &options,
    )
    .await
    .unwrap();

    let copied: Vec<&str> = report.copied.iter().map(|(tag, _)| tag.as_str()).collect();
    assert_eq!(copied, ["1.0", "1.1"]);
    assert!(report.failed.is_empty());
    let mut tags = client.list_tags(&to.reference("mirror/app")).await.unwrap();
    tags.sort();
    assert_eq!(tags, ["1.0", "1.1"]);
    for tag in tags {
        validate_at(&client, &to.reference(&format!("mirror/app:{tag}"))).await;
    }
    let digest = copy_support::sha256(&shared);
    assert_eq!(
        proxy.blob_gets(digest.as_str()).len(),
        1,
        "the shared layer travels once"
    );
}

#[tokio::test]
async fn one_request_per_registry_is_enough_in_either_direction() {
    let (left, right) = (Registry::start().await, Registry::start().await);
    let client = client();
    let image = Image::new(Kind::Oci, "linux/amd64", &layers(20, 4, 30_000));
    push_image(&client, &left.reference("both/app"), &image, Some("v1")).await;
    push_image(&client, &right.reference("both/app"), &image, Some("v1")).await;
    // One request at a time to each registry, two copies in opposite directions and one
    // within a registry, all on one copier: none may wait on another forever.
    let copier = Copier::with_limits(6, 1);
    let to_right = RegistrySource::new(client.clone(), left.reference("both/app:v1"));
    let to_left = RegistrySource::new(client.clone(), right.reference("both/app:v1"));
    let right_copy = RegistryDestination::new(client.clone(), right.reference("copy/app:v1"));
    let left_copy = RegistryDestination::new(client.clone(), left.reference("copy/app:v1"));
    let left_mount = RegistryDestination::new(client.clone(), left.reference("mount/app:v1"));
    let options = CopyOptions::new();
    let all = async {
        tokio::join!(
            copier.copy(&to_right, &right_copy, &options),
            copier.copy(&to_left, &left_copy, &options),
            copier.copy(&to_right, &left_mount, &options),
        )
    };
    // A bound on the wait, so that a deadlock fails the test instead of hanging it.
    let (a, b, c) = tokio::time::timeout(Duration::from_secs(120), all)
        .await
        .expect("the copies wait on each other");
    a.unwrap();
    b.unwrap();
    assert_eq!(c.unwrap().blobs.mounted, 5);
    for reference in [
        right.reference("copy/app:v1"),
        left.reference("copy/app:v1"),
        left.reference("mount/app:v1"),
    ] {
        validate_at(&client, &reference).await;
    }
}

#[tokio::test]
async fn a_repository_syncs_into_a_layout_one_image_at_a_time() {
    let registry = Registry::start().await;
    let client = client();
    let mut digests = Vec::new();
    for (i, tag) in ["a", "b"].iter().enumerate() {
        let image = Image::new(Kind::Oci, "linux/amd64", &layers(30 + i as u64, 2, 4_000));
        push_image(
            &client,
            &registry.reference("sync/layout"),
            &image,
            Some(tag),
        )
        .await;
        digests.push(image.manifest.digest().clone());
    }
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    let options = SyncOptions::new(CopyOptions::new()).with_images_at_once(1);
    let report = sync_tags(
        &Copier::new(),
        &client,
        &registry.reference("sync/layout"),
        &options,
        |tag| {
            let layout = layout.clone();
            async move {
                let destination: Box<dyn ImageDestination> =
                    Box::new(OciLayoutDestination::create(layout, Some(tag)).await?);
                Ok(destination)
            }
        },
    )
    .await
    .unwrap();
    assert_eq!(report.copied.len(), 2, "{:?}", report.failed);
    for (tag, digest) in ["a", "b"].iter().zip(&digests) {
        let source = OciLayoutSource::open(&layout, Some((*tag).to_owned()))
            .await
            .unwrap();
        assert_eq!(source.manifest(None).await.unwrap().digest(), digest);
    }
}

#[test]
fn formats_and_platform_selections_parse() {
    assert_eq!(ManifestFormat::parse("oci").unwrap(), ManifestFormat::Oci);
    assert_eq!(
        ManifestFormat::parse("v2s2").unwrap(),
        ManifestFormat::DockerV2S2
    );
    assert!(ManifestFormat::parse("v1").is_err());
    assert_eq!(
        PlatformSelection::parse("all").unwrap(),
        PlatformSelection::All
    );
    assert_eq!(
        PlatformSelection::parse("linux/arm/v7").unwrap(),
        PlatformSelection::Platform(Platform::parse("linux/arm/v7").unwrap())
    );
    assert!(PlatformSelection::parse("not a platform").is_err());
}
