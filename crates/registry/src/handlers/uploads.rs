//! `/v2/<name>/blobs/uploads/`: POST starts (or mounts, or uploads whole); the session's URL
//! takes PATCH chunks, answers GET with its progress, completes on PUT and is cancelled by
//! DELETE.
//!
//! A session's URL is `/v2/<name>/blobs/uploads/<id>?_state=<token>`, where the token is
//! signed for that repository and id: any server sharing the storage and the secret can carry
//! the upload on, and a token cannot be pointed at another repository's session.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use gantry_reference::{Algorithm, Digest, RepositoryName};
use gantry_spec::Descriptor;
use gantry_spec::error_code::ErrorCode;
use gantry_storage::StorageError;
use gantry_storage::store::{BlobWriter, CreateOptions, Created};

use super::DOCKER_CONTENT_DIGEST;
use crate::error::{ApiError, upload_range};
use crate::http::header_value;
use crate::query::{Query, encode};
use crate::range::parse_content_range;
use crate::state::AppState;

const DOCKER_UPLOAD_UUID: &str = "docker-upload-uuid";
const OCI_CHUNK_MIN_LENGTH: &str = "oci-chunk-min-length";

/// POST: a mount (`?mount=&from=`), a whole upload in one request (`?digest=`), or a new
/// session.
pub(crate) async fn start(
    state: &AppState,
    name: &RepositoryName,
    query: &Query,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let blobs = state.registry.repository(name).blobs();
    let algorithm = match query.get("digest-algorithm") {
        Some(algorithm) => algorithm.parse::<Algorithm>().map_err(|_| {
            ApiError::new(ErrorCode::DigestInvalid)
                .message(format!("unsupported digest algorithm {algorithm:?}"))
        })?,
        None => Algorithm::Sha256,
    };

    if let Some(mount) = query.get("mount") {
        let digest = parse_digest(mount)?;
        let options = match query.get("from") {
            Some(from) => {
                let from = RepositoryName::parse(from).map_err(|error| {
                    ApiError::new(ErrorCode::NameInvalid).message(error.to_string())
                })?;
                CreateOptions::new().mount_from(digest, from)
            }
            None => CreateOptions::new().mount_any(digest),
        };
        return match blobs.create(options.with_algorithm(algorithm)).await? {
            Created::Mounted(descriptor) => Ok(blob_created(name, &descriptor)),
            Created::Upload(writer) => session_response(state, StatusCode::ACCEPTED, writer).await,
        };
    }

    let digest = query.get("digest").map(parse_digest).transpose()?;
    let algorithm = digest.as_ref().map_or(algorithm, Digest::algorithm);
    let Created::Upload(mut writer) = blobs
        .create(CreateOptions::new().with_algorithm(algorithm))
        .await?
    else {
        return Err(ApiError::new(ErrorCode::Unknown));
    };
    let Some(digest) = digest else {
        return session_response(state, StatusCode::ACCEPTED, writer).await;
    };

    // The whole blob in this one request: nothing of it may outlive a failure.
    writer.expect_digest(&digest).await?;
    if let Err(error) = write_body(state, &mut writer, body).await {
        writer.cancel().await?;
        return Err(error);
    }
    let descriptor = writer.commit(&digest, content_length(headers)).await?;
    Ok(blob_created(name, &descriptor))
}

/// GET on a session: where it stands.
pub(crate) async fn status(
    state: &AppState,
    name: &RepositoryName,
    id: &str,
    query: &Query,
) -> Result<Response, ApiError> {
    let writer = resume(state, name, id, query).await?;
    let mut response = session_response(state, StatusCode::NO_CONTENT, writer).await?;
    response.headers_mut().remove(OCI_CHUNK_MIN_LENGTH);
    Ok(response)
}

/// PATCH on a session: a chunk, placed by `Content-Range` when given, else streamed on.
pub(crate) async fn patch(
    state: &AppState,
    name: &RepositoryName,
    id: &str,
    query: &Query,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let mut writer = resume(state, name, id, query).await?;
    let expected = check_chunk_range(&writer, headers)?;
    let before = writer.size();
    let outcome = write_body(state, &mut writer, body).await;
    let received = writer.size() - before;
    // What arrived is kept either way, so the client can carry on from the session's Range.
    if let Err(error) = outcome {
        writer.close().await?;
        return Err(error);
    }
    if let Some(expected) = expected
        && received != expected
    {
        let range = upload_range(writer.size());
        writer.close().await?;
        return Err(ApiError::new(ErrorCode::BlobUploadInvalid)
            .message(format!(
                "Content-Range promised {expected} bytes, the body held {received}"
            ))
            .header(header::RANGE, range));
    }
    session_response(state, StatusCode::ACCEPTED, writer).await
}

/// PUT on a session: an optional last chunk, then the digest check that makes the blob
/// visible.
pub(crate) async fn finish(
    state: &AppState,
    name: &RepositoryName,
    id: &str,
    query: &Query,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let digest = parse_digest(query.get("digest").ok_or_else(|| {
        ApiError::new(ErrorCode::DigestInvalid).message("the digest query parameter is required")
    })?)?;
    let mut writer = resume(state, name, id, query).await?;
    check_chunk_range(&writer, headers)?;
    // A session with nothing in it yet gets the whole blob here, with its digest.
    writer.expect_digest(&digest).await?;
    if let Err(error) = write_body(state, &mut writer, body).await {
        writer.close().await?;
        return Err(error);
    }
    let descriptor = writer.commit(&digest, None).await?;
    Ok(blob_created(name, &descriptor))
}

/// DELETE on a session: cancels it.
pub(crate) async fn cancel(
    state: &AppState,
    name: &RepositoryName,
    id: &str,
    query: &Query,
) -> Result<Response, ApiError> {
    verify_token(state, name, id, query)?;
    state
        .registry
        .repository(name)
        .blobs()
        .cancel_upload(id)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn parse_digest(s: &str) -> Result<Digest, ApiError> {
    Digest::parse(s).map_err(|error| {
        ApiError::new(ErrorCode::DigestInvalid).message(format!("invalid digest {s:?}: {error}"))
    })
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
}

/// The chunk's length from its `Content-Range`, after checking that it starts where the
/// upload ends (416 otherwise).
fn check_chunk_range(writer: &BlobWriter, headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(header::CONTENT_RANGE) else {
        return Ok(None);
    };
    let out_of_order = || {
        ApiError::new(ErrorCode::BlobUploadInvalid)
            .status(StatusCode::RANGE_NOT_SATISFIABLE)
            .header(header::RANGE, upload_range(writer.size()))
    };
    let (start, end) = value
        .to_str()
        .ok()
        .and_then(parse_content_range)
        .ok_or_else(|| out_of_order().message("invalid Content-Range"))?;
    if start != writer.size() {
        return Err(out_of_order().message(format!(
            "the chunk starts at {start}, the upload holds {} bytes",
            writer.size()
        )));
    }
    let length = end - start + 1;
    if content_length(headers).is_some_and(|declared| declared != length) {
        return Err(ApiError::new(ErrorCode::BlobUploadInvalid)
            .message("Content-Length does not match Content-Range")
            .header(header::RANGE, upload_range(writer.size())));
    }
    Ok(Some(length))
}

/// The start time the session's token signs, when the token is genuine for this repository
/// and id.
fn verify_token(
    state: &AppState,
    name: &RepositoryName,
    id: &str,
    query: &Query,
) -> Result<SystemTime, ApiError> {
    let token = query.get("_state").unwrap_or_default();
    state
        .registry
        .verify_upload_token(name, id, token)
        .ok_or_else(|| StorageError::BlobUploadUnknown { id: id.to_owned() }.into())
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

async fn resume(
    state: &AppState,
    name: &RepositoryName,
    id: &str,
    query: &Query,
) -> Result<BlobWriter, ApiError> {
    let signed_start = verify_token(state, name, id, query)?;
    let writer = state.registry.repository(name).blobs().resume(id).await?;
    // The token names this very session, not an earlier one under the same id.
    if unix_seconds(writer.started_at()) != unix_seconds(signed_start) {
        return Err(StorageError::BlobUploadUnknown { id: id.to_owned() }.into());
    }
    Ok(writer)
}

/// Streams a request body into the upload, refusing with 413 once the blob would pass the
/// configured size limit.
async fn write_body(state: &AppState, writer: &mut BlobWriter, body: Body) -> Result<(), ApiError> {
    let limit = state.max_blob_size;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| {
            ApiError::new(ErrorCode::BlobUploadInvalid)
                .message(format!("the request body failed: {error}"))
        })?;
        if limit != 0 && writer.size().saturating_add(chunk.len() as u64) > limit {
            return Err(ApiError::new(ErrorCode::SizeInvalid)
                .status(StatusCode::PAYLOAD_TOO_LARGE)
                .message(format!("blobs are limited to {limit} bytes")));
        }
        writer.write(chunk).await?;
    }
    Ok(())
}

/// 202 or 204 for a session: its URL, its progress and its id. The writer is closed, so
/// what it holds is saved for the next request.
async fn session_response(
    state: &AppState,
    status: StatusCode,
    writer: BlobWriter,
) -> Result<Response, ApiError> {
    let name = writer.repository().clone();
    let id = writer.id().to_owned();
    let token = state.registry.upload_token(&name, &id, writer.started_at());
    let size = writer.size();
    writer.close().await?;

    let mut response = status.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::LOCATION,
        header_value(&format!(
            "/v2/{name}/blobs/uploads/{id}?_state={}",
            encode(&token)
        )),
    );
    headers.insert(header::RANGE, upload_range(size));
    headers.insert(DOCKER_UPLOAD_UUID, header_value(&id));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    headers.insert(
        OCI_CHUNK_MIN_LENGTH,
        HeaderValue::from(state.chunk_min_length),
    );
    Ok(response)
}

/// 201 for a blob that is now in the repository.
fn blob_created(name: &RepositoryName, descriptor: &Descriptor) -> Response {
    let mut response = StatusCode::CREATED.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::LOCATION,
        header_value(&format!("/v2/{name}/blobs/{}", descriptor.digest)),
    );
    headers.insert(
        DOCKER_CONTENT_DIGEST,
        header_value(descriptor.digest.as_str()),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    response
}
