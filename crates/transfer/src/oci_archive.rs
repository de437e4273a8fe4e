//! `oci-archive:FILE[:REF]`: an OCI image layout in a tar file, read by [`OciArchiveSource`]
//! and written by [`OciArchiveDestination`].
//!
//! The source does not extract anything: opening the archive walks its tar headers once
//! (seeking over the data) and keeps where each file's bytes lie, and every read is then a range
//! of the archive file. That needs no temporary space, costs one pass over the headers however
//! large the layers are, and serves offsets and ranges directly. Entries whose path is
//! absolute or contains `..` are refused ([`TransferError::UnsafePath`]), and a truncated or
//! damaged tar is [`TransferError::InvalidFormat`].
//!
//! The destination writes an OCI layout (see [`layout`](crate::layout)) into the hidden staging
//! directory `.FILE.gantry-staging/` beside the archive, with the same verified, resumable blob
//! writes. [`commit`](crate::ImageDestination::commit) names the image in the staging
//! `index.json`, writes `oci-layout`, `index.json` and every blob the image reaches into a tar
//! under a temporary name beside `FILE`, renames it over `FILE`, and removes the staging
//! directory. Until then `FILE` is untouched; after a failed copy the staging directory stays,
//! so that the next copy to the same file resumes its blobs. The archive holds only the image
//! written (an existing `FILE` is replaced, as skopeo does).

use std::path::PathBuf;

use async_trait::async_trait;
use gantry_spec::layout;
use gantry_spec::{Descriptor, Manifest};

use crate::archive::{self, TarIndex, TarMember};
use crate::fsutil;
use crate::layout::{Files, LayoutReader, LayoutWriter, layout_source};
use crate::{BlobStream, ImageDestination, ImageName, TransferError};

/// The format name in errors.
const FORMAT: &str = "OCI archive";

/// Reads an image from a tar of an OCI image layout.
#[derive(Debug)]
pub struct OciArchiveSource {
    name: ImageName,
    reader: LayoutReader,
}

impl OciArchiveSource {
    /// Indexes the archive at `path` and picks the image named `reference` in its
    /// `index.json`, or its only image when `reference` is `None`.
    pub async fn open(
        path: impl Into<PathBuf>,
        reference: Option<String>,
    ) -> Result<OciArchiveSource, TransferError> {
        let path = path.into();
        let index = TarIndex::scan(&path, FORMAT).await?;
        let reader = LayoutReader::open(Files::Tar(index), reference.as_deref()).await?;
        Ok(OciArchiveSource {
            name: ImageName::OciArchive { path, reference },
            reader,
        })
    }

    /// The `index.json` entry this source reads.
    pub fn descriptor(&self) -> &Descriptor {
        self.reader.top()
    }
}

layout_source!(OciArchiveSource);

/// Writes an image into a new tar of an OCI image layout.
#[derive(Debug)]
pub struct OciArchiveDestination {
    name: ImageName,
    target: PathBuf,
    reference: Option<String>,
    writer: LayoutWriter,
}

impl OciArchiveDestination {
    /// Prepares to write the archive `path`, the image named `reference` in its `index.json`
    /// (unnamed when `None`). Nothing is written at `path` before
    /// [`commit`](ImageDestination::commit).
    pub async fn create(
        path: impl Into<PathBuf>,
        reference: Option<String>,
    ) -> Result<OciArchiveDestination, TransferError> {
        let target = path.into();
        if let Some(reference) = &reference {
            crate::name::check_ref_name(reference).map_err(|reason| {
                TransferError::InvalidName {
                    input: reference.clone(),
                    reason,
                }
            })?;
        }
        let writer = LayoutWriter::staging(&target).await?;
        Ok(OciArchiveDestination {
            name: ImageName::OciArchive {
                path: target.clone(),
                reference: reference.clone(),
            },
            target,
            reference,
            writer,
        })
    }
}

#[async_trait]
impl ImageDestination for OciArchiveDestination {
    fn name(&self) -> &ImageName {
        &self.name
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
        self.writer.put_manifest(manifest).await
    }

    async fn commit(&self, manifest: &Manifest) -> Result<(), TransferError> {
        self.writer
            .commit(manifest, self.reference.as_deref())
            .await?;
        let root = self.writer.root().to_path_buf();
        let mut blobs = self.writer.reachable_blobs().await?;
        blobs.sort();
        let mut members = vec![
            TarMember::file(
                layout::OCI_LAYOUT_FILE,
                root.join(layout::OCI_LAYOUT_FILE),
                fsutil::file_size(&root.join(layout::OCI_LAYOUT_FILE)).await?,
            ),
            TarMember::file(
                layout::INDEX_FILE,
                root.join(layout::INDEX_FILE),
                fsutil::file_size(&root.join(layout::INDEX_FILE)).await?,
            ),
            TarMember::directory(layout::BLOBS_DIR),
        ];
        let mut algorithms: Vec<&str> = blobs
            .iter()
            .map(|(digest, _)| digest.algorithm().as_str())
            .collect();
        algorithms.dedup();
        for algorithm in algorithms {
            members.push(TarMember::directory(format!(
                "{}/{algorithm}",
                layout::BLOBS_DIR
            )));
        }
        for (digest, size) in &blobs {
            let name = layout::blob_path(digest);
            members.push(TarMember::file(
                name.clone(),
                self.writer.blob_file(digest),
                *size,
            ));
        }
        archive::write_atomically(&self.target, members).await?;
        self.writer.remove_staging().await;
        Ok(())
    }
}
