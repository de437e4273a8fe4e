//! Helpers shared by gantry-storage's `store_*` tests: registries over each driver, uploads,
//! manifests; and the crash writer that `store_crash` kills mid-write.

pub mod crash;

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use gantry_reference::{Algorithm, Digest, RepositoryName, Tag};
use gantry_spec::{Descriptor, ImageManifest, Manifest, media_type};
use gantry_storage::{
    BlobWriter, CreateOptions, Created, FilesystemDriver, InMemoryDriver, Registry,
    RegistryOptions, Repository, StorageDriver,
};
use tokio::io::AsyncReadExt;

/// A registry over a fresh in-memory driver, with deleting enabled.
pub fn memory() -> Registry {
    memory_with(RegistryOptions::new().with_delete_enabled(true))
}

/// A registry over a fresh in-memory driver.
pub fn memory_with(options: RegistryOptions) -> Registry {
    let driver: Arc<dyn StorageDriver> = Arc::new(InMemoryDriver::new());
    Registry::new(driver, options).unwrap()
}

/// A registry over a filesystem driver rooted at `root`, deleting enabled, a fixed secret.
pub fn filesystem(root: &Path) -> Registry {
    let driver: Arc<dyn StorageDriver> = Arc::new(FilesystemDriver::new(root).unwrap());
    Registry::new(driver, options()).unwrap()
}

/// Deleting enabled and a fixed upload secret, as servers sharing storage would be set up.
pub fn options() -> RegistryOptions {
    RegistryOptions::new()
        .with_delete_enabled(true)
        .with_upload_secret(b"shared secret".to_vec())
}

/// A repository name; panics if it is not one.
pub fn name(name: &str) -> RepositoryName {
    RepositoryName::parse(name).unwrap()
}

/// A tag; panics if it is not one.
pub fn tag(tag: &str) -> Tag {
    Tag::parse(tag).unwrap()
}

/// The sha256 digest of `content`.
pub fn sha256(content: &[u8]) -> Digest {
    Digest::of(Algorithm::Sha256, content)
}

/// A new upload session (no mount asked for).
pub async fn start(repository: &Repository) -> BlobWriter {
    start_hashed(repository, Algorithm::Sha256).await
}

/// A new upload session hashed with `algorithm` as it streams.
pub async fn start_hashed(repository: &Repository, algorithm: Algorithm) -> BlobWriter {
    match repository
        .blobs()
        .create(CreateOptions::new().with_algorithm(algorithm))
        .await
        .unwrap()
    {
        Created::Upload(writer) => writer,
        Created::Mounted(descriptor) => panic!("unexpected mount of {descriptor:?}"),
    }
}

/// Uploads `content` in chunks of `chunk` bytes through a writer and commits it.
pub async fn upload(repository: &Repository, content: &[u8], chunk: usize) -> Descriptor {
    let mut writer = start(repository).await;
    for part in content.chunks(chunk.max(1)) {
        writer.write(Bytes::copy_from_slice(part)).await.unwrap();
    }
    writer
        .commit(&sha256(content), Some(content.len() as u64))
        .await
        .unwrap()
}

/// Everything a reader yields.
pub async fn read_all(mut reader: gantry_storage::driver::BoxReader) -> Vec<u8> {
    let mut content = Vec::new();
    reader.read_to_end(&mut content).await.unwrap();
    content
}

/// The blob's content as the repository serves it.
pub async fn blob(repository: &Repository, digest: &Digest) -> Vec<u8> {
    let (_, reader) = repository.blobs().get(digest).await.unwrap();
    read_all(reader).await
}

/// Pushes a config and one layer per entry of `layers`, then an image manifest over them.
pub async fn push_image(
    repository: &Repository,
    config: &[u8],
    layers: &[&[u8]],
    tag: Option<&Tag>,
) -> Manifest {
    repository
        .blobs()
        .put(Bytes::copy_from_slice(config))
        .await
        .unwrap();
    let mut builder = ImageManifest::builder(Descriptor::of(media_type::OCI_IMAGE_CONFIG, config));
    for layer in layers {
        repository
            .blobs()
            .put(Bytes::copy_from_slice(layer))
            .await
            .unwrap();
        builder = builder.layer(Descriptor::of(media_type::OCI_LAYER_TAR_GZIP, layer));
    }
    let manifest = builder.build().unwrap();
    push(repository, &manifest, tag).await;
    manifest
}

/// Pushes a built manifest's bytes as a client would.
pub async fn push(repository: &Repository, manifest: &Manifest, tag: Option<&Tag>) -> Digest {
    repository
        .manifests()
        .put(manifest.bytes().clone(), Some(manifest.media_type()), tag)
        .await
        .unwrap()
}

/// Pushes an artifact manifest (empty config) about `subject`.
pub async fn push_referrer(
    repository: &Repository,
    subject: &Manifest,
    artifact_type: &str,
    annotation: &str,
) -> Manifest {
    repository
        .blobs()
        .put(Bytes::from_static(b"{}"))
        .await
        .unwrap();
    let manifest = ImageManifest::builder(Descriptor::empty())
        .artifact_type(artifact_type)
        .subject(subject.descriptor())
        .annotation("org.example.note", annotation)
        .build()
        .unwrap();
    push(repository, &manifest, None).await;
    manifest
}
