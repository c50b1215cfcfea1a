//! The agent endpoint's transport security: TLS settings and the rule that
//! plain WebSocket never leaves loopback.

use sockerless_api::listen::{ListenAddr, TlsSettings};

use super::{Config, ConfigError, env_var_name, flag_name};

impl Config {
    /// Whether the agent endpoint serves TLS (certificate and key configured).
    pub fn agent_tls(&self) -> bool {
        self.agent_tls_cert.is_some() && self.agent_tls_key.is_some()
    }

    /// Checks the agent endpoint's security: TLS needs both certificate and
    /// key, and without TLS `agent_listen` must be loopback (agent tokens,
    /// stdin and output would otherwise cross the network in clear text).
    pub fn check_agent_listen(&self) -> Result<(), ConfigError> {
        match (&self.agent_tls_cert, &self.agent_tls_key) {
            (Some(_), None) => {
                return Err(ConfigError::Invalid(format!(
                    "agent_tls_cert is set but agent_tls_key is missing ({} or {})",
                    flag_name("agent_tls_key"),
                    env_var_name("agent_tls_key")
                )));
            }
            (None, Some(_)) => {
                return Err(ConfigError::Invalid(format!(
                    "agent_tls_key is set but agent_tls_cert is missing ({} or {})",
                    flag_name("agent_tls_cert"),
                    env_var_name("agent_tls_cert")
                )));
            }
            _ => {}
        }
        let addr: ListenAddr = self
            .agent_listen
            .parse()
            .map_err(|e| ConfigError::Invalid(format!("agent_listen: {e}")))?;
        if !matches!(addr, ListenAddr::Tcp { .. }) {
            return Err(ConfigError::Invalid(format!(
                "agent_listen {:?}: agents dial over TCP; use tcp://host:port",
                self.agent_listen
            )));
        }
        if !self.agent_tls() && !addr.is_loopback() {
            return Err(ConfigError::Invalid(format!(
                "agent_listen {:?} is not a loopback address and the agent endpoint has no TLS: \
                 agent tokens, stdin and output would cross the network in clear text. Either set \
                 agent_tls_cert and agent_tls_key (PEM files; agents then dial wss://), or listen on \
                 loopback (tcp://127.0.0.1:9112) behind a TLS-terminating proxy and set \
                 agent_callback_url to the proxy's wss:// URL",
                self.agent_listen
            )));
        }
        Ok(())
    }

    /// The TLS settings of the agent endpoint, when certificate and key are set
    /// (no client certificates: agents authenticate with their token).
    pub fn agent_tls_settings(&self) -> Option<TlsSettings> {
        Some(TlsSettings {
            cert_chain_pem: self.agent_tls_cert.clone()?,
            key_pem: self.agent_tls_key.clone()?,
            client_ca_pem: None,
        })
    }
}

#[cfg(test)]
#[path = "config_agent_tests.rs"]
mod tests;
