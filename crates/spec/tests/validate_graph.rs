//! `validate` accepts a consistent image graph and names what is wrong with an inconsistent one.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on bad fixtures"
)]

use std::collections::HashMap;

use bytes::Bytes;
use gantry_reference::{Algorithm, Digest};
use gantry_spec::validate::{self, ContentSource};
use gantry_spec::{
    Descriptor, ImageConfig, ImageIndex, ImageManifest, Manifest, Platform, SpecError, media_type,
};

/// A content store in memory.
#[derive(Default, Clone)]
struct Store(HashMap<Digest, Bytes>);

impl Store {
    fn put(&mut self, content: impl Into<Bytes>) -> Digest {
        let content = content.into();
        let digest = Digest::of(Algorithm::Sha256, &content);
        self.0.insert(digest.clone(), content);
        digest
    }

    fn put_manifest(&mut self, manifest: &Manifest) {
        self.0
            .insert(manifest.digest().clone(), manifest.bytes().clone());
    }
}

impl ContentSource for Store {
    fn fetch(&self, digest: &Digest) -> Option<Bytes> {
        self.0.get(digest).cloned()
    }
}

/// A two-layer image for `platform`: a gzip layer and an uncompressed one, with a config whose
/// diff_ids match.
fn image(store: &mut Store, platform: &str) -> Manifest {
    let compressed = format!("compressed layer for {platform}").into_bytes();
    let uncompressed = format!("tar layer for {platform}").into_bytes();
    let mut config = ImageConfig::new(&Platform::parse(platform).unwrap());
    config.rootfs.diff_ids = vec![
        Digest::of(Algorithm::Sha256, b"uncompressed form of the gzip layer"),
        Digest::of(Algorithm::Sha256, &uncompressed),
    ];
    let config = config.to_json().unwrap();
    let manifest = ImageManifest::builder(Descriptor::of(media_type::OCI_IMAGE_CONFIG, &config))
        .layer(Descriptor::of(media_type::OCI_LAYER_TAR_GZIP, &compressed))
        .layer(Descriptor::of(media_type::OCI_LAYER_TAR, &uncompressed))
        .build()
        .unwrap();
    store.put(config);
    store.put(compressed);
    store.put(uncompressed);
    store.put_manifest(&manifest);
    manifest
}

fn entry(manifest: &Manifest, platform: &str) -> Descriptor {
    manifest
        .descriptor()
        .with_platform(Platform::parse(platform).unwrap())
}

fn multi_platform(store: &mut Store) -> Manifest {
    let amd64 = image(store, "linux/amd64");
    let arm64 = image(store, "linux/arm64");
    let index = ImageIndex::builder()
        .manifest(entry(&amd64, "linux/amd64"))
        .manifest(entry(&arm64, "linux/arm64/v8"))
        .build()
        .unwrap();
    store.put_manifest(&index);
    index
}

#[test]
fn a_consistent_graph_is_valid() {
    let mut store = Store::default();
    let index = multi_platform(&mut store);
    let parsed = validate::image(&store, &index.descriptor()).unwrap();
    assert_eq!(parsed, index);
    validate::manifest(&store, &index).unwrap();

    // A HashMap is a content source too.
    let map: HashMap<Digest, Bytes> = store.0.clone();
    validate::image(&map, &index.descriptor()).unwrap();
}

#[test]
fn an_artifact_with_an_empty_config_is_valid() {
    let mut store = Store::default();
    let subject = image(&mut store, "linux/amd64");
    let payload = b"signature bytes".to_vec();
    let artifact = ImageManifest::builder(Descriptor::empty())
        .artifact_type("application/vnd.example.signature.v1")
        .layer(Descriptor::of(
            "application/vnd.example.signature.v1",
            &payload,
        ))
        .subject(subject.descriptor())
        .build()
        .unwrap();
    store.put(&b"{}"[..]);
    store.put(payload);
    store.put_manifest(&artifact);
    validate::manifest(&store, &artifact).unwrap();

    // The subject need not be present.
    store.0.remove(subject.digest());
    validate::manifest(&store, &artifact).unwrap();
}

#[test]
fn foreign_layers_may_be_missing_but_must_match_when_present() {
    let mut store = Store::default();
    let foreign = b"foreign layer".to_vec();
    let mut config = ImageConfig::new(&Platform::new("windows", "amd64"));
    config.rootfs.diff_ids = vec![Digest::of(Algorithm::Sha256, b"uncompressed foreign")];
    let config = config.to_json().unwrap();
    let manifest =
        ImageManifest::docker_builder(Descriptor::of(media_type::DOCKER_CONTAINER_CONFIG, &config))
            .layer(
                Descriptor::of(media_type::DOCKER_FOREIGN_LAYER_TAR_GZIP, &foreign)
                    .with_url("https://example.com/foreign.tar.gz"),
            )
            .build()
            .unwrap();
    store.put(config);
    store.put_manifest(&manifest);
    validate::manifest(&store, &manifest).unwrap();

    let layer_digest = manifest.layers()[0].digest.clone();
    store
        .0
        .insert(layer_digest, Bytes::from_static(b"tampered"));
    assert!(
        validate::manifest(&store, &manifest)
            .unwrap_err()
            .is_digest_mismatch()
    );
}

/// Each way a store can break the graph, and the error it gives.
#[test]
fn inconsistent_graphs_name_the_fault() {
    type Break = fn(&mut Store, &Manifest);
    type Check = fn(&SpecError) -> bool;
    let cases: &[(&str, Break, Check)] = &[
        (
            "root manifest missing",
            |store, index| {
                store.0.remove(index.digest());
            },
            |e| matches!(e, SpecError::MissingContent { .. }),
        ),
        (
            "child manifest missing",
            |store, index| {
                store.0.remove(&index.manifests()[1].digest);
            },
            SpecError::is_not_found,
        ),
        (
            "layer missing",
            |store, index| {
                let child = child(store, index, 0);
                store.0.remove(&child.layers()[1].digest);
            },
            SpecError::is_not_found,
        ),
        (
            "config missing",
            |store, index| {
                let child = child(store, index, 1);
                store.0.remove(&child.config().unwrap().digest);
            },
            SpecError::is_not_found,
        ),
        (
            "layer of the wrong size",
            |store, index| {
                let child = child(store, index, 0);
                store
                    .0
                    .insert(child.layers()[0].digest.clone(), Bytes::from_static(b"x"));
            },
            |e| matches!(e, SpecError::SizeMismatch { .. }),
        ),
        (
            "layer of the right size and wrong digest",
            |store, index| {
                let child = child(store, index, 0);
                let layer = &child.layers()[0];
                let same_size = vec![b'x'; usize::try_from(layer.size).unwrap()];
                store.0.insert(layer.digest.clone(), Bytes::from(same_size));
            },
            |e| matches!(e, SpecError::DigestMismatch { .. }),
        ),
        (
            "child manifest replaced",
            |store, index| {
                let digest = index.manifests()[0].digest.clone();
                let other = store.fetch(&index.manifests()[1].digest).unwrap();
                store.0.insert(digest, other);
            },
            SpecError::is_digest_mismatch,
        ),
    ];
    for (name, break_it, check) in cases {
        let mut store = Store::default();
        let index = multi_platform(&mut store);
        break_it(&mut store, &index);
        let error = validate::image(&store, &index.descriptor()).unwrap_err();
        assert!(check(&error), "{name}: {error:?}");
    }
}

fn child(store: &Store, index: &Manifest, n: usize) -> Manifest {
    Manifest::parse(store.fetch(&index.manifests()[n].digest).unwrap(), None).unwrap()
}

#[test]
fn config_must_agree_with_the_manifest_and_the_index_entry() {
    let mut store = Store::default();
    let amd64 = image(&mut store, "linux/amd64");

    // An index entry that claims another platform.
    let lying = ImageIndex::builder()
        .manifest(entry(&amd64, "linux/arm64"))
        .build()
        .unwrap();
    store.put_manifest(&lying);
    let error = validate::image(&store, &lying.descriptor()).unwrap_err();
    assert!(
        matches!(&error, SpecError::PlatformMismatch { entry, config }
            if entry == "linux/arm64/v8" && config == "linux/amd64"),
        "{error:?}"
    );

    // A config with one diff_id for two layers.
    let mut config = ImageConfig::new(&Platform::new("linux", "amd64"));
    config.rootfs.diff_ids = vec![Digest::of(Algorithm::Sha256, b"one")];
    let config = config.to_json().unwrap();
    let layer = b"layer".to_vec();
    let short = ImageManifest::builder(Descriptor::of(media_type::OCI_IMAGE_CONFIG, &config))
        .layer(Descriptor::of(media_type::OCI_LAYER_TAR_GZIP, &layer))
        .layer(Descriptor::of(media_type::OCI_LAYER_TAR_GZIP, &layer))
        .build()
        .unwrap();
    store.put(config);
    store.put(layer.clone());
    let error = validate::manifest(&store, &short).unwrap_err();
    assert!(matches!(
        error,
        SpecError::LayerCountMismatch {
            layers: 2,
            diff_ids: 1
        }
    ));

    // An uncompressed layer whose diff_id is not its digest.
    let mut config = ImageConfig::new(&Platform::new("linux", "amd64"));
    config.rootfs.diff_ids = vec![Digest::of(Algorithm::Sha256, b"not the layer")];
    let config = config.to_json().unwrap();
    let tar = ImageManifest::builder(Descriptor::of(media_type::OCI_IMAGE_CONFIG, &config))
        .layer(Descriptor::of(media_type::OCI_LAYER_TAR, &layer))
        .build()
        .unwrap();
    store.put(config);
    let error = validate::manifest(&store, &tar).unwrap_err();
    assert!(error.is_digest_mismatch(), "{error:?}");

    // A config blob that is not a config.
    let junk = b"not json".to_vec();
    let broken = ImageManifest::builder(Descriptor::of(media_type::OCI_IMAGE_CONFIG, &junk))
        .build()
        .unwrap();
    store.put(junk);
    assert!(matches!(
        validate::manifest(&store, &broken),
        Err(SpecError::InvalidJson(_))
    ));
}

#[test]
fn a_child_of_the_wrong_kind_is_a_media_type_mismatch() {
    let mut store = Store::default();
    let nested = multi_platform(&mut store);
    // The entry says image manifest; the content is an index.
    let mut entry = nested.descriptor();
    entry.media_type = media_type::OCI_IMAGE_MANIFEST.to_owned();
    let wrong = ImageIndex::builder().manifest(entry).build().unwrap();
    store.put_manifest(&wrong);
    let error = validate::image(&store, &wrong.descriptor()).unwrap_err();
    assert!(
        matches!(&error, SpecError::MediaTypeMismatch { .. }),
        "{error:?}"
    );

    // Nested indexes are followed.
    let outer = ImageIndex::builder()
        .manifest(nested.descriptor())
        .build()
        .unwrap();
    store.put_manifest(&outer);
    validate::image(&store, &outer.descriptor()).unwrap();
}
