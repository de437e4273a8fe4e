//! The API's handlers, one module per area, and the dispatcher that routes to them.

mod blobs;
mod listing;
mod manifests;
mod referrers;
mod uploads;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gantry_spec::error_code::ErrorCode;

use crate::error::ApiError;
use crate::layers::authorize::MountRefused;
use crate::layers::route::ParsedRoute;
use crate::query::Query;
use crate::route::{self, Route, RouteError};
use crate::state::AppState;

pub(crate) const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";
pub(crate) const OCI_SUBJECT: &str = "oci-subject";
pub(crate) const OCI_TAG: &str = "oci-tag";

/// Routes every `/v2/` request to its handler. The layers in `crate::layers` have parsed the
/// route, authorized the request and taken its upload slot.
pub(crate) async fn dispatch(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let route = match parts.extensions.remove::<ParsedRoute>() {
        Some(ParsedRoute(route)) => route,
        None => route::parse(parts.uri.path()),
    };
    let route = match route {
        Ok(route) => route,
        Err(error) => return route_error(error),
    };
    let mut query = Query::parse(parts.uri.query());
    if parts.extensions.get::<MountRefused>().is_some() {
        query = query.without(&["mount", "from"]);
    }
    let method = parts.method;
    let headers = &parts.headers;
    let state = &state;
    let head = method == Method::HEAD;
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
    if response.status() == StatusCode::METHOD_NOT_ALLOWED {
        let delete_enabled = state.registry.options().delete_enabled;
        response
            .headers_mut()
            .insert(header::ALLOW, allowed_methods(&route, delete_enabled));
    }
    response
}

/// The methods `route` answers, for the `Allow` header every 405 carries (RFC 9110, 15.5.6):
/// `DELETE` only while deletes are enabled.
fn allowed_methods(route: &Route, delete_enabled: bool) -> HeaderValue {
    let methods = match route {
        Route::Base => "GET, HEAD",
        Route::Catalog | Route::Tags { .. } | Route::Referrers { .. } => "GET",
        Route::Manifest { .. } if delete_enabled => "GET, HEAD, PUT, DELETE",
        Route::Manifest { .. } => "GET, HEAD, PUT",
        Route::Blob { .. } if delete_enabled => "GET, HEAD, DELETE",
        Route::Blob { .. } => "GET, HEAD",
        Route::UploadStart { .. } => "POST",
        Route::Upload { .. } => "GET, PATCH, PUT, DELETE",
    };
    HeaderValue::from_static(methods)
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
