//! Container endpoints served by the agent inside the container: `top`, `stats`, `pause`/`unpause`, `export`.

use axum::Router;

use crate::state::AppState;

/// This module's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}
