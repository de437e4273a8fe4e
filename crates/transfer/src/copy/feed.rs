//! What the two feeders of a blob (`blobs`' sequential one and `ranged`) share: the view of the
//! copy they read through ([`Reader`]), the item they send, the retry budget, the progress
//! meter and the counters. Nothing here calls back into the engine.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use gantry_spec::Descriptor;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use super::BlobCounts;
use super::options::{CopyOptions, RetryOptions};
use crate::{ImageSource, Interruption, ProgressEvent, ProgressSink, TransferError};

/// What a feeder reads through: the source, the copy's options, its counters, and the source
/// registry's request limit (for ranged workers beyond the first).
pub(super) struct Reader<'a> {
    pub(super) source: &'a dyn ImageSource,
    pub(super) options: &'a CopyOptions,
    pub(super) stats: &'a Stats,
    pub(super) source_limit: Option<Arc<Semaphore>>,
}

impl Reader<'_> {
    /// Reports a retry and waits before it.
    pub(super) async fn retry_after(
        &self,
        sink: &ProgressSink,
        descriptor: &Descriptor,
        (attempt, after): (u32, Duration),
        offset: u64,
        error: &TransferError,
    ) {
        tracing::debug!(digest = %descriptor.digest, attempt, offset, %error, "retrying a blob");
        Stats::add(&self.stats.retries, 1);
        sink.emit(ProgressEvent::Retrying {
            digest: descriptor.digest.clone(),
            attempt,
            after,
            offset,
            reason: error.to_string(),
        });
        tokio::time::sleep(after).await;
    }
}

/// Counters of one copy.
#[derive(Debug, Default)]
pub(super) struct Stats {
    pub(super) transferred: AtomicU64,
    pub(super) skipped: AtomicU64,
    pub(super) mounted: AtomicU64,
    pub(super) shared: AtomicU64,
    pub(super) bytes: AtomicU64,
    pub(super) retries: AtomicU64,
}

impl Stats {
    pub(super) fn counts(&self) -> BlobCounts {
        BlobCounts {
            transferred: self.transferred.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
            mounted: self.mounted.load(Ordering::Relaxed),
            shared: self.shared.load(Ordering::Relaxed),
        }
    }

    pub(super) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// What travels from the feeder to the destination: bytes (or the error that ends them), and
/// the memory permit of a ranged fetch, released when the destination takes the bytes.
pub(super) type Item = (Result<Bytes, TransferError>, Option<OwnedSemaphorePermit>);

/// How a feeder ended.
pub(super) enum Feed {
    /// Every byte was sent.
    Complete,
    /// The destination stopped reading (it failed).
    Abandoned,
    /// The source failed for good; the destination was told.
    Failed(TransferError),
}

/// Whether another attempt may do better.
pub(super) fn retryable(error: &TransferError) -> bool {
    error.is_retryable() || matches!(error, TransferError::ResumeMismatch { .. })
}

/// Failures in a row that moved nothing forward, against the retry options.
#[derive(Debug)]
pub(super) struct Budget {
    options: RetryOptions,
    failures: u32,
    attempt: u32,
    furthest: u64,
}

impl Budget {
    pub(super) fn new(options: RetryOptions, start: u64) -> Budget {
        Budget {
            options,
            failures: 0,
            attempt: 1,
            furthest: start,
        }
    }

    /// Records a failure with the blob at `position`: the attempt to come and the wait before
    /// it, or `None` when the attempts are spent. Progress since the last failure resets the
    /// count.
    pub(super) fn fail(&mut self, position: u64) -> Option<(u32, Duration)> {
        if position > self.furthest {
            self.furthest = position;
            self.failures = 0;
        }
        self.failures += 1;
        if self.failures >= self.options.max_attempts {
            return None;
        }
        self.attempt += 1;
        Some((self.attempt, self.options.backoff(self.failures)))
    }
}

/// Emits `Transferring` as bytes go out, often enough to draw a bar, rarely enough to be cheap.
pub(super) struct Meter<'s> {
    sink: &'s ProgressSink,
    descriptor: &'s Descriptor,
    step: u64,
    last: u64,
}

impl<'s> Meter<'s> {
    pub(super) fn new(sink: &'s ProgressSink, descriptor: &'s Descriptor, start: u64) -> Self {
        let meter = Meter {
            sink,
            descriptor,
            step: (descriptor.size / 50).max(256 * 1024),
            last: start,
        };
        meter.emit(start);
        meter
    }

    fn emit(&self, done: u64) {
        self.sink.emit(ProgressEvent::Transferring {
            digest: self.descriptor.digest.clone(),
            done,
            size: self.descriptor.size,
        });
    }

    pub(super) fn update(&mut self, done: u64) {
        if done - self.last >= self.step || (done == self.descriptor.size && done > self.last) {
            self.last = done;
            self.emit(done);
        }
    }
}

/// Tells the destination the bytes stop here, and reports `error` as the copy's.
pub(super) async fn fail(sender: &mpsc::Sender<Item>, error: TransferError) -> Feed {
    let _ = sender
        .send((
            Err(TransferError::Interrupted(Interruption::SourceFailed)),
            None,
        ))
        .await;
    Feed::Failed(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(max_attempts: u32) -> RetryOptions {
        RetryOptions::new(
            max_attempts,
            Duration::from_millis(100),
            Duration::from_millis(350),
        )
    }

    #[test]
    fn failures_without_progress_are_counted_and_waits_double_up_to_the_cap() {
        let mut budget = Budget::new(options(4), 0);
        assert_eq!(budget.fail(0), Some((2, Duration::from_millis(100))));
        assert_eq!(budget.fail(0), Some((3, Duration::from_millis(200))));
        assert_eq!(budget.fail(0), Some((4, Duration::from_millis(350))));
        assert_eq!(budget.fail(0), None, "the fourth failure in a row ends it");
    }

    #[test]
    fn progress_starts_the_count_again() {
        let mut budget = Budget::new(options(2), 10);
        assert_eq!(budget.fail(10), Some((2, Duration::from_millis(100))));
        assert_eq!(budget.fail(20), Some((3, Duration::from_millis(100))));
        assert_eq!(budget.fail(30), Some((4, Duration::from_millis(100))));
        assert_eq!(budget.fail(30), None);
    }

    #[test]
    fn one_attempt_means_no_retry() {
        assert_eq!(Budget::new(options(1), 0).fail(5), None);
        assert_eq!(
            RetryOptions::new(0, Duration::ZERO, Duration::ZERO).max_attempts,
            1
        );
    }
}
