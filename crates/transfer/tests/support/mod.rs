//! What the local transports' tests share: images built in memory, a source that serves them
//! (and can fail a blob half-way), copies through the copy engine, reading a whole image back through a
//! source, and hand-made tar archives for the bad cases.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    reason = "test support; each test binary uses part of it"
)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, stream};
use gantry_reference::Digest;
use gantry_spec::{
    Descriptor, ImageIndex, ImageManifest, Manifest, Platform, media_type, validate,
};
use gantry_transfer::copy::{Copier, CopyOptions, PlatformSelection, RetryOptions};
use gantry_transfer::{
    BlobStream, ImageDestination, ImageName, ImageSource, Missing, TransferError,
};

pub use gantry_test_support::layout::noise;

/// Images and blobs in memory, served as an [`ImageSource`].
#[derive(Debug, Clone)]
pub struct Content {
    /// Manifests by digest.
    pub manifests: HashMap<Digest, Manifest>,
    /// Blobs by digest.
    pub blobs: HashMap<Digest, Bytes>,
}

impl Default for Content {
    fn default() -> Self {
        Content::new()
    }
}

impl Content {
    /// No content.
    pub fn new() -> Content {
        Content {
            manifests: HashMap::new(),
            blobs: HashMap::new(),
        }
    }

    /// Adds a blob and returns its descriptor.
    pub fn blob(&mut self, media_type: &str, content: Vec<u8>) -> Descriptor {
        let descriptor = Descriptor::of(media_type, &content);
        self.blobs
            .insert(descriptor.digest.clone(), Bytes::from(content));
        descriptor
    }

    /// Adds a manifest.
    pub fn manifest(&mut self, manifest: Manifest) -> Manifest {
        self.manifests
            .insert(manifest.digest().clone(), manifest.clone());
        manifest
    }

    /// An image for `platform` with one uncompressed layer per size in `layers`, and, when
    /// `gzip_layer`, one more whose bytes start with the gzip magic (media type tar+gzip);
    /// `docker` builds a Docker schema 2 manifest instead of an OCI one.
    pub fn image(
        &mut self,
        seed: u64,
        layers: &[usize],
        gzip_layer: bool,
        platform: &Platform,
        docker: bool,
    ) -> Manifest {
        let (uncompressed, gzip, config_type) = if docker {
            (
                media_type::DOCKER_LAYER_TAR,
                media_type::DOCKER_LAYER_TAR_GZIP,
                media_type::DOCKER_CONTAINER_CONFIG,
            )
        } else {
            (
                media_type::OCI_LAYER_TAR,
                media_type::OCI_LAYER_TAR_GZIP,
                media_type::OCI_IMAGE_CONFIG,
            )
        };
        let mut descriptors: Vec<Descriptor> = layers
            .iter()
            .enumerate()
            .map(|(i, &size)| self.blob(uncompressed, noise(seed * 100 + i as u64, size)))
            .collect();
        let mut diff_ids: Vec<String> = descriptors
            .iter()
            .map(|d| format!("\"{}\"", d.digest))
            .collect();
        if gzip_layer {
            let mut bytes = vec![0x1f, 0x8b, 0x08, 0x00];
            bytes.extend(noise(seed * 100 + 99, 3000));
            descriptors.push(self.blob(gzip, bytes));
            let fake_diff_id = Descriptor::of(uncompressed, &noise(seed, 10)).digest;
            diff_ids.push(format!("\"{fake_diff_id}\""));
        }
        let config = format!(
            "{{\"architecture\":\"{}\",\"os\":\"{}\",{}\"config\":{{\"Env\":[\"SEED={seed}\"]}},\
             \"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[{}]}}}}",
            platform.architecture,
            platform.os,
            platform
                .variant
                .as_ref()
                .map(|v| format!("\"variant\":\"{v}\","))
                .unwrap_or_default(),
            diff_ids.join(",")
        );
        let config = self.blob(config_type, config.into_bytes());
        let builder = if docker {
            ImageManifest::docker_builder(config)
        } else {
            ImageManifest::builder(config)
        };
        let manifest = builder.layers(descriptors).build().unwrap();
        self.manifest(manifest)
    }

    /// An OCI index of two images, linux/amd64 and linux/arm64/v8.
    pub fn two_platform_index(&mut self, seed: u64) -> Manifest {
        let amd64 = Platform::new("linux", "amd64");
        let arm64 = Platform::new("linux", "arm64").with_variant("v8");
        let first = self.image(seed, &[1_000, 70_000], true, &amd64, false);
        let second = self.image(seed + 1, &[2_000], false, &arm64, false);
        let index = ImageIndex::builder()
            .manifest(first.descriptor().with_platform(amd64))
            .manifest(second.descriptor().with_platform(arm64))
            .build()
            .unwrap();
        self.manifest(index)
    }

    /// A source serving this content with `top` as its image.
    pub fn source(&self, top: &Manifest) -> MemorySource {
        MemorySource {
            name: ImageName::parse("oci:/memory").unwrap(),
            top: top.clone(),
            content: self.clone(),
            fail_after: None,
            failed: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// Serves [`Content`]; with `fail_after`, the first blob stream of the blob named breaks after
/// that many bytes.
#[derive(Debug, Clone)]
pub struct MemorySource {
    name: ImageName,
    top: Manifest,
    content: Content,
    /// The blob to break, and after how many bytes.
    pub fail_after: Option<(Digest, usize)>,
    failed: Arc<AtomicBool>,
}

impl MemorySource {
    /// The same source, breaking the first stream of `digest` after `bytes` bytes.
    pub fn failing(mut self, digest: &Digest, bytes: usize) -> MemorySource {
        self.fail_after = Some((digest.clone(), bytes));
        self
    }
}

/// `content` in chunks of 64 KiB.
pub fn chunks(content: Bytes) -> Vec<Result<Bytes, TransferError>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < content.len() {
        let end = (start + 64 * 1024).min(content.len());
        out.push(Ok(content.slice(start..end)));
        start = end;
    }
    out
}

/// A stream of `content`'s bytes.
pub fn bytes_stream(content: impl Into<Bytes>) -> BlobStream {
    Box::pin(stream::iter(chunks(content.into())))
}

#[async_trait]
impl ImageSource for MemorySource {
    fn name(&self) -> &ImageName {
        &self.name
    }

    async fn manifest(&self, digest: Option<&Digest>) -> Result<Manifest, TransferError> {
        let digest = digest.unwrap_or(self.top.digest());
        self.content.manifests.get(digest).cloned().ok_or_else(|| {
            let what = Missing::Manifest {
                digest: digest.clone(),
                held: None,
            };
            TransferError::not_found(what, "memory")
        })
    }

    async fn blob(
        &self,
        descriptor: &Descriptor,
        offset: u64,
    ) -> Result<BlobStream, TransferError> {
        let content = self
            .content
            .blobs
            .get(&descriptor.digest)
            .cloned()
            .ok_or_else(|| {
                let what = Missing::Blob {
                    digest: descriptor.digest.clone(),
                };
                TransferError::not_found(what, "memory")
            })?;
        let content = content.slice(usize::try_from(offset).unwrap()..);
        match &self.fail_after {
            Some((digest, after))
                if *digest == descriptor.digest && !self.failed.swap(true, Ordering::SeqCst) =>
            {
                let mut items = chunks(content.slice(..*after));
                items.push(Err(TransferError::Stalled { seconds: 1 }));
                Ok(Box::pin(stream::iter(items)))
            }
            _ => Ok(bytes_stream(content)),
        }
    }
}

/// Copies the image `source` names into `destination` with the copy engine: every platform
/// of an index, and no retry, so that a broken source ends the copy and a test can see what
/// the destination kept (the next copy resumes from it). Returns the top manifest.
pub async fn copy(
    source: &dyn ImageSource,
    destination: &dyn ImageDestination,
) -> Result<Manifest, TransferError> {
    let options = CopyOptions::new()
        .with_platforms(PlatformSelection::All)
        .with_retry(RetryOptions::new(
            1,
            Duration::from_millis(1),
            Duration::from_millis(1),
        ));
    let report = Copier::new().copy(source, destination, &options).await?;
    let top = source.manifest(None).await?;
    assert_eq!(report.manifest.digest, *top.digest());
    Ok(top)
}

/// Reads everything the image `source` names through it: the top manifest, and every manifest
/// and blob under it, by digest.
pub async fn read_all(source: &dyn ImageSource) -> (Manifest, HashMap<Digest, Bytes>) {
    let top = source.manifest(None).await.unwrap();
    let mut content = HashMap::new();
    content.insert(top.digest().clone(), top.bytes().clone());
    let mut manifests = vec![top.clone()];
    if top.kind().is_index() {
        for child in top.manifests() {
            let manifest = source.manifest(Some(&child.digest)).await.unwrap();
            assert_eq!(manifest.digest(), &child.digest);
            content.insert(manifest.digest().clone(), manifest.bytes().clone());
            manifests.push(manifest);
        }
    }
    for manifest in &manifests {
        if manifest.kind().is_index() {
            continue;
        }
        for (_, descriptor) in manifest.references() {
            let bytes = read_blob(source, descriptor).await;
            content.insert(descriptor.digest.clone(), bytes);
        }
    }
    (top, content)
}

/// A blob's bytes, read whole through `source`.
pub async fn read_blob(source: &dyn ImageSource, descriptor: &Descriptor) -> Bytes {
    let mut stream = source.blob(descriptor, 0).await.unwrap();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    Bytes::from(bytes)
}

/// Reads the image through `source` and checks it with `gantry_spec::validate`; returns the
/// top manifest and the content.
pub async fn read_and_validate(source: &dyn ImageSource) -> (Manifest, HashMap<Digest, Bytes>) {
    let (top, content) = read_all(source).await;
    validate::image(&content, &top.descriptor())
        .unwrap_or_else(|error| panic!("{}: {error}", source.name()));
    (top, content)
}

/// One member of a hand-made tar archive.
pub struct RawEntry<'a> {
    /// The path, stored as is.
    pub name: &'a str,
    /// The content.
    pub data: &'a [u8],
    /// The type flag: `b'0'` file, `b'2'` symbolic link, `b'5'` directory.
    pub kind: u8,
    /// A link's target.
    pub link: &'a str,
}

impl<'a> RawEntry<'a> {
    /// A regular file.
    pub fn file(name: &'a str, data: &'a [u8]) -> RawEntry<'a> {
        RawEntry {
            name,
            data,
            kind: b'0',
            link: "",
        }
    }

    /// A symbolic link.
    pub fn symlink(name: &'a str, link: &'a str) -> RawEntry<'a> {
        RawEntry {
            name,
            data: &[],
            kind: b'2',
            link,
        }
    }
}

/// A ustar archive of `entries`, headers written by hand so that any path can be stored.
pub fn raw_tar(entries: &[RawEntry<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in entries {
        let mut header = [0u8; 512];
        let put = |header: &mut [u8; 512], at: usize, value: &[u8]| {
            header[at..at + value.len()].copy_from_slice(value);
        };
        assert!(
            entry.name.len() <= 100,
            "raw_tar names are at most 100 bytes"
        );
        put(&mut header, 0, entry.name.as_bytes());
        put(&mut header, 100, b"0000644\0");
        put(&mut header, 108, b"0000000\0");
        put(&mut header, 116, b"0000000\0");
        put(
            &mut header,
            124,
            format!("{:011o}\0", entry.data.len()).as_bytes(),
        );
        put(&mut header, 136, b"00000000000\0");
        put(&mut header, 148, b"        ");
        header[156] = entry.kind;
        put(&mut header, 157, entry.link.as_bytes());
        put(&mut header, 257, b"ustar\0");
        put(&mut header, 263, b"00");
        let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
        put(&mut header, 148, format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(entry.data);
        let padding = (512 - entry.data.len() % 512) % 512;
        out.extend(std::iter::repeat_n(0, padding));
    }
    out.extend(std::iter::repeat_n(0, 1024));
    out
}

/// Every file under `dir`, relative, sorted.
pub fn files_under(dir: &std::path::Path) -> Vec<String> {
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}
