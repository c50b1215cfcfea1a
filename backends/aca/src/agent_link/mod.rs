//! The agent link: agents dial in over WebSocket ([`endpoint`]); each
//! authenticated connection gets a [`pump::AgentLink`] that opens sessions on
//! it and a pump ([`pump`]) that reads the main process's output and exit
//! code ([`capture`]) and delivers commands to it.
//!
//! Layering: [`pump`], [`capture`], [`process`], [`cut`] and [`refusals`]
//! depend on nothing above them; what happens on a link is reported to
//! the runtime through [`pump::LinkObserver`]. Only [`endpoint`], the
//! door, sits above the runtime: it hands each authenticated connection to
//! `runtime::connection`.

pub mod capture;
pub mod cut;
pub mod endpoint;
pub mod process;
pub mod pump;
pub mod refusals;

pub use endpoint::{AGENT_PATH, AgentEndpoint};
