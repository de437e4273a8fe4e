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

use futures_util::StreamExt;
use gantry_spec::Descriptor;
use tokio::sync::{Semaphore, mpsc};

use super::dedup::{InFlightMap, Role, StoreKey};
use super::feed::{Budget, Feed, Item, Meter, Reader, Stats, fail, retryable};
use super::limits::RegistryLimits;
use super::ranged;
use crate::{
    BlobStream, ImageDestination, Interruption, ProgressEvent, ProgressSink, TransferError,
};

/// What copying a blob needs: the reader of the source, the destination and the store it
/// writes, and the copier's shared limits and blobs in flight.
pub(super) struct BlobCopier<'a> {
    pub(super) reader: Reader<'a>,
    pub(super) destination: &'a dyn ImageDestination,
    pub(super) store: StoreKey,
    pub(super) slots: &'a Arc<Semaphore>,
    pub(super) in_flight: &'a Arc<InFlightMap>,
    pub(super) limits: RegistryLimits,
}

/// How many items the channel to the destination holds.
const CHANNEL: usize = 4;

/// Copies one blob unless the destination has it, sharing the work with other copies of the
/// same copier that need it in the same destination.
pub(super) async fn copy_blob(
    copier: &BlobCopier<'_>,
    descriptor: &Descriptor,
) -> Result<(), TransferError> {
    let sink = &copier.reader.options.progress;
    sink.emit(ProgressEvent::Waiting {
        digest: descriptor.digest.clone(),
        size: descriptor.size,
    });
    loop {
        match copier
            .in_flight
            .join(&copier.store, &descriptor.digest, sink)
        {
            Role::Waiter(mut outcome) => {
                let succeeded = outcome
                    .wait_for(Option::is_some)
                    .await
                    .is_ok_and(|state| *state == Some(true));
                if succeeded {
                    Stats::add(&copier.reader.stats.shared, 1);
                    return Ok(());
                }
                // The leader failed: try again, leading this time unless someone else does.
            }
            Role::Leader(guard) => {
                let sink = guard.sink();
                let result = lead(copier, descriptor, &sink).await;
                guard.finish(result.is_ok());
                return result;
            }
        }
    }
}

async fn lead(
    copier: &BlobCopier<'_>,
    descriptor: &Descriptor,
    sink: &ProgressSink,
) -> Result<(), TransferError> {
    let _slot = Arc::clone(copier.slots)
        .acquire_owned()
        .await
        .map_err(|_| TransferError::Interrupted(Interruption::CopierClosed))?;
    let _permits = copier.limits.permits().await?;
    let digest = &descriptor.digest;
    if copier.destination.has_blob(descriptor).await? {
        Stats::add(&copier.reader.stats.skipped, 1);
        sink.emit(ProgressEvent::Skipped {
            digest: digest.clone(),
            size: descriptor.size,
        });
        return Ok(());
    }
    if let Some(origin) = copier.reader.source.mount_origin()
        && copier.destination.mount_blob(descriptor, &origin).await?
    {
        Stats::add(&copier.reader.stats.mounted, 1);
        sink.emit(ProgressEvent::Mounted {
            digest: digest.clone(),
            size: descriptor.size,
            from: origin.repository,
        });
        return Ok(());
    }
    transfer(copier, descriptor, sink).await
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
    copier: &BlobCopier<'_>,
    descriptor: &Descriptor,
    sink: &ProgressSink,
) -> Result<(), TransferError> {
    let size = descriptor.size;
    let mut offset = copier
        .destination
        .resume_offset(descriptor)
        .await?
        .min(size);
    let mut budget = Budget::new(copier.reader.options.retry, offset);
    loop {
        let (sender, receiver) = mpsc::channel(CHANNEL);
        let feed = feed(copier, descriptor, offset, sender, sink, &mut budget);
        let put = copier
            .destination
            .put_blob(descriptor, offset, receiver_stream(receiver));
        let (fed, put) = tokio::join!(feed, put);
        let error = match (put, fed) {
            (Ok(()), _) => {
                Stats::add(&copier.reader.stats.transferred, 1);
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
        let resume = copier
            .destination
            .resume_offset(descriptor)
            .await
            .unwrap_or(0)
            .min(size);
        let Some(next) = budget.fail(resume.max(offset)) else {
            return Err(error);
        };
        copier
            .reader
            .retry_after(sink, descriptor, next, resume, &error)
            .await;
        offset = resume;
    }
}

/// Reads the source from `start` and sends every byte to `sender`, retrying source failures
/// from the bytes delivered.
async fn feed(
    copier: &BlobCopier<'_>,
    descriptor: &Descriptor,
    start: u64,
    sender: mpsc::Sender<Item>,
    sink: &ProgressSink,
    budget: &mut Budget,
) -> Feed {
    let mut meter = Meter::new(sink, descriptor, start);
    let mut delivered = start;
    let reader = &copier.reader;
    if let Some(settings) = reader.options.ranged
        && settings.count > 1
        && descriptor.size.saturating_sub(start) >= settings.min_size
    {
        match ranged::feed(
            reader, descriptor, &settings, start, &sender, sink, budget, &mut meter,
        )
        .await
        {
            ranged::Ended::Fed(feed) => return feed,
            ranged::Ended::Fallback(at) => delivered = at,
        }
    }
    sequential(
        reader, descriptor, delivered, &sender, sink, budget, &mut meter,
    )
    .await
}

/// The source's blob as one stream (reopened from the bytes delivered after a failure).
async fn sequential(
    reader: &Reader<'_>,
    descriptor: &Descriptor,
    start: u64,
    sender: &mpsc::Sender<Item>,
    sink: &ProgressSink,
    budget: &mut Budget,
    meter: &mut Meter<'_>,
) -> Feed {
    let stall = reader.options.stall_timeout;
    let stalled = || TransferError::Stalled {
        seconds: stall.as_secs().max(1),
    };
    let size = descriptor.size;
    let mut delivered = start;
    loop {
        let error =
            'attempt: {
                let mut stream =
                    match tokio::time::timeout(stall, reader.source.blob(descriptor, delivered))
                        .await
                    {
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
                            Stats::add(&reader.stats.bytes, len);
                            meter.update(delivered);
                        }
                    }
                }
            };
        if retryable(&error)
            && let Some(next) = budget.fail(delivered)
        {
            reader
                .retry_after(sink, descriptor, next, delivered, &error)
                .await;
            continue;
        }
        return fail(sender, error).await;
    }
}
