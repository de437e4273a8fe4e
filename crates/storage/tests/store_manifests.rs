//! Manifests, tags and referrers: references checked, exact bytes kept, tags and the reverse
//! index kept in step, referrers listed and filtered, deletes that take tags with them, and
//! indexes rebuilt from the layout.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail by panicking"
)]

mod store_support;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use gantry_spec::{Descriptor, ImageIndex, ImageManifest, media_type};
use gantry_storage::{
    InMemoryDriver, Registry, RegistryOptions, StorageDriver, StorageError, StoragePath,
};
use store_support::*;

#[tokio::test]
async fn put_checks_every_reference_but_the_subject() {
    let registry = memory();
    let repository = registry.repository(&name("app"));
    let other = registry.repository(&name("other"));
    other
        .blobs()
        .put(Bytes::from_static(b"elsewhere"))
        .await
        .unwrap();
    repository
        .blobs()
        .put(Bytes::from_static(b"config"))
        .await
        .unwrap();
    let config = Descriptor::of(media_type::OCI_IMAGE_CONFIG, b"config");
    let layer = Descriptor::of(media_type::OCI_LAYER_TAR_GZIP, b"elsewhere");
    let foreign = Descriptor::of(media_type::OCI_LAYER_NONDISTRIBUTABLE_TAR_GZIP, b"far")
        .with_url("https://example.com/far");
    let missing_subject = Descriptor::of(media_type::OCI_IMAGE_MANIFEST, b"not pushed");

    // (manifest, what must be missing or None when accepted)
    let cases = [
        (
            ImageManifest::builder(config.clone())
                .layer(layer.clone())
                .build()
                .unwrap(),
            Some(layer.digest.clone()),
        ),
        (
            ImageManifest::builder(Descriptor::of(media_type::OCI_IMAGE_CONFIG, b"nope"))
                .build()
                .unwrap(),
            Some(sha256(b"nope")),
        ),
        (
            ImageManifest::builder(config.clone())
                .layer(foreign)
                .build()
                .unwrap(),
            None,
        ),
        (
            ImageManifest::builder(config.clone())
                .subject(missing_subject)
                .build()
                .unwrap(),
            None,
        ),
        // A sparse index: the OCI specification lets a registry accept one, and by default
        // the store does.
        (
            ImageIndex::builder()
                .manifest(Descriptor::of(media_type::OCI_IMAGE_MANIFEST, b"child"))
                .build()
                .unwrap(),
            None,
        ),
    ];
    for (manifest, missing) in cases {
        let result = repository
            .manifests()
            .put(manifest.bytes().clone(), Some(manifest.media_type()), None)
            .await;
        match missing {
            Some(digest) => {
                assert!(
                    matches!(&result, Err(StorageError::ManifestBlobUnknown { digest: d }) if *d == digest),
                    "{result:?}"
                );
                assert!(
                    !repository
                        .manifests()
                        .exists(manifest.digest())
                        .await
                        .unwrap()
                );
            }
            None => {
                assert_eq!(&result.unwrap(), manifest.digest());
                let stored = repository.manifests().get(manifest.digest()).await.unwrap();
                assert_eq!(stored.bytes(), manifest.bytes());
            }
        }
    }
}

#[tokio::test]
async fn bad_and_oversized_manifests_are_invalid() {
    let registry = memory_with(RegistryOptions::new().with_max_manifest_size(100));
    let repository = registry.repository(&name("app"));
    for bytes in [&b"{not json"[..], &[b' '; 101][..]] {
        let error = repository
            .manifests()
            .put(Bytes::copy_from_slice(bytes), None, None)
            .await
            .unwrap_err();
        assert!(
            matches!(error, StorageError::ManifestInvalid(_)),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn tags_move_and_the_reverse_index_follows() {
    let registry = memory();
    let repository = registry.repository(&name("team/app"));
    let one = push_image(&repository, b"c1", &[b"l1"], Some(&tag("latest"))).await;
    let two = push_image(&repository, b"c2", &[b"l2"], Some(&tag("v2"))).await;
    repository
        .tags()
        .tag(&tag("stable"), one.digest())
        .await
        .unwrap();

    let lookup = |digest| {
        let repository = repository.clone();
        async move { repository.tags().lookup(digest).await.unwrap() }
    };
    assert_eq!(lookup(one.digest()).await, [tag("latest"), tag("stable")]);
    assert_eq!(lookup(two.digest()).await, [tag("v2")]);

    repository
        .tags()
        .tag(&tag("latest"), two.digest())
        .await
        .unwrap();
    assert_eq!(
        repository.tags().get(&tag("latest")).await.unwrap(),
        *two.digest()
    );
    assert_eq!(lookup(one.digest()).await, [tag("stable")]);
    assert_eq!(lookup(two.digest()).await, [tag("latest"), tag("v2")]);

    repository.tags().untag(&tag("stable")).await.unwrap();
    assert!(lookup(one.digest()).await.is_empty());
    assert!(matches!(
        repository.tags().get(&tag("stable")).await,
        Err(StorageError::ManifestUnknown { .. })
    ));
    assert!(matches!(
        repository.tags().untag(&tag("stable")).await,
        Err(StorageError::ManifestUnknown { .. })
    ));
    // A tag can only point at a manifest of the repository.
    assert!(matches!(
        repository.tags().tag(&tag("x"), &sha256(b"nothing")).await,
        Err(StorageError::ManifestUnknown { .. })
    ));
    assert_eq!(
        repository
            .manifests()
            .get_by_tag(&tag("latest"))
            .await
            .unwrap(),
        two
    );
}

#[tokio::test]
async fn referrers_are_listed_with_artifact_types_and_filtered() {
    let registry = memory();
    let repository = registry.repository(&name("app"));
    let image = push_image(&repository, b"config", &[b"layer"], Some(&tag("v1"))).await;
    let signature = push_referrer(&repository, &image, "application/vnd.example.sig", "a").await;
    let sbom = push_referrer(&repository, &image, "application/vnd.example.sbom", "b").await;
    // An image manifest without artifactType is listed under its config's media type.
    let plain = ImageManifest::builder(Descriptor::of(media_type::OCI_IMAGE_CONFIG, b"config"))
        .subject(image.descriptor())
        .build()
        .unwrap();
    push(&repository, &plain, None).await;

    let all = repository.referrers(image.digest(), None).await.unwrap();
    let mut expected = vec![
        (signature.digest().clone(), "application/vnd.example.sig"),
        (sbom.digest().clone(), "application/vnd.example.sbom"),
        (plain.digest().clone(), media_type::OCI_IMAGE_CONFIG),
    ];
    expected.sort();
    let got: Vec<_> = all
        .iter()
        .map(|d| (d.digest.clone(), d.artifact_type.as_deref().unwrap()))
        .collect();
    assert_eq!(got, expected);
    let entry = all
        .iter()
        .find(|d| &d.digest == signature.digest())
        .unwrap();
    assert_eq!(entry.media_type, media_type::OCI_IMAGE_MANIFEST);
    assert_eq!(entry.size, signature.size());
    assert_eq!(entry.annotations["org.example.note"], "a");

    let filtered = repository
        .referrers(image.digest(), Some("application/vnd.example.sbom"))
        .await
        .unwrap();
    assert_eq!(filtered.len(), 1);
    assert_eq!(&filtered[0].digest, sbom.digest());
    assert!(
        repository
            .referrers(sbom.digest(), None)
            .await
            .unwrap()
            .is_empty()
    );

    repository
        .manifests()
        .delete(signature.digest())
        .await
        .unwrap();
    assert_eq!(
        repository
            .referrers(image.digest(), None)
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn delete_is_disabled_by_default_and_takes_tags_when_enabled() {
    let disabled = memory_with(RegistryOptions::new());
    let repository = disabled.repository(&name("app"));
    let image = push_image(&repository, b"c", &[b"l"], Some(&tag("v1"))).await;
    assert!(matches!(
        repository.manifests().delete(image.digest()).await,
        Err(StorageError::DeleteDisabled)
    ));
    assert!(matches!(
        repository.blobs().delete(&sha256(b"l")).await,
        Err(StorageError::DeleteDisabled)
    ));

    let registry = memory();
    let repository = registry.repository(&name("app"));
    let image = push_image(&repository, b"c", &[b"l"], Some(&tag("v1"))).await;
    repository
        .tags()
        .tag(&tag("v1.0"), image.digest())
        .await
        .unwrap();
    let other = push_image(&repository, b"c2", &[b"l"], Some(&tag("v2"))).await;
    repository.manifests().delete(image.digest()).await.unwrap();
    assert!(!repository.manifests().exists(image.digest()).await.unwrap());
    assert_eq!(repository.tags().all(100, None).await.unwrap(), [tag("v2")]);
    assert!(
        repository
            .tags()
            .lookup(image.digest())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        repository.manifests().delete(image.digest()).await,
        Err(StorageError::ManifestUnknown { .. })
    ));
    assert!(repository.manifests().exists(other.digest()).await.unwrap());

    // Deleting a blob unlinks it from this repository only.
    let mirror = registry.repository(&name("mirror"));
    mirror.blobs().put(Bytes::from_static(b"l")).await.unwrap();
    repository.blobs().delete(&sha256(b"l")).await.unwrap();
    assert!(repository.blobs().stat(&sha256(b"l")).await.is_err());
    assert_eq!(blob(&mirror, &sha256(b"l")).await, b"l");
    assert!(matches!(
        repository.blobs().delete(&sha256(b"l")).await,
        Err(StorageError::BlobUnknown { .. })
    ));
}

#[tokio::test]
async fn a_manifest_read_before_is_gone_once_deleted_and_unknown_elsewhere() {
    let registry = memory();
    let repository = registry.repository(&name("app"));
    let image = push_image(&repository, b"c", &[b"l"], Some(&tag("v1"))).await;
    // Read twice, so that the second read may come from memory.
    for _ in 0..2 {
        let read = repository.manifests().get(image.digest()).await.unwrap();
        assert_eq!(read.bytes(), image.bytes());
        assert_eq!(read.digest(), image.digest());
    }
    // Another repository never linked it: unknown there, whatever was read in `app`.
    assert!(matches!(
        registry
            .repository(&name("other"))
            .manifests()
            .get(image.digest())
            .await,
        Err(StorageError::ManifestUnknown { .. })
    ));
    repository.manifests().delete(image.digest()).await.unwrap();
    assert!(matches!(
        repository.manifests().get(image.digest()).await,
        Err(StorageError::ManifestUnknown { .. })
    ));
    assert!(matches!(
        repository.manifests().get_by_tag(&tag("v1")).await,
        Err(StorageError::ManifestUnknown { .. })
    ));
}

#[tokio::test]
async fn a_manifest_delete_takes_a_tag_another_process_just_moved_onto_it() {
    // Two registries on one storage, each caching links for a minute, as replicas do.
    let driver: Arc<dyn StorageDriver> = Arc::new(InMemoryDriver::new());
    let cached = options().with_link_cache_ttl(Duration::from_secs(60));
    let here = Registry::new(Arc::clone(&driver), cached.clone()).unwrap();
    let there = Registry::new(driver, cached).unwrap();
    let (ours, theirs) = (
        here.repository(&name("app")),
        there.repository(&name("app")),
    );
    // `here` remembers v1 at the first image; `there` moves it onto the second, which `here`
    // then deletes.
    push_image(&ours, b"c", &[b"l"], Some(&tag("v1"))).await;
    let moved = push_image(&theirs, b"c", &[b"l2"], Some(&tag("v1"))).await;
    ours.manifests().delete(moved.digest()).await.unwrap();
    for repository in [&ours, &theirs] {
        assert!(repository.tags().all(100, None).await.unwrap().is_empty());
    }
    assert!(matches!(
        ours.tags().get(&tag("v1")).await,
        Err(StorageError::ManifestUnknown { .. })
    ));
}

#[tokio::test]
async fn indexes_are_rebuilt_when_absent_and_on_request() {
    let registry = memory();
    let repository = registry.repository(&name("app"));
    let image = push_image(&repository, b"c", &[b"l"], Some(&tag("v1"))).await;
    let signature = push_referrer(&repository, &image, "application/vnd.example.sig", "a").await;
    assert_eq!(
        repository.tags().lookup(image.digest()).await.unwrap(),
        [tag("v1")]
    );

    // As Distribution would leave it: no `_gantry` directory at all.
    let gantry = StoragePath::new("/docker/registry/v2/repositories/app/_gantry").unwrap();
    registry.driver().delete(&gantry).await.unwrap();
    assert_eq!(
        repository.tags().lookup(image.digest()).await.unwrap(),
        [tag("v1")]
    );
    assert_eq!(
        repository.referrers(image.digest(), None).await.unwrap()[0].digest,
        *signature.digest()
    );
    let version = gantry.join("version").unwrap();
    assert_eq!(registry.driver().get_content(&version).await.unwrap(), "1");

    // A wrong entry (stale, or from a damaged index) never shows; a rebuild clears it.
    let stale = gantry
        .join(&format!(
            "tags_by_digest/sha256/{}/ghost",
            image.digest().encoded()
        ))
        .unwrap();
    registry
        .driver()
        .put_content(&stale, Bytes::from_static(b"ghost"))
        .await
        .unwrap();
    assert_eq!(
        repository.tags().lookup(image.digest()).await.unwrap(),
        [tag("v1")]
    );
    repository.rebuild_indexes().await.unwrap();
    assert!(registry.driver().stat(&stale).await.is_err());
}

#[tokio::test]
async fn mounts_from_a_named_repository_or_from_anywhere() {
    use gantry_storage::{CreateOptions, Created};
    let registry = memory();
    let source = registry.repository(&name("source"));
    let layer = upload(&source, b"shared layer", 5).await;
    let target = registry.repository(&name("target"));

    // (options, mounted?)
    let cases = [
        (
            CreateOptions::new().mount_from(layer.digest.clone(), name("nowhere")),
            false,
        ),
        (
            CreateOptions::new().mount_from(sha256(b"absent"), name("source")),
            false,
        ),
        (CreateOptions::new().mount_any(sha256(b"absent")), false),
        (
            CreateOptions::new().mount_from(layer.digest.clone(), name("source")),
            true,
        ),
    ];
    for (options, mounted) in cases {
        match target.blobs().create(options).await.unwrap() {
            Created::Mounted(descriptor) => {
                assert!(mounted);
                assert_eq!(descriptor.size, layer.size);
            }
            Created::Upload(writer) => {
                assert!(!mounted);
                writer.cancel().await.unwrap();
            }
        }
    }
    assert_eq!(blob(&target, &layer.digest).await, b"shared layer");

    let third = registry.repository(&name("third"));
    assert!(third.blobs().stat(&layer.digest).await.is_err());
    let created = third
        .blobs()
        .create(CreateOptions::new().mount_any(layer.digest.clone()))
        .await
        .unwrap();
    assert!(matches!(created, Created::Mounted(_)));
    assert_eq!(blob(&third, &layer.digest).await, b"shared layer");
}

#[tokio::test]
async fn indexes_need_their_children_when_sparse_indexes_are_off() {
    let registry = memory_with(RegistryOptions::new().with_sparse_indexes(false));
    let repository = registry.repository(&name("app"));
    let index = ImageIndex::builder()
        .manifest(Descriptor::of(media_type::OCI_IMAGE_MANIFEST, b"child"))
        .build()
        .unwrap();
    let result = repository
        .manifests()
        .put(index.bytes().clone(), Some(index.media_type()), None)
        .await;
    assert!(
        matches!(&result, Err(StorageError::ManifestBlobUnknown { digest }) if *digest == sha256(b"child")),
        "{result:?}"
    );
    assert!(!repository.manifests().exists(index.digest()).await.unwrap());
}
