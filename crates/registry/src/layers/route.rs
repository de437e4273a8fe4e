//! Parses the request's path once and hands the route on as a request extension, for the
//! layers below and the dispatcher.

use std::task::{Context, Poll};

use axum::extract::Request;
use tower::Service;

use crate::metrics::Endpoint;
use crate::route::{self, Route, RouteError};

/// The endpoint a request's path names, or why it names none: in every API request's
/// extensions.
#[derive(Debug, Clone)]
pub(crate) struct ParsedRoute(pub(crate) Result<Route, RouteError>);

impl ParsedRoute {
    /// The route, when the path names a valid one.
    pub(crate) fn route(&self) -> Option<&Route> {
        self.0.as_ref().ok()
    }

    /// The endpoint's name for logs and counters.
    pub(crate) fn endpoint(&self) -> Endpoint {
        match &self.0 {
            Ok(Route::Base) => Endpoint::Base,
            Ok(Route::Catalog) => Endpoint::Catalog,
            Ok(Route::Tags { .. }) => Endpoint::Tags,
            Ok(Route::Manifest { .. }) => Endpoint::Manifest,
            Ok(Route::Blob { .. }) => Endpoint::Blob,
            Ok(Route::UploadStart { .. }) => Endpoint::UploadStart,
            Ok(Route::Upload { .. }) => Endpoint::Upload,
            Ok(Route::Referrers { .. }) => Endpoint::Referrers,
            Err(_) => Endpoint::Invalid,
        }
    }
}

/// The layer's service: see the module.
#[derive(Debug, Clone)]
pub(crate) struct ParseRoute<S> {
    pub(crate) inner: S,
}

impl<S: Service<Request>> Service<Request> for ParseRoute<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> S::Future {
        let parsed = ParsedRoute(route::parse(request.uri().path()));
        request.extensions_mut().insert(parsed);
        self.inner.call(request)
    }
}
