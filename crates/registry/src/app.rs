//! The API's axum router: the built-in token issuer's path when it is on, and every other path
//! to the dispatcher, all inside the observing middleware.

use axum::Router;
use axum::middleware;
use axum::routing::get;

use std::sync::Arc;

use crate::auth::Auth;
use crate::auth::issuer::issue;
use crate::handlers::dispatch;
use crate::observe::observe;
use crate::state::AppState;

/// The router for the registry API.
pub(crate) fn router(state: AppState) -> Router {
    let mut router = Router::new();
    if let Some((path, auth)) = issuer(&state) {
        router = router.route(&path, get(issue).post(issue).with_state(auth));
    }
    router
        .fallback(dispatch)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Where the built-in token issuer is served, and what it answers from, when it is on.
fn issuer(state: &AppState) -> Option<(String, Arc<Auth>)> {
    let auth = state.auth.as_ref()?;
    let bearer = auth.bearer.as_ref()?;
    bearer.issuer.as_ref()?;
    Some((bearer.issuer_path().to_owned(), Arc::clone(auth)))
}
