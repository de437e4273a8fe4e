//! Closes the connection after an error answered before the request's body was read.
//!
//! An error may be answered (by authorization, the upload limit or a handler) while the body
//! is still on the wire; an HTTP/1 connection cannot carry another request after unread
//! bytes, so the client is told to open a new one.

use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderValue, Version, header};
use axum::response::Response;
use tower::Service;

use super::finish::{Finish, Finishing};
use crate::http::has_body;

/// The layer's service: see the module.
#[derive(Debug, Clone)]
pub(crate) struct CloseAfterUnreadBody<S> {
    pub(crate) inner: S,
}

/// Whether the request may have left body bytes unread.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MayLeaveBody(bool);

impl Finish for MayLeaveBody {
    fn finish(self, response: &mut Response) {
        let status = response.status();
        if self.0 && (status.is_client_error() || status.is_server_error()) {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
    }
}

impl<S: Service<Request, Response = Response>> Service<Request> for CloseAfterUnreadBody<S> {
    type Response = Response;
    type Error = S::Error;
    type Future = Finishing<S::Future, MayLeaveBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let unread = request.version() <= Version::HTTP_11 && has_body(request.headers());
        Finishing::new(self.inner.call(request), MayLeaveBody(unread))
    }
}
