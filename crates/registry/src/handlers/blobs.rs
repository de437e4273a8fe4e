//! `/v2/<name>/blobs/<digest>`: GET and HEAD (with ranges and redirects), DELETE.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gantry_reference::{Digest, RepositoryName};

use super::DOCKER_CONTENT_DIGEST;
use crate::error::ApiError;
use crate::http::header_value;
use crate::range::{RangeRequest, parse_range};
use crate::state::AppState;

/// GET or HEAD: the blob (or the asked-for range of it), streamed from storage.
pub(crate) async fn get(
    state: &AppState,
    name: &RepositoryName,
    digest: &Digest,
    request_headers: &HeaderMap,
    head: bool,
) -> Result<Response, ApiError> {
    let blobs = state.registry.repository(name).blobs();
    let descriptor = blobs.stat(digest).await?;
    if !head && let Some(url) = blobs.redirect_url(digest).await? {
        let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
        response
            .headers_mut()
            .insert(header::LOCATION, header_value(&url));
        response
            .headers_mut()
            .insert(DOCKER_CONTENT_DIGEST, header_value(digest.as_str()));
        return Ok(response);
    }

    let size = descriptor.size;
    let range = request_headers
        .get(header::RANGE)
        .and_then(|value| value.to_str().ok());
    let (status, start, length) = match parse_range(range, size) {
        RangeRequest::Whole => (StatusCode::OK, 0, size),
        RangeRequest::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        RangeRequest::Unsatisfiable => {
            let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes */{size}")),
            );
            return Ok(response);
        }
    };

    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(DOCKER_CONTENT_DIGEST, header_value(digest.as_str()));
    headers.insert(header::ETAG, header_value(&format!("\"{digest}\"")));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=31536000"),
    );
    if status == StatusCode::PARTIAL_CONTENT {
        let end = start + length - 1;
        headers.insert(
            header::CONTENT_RANGE,
            header_value(&format!("bytes {start}-{end}/{size}")),
        );
    }
    if head {
        return Ok((status, headers).into_response());
    }
    let (_, stream) = blobs.stream(digest, start, length).await?;
    Ok((status, headers, Body::from_stream(stream)).into_response())
}

/// DELETE: unlinks the blob from the repository.
pub(crate) async fn delete(
    state: &AppState,
    name: &RepositoryName,
    digest: &Digest,
) -> Result<Response, ApiError> {
    state
        .registry
        .repository(name)
        .blobs()
        .delete(digest)
        .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}
