//! The copy engine: any [`ImageSource`] to any [`ImageDestination`].
//!
//! A [`Copier`] holds what several copies share: the blob concurrency limit (a semaphore,
//! [`Copier::DEFAULT_BLOBS`] slots), a request limit per registry, and the map of blobs in
//! flight, so that two copies needing the same blob in the same destination transfer it once
//! (`dedup`). [`Copier::copy`] then:
//!
//! 1. reads the source's top manifest and narrows it to the platforms asked for
//!    ([`PlatformSelection`]; `plan`), nested indexes included;
//! 2. converts the manifests to another format when asked ([`ManifestFormat`]; `convert`),
//!    otherwise keeps them byte for byte, digests and all;
//! 3. copies every blob concurrently (`blobs`): skipped when the destination has it, mounted
//!    when the source is another repository of the destination's registry, otherwise streamed,
//!    optionally as parallel ranges (`ranged`), with retries that resume inside the blob;
//! 4. writes the manifests children first, commits the top one, and copies the referrers of
//!    every manifest copied when asked (`referrers`).
//!
//! [`registry::sync_repository`](crate::registry::sync_repository) copies every tag of a
//! registry repository under one `Copier`.
//!
//! A copy borrows its source and destination, so its blobs run as futures of the caller's task,
//! not as spawned tasks: one copy hashes on one core at a time (a few hundred MiB/s), and
//! several copies (a sync) run side by side.
//!
//! Pulling every platform of an image into an OCI layout:
//!
//! ```no_run
//! use gantry_client::{Client, ClientConfig};
//! use gantry_transfer::copy::{Copier, CopyOptions, PlatformSelection};
//! use gantry_transfer::open::{open_destination, open_source};
//!
//! # async fn example() -> Result<(), gantry_transfer::TransferError> {
//! let client = Client::new(ClientConfig::default())?;
//! let source = open_source(&"docker://localhost:5000/team/app:1.0".parse()?, &client).await?;
//! let destination = open_destination(&"oci:/tmp/app:1.0".parse()?, &client).await?;
//! let options = CopyOptions::new().with_platforms(PlatformSelection::All);
//! let report = Copier::new()
//!     .copy(source.as_ref(), destination.as_ref(), &options)
//!     .await?;
//! println!("{} ({} blobs sent)", report.manifest.digest, report.blobs.transferred);
//! # Ok(())
//! # }
//! ```

mod blobs;
mod convert;
mod dedup;
mod plan;
mod ranged;
mod referrers;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::future::join_all;
use gantry_reference::Digest;
use gantry_spec::{Descriptor, Platform};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use self::convert::ManifestFormat;
use self::dedup::{InFlightMap, StoreKey};
use self::plan::Node;
pub use self::plan::PlatformSelection;
use crate::{
    BlobStore, ImageDestination, ImageSource, Interruption, ProgressEvent, ProgressSink,
    TransferError, Unsupported,
};

/// How a blob's failed attempts are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryOptions {
    /// Attempts in a row that may fail without moving the blob forward (at least 1). An
    /// attempt that delivered new bytes starts the count again.
    pub max_attempts: u32,
    /// The wait before the second attempt; it doubles after each failure.
    pub initial_backoff: Duration,
    /// The longest wait.
    pub max_backoff: Duration,
}

impl RetryOptions {
    /// `max_attempts` in a row without progress, waiting `initial_backoff` doubling up to
    /// `max_backoff` between them.
    pub fn new(max_attempts: u32, initial_backoff: Duration, max_backoff: Duration) -> Self {
        RetryOptions {
            max_attempts: max_attempts.max(1),
            initial_backoff,
            max_backoff,
        }
    }

    /// The wait after the `failures`th failure in a row (from 1).
    fn backoff(&self, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(16));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

impl Default for RetryOptions {
    /// 5 attempts, waiting 500 ms doubling up to 15 s.
    fn default() -> Self {
        RetryOptions::new(5, Duration::from_millis(500), Duration::from_secs(15))
    }
}

/// Fetching a large blob as parallel `Range` requests, reassembled in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RangedFetch {
    /// The size of each range.
    pub chunk_size: u64,
    /// How many ranges are fetched at once, and held at most (memory stays under
    /// `count × chunk_size`).
    pub count: usize,
    /// Blobs smaller than this are fetched as one stream.
    pub min_size: u64,
}

impl RangedFetch {
    /// `count` ranges of `chunk_size` bytes at once, for blobs of at least two ranges.
    pub fn new(chunk_size: u64, count: usize) -> RangedFetch {
        let chunk_size = chunk_size.max(1);
        RangedFetch {
            chunk_size,
            count: count.max(1),
            min_size: chunk_size.saturating_mul(2),
        }
    }

    /// Uses ranges only for blobs of at least `min_size` bytes.
    #[must_use]
    pub fn with_min_size(mut self, min_size: u64) -> RangedFetch {
        self.min_size = min_size;
        self
    }
}

/// What one copy does.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CopyOptions {
    /// Which images of an index to copy.
    pub platforms: PlatformSelection,
    /// The manifest format to write; `None` copies manifests byte for byte (digests preserved).
    pub format: Option<ManifestFormat>,
    /// Whether to copy the referrers (signatures, SBOMs) of every manifest copied.
    pub referrers: bool,
    /// Where progress events go.
    pub progress: ProgressSink,
    /// How failed blob attempts are retried.
    pub retry: RetryOptions,
    /// Parallel ranged fetches of large blobs, when set.
    pub ranged: Option<RangedFetch>,
    /// A blob whose source sends nothing for this long is retried ([`TransferError::Stalled`]).
    pub stall_timeout: Duration,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            platforms: PlatformSelection::default(),
            format: None,
            referrers: false,
            progress: ProgressSink::none(),
            retry: RetryOptions::default(),
            ranged: None,
            stall_timeout: Duration::from_secs(60),
        }
    }
}

impl CopyOptions {
    /// The defaults: the host's platform, digests preserved, no referrers, no progress, 5
    /// attempts per blob, one stream per blob, a 60 s stall timeout.
    pub fn new() -> CopyOptions {
        CopyOptions::default()
    }

    /// Copies `platforms`.
    #[must_use]
    pub fn with_platforms(mut self, platforms: PlatformSelection) -> CopyOptions {
        self.platforms = platforms;
        self
    }

    /// Writes manifests in `format` (or byte for byte with `None`).
    #[must_use]
    pub fn with_format(mut self, format: Option<ManifestFormat>) -> CopyOptions {
        self.format = format;
        self
    }

    /// Copies referrers too, or not.
    #[must_use]
    pub fn with_referrers(mut self, referrers: bool) -> CopyOptions {
        self.referrers = referrers;
        self
    }

    /// Sends progress events to `progress`.
    #[must_use]
    pub fn with_progress(mut self, progress: ProgressSink) -> CopyOptions {
        self.progress = progress;
        self
    }

    /// Retries failed blob attempts as `retry` says.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryOptions) -> CopyOptions {
        self.retry = retry;
        self
    }

    /// Fetches large blobs as parallel ranges, or not.
    #[must_use]
    pub fn with_ranged(mut self, ranged: Option<RangedFetch>) -> CopyOptions {
        self.ranged = ranged;
        self
    }

    /// Retries a blob whose source sends nothing for `timeout`.
    #[must_use]
    pub fn with_stall_timeout(mut self, timeout: Duration) -> CopyOptions {
        self.stall_timeout = timeout;
        self
    }
}

/// How the blobs of a copy went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BlobCounts {
    /// Blobs whose bytes were sent to the destination.
    pub transferred: u64,
    /// Blobs the destination already had.
    pub skipped: u64,
    /// Blobs mounted from the source repository.
    pub mounted: u64,
    /// Blobs another copy of the same [`Copier`] was transferring to the same destination.
    pub shared: u64,
}

/// What a copy did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CopyReport {
    /// The top manifest written and committed.
    pub manifest: Descriptor,
    /// The digest of that manifest at the source, before any format conversion.
    pub source_digest: Digest,
    /// Every manifest written, children first (referrers not included).
    pub manifests: Vec<Descriptor>,
    /// How the blobs went.
    pub blobs: BlobCounts,
    /// Bytes sent to the destination (resumed prefixes not included).
    pub bytes: u64,
    /// Attempts retried, over all blobs.
    pub retries: u64,
    /// The referrer manifests copied.
    pub referrers: Vec<Descriptor>,
}

/// Runs copies under shared limits. Cheap to clone: clones share the limits and the blobs in
/// flight.
#[derive(Debug, Clone)]
pub struct Copier {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    slots: Arc<Semaphore>,
    per_registry: usize,
    registries: Mutex<HashMap<String, Arc<Semaphore>>>,
    in_flight: Arc<InFlightMap>,
    /// The number of the last destination with a store of its own.
    own_stores: AtomicU64,
}

impl Default for Copier {
    fn default() -> Self {
        Copier::new()
    }
}

impl Copier {
    /// Blobs copied at once, over every copy sharing the copier, by default.
    pub const DEFAULT_BLOBS: usize = 6;
    /// Blob requests at once to one registry, over every copy sharing the copier, by default.
    pub const DEFAULT_REQUESTS_PER_REGISTRY: usize = 16;

    /// A copier with the default limits.
    pub fn new() -> Copier {
        Copier::with_limits(Self::DEFAULT_BLOBS, Self::DEFAULT_REQUESTS_PER_REGISTRY)
    }

    /// A copier that copies at most `blobs` blobs at once and sends at most
    /// `requests_per_registry` blob requests at once to any one registry (each at least 1).
    pub fn with_limits(blobs: usize, requests_per_registry: usize) -> Copier {
        Copier {
            shared: Arc::new(Shared {
                slots: Arc::new(Semaphore::new(blobs.max(1))),
                per_registry: requests_per_registry.max(1),
                registries: Mutex::default(),
                in_flight: Arc::default(),
                own_stores: AtomicU64::new(0),
            }),
        }
    }

    /// Copies the image `source` names to `destination`, as `options` say.
    pub async fn copy(
        &self,
        source: &dyn ImageSource,
        destination: &dyn ImageDestination,
        options: &CopyOptions,
    ) -> Result<CopyReport, TransferError> {
        let ctx = Ctx::new(&self.shared, source, destination, options);
        let top = source.manifest(None).await?;
        let node = match (&options.platforms, top.kind().is_index()) {
            (_, false) => Node::Image(top),
            (PlatformSelection::All, true) => {
                if !destination.supports_index() {
                    return Err(TransferError::Unsupported(Unsupported::Index {
                        destination: destination.name().to_string(),
                        index: Some(top.digest().clone()),
                    }));
                }
                plan::load_all(source, top).await?
            }
            (PlatformSelection::Host, true) => {
                Node::Image(plan::select_platform(source, &top, &Platform::host()).await?)
            }
            (PlatformSelection::Platform(platform), true) => {
                Node::Image(plan::select_platform(source, &top, platform).await?)
            }
        };
        let source_digest = node.manifest().digest().clone();
        let source_manifests: Vec<Digest> = node
            .manifests_children_first()
            .into_iter()
            .map(|m| m.digest().clone())
            .collect();
        let node = match options.format {
            Some(format) => convert::convert(node, format)?,
            None => node,
        };
        // A destination named by digest can only take that manifest: say so before any blob
        // moves.
        if let Some(expected) = destination.required_digest()
            && expected != node.manifest().digest()
        {
            return Err(TransferError::DigestMismatch {
                expected: expected.clone(),
                actual: node.manifest().digest().clone(),
            });
        }
        ctx.copy_node(&node).await?;
        let top = node.manifest();
        destination.commit(top).await?;
        let mut copied_referrers = Vec::new();
        if options.referrers {
            // Referrers point at their subject's digest: only manifests kept byte for byte
            // still have theirs.
            let (kept, converted): (Vec<Digest>, Vec<Digest>) = node
                .manifests_children_first()
                .into_iter()
                .map(|m| m.digest().clone())
                .partition(|digest| source_manifests.contains(digest));
            if !converted.is_empty() {
                tracing::warn!(
                    manifests = converted.len(),
                    "referrers of converted manifests are not copied: they name the old digests"
                );
            }
            copied_referrers = referrers::copy_referrers(&ctx, &kept).await?;
        }
        Ok(CopyReport {
            manifest: top.descriptor(),
            source_digest,
            manifests: node
                .manifests_children_first()
                .into_iter()
                .map(gantry_spec::Manifest::descriptor)
                .collect(),
            blobs: ctx.stats.counts(),
            bytes: ctx.stats.bytes.load(Ordering::Relaxed),
            retries: ctx.stats.retries.load(Ordering::Relaxed),
            referrers: copied_referrers,
        })
    }
}

impl Shared {
    fn registry(&self, domain: &str) -> Arc<Semaphore> {
        let mut registries = self
            .registries
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            registries
                .entry(domain.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_registry))),
        )
    }
}

/// Counters of one copy.
#[derive(Debug, Default)]
struct Stats {
    transferred: AtomicU64,
    skipped: AtomicU64,
    mounted: AtomicU64,
    shared: AtomicU64,
    bytes: AtomicU64,
    retries: AtomicU64,
}

impl Stats {
    fn counts(&self) -> BlobCounts {
        BlobCounts {
            transferred: self.transferred.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
            mounted: self.mounted.load(Ordering::Relaxed),
            shared: self.shared.load(Ordering::Relaxed),
        }
    }

    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// One copy in progress: the two ends, the options, and the copier's shared state.
struct Ctx<'a> {
    shared: &'a Shared,
    source: &'a dyn ImageSource,
    destination: &'a dyn ImageDestination,
    options: &'a CopyOptions,
    /// Identifies the destination's blob store for the in-flight map.
    destination_key: StoreKey,
    source_registry: Option<(String, Arc<Semaphore>)>,
    destination_registry: Option<(String, Arc<Semaphore>)>,
    stats: Stats,
}

impl<'a> Ctx<'a> {
    fn new(
        shared: &'a Shared,
        source: &'a dyn ImageSource,
        destination: &'a dyn ImageDestination,
        options: &'a CopyOptions,
    ) -> Ctx<'a> {
        let store = destination.blob_store();
        let limit = |domain: Option<&str>| {
            domain.map(|domain| (domain.to_owned(), shared.registry(domain)))
        };
        let destination_registry = limit(store.as_ref().and_then(BlobStore::registry));
        let destination_key = match store {
            Some(store) => StoreKey::Shared(store),
            // Archives stage blobs per destination.
            None => StoreKey::Own(shared.own_stores.fetch_add(1, Ordering::Relaxed) + 1),
        };
        Ctx {
            shared,
            source,
            destination,
            options,
            destination_key,
            source_registry: limit(source.registry()),
            destination_registry,
            stats: Stats::default(),
        }
    }

    /// Permits of the registries a blob copy talks to: the source's and the destination's,
    /// taken in name order (both at once when they are the same registry), so that copies in
    /// opposite directions cannot deadlock.
    async fn registry_permits(&self) -> Result<Vec<OwnedSemaphorePermit>, TransferError> {
        let closed = |_| TransferError::Interrupted(Interruption::CopierClosed);
        let mut permits = Vec::new();
        match (&self.source_registry, &self.destination_registry) {
            (Some((a, sa)), Some((b, sb))) if a == b => {
                let n = u32::try_from(self.shared.per_registry.min(2)).unwrap_or(1);
                permits.push(Arc::clone(sa).acquire_many_owned(n).await.map_err(closed)?);
                let _ = sb;
            }
            (source, destination) => {
                let mut both: Vec<&(String, Arc<Semaphore>)> =
                    source.iter().chain(destination.iter()).collect();
                both.sort_by(|x, y| x.0.cmp(&y.0));
                for (_, semaphore) in both {
                    permits.push(
                        Arc::clone(semaphore)
                            .acquire_owned()
                            .await
                            .map_err(closed)?,
                    );
                }
            }
        }
        Ok(permits)
    }

    /// Copies every blob under `node`, then writes its manifests, children first. A blob that
    /// fails does not stop the others: what they complete stays in the destination for the next
    /// attempt, and the first failure is reported once all have ended.
    async fn copy_node(&self, node: &Node) -> Result<(), TransferError> {
        let blobs = node.blobs();
        let results = join_all(blobs.iter().map(|blob| blobs::copy_blob(self, blob))).await;
        if let Some(error) = results.into_iter().find_map(Result::err) {
            return Err(error);
        }
        for manifest in node.manifests_children_first() {
            self.destination.put_manifest(manifest).await?;
            self.options.progress.emit(ProgressEvent::ManifestWritten {
                digest: manifest.digest().clone(),
                media_type: manifest.media_type().to_owned(),
            });
        }
        Ok(())
    }
}
