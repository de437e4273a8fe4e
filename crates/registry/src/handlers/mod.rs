//! The API's handlers, one module per area, and the dispatcher that routes to them.

mod blobs;
mod listing;
mod manifests;
mod referrers;
mod uploads;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use gantry_spec::error_code::ErrorCode;

use crate::auth::{mount_allowed, needs};
use crate::error::ApiError;
use crate::http::has_body;
use crate::limits::{ClientAddr, UploadSlot};
use crate::query::Query;
use crate::route::{self, Route, RouteError};
use crate::state::AppState;

pub(crate) const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";
pub(crate) const OCI_SUBJECT: &str = "oci-subject";
pub(crate) const OCI_TAG: &str = "oci-tag";

/// Routes every `/v2/` request to its handler.
pub(crate) async fn dispatch(State(state): State<AppState>, request: Request) -> Response {
    let route = match route::parse(request.uri().path()) {
        Ok(route) => route,
        Err(error) => return route_error(error),
    };
    let (parts, body) = request.into_parts();
    let unread_body_possible = parts.version <= Version::HTTP_11 && has_body(&parts.headers);
    let mut query = Query::parse(parts.uri.query());
    let method = parts.method;
    if let Some(auth) = &state.auth {
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|host| host.to_str().ok())
            .or_else(|| parts.uri.authority().map(|authority| authority.as_str()));
        match auth
            .authorize(&parts.headers, host, &needs(&route, &method))
            .await
        {
            Ok(principal) => {
                // A mount needs pull on its source; without it the upload starts plain.
                if !mount_allowed(auth, &principal, &route, &query) {
                    query = query.without(&["mount", "from"]);
                }
            }
            Err(error) => {
                let mut response = error.into_response();
                if unread_body_possible {
                    response
                        .headers_mut()
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                return response;
            }
        }
    }
    let headers = &parts.headers;
    let state = &state;
    let head = method == Method::HEAD;
    // One client may stream only so many uploads at once; the slot is held until the
    // handler has read the body.
    let _upload_slot = match upload_slot(state, &route, &method, &parts.extensions) {
        Ok(slot) => slot,
        Err(error) => {
            let mut response = error.into_response();
            if unread_body_possible {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            return response;
        }
    };

    let outcome = match (&route, &method) {
        (Route::Base, &Method::GET | &Method::HEAD) => {
            Ok(axum::Json(serde_json::json!({})).into_response())
        }
        (Route::Catalog, &Method::GET) => listing::catalog(state, &query).await,
        (Route::Tags { name }, &Method::GET) => listing::tags(state, name, &query).await,
        (Route::Manifest { name, reference }, &Method::GET | &Method::HEAD) => {
            manifests::get(state, name, reference, head).await
        }
        (Route::Manifest { name, reference }, &Method::PUT) => {
            manifests::put(state, name, reference, &query, headers, body).await
        }
        (Route::Manifest { name, reference }, &Method::DELETE) => {
            manifests::delete(state, name, reference).await
        }
        (Route::Blob { name, digest }, &Method::GET | &Method::HEAD) => {
            blobs::get(state, name, digest, headers, head).await
        }
        (Route::Blob { name, digest }, &Method::DELETE) => blobs::delete(state, name, digest).await,
        (Route::UploadStart { name }, &Method::POST) => {
            uploads::start(state, name, &query, headers, body).await
        }
        (Route::Upload { name, id }, &Method::GET) => {
            uploads::status(state, name, id, &query).await
        }
        (Route::Upload { name, id }, &Method::PATCH) => {
            uploads::patch(state, name, id, &query, headers, body).await
        }
        (Route::Upload { name, id }, &Method::PUT) => {
            uploads::finish(state, name, id, &query, headers, body).await
        }
        (Route::Upload { name, id }, &Method::DELETE) => {
            uploads::cancel(state, name, id, &query).await
        }
        (Route::Referrers { name, digest }, &Method::GET) => {
            referrers::list(state, name, digest, &query).await
        }
        _ => Err(ApiError::new(ErrorCode::Unsupported)
            .message(format!("{method} is not supported on this endpoint"))),
    };
    let mut response = outcome.unwrap_or_else(IntoResponse::into_response);
    // An error may be answered before the body was read; the connection cannot carry another
    // request after unread bytes, so the client is told to open a new one.
    if unread_body_possible
        && (response.status().is_client_error() || response.status().is_server_error())
    {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// A slot among the client's uploads for a request that streams a blob body; 429 when the
/// client has too many in flight.
fn upload_slot(
    state: &AppState,
    route: &Route,
    method: &Method,
    extensions: &axum::http::Extensions,
) -> Result<Option<UploadSlot>, ApiError> {
    let uploading = matches!(
        (route, method),
        (Route::UploadStart { .. }, &Method::POST)
            | (Route::Upload { .. }, &Method::PATCH | &Method::PUT)
    );
    let Some(ClientAddr(client)) = extensions.get::<ClientAddr>().copied() else {
        return Ok(None);
    };
    if !uploading {
        return Ok(None);
    }
    match state.upload_slots.acquire(client) {
        Some(slot) => Ok(Some(slot)),
        None => Err(ApiError::new(ErrorCode::TooManyRequests)
            .message("too many uploads in flight from this client")
            .header(header::RETRY_AFTER, HeaderValue::from_static("1"))),
    }
}

/// The answer to a path that names no endpoint, or names one with an invalid part.
fn route_error(error: RouteError) -> Response {
    match error {
        RouteError::NotFound => (StatusCode::NOT_FOUND, "404 page not found\n").into_response(),
        RouteError::NameInvalid(reason) => ApiError::new(ErrorCode::NameInvalid)
            .message(format!("invalid repository name: {reason}"))
            .into_response(),
        RouteError::DigestInvalid(reason) => ApiError::new(ErrorCode::DigestInvalid)
            .message(format!("invalid digest: {reason}"))
            .into_response(),
        RouteError::TagInvalid => ApiError::new(ErrorCode::ManifestInvalid)
            .message("invalid tag")
            .into_response(),
        RouteError::UploadIdInvalid => ApiError::new(ErrorCode::BlobUploadUnknown).into_response(),
    }
}
