//! Paginated lists: `/v2/<name>/tags/list` and `/v2/_catalog`, with `n`, `last` and a
//! `Link: <…>; rel="next"` header while more remain.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use gantry_reference::{RepositoryName, Tag};
use gantry_spec::error_code::ErrorCode;
use gantry_storage::StorageError;
use serde::Serialize;

use crate::error::ApiError;
use crate::http::header_value;
use crate::query::{Query, encode};
use crate::state::AppState;

#[derive(Serialize)]
struct TagList<'a> {
    name: &'a str,
    tags: Vec<String>,
}

#[derive(Serialize)]
struct Catalog {
    repositories: Vec<String>,
}

/// The page size asked for: `n`, at most the registry's page limit, which is also the size when
/// none is asked for.
fn page_size(state: &AppState, query: &Query) -> Result<usize, ApiError> {
    let limit = state.registry.options().max_page_size;
    match query.get("n") {
        None => Ok(limit),
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            // Any number of digits is a valid request; more than the limit is the limit.
            Ok(n.parse::<usize>().map_or(limit, |n| n.min(limit)))
        }
        Some(n) => Err(ApiError::new(ErrorCode::Unsupported)
            .status(StatusCode::BAD_REQUEST)
            .message(format!("invalid page size n={n:?}"))),
    }
}

/// The page, with a `Link` to the next one when `more` were found.
fn page_response<T: Serialize>(body: T, next: Option<String>) -> Response {
    let mut response = Json(body).into_response();
    if let Some(next) = next {
        response.headers_mut().insert(
            header::LINK,
            header_value(&format!("<{next}>; rel=\"next\"")),
        );
    }
    response
}

/// GET `/v2/<name>/tags/list`.
pub(crate) async fn tags(
    state: &AppState,
    name: &RepositoryName,
    query: &Query,
) -> Result<Response, ApiError> {
    let repository = state.registry.repository(name);
    if !repository.exists().await? {
        return Err(StorageError::NameUnknown {
            name: name.to_string(),
        }
        .into());
    }
    let n = page_size(state, query)?;
    // An invalid `last` sorts like any string; only tags after it can follow.
    let last = query.get("last");
    let last_tag = last.and_then(|last| Tag::parse(last).ok());
    let mut tags: Vec<String> = if n == 0 {
        Vec::new()
    } else {
        repository
            .tags()
            .all(n + 1, last_tag.as_ref())
            .await?
            .into_iter()
            .map(|tag| tag.to_string())
            .filter(|tag| last.is_none_or(|last| tag.as_str() > last))
            .collect()
    };
    let next = (tags.len() > n).then(|| {
        tags.truncate(n);
        let last = tags.last().map(String::as_str).unwrap_or_default();
        format!("/v2/{name}/tags/list?n={n}&last={}", encode(last))
    });
    Ok(page_response(
        TagList {
            name: name.as_str(),
            tags,
        },
        next,
    ))
}

/// GET `/v2/_catalog`.
pub(crate) async fn catalog(state: &AppState, query: &Query) -> Result<Response, ApiError> {
    let n = page_size(state, query)?;
    let last = query.get("last");
    let mut repositories: Vec<String> = if n == 0 {
        Vec::new()
    } else {
        state
            .registry
            .catalog(n + 1, last)
            .await?
            .into_iter()
            .map(|name| name.to_string())
            .collect()
    };
    let next = (repositories.len() > n).then(|| {
        repositories.truncate(n);
        let last = repositories.last().map(String::as_str).unwrap_or_default();
        format!("/v2/_catalog?n={n}&last={}", encode(last))
    });
    Ok(page_response(Catalog { repositories }, next))
}
