//! HTTP helpers every part of the server shares: header values from the server's own text,
//! what a request's head says about its body, and small bodies read whole under a limit.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use gantry_spec::error_code::ErrorCode;

use crate::error::ApiError;

/// Whether the request says it carries a body.
pub(crate) fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value != "0")
}

/// The `Content-Length` a head declares; 0 when it declares none (or nothing readable).
pub(crate) fn content_length(headers: &HeaderMap) -> u64 {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

/// A header value from text the server made; text that is not a valid header value (it never
/// should be) becomes an empty value rather than a panic.
pub(crate) fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static(""))
}

/// How much of an oversized small body is read and dropped before the 413 goes out. A client
/// still sending when the server closes gets a reset connection instead of the answer; reading
/// what it sends (up to this bound) lets it read the 413.
const OVERSIZED_DRAIN_LIMIT: u64 = 64 * 1024 * 1024;

/// A small request body read whole, refused with 413 once it passes `limit` bytes.
pub(crate) async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let too_large = |size: String| {
        ApiError::new(ErrorCode::SizeInvalid)
            .status(StatusCode::PAYLOAD_TOO_LARGE)
            .message(format!("{size} exceeds the limit of {limit} bytes"))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let mut stream = body.into_data_stream();
    let mut collected = BytesMut::new();
    let mut drained = 0u64;
    if declared.is_none_or(|declared| declared <= limit as u64) {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|error| {
                ApiError::new(ErrorCode::ManifestInvalid)
                    .message(format!("the request body failed: {error}"))
            })?;
            if collected.len() + chunk.len() > limit {
                drained = (collected.len() + chunk.len()) as u64;
                break;
            }
            collected.extend_from_slice(&chunk);
        }
        if drained == 0 {
            return Ok(collected.freeze());
        }
    }
    while drained <= OVERSIZED_DRAIN_LIMIT {
        match stream.next().await {
            Some(Ok(chunk)) => drained += chunk.len() as u64,
            _ => break,
        }
    }
    Err(too_large(match declared {
        Some(declared) => format!("a body of {declared} bytes"),
        None => "the body".to_owned(),
    }))
}
