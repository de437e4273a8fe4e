//! Authorization: every request for a valid `/v2/` route is checked against the scopes its
//! endpoint needs before a handler sees it, and answered 401 or 403 when refused. Paths that
//! name no route pass on (the token issuer's, and the dispatcher's 404s and 400s).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::header;
use axum::response::{IntoResponse as _, Response};
use gantry_reference::RepositoryName;
use tower::Service;

use super::route::ParsedRoute;
use crate::auth::{Auth, needs};
use crate::query::Query;
use crate::route::Route;

/// In a request's extensions when its upload start asked to mount a blob from a repository
/// the client may not pull: the upload starts plain instead, as the specification allows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MountRefused;

/// The layer's service: see the module.
#[derive(Clone)]
pub(crate) struct Authorize<S> {
    pub(crate) inner: S,
    pub(crate) auth: Arc<Auth>,
}

/// A mount's source, when the request is an upload start that asks for a mount: `None`
/// inside when it names no valid source.
fn mount_source(route: &Route, query: Option<&str>) -> Option<Option<RepositoryName>> {
    let Route::UploadStart { .. } = route else {
        return None;
    };
    let query = Query::parse(query);
    query.get("mount")?;
    Some(
        query
            .get("from")
            .and_then(|from| RepositoryName::parse(from).ok()),
    )
}

impl<S> Service<Request> for Authorize<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let Some(route) = request
            .extensions()
            .get::<ParsedRoute>()
            .and_then(ParsedRoute::route)
        else {
            return Box::pin(inner.call(request));
        };
        let needs = needs(route, request.method());
        let mount = mount_source(route, request.uri().query());
        let auth = Arc::clone(&self.auth);
        Box::pin(async move {
            let host = request
                .headers()
                .get(header::HOST)
                .and_then(|host| host.to_str().ok())
                .or_else(|| {
                    request
                        .uri()
                        .authority()
                        .map(|authority| authority.as_str())
                });
            match auth.authorize(request.headers(), host, &needs).await {
                Ok(principal) => {
                    if let Some(source) = mount
                        && !auth.may_mount_from(&principal, source)
                    {
                        request.extensions_mut().insert(MountRefused);
                    }
                    inner.call(request).await
                }
                Err(error) => Ok(error.into_response()),
            }
        })
    }
}
