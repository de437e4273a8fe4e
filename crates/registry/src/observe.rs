//! The middleware around every API request: the API version header, a request id, the access
//! log and the counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::http::content_length;
use crate::route::{self, Route};
use crate::state::AppState;

const API_VERSION: &str = "docker-distribution-api-version";
const REQUEST_ID: &str = "x-request-id";

/// A name for the endpoint a path names, for logs and counters.
fn endpoint(path: &str) -> &'static str {
    match route::parse(path) {
        Ok(Route::Base) => "base",
        Ok(Route::Catalog) => "catalog",
        Ok(Route::Tags { .. }) => "tags",
        Ok(Route::Manifest { .. }) => "manifest",
        Ok(Route::Blob { .. }) => "blob",
        Ok(Route::UploadStart { .. }) => "upload_start",
        Ok(Route::Upload { .. }) => "upload",
        Ok(Route::Referrers { .. }) => "referrers",
        Err(_) => "invalid",
    }
}

/// A request id unique within this process: the client's `X-Request-Id`, or a new one.
fn request_id(headers: &HeaderMap) -> HeaderValue {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    headers
        .get(REQUEST_ID)
        .filter(|value| value.len() <= 128)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from(NEXT.fetch_add(1, Ordering::Relaxed)))
}

/// Serves the request, then logs and counts it. The query string is never logged: upload
/// URLs carry their signed state there.
pub(crate) async fn observe(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let endpoint = endpoint(&path);
    let bytes_in = content_length(request.headers());
    let id = request_id(request.headers());

    let mut response = next.run(request).await;

    let status = response.status().as_u16();
    let bytes_out = http_body::Body::size_hint(response.body())
        .exact()
        .unwrap_or_else(|| content_length(response.headers()));
    let headers = response.headers_mut();
    headers.insert(API_VERSION, HeaderValue::from_static("registry/2.0"));
    headers.insert(REQUEST_ID, id.clone());
    state
        .metrics
        .record(endpoint, method.as_str(), status, bytes_in, bytes_out);
    tracing::info!(
        target: "gantry::access",
        request_id = id.to_str().unwrap_or_default(),
        %method,
        path,
        status,
        bytes_in,
        bytes_out,
        elapsed_us = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}
