//! Support for the transfer crate's tests: the test kit's in-process `gantry serve` on
//! 127.0.0.1 (`Registry`), images pushed to it, the whole graph read back for validation, and
//! the kit's fault-injecting, byte-counting proxy (`proxy`).

#![allow(
    dead_code,
    unused_imports,
    unreachable_pub,
    reason = "each test file uses the helpers it needs"
)]
// Test code, so clippy allows its unwraps (clippy.toml): test support fails loudly.
#![cfg(test)]

pub mod memory;

pub use gantry_test_support::in_process::InProcessGantry as Registry;
pub use gantry_test_support::proxy;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use gantry_client::{Client, ClientConfig, CredentialSources, RetryPolicy, UploadMode};
use gantry_reference::{Algorithm, Digest, Reference};
use gantry_spec::{
    Descriptor, ImageConfig, ImageIndex, ImageManifest, Manifest, ManifestKind, Platform,
    media_type, validate,
};
use gantry_transfer::{ProgressEvent, ProgressSink};

/// A client for tests: quick retries, no credential files.
pub fn client() -> Client {
    let mut config = ClientConfig::default().with_retry(RetryPolicy::new(
        4,
        Duration::from_millis(1),
        Duration::from_millis(20),
    ));
    config.credential_sources = CredentialSources::None;
    Client::new(config).unwrap()
}

/// A client that uploads in chunks of `chunk_size` bytes.
pub fn client_with_chunks(chunk_size: usize) -> Client {
    let mut config = ClientConfig::default().with_retry(RetryPolicy::new(
        4,
        Duration::from_millis(1),
        Duration::from_millis(20),
    ));
    config.credential_sources = CredentialSources::None;
    config.chunk_size = chunk_size;
    Client::new(config).unwrap()
}

/// The sha256 digest of `content`.
pub fn sha256(content: &[u8]) -> Digest {
    Digest::of(Algorithm::Sha256, content)
}

/// `len` bytes that differ with `seed`, and do not compress.
pub fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// A reference to `rest` on `host`.
pub fn reference(host: &str, rest: &str) -> Reference {
    Reference::parse(format!("{host}/{rest}")).unwrap()
}

/// Whether to build Docker schema 2 or OCI documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Oci,
    Docker,
}

/// An image built in memory: its manifest and every blob.
#[derive(Debug, Clone)]
pub struct Image {
    pub manifest: Manifest,
    pub blobs: Vec<(Descriptor, Bytes)>,
}

impl Image {
    /// An image for `platform` whose layers hold `layers`.
    pub fn new(kind: Kind, platform: &str, layers: &[Vec<u8>]) -> Image {
        let platform = Platform::parse(platform).unwrap();
        let mut config = ImageConfig::new(&platform);
        let layer_type = match kind {
            Kind::Oci => media_type::OCI_LAYER_TAR_GZIP,
            Kind::Docker => media_type::DOCKER_LAYER_TAR_GZIP,
        };
        let mut blobs = Vec::new();
        let mut descriptors = Vec::new();
        for layer in layers {
            let descriptor = Descriptor::of(layer_type, layer);
            // The "uncompressed" digest of a layer we never decompress: any digest will do.
            config
                .rootfs
                .diff_ids
                .push(sha256(&[layer.as_slice(), b"diff"].concat()));
            descriptors.push(descriptor.clone());
            blobs.push((descriptor, Bytes::from(layer.clone())));
        }
        let config = config.to_json().unwrap();
        let (config_type, builder): (_, fn(Descriptor) -> _) = match kind {
            Kind::Oci => (media_type::OCI_IMAGE_CONFIG, ImageManifest::builder),
            Kind::Docker => (
                media_type::DOCKER_CONTAINER_CONFIG,
                ImageManifest::docker_builder,
            ),
        };
        let config_descriptor = Descriptor::of(config_type, &config);
        blobs.insert(0, (config_descriptor.clone(), Bytes::from(config)));
        let manifest = builder(config_descriptor)
            .layers(descriptors)
            .build()
            .unwrap();
        Image { manifest, blobs }
    }

    /// The image's total size: its blobs and its manifest.
    pub fn size(&self) -> u64 {
        self.blobs.iter().map(|(d, _)| d.size).sum::<u64>() + self.manifest.size()
    }

    /// The index entry for this image on `platform`.
    pub fn entry(&self, platform: &str) -> Descriptor {
        self.manifest
            .descriptor()
            .with_platform(Platform::parse(platform).unwrap())
    }
}

/// An index listing `entries`.
pub fn index(kind: Kind, entries: Vec<Descriptor>) -> Manifest {
    match kind {
        Kind::Oci => ImageIndex::builder(),
        Kind::Docker => ImageIndex::docker_builder(),
    }
    .manifests(entries)
    .build()
    .unwrap()
}

/// Pushes an image's blobs and its manifest (by digest, and under `tag` when given).
pub async fn push_image(client: &Client, repository: &Reference, image: &Image, tag: Option<&str>) {
    for (descriptor, bytes) in &image.blobs {
        client
            .push_blob(
                repository,
                &descriptor.digest,
                UploadMode::monolithic(bytes.clone()),
            )
            .await
            .unwrap();
    }
    push_manifest(client, repository, &image.manifest, tag).await;
}

/// Pushes a manifest by digest, and under `tag` when given.
pub async fn push_manifest(
    client: &Client,
    repository: &Reference,
    manifest: &Manifest,
    tag: Option<&str>,
) {
    let target = match tag {
        Some(tag) => repository.name_only().with_tag(tag).unwrap(),
        None => repository
            .name_only()
            .with_digest(manifest.digest().clone()),
    };
    client.put_manifest(&target, manifest).await.unwrap();
}

/// Every manifest and blob under `root` in `repository`, read through `client`.
pub async fn fetch_graph(
    client: &Client,
    repository: &Reference,
    root: &Descriptor,
) -> HashMap<Digest, Bytes> {
    let repository = repository.name_only();
    let mut content = HashMap::new();
    let mut pending = vec![root.clone()];
    while let Some(descriptor) = pending.pop() {
        if content.contains_key(&descriptor.digest) {
            continue;
        }
        if ManifestKind::from_media_type(&descriptor.media_type).is_some() {
            let manifest = client
                .get_manifest(&repository.with_digest(descriptor.digest.clone()))
                .await
                .unwrap();
            for (role, child) in manifest.references() {
                if role.is_child() {
                    pending.push(child.clone());
                }
            }
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
    content
}

/// Reads the image `reference` names from the registry and validates its whole graph; returns
/// its top manifest.
pub async fn validate_at(client: &Client, reference: &Reference) -> Manifest {
    let manifest = client.get_manifest(reference).await.unwrap();
    let content = fetch_graph(client, reference, &manifest.descriptor()).await;
    validate::image(&content, &manifest.descriptor()).unwrap()
}

/// A progress sink that records every event.
pub fn recorder() -> (ProgressSink, Arc<Mutex<Vec<ProgressEvent>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&events);
    let sink = ProgressSink::new(move |event| kept.lock().unwrap().push(event.clone()));
    (sink, events)
}

/// Quick retries for tests.
pub fn quick_retries() -> gantry_transfer::copy::RetryOptions {
    gantry_transfer::copy::RetryOptions::new(6, Duration::from_millis(5), Duration::from_millis(50))
}
