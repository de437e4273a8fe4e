//! The layers every API request passes through before the router, outermost first:
//!
//! - sensitive headers: `Authorization` and cookies are marked so no log shows them;
//! - the request id (`X-Request-Id`: the client's, up to 128 bytes, or a new one), returned
//!   in the response with the `Docker-Distribution-API-Version` header and
//!   `X-Content-Type-Options: nosniff`;
//! - [`route`]: the path parsed once, handed on as a request extension;
//! - [`observe`]: the access log and the counters;
//! - [`close`]: `Connection: close` on an error answered before the body was read;
//! - [`authorize`]: credentials and the access policy, when authentication is on;
//! - [`upload_limit`]: the per-client limit on uploads in flight.
//!
//! The dispatcher under them only routes.

pub(crate) mod authorize;
pub(crate) mod close;
mod finish;
pub(crate) mod observe;
pub(crate) mod route;
pub(crate) mod upload_limit;

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use hyper::body::Incoming;
use tower::util::option_layer;
use tower::{Service, ServiceBuilder, layer::layer_fn};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use self::authorize::Authorize;
use self::close::CloseAfterUnreadBody;
use self::observe::Observe;
use self::route::ParseRoute;
use self::upload_limit::UploadLimit;
use crate::state::AppState;

/// The header naming the API version, on every response.
const API_VERSION: &str = "docker-distribution-api-version";
/// The longest client request id kept; a longer one is replaced.
const MAX_REQUEST_ID_LEN: usize = 128;

/// The API service: the router for `state` inside every layer.
pub(crate) fn api(
    state: AppState,
) -> impl Service<
    axum::http::Request<Incoming>,
    Response = axum::http::Response<
        impl http_body::Body<Data = bytes::Bytes, Error = axum::Error> + Send + 'static,
    >,
    Error = Infallible,
    Future = impl Send + 'static,
> + Clone
+ Send
+ Sync
+ 'static {
    let request_id = HeaderName::from_static("x-request-id");
    let router = crate::app::router(state.clone());
    ServiceBuilder::new()
        .map_request(|request: axum::http::Request<Incoming>| request.map(Body::new))
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::PROXY_AUTHORIZATION,
            header::COOKIE,
        ]))
        .map_request(drop_long_request_id)
        .layer(SetRequestIdLayer::new(request_id.clone(), NextRequestId))
        .layer(PropagateRequestIdLayer::new(request_id))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static(API_VERSION),
            HeaderValue::from_static("registry/2.0"),
        ))
        // No response is to be read as another type than it says (a pushed blob as a page).
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(layer_fn(|inner| ParseRoute { inner }))
        .layer(layer_fn({
            let metrics = state.metrics.clone();
            move |inner| Observe {
                inner,
                metrics: metrics.clone(),
            }
        }))
        .layer(layer_fn(|inner| CloseAfterUnreadBody { inner }))
        .layer(option_layer(state.auth.clone().map(|auth| {
            layer_fn(move |inner| Authorize {
                inner,
                auth: auth.clone(),
            })
        })))
        .layer(layer_fn({
            let slots = state.upload_slots.clone();
            move |inner| UploadLimit {
                inner,
                slots: slots.clone(),
            }
        }))
        .service(router)
}

/// A client's request id longer than the server keeps is dropped, so a new one is made.
fn drop_long_request_id(mut request: Request) -> Request {
    if request
        .headers()
        .get("x-request-id")
        .is_some_and(|id| id.len() > MAX_REQUEST_ID_LEN)
    {
        request.headers_mut().remove("x-request-id");
    }
    request
}

/// Request ids unique within this process: 1, 2, 3, ...
#[derive(Debug, Clone, Copy)]
struct NextRequestId;

impl MakeRequestId for NextRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Some(RequestId::new(HeaderValue::from(
            NEXT.fetch_add(1, Ordering::Relaxed),
        )))
    }
}
