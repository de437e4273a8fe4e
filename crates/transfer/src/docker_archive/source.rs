//! Reading one image of a `docker save` archive.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use gantry_reference::{Algorithm, Digest, Digester, Reference};
use gantry_spec::{Descriptor, ImageManifest, Manifest, media_type};

use super::{FORMAT, MANIFEST_FILE, ManifestItem};
use crate::archive::{TarFile, TarIndex};
use crate::fsutil::{self, io_error};
use crate::{BlobStream, DockerArchiveRef, ImageName, ImageSource, Missing, TransferError};

/// The most bytes `manifest.json` may have.
const MANIFEST_LIST_LIMIT: u64 = 16 * 1024 * 1024;
/// The most bytes an image config may have.
const CONFIG_LIMIT: u64 = 64 * 1024 * 1024;

/// The first bytes of a gzip stream.
const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
/// The first bytes of a zstd frame.
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// Reads one image of a `docker save` archive, with a synthesised Docker schema 2 manifest.
#[derive(Debug)]
pub struct DockerArchiveSource {
    name: ImageName,
    archive: Arc<TarIndex>,
    manifest: Manifest,
    /// Where each blob of the manifest is in the archive.
    files: HashMap<Digest, String>,
}

impl DockerArchiveSource {
    /// Indexes the archive at `path`, picks the image (`reference`'s tag or position, or the
    /// only one), and hashes its layer files to describe them.
    ///
    /// Errors: [`TransferError::InvalidFormat`] for a damaged archive, a bad `manifest.json` or
    /// a config or layer it names that is not there; [`TransferError::NotFound`] for a tag or
    /// position it does not have; [`TransferError::AmbiguousImage`] for no reference and
    /// several images.
    pub async fn open(
        path: impl Into<PathBuf>,
        reference: Option<DockerArchiveRef>,
    ) -> Result<DockerArchiveSource, TransferError> {
        let path = path.into();
        let invalid = |reason: String| TransferError::InvalidFormat {
            format: FORMAT,
            reason,
        };
        let display = path.display().to_string();
        let archive = TarIndex::scan(&path, FORMAT).await?;
        let list = archive
            .read(MANIFEST_FILE, MANIFEST_LIST_LIMIT)
            .await?
            .ok_or_else(|| invalid(format!("{display} has no {MANIFEST_FILE}")))?;
        let items: Vec<ManifestItem> = serde_json::from_slice(&list)
            .map_err(|error| invalid(format!("{display}: {MANIFEST_FILE}: {error}")))?;
        let item = choose(&items, reference.as_ref(), &display)?;

        let config = archive
            .read(&item.config, CONFIG_LIMIT)
            .await?
            .ok_or_else(|| {
                invalid(format!(
                    "{display}: {MANIFEST_FILE} names the config {}, which the archive does not hold",
                    item.config
                ))
            })?;
        let config_descriptor = Descriptor::of(media_type::DOCKER_CONTAINER_CONFIG, &config);
        let mut files = HashMap::new();
        files.insert(config_descriptor.digest.clone(), item.config.clone());

        let mut hashed: HashMap<TarFile, (Digest, &'static str)> = HashMap::new();
        let mut layers = Vec::with_capacity(item.layers.len());
        for layer in &item.layers {
            let file = archive.get(layer)?.ok_or_else(|| {
                invalid(format!(
                    "{display}: {MANIFEST_FILE} names the layer {layer}, which the archive does not hold"
                ))
            })?;
            let (digest, layer_type) = match hashed.get(&file) {
                Some(known) => known.clone(),
                None => {
                    let index = Arc::clone(&archive);
                    let known = fsutil::blocking(&path, move || hash_file(&index, file)).await?;
                    hashed.insert(file, known.clone());
                    known
                }
            };
            files.insert(digest.clone(), layer.clone());
            layers.push(Descriptor::new(layer_type, digest, file.size));
        }
        let manifest = ImageManifest::docker_builder(config_descriptor)
            .layers(layers)
            .build()?;
        Ok(DockerArchiveSource {
            name: ImageName::DockerArchive { path, reference },
            archive,
            manifest,
            files,
        })
    }

    fn missing_member(&self, name: &str) -> TransferError {
        let what = Missing::File {
            name: name.to_owned(),
        };
        TransferError::not_found(what, self.archive.path().display())
    }

    fn file(&self, digest: &Digest) -> Result<&str, TransferError> {
        self.files.get(digest).map(String::as_str).ok_or_else(|| {
            let what = Missing::Blob {
                digest: digest.clone(),
            };
            TransferError::not_found(what, self.archive.path().display())
        })
    }
}

/// The images of `items` as people name them: their tags, or `@N` for an untagged one.
fn tags(items: &[ManifestItem]) -> String {
    items
        .iter()
        .enumerate()
        .map(|(position, item)| match item.repo_tags.as_deref() {
            Some(tags) if !tags.is_empty() => tags.join(" "),
            _ => format!("@{position}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The image `reference` picks among `items`.
fn choose<'a>(
    items: &'a [ManifestItem],
    reference: Option<&DockerArchiveRef>,
    display: &str,
) -> Result<&'a ManifestItem, TransferError> {
    match reference {
        None => match items {
            [only] => Ok(only),
            [] => Err(TransferError::not_found(Missing::AnyImage, display)),
            _ => Err(TransferError::AmbiguousImage {
                name: display.to_owned(),
                candidates: tags(items),
            }),
        },
        Some(DockerArchiveRef::Index(position)) => items.get(*position).ok_or_else(|| {
            let what = Missing::Image {
                wanted: format!("@{position}"),
                available: format!("{} images", items.len()),
            };
            TransferError::not_found(what, display)
        }),
        Some(DockerArchiveRef::Tagged(wanted)) => items
            .iter()
            .find(|item| {
                item.repo_tags
                    .iter()
                    .flatten()
                    .any(|tag| Reference::parse_docker_ref(tag).is_ok_and(|tag| tag == *wanted))
            })
            .ok_or_else(|| {
                let what = Missing::Image {
                    wanted: wanted.to_string(),
                    available: tags(items),
                };
                TransferError::not_found(what, display)
            }),
    }
}

/// The SHA-256 digest of a file of the archive, and the layer media type its first bytes say.
fn hash_file(archive: &TarIndex, file: TarFile) -> Result<(Digest, &'static str), TransferError> {
    let path = archive.path().to_path_buf();
    let mut reader = archive.open_blocking(file)?;
    let mut digester = Digester::new(Algorithm::Sha256);
    let mut head = Vec::with_capacity(ZSTD_MAGIC.len());
    let mut buffer = vec![0; 256 * 1024];
    let mut total = 0u64;
    loop {
        let read = reader.read(&mut buffer).map_err(io_error(&path))?;
        if read == 0 {
            break;
        }
        let wanted = ZSTD_MAGIC.len().saturating_sub(head.len()).min(read);
        head.extend_from_slice(&buffer[..wanted]);
        digester.update(&buffer[..read]);
        total += read as u64;
    }
    if total != file.size {
        return Err(TransferError::InvalidFormat {
            format: FORMAT,
            reason: format!("{}: a layer file is cut short", path.display()),
        });
    }
    let layer_type = if head.starts_with(GZIP_MAGIC) {
        media_type::DOCKER_LAYER_TAR_GZIP
    } else if head.starts_with(ZSTD_MAGIC) {
        media_type::OCI_LAYER_TAR_ZSTD
    } else {
        media_type::DOCKER_LAYER_TAR
    };
    Ok((digester.finish(), layer_type))
}

#[async_trait]
impl ImageSource for DockerArchiveSource {
    fn name(&self) -> &ImageName {
        &self.name
    }

    async fn manifest(&self, digest: Option<&Digest>) -> Result<Manifest, TransferError> {
        match digest {
            None => Ok(self.manifest.clone()),
            Some(digest) => {
                if self.manifest.verify_digest(digest).is_ok() {
                    Ok(self.manifest.clone())
                } else {
                    let what = Missing::Manifest {
                        digest: digest.clone(),
                        held: Some(self.manifest.digest().clone()),
                    };
                    Err(TransferError::not_found(
                        what,
                        self.archive.path().display(),
                    ))
                }
            }
        }
    }

    async fn blob(
        &self,
        descriptor: &Descriptor,
        offset: u64,
    ) -> Result<BlobStream, TransferError> {
        let name = self.file(&descriptor.digest)?;
        self.archive
            .stream(name, offset, None)
            .await?
            .ok_or_else(|| self.missing_member(name))
    }

    async fn blob_range(
        &self,
        descriptor: &Descriptor,
        start: u64,
        end: u64,
    ) -> Result<Option<BlobStream>, TransferError> {
        let name = self.file(&descriptor.digest)?;
        let stream = self
            .archive
            .stream(name, start, Some(end.max(start)))
            .await?
            .ok_or_else(|| self.missing_member(name))?;
        Ok(Some(stream))
    }
}
