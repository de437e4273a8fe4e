//! Blob uploads: monolithic, streamed `PATCH` (resumable from the upload status when the
//! caller can reopen its content at an offset), chunked `PATCH` with `Content-Range` (resuming
//! from the upload status after a failed chunk), cross-repository mount (handing over the
//! session a failed mount opens), and cancel.
//!
//! Blob bodies come in as streams and go out as they come: a streamed upload holds no more than
//! what the HTTP stack buffers, a chunked one no more than one chunk.

use std::error::Error as StdError;
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use gantry_reference::{Digest, Reference, RepositoryName};
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, Response, Url};

use crate::client::Client;
use crate::error::ClientError;
use crate::http::{self, Body, Call, header_str, query_value};

const OCTET_STREAM: HeaderValue = HeaderValue::from_static("application/octet-stream");

/// An upload session on a registry: where it is and how far it got.
///
/// A session comes from [`Client::start_upload`] or [`Client::mount_or_start_upload`]; the
/// `upload_*` methods of [`Client`] send content into it and commit it.
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
type FailureSlot = Arc<Mutex<Option<Box<dyn StdError + Send + Sync>>>>;

/// `content` with its errors kept in the returned slot (and passed on as I/O errors).
fn watch<S, E>(
    content: S,
) -> (
    impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    FailureSlot,
)
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<Box<dyn StdError + Send + Sync>> + 'static,
{
    let failed = FailureSlot::default();
    let slot = Arc::clone(&failed);
    let watched = content.map(move |item| {
        item.map_err(|error| {
            let error: Box<dyn StdError + Send + Sync> = error.into();
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

/// Where `from` can be mounted from, as the query of a mount request.
fn mount_query(digest: &Digest, from: &RepositoryName) -> String {
    format!(
        "mount={}&from={}",
        query_value(digest.as_str()),
        query_value(from.as_str())
    )
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

    /// Uploads `content` in one request (`POST ?digest=`), or, when the registry only opens a
    /// session, in a `POST` and a `PUT`. Returns the digest the registry stored it under.
    pub async fn push_blob_bytes(
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
                self.upload_bytes(upload, digest, content).await
            }
            status => Err(ClientError::unexpected_status(&method, &url, status)),
        }
    }

    /// Uploads a stream in one `PATCH` (a streamed upload), then commits it with `PUT
    /// ?digest=`. The registry checks the digest; a mismatch is its `DIGEST_INVALID`. Not
    /// retried: a failure needs the stream again.
    pub async fn push_blob_stream<S, E>(
        &self,
        reference: &Reference,
        digest: &Digest,
        content: S,
    ) -> Result<Digest, ClientError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<Box<dyn StdError + Send + Sync>> + 'static,
    {
        let upload = self.start_upload(reference).await?;
        self.upload_stream(upload, digest, content).await
    }

    /// [`push_blob_stream`](Client::push_blob_stream), resumable: `open(offset)` gives the
    /// content from byte `offset` on (0 first). When the `PATCH` fails on the way (a cut
    /// connection, a retryable answer), the client asks the registry how many bytes it holds,
    /// which may be fewer than were sent, reopens the content there and sends the rest in a
    /// new `PATCH`, up to the retry policy's attempts. A registry that refuses the streamed
    /// `PATCH` (405 or 501) gets the content, reopened at 0, as the body of the committing
    /// `PUT` instead: a monolithic upload. A failure of the content itself is not retried.
    pub async fn push_blob_stream_resumable<O, F, S, E>(
        &self,
        reference: &Reference,
        digest: &Digest,
        open: O,
    ) -> Result<Digest, ClientError>
    where
        O: FnMut(u64) -> F,
        F: Future<Output = Result<S, E>>,
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<Box<dyn StdError + Send + Sync>> + 'static,
    {
        let upload = self.start_upload(reference).await?;
        self.upload_stream_resumable(upload, digest, open).await
    }

    /// Uploads `content` into the session `upload` (`PUT ?digest=` with the body) and commits
    /// it. `content` is the blob from the session's [`offset`](Upload::offset) on: all of it
    /// for a new session. Returns the digest the registry stored it under.
    pub async fn upload_bytes(
        &self,
        upload: Upload,
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

    /// Uploads a stream into the session `upload` in one `PATCH`, then commits it (see
    /// [`push_blob_stream`](Client::push_blob_stream)). `content` is the blob from the
    /// session's [`offset`](Upload::offset) on: all of it for a new session.
    pub async fn upload_stream<S, E>(
        &self,
        mut upload: Upload,
        digest: &Digest,
        content: S,
    ) -> Result<Digest, ClientError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<Box<dyn StdError + Send + Sync>> + 'static,
    {
        self.patch_stream(&mut upload, content).await?;
        self.commit(&upload, digest).await
    }

    /// Uploads into the session `upload` from the offset it last reported (0 for a new one;
    /// ask [`upload_status`](Client::upload_status) first to continue a session begun
    /// elsewhere), resuming as [`push_blob_stream_resumable`](Client::push_blob_stream_resumable)
    /// does, then commits it.
    pub async fn upload_stream_resumable<O, F, S, E>(
        &self,
        mut upload: Upload,
        digest: &Digest,
        mut open: O,
    ) -> Result<Digest, ClientError>
    where
        O: FnMut(u64) -> F,
        F: Future<Output = Result<S, E>>,
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<Box<dyn StdError + Send + Sync>> + 'static,
    {
        let policy = self.inner.config.retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let offset = upload.offset;
            let content = open(offset)
                .await
                .map_err(|e| ClientError::Content { source: e.into() })?;
            let outcome = self.patch_stream(&mut upload, content).await;
            match outcome {
                Ok(()) => return self.commit(&upload, digest).await,
                Err(error) if attempt == 1 && offset == 0 && refuses_patch(&error) => {
                    tracing::debug!(%error, "the registry refuses a streamed PATCH; sending the blob in the PUT");
                    let content = open(0)
                        .await
                        .map_err(|e| ClientError::Content { source: e.into() })?;
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
    async fn put_stream<S, E>(
        &self,
        upload: &Upload,
        digest: &Digest,
        content: S,
    ) -> Result<Digest, ClientError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<Box<dyn StdError + Send + Sync>> + 'static,
    {
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
    async fn patch_stream<S, E>(&self, upload: &mut Upload, content: S) -> Result<(), ClientError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<Box<dyn StdError + Send + Sync>> + 'static,
    {
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

    /// Uploads a stream in `PATCH` requests of [`chunk_size`](crate::ClientConfig::chunk_size)
    /// bytes (raised to the registry's `OCI-Chunk-Min-Length`) with `Content-Range`, then
    /// commits it. When a chunk fails, the client asks the registry how far it got and sends the
    /// rest of the chunk from there, up to the retry policy's attempts. A registry that refuses
    /// the first chunk outright (400, 405, 416 or 501) gets the whole stream in one streamed
    /// `PATCH` instead, in a new session.
    pub async fn push_blob_chunked<S, E>(
        &self,
        reference: &Reference,
        digest: &Digest,
        content: S,
    ) -> Result<Digest, ClientError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<Box<dyn StdError + Send + Sync>> + 'static,
    {
        let upload = self.start_upload(reference).await?;
        self.upload_chunked(upload, digest, content).await
    }

    /// Uploads a stream into the session `upload` in chunks, then commits it (see
    /// [`push_blob_chunked`](Client::push_blob_chunked)). `content` is the blob from the
    /// session's [`offset`](Upload::offset) on: all of it for a new session. When the registry
    /// refuses the first chunk of an empty session, the session is cancelled and the stream
    /// goes in one `PATCH` to a new session of the same repository.
    pub async fn upload_chunked<S, E>(
        &self,
        mut upload: Upload,
        digest: &Digest,
        content: S,
    ) -> Result<Digest, ClientError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<Box<dyn StdError + Send + Sync>> + 'static,
    {
        let chunk_size = upload
            .min_chunk
            .map_or(self.inner.config.chunk_size, |min| {
                self.inner
                    .config
                    .chunk_size
                    .max(usize::try_from(min).unwrap_or(usize::MAX))
            });
        let mut content = Box::pin(content);
        // Only a session with nothing in it can be given up for a new one.
        let mut first = upload.offset == 0;
        let mut buffer = BytesMut::new();
        let mut ended = false;
        while !ended {
            while buffer.len() < chunk_size {
                match content.next().await {
                    Some(Ok(bytes)) => buffer.extend_from_slice(&bytes),
                    Some(Err(error)) => {
                        return Err(ClientError::Content {
                            source: error.into(),
                        });
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
                            held.into_iter()
                                .filter(|b| !b.is_empty())
                                .map(Ok::<_, Box<dyn StdError + Send + Sync>>),
                        )
                        .chain(content.map(|item| item.map_err(Into::into)));
                        let fresh = self.open_session(&start_url, scope).await?;
                        return self.upload_stream(fresh, digest, rest).await;
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

    /// Mounts blob `digest` from repository `from` into the repository `reference` names, on
    /// the same registry. Returns whether it was mounted; `false` means upload it instead: the
    /// registry refused, failed or opened an upload session (which is cancelled). To upload
    /// into that session rather than open another, use
    /// [`mount_or_start_upload`](Client::mount_or_start_upload).
    pub async fn mount_blob(
        &self,
        reference: &Reference,
        digest: &Digest,
        from: &RepositoryName,
    ) -> Result<bool, ClientError> {
        let MountRequest {
            scope, url, answer, ..
        } = self.request_mount(reference, digest, from).await?;
        let method = Method::POST;
        let response = match answer {
            Ok(response) => response,
            Err(error) => {
                tracing::debug!(%error, "mount refused; the blob will be uploaded");
                return Ok(false);
            }
        };
        match response.status().as_u16() {
            201 => Ok(true),
            202 => {
                if let Ok(location) = location(&method, &url, &response) {
                    let call = Call::new(Method::DELETE, &location).scope(scope);
                    let _ = http::send(&self.inner, call).await;
                }
                Ok(false)
            }
            _ => Ok(false),
        }
    }

    /// Mounts blob `digest` from repository `from` into the repository `reference` names, or
    /// gives the session to upload it into: the one the registry opened in answer to the mount
    /// request (`202`, as registries do when they cannot mount), or, when the mount request
    /// failed, a new one. Errors are those of opening that new session.
    pub async fn mount_or_start_upload(
        &self,
        reference: &Reference,
        digest: &Digest,
        from: &RepositoryName,
    ) -> Result<MountOutcome, ClientError> {
        let MountRequest {
            scope,
            base,
            url,
            answer,
        } = self.request_mount(reference, digest, from).await?;
        let method = Method::POST;
        match answer {
            Ok(response) if response.status().as_u16() == 201 => Ok(MountOutcome::Mounted),
            Ok(response) if response.status().as_u16() == 202 => {
                match Upload::opened(&method, &url, &response, scope.clone()) {
                    Ok(upload) => Ok(MountOutcome::Upload(upload)),
                    Err(error) => {
                        tracing::debug!(%error, "the mount's session is unusable; opening another");
                        Ok(MountOutcome::Upload(self.open_session(&base, scope).await?))
                    }
                }
            }
            outcome => {
                if let Err(error) = outcome {
                    tracing::debug!(%error, "mount refused; opening an upload session");
                }
                Ok(MountOutcome::Upload(self.open_session(&base, scope).await?))
            }
        }
    }
}

/// A mount request sent, and what the caller goes on with.
struct MountRequest {
    /// The target repository's `pull,push` scope.
    scope: String,
    /// The target repository's uploads URL, to open a session at.
    base: String,
    /// The mount request's URL.
    url: String,
    /// The registry's answer, or why there was none.
    answer: Result<reqwest::Response, ClientError>,
}

impl Client {
    /// Sends `POST blobs/uploads/?mount=<digest>&from=<from>` to the repository `reference`
    /// names, with the scopes it needs: push there, pull on the source.
    async fn request_mount(
        &self,
        reference: &Reference,
        digest: &Digest,
        from: &RepositoryName,
    ) -> Result<MountRequest, ClientError> {
        let repository = self.repository(reference).await?;
        let scope = repository.scope("pull,push");
        let base = repository.url("blobs/uploads/");
        let url = format!("{base}?{}", mount_query(digest, from));
        let call = Call::new(Method::POST, &url)
            .scope(scope.clone())
            .scope(format!("repository:{from}:pull"))
            .header(CONTENT_LENGTH, HeaderValue::from(0));
        let answer = http::send(&self.inner, call).await;
        Ok(MountRequest {
            scope,
            base,
            url,
            answer,
        })
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
