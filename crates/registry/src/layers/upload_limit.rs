//! One client may stream only so many uploads at once: a request that streams a blob body
//! takes a slot among its client's, held until the response is ready (the handler has read
//! the body by then), or is answered 429.

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse as _, Response};
use futures_util::future::{Either, Ready, ready};
use gantry_spec::error_code::ErrorCode;
use tower::Service;

use super::finish::{Finish, Finishing};
use super::route::ParsedRoute;
use crate::error::ApiError;
use crate::limits::{ClientAddr, UploadSlot, UploadSlots};
use crate::route::Route;

/// The layer's service: see the module.
#[derive(Clone)]
pub(crate) struct UploadLimit<S> {
    pub(crate) inner: S,
    pub(crate) slots: Arc<UploadSlots>,
}

/// A slot held while the request is served.
pub(crate) struct Held(Option<UploadSlot>);

impl Finish for Held {
    fn finish(self, _: &mut Response) {
        drop(self.0);
    }
}

/// Whether `request` streams a blob body.
fn uploads(request: &Request) -> bool {
    let route = request
        .extensions()
        .get::<ParsedRoute>()
        .and_then(ParsedRoute::route);
    matches!(
        (route, request.method()),
        (Some(Route::UploadStart { .. }), &Method::POST)
            | (Some(Route::Upload { .. }), &Method::PATCH | &Method::PUT)
    )
}

impl<S, E> Service<Request> for UploadLimit<S>
where
    S: Service<Request, Response = Response, Error = E>,
{
    type Response = Response;
    type Error = E;
    type Future = Either<Ready<Result<Response, E>>, Finishing<S::Future, Held>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), E>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let client = request.extensions().get::<ClientAddr>().copied();
        let slot = match client {
            Some(ClientAddr(client)) if uploads(&request) => match self.slots.acquire(client) {
                Some(slot) => Some(slot),
                None => {
                    return Either::Left(ready(Ok(ApiError::new(ErrorCode::TooManyRequests)
                        .message("too many uploads in flight from this client")
                        .header(header::RETRY_AFTER, HeaderValue::from_static("1"))
                        .into_response())));
                }
            },
            _ => None,
        };
        Either::Right(Finishing::new(self.inner.call(request), Held(slot)))
    }
}
