//! The registry transport, `docker://HOST/NAME[:TAG|@DIGEST]`, through `gantry-client`.
//!
//! [`RegistrySource`] reads manifests by tag or digest, blobs whole or from an offset (a `Range`
//! request; when the registry ignores `Range`, the prefix is read and dropped), byte ranges for
//! parallel fetches, and referrers (the API, or the tag schema's fallback). It offers its
//! repository as a [`MountOrigin`].
//!
//! [`RegistryDestination`] checks blobs by `HEAD`, mounts them from another repository of the
//! same registry, uploads them (small blobs in one request, others as one streamed `PATCH` by
//! default, or in chunks that resume from the upload status when one fails), stores manifests
//! by digest and commits by tag (or, for a reference by digest, checks that the digest is the
//! one written). The registry checks every blob's digest when the upload is committed, so nothing
//! unverified becomes visible.
//!
//! Within one [`put_blob`](ImageDestination::put_blob), the client resumes a failed chunk from
//! the upload status itself. When the upload fails as a whole, the destination keeps its
//! session: [`resume_offset`](ImageDestination::resume_offset) asks the registry how many bytes
//! that session holds, and the next `put_blob` from that offset continues it. The session a
//! refused mount opens is kept the same way and used for the upload.
//!
//! [`sync_repository`] and [`sync_tags`] (`sync.rs`) copy every tag of a repository (or those
//! a filter keeps) under one [`Copier`](crate::copy::Copier).
//!
//! A manifest with a `subject` (a signature, an SBOM) must be findable among its subject's
//! referrers: when the registry has no referrers API, the destination keeps the tag schema's
//! index (`<alg>-<hex>`) up to date itself.

mod sync;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use gantry_client::UploadMode;
use gantry_client::{Client, ClientError, MountOutcome, Upload};
use gantry_reference::{Digest, Reference, RepositoryName};
use gantry_spec::{Descriptor, Manifest};

use crate::transport::{BlobStore, BlobStream, ImageDestination, ImageSource, MountOrigin};
use crate::{ImageName, TransferError, Unsupported};

pub use self::sync::{SyncOptions, SyncReport, TagFilter, sync_repository, sync_tags};

/// Blobs up to this size are uploaded in one request, read into memory first.
pub const MONOLITHIC_UPLOAD_LIMIT: u64 = 1024 * 1024;

/// The registry a reference names (`docker.io` when it names none).
fn domain(reference: &Reference) -> &str {
    reference
        .domain()
        .unwrap_or(gantry_reference::DEFAULT_DOMAIN)
}

/// The repository `reference` names, as a mount origin or a blob store.
fn origin(reference: &Reference) -> MountOrigin {
    MountOrigin {
        registry: domain(reference).to_owned(),
        repository: reference.path().to_owned(),
    }
}

/// A client stream as a transfer stream.
fn transfer_stream(stream: gantry_client::VerifiedBlobStream) -> BlobStream {
    Box::pin(stream.map(|item| item.map_err(TransferError::from)))
}

/// Whether a ranged request failed because the registry answered the whole blob (`200`)
/// instead of the range.
fn ignored_range(error: &ClientError) -> bool {
    error.status() == Some(200)
}

/// Reads an image from a registry repository.
#[derive(Debug, Clone)]
pub struct RegistrySource {
    client: Client,
    reference: Reference,
    name: ImageName,
}

impl RegistrySource {
    /// A source for the image `reference` names (by tag or digest), read through `client`.
    pub fn new(client: Client, reference: Reference) -> RegistrySource {
        RegistrySource {
            name: ImageName::Registry(reference.clone()),
            client,
            reference,
        }
    }

    /// The reference this source reads.
    pub fn reference(&self) -> &Reference {
        &self.reference
    }

    /// The repository, without tag or digest.
    fn repository(&self) -> Reference {
        self.reference.name_only()
    }

    /// The whole blob with its first `offset` bytes dropped, for registries that ignore `Range`.
    async fn blob_skipping(
        &self,
        descriptor: &Descriptor,
        offset: u64,
    ) -> Result<BlobStream, TransferError> {
        let stream = self
            .client
            .get_blob_descriptor(&self.repository(), descriptor)
            .await?;
        let mut skip = offset;
        Ok(Box::pin(stream.filter_map(move |item| {
            let item = match item {
                Ok(mut chunk) if skip > 0 => {
                    let drop = usize::try_from(skip).unwrap_or(usize::MAX).min(chunk.len());
                    skip -= drop as u64;
                    let _ = chunk.split_to(drop);
                    (!chunk.is_empty()).then_some(Ok(chunk))
                }
                Ok(chunk) => Some(Ok(chunk)),
                Err(error) => Some(Err(TransferError::from(error))),
            };
            std::future::ready(item)
        })))
    }
}

#[async_trait]
impl ImageSource for RegistrySource {
    fn name(&self) -> &ImageName {
        &self.name
    }

    async fn manifest(&self, digest: Option<&Digest>) -> Result<Manifest, TransferError> {
        let reference = match digest {
            Some(digest) => self.repository().with_digest(digest.clone()),
            None => self.reference.clone(),
        };
        Ok(self.client.get_manifest(&reference).await?)
    }

    async fn blob(
        &self,
        descriptor: &Descriptor,
        offset: u64,
    ) -> Result<BlobStream, TransferError> {
        if offset == 0 {
            let stream = self
                .client
                .get_blob_descriptor(&self.repository(), descriptor)
                .await?;
            return Ok(transfer_stream(stream));
        }
        if offset >= descriptor.size {
            return Ok(Box::pin(futures_util::stream::empty()));
        }
        match self
            .client
            .get_blob_range(
                &self.repository(),
                &descriptor.digest,
                offset..descriptor.size,
            )
            .await
        {
            Ok(stream) => Ok(transfer_stream(stream)),
            Err(error) if ignored_range(&error) => {
                tracing::debug!(%error, "the registry ignores Range; reading the blob whole");
                self.blob_skipping(descriptor, offset).await
            }
            Err(error) => Err(error.into()),
        }
    }

    async fn blob_range(
        &self,
        descriptor: &Descriptor,
        start: u64,
        end: u64,
    ) -> Result<Option<BlobStream>, TransferError> {
        if start >= end || end > descriptor.size {
            return Err(TransferError::Unsupported(Unsupported::Range {
                start,
                end,
                size: descriptor.size,
            }));
        }
        match self
            .client
            .get_blob_range(&self.repository(), &descriptor.digest, start..end)
            .await
        {
            Ok(stream) => Ok(Some(transfer_stream(stream))),
            Err(error) if ignored_range(&error) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    async fn referrers(
        &self,
        digest: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, TransferError> {
        Ok(self
            .client
            .referrers(&self.repository(), digest, artifact_type)
            .await?)
    }

    fn mount_origin(&self) -> Option<MountOrigin> {
        Some(origin(&self.reference))
    }

    fn registry(&self) -> Option<&str> {
        Some(domain(&self.reference))
    }
}

/// How a [`RegistryDestination`] uploads blobs larger than [`MONOLITHIC_UPLOAD_LIMIT`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum LargeBlobUpload {
    /// `PATCH` requests of the client's chunk size, each resumed from the upload status when it
    /// fails (the client falls back to one stream when the registry refuses chunks). Each
    /// chunk is held in memory until the registry has it.
    Chunked,
    /// One streamed `PATCH` per blob: the fewest requests and no chunk held in memory. A cut
    /// upload's session is kept, and the copy continues it from the offset the upload status
    /// gives ([`resume_offset`](ImageDestination::resume_offset)).
    #[default]
    Streamed,
}

/// Writes an image to a registry repository.
#[derive(Debug, Clone)]
pub struct RegistryDestination {
    client: Client,
    reference: Reference,
    name: ImageName,
    mode: LargeBlobUpload,
    /// Upload sessions kept for blobs: one a failed upload leaves, to continue, or one a
    /// refused mount opened, to upload into.
    sessions: Arc<Mutex<HashMap<Digest, Upload>>>,
}

impl RegistryDestination {
    /// A destination for the image `reference` names, written through `client`: a tag to set, or
    /// a digest the copied manifest must have.
    pub fn new(client: Client, reference: Reference) -> RegistryDestination {
        RegistryDestination {
            name: ImageName::Registry(reference.clone()),
            client,
            reference,
            mode: LargeBlobUpload::default(),
            sessions: Arc::default(),
        }
    }

    /// Uploads larger blobs with `mode`.
    #[must_use]
    pub fn with_large_blob_upload(mut self, mode: LargeBlobUpload) -> RegistryDestination {
        self.mode = mode;
        self
    }

    /// The reference this destination writes.
    pub fn reference(&self) -> &Reference {
        &self.reference
    }

    fn repository(&self) -> Reference {
        self.reference.name_only()
    }

    fn take_session(&self, digest: &Digest) -> Option<Upload> {
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(digest)
    }

    fn keep_session(&self, digest: &Digest, upload: Upload) {
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(digest.clone(), upload);
    }

    /// The session to upload `digest` into from `offset`: the kept one when it holds exactly
    /// that many bytes, otherwise a new one (from 0 only).
    async fn session_for(&self, digest: &Digest, offset: u64) -> Result<Upload, TransferError> {
        match self.take_session(digest) {
            Some(session) if session.offset() == offset => Ok(session),
            Some(session) if offset == 0 => {
                let _ = self.client.cancel_upload(session).await;
                Ok(self.client.start_upload(&self.repository()).await?)
            }
            Some(session) => {
                let available = session.offset();
                self.keep_session(digest, session);
                Err(TransferError::ResumeMismatch {
                    digest: digest.clone(),
                    offset,
                    available,
                })
            }
            None if offset == 0 => Ok(self.client.start_upload(&self.repository()).await?),
            None => Err(TransferError::ResumeMismatch {
                digest: digest.clone(),
                offset,
                available: 0,
            }),
        }
    }
}

impl RegistryDestination {
    /// Makes `manifest` findable among the referrers of `subject`: a registry with the
    /// referrers API lists it already; for one without, the manifest is added to the index
    /// tagged with the tag schema's `<alg>-<hex>` (read, extended, written back: two copies
    /// adding referrers of one subject at once may lose one entry).
    async fn list_referrer(
        &self,
        manifest: &Manifest,
        subject: &Digest,
    ) -> Result<(), TransferError> {
        let repository = self.repository();
        let listed = self.client.referrers(&repository, subject, None).await?;
        if listed
            .iter()
            .any(|entry| &entry.digest == manifest.digest())
        {
            return Ok(());
        }
        let tag = gantry_client::fallback_tag(subject);
        let tagged = repository
            .with_tag(&tag)
            .map_err(|error| TransferError::InvalidName {
                input: format!("{repository}:{tag}"),
                reason: error.to_string(),
            })?;
        let mut entries = match self.client.get_manifest(&tagged).await {
            Ok(index) => index.manifests().to_vec(),
            Err(error) if error.is_not_found() => Vec::new(),
            Err(error) => return Err(error.into()),
        };
        entries.retain(|entry| &entry.digest != manifest.digest());
        entries.push(gantry_spec::referrers::descriptor(manifest));
        let index = gantry_spec::referrers::index(entries)?;
        tracing::debug!(%tag, "no referrers API; updating the tag schema's index");
        self.client.put_manifest(&tagged, &index).await?;
        Ok(())
    }
}

/// Reads a whole (small) blob stream into memory.
async fn collect(mut data: BlobStream, limit: u64) -> Result<Bytes, TransferError> {
    let mut buffer = BytesMut::with_capacity(usize::try_from(limit).unwrap_or(0));
    while let Some(chunk) = data.next().await {
        buffer.extend_from_slice(&chunk?);
    }
    Ok(buffer.freeze())
}

#[async_trait]
impl ImageDestination for RegistryDestination {
    fn name(&self) -> &ImageName {
        &self.name
    }

    fn blob_store(&self) -> Option<BlobStore> {
        Some(BlobStore::Registry(origin(&self.reference)))
    }

    fn required_digest(&self) -> Option<&Digest> {
        self.reference.digest()
    }

    async fn has_blob(&self, descriptor: &Descriptor) -> Result<bool, TransferError> {
        match self
            .client
            .head_blob(&self.repository(), &descriptor.digest)
            .await
        {
            Ok(size) => Ok(size == descriptor.size),
            Err(error) if error.is_not_found() => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    async fn mount_blob(
        &self,
        descriptor: &Descriptor,
        origin: &MountOrigin,
    ) -> Result<bool, TransferError> {
        if origin.registry != domain(&self.reference) || origin.repository == self.reference.path()
        {
            return Ok(false);
        }
        let Ok(from) = RepositoryName::parse(&origin.repository) else {
            return Ok(false);
        };
        match self
            .client
            .mount_or_start_upload(&self.repository(), &descriptor.digest, &from)
            .await?
        {
            MountOutcome::Mounted => Ok(true),
            MountOutcome::Upload(session) => {
                self.keep_session(&descriptor.digest, session);
                Ok(false)
            }
        }
    }

    async fn resume_offset(&self, descriptor: &Descriptor) -> Result<u64, TransferError> {
        let Some(mut session) = self.take_session(&descriptor.digest) else {
            return Ok(0);
        };
        match self.client.upload_status(&mut session).await {
            Ok(held) if held <= descriptor.size => {
                self.keep_session(&descriptor.digest, session);
                Ok(held)
            }
            Ok(held) => {
                tracing::debug!(held, "the kept upload holds too much; starting over");
                let _ = self.client.cancel_upload(session).await;
                Ok(0)
            }
            Err(error) => {
                tracing::debug!(%error, "the kept upload session is gone; starting over");
                Ok(0)
            }
        }
    }

    async fn put_blob(
        &self,
        descriptor: &Descriptor,
        offset: u64,
        data: BlobStream,
    ) -> Result<(), TransferError> {
        let digest = &descriptor.digest;
        if offset == 0 && descriptor.size <= MONOLITHIC_UPLOAD_LIMIT {
            let content = collect(crate::verify_blob(descriptor, data), descriptor.size).await?;
            match self.take_session(digest) {
                Some(session) if session.offset() == 0 => {
                    self.client
                        .complete_upload(session, digest, UploadMode::monolithic(content))
                        .await?;
                }
                other => {
                    if let Some(session) = other {
                        let _ = self.client.cancel_upload(session).await;
                    }
                    self.client
                        .push_blob(&self.repository(), digest, UploadMode::monolithic(content))
                        .await?;
                }
            }
            return Ok(());
        }
        let session = self.session_for(digest, offset).await?;
        let spare = session.clone();
        let mode = match self.mode {
            LargeBlobUpload::Chunked => UploadMode::chunked(data),
            LargeBlobUpload::Streamed => UploadMode::streamed(data),
        };
        let result = self.client.complete_upload(session, digest, mode).await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => {
                // The session may hold a prefix worth continuing; resume_offset will ask.
                self.keep_session(digest, spare);
                Err(error.into())
            }
        }
    }

    async fn put_manifest(&self, manifest: &Manifest) -> Result<(), TransferError> {
        let by_digest = self.repository().with_digest(manifest.digest().clone());
        self.client.put_manifest(&by_digest, manifest).await?;
        if let Some(subject) = manifest.subject() {
            self.list_referrer(manifest, &subject.digest).await?;
        }
        Ok(())
    }

    async fn commit(&self, manifest: &Manifest) -> Result<(), TransferError> {
        if let Some(expected) = self.reference.digest()
            && expected != manifest.digest()
        {
            return Err(TransferError::DigestMismatch {
                expected: expected.clone(),
                actual: manifest.digest().clone(),
            });
        }
        if let Some(tag) = self.reference.tag() {
            let tagged =
                self.repository()
                    .with_tag(tag)
                    .map_err(|error| TransferError::InvalidName {
                        input: self.reference.to_string(),
                        reason: error.to_string(),
                    })?;
            self.client.put_manifest(&tagged, manifest).await?;
        }
        Ok(())
    }
}
