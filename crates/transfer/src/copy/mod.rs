//! The copy engine: any [`ImageSource`] to any [`ImageDestination`].
//!
//! A [`Copier`] holds what several copies share: the blob concurrency limit (a semaphore,
//! [`Copier::DEFAULT_BLOBS`] slots), a request limit per registry, and the map of blobs in
//! flight, so that two copies needing the same blob in the same destination (the same
//! [`BlobStore`], or the same archive being written) transfer it once
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
//! The engine knows transports only through the two traits: which registry a source talks to,
//! which blob store a destination writes, and which digest its name requires are methods of
//! theirs. Its modules call in one direction (`blobs` → `ranged` → `feed`); none calls back
//! into the copy. [`registry::sync_repository`](crate::registry::sync_repository) copies every
//! tag of a registry repository under one `Copier`.
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
mod feed;
mod limits;
mod options;
mod plan;
mod ranged;
mod referrers;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::future::join_all;
use gantry_reference::Digest;
use gantry_spec::{Descriptor, Platform};
use tokio::sync::Semaphore;

use self::blobs::BlobCopier;
pub use self::convert::ManifestFormat;
use self::dedup::{InFlightMap, StoreKey};
use self::feed::{Reader, Stats};
use self::limits::RegistryLimits;
pub use self::options::{CopyOptions, RangedFetch, RetryOptions};
use self::plan::Node;
pub use self::plan::{PlatformSelection, select_platform};
use crate::{BlobStore, ImageDestination, ImageSource, ProgressEvent, TransferError, Unsupported};

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
        let stats = Stats::default();
        let ctx = Ctx::new(&self.shared, source, destination, options, &stats);
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
            copied_referrers = ctx.copy_referrers(&kept).await?;
        }
        Ok(CopyReport {
            manifest: top.descriptor(),
            source_digest,
            manifests: node
                .manifests_children_first()
                .into_iter()
                .map(gantry_spec::Manifest::descriptor)
                .collect(),
            blobs: stats.counts(),
            bytes: stats.bytes.load(Ordering::Relaxed),
            retries: stats.retries.load(Ordering::Relaxed),
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

/// One copy in progress: the two ends, the options, and how its blobs are copied.
struct Ctx<'a> {
    source: &'a dyn ImageSource,
    destination: &'a dyn ImageDestination,
    options: &'a CopyOptions,
    blobs: BlobCopier<'a>,
}

impl<'a> Ctx<'a> {
    fn new(
        shared: &'a Shared,
        source: &'a dyn ImageSource,
        destination: &'a dyn ImageDestination,
        options: &'a CopyOptions,
        stats: &'a Stats,
    ) -> Ctx<'a> {
        let store = destination.blob_store();
        let limit = |domain: Option<&str>| {
            domain.map(|domain| (domain.to_owned(), shared.registry(domain)))
        };
        let limits = RegistryLimits {
            per_registry: shared.per_registry,
            source: limit(source.registry()),
            destination: limit(store.as_ref().and_then(BlobStore::registry)),
        };
        let store = match store {
            Some(store) => StoreKey::Shared(store),
            // Archives stage blobs per destination.
            None => StoreKey::Own(shared.own_stores.fetch_add(1, Ordering::Relaxed) + 1),
        };
        let reader = Reader {
            source,
            options,
            stats,
            source_limit: limits.source_limit(),
        };
        Ctx {
            source,
            destination,
            options,
            blobs: BlobCopier {
                reader,
                destination,
                store,
                slots: &shared.slots,
                in_flight: &shared.in_flight,
                limits,
            },
        }
    }

    /// Copies every blob under `node`, then writes its manifests, children first. A blob that
    /// fails does not stop the others: what they complete stays in the destination for the next
    /// attempt, and the first failure is reported once all have ended.
    async fn copy_node(&self, node: &Node) -> Result<(), TransferError> {
        let blobs = node.blobs();
        let results = join_all(blobs.iter().map(|blob| blobs::copy_blob(&self.blobs, blob))).await;
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

    /// Copies the referrers of every manifest in `subjects`, and theirs in turn. Returns the
    /// referrers copied, as the source listed them.
    async fn copy_referrers(&self, subjects: &[Digest]) -> Result<Vec<Descriptor>, TransferError> {
        let mut walk = referrers::Walk::new(subjects);
        let mut copied = Vec::new();
        while let Some((referrer, node)) = walk.next(self.source).await? {
            self.copy_node(&node).await?;
            copied.push(referrer);
        }
        Ok(copied)
    }
}
