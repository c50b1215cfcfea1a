//! Container output besides what the agent's capture keeps in SQLite
//! (`crate::store::logs`): the Log Analytics fallback ([`analytics`]) for
//! runs whose output was not captured.

pub mod analytics;
