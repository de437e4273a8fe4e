//! What every transport provides: an [`ImageSource`] to read an image from and an
//! [`ImageDestination`] to write one to, in the spirit of containers/image.
//!
//! The copy engine (`copy`) talks only to these two traits, so any source can be copied to any
//! destination. Sources hand out raw bytes; destinations check them: every
//! [`ImageDestination::put_blob`] verifies size and digest as the bytes stream and makes nothing
//! visible unless they match, and [`ImageDestination::commit`] is the one step that makes the
//! image itself visible.

use std::path::PathBuf;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::Stream;
use gantry_reference::Digest;
use gantry_spec::{Descriptor, Manifest};

use crate::{ImageName, TransferError};

/// The bytes of one blob, in order, as they arrive.
pub type BlobStream = Pin<Box<dyn Stream<Item = Result<Bytes, TransferError>> + Send>>;

/// A repository on a registry that a destination on the same registry can mount blobs from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MountOrigin {
    /// The registry's domain, as in the reference (`docker.io`, `localhost:5000`).
    pub registry: String,
    /// The repository's path on that registry (`library/alpine`).
    pub repository: String,
}

/// Where a destination keeps its blobs. Copies sharing a [`Copier`](crate::copy::Copier) whose
/// destinations name the same store send each blob there once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BlobStore {
    /// A repository on a registry.
    Registry(MountOrigin),
    /// A directory on this machine (an OCI layout), as named.
    Directory(PathBuf),
}

impl BlobStore {
    /// The registry's domain, for a store on a registry.
    pub fn registry(&self) -> Option<&str> {
        match self {
            BlobStore::Registry(origin) => Some(&origin.registry),
            BlobStore::Directory(_) => None,
        }
    }
}

/// Where an image is read from.
#[async_trait]
pub trait ImageSource: Send + Sync {
    /// The image this source reads, as the user named it.
    fn name(&self) -> &ImageName;

    /// The manifest the name points at when `digest` is `None` (an image manifest or an index),
    /// else the manifest with that digest (a child of an index, a referrer). Exact bytes, their
    /// digest checked against `digest` when one is given.
    async fn manifest(&self, digest: Option<&Digest>) -> Result<Manifest, TransferError>;

    /// The bytes of a blob from `offset` to its end. Sources that cannot seek read and drop the
    /// first `offset` bytes. The bytes are not verified here: destinations do that.
    async fn blob(&self, descriptor: &Descriptor, offset: u64)
    -> Result<BlobStream, TransferError>;

    /// The bytes `start..end` of a blob, for parallel ranged fetches; `None` when this source
    /// cannot serve ranges (then the engine reads the blob as one stream).
    async fn blob_range(
        &self,
        descriptor: &Descriptor,
        start: u64,
        end: u64,
    ) -> Result<Option<BlobStream>, TransferError> {
        let _ = (descriptor, start, end);
        Ok(None)
    }

    /// The manifests whose `subject` is `digest` (signatures, SBOMs), filtered by
    /// `artifact_type` when given. Transports without referrers have none.
    async fn referrers(
        &self,
        digest: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, TransferError> {
        let _ = (digest, artifact_type);
        Ok(Vec::new())
    }

    /// The registry repository this source reads from, so that a destination on the same
    /// registry can mount blobs instead of copying them.
    fn mount_origin(&self) -> Option<MountOrigin> {
        None
    }

    /// The registry this source sends its requests to, by domain: its blob requests count
    /// against the copier's per-registry limit. `None` for local sources.
    fn registry(&self) -> Option<&str> {
        None
    }
}

/// Where an image is written to.
#[async_trait]
pub trait ImageDestination: Send + Sync {
    /// The image this destination writes, as the user named it.
    fn name(&self) -> &ImageName;

    /// Whether this destination can hold an index (a Docker archive cannot).
    fn supports_index(&self) -> bool {
        true
    }

    /// The blob store this destination writes into, shared with every destination that names
    /// it; `None` when the store is this destination's own (an archive being written). A store
    /// on a registry also puts the destination's requests under the copier's per-registry
    /// limit.
    fn blob_store(&self) -> Option<BlobStore> {
        None
    }

    /// The digest the destination's name requires of the top manifest (a registry reference
    /// by digest): the copy refuses another before any blob moves.
    fn required_digest(&self) -> Option<&Digest> {
        None
    }

    /// Whether the destination already holds this blob, so the copy can skip it.
    async fn has_blob(&self, descriptor: &Descriptor) -> Result<bool, TransferError>;

    /// Mounts the blob from `origin` when both are on the same registry; `Ok(false)` when it
    /// could not (and the engine copies the bytes instead).
    async fn mount_blob(
        &self,
        descriptor: &Descriptor,
        origin: &MountOrigin,
    ) -> Result<bool, TransferError> {
        let _ = (descriptor, origin);
        Ok(false)
    }

    /// How many leading bytes of this blob the destination already holds from an earlier,
    /// interrupted copy, hash state included; [`put_blob`](Self::put_blob) then continues
    /// from there. Destinations that cannot resume answer 0.
    async fn resume_offset(&self, descriptor: &Descriptor) -> Result<u64, TransferError> {
        let _ = descriptor;
        Ok(0)
    }

    /// Stores the blob from `data`, which starts at `offset` (0, or what
    /// [`resume_offset`](Self::resume_offset) answered). The whole blob is checked against the
    /// descriptor's size and digest before it becomes visible; on any error nothing becomes
    /// visible (a local destination may keep the verified prefix to resume from).
    async fn put_blob(
        &self,
        descriptor: &Descriptor,
        offset: u64,
        data: BlobStream,
    ) -> Result<(), TransferError>;

    /// Stores a manifest under its digest, exactly as given. Called children first: blobs and
    /// child manifests are in place before the manifest that points at them.
    async fn put_manifest(&self, manifest: &Manifest) -> Result<(), TransferError>;

    /// Makes the image visible under the destination's name (tag, ref name, archive file), with
    /// `manifest` (already stored by [`put_manifest`](Self::put_manifest)) as its top manifest.
    async fn commit(&self, manifest: &Manifest) -> Result<(), TransferError>;
}
