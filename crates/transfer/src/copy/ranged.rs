//! A large blob fetched as parallel `Range` requests, reassembled in order into the one stream
//! the destination verifies.
//!
//! Ranges of `chunk_size` bytes are fetched by up to `count` workers (fewer when the source
//! registry's request limit has no room). Each range is read whole into memory under a permit
//! of a semaphore of `count` permits, which the destination's stream releases when it takes
//! the bytes: at most `count × chunk_size` bytes are held, however far ahead the workers are.
//! A range whose connection breaks resumes from the bytes it has. A watchdog counts the bytes
//! of every worker and fails the fetch with [`TransferError::Stalled`] when none arrive for the
//! stall timeout; the fetch is then retried from the bytes delivered. When the source cannot
//! serve ranges (`blob_range` gives `None`, or the server ignores `Range`), the blob is read
//! as one stream instead.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::stream::FuturesOrdered;
use futures_util::{FutureExt, StreamExt};
use gantry_spec::Descriptor;
use tokio::sync::{Semaphore, mpsc};

use super::RangedFetch;
use super::feed::{Budget, Feed, Item, Meter, Reader, Stats, fail, retryable};
use crate::{BlobStream, ProgressEvent, ProgressSink, TransferError, Unsupported};

/// How a ranged fetch ended.
pub(super) enum Ended {
    /// It fed the destination to the end (or failed for good).
    Fed(Feed),
    /// The source serves no ranges: read the rest as one stream from this offset.
    Fallback(u64),
}

/// How one pass of the pipeline ended.
enum Pass {
    Complete,
    Abandoned,
    NoRanges(u64),
    Failed { at: u64, error: TransferError },
}

/// Feeds `sender` with the blob from `start` in parallel ranges, retrying a failed pass from
/// the bytes delivered.
#[allow(clippy::too_many_arguments, reason = "the feeder's state, passed down")]
pub(super) async fn feed(
    reader: &Reader<'_>,
    descriptor: &Descriptor,
    settings: &RangedFetch,
    start: u64,
    sender: &mpsc::Sender<Item>,
    sink: &ProgressSink,
    budget: &mut Budget,
    meter: &mut Meter<'_>,
) -> Ended {
    let mut from = start;
    loop {
        match pass(reader, descriptor, settings, from, sender, sink, meter).await {
            Pass::Complete => {
                sink.emit(ProgressEvent::Verifying {
                    digest: descriptor.digest.clone(),
                });
                return Ended::Fed(Feed::Complete);
            }
            Pass::Abandoned => return Ended::Fed(Feed::Abandoned),
            Pass::NoRanges(at) => return Ended::Fallback(at),
            Pass::Failed { at, error } => {
                from = at;
                if retryable(&error)
                    && let Some(next) = budget.fail(at)
                {
                    reader.retry_after(sink, descriptor, next, at, &error).await;
                    continue;
                }
                return Ended::Fed(fail(sender, error).await);
            }
        }
    }
}

/// One pass of the pipeline from `start`.
async fn pass(
    reader: &Reader<'_>,
    descriptor: &Descriptor,
    settings: &RangedFetch,
    start: u64,
    sender: &mpsc::Sender<Item>,
    sink: &ProgressSink,
    meter: &mut Meter<'_>,
) -> Pass {
    let size = descriptor.size;
    let chunk = settings.chunk_size.max(1);
    let first_end = start.saturating_add(chunk).min(size);
    let stall = reader.options.stall_timeout;
    let probe = tokio::time::timeout(
        stall,
        reader.source.blob_range(descriptor, start, first_end),
    );
    let first = match probe.await {
        Ok(Ok(Some(stream))) => stream,
        Ok(Ok(None)) => return Pass::NoRanges(start),
        Ok(Err(error)) if retryable(&error) => return Pass::Failed { at: start, error },
        Ok(Err(error)) => {
            tracing::debug!(%error, "a ranged request failed; reading the blob as one stream");
            return Pass::NoRanges(start);
        }
        Err(_) => {
            let seconds = stall.as_secs().max(1);
            let error = TransferError::Stalled { seconds };
            return Pass::Failed { at: start, error };
        }
    };
    // Workers beyond the first each take a request of the source registry's limit, if free.
    let mut extra = Vec::new();
    let workers = match &reader.source_limit {
        Some(limit) => {
            while extra.len() + 1 < settings.count {
                match Arc::clone(limit).try_acquire_owned() {
                    Ok(permit) => extra.push(permit),
                    Err(_) => break,
                }
            }
            extra.len() + 1
        }
        None => settings.count,
    };
    let memory = Arc::new(Semaphore::new(settings.count));
    let received = Arc::new(AtomicU64::new(0));
    let mut watchdog = Watchdog::new(Arc::clone(&received), reader.options.stall_timeout);
    let mut pending = FuturesOrdered::new();
    let mut first = Some(first);
    let mut next = start;
    let mut delivered = start;
    loop {
        while pending.len() < workers && next < size {
            let permit = if pending.is_empty() {
                match Arc::clone(&memory).acquire_owned().await {
                    Ok(permit) => permit,
                    Err(_) => return Pass::Abandoned,
                }
            } else {
                match Arc::clone(&memory).try_acquire_owned() {
                    Ok(permit) => permit,
                    Err(_) => break,
                }
            };
            let end = next.saturating_add(chunk).min(size);
            let range = fetch_range(
                reader,
                descriptor,
                (next, end),
                first.take(),
                Arc::clone(&received),
                sink,
            );
            pending.push_back(range.map(move |result| result.map(|bytes| (bytes, permit))));
            next = end;
        }
        if pending.is_empty() {
            return Pass::Complete;
        }
        let head = tokio::select! {
            head = pending.next() => head,
            () = sender.closed() => return Pass::Abandoned,
            () = watchdog.expired() => {
                let seconds = reader.options.stall_timeout.as_secs().max(1);
                return Pass::Failed { at: delivered, error: TransferError::Stalled { seconds } };
            }
        };
        match head {
            Some(Ok((bytes, permit))) => {
                let len = bytes.len() as u64;
                if sender.send((Ok(bytes), Some(permit))).await.is_err() {
                    return Pass::Abandoned;
                }
                delivered += len;
                Stats::add(&reader.stats.bytes, len);
                meter.update(delivered);
                watchdog.touch();
            }
            Some(Err(error)) => {
                return Pass::Failed {
                    at: delivered,
                    error,
                };
            }
            None => return Pass::Complete,
        }
    }
}

/// The bytes `start..end`, resumed from what arrived when the connection breaks.
async fn fetch_range(
    reader: &Reader<'_>,
    descriptor: &Descriptor,
    (start, end): (u64, u64),
    first: Option<BlobStream>,
    received: Arc<AtomicU64>,
    sink: &ProgressSink,
) -> Result<Bytes, TransferError> {
    let want = end - start;
    let mut buffer = BytesMut::with_capacity(usize::try_from(want).unwrap_or(0));
    let mut stream = first;
    let mut budget = Budget::new(reader.options.retry, start);
    loop {
        let got = buffer.len() as u64;
        let error = 'attempt: {
            let mut body = match stream.take() {
                Some(body) => body,
                None => match reader.source.blob_range(descriptor, start + got, end).await {
                    Ok(Some(body)) => body,
                    Ok(None) => {
                        return Err(TransferError::Unsupported(Unsupported::RangesWithdrawn));
                    }
                    Err(error) => break 'attempt error,
                },
            };
            while let Some(item) = body.next().await {
                match item {
                    Ok(chunk) => {
                        let len = chunk.len() as u64;
                        if buffer.len() as u64 + len > want {
                            return Err(TransferError::SizeMismatch {
                                digest: descriptor.digest.clone(),
                                expected: descriptor.size,
                                actual: start + buffer.len() as u64 + len,
                            });
                        }
                        buffer.extend_from_slice(&chunk);
                        received.fetch_add(len, Ordering::Relaxed);
                    }
                    Err(error) => break 'attempt error,
                }
            }
            if buffer.len() as u64 == want {
                return Ok(buffer.freeze());
            }
            return Err(TransferError::SizeMismatch {
                digest: descriptor.digest.clone(),
                expected: descriptor.size,
                actual: start + buffer.len() as u64,
            });
        };
        let at = start + buffer.len() as u64;
        if retryable(&error)
            && let Some(next) = budget.fail(at)
        {
            reader.retry_after(sink, descriptor, next, at, &error).await;
            continue;
        }
        return Err(error);
    }
}

/// Watches a byte counter that every worker adds to.
struct Watchdog {
    counter: Arc<AtomicU64>,
    seen: u64,
    since: Instant,
    window: Duration,
}

impl Watchdog {
    fn new(counter: Arc<AtomicU64>, window: Duration) -> Watchdog {
        Watchdog {
            seen: counter.load(Ordering::Relaxed),
            counter,
            since: Instant::now(),
            window,
        }
    }

    /// Resolves once the counter has not moved for the window.
    async fn expired(&mut self) {
        let tick = (self.window / 4).max(Duration::from_millis(5));
        loop {
            tokio::time::sleep(tick).await;
            let now = self.counter.load(Ordering::Relaxed);
            if now != self.seen {
                self.seen = now;
                self.since = Instant::now();
            } else if self.since.elapsed() >= self.window {
                return;
            }
        }
    }

    /// Starts the window again (the destination just took bytes, which took time).
    fn touch(&mut self) {
        self.seen = self.counter.load(Ordering::Relaxed);
        self.since = Instant::now();
    }
}
