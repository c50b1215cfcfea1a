//! Images to and from registries and containers: `save` (`/images/get`), `commit`, `changes`, `/distribution`.

use axum::Router;

use crate::state::AppState;

/// This module's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}
