//! The access log and the counters: every API request is counted, by endpoint, method and
//! status, and logged on the `gantry::access` target with its request id. The query string
//! is never logged: upload URLs carry their signed state there.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::Request;
use axum::http::Method;
use axum::response::Response;
use tower::Service;
use tower_http::request_id::RequestId;

use super::finish::{Finish, Finishing};
use super::route::ParsedRoute;
use crate::http::content_length;
use crate::metrics::{Endpoint, InFlight, Metrics};

/// The access log's target.
const ACCESS: &str = "gantry::access";

/// The layer's service: see the module.
#[derive(Clone)]
pub(crate) struct Observe<S> {
    pub(crate) inner: S,
    pub(crate) metrics: Arc<Metrics>,
}

/// What is known of a request when it arrives.
pub(crate) struct Observation {
    in_flight: InFlight,
    endpoint: Endpoint,
    method: Method,
    bytes_in: u64,
    /// The request id, the path and when the request arrived, kept only when the access log
    /// is on.
    logged: Option<(RequestId, String, Instant)>,
}

impl Finish for Observation {
    fn finish(self, response: &mut Response) {
        let status = response.status().as_u16();
        let bytes_out = http_body::Body::size_hint(response.body())
            .exact()
            .unwrap_or_else(|| content_length(response.headers()));
        self.in_flight.metrics().record(
            self.endpoint,
            &self.method,
            status,
            self.bytes_in,
            bytes_out,
        );
        if let Some((id, path, started)) = self.logged {
            tracing::info!(
                target: ACCESS,
                request_id = id.header_value().to_str().unwrap_or_default(),
                method = %self.method,
                path,
                status,
                bytes_in = self.bytes_in,
                bytes_out,
                elapsed_us = started.elapsed().as_micros() as u64,
                "request"
            );
        }
    }
}

impl<S: Service<Request, Response = Response>> Service<Request> for Observe<S> {
    type Response = Response;
    type Error = S::Error;
    type Future = Finishing<S::Future, Observation>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let endpoint = request
            .extensions()
            .get::<ParsedRoute>()
            .map_or(Endpoint::Invalid, ParsedRoute::endpoint);
        let logged = tracing::enabled!(target: ACCESS, tracing::Level::INFO).then(|| {
            let id = request.extensions().get::<RequestId>().cloned();
            let id = id.unwrap_or_else(|| RequestId::new(axum::http::HeaderValue::from_static("")));
            (id, request.uri().path().to_owned(), Instant::now())
        });
        let observation = Observation {
            in_flight: self.metrics.start(endpoint),
            endpoint,
            method: request.method().clone(),
            bytes_in: content_length(request.headers()),
            logged,
        };
        Finishing::new(self.inner.call(request), observation)
    }
}
