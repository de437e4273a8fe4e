//! `oci:PATH[:REF]`: an OCI image layout directory, read by [`OciLayoutSource`] and written by
//! [`OciLayoutDestination`].
//!
//! A layout holds several images, each named in `index.json` by its
//! `org.opencontainers.image.ref.name` annotation. A source with no `REF` reads the layout's
//! only entry (an error names the candidates when there are several); a destination with no
//! `REF` adds an unnamed entry.
//!
//! # Writing
//!
//! Nothing becomes visible before it is verified. A blob streams into a partial file in the
//! *ingest area*, hashed as it goes; only when its size and digest match is it fsynced and
//! renamed to `blobs/<alg>/<hex>`. Manifests go the same way, and [`commit`] rewrites
//! `index.json` (a temporary file, then a rename) as the last step. Blob writes of different
//! blobs may run at once; two writers of one layout at once are not supported.
//!
//! # The ingest area and resuming
//!
//! The ingest area is the hidden directory `.gantry-ingest/` inside the layout (OCI layout
//! readers ignore files they do not know, and `oci-archive:` leaves it out). For a blob it
//! holds, like containerd's ingest:
//!
//! ```text
//! .gantry-ingest/<alg>-<hex>.data    the bytes received so far
//! .gantry-ingest/<alg>-<hex>.state   {"digest", "size", "offset", "hashState"}: JSON
//! ```
//!
//! The state (a [`SavedState`](gantry_reference::SavedState) in hex, after `offset` bytes) is
//! saved, after an fsync of the data, every 4 MiB and when the stream fails or ends early, so a
//! copy killed and started again loses at most the last 4 MiB.
//! [`resume_offset`](crate::ImageDestination::resume_offset) answers `offset` only when the data
//! file holds at least `offset` bytes (anything after is cut off) and those bytes hash to the
//! saved state; otherwise both files are discarded and the answer is 0. That check reads the
//! kept prefix once, locally: it is what makes stale or corrupt partial data harmless, and the
//! whole blob is still checked against its digest before it becomes visible. A digest or size
//! mismatch discards the partial data. The directory is removed when it is empty.
//!
//! [`commit`]: crate::ImageDestination::commit

mod reader;
pub(crate) mod writer;

use std::path::PathBuf;

use async_trait::async_trait;
use gantry_spec::{Descriptor, Manifest};

pub(crate) use self::reader::{Files, LayoutReader};
pub(crate) use self::writer::LayoutWriter;
use crate::{BlobStore, BlobStream, ImageDestination, ImageName, TransferError};

/// Reads an image from an OCI image layout directory.
#[derive(Debug)]
pub struct OciLayoutSource {
    name: ImageName,
    reader: LayoutReader,
}

impl OciLayoutSource {
    /// Opens the layout at `path` and picks the image named `reference` in its `index.json`,
    /// or its only image when `reference` is `None`.
    ///
    /// Errors: [`TransferError::InvalidFormat`] for a directory that is no layout (no
    /// `oci-layout`, a bad `index.json`), [`TransferError::NotFound`] for a missing name or an
    /// empty layout, [`TransferError::AmbiguousImage`] for no name and several images.
    pub async fn open(
        path: impl Into<PathBuf>,
        reference: Option<String>,
    ) -> Result<OciLayoutSource, TransferError> {
        let path = path.into();
        let reader = LayoutReader::open(Files::Dir(path.clone()), reference.as_deref()).await?;
        Ok(OciLayoutSource {
            name: ImageName::OciLayout { path, reference },
            reader,
        })
    }

    /// The `index.json` entry this source reads.
    pub fn descriptor(&self) -> &Descriptor {
        self.reader.top()
    }
}

/// Implements [`ImageSource`] for a struct with a `name: ImageName` and a
/// `reader: LayoutReader`: every layout, in a directory or in a tar, reads the same way.
macro_rules! layout_source {
    ($source:ty) => {
        #[async_trait::async_trait]
        impl $crate::ImageSource for $source {
            fn name(&self) -> &$crate::ImageName {
                &self.name
            }

            async fn manifest(
                &self,
                digest: Option<&gantry_reference::Digest>,
            ) -> Result<gantry_spec::Manifest, $crate::TransferError> {
                self.reader.manifest(digest).await
            }

            async fn blob(
                &self,
                descriptor: &gantry_spec::Descriptor,
                offset: u64,
            ) -> Result<$crate::BlobStream, $crate::TransferError> {
                self.reader.blob(descriptor, offset, None).await
            }

            async fn blob_range(
                &self,
                descriptor: &gantry_spec::Descriptor,
                start: u64,
                end: u64,
            ) -> Result<Option<$crate::BlobStream>, $crate::TransferError> {
                let stream = self
                    .reader
                    .blob(descriptor, start, Some(end.max(start)))
                    .await?;
                Ok(Some(stream))
            }

            async fn referrers(
                &self,
                digest: &gantry_reference::Digest,
                artifact_type: Option<&str>,
            ) -> Result<Vec<gantry_spec::Descriptor>, $crate::TransferError> {
                self.reader.referrers(digest, artifact_type).await
            }
        }
    };
}
pub(crate) use layout_source;

layout_source!(OciLayoutSource);

/// Writes an image into an OCI image layout directory, creating it when missing and adding to
/// it when not.
#[derive(Debug)]
pub struct OciLayoutDestination {
    name: ImageName,
    reference: Option<String>,
    writer: LayoutWriter,
}

impl OciLayoutDestination {
    /// Opens (or creates) the layout at `path`; [`commit`](ImageDestination::commit) names the
    /// image `reference` in its `index.json`, or adds it unnamed.
    ///
    /// An existing `oci-layout` or `index.json` that is not valid is
    /// [`TransferError::InvalidFormat`]: the layout is not overwritten.
    pub async fn create(
        path: impl Into<PathBuf>,
        reference: Option<String>,
    ) -> Result<OciLayoutDestination, TransferError> {
        let path = path.into();
        if let Some(reference) = &reference {
            crate::name::check_ref_name(reference).map_err(|reason| {
                TransferError::InvalidName {
                    input: reference.clone(),
                    reason,
                }
            })?;
        }
        let writer = LayoutWriter::create(path.clone()).await?;
        Ok(OciLayoutDestination {
            name: ImageName::OciLayout {
                path,
                reference: reference.clone(),
            },
            reference,
            writer,
        })
    }
}

#[async_trait]
impl ImageDestination for OciLayoutDestination {
    fn name(&self) -> &ImageName {
        &self.name
    }

    fn blob_store(&self) -> Option<BlobStore> {
        match &self.name {
            ImageName::OciLayout { path, .. } => Some(BlobStore::Directory(path.clone())),
            _ => None,
        }
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
            .await
    }
}
