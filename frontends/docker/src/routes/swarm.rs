//! Swarm endpoints, answered as a dockerd outside any swarm answers them.
//!
//! Sockerless has no swarm mode, and says so the way dockerd does: 503 with
//! dockerd's message. SDKs expect exactly that (the Docker SDK for Python's
//! test set-up calls `swarm.leave(force=True)` and tolerates only the 503),
//! where a 501 would fail them. Joining or creating a swarm stays a 501: a
//! dockerd would do it, sockerless cannot.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{MethodRouter, get, post};

use crate::errors::DockerError;
use crate::state::AppState;

/// dockerd's answer to a manager-only request on a node outside a swarm.
pub const NOT_A_MANAGER: &str = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";
/// dockerd's answer to `swarm leave` on a node outside a swarm.
pub const NOT_IN_A_SWARM: &str = "This node is not part of a swarm";

fn unavailable(message: &'static str) -> DockerError {
    DockerError::new(StatusCode::SERVICE_UNAVAILABLE, message)
}

async fn not_a_manager() -> DockerError {
    unavailable(NOT_A_MANAGER)
}

async fn not_in_a_swarm() -> DockerError {
    unavailable(NOT_IN_A_SWARM)
}

async fn cannot_form() -> DockerError {
    DockerError::unsupported("swarm mode")
}

/// dockerd's swarm routes, with their methods (others stay 404 as in dockerd).
pub fn routes() -> Router<AppState> {
    let manager = || -> MethodRouter<AppState> { get(not_a_manager) };
    let object = || get(not_a_manager).delete(not_a_manager);
    let update = || post(not_a_manager);
    Router::new()
        .route("/swarm", manager())
        .route("/swarm/init", post(cannot_form))
        .route("/swarm/join", post(cannot_form))
        .route("/swarm/leave", post(not_in_a_swarm))
        .route("/swarm/update", update())
        .route("/swarm/unlockkey", manager())
        .route("/swarm/unlock", update())
        .route("/nodes", manager())
        .route("/nodes/{id}", object())
        .route("/nodes/{id}/update", update())
        .route("/services", manager())
        .route("/services/create", update())
        .route("/services/{id}", object())
        .route("/services/{id}/update", update())
        .route("/services/{id}/logs", manager())
        .route("/tasks", manager())
        .route("/tasks/{id}", manager())
        .route("/tasks/{id}/logs", manager())
        .route("/secrets", manager())
        .route("/secrets/create", update())
        .route("/secrets/{id}", object())
        .route("/secrets/{id}/update", update())
        .route("/configs", manager())
        .route("/configs/create", update())
        .route("/configs/{id}", object())
        .route("/configs/{id}/update", update())
}
