//! What one copy does: [`CopyOptions`], with its retry and ranged-fetch settings.

use std::time::Duration;

use super::{ManifestFormat, PlatformSelection};
use crate::ProgressSink;

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
    pub(super) fn backoff(&self, failures: u32) -> Duration {
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
    /// A blob whose source sends nothing for this long is retried ([`TransferError::Stalled`](crate::TransferError::Stalled)).
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
