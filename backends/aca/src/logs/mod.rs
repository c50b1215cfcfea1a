//! Container output: captured from the agent into SQLite ([`store`]), and the
//! Log Analytics fallback ([`analytics`]) for runs whose output was not captured.

pub mod analytics;
pub mod store;
