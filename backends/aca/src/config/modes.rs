//! Keys that choose one of a few words: the network mode, how `:ro` binds
//! are made, the log format.

use super::{ConfigError, non_empty};

/// How containers on a user network reach each other (`network_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetworkMode {
    /// Each peer gets a loopback address in the other containers; the agents
    /// relay TCP through the backend (works on every environment).
    #[default]
    Relay,
    /// Replicas reach each other directly (VNet-integrated environments):
    /// names point at the replica IPs the agents report; no relay.
    Direct,
}

/// How `:ro` binds of directories are made (`ro_binds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadOnlyBinds {
    /// Read-only mounts of a copy in the volume share (when a storage
    /// account is configured): a write fails with `EROFS`, as under dockerd.
    #[default]
    Mount,
    /// Copied into the container like read-write binds, never synced back:
    /// no share round trips per file, but the process may change its copy.
    Copy,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The value of `key` among `choices` (case-insensitive; the first is the
/// default, taken when the key is unset or blank).
pub(super) fn parse_mode<T: Copy>(
    key: &str,
    raw: Option<String>,
    choices: &[(&str, T)],
) -> Result<T, ConfigError> {
    let Some(given) = non_empty(raw) else {
        return choices
            .first()
            .map(|(_, value)| *value)
            .ok_or_else(|| ConfigError::Invalid(format!("{key}: no choices")));
    };
    let wanted = given.to_ascii_lowercase();
    if let Some((_, value)) = choices.iter().find(|(word, _)| *word == wanted) {
        return Ok(*value);
    }
    let words: Vec<String> = choices
        .iter()
        .map(|(word, _)| format!("{word:?}"))
        .collect();
    Err(ConfigError::Invalid(format!(
        "{key}: {wanted:?} is neither {}",
        words.join(" nor ")
    )))
}
