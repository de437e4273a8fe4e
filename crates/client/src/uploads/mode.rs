//! [`UploadMode`]: a blob's content and the way it goes to the registry.

use std::error::Error as StdError;
use std::fmt;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

/// An error of the caller's content, kept apart from what the HTTP stack makes of it.
pub(super) type ContentError = Box<dyn StdError + Send + Sync>;

/// A blob's content (or the rest of it) as a stream of chunks.
pub(super) type Content = Pin<Box<dyn Stream<Item = Result<Bytes, ContentError>> + Send>>;

/// What gives the content again from an offset.
pub(super) type Reopen<'a> = Box<
    dyn FnMut(u64) -> Pin<Box<dyn Future<Output = Result<Content, ContentError>> + Send + 'a>>
        + Send
        + 'a,
>;

/// A blob's content and how [`Client::push_blob`](crate::Client::push_blob) and
/// [`Client::complete_upload`](crate::Client::complete_upload) send it.
///
/// - [`monolithic`](UploadMode::monolithic): the whole blob in one request body (`POST
///   ?digest=` for a new blob; the committing `PUT` for a session).
/// - [`streamed`](UploadMode::streamed): one streamed `PATCH`, then the committing `PUT`. Not
///   retried: a failure needs the stream again.
/// - [`resumable`](UploadMode::resumable): streamed, with content the caller can reopen at an
///   offset. When the `PATCH` fails on the way (a cut connection, a retryable answer), the
///   client asks the registry how many bytes it holds, which may be fewer than were sent,
///   reopens the content there and sends the rest in a new `PATCH`, up to the retry policy's
///   attempts. A registry that refuses the streamed `PATCH` (405 or 501) gets the content,
///   reopened at 0, as the body of the committing `PUT` instead. A failure of the content
///   itself is not retried.
/// - [`chunked`](UploadMode::chunked): `PATCH` requests of
///   [`chunk_size`](crate::ClientConfig::chunk_size) bytes (or
///   [`with_chunk_size`](UploadMode::with_chunk_size)), raised to the registry's
///   `OCI-Chunk-Min-Length`, with `Content-Range`. When a chunk fails, the client asks the
///   registry how far it got and sends the rest of the chunk from there, up to the retry
///   policy's attempts. A registry that refuses the first chunk of an empty session outright
///   (400, 405, 416 or 501) gets the whole stream in one streamed `PATCH` instead, in a new
///   session.
///
/// The content is the blob from the session's [`offset`](crate::Upload::offset) on: all of it
/// for a new session. The registry checks the digest when the upload is committed; a mismatch
/// is its `DIGEST_INVALID`. A failure of the content stream is
/// [`ClientError::Content`](crate::ClientError::Content), whatever the HTTP stack made of it.
#[must_use]
pub struct UploadMode<'a> {
    pub(super) kind: Kind<'a>,
}

/// The modes, with what each carries.
pub(super) enum Kind<'a> {
    Monolithic(Bytes),
    Streamed(Content),
    Resumable(Reopen<'a>),
    Chunked {
        content: Content,
        chunk_size: Option<usize>,
    },
}

/// `content` with its errors boxed.
fn boxed<S, E>(content: S) -> Content
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<ContentError> + 'static,
{
    Box::pin(content.map(|item| item.map_err(Into::into)))
}

impl<'a> UploadMode<'a> {
    /// The whole blob, sent as one request body.
    pub fn monolithic(content: impl Into<Bytes>) -> UploadMode<'static> {
        UploadMode {
            kind: Kind::Monolithic(content.into()),
        }
    }

    /// A stream sent in one `PATCH`.
    pub fn streamed<S, E>(content: S) -> UploadMode<'static>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<ContentError> + 'static,
    {
        UploadMode {
            kind: Kind::Streamed(boxed(content)),
        }
    }

    /// A stream sent in one `PATCH`, which `open(offset)` gives from byte `offset` on (the
    /// session's offset first): resumed from the upload status after a cut.
    pub fn resumable<O, F, S, E>(mut open: O) -> UploadMode<'a>
    where
        O: FnMut(u64) -> F + Send + 'a,
        F: Future<Output = Result<S, E>> + Send + 'a,
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<ContentError> + 'static,
    {
        let reopen: Reopen<'a> = Box::new(move |offset| {
            let opened = open(offset);
            Box::pin(async move { opened.await.map(boxed).map_err(Into::into) })
        });
        UploadMode {
            kind: Kind::Resumable(reopen),
        }
    }

    /// A stream sent in chunks with `Content-Range`.
    pub fn chunked<S, E>(content: S) -> UploadMode<'static>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<ContentError> + 'static,
    {
        UploadMode {
            kind: Kind::Chunked {
                content: boxed(content),
                chunk_size: None,
            },
        }
    }

    /// For a chunked upload, chunks of `bytes` (at least 1) instead of the client's
    /// [`chunk_size`](crate::ClientConfig::chunk_size); other modes send no chunks and are
    /// left as they are.
    pub fn with_chunk_size(mut self, bytes: usize) -> UploadMode<'a> {
        if let Kind::Chunked { chunk_size, .. } = &mut self.kind {
            *chunk_size = Some(bytes.max(1));
        }
        self
    }
}

impl fmt::Debug for UploadMode<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Monolithic(content) => f
                .debug_struct("Monolithic")
                .field("len", &content.len())
                .finish(),
            Kind::Streamed(_) => f.write_str("Streamed"),
            Kind::Resumable(_) => f.write_str("Resumable"),
            Kind::Chunked { chunk_size, .. } => f
                .debug_struct("Chunked")
                .field("chunk_size", chunk_size)
                .finish(),
        }
    }
}
