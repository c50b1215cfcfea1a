//! The internal API contract between sockerless frontends and backends.
//!
//! - [`Backend`]: one async method per internal endpoint.
//! - [`ApiError`]: errors with their Docker status and `{"message": ...}` body.
//! - [`BackendInfo`] / [`Capabilities`]: what a backend supports.
//! - [`docker`]: Docker's data model, generated from Docker's swagger (`bollard-stubs`).
#![warn(missing_docs)]

mod backend;
mod build;
mod capabilities;
mod error;
mod types;

pub mod client;
pub mod listen;
pub mod routes;
pub mod server;
pub mod wire;

pub use backend::{Backend, EventStream, Result};
pub use build::{BuildImageOptions, BuildProgress, BuildStream};
pub use capabilities::{BackendInfo, Capabilities, Capability};
pub use client::RemoteBackend;
pub use error::{ApiError, ErrorBody, ErrorKind};
pub use types::*;

/// Docker Engine API models (generated from Docker's swagger by `bollard-stubs`).
pub mod docker {
    pub use bollard_stubs::models::*;
}
