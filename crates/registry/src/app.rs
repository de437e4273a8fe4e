//! The API's axum router: the built-in token issuer's path when it is on, and every other path
//! to the dispatcher. The layers in `crate::layers` wrap it.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;

use crate::auth::Auth;
use crate::auth::issuer::issue;
use crate::handlers::dispatch;
use crate::state::AppState;

/// The router for the registry API.
pub(crate) fn router(state: AppState) -> Router {
    let mut router = Router::new();
    if let Some((path, auth)) = issuer(&state) {
        router = router.route(&path, get(issue).post(issue).with_state(auth));
    }
    router.fallback(dispatch).with_state(state)
}

/// Where the built-in token issuer is served, and what it answers from, when it is on.
fn issuer(state: &AppState) -> Option<(String, Arc<Auth>)> {
    let auth = state.auth.as_ref()?;
    let bearer = auth.bearer.as_ref()?;
    bearer.issuer.as_ref()?;
    Some((bearer.issuer_path().to_owned(), Arc::clone(auth)))
}
