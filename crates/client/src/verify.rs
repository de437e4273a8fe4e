//! [`VerifyingStream`]: any stream of [`Bytes`] checked against a size and digest as it flows,
//! its last chunk held back until both matched. The checking itself is
//! [`ChunkVerifier`](gantry_reference::ChunkVerifier)'s; this is its `Stream` form, shared by
//! the client's blob downloads, the transfer engine and the command line.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use gantry_reference::{ChunkVerifier, Digest, DigestError};

/// A stream of chunks checked against an expected size and digest: the most recent chunk is
/// held back until the next one arrives, so the last one comes out only after the whole stream
/// matched. When it does not, the stream yields the error `mismatch` makes of the
/// [`DigestError`] (a [`SizeMismatch`](DigestError::SizeMismatch) as soon as the stream grows
/// past the size, else a [`SizeMismatch`](DigestError::SizeMismatch) or
/// [`Mismatch`](DigestError::Mismatch) at its end) in place of the last chunk. After an error,
/// its own or the inner stream's, the stream ends.
///
/// ```
/// use bytes::Bytes;
/// use futures_util::{StreamExt, stream};
/// use gantry_client::VerifyingStream;
/// use gantry_reference::{Algorithm, Digest, DigestError};
///
/// # futures_util::FutureExt::now_or_never(async {
/// let chunks = vec![Ok(Bytes::from_static(b"lay")), Ok(Bytes::from_static(b"er"))];
/// let digest = Digest::of(Algorithm::Sha256, b"layer");
/// let verified =
///     VerifyingStream::new(stream::iter(chunks), Some(digest), Some(5), |e: DigestError| e);
/// let items: Vec<_> = verified.collect().await;
/// assert_eq!(items, vec![Ok(Bytes::from_static(b"lay")), Ok(Bytes::from_static(b"er"))]);
/// # });
/// ```
pub struct VerifyingStream<S, F> {
    inner: S,
    /// The running check; `None` once the stream has ended.
    check: Option<ChunkVerifier<Bytes>>,
    mismatch: F,
}

impl<S, F> VerifyingStream<S, F> {
    /// `inner`, checked against `digest` and `size` (either may be left out), with mismatches
    /// turned into the stream's error type by `mismatch`.
    pub fn new(inner: S, digest: Option<Digest>, size: Option<u64>, mismatch: F) -> Self {
        VerifyingStream {
            inner,
            check: Some(ChunkVerifier::new(digest, size)),
            mismatch,
        }
    }

    /// The stream being checked.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The digest the bytes are checked against, if any (`None` too once the stream ended).
    pub fn digest(&self) -> Option<&Digest> {
        self.check.as_ref().and_then(ChunkVerifier::digest)
    }

    /// How many bytes the inner stream has given so far (`None` once the stream ended).
    pub fn received(&self) -> Option<u64> {
        self.check.as_ref().map(ChunkVerifier::received)
    }
}

impl<S, F> fmt::Debug for VerifyingStream<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingStream")
            .field("check", &self.check)
            .finish_non_exhaustive()
    }
}

impl<S, E, F> Stream for VerifyingStream<S, F>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    F: FnMut(DigestError) -> E + Unpin,
{
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            let Some(check) = &mut this.check else {
                return Poll::Ready(None);
            };
            let item = match ready!(this.inner.poll_next_unpin(cx)) {
                None => {
                    let Some(check) = this.check.take() else {
                        return Poll::Ready(None);
                    };
                    return Poll::Ready(match check.finish() {
                        Ok(last) => last.map(Ok),
                        Err(error) => Some(Err((this.mismatch)(error))),
                    });
                }
                Some(item) => item,
            };
            match item.map(|chunk| check.push(chunk)) {
                Ok(Ok(None)) => {}
                Ok(Ok(Some(ready))) => return Poll::Ready(Some(Ok(ready))),
                Ok(Err(error)) => {
                    this.check = None;
                    return Poll::Ready(Some(Err((this.mismatch)(error))));
                }
                Err(error) => {
                    this.check = None;
                    return Poll::Ready(Some(Err(error)));
                }
            }
        }
    }
}
