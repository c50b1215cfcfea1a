//! The Azure Container Apps backend of sockerless: every Docker container runs
//! as an execution of an ACA Job.
//!
//! - [`config`]: configuration (YAML, `SOCKERLESS_ACA_*`, flags).
//! - [`azure`]: thin typed clients on `azure_core`'s pipeline (jobs, managed
//!   environment, Log Analytics, file shares, registry) and the credential chain.
//! - [`store`]: the SQLite state store.
//! - [`clock`]: times (now, RFC 3339) and random IDs.
//! - [`backend`]: [`AcaBackend`], the `sockerless_api::Backend` implementation.
//! - [`daemon`]: logging, listener, request log, graceful shutdown.
//! - [`containers`], [`exec`], [`images`], [`networks`], [`volumes`]: the
//!   Docker operations, one function per `Backend` method.
//! - [`relay`]: names and TCP between containers through their agents.
//! - [`ports`]: published ports, relayed from the daemon's host through the agent.
//! - [`docker_socket`]: the Docker socket inside containers, tunnelled to the Docker API.
//! - [`malloc`]: glibc's allocator set up so a long-lived daemon gives memory back.
#![warn(missing_docs)]

pub mod agent_image;
pub mod agent_link;
pub mod backend;
pub mod binds;
pub mod changes;
pub mod clients;
pub mod clock;
pub mod config;
pub mod containers;
pub mod daemon;
pub mod docker_socket;
pub mod errors;
pub mod events;
pub mod exec;
pub mod exec_failure;
pub mod images;
pub mod logs;
pub mod malloc;
pub mod names;
pub mod networks;
pub mod ops;
pub mod ports;
pub mod relay;
pub mod runtime;
pub mod store;
pub mod volumes;

pub use backend::{AcaBackend, BackendError};
pub use config::{CliArgs, Config, ConfigError};
