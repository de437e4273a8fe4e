//! Blobs: head, get as a stream that verifies its digest as it streams, get a byte range, and
//! delete.

use std::fmt;
use std::ops::Range;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::Stream;
use gantry_reference::{Digest, DigestError, Reference};
use gantry_spec::Descriptor;
use reqwest::header::{HeaderValue, RANGE};
use reqwest::{Method, Response};

use crate::client::{Client, Inner};
use crate::error::ClientError;
use crate::http::{self, Call, header_str};
use crate::manifests::{CONTENT_DIGEST, content_length};
use crate::verify::VerifyingStream;

type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, reqwest::Error>> + Send>>;
type Reopening = Pin<Box<dyn Future<Output = Result<ByteStream, ClientError>> + Send>>;

/// How a blob download picks up again after the connection breaks: a `GET` of the same URL
/// with `Range: bytes=<start + received>-<end>`.
struct Resume {
    client: Client,
    scope: String,
    /// The offset in the blob of the stream's first byte: 0 for a whole blob.
    start: u64,
    /// The last byte wanted (inclusive), for a range; `None` for the rest of the blob.
    end: Option<u64>,
    /// Resumptions left.
    left: u32,
    /// Resumptions so far, for the backoff.
    done: u32,
}

/// A blob's bytes as they arrive, checked against the expected length and digest.
///
/// The stream holds back the most recent chunk until the next one arrives, so the final chunk
/// is handed out only after the whole body has hashed to the expected digest: when the bytes do
/// not match, the stream yields [`ClientError::DigestMismatch`] (or
/// [`ClientError::SizeMismatch`]) in its place and ends. A caller that writes every chunk it
/// receives therefore never completes an unverified blob. After an error the stream ends. The
/// checking is a [`VerifyingStream`]'s.
///
/// When the connection breaks mid-body, a download resumes where it stopped with a `Range`
/// request (as many times as the retry policy has retries), and goes on hashing: the caller
/// sees one stream. A ranged download resumes the same way, asking for the rest of its range.
pub struct VerifiedBlobStream {
    inner: VerifyingStream<Body, fn(DigestError) -> ClientError>,
    expected_len: Option<u64>,
}

impl fmt::Debug for VerifiedBlobStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = self.inner.get_ref();
        f.debug_struct("VerifiedBlobStream")
            .field("url", &body.url)
            .field("expected_len", &self.expected_len)
            .field("received", &body.received)
            .finish_non_exhaustive()
    }
}

impl VerifiedBlobStream {
    fn new(
        method: Method,
        url: String,
        response: Response,
        expected_len: Option<u64>,
        digest: Option<&Digest>,
        resume: Resume,
    ) -> VerifiedBlobStream {
        let body = Body {
            body: Box::pin(response.bytes_stream()),
            reopening: None,
            resume,
            method,
            url,
            expected_len,
            received: 0,
        };
        let mismatch: fn(DigestError) -> ClientError = ClientError::from_mismatch;
        VerifiedBlobStream {
            inner: VerifyingStream::new(body, digest.cloned(), expected_len, mismatch),
            expected_len,
        }
    }

    /// The length the stream will have, when the registry announced it.
    pub fn len(&self) -> Option<u64> {
        self.expected_len
    }

    /// Whether the stream is announced as empty.
    pub fn is_empty(&self) -> bool {
        self.expected_len == Some(0)
    }

    /// The digest the bytes are checked against; `None` for a byte range, which is checked for
    /// its length only.
    pub fn digest(&self) -> Option<&Digest> {
        self.inner.digest()
    }

    /// Reads the whole stream into memory: for small blobs such as configs only.
    pub async fn collect(mut self) -> Result<Bytes, ClientError> {
        use futures_util::StreamExt;
        let mut buffer = bytes::BytesMut::new();
        while let Some(chunk) = self.next().await {
            buffer.extend_from_slice(&chunk?);
        }
        Ok(buffer.freeze())
    }
}

impl Stream for VerifiedBlobStream {
    type Item = Result<Bytes, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

/// A download's body as it arrives, unchecked, picked up again with a `Range` request when the
/// connection breaks (see [`Resume`]).
struct Body {
    body: ByteStream,
    reopening: Option<Reopening>,
    resume: Resume,
    method: Method,
    url: String,
    expected_len: Option<u64>,
    received: u64,
}

impl Body {
    /// Starts a `Range` request for the rest of the body, if a resumption is left.
    fn reopen(&mut self) -> bool {
        let resume = &mut self.resume;
        if resume.left == 0 || self.expected_len.is_some_and(|len| self.received >= len) {
            return false;
        }
        resume.left -= 1;
        resume.done += 1;
        let wait = resume.client.inner.config.retry.backoff(resume.done - 1);
        let (client, scope) = (resume.client.clone(), resume.scope.clone());
        let (url, from, end) = (self.url.clone(), resume.start + self.received, resume.end);
        tracing::debug!(%url, from, "resuming a blob download");
        self.reopening = Some(Box::pin(async move {
            tokio::time::sleep(wait).await;
            let range = match end {
                Some(end) => format!("{from}-{end}"),
                None => format!("{from}-"),
            };
            let fits = |start, last| start == from && end.is_none_or(|end| last <= end);
            let (response, _) = get_range(&client.inner, &url, scope, &range, fits).await?;
            Ok(Box::pin(response.bytes_stream()) as ByteStream)
        }));
        true
    }
}

impl Stream for Body {
    type Item = Result<Bytes, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(reopening) = &mut this.reopening {
                let reopened = ready!(reopening.as_mut().poll(cx));
                this.reopening = None;
                this.body = reopened?;
            }
            match ready!(this.body.as_mut().poll_next(cx)) {
                None => return Poll::Ready(None),
                Some(Err(error)) => {
                    if this.reopen() {
                        continue;
                    }
                    let error =
                        ClientError::transport(&this.method, &this.url, "reading the body", error);
                    return Poll::Ready(Some(Err(error)));
                }
                Some(Ok(chunk)) => {
                    this.received += chunk.len() as u64;
                    return Poll::Ready(Some(Ok(chunk)));
                }
            }
        }
    }
}

impl Client {
    /// The size of blob `digest` in the repository `reference` names.
    pub async fn head_blob(
        &self,
        reference: &Reference,
        digest: &Digest,
    ) -> Result<u64, ClientError> {
        let repository = self.repository(reference).await?;
        let url = repository.url(&format!("blobs/{digest}"));
        let method = Method::HEAD;
        let response = http::send(
            &self.inner,
            Call::new(method.clone(), &url).scope(repository.scope("pull")),
        )
        .await?;
        check_digest_header(&method, &url, &response, digest)?;
        content_length(&method, &url, &response)
    }

    /// Deletes blob `digest` from the repository `reference` names (`DELETE`; registries
    /// answer `405 UNSUPPORTED` when deletion is disabled, and `404` for an unknown blob).
    pub async fn delete_blob(
        &self,
        reference: &Reference,
        digest: &Digest,
    ) -> Result<(), ClientError> {
        let repository = self.repository(reference).await?;
        let url = repository.url(&format!("blobs/{digest}"));
        let call = Call::new(Method::DELETE, &url).scope(repository.scope("delete"));
        http::send(&self.inner, call).await?;
        Ok(())
    }

    /// Fetches blob `digest` as a stream verified against it (see [`VerifiedBlobStream`]). Redirects to
    /// other hosts (storage backends) are followed, without the `Authorization` header.
    pub async fn get_blob(
        &self,
        reference: &Reference,
        digest: &Digest,
    ) -> Result<VerifiedBlobStream, ClientError> {
        self.fetch_blob(reference, digest, None).await
    }

    /// [`get_blob`](Client::get_blob) for a descriptor: the body must also have the
    /// descriptor's size, and a registry announcing another length is refused before any byte
    /// is read.
    pub async fn get_blob_descriptor(
        &self,
        reference: &Reference,
        descriptor: &Descriptor,
    ) -> Result<VerifiedBlobStream, ClientError> {
        self.fetch_blob(reference, &descriptor.digest, Some(descriptor.size))
            .await
    }

    async fn fetch_blob(
        &self,
        reference: &Reference,
        digest: &Digest,
        size: Option<u64>,
    ) -> Result<VerifiedBlobStream, ClientError> {
        let repository = self.repository(reference).await?;
        let url = repository.url(&format!("blobs/{digest}"));
        let method = Method::GET;
        let response = http::send(
            &self.inner,
            Call::new(method.clone(), &url).scope(repository.scope("pull")),
        )
        .await?;
        if response.status().as_u16() != 200 {
            return Err(ClientError::unexpected_status(
                &method,
                &url,
                response.status().as_u16(),
            ));
        }
        let announced = response.content_length();
        if let (Some(size), Some(announced)) = (size, announced)
            && size != announced
        {
            return Err(ClientError::SizeMismatch {
                expected: size,
                actual: announced,
            });
        }
        let resume = Resume {
            client: self.clone(),
            scope: repository.scope("pull"),
            start: 0,
            end: None,
            left: self.inner.config.retry.max_attempts.saturating_sub(1),
            done: 0,
        };
        let expected_len = size.or(announced);
        Ok(VerifiedBlobStream::new(
            method,
            url,
            response,
            expected_len,
            Some(digest),
            resume,
        ))
    }

    /// Fetches `range` of blob `digest` (offsets in bytes, end exclusive). The bytes of a range
    /// cannot be checked against the blob's digest: the stream checks their count only. The
    /// registry must answer `206 Partial Content` with a `Content-Range` that starts at
    /// `range.start`. A connection cut mid-body is resumed by a `Range` request for the rest of
    /// the range, as [`get_blob`](Client::get_blob) does.
    pub async fn get_blob_range(
        &self,
        reference: &Reference,
        digest: &Digest,
        range: Range<u64>,
    ) -> Result<VerifiedBlobStream, ClientError> {
        let repository = self.repository(reference).await?;
        let url = repository.url(&format!("blobs/{digest}"));
        let method = Method::GET;
        if range.is_empty() {
            return Err(ClientError::invalid_header(
                &method,
                &url,
                "Range",
                format!("{range:?}"),
            ));
        }
        let value = format!("{}-{}", range.start, range.end - 1);
        let (response, (start, end)) = get_range(
            &self.inner,
            &url,
            repository.scope("pull"),
            &value,
            |start, end| start == range.start && end < range.end,
        )
        .await?;
        let resume = Resume {
            client: self.clone(),
            scope: repository.scope("pull"),
            start,
            end: Some(end),
            left: self.inner.config.retry.max_attempts.saturating_sub(1),
            done: 0,
        };
        let expected_len = Some(end - start + 1);
        Ok(VerifiedBlobStream::new(
            method,
            url,
            response,
            expected_len,
            None,
            resume,
        ))
    }
}

/// Sends `GET url` with `Range: bytes=<range>` and returns the 206 response and the span its
/// `Content-Range` names, which `fits(start, end)` must accept.
async fn get_range(
    inner: &Inner,
    url: &str,
    scope: String,
    range: &str,
    fits: impl Fn(u64, u64) -> bool,
) -> Result<(Response, (u64, u64)), ClientError> {
    let method = Method::GET;
    let value = HeaderValue::from_str(&format!("bytes={range}"))
        .map_err(|_| ClientError::invalid_header(&method, url, "Range", range.to_owned()))?;
    let call = Call::new(method.clone(), url)
        .scope(scope)
        .header(RANGE, value);
    let response = http::send(inner, call).await?;
    if response.status().as_u16() != 206 {
        return Err(ClientError::unexpected_status(
            &method,
            url,
            response.status().as_u16(),
        ));
    }
    let content_range = header_str(&response, "content-range")
        .ok_or_else(|| ClientError::missing_header(&method, url, "Content-Range"))?;
    let span = parse_content_range(content_range)
        .filter(|&(start, end)| fits(start, end))
        .ok_or_else(|| ClientError::invalid_header(&method, url, "Content-Range", content_range))?;
    Ok((response, span))
}

/// `bytes <start>-<end>/<total or *>` as (start, end), end inclusive.
fn parse_content_range(value: &str) -> Option<(u64, u64)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (span, _total) = rest.split_once('/')?;
    let (start, end) = span.split_once('-')?;
    let (start, end) = (start.trim().parse().ok()?, end.trim().parse().ok()?);
    (start <= end).then_some((start, end))
}

fn check_digest_header(
    method: &Method,
    url: &str,
    response: &Response,
    expected: &Digest,
) -> Result<(), ClientError> {
    if let Some(value) = header_str(response, CONTENT_DIGEST) {
        let announced = Digest::parse(value)
            .map_err(|_| ClientError::invalid_header(method, url, CONTENT_DIGEST, value))?;
        if announced.algorithm() == expected.algorithm() && &announced != expected {
            return Err(ClientError::DigestMismatch {
                expected: expected.clone(),
                actual: announced,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_parse() {
        assert_eq!(parse_content_range("bytes 0-9/10"), Some((0, 9)));
        assert_eq!(parse_content_range("bytes 5-5/*"), Some((5, 5)));
        assert_eq!(parse_content_range("bytes 9-5/10"), None);
        assert_eq!(parse_content_range("0-9/10"), None);
        assert_eq!(parse_content_range("bytes 0-x/10"), None);
    }
}
