//! One blob: skip, mount or transfer, with retries that stay inside the blob.
//!
//! A transfer joins two halves in one task: a feeder reads the source and sends the bytes
//! through a small channel, and the destination's `put_blob` reads them as its stream. A source
//! failure is retried by the feeder, which reopens the source from the bytes already delivered
//! (`source.blob(descriptor, delivered)`), so the destination sees one unbroken stream. A
//! destination failure ends the attempt; the next one starts from
//! `destination.resume_offset`. Before the first attempt the destination is asked too, so a
//! download killed with its process resumes where the destination kept it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use gantry_spec::Descriptor;
use tokio::sync::{OwnedSemaphorePermit, mpsc};

use super::dedup::Role;
use super::{Ctx, RetryOptions, Stats, ranged};
use crate::{BlobStream, Interruption, ProgressEvent, ProgressSink, TransferError};

/// What travels from the feeder to the destination: bytes (or the error that ends them), and
/// the memory permit of a ranged fetch, released when the destination takes the bytes.
pub(super) type Item = (Result<Bytes, TransferError>, Option<OwnedSemaphorePermit>);

/// How many items the channel to the destination holds.
const CHANNEL: usize = 4;

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

/// Reports a retry and waits before it.
pub(super) async fn retry_after(
    ctx: &Ctx<'_>,
    sink: &ProgressSink,
    descriptor: &Descriptor,
    (attempt, after): (u32, Duration),
    offset: u64,
    error: &TransferError,
) {
    tracing::debug!(digest = %descriptor.digest, attempt, offset, %error, "retrying a blob");
    Stats::add(&ctx.stats.retries, 1);
    sink.emit(ProgressEvent::Retrying {
        digest: descriptor.digest.clone(),
        attempt,
        after,
        offset,
        reason: error.to_string(),
    });
    tokio::time::sleep(after).await;
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

/// Copies one blob unless the destination has it, sharing the work with other copies of the
/// same copier that need it in the same destination.
pub(super) async fn copy_blob(ctx: &Ctx<'_>, descriptor: &Descriptor) -> Result<(), TransferError> {
    let sink = &ctx.options.progress;
    sink.emit(ProgressEvent::Waiting {
        digest: descriptor.digest.clone(),
        size: descriptor.size,
    });
    loop {
        match ctx
            .shared
            .in_flight
            .join(&ctx.destination_key, &descriptor.digest, sink)
        {
            Role::Waiter(mut outcome) => {
                let succeeded = outcome
                    .wait_for(Option::is_some)
                    .await
                    .is_ok_and(|state| *state == Some(true));
                if succeeded {
                    Stats::add(&ctx.stats.shared, 1);
                    return Ok(());
                }
                // The leader failed: try again, leading this time unless someone else does.
            }
            Role::Leader(guard) => {
                let sink = guard.sink();
                let result = lead(ctx, descriptor, &sink).await;
                guard.finish(result.is_ok());
                return result;
            }
        }
    }
}

async fn lead(
    ctx: &Ctx<'_>,
    descriptor: &Descriptor,
    sink: &ProgressSink,
) -> Result<(), TransferError> {
    let _slot = Arc::clone(&ctx.shared.slots)
        .acquire_owned()
        .await
        .map_err(|_| TransferError::Interrupted(Interruption::CopierClosed))?;
    let _permits = ctx.registry_permits().await?;
    let digest = &descriptor.digest;
    if ctx.destination.has_blob(descriptor).await? {
        Stats::add(&ctx.stats.skipped, 1);
        sink.emit(ProgressEvent::Skipped {
            digest: digest.clone(),
            size: descriptor.size,
        });
        return Ok(());
    }
    if let Some(origin) = ctx.source.mount_origin()
        && ctx.destination.mount_blob(descriptor, &origin).await?
    {
        Stats::add(&ctx.stats.mounted, 1);
        sink.emit(ProgressEvent::Mounted {
            digest: digest.clone(),
            size: descriptor.size,
            from: origin.repository,
        });
        return Ok(());
    }
    transfer(ctx, descriptor, sink).await
}

/// The receiving end of the channel as the destination's stream.
fn receiver_stream(receiver: mpsc::Receiver<Item>) -> BlobStream {
    Box::pin(futures_util::stream::unfold(
        receiver,
        |mut receiver| async move {
            let (item, permit) = receiver.recv().await?;
            drop(permit);
            Some((item, receiver))
        },
    ))
}

/// Sends the blob's bytes to the destination, attempt after attempt.
async fn transfer(
    ctx: &Ctx<'_>,
    descriptor: &Descriptor,
    sink: &ProgressSink,
) -> Result<(), TransferError> {
    let size = descriptor.size;
    let mut offset = ctx.destination.resume_offset(descriptor).await?.min(size);
    let mut budget = Budget::new(ctx.options.retry, offset);
    loop {
        let (sender, receiver) = mpsc::channel(CHANNEL);
        let feed = feed(ctx, descriptor, offset, sender, sink, &mut budget);
        let put = ctx
            .destination
            .put_blob(descriptor, offset, receiver_stream(receiver));
        let (fed, put) = tokio::join!(feed, put);
        let error = match (put, fed) {
            (Ok(()), _) => {
                Stats::add(&ctx.stats.transferred, 1);
                sink.emit(ProgressEvent::Done {
                    digest: descriptor.digest.clone(),
                    size,
                });
                return Ok(());
            }
            (Err(_), Feed::Failed(error)) | (Err(error), _) => error,
        };
        if matches!(error, TransferError::Interrupted(_)) || !retryable(&error) {
            return Err(error);
        }
        let resume = ctx
            .destination
            .resume_offset(descriptor)
            .await
            .unwrap_or(0)
            .min(size);
        let Some(next) = budget.fail(resume.max(offset)) else {
            return Err(error);
        };
        retry_after(ctx, sink, descriptor, next, resume, &error).await;
        offset = resume;
    }
}

/// Reads the source from `start` and sends every byte to `sender`, retrying source failures
/// from the bytes delivered.
async fn feed(
    ctx: &Ctx<'_>,
    descriptor: &Descriptor,
    start: u64,
    sender: mpsc::Sender<Item>,
    sink: &ProgressSink,
    budget: &mut Budget,
) -> Feed {
    let mut meter = Meter::new(sink, descriptor, start);
    let mut delivered = start;
    if let Some(settings) = ctx.options.ranged
        && settings.count > 1
        && descriptor.size.saturating_sub(start) >= settings.min_size
    {
        match ranged::feed(
            ctx, descriptor, &settings, start, &sender, sink, budget, &mut meter,
        )
        .await
        {
            ranged::Ended::Fed(feed) => return feed,
            ranged::Ended::Fallback(at) => delivered = at,
        }
    }
    sequential(
        ctx, descriptor, delivered, &sender, sink, budget, &mut meter,
    )
    .await
}

/// The source's blob as one stream (reopened from the bytes delivered after a failure).
async fn sequential(
    ctx: &Ctx<'_>,
    descriptor: &Descriptor,
    start: u64,
    sender: &mpsc::Sender<Item>,
    sink: &ProgressSink,
    budget: &mut Budget,
    meter: &mut Meter<'_>,
) -> Feed {
    let stall = ctx.options.stall_timeout;
    let stalled = || TransferError::Stalled {
        seconds: stall.as_secs().max(1),
    };
    let size = descriptor.size;
    let mut delivered = start;
    loop {
        let error = 'attempt: {
            let mut stream =
                match tokio::time::timeout(stall, ctx.source.blob(descriptor, delivered)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(error)) => break 'attempt error,
                    Err(_) => break 'attempt stalled(),
                };
            loop {
                let next = tokio::select! {
                    next = tokio::time::timeout(stall, stream.next()) => next,
                    // The destination gave up: stop reading at once.
                    () = sender.closed() => return Feed::Abandoned,
                };
                match next {
                    Err(_) => break 'attempt stalled(),
                    Ok(None) => {
                        sink.emit(ProgressEvent::Verifying {
                            digest: descriptor.digest.clone(),
                        });
                        return Feed::Complete;
                    }
                    Ok(Some(Err(error))) => break 'attempt error,
                    Ok(Some(Ok(chunk))) => {
                        let len = chunk.len() as u64;
                        if delivered + len > size {
                            break 'attempt TransferError::SizeMismatch {
                                digest: descriptor.digest.clone(),
                                expected: size,
                                actual: delivered + len,
                            };
                        }
                        if sender.send((Ok(chunk), None)).await.is_err() {
                            return Feed::Abandoned;
                        }
                        delivered += len;
                        Stats::add(&ctx.stats.bytes, len);
                        meter.update(delivered);
                    }
                }
            }
        };
        if retryable(&error)
            && let Some(next) = budget.fail(delivered)
        {
            retry_after(ctx, sink, descriptor, next, delivered, &error).await;
            continue;
        }
        return fail(sender, error).await;
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
