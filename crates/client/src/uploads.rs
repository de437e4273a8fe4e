//! Blob uploads: one entry point, [`Client::push_blob`], that takes an [`UploadMode`]
//! (monolithic, streamed `PATCH` (resumable from the upload status when the caller can reopen
//! its content at an offset), or chunked `PATCH` with `Content-Range`, resuming from the upload
//! status after a failed chunk), and the session calls below it: start, cross-repository mount
//! (handing over the session a failed mount opens), [complete](Client::complete_upload),
//! status and cancel.
//!
//! Blob bodies come in as streams and go out as they come: a streamed upload holds no more than
//! what the HTTP stack buffers, a chunked one no more than one chunk.

use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use gantry_reference::{Digest, Reference};
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, Response, Url};

use crate::client::Client;
use crate::error::ClientError;
use crate::http::{self, Body, Call, header_str, query_value};

mod mode;
mod mount;

pub use self::mode::UploadMode;
use self::mode::{Content, ContentError, Kind, Reopen};

const OCTET_STREAM: HeaderValue = HeaderValue::from_static("application/octet-stream");

/// An upload session on a registry: where it is and how far it got.
///
/// A session comes from [`Client::start_upload`] or [`Client::mount_or_start_upload`];
/// [`Client::complete_upload`] sends content into it and commits it.
#[derive(Debug, Clone)]
pub struct Upload {
    location: String,
    scope: String,
    offset: u64,
    min_chunk: Option<u64>,
    /// The URL that opens a new session in the same repository (`.../blobs/uploads/`).
    start_url: String,
}

/// What [`Client::mount_or_start_upload`] achieved.
#[derive(Debug)]
#[must_use]
pub enum MountOutcome {
    /// The registry mounted the blob: nothing to upload.
    Mounted,
    /// The registry did not mount it: upload the blob into this session, which is either the
    /// one the mount request opened or, when the mount was refused, a new one.
    Upload(Upload),
}

impl Upload {
    /// The session's URL, as the registry last gave it.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// How many bytes the registry holds, as it last said.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The smallest chunk the registry accepts (`OCI-Chunk-Min-Length`), if it said.
    pub fn min_chunk(&self) -> Option<u64> {
        self.min_chunk
    }

    /// A session at `location` (as a response's `Location` gave it, resolved against
    /// `start_url`), starting at offset 0.
    fn opened(
        method: &Method,
        start_url: &str,
        response: &Response,
        scope: String,
    ) -> Result<Upload, ClientError> {
        Ok(Upload {
            location: location(method, start_url, response)?,
            scope,
            offset: 0,
            min_chunk: header_str(response, "oci-chunk-min-length").and_then(|v| v.parse().ok()),
            start_url: start_url.split('?').next().unwrap_or(start_url).to_owned(),
        })
    }

    /// The location with `query` appended.
    fn with_query(&self, query: &str) -> String {
        let separator = if self.location.contains('?') {
            '&'
        } else {
            '?'
        };
        format!("{}{separator}{query}", self.location)
    }

    /// Reads `Location` and `Range` from a session answer.
    fn update(
        &mut self,
        method: &Method,
        url: &str,
        response: &Response,
    ) -> Result<(), ClientError> {
        self.location = location(method, url, response)?;
        if let Some(range) = header_str(response, "range") {
            self.offset = parse_range_end(range)
                .ok_or_else(|| ClientError::invalid_header(method, url, "Range", range))?;
        }
        Ok(())
    }
}

/// The absolute URL of a response's `Location`, resolved against the request URL.
fn location(method: &Method, url: &str, response: &Response) -> Result<String, ClientError> {
    let value = header_str(response, "location")
        .ok_or_else(|| ClientError::missing_header(method, url, "Location"))?;
    Url::parse(url)
        .and_then(|base| base.join(value))
        .map(String::from)
        .map_err(|_| ClientError::invalid_header(method, url, "Location", value))
}

/// The number of bytes a `Range: 0-<end>` upload status says the registry holds.
fn parse_range_end(value: &str) -> Option<u64> {
    let value = value.trim();
    let value = value.strip_prefix("bytes=").unwrap_or(value);
    let (start, end) = value.split_once('-')?;
    if start != "0" {
        return None;
    }
    end.parse::<u64>().ok().map(|end| end + 1)
}

/// Where a content stream's own error is kept, apart from what the HTTP stack makes of it.
type FailureSlot = Arc<Mutex<Option<ContentError>>>;

/// `content` with its errors kept in the returned slot (and passed on as I/O errors).
fn watch(
    content: Content,
) -> (
    impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    FailureSlot,
) {
    let failed = FailureSlot::default();
    let slot = Arc::clone(&failed);
    let watched = content.map(move |item| {
        item.map_err(|error| {
            let message = error.to_string();
            if let Ok(mut slot) = slot.lock() {
                *slot = Some(error);
            }
            std::io::Error::other(message)
        })
    });
    (watched, failed)
}

/// Whether a failed streamed `PATCH` says the registry does not take one at all.
fn refuses_patch(error: &ClientError) -> bool {
    matches!(error.status(), Some(405 | 501))
}

/// Whether a failed first chunk says the registry does not take chunks at all.
fn refuses_chunks(error: &ClientError) -> bool {
    matches!(error.status(), Some(400 | 405 | 416 | 501))
        && error.code() != Some(gantry_spec::error_code::ErrorCode::DigestInvalid)
}

impl Client {
    /// Opens an upload session in the repository `reference` names.
    pub async fn start_upload(&self, reference: &Reference) -> Result<Upload, ClientError> {
        let repository = self.repository(reference).await?;
        let url = repository.url("blobs/uploads/");
        self.open_session(&url, repository.scope("pull,push")).await
    }

    /// Opens an upload session by `POST` to `url` (a repository's `.../blobs/uploads/`).
    async fn open_session(&self, url: &str, scope: String) -> Result<Upload, ClientError> {
        let method = Method::POST;
        let call = Call::new(method.clone(), url)
            .scope(scope.clone())
            .header(CONTENT_LENGTH, HeaderValue::from(0));
        let response = http::send(&self.inner, call).await?;
        if response.status().as_u16() != 202 {
            return Err(ClientError::unexpected_status(
                &method,
                url,
                response.status().as_u16(),
            ));
        }
        Upload::opened(&method, url, &response, scope)
    }

    /// Asks the registry how far `upload` got (`GET` on its location), updating it.
    pub async fn upload_status(&self, upload: &mut Upload) -> Result<u64, ClientError> {
        let method = Method::GET;
        let url = upload.location.clone();
        let call = Call::new(method.clone(), &url).scope(upload.scope.clone());
        let response = http::send(&self.inner, call).await?;
        upload.offset = 0;
        upload.update(&method, &url, &response)?;
        // CNCF Distribution answers `0-0` for an empty session as well as for one byte; a
        // status is asked for to resume, and resuming from 0 is the safe reading (the registry
        // refuses a wrong offset; it would not notice a skipped byte until the digest).
        if header_str(&response, "range").is_some_and(|r| r.trim() == "0-0") {
            upload.offset = 0;
        }
        Ok(upload.offset)
    }

    /// Cancels `upload` (`DELETE` on its location).
    pub async fn cancel_upload(&self, upload: Upload) -> Result<(), ClientError> {
        let call = Call::new(Method::DELETE, &upload.location).scope(upload.scope);
        http::send(&self.inner, call).await?;
        Ok(())
    }

    /// Uploads blob `digest` to the repository `reference` names, as `mode` says (see
    /// [`UploadMode`]): a monolithic upload goes in one request (`POST ?digest=`), or, when the
    /// registry only opens a session, in a `POST` and a `PUT`; the others open a session and
    /// [complete](Client::complete_upload) it. Returns the digest the registry stored it under.
    pub async fn push_blob(
        &self,
        reference: &Reference,
        digest: &Digest,
        mode: UploadMode<'_>,
    ) -> Result<Digest, ClientError> {
        match mode.kind {
            Kind::Monolithic(content) => self.post_blob(reference, digest, content).await,
            kind => {
                let upload = self.start_upload(reference).await?;
                self.complete_upload(upload, digest, UploadMode { kind })
                    .await
            }
        }
    }

    /// Sends the blob `digest` into the session `upload` as `mode` says (see [`UploadMode`]),
    /// from the session's [`offset`](Upload::offset) on (ask
    /// [`upload_status`](Client::upload_status) first to continue a session begun elsewhere),
    /// and commits it. Returns the digest the registry stored it under.
    pub async fn complete_upload(
        &self,
        mut upload: Upload,
        digest: &Digest,
        mode: UploadMode<'_>,
    ) -> Result<Digest, ClientError> {
        match mode.kind {
            Kind::Monolithic(content) => self.put_bytes(&upload, digest, content).await,
            Kind::Streamed(content) => {
                self.patch_stream(&mut upload, content).await?;
                self.commit(&upload, digest).await
            }
            Kind::Resumable(open) => self.upload_resumable(upload, digest, open).await,
            Kind::Chunked {
                content,
                chunk_size,
            } => {
                let chunk_size = chunk_size.unwrap_or(self.inner.config.chunk_size);
                self.upload_chunked(upload, digest, content, chunk_size)
                    .await
            }
        }
    }

    /// Uploads `content` in one request (`POST ?digest=`), or, when the registry only opens a
    /// session, in a `POST` and a `PUT`.
    async fn post_blob(
        &self,
        reference: &Reference,
        digest: &Digest,
        content: Bytes,
    ) -> Result<Digest, ClientError> {
        let repository = self.repository(reference).await?;
        let scope = repository.scope("pull,push");
        let base = repository.url("blobs/uploads/");
        let url = format!("{base}?digest={}", query_value(digest.as_str()));
        let method = Method::POST;
        let call = Call::new(method.clone(), &url)
            .scope(scope.clone())
            .header(CONTENT_TYPE, OCTET_STREAM)
            .header(CONTENT_LENGTH, HeaderValue::from(content.len()))
            .body(Body::Bytes(content.clone()));
        let response = http::send(&self.inner, call).await?;
        match response.status().as_u16() {
            201 => self.created(&method, &url, &response, digest),
            202 => {
                let upload = Upload::opened(&method, &url, &response, scope)?;
                self.put_bytes(&upload, digest, content).await
            }
            status => Err(ClientError::unexpected_status(&method, &url, status)),
        }
    }

    /// Commits `upload` with `PUT ?digest=` carrying `content`, the rest of the blob, as its
    /// body.
    async fn put_bytes(
        &self,
        upload: &Upload,
        digest: &Digest,
        content: Bytes,
    ) -> Result<Digest, ClientError> {
        let put_url = upload.with_query(&format!("digest={}", query_value(digest.as_str())));
        let call = Call::new(Method::PUT, &put_url)
            .scope(upload.scope.clone())
            .header(CONTENT_TYPE, OCTET_STREAM)
            .header(CONTENT_LENGTH, HeaderValue::from(content.len()))
            .body(Body::Bytes(content));
        self.finish(call, digest).await
    }

    /// A resumable streamed upload into `upload` from the offset it last reported (see
    /// [`UploadMode::resumable`]), then the commit.
    async fn upload_resumable(
        &self,
        mut upload: Upload,
        digest: &Digest,
        mut open: Reopen<'_>,
    ) -> Result<Digest, ClientError> {
        let policy = self.inner.config.retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let offset = upload.offset;
            let content = open(offset)
                .await
                .map_err(|source| ClientError::Content { source })?;
            let outcome = self.patch_stream(&mut upload, content).await;
            match outcome {
                Ok(()) => return self.commit(&upload, digest).await,
                Err(error) if attempt == 1 && offset == 0 && refuses_patch(&error) => {
                    tracing::debug!(%error, "the registry refuses a streamed PATCH; sending the blob in the PUT");
                    let content = open(0)
                        .await
                        .map_err(|source| ClientError::Content { source })?;
                    return self.put_stream(&upload, digest, content).await;
                }
                Err(error) if !error.is_retryable() || attempt >= policy.max_attempts => {
                    return Err(error);
                }
                Err(error) => {
                    tracing::debug!(%error, offset, attempt, "streamed upload failed; resuming from the upload status");
                    tokio::time::sleep(policy.backoff(attempt - 1)).await;
                    let held = self.upload_status(&mut upload).await?;
                    tracing::debug!(
                        held,
                        "the registry holds this much; reopening the content there"
                    );
                }
            }
        }
    }

    /// Commits `upload` with `PUT ?digest=` carrying `content`, the whole blob, as its body (a
    /// monolithic upload of a stream).
    async fn put_stream(
        &self,
        upload: &Upload,
        digest: &Digest,
        content: Content,
    ) -> Result<Digest, ClientError> {
        let (watched, failed) = watch(content);
        let url = upload.with_query(&format!("digest={}", query_value(digest.as_str())));
        let call = Call::new(Method::PUT, &url)
            .scope(upload.scope.clone())
            .header(CONTENT_TYPE, OCTET_STREAM)
            .body(Body::Stream(reqwest::Body::wrap_stream(watched)));
        let outcome = self.finish(call, digest).await;
        if let Some(source) = failed.lock().ok().and_then(|mut slot| slot.take()) {
            return Err(ClientError::Content { source });
        }
        outcome
    }

    /// Sends `content` in one streamed `PATCH` to `upload`, updating it from the answer. A
    /// failure of `content` itself is [`ClientError::Content`], whatever the HTTP stack made of
    /// it.
    async fn patch_stream(&self, upload: &mut Upload, content: Content) -> Result<(), ClientError> {
        let (watched, failed) = watch(content);
        let method = Method::PATCH;
        let url = upload.location.clone();
        let call = Call::new(method.clone(), &url)
            .scope(upload.scope.clone())
            .header(CONTENT_TYPE, OCTET_STREAM)
            .body(Body::Stream(reqwest::Body::wrap_stream(watched)));
        let outcome = http::send(&self.inner, call).await;
        if let Some(source) = failed.lock().ok().and_then(|mut slot| slot.take()) {
            return Err(ClientError::Content { source });
        }
        upload.update(&method, &url, &outcome?)
    }

    /// A chunked upload into `upload` (see [`UploadMode::chunked`]), then the commit. When the
    /// registry refuses the first chunk of an empty session, the session is cancelled and the
    /// stream goes in one `PATCH` to a new session of the same repository.
    async fn upload_chunked(
        &self,
        mut upload: Upload,
        digest: &Digest,
        mut content: Content,
        chunk_size: usize,
    ) -> Result<Digest, ClientError> {
        let chunk_size = upload.min_chunk.map_or(chunk_size, |min| {
            chunk_size.max(usize::try_from(min).unwrap_or(usize::MAX))
        });
        // Only a session with nothing in it can be given up for a new one.
        let mut first = upload.offset == 0;
        let mut buffer = BytesMut::new();
        let mut ended = false;
        while !ended {
            while buffer.len() < chunk_size {
                match content.next().await {
                    Some(Ok(bytes)) => buffer.extend_from_slice(&bytes),
                    Some(Err(error)) => {
                        return Err(ClientError::Content { source: error });
                    }
                    None => {
                        ended = true;
                        break;
                    }
                }
            }
            let take = buffer.len().min(chunk_size);
            let chunk = buffer.split_to(take).freeze();
            if !chunk.is_empty() {
                match self.send_chunk(&mut upload, chunk.clone()).await {
                    Ok(()) => {}
                    Err(error) if first && refuses_chunks(&error) => {
                        tracing::debug!(%error, "the registry refuses chunks; streaming instead");
                        let start_url = upload.start_url.clone();
                        let scope = upload.scope.clone();
                        let _ = self.cancel_upload(upload).await;
                        let held = [chunk, buffer.freeze()];
                        let rest = futures_util::stream::iter(
                            held.into_iter().filter(|b| !b.is_empty()).map(Ok),
                        )
                        .chain(content);
                        let mut fresh = self.open_session(&start_url, scope).await?;
                        self.patch_stream(&mut fresh, Box::pin(rest)).await?;
                        return self.commit(&fresh, digest).await;
                    }
                    Err(error) => return Err(error),
                }
                first = false;
            }
            if !buffer.is_empty() {
                ended = false;
            }
        }
        self.commit(&upload, digest).await
    }

    /// Sends `chunk`, which starts at `upload.offset`, resuming from the upload status after a
    /// failure.
    async fn send_chunk(&self, upload: &mut Upload, chunk: Bytes) -> Result<(), ClientError> {
        let start = upload.offset;
        let end = start + chunk.len() as u64;
        let policy = self.inner.config.retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let from = usize::try_from(upload.offset - start).unwrap_or(usize::MAX);
            let part = chunk.slice(from.min(chunk.len())..);
            let method = Method::PATCH;
            let url = upload.location.clone();
            let range = format!("{}-{}", upload.offset, end - 1);
            let call = Call::new(method.clone(), &url)
                .scope(upload.scope.clone())
                .header(CONTENT_TYPE, OCTET_STREAM)
                .header(CONTENT_LENGTH, HeaderValue::from(part.len()))
                .header(
                    reqwest::header::HeaderName::from_static("content-range"),
                    HeaderValue::from_str(&range).map_err(|_| {
                        ClientError::invalid_header(&method, &url, "Content-Range", range.clone())
                    })?,
                )
                .body(Body::Bytes(part))
                .once();
            let failure = match http::send(&self.inner, call).await {
                Ok(response) => {
                    upload.update(&method, &url, &response)?;
                    if upload.offset == end {
                        return Ok(());
                    }
                    ClientError::SizeMismatch {
                        expected: end,
                        actual: upload.offset,
                    }
                }
                Err(error) if error.is_retryable() || error.status() == Some(416) => error,
                Err(error) => return Err(error),
            };
            if attempt >= policy.max_attempts {
                return Err(failure);
            }
            tracing::debug!(error = %failure, attempt, "chunk failed; resuming from the upload status");
            tokio::time::sleep(policy.backoff(attempt - 1)).await;
            let offset = self.upload_status(upload).await?;
            if offset < start || offset > end {
                return Err(failure);
            }
            if offset == end {
                // The registry took the whole chunk; only its answer was lost.
                return Ok(());
            }
        }
    }

    /// Commits `upload` with `PUT ?digest=`.
    async fn commit(&self, upload: &Upload, digest: &Digest) -> Result<Digest, ClientError> {
        let url = upload.with_query(&format!("digest={}", query_value(digest.as_str())));
        let call = Call::new(Method::PUT, &url)
            .scope(upload.scope.clone())
            .header(CONTENT_LENGTH, HeaderValue::from(0));
        self.finish(call, digest).await
    }

    async fn finish(&self, call: Call, digest: &Digest) -> Result<Digest, ClientError> {
        let method = call.method.clone();
        let url = call.url.clone();
        let response = http::send(&self.inner, call).await?;
        if response.status().as_u16() != 201 {
            return Err(ClientError::unexpected_status(
                &method,
                &url,
                response.status().as_u16(),
            ));
        }
        self.created(&method, &url, &response, digest)
    }

    fn created(
        &self,
        method: &Method,
        url: &str,
        response: &Response,
        digest: &Digest,
    ) -> Result<Digest, ClientError> {
        if let Some(value) = header_str(response, crate::manifests::CONTENT_DIGEST) {
            let announced = Digest::parse(value).map_err(|_| {
                ClientError::invalid_header(method, url, "Docker-Content-Digest", value)
            })?;
            if announced.algorithm() == digest.algorithm() && &announced != digest {
                return Err(ClientError::DigestMismatch {
                    expected: digest.clone(),
                    actual: announced,
                });
            }
        }
        Ok(digest.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_ranges_give_the_bytes_held() {
        assert_eq!(parse_range_end("0-9"), Some(10));
        assert_eq!(parse_range_end("bytes=0-0"), Some(1));
        assert_eq!(parse_range_end("5-9"), None);
        assert_eq!(parse_range_end("0-"), None);
        assert_eq!(parse_range_end("junk"), None);
    }
}
