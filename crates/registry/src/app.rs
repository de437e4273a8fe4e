//! The API's axum router: the built-in token issuer's path when it is on, and every other path
//! to the dispatcher, all inside the observing middleware.

use axum::Router;
use axum::middleware;
use axum::routing::get;

use crate::auth::issuer::issue;

use crate::handlers::dispatch;
use crate::observe::observe;
use crate::state::AppState;

/// The router for the registry API.
pub(crate) fn router(state: AppState) -> Router {
    let mut router = Router::new();
    if let Some(path) = issuer_path(&state) {
        router = router.route(&path, get(issue).post(issue));
    }
    router
        .fallback(dispatch)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Where the built-in token issuer is served, when it is.
fn issuer_path(state: &AppState) -> Option<String> {
    let bearer = state.auth.as_ref()?.bearer.as_ref()?;
    bearer.issuer.as_ref()?;
    Some(bearer.issuer_path().to_owned())
}
