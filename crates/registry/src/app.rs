//! The API's axum router: every `/v2/` path goes to the dispatcher, inside the observing
//! middleware.

use axum::Router;
use axum::middleware;

use crate::handlers::dispatch;
use crate::observe::observe;
use crate::state::AppState;

/// The router for the registry API.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .fallback(dispatch)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}
