//! Reading an OCI image layout, from a directory or from a tar of one: the part of
//! [`OciLayoutSource`](super::OciLayoutSource) that `oci-archive:` shares.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use gantry_reference::Digest;
use gantry_spec::layout::{self, OciLayout};
use gantry_spec::{
    DEFAULT_MAX_MANIFEST_SIZE, Descriptor, Manifest, ManifestKind, ParseOptions, annotations,
};

use crate::archive::TarIndex;
use crate::fsutil;
use crate::{BlobStream, Missing, TransferError};

/// The most bytes `index.json` may have.
pub(crate) const INDEX_LIMIT: u64 = 64 * 1024 * 1024;
/// The most bytes a manifest in a layout may have, as registries enforce.
pub(crate) const MANIFEST_LIMIT: u64 = DEFAULT_MAX_MANIFEST_SIZE as u64;
/// The most manifests one walk of a layout reads (looking up a media type, listing referrers).
const WALK_LIMIT: usize = 1024;

/// Where a layout's files are.
#[derive(Debug, Clone)]
pub(crate) enum Files {
    /// A directory.
    Dir(PathBuf),
    /// A tar archive, indexed.
    Tar(Arc<TarIndex>),
}

impl Files {
    fn format(&self) -> &'static str {
        match self {
            Files::Dir(_) => "OCI layout",
            Files::Tar(index) => index.format(),
        }
    }

    fn display(&self) -> String {
        match self {
            Files::Dir(dir) => dir.display().to_string(),
            Files::Tar(index) => index.path().display().to_string(),
        }
    }

    /// The whole file at `name` (relative to the layout's root), `None` when missing.
    pub(crate) async fn read(
        &self,
        name: &str,
        limit: u64,
    ) -> Result<Option<Bytes>, TransferError> {
        match self {
            Files::Dir(dir) => {
                let format = self.format();
                fsutil::read_limited(&dir.join(name), limit, |size| {
                    TransferError::InvalidFormat {
                        format,
                        reason: format!("{name} is {size} bytes, more than the {limit} allowed"),
                    }
                })
                .await
            }
            Files::Tar(index) => index.read(name, limit).await,
        }
    }

    /// The bytes `start..end` of the file at `name` (to its end when `end` is `None`), `None`
    /// when missing.
    pub(crate) async fn stream(
        &self,
        name: &str,
        start: u64,
        end: Option<u64>,
    ) -> Result<Option<BlobStream>, TransferError> {
        match self {
            Files::Dir(dir) => {
                let path = dir.join(name);
                let length = end.map(|end| end.saturating_sub(start));
                match fsutil::file_stream(&path, start, length).await {
                    Ok(stream) => Ok(Some(stream)),
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(error) => Err(TransferError::io(path, error)),
                }
            }
            Files::Tar(index) => index.stream(name, start, end).await,
        }
    }
}

/// An opened layout: its index and the entry the name picked.
#[derive(Debug)]
pub(crate) struct LayoutReader {
    files: Files,
    top: Descriptor,
    entries: Vec<Descriptor>,
}

impl LayoutReader {
    /// Checks `oci-layout`, reads `index.json`, and picks the entry named `reference` (or the
    /// only one).
    pub(crate) async fn open(
        files: Files,
        reference: Option<&str>,
    ) -> Result<LayoutReader, TransferError> {
        let format = files.format();
        let invalid = |reason: String| TransferError::InvalidFormat { format, reason };
        let display = files.display();
        let marker = files
            .read(layout::OCI_LAYOUT_FILE, 64 * 1024)
            .await?
            .ok_or_else(|| invalid(format!("{display} has no {} file", layout::OCI_LAYOUT_FILE)))?;
        OciLayout::parse(&marker)
            .map_err(|error| invalid(format!("{display}: {}: {error}", layout::OCI_LAYOUT_FILE)))?;
        let index = files
            .read(layout::INDEX_FILE, INDEX_LIMIT)
            .await?
            .ok_or_else(|| invalid(format!("{display} has no {}", layout::INDEX_FILE)))?;
        let options = ParseOptions::new().with_max_size(usize::MAX);
        let index = layout::parse_index(index, &options)
            .map_err(|error| invalid(format!("{display}: {}: {error}", layout::INDEX_FILE)))?;
        let entries = index.manifests().to_vec();
        let top = match reference {
            Some(name) => layout::find_ref_name(&index, name)
                .cloned()
                .ok_or_else(|| {
                    let wanted = Missing::Image {
                        wanted: format!("{name:?}"),
                        available: candidates(&entries),
                    };
                    TransferError::not_found(wanted, &display)
                })?,
            None => match entries.as_slice() {
                [only] => only.clone(),
                [] => {
                    return Err(TransferError::not_found(Missing::AnyImage, display));
                }
                _ => {
                    return Err(TransferError::AmbiguousImage {
                        name: display,
                        candidates: candidates(&entries),
                    });
                }
            },
        };
        Ok(LayoutReader {
            files,
            top,
            entries,
        })
    }

    /// The entry the name picked.
    pub(crate) fn top(&self) -> &Descriptor {
        &self.top
    }

    /// The manifest the name picked, or the one with `digest`.
    pub(crate) async fn manifest(
        &self,
        digest: Option<&Digest>,
    ) -> Result<Manifest, TransferError> {
        let descriptor = match digest {
            None => self.top.clone(),
            Some(digest) if *digest == self.top.digest => self.top.clone(),
            Some(digest) => match self.find_descriptor(digest).await? {
                Some(descriptor) => descriptor,
                // Not listed anywhere the walk looked: read it by its shape.
                None => Descriptor::new("application/octet-stream", digest.clone(), 0),
            },
        };
        self.read_manifest(&descriptor, digest.is_none() || descriptor.size > 0)
            .await
    }

    /// Reads, checks and parses the manifest `descriptor` points at; with `check_size`, its
    /// size must be the descriptor's.
    async fn read_manifest(
        &self,
        descriptor: &Descriptor,
        check_size: bool,
    ) -> Result<Manifest, TransferError> {
        let digest = &descriptor.digest;
        let bytes = self
            .files
            .read(&layout::blob_path(digest), MANIFEST_LIMIT)
            .await?
            .ok_or_else(|| {
                let what = Missing::Manifest {
                    digest: digest.clone(),
                    held: None,
                };
                TransferError::not_found(what, self.files.display())
            })?;
        if check_size && bytes.len() as u64 != descriptor.size {
            return Err(TransferError::SizeMismatch {
                digest: digest.clone(),
                expected: descriptor.size,
                actual: bytes.len() as u64,
            });
        }
        let content_type = ManifestKind::from_media_type(&descriptor.media_type)
            .is_some()
            .then_some(descriptor.media_type.as_str());
        let options = ParseOptions::new()
            .with_max_size(usize::MAX)
            .with_algorithm(digest.algorithm());
        let manifest = Manifest::parse_with(bytes, content_type, &options)?;
        if manifest.digest() != digest {
            return Err(TransferError::DigestMismatch {
                expected: digest.clone(),
                actual: manifest.digest().clone(),
            });
        }
        Ok(manifest)
    }

    /// Every manifest descriptor reachable from `index.json` through indexes, at most
    /// [`WALK_LIMIT`] of them, in breadth-first order. Indexes that cannot be read are passed
    /// over: they are not what the caller looks for.
    async fn manifest_descriptors(&self) -> Result<Vec<Descriptor>, TransferError> {
        let mut queue: std::collections::VecDeque<Descriptor> =
            self.entries.iter().cloned().collect();
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        while let Some(descriptor) = queue.pop_front() {
            if found.len() >= WALK_LIMIT {
                break;
            }
            if !seen.insert(descriptor.digest.clone()) {
                continue;
            }
            let kind = ManifestKind::from_media_type(&descriptor.media_type);
            if kind.is_some_and(ManifestKind::is_index)
                && let Ok(index) = self.read_manifest(&descriptor, true).await
            {
                queue.extend(index.manifests().iter().cloned());
            }
            if kind.is_some() {
                found.push(descriptor);
            }
        }
        Ok(found)
    }

    async fn find_descriptor(&self, digest: &Digest) -> Result<Option<Descriptor>, TransferError> {
        Ok(self
            .manifest_descriptors()
            .await?
            .into_iter()
            .find(|descriptor| descriptor.digest == *digest))
    }

    /// The bytes of a blob from `start` to `end` (its end when `None`).
    pub(crate) async fn blob(
        &self,
        descriptor: &Descriptor,
        start: u64,
        end: Option<u64>,
    ) -> Result<BlobStream, TransferError> {
        self.files
            .stream(&layout::blob_path(&descriptor.digest), start, end)
            .await?
            .ok_or_else(|| {
                let what = Missing::Blob {
                    digest: descriptor.digest.clone(),
                };
                TransferError::not_found(what, self.files.display())
            })
    }

    /// The manifests of the layout whose subject is `digest`: those `index.json` lists and
    /// those its indexes list, at most [`WALK_LIMIT`] looked at.
    pub(crate) async fn referrers(
        &self,
        digest: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, TransferError> {
        let mut referrers = Vec::new();
        for descriptor in self.manifest_descriptors().await? {
            if descriptor.digest == *digest {
                continue;
            }
            let Ok(manifest) = self.read_manifest(&descriptor, true).await else {
                continue;
            };
            if manifest.subject().map(|subject| &subject.digest) != Some(digest) {
                continue;
            }
            let kind_artifact_type = match manifest.as_image() {
                Some(image) => Some(image.effective_artifact_type().to_owned()),
                None => manifest.artifact_type().map(str::to_owned),
            };
            if artifact_type.is_some() && kind_artifact_type.as_deref() != artifact_type {
                continue;
            }
            let mut referrer = manifest.descriptor();
            referrer.artifact_type = kind_artifact_type;
            referrer.annotations = manifest.annotations().clone();
            referrers.push(referrer);
        }
        Ok(referrers)
    }
}

/// The entries of an index, as a user would name them: ref names, else digests.
fn candidates(entries: &[Descriptor]) -> String {
    let names: Vec<String> = entries
        .iter()
        .map(|entry| match entry.annotations.get(annotations::REF_NAME) {
            Some(name) => name.clone(),
            None => entry.digest.to_string(),
        })
        .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}
