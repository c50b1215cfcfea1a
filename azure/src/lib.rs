//! Thin typed Azure clients on `azure_core`'s pipeline: ARM with its
//! long-running operations, Container Apps Jobs and managed environments,
//! Log Analytics queries, Azure Files (shares through ARM, the data plane
//! with Shared Key) and container registries (OCI distribution, ACR token
//! exchange). They know nothing of Docker: every failure is an
//! [`AzureError`], for the caller to map to its own errors.

#![warn(missing_docs)]

pub mod acr_tasks;
pub mod arm;
pub mod blobs;
pub mod credential;
pub mod environments;
mod error;
pub mod files;
pub mod fileshares;
pub mod jobs;
pub mod loganalytics;
pub mod models;
pub mod pipeline;
pub mod registry;
pub mod throttle;

#[cfg(any(test, feature = "test-support"))]
pub mod test_support;

pub use azure_core::credentials::Secret;
pub use error::{AzureError, CallContext, ErrorKind, error_chain};
