//! Writing one image as a `docker save` archive.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use async_trait::async_trait;
use bytes::Bytes;
use gantry_reference::{Algorithm, Digest, Reference};
use gantry_spec::{Descriptor, ImageConfig, Manifest, media_type};

use super::{MANIFEST_FILE, ManifestItem, REPOSITORIES_FILE};
use crate::archive::{self, TarMember};
use crate::fsutil;
use crate::layout::LayoutWriter;
use crate::{
    BlobStream, DockerArchiveRef, ImageDestination, ImageName, Missing, TransferError, Unsupported,
};

/// The most bytes of an image config read back to name the top layer.
const CONFIG_LIMIT: u64 = 64 * 1024 * 1024;

/// Writes one image as a `docker save` archive.
#[derive(Debug)]
pub struct DockerArchiveDestination {
    name: ImageName,
    target: PathBuf,
    reference: Option<Reference>,
    writer: LayoutWriter,
}

impl DockerArchiveDestination {
    /// Prepares to write the archive `path`, its image tagged `reference` (a reference with no
    /// tag gets `latest`; none leaves the image untagged). Nothing is written at `path` before
    /// [`commit`](ImageDestination::commit).
    pub async fn create(
        path: impl Into<PathBuf>,
        reference: Option<Reference>,
    ) -> Result<DockerArchiveDestination, TransferError> {
        let target = path.into();
        let reference = match reference {
            Some(reference) if reference.digest().is_some() => {
                return Err(TransferError::InvalidName {
                    input: reference.to_string(),
                    reason: "a Docker archive names images by tag, not digest".to_owned(),
                });
            }
            Some(reference) if reference.tag().is_none() => Some(
                reference
                    .with_tag(gantry_reference::DEFAULT_TAG)
                    .unwrap_or(reference),
            ),
            other => other,
        };
        let writer = LayoutWriter::staging(&target).await?;
        Ok(DockerArchiveDestination {
            name: ImageName::DockerArchive {
                path: target.clone(),
                reference: reference.clone().map(DockerArchiveRef::Tagged),
            },
            target,
            reference,
            writer,
        })
    }
}

/// How errors name a Docker archive destination.
const DESTINATION: &str = "a Docker archive";

/// Refuses what a Docker archive cannot hold: indexes, and manifests without an image config.
fn check_single(manifest: &Manifest) -> Result<&Descriptor, TransferError> {
    if manifest.kind().is_index() {
        return Err(TransferError::Unsupported(Unsupported::Index {
            destination: DESTINATION.to_owned(),
            index: Some(manifest.digest().clone()),
        }));
    }
    let config = manifest
        .config()
        .ok_or(gantry_spec::SpecError::MissingField { field: "config" })?;
    if !media_type::is_image_config(&config.media_type) {
        return Err(TransferError::Unsupported(Unsupported::Artifact {
            destination: DESTINATION.to_owned(),
            manifest: manifest.digest().clone(),
            reason: format!("its config is a {}", config.media_type),
        }));
    }
    Ok(config)
}

/// The chain ID of the top layer: the first diff ID, then `sha256(previous + " " + next)` for
/// each next one, as Docker names layers.
fn top_chain_id(diff_ids: &[Digest]) -> Option<Digest> {
    let mut chain: Option<Digest> = None;
    for diff_id in diff_ids {
        chain = Some(match chain {
            None => diff_id.clone(),
            Some(previous) => Digest::of(
                Algorithm::Sha256,
                format!("{previous} {diff_id}").as_bytes(),
            ),
        });
    }
    chain
}

#[async_trait]
impl ImageDestination for DockerArchiveDestination {
    fn name(&self) -> &ImageName {
        &self.name
    }

    fn supports_index(&self) -> bool {
        false
    }

    async fn has_blob(&self, descriptor: &Descriptor) -> Result<bool, TransferError> {
        self.writer.has_blob(descriptor).await
    }

    async fn resume_offset(&self, descriptor: &Descriptor) -> Result<u64, TransferError> {
        self.writer.resume_offset(descriptor).await
    }

    async fn put_blob(
        &self,
        descriptor: &Descriptor,
        offset: u64,
        data: BlobStream,
    ) -> Result<(), TransferError> {
        self.writer.put_blob(descriptor, offset, data).await
    }

    async fn put_manifest(&self, manifest: &Manifest) -> Result<(), TransferError> {
        // The archive keeps no registry manifest; manifest.json is written at commit.
        check_single(manifest).map(|_| ())
    }

    async fn commit(&self, manifest: &Manifest) -> Result<(), TransferError> {
        let config = check_single(manifest)?;
        let mut members = Vec::new();
        let mut written = HashSet::new();
        let mut add = |descriptor: &Descriptor, name: String| -> Result<(), TransferError> {
            if written.insert(name.clone()) {
                members.push(TarMember::file(
                    name,
                    self.writer.blob_file(&descriptor.digest),
                    descriptor.size,
                ));
            }
            Ok(())
        };
        for descriptor in std::iter::once(config).chain(manifest.layers()) {
            if !self.writer.has_blob(descriptor).await? {
                let what = Missing::NeededBlob {
                    digest: descriptor.digest.clone(),
                    media_type: descriptor.media_type.clone(),
                };
                return Err(TransferError::not_found(what, "the blobs written"));
            }
        }
        let config_name = format!("{}.json", config.digest.encoded());
        add(config, config_name.clone())?;
        let mut layer_names = Vec::new();
        for layer in manifest.layers() {
            let name = format!("{}.tar", layer.digest.encoded());
            add(layer, name.clone())?;
            layer_names.push(name);
        }

        let repo_tags: Vec<String> = self
            .reference
            .iter()
            .map(Reference::familiar_string)
            .collect();
        let list = vec![ManifestItem {
            config: config_name,
            repo_tags: Some(repo_tags),
            layers: layer_names,
        }];
        let list = serde_json::to_vec(&list).map_err(gantry_spec::SpecError::InvalidJson)?;
        members.push(TarMember::bytes(MANIFEST_FILE, list));

        if let Some(reference) = &self.reference {
            let config_path = self.writer.blob_file(&config.digest);
            let config_bytes = fsutil::read_limited(&config_path, CONFIG_LIMIT, |_| {
                let what = Missing::File {
                    name: config_path.display().to_string(),
                };
                TransferError::not_found(what, "the blobs written")
            })
            .await
            .ok()
            .flatten();
            let diff_ids = config_bytes
                .and_then(|bytes| ImageConfig::parse(&bytes).ok())
                .map(|config| config.rootfs.diff_ids)
                .filter(|diff_ids| diff_ids.len() == manifest.layers().len())
                .unwrap_or_else(|| {
                    manifest
                        .layers()
                        .iter()
                        .map(|layer| layer.digest.clone())
                        .collect()
                });
            if let Some(top) = top_chain_id(&diff_ids) {
                let tag = reference.tag().unwrap_or(gantry_reference::DEFAULT_TAG);
                let mut tags = BTreeMap::new();
                tags.insert(tag.to_owned(), top.encoded().to_owned());
                let mut repositories = BTreeMap::new();
                repositories.insert(reference.familiar_name(), tags);
                let repositories = serde_json::to_vec(&repositories)
                    .map_err(gantry_spec::SpecError::InvalidJson)?;
                members.push(TarMember::bytes(
                    REPOSITORIES_FILE,
                    Bytes::from(repositories),
                ));
            }
        }
        archive::write_atomically(&self.target, members).await?;
        self.writer.remove_staging().await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_docker() {
        let a = Digest::of(Algorithm::Sha256, b"a");
        let b = Digest::of(Algorithm::Sha256, b"b");
        assert_eq!(top_chain_id(&[]), None);
        assert_eq!(top_chain_id(std::slice::from_ref(&a)), Some(a.clone()));
        assert_eq!(
            top_chain_id(&[a.clone(), b.clone()]),
            Some(Digest::of(Algorithm::Sha256, format!("{a} {b}").as_bytes()))
        );
    }
}
