//! sockerless-agent: the entrypoint wrapper that runs inside every sockerless
//! container, and the backend-side library that talks to it.
//!
//! * [`protocol`] — the versioned wire format (see `PROTOCOL.md`).
//! * [`peer`] — the backend side: accept or dial an agent, authenticate,
//!   open sessions, stream output with acknowledgements, exec, archives.
//! * [`transport`] — the frame transport trait, with a tokio-tungstenite adapter.
//! * [`agent`] / [`config`] — the agent itself (used by the binary).
#![warn(missing_docs)]

pub mod agent;
mod archive;
mod changes;
pub mod config;
mod dispatch;
mod exec;
mod fdio;
mod health;
mod hosts;
mod hub;
pub mod limits;
mod linger;
mod link;
mod listening;
mod liveness;
pub mod net;
mod ops;
pub mod peer;
mod process;
pub mod protocol;
mod relay;
mod resolv;
pub mod secret_env;
mod socket;
mod start_failure;
mod timefmt;
pub mod transport;
mod unix_listen;
mod userdb;
mod uts;

pub use health::HealthConfig;
pub use hosts::make_writable as make_hosts_writable;
