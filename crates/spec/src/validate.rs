//! Checks a whole image graph for consistency: every manifest, config and layer it needs is
//! there, with the size and digest its descriptor claims, the config agrees with the manifest
//! and the index entry that lead to it, and every index entry is itself a valid image.
//!
//! Content is read through [`ContentSource`], which the caller implements over whatever holds
//! the content (a map in tests, a store, a registry); the walk itself does no I/O. Tests in every
//! crate use it to check what they pushed, pulled or copied.
//!
//! ```
//! use std::collections::HashMap;
//!
//! use bytes::Bytes;
//! use gantry_reference::Digest;
//! use gantry_spec::{Descriptor, ImageConfig, ImageManifest, Platform, media_type, validate};
//!
//! let config = ImageConfig::new(&Platform::parse("linux/amd64")?).to_json()?;
//! let config_descriptor = Descriptor::of(media_type::OCI_IMAGE_CONFIG, &config);
//! let manifest = ImageManifest::builder(config_descriptor.clone()).build()?;
//!
//! let mut content: HashMap<Digest, Bytes> = HashMap::new();
//! content.insert(config_descriptor.digest.clone(), Bytes::from(config));
//! content.insert(manifest.digest().clone(), manifest.bytes().clone());
//! validate::image(&content, &manifest.descriptor())?;
//!
//! content.remove(&config_descriptor.digest);
//! assert!(validate::image(&content, &manifest.descriptor()).unwrap_err().is_not_found());
//! # Ok::<(), gantry_spec::SpecError>(())
//! ```

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use gantry_reference::Digest;

use crate::{
    Descriptor, ImageConfig, Manifest, ManifestKind, ParseOptions, Platform, SpecError, media_type,
};

/// Where [`image`] and [`manifest`] read content from, by digest.
pub trait ContentSource {
    /// The content with this digest, or `None` when there is none. The content is verified
    /// against its descriptor after it is fetched, so a source may return anything.
    fn fetch(&self, digest: &Digest) -> Option<Bytes>;
}

impl<S: ContentSource + ?Sized> ContentSource for &S {
    fn fetch(&self, digest: &Digest) -> Option<Bytes> {
        (**self).fetch(digest)
    }
}

impl<S: std::hash::BuildHasher> ContentSource for HashMap<Digest, Bytes, S> {
    fn fetch(&self, digest: &Digest) -> Option<Bytes> {
        self.get(digest).cloned()
    }
}

impl ContentSource for BTreeMap<Digest, Bytes> {
    fn fetch(&self, digest: &Digest) -> Option<Bytes> {
        self.get(digest).cloned()
    }
}

/// Fetches the manifest or index `root` points at, checks its size and digest, parses it with
/// `root`'s media type as its content type, and checks everything under it as [`manifest`]
/// does. Returns the parsed manifest.
///
/// When `root` carries a `platform` (an index entry does), the image config must name the same
/// operating system, architecture and variant (compared normalised).
pub fn image(source: &impl ContentSource, root: &Descriptor) -> Result<Manifest, SpecError> {
    let bytes = fetch_verified(source, root)?;
    let options = ParseOptions::new()
        .with_max_size(usize::MAX)
        .with_algorithm(root.digest.algorithm());
    let parsed = Manifest::parse_with(bytes, Some(&root.media_type), &options)?;
    check(source, &parsed, root.platform.as_ref())?;
    Ok(parsed)
}

/// Checks everything under a parsed manifest: for an image manifest, the config and every layer
/// are present with their descriptors' sizes and digests, an image config is valid and lists as
/// many `diff_ids` as there are layers (equal to the layer digests for uncompressed layers); for
/// an index, every entry that is a manifest is a valid image as [`image`] checks, and every other
/// entry is present. The subject is not checked: it need not exist.
///
/// Non-distributable and foreign layers (and any layer with `urls`) may be missing from the
/// source; when present, they are checked.
pub fn manifest(source: &impl ContentSource, manifest: &Manifest) -> Result<(), SpecError> {
    check(source, manifest, None)
}

fn check(
    source: &impl ContentSource,
    manifest: &Manifest,
    platform: Option<&Platform>,
) -> Result<(), SpecError> {
    if manifest.kind().is_index() {
        for entry in manifest.manifests() {
            if ManifestKind::from_media_type(&entry.media_type).is_some() {
                image(source, entry)?;
            } else {
                fetch_verified(source, entry)?;
            }
        }
        return Ok(());
    }
    let config_descriptor = manifest
        .config()
        .ok_or(SpecError::MissingField { field: "config" })?;
    let config_bytes = fetch_verified(source, config_descriptor)?;
    if media_type::is_image_config(&config_descriptor.media_type) {
        let config = ImageConfig::parse(&config_bytes)?;
        check_config(&config, manifest.layers(), platform)?;
    }
    for layer in manifest.layers() {
        let may_be_elsewhere =
            media_type::is_non_distributable(&layer.media_type) || !layer.urls.is_empty();
        match source.fetch(&layer.digest) {
            Some(content) => layer.verify(&content)?,
            None if may_be_elsewhere => {}
            None => {
                return Err(SpecError::MissingContent {
                    digest: layer.digest.clone(),
                });
            }
        }
    }
    Ok(())
}

fn check_config(
    config: &ImageConfig,
    layers: &[Descriptor],
    platform: Option<&Platform>,
) -> Result<(), SpecError> {
    let diff_ids = &config.rootfs.diff_ids;
    if diff_ids.len() != layers.len() {
        return Err(SpecError::LayerCountMismatch {
            layers: layers.len(),
            diff_ids: diff_ids.len(),
        });
    }
    for (layer, diff_id) in layers.iter().zip(diff_ids) {
        if media_type::is_uncompressed_layer(&layer.media_type) && &layer.digest != diff_id {
            return Err(SpecError::DigestMismatch {
                expected: diff_id.clone(),
                actual: layer.digest.clone(),
            });
        }
    }
    if let Some(entry) = platform {
        let entry = entry.normalized();
        let config = config.platform().normalized();
        let same = entry.os == config.os
            && entry.architecture == config.architecture
            && entry.variant == config.variant;
        if !same {
            return Err(SpecError::PlatformMismatch {
                entry: entry.to_string(),
                config: config.to_string(),
            });
        }
    }
    Ok(())
}

fn fetch_verified(
    source: &impl ContentSource,
    descriptor: &Descriptor,
) -> Result<Bytes, SpecError> {
    let content = source
        .fetch(&descriptor.digest)
        .ok_or_else(|| SpecError::MissingContent {
            digest: descriptor.digest.clone(),
        })?;
    descriptor.verify(&content)?;
    Ok(content)
}
