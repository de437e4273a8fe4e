//! An in-memory source and destination with faults on demand, to test the copy engine's
//! retries, resumption and ranged fetches without a network.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use gantry_reference::Digest;
use gantry_spec::{Descriptor, Manifest};
use gantry_transfer::{
    BlobStream, ImageDestination, ImageName, ImageSource, Missing, TransferError,
};

const PIECE: usize = 16 * 1024;

/// A retryable failure, as a cut connection would give.
fn cut() -> TransferError {
    TransferError::Stalled { seconds: 0 }
}

/// A source holding manifests and blobs in memory.
pub struct MemorySource {
    name: ImageName,
    top: Manifest,
    manifests: HashMap<Digest, Manifest>,
    blobs: HashMap<Digest, Bytes>,
    /// Whether `blob_range` serves ranges.
    pub ranges: bool,
    /// The next this many streams (of `cut_digest` only, when set) are cut after `cut_after`
    /// bytes.
    pub cuts: AtomicUsize,
    pub cut_after: u64,
    pub cut_digest: Option<Digest>,
    /// The next this many streams send `cut_after` bytes, then nothing.
    pub stalls: AtomicUsize,
    /// Body bytes handed out (counted when a stream opens).
    pub served: Arc<AtomicU64>,
    /// `(digest, start, end)` of every stream opened (`end` is the blob's size for `blob`).
    pub opened: Mutex<Vec<(Digest, u64, u64)>>,
    /// The most ranges being read at once.
    pub open_now: Arc<AtomicUsize>,
    pub open_max: Arc<AtomicUsize>,
}

impl MemorySource {
    pub fn new(top: &Manifest, manifests: &[Manifest], blobs: &[(Descriptor, Bytes)]) -> Self {
        let mut all: HashMap<Digest, Manifest> = manifests
            .iter()
            .map(|m| (m.digest().clone(), m.clone()))
            .collect();
        all.insert(top.digest().clone(), top.clone());
        MemorySource {
            name: ImageName::OciLayout {
                path: "/memory/source".into(),
                reference: None,
            },
            top: top.clone(),
            manifests: all,
            blobs: blobs
                .iter()
                .map(|(d, b)| (d.digest.clone(), b.clone()))
                .collect(),
            ranges: false,
            cuts: AtomicUsize::new(0),
            cut_after: 0,
            cut_digest: None,
            stalls: AtomicUsize::new(0),
            served: Arc::default(),
            opened: Mutex::default(),
            open_now: Arc::default(),
            open_max: Arc::default(),
        }
    }

    fn take(counter: &AtomicUsize) -> bool {
        counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    fn stream(&self, digest: &Digest, start: u64, end: u64) -> Result<BlobStream, TransferError> {
        let bytes = self.blobs.get(digest).ok_or_else(|| missing_blob(digest))?;
        self.opened
            .lock()
            .unwrap()
            .push((digest.clone(), start, end));
        let mut body = bytes.slice(start as usize..end as usize);
        let targeted = self.cut_digest.as_ref().is_none_or(|d| d == digest);
        let cut = targeted && Self::take(&self.cuts);
        let stall = !cut && Self::take(&self.stalls);
        if cut || stall {
            body.truncate(self.cut_after as usize);
        }
        let pieces: Vec<Bytes> = body
            .chunks(PIECE)
            .map(|piece| body.slice_ref(piece))
            .collect();
        let total = pieces.iter().map(|p| p.len() as u64).sum::<u64>();
        self.served.fetch_add(total, Ordering::SeqCst);
        let now = self.open_now.fetch_add(1, Ordering::SeqCst) + 1;
        self.open_max.fetch_max(now, Ordering::SeqCst);
        let guard = OpenGuard(Arc::clone(&self.open_now));
        let body = futures_util::stream::iter(pieces.into_iter().map(Ok)).then(|piece| async {
            tokio::task::yield_now().await;
            piece
        });
        let tail = futures_util::stream::once(async move {
            let _guard = guard;
            if stall {
                tokio::time::sleep(Duration::from_secs(600)).await;
            }
            if cut || stall {
                Some(Err(cut_error()))
            } else {
                None
            }
        })
        .filter_map(std::future::ready);
        Ok(Box::pin(body.chain(tail)))
    }
}

fn cut_error() -> TransferError {
    cut()
}

struct OpenGuard(Arc<AtomicUsize>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl ImageSource for MemorySource {
    fn name(&self) -> &ImageName {
        &self.name
    }

    async fn manifest(&self, digest: Option<&Digest>) -> Result<Manifest, TransferError> {
        match digest {
            None => Ok(self.top.clone()),
            Some(digest) => self.manifests.get(digest).cloned().ok_or_else(|| {
                let what = Missing::Manifest {
                    digest: digest.clone(),
                    held: None,
                };
                TransferError::not_found(what, "memory")
            }),
        }
    }

    async fn blob(
        &self,
        descriptor: &Descriptor,
        offset: u64,
    ) -> Result<BlobStream, TransferError> {
        self.stream(&descriptor.digest, offset, descriptor.size)
    }

    async fn blob_range(
        &self,
        descriptor: &Descriptor,
        start: u64,
        end: u64,
    ) -> Result<Option<BlobStream>, TransferError> {
        if !self.ranges {
            return Ok(None);
        }
        self.stream(&descriptor.digest, start, end).map(Some)
    }
}

/// A destination in memory that keeps the verified prefix of a failed blob to resume from.
pub struct MemoryDestination {
    name: ImageName,
    pub blobs: Mutex<HashMap<Digest, Bytes>>,
    pub partial: Mutex<HashMap<Digest, Vec<u8>>>,
    pub manifests: Mutex<HashMap<Digest, Manifest>>,
    pub committed: Mutex<Option<Manifest>>,
    /// Whether it can hold an index.
    pub index: bool,
    /// Whether `resume_offset` reports the kept prefix.
    pub resumable: bool,
    /// The next this many `put_blob`s fail after taking `fail_after` bytes.
    pub failures: AtomicUsize,
    pub fail_after: u64,
    /// Bytes received by `put_blob`.
    pub received: AtomicU64,
    /// The offsets `put_blob` was called with.
    pub offsets: Mutex<Vec<u64>>,
    /// A pause after each chunk taken, to play a slow destination.
    pub slow: Option<Duration>,
    /// A source's byte counter, to record how far the source ran ahead of this destination.
    pub watch: Option<Arc<AtomicU64>>,
    pub max_ahead: AtomicU64,
}

impl MemoryDestination {
    pub fn new() -> MemoryDestination {
        MemoryDestination {
            name: ImageName::OciLayout {
                path: "/memory/destination".into(),
                reference: None,
            },
            blobs: Mutex::default(),
            partial: Mutex::default(),
            manifests: Mutex::default(),
            committed: Mutex::default(),
            index: true,
            resumable: true,
            failures: AtomicUsize::new(0),
            fail_after: 0,
            received: AtomicU64::new(0),
            offsets: Mutex::default(),
            slow: None,
            watch: None,
            max_ahead: AtomicU64::new(0),
        }
    }

    /// Everything stored, for validation.
    pub fn content(&self) -> HashMap<Digest, Bytes> {
        let mut content = self.blobs.lock().unwrap().clone();
        for (digest, manifest) in self.manifests.lock().unwrap().iter() {
            content.insert(digest.clone(), manifest.bytes().clone());
        }
        content
    }
}

#[async_trait]
impl ImageDestination for MemoryDestination {
    fn name(&self) -> &ImageName {
        &self.name
    }

    fn supports_index(&self) -> bool {
        self.index
    }

    async fn has_blob(&self, descriptor: &Descriptor) -> Result<bool, TransferError> {
        Ok(self.blobs.lock().unwrap().contains_key(&descriptor.digest))
    }

    async fn resume_offset(&self, descriptor: &Descriptor) -> Result<u64, TransferError> {
        if !self.resumable {
            return Ok(0);
        }
        Ok(self
            .partial
            .lock()
            .unwrap()
            .get(&descriptor.digest)
            .map_or(0, |p| p.len() as u64))
    }

    async fn put_blob(
        &self,
        descriptor: &Descriptor,
        offset: u64,
        mut data: BlobStream,
    ) -> Result<(), TransferError> {
        self.offsets.lock().unwrap().push(offset);
        let digest = &descriptor.digest;
        let mut held = self
            .partial
            .lock()
            .unwrap()
            .remove(digest)
            .unwrap_or_default();
        if !self.resumable {
            held.clear();
        }
        if held.len() as u64 != offset {
            return Err(TransferError::ResumeMismatch {
                digest: digest.clone(),
                offset,
                available: held.len() as u64,
            });
        }
        let fail = descriptor.size > self.fail_after && MemorySource::take(&self.failures);
        let mut taken = 0u64;
        let keep = |held: Vec<u8>| {
            self.partial.lock().unwrap().insert(digest.clone(), held);
        };
        while let Some(item) = data.next().await {
            match item {
                Ok(chunk) => {
                    self.received
                        .fetch_add(chunk.len() as u64, Ordering::SeqCst);
                    held.extend_from_slice(&chunk);
                    taken += chunk.len() as u64;
                    if let Some(watch) = &self.watch {
                        let ahead = watch
                            .load(Ordering::SeqCst)
                            .saturating_sub(self.received.load(Ordering::SeqCst));
                        self.max_ahead.fetch_max(ahead, Ordering::SeqCst);
                    }
                    if let Some(pause) = self.slow {
                        tokio::time::sleep(pause).await;
                    }
                    if fail && taken >= self.fail_after {
                        keep(held);
                        return Err(cut());
                    }
                }
                Err(error) => {
                    keep(held);
                    return Err(error);
                }
            }
        }
        if held.len() as u64 != descriptor.size {
            return Err(TransferError::SizeMismatch {
                digest: digest.clone(),
                expected: descriptor.size,
                actual: held.len() as u64,
            });
        }
        let actual = Digest::of(digest.algorithm(), &held);
        if &actual != digest {
            return Err(TransferError::DigestMismatch {
                expected: digest.clone(),
                actual,
            });
        }
        self.blobs
            .lock()
            .unwrap()
            .insert(digest.clone(), Bytes::from(held));
        Ok(())
    }

    async fn put_manifest(&self, manifest: &Manifest) -> Result<(), TransferError> {
        self.manifests
            .lock()
            .unwrap()
            .insert(manifest.digest().clone(), manifest.clone());
        Ok(())
    }

    async fn commit(&self, manifest: &Manifest) -> Result<(), TransferError> {
        *self.committed.lock().unwrap() = Some(manifest.clone());
        Ok(())
    }
}

/// The error for a blob this memory does not hold.
fn missing_blob(digest: &Digest) -> TransferError {
    let what = Missing::Blob {
        digest: digest.clone(),
    };
    TransferError::not_found(what, "memory")
}
