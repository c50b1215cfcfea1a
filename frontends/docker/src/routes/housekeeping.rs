//! `container update`, `container prune` and `image prune`.

use axum::Router;

use crate::state::AppState;

/// This module's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}
