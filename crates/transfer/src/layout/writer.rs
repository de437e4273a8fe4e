//! Writing an OCI image layout directory: verified, resumable blob writes through the ingest
//! area, manifests, and the atomic rewrite of `index.json`. The archive destinations write
//! their staging layouts through this too.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_util::StreamExt;
use gantry_reference::{Digest, Ingest, Rehash, Resume, SavedState};
use gantry_spec::layout::{self, OciLayout};
use gantry_spec::{Descriptor, ImageIndex, Manifest, ParseOptions, annotations};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use super::reader::INDEX_LIMIT;
use crate::fsutil::{self, io_error};
use crate::{BlobStream, Missing, TransferError};

/// The ingest area's directory, inside the layout.
pub(crate) const INGEST_DIR: &str = ".gantry-ingest";

/// How many bytes a blob write takes between two saves of its data and hash state.
const CHECKPOINT_BYTES: u64 = 4 * 1024 * 1024;

/// The most bytes a saved ingest state may have.
const STATE_LIMIT: u64 = 64 * 1024;

/// What is saved beside a partial blob: which blob, how many of its bytes the data file holds
/// (verified as a prefix when resumed) and the hash state after them. The rule for trusting it
/// is [`Resume::checking_data`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IngestState {
    digest: Digest,
    size: u64,
    offset: u64,
    /// [`SavedState::to_hex`] after `offset` bytes.
    hash_state: String,
}

/// Writes into a layout directory. Safe to share between tasks: blob writes of different
/// blobs run in parallel, writes of the same blob one after the other.
#[derive(Debug)]
pub(crate) struct LayoutWriter {
    root: PathBuf,
    ingest: PathBuf,
    /// How many writes use the ingest area now; the last one out removes it if empty.
    active: Mutex<usize>,
    /// One lock per blob being written or resumed.
    locks: Mutex<HashMap<Digest, Arc<tokio::sync::Mutex<()>>>>,
    /// Prefixes [`resume_offset`](Self::resume_offset) verified, and their hash states.
    verified: Mutex<HashMap<Digest, Ingest>>,
}

/// Marks one user of the ingest area; the last one out removes the directory when empty.
struct IngestUse<'a>(&'a LayoutWriter);

impl Drop for IngestUse<'_> {
    fn drop(&mut self) {
        let mut active = lock(&self.0.active);
        *active = active.saturating_sub(1);
        if *active == 0 {
            // Fails, as it should, while partial blobs are kept for a resume.
            let _ = std::fs::remove_dir(&self.0.ingest);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LayoutWriter {
    /// Opens the layout at `root` for writing, creating the directory and `oci-layout` when
    /// missing. An existing `oci-layout` or `index.json` must be valid.
    pub(crate) async fn create(root: PathBuf) -> Result<LayoutWriter, TransferError> {
        let invalid = |reason: String| TransferError::InvalidFormat {
            format: "OCI layout",
            reason,
        };
        tokio::fs::create_dir_all(&root)
            .await
            .map_err(io_error(&root))?;
        let marker = root.join(layout::OCI_LAYOUT_FILE);
        match fsutil::read_limited(&marker, 64 * 1024, |size| {
            invalid(format!("{} is {size} bytes", marker.display()))
        })
        .await?
        {
            Some(content) => {
                OciLayout::parse(&content)
                    .map_err(|error| invalid(format!("{}: {error}", marker.display())))?;
            }
            None => {
                let content = OciLayout::new().to_json()?;
                fsutil::write_atomic(&marker, &root, &content).await?;
            }
        }
        let writer = LayoutWriter {
            ingest: root.join(INGEST_DIR),
            root,
            active: Mutex::new(0),
            locks: Mutex::new(HashMap::new()),
            verified: Mutex::new(HashMap::new()),
        };
        writer.read_index().await?;
        Ok(writer)
    }

    /// The writer of the staging layout of an archive destination for `target` (see
    /// [`staging_dir`](crate::archive::staging_dir)): partial and finished blobs of an earlier
    /// attempt are kept, its `index.json` is not (it may name other images).
    pub(crate) async fn staging(target: &Path) -> Result<LayoutWriter, TransferError> {
        let staging = crate::archive::staging_dir(target);
        let stale_index = staging.join(layout::INDEX_FILE);
        match tokio::fs::remove_file(&stale_index).await {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(TransferError::io(stale_index, error)),
        }
        LayoutWriter::create(staging).await
    }

    /// Removes a staging layout once its archive is in place; a failure is only logged, as the
    /// archive is already there.
    pub(crate) async fn remove_staging(&self) {
        if let Err(error) = tokio::fs::remove_dir_all(&self.root).await {
            tracing::warn!(path = %self.root.display(), %error, "could not remove a staging directory");
        }
    }

    /// The layout's directory.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with `digest` lives.
    pub(crate) fn blob_file(&self, digest: &Digest) -> PathBuf {
        self.root.join(layout::blob_path(digest))
    }

    fn ingest_files(&self, digest: &Digest) -> (PathBuf, PathBuf) {
        let stem = format!("{}-{}", digest.algorithm().as_str(), digest.encoded());
        (
            self.ingest.join(format!("{stem}.data")),
            self.ingest.join(format!("{stem}.state")),
        )
    }

    /// Registers a user of the ingest area, creating it.
    fn enter(&self) -> Result<IngestUse<'_>, TransferError> {
        let mut active = lock(&self.active);
        std::fs::create_dir_all(&self.ingest).map_err(io_error(&self.ingest))?;
        *active += 1;
        Ok(IngestUse(self))
    }

    async fn lock_blob(&self, digest: &Digest) -> tokio::sync::OwnedMutexGuard<()> {
        let mutex = Arc::clone(lock(&self.locks).entry(digest.clone()).or_default());
        mutex.lock_owned().await
    }

    /// Whether the blob's file is there with the descriptor's size.
    pub(crate) async fn has_blob(&self, descriptor: &Descriptor) -> Result<bool, TransferError> {
        let path = self.blob_file(&descriptor.digest);
        match tokio::fs::metadata(&path).await {
            Ok(metadata) => Ok(metadata.is_file() && metadata.len() == descriptor.size),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(error) => Err(TransferError::io(path, error)),
        }
    }

    /// How many bytes of the blob the ingest area holds, verified against the saved hash state.
    pub(crate) async fn resume_offset(
        &self,
        descriptor: &Descriptor,
    ) -> Result<u64, TransferError> {
        let _guard = self.lock_blob(&descriptor.digest).await;
        let verified = self.verify_ingest(descriptor).await?;
        let mut cache = lock(&self.verified);
        Ok(match verified {
            Some(ingest) => {
                let offset = ingest.length();
                cache.insert(descriptor.digest.clone(), ingest);
                offset
            }
            None => {
                cache.remove(&descriptor.digest);
                // Nothing kept for this blob: an ingest area nobody uses may go if empty.
                if *lock(&self.active) == 0 {
                    let _ = std::fs::remove_dir(&self.ingest);
                }
                0
            }
        })
    }

    /// Removes the blob's partial data and state.
    async fn discard(&self, digest: &Digest) -> Result<(), TransferError> {
        lock(&self.verified).remove(digest);
        let (data, state) = self.ingest_files(digest);
        for path in [state, data] {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(TransferError::io(path, error)),
            }
        }
        Ok(())
    }

    /// Checks what the ingest area holds for the blob: a state for this digest and size, a data
    /// file at least as long as the state says (cut back to it), and a prefix that hashes to
    /// what the state says ([`Resume::checking_data`]). Anything else is discarded and `None`
    /// answered.
    async fn verify_ingest(
        &self,
        descriptor: &Descriptor,
    ) -> Result<Option<Ingest>, TransferError> {
        let digest = &descriptor.digest;
        let (data, state_path) = self.ingest_files(digest);
        // An oversized state is as bad as a missing one: both are discarded.
        let state = match fsutil::read_limited(&state_path, STATE_LIMIT, |_| {
            let what = Missing::File {
                name: state_path.display().to_string(),
            };
            TransferError::not_found(what, self.root.display())
        })
        .await
        {
            Ok(Some(state)) => state,
            Ok(None) | Err(TransferError::NotFound { .. }) => {
                self.discard(digest).await?;
                return Ok(None);
            }
            Err(error) => return Err(error),
        };
        let saved = serde_json::from_slice::<IngestState>(&state)
            .ok()
            .filter(|state| state.digest == *digest && state.size == descriptor.size)
            .filter(|state| state.offset <= descriptor.size)
            .and_then(|state| {
                SavedState::from_hex(digest.algorithm(), state.offset, &state.hash_state).ok()
            });
        let length = match tokio::fs::metadata(&data).await {
            Ok(metadata) => metadata.len(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => 0,
            Err(error) => return Err(TransferError::io(data, error)),
        };
        let again = match Resume::checking_data(saved.as_ref(), length) {
            Resume::Rehash(again) => again,
            Resume::Continue(_) | Resume::Restart => {
                tracing::debug!(%digest, length, "discarding an ingest state that does not fit its data");
                self.discard(digest).await?;
                return Ok(None);
            }
        };
        let offset = again.length();
        let rehashed = {
            let data = data.clone();
            fsutil::blocking(&data.clone(), move || rehash_prefix(&data, length, again)).await?
        };
        match rehashed {
            Some(ingest) => Ok(Some(ingest)),
            None => {
                tracing::debug!(%digest, offset, "discarding ingest data that does not hash to its state");
                self.discard(digest).await?;
                Ok(None)
            }
        }
    }

    /// Saves the data written so far and the hash state after it.
    async fn checkpoint(
        &self,
        file: &mut tokio::fs::File,
        descriptor: &Descriptor,
        ingest: &Ingest,
    ) -> Result<(), TransferError> {
        let (data, state_path) = self.ingest_files(&descriptor.digest);
        file.flush().await.map_err(io_error(&data))?;
        file.sync_data().await.map_err(io_error(&data))?;
        let saved = ingest.saved();
        let state = IngestState {
            digest: descriptor.digest.clone(),
            size: descriptor.size,
            offset: saved.offset(),
            hash_state: saved.to_hex(),
        };
        let content = serde_json::to_vec(&state).map_err(|error| {
            TransferError::io(&state_path, std::io::Error::other(error.to_string()))
        })?;
        fsutil::write_atomic(&state_path, &self.ingest, &content).await
    }

    /// Streams the blob into the ingest area, from `offset` (0, or what
    /// [`resume_offset`](Self::resume_offset) answered), checking size and digest, then moves it
    /// into `blobs/`.
    pub(crate) async fn put_blob(
        &self,
        descriptor: &Descriptor,
        offset: u64,
        mut data: BlobStream,
    ) -> Result<(), TransferError> {
        let digest = &descriptor.digest;
        let _guard = self.lock_blob(digest).await;
        let _use = self.enter()?;
        let (data_path, state_path) = self.ingest_files(digest);
        let (mut ingest, mut file) = if offset == 0 {
            self.discard(digest).await?;
            let file = tokio::fs::File::create(&data_path)
                .await
                .map_err(io_error(&data_path))?;
            (Ingest::new(digest.algorithm()), file)
        } else {
            let cached = lock(&self.verified).remove(digest);
            let verified = match cached {
                Some(cached) => Some(cached),
                None => self.verify_ingest(descriptor).await?,
            };
            match verified {
                Some(ingest) if ingest.length() == offset => {
                    let mut file = tokio::fs::OpenOptions::new()
                        .write(true)
                        .open(&data_path)
                        .await
                        .map_err(io_error(&data_path))?;
                    // Cut anything written after the last save, then append.
                    file.set_len(offset).await.map_err(io_error(&data_path))?;
                    tokio::io::AsyncSeekExt::seek(&mut file, std::io::SeekFrom::Start(offset))
                        .await
                        .map_err(io_error(&data_path))?;
                    (ingest, file)
                }
                other => {
                    let available = other.map_or(0, |ingest| ingest.length());
                    return Err(TransferError::ResumeMismatch {
                        digest: digest.clone(),
                        offset,
                        available,
                    });
                }
            }
        };
        let mut saved_at = ingest.length();
        while let Some(chunk) = data.next().await {
            let written = ingest.length();
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(error) => {
                    // Keep what arrived for the next attempt, in this process or another.
                    if written > saved_at
                        && let Err(save) = self.checkpoint(&mut file, descriptor, &ingest).await
                    {
                        tracing::warn!(%digest, error = %save, "could not save a partial blob");
                    }
                    return Err(error);
                }
            };
            let length = chunk.len() as u64;
            if written + length > descriptor.size {
                drop(file);
                self.discard(digest).await?;
                return Err(TransferError::SizeMismatch {
                    digest: digest.clone(),
                    expected: descriptor.size,
                    actual: written + length,
                });
            }
            if let Err(error) = file.write_all(&chunk).await {
                drop(file);
                self.discard(digest).await?;
                return Err(TransferError::io(&data_path, error));
            }
            ingest.update(&chunk);
            if ingest.length() - saved_at >= CHECKPOINT_BYTES {
                self.checkpoint(&mut file, descriptor, &ingest).await?;
                saved_at = ingest.length();
            }
        }
        let written = ingest.length();
        if written < descriptor.size {
            // A clean end too early: what came may still be a prefix of the blob.
            if written > saved_at {
                self.checkpoint(&mut file, descriptor, &ingest).await?;
            }
            return Err(TransferError::SizeMismatch {
                digest: digest.clone(),
                expected: descriptor.size,
                actual: written,
            });
        }
        file.flush().await.map_err(io_error(&data_path))?;
        file.sync_all().await.map_err(io_error(&data_path))?;
        drop(file);
        let actual = ingest.finish();
        if actual != *digest {
            self.discard(digest).await?;
            return Err(TransferError::DigestMismatch {
                expected: digest.clone(),
                actual,
            });
        }
        let target = self.blob_file(digest);
        let dir = target.parent().unwrap_or(&self.root).to_path_buf();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(io_error(&dir))?;
        tokio::fs::rename(&data_path, &target)
            .await
            .map_err(io_error(&target))?;
        let _ = tokio::fs::remove_file(&state_path).await;
        fsutil::sync_dir(&dir).await
    }

    /// Stores a manifest's bytes under its digest (atomically; nothing when already there).
    pub(crate) async fn put_manifest(&self, manifest: &Manifest) -> Result<(), TransferError> {
        if self.has_blob(&manifest.descriptor()).await? {
            return Ok(());
        }
        let _use = self.enter()?;
        let target = self.blob_file(manifest.digest());
        let dir = target.parent().unwrap_or(&self.root).to_path_buf();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(io_error(&dir))?;
        fsutil::write_atomic(&target, &self.ingest, manifest.bytes()).await
    }

    /// The layout's `index.json`, `None` when there is none yet.
    pub(crate) async fn read_index(&self) -> Result<Option<Manifest>, TransferError> {
        let path = self.root.join(layout::INDEX_FILE);
        let invalid = |reason: String| TransferError::InvalidFormat {
            format: "OCI layout",
            reason: format!("{}: {reason}", path.display()),
        };
        let Some(bytes) =
            fsutil::read_limited(&path, INDEX_LIMIT, |size| invalid(format!("{size} bytes")))
                .await?
        else {
            return Ok(None);
        };
        let options = ParseOptions::new().with_max_size(usize::MAX);
        layout::parse_index(bytes, &options)
            .map(Some)
            .map_err(|error| invalid(error.to_string()))
    }

    /// Names `manifest` in `index.json`, rewritten atomically: the entry with ref name
    /// `reference` is replaced, or, with no reference, an unnamed entry is added unless one for
    /// the same digest is there. The manifest is stored first if it is not yet.
    pub(crate) async fn commit(
        &self,
        manifest: &Manifest,
        reference: Option<&str>,
    ) -> Result<(), TransferError> {
        self.put_manifest(manifest).await?;
        let _use = self.enter()?;
        let not_an_index = || TransferError::InvalidFormat {
            format: "OCI layout",
            reason: format!("{} is not an image index", layout::INDEX_FILE),
        };
        let mut body = match self.read_index().await? {
            Some(index) => index.as_index().cloned().ok_or_else(not_an_index)?,
            None => ImageIndex::builder()
                .build()?
                .as_index()
                .cloned()
                .ok_or_else(not_an_index)?,
        };
        let mut entry = manifest.descriptor();
        entry.artifact_type = manifest.artifact_type().map(str::to_owned);
        fn ref_name(descriptor: &Descriptor) -> Option<&str> {
            descriptor
                .annotations
                .get(annotations::REF_NAME)
                .map(String::as_str)
        }
        match reference {
            Some(name) => {
                entry = entry.with_annotation(annotations::REF_NAME, name);
                let position = body
                    .manifests
                    .iter()
                    .position(|d| ref_name(d) == Some(name));
                body.manifests.retain(|d| ref_name(d) != Some(name));
                match position {
                    Some(position) => body.manifests.insert(position, entry),
                    None => body.manifests.push(entry),
                }
            }
            None => {
                let present = body
                    .manifests
                    .iter()
                    .any(|d| ref_name(d).is_none() && d.digest == *manifest.digest());
                if !present {
                    body.manifests.push(entry);
                }
            }
        }
        let bytes = serde_json::to_vec(&body).map_err(gantry_spec::SpecError::InvalidJson)?;
        let path = self.root.join(layout::INDEX_FILE);
        fsutil::write_atomic(&path, &self.ingest, &bytes).await
    }
}

/// Hashes the first [`Rehash::length`] bytes of `data` again, cutting the file back to them
/// when it is longer (`length`): the ingest to carry on with, or `None` when they do not hash
/// to the saved state.
fn rehash_prefix(
    data: &Path,
    length: u64,
    mut again: Rehash,
) -> Result<Option<Ingest>, TransferError> {
    use std::io::Read as _;
    let offset = again.length();
    if length > offset {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(data)
            .map_err(io_error(data))?;
        file.set_len(offset).map_err(io_error(data))?;
    }
    let file = std::fs::File::open(data).map_err(io_error(data))?;
    let mut reader = std::io::BufReader::with_capacity(1024 * 1024, file).take(offset);
    let copied = std::io::copy(&mut reader, &mut again).map_err(io_error(data))?;
    if copied != offset {
        return Err(TransferError::io(
            data,
            std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "partial blob shrank"),
        ));
    }
    Ok(again.finish().ok())
}

impl LayoutWriter {
    /// Every blob `index.json` reaches (manifests, configs, layers, index entries; not
    /// subjects), each once, with its size; a missing one is [`TransferError::NotFound`],
    /// except layers that may live elsewhere (non-distributable, or with `urls`).
    pub(crate) async fn reachable_blobs(&self) -> Result<Vec<(Digest, u64)>, TransferError> {
        let index = self.read_index().await?.ok_or_else(|| {
            let what = Missing::File {
                name: layout::INDEX_FILE.to_owned(),
            };
            TransferError::not_found(what, self.root.display())
        })?;
        let mut queue: std::collections::VecDeque<Descriptor> =
            index.manifests().iter().cloned().collect();
        let mut seen = std::collections::HashSet::new();
        let mut found = Vec::new();
        while let Some(descriptor) = queue.pop_front() {
            if !seen.insert(descriptor.digest.clone()) {
                continue;
            }
            if !self.has_blob(&descriptor).await? {
                let elsewhere =
                    gantry_spec::media_type::is_non_distributable(&descriptor.media_type)
                        || !descriptor.urls.is_empty();
                if elsewhere {
                    continue;
                }
                let what = Missing::NeededBlob {
                    digest: descriptor.digest.clone(),
                    media_type: descriptor.media_type.clone(),
                };
                return Err(TransferError::not_found(what, self.root.display()));
            }
            found.push((descriptor.digest.clone(), descriptor.size));
            if gantry_spec::ManifestKind::from_media_type(&descriptor.media_type).is_none() {
                continue;
            }
            let path = self.blob_file(&descriptor.digest);
            let bytes = tokio::fs::read(&path).await.map_err(io_error(&path))?;
            let options = ParseOptions::new()
                .with_max_size(usize::MAX)
                .with_algorithm(descriptor.digest.algorithm());
            let manifest = Manifest::parse_with(bytes, Some(&descriptor.media_type), &options)?;
            queue.extend(
                manifest
                    .references()
                    .filter(|(role, _)| role.is_child())
                    .map(|(_, child)| child.clone()),
            );
        }
        Ok(found)
    }
}
