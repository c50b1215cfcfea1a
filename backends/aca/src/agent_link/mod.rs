//! The agent endpoint: agents dial in over WebSocket ([`endpoint`]); each
//! authenticated connection gets a pump ([`pump`]) that captures the main
//! process's output and exit code and delivers commands to it.

pub mod capture;
pub mod cut;
pub mod endpoint;
pub mod pump;
pub mod refusals;

pub use endpoint::{AGENT_PATH, AgentEndpoint};
