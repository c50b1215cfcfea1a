//! Listener security: the agent endpoint's TLS settings, the rule that
//! plain WebSocket never leaves loopback, and every listener's limits; the
//! agent link's liveness (pings both ways, the longest silence).

use std::time::Duration;

use sockerless_agent::transport::Liveness;
use sockerless_api::listen::{
    DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_MAX_CONNECTIONS, ListenAddr, ServeLimits, TlsSettings,
};

use super::{Config, ConfigError, env_var_name, flag_name};

/// Default [`Config::agent_ping_secs`].
pub const DEFAULT_AGENT_PING_SECS: u64 = 10;
/// Default [`Config::agent_liveness_timeout_secs`]: three pings.
pub const DEFAULT_AGENT_LIVENESS_TIMEOUT_SECS: u64 = 30;

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

    /// Checks `agent_callback_url`: agents send their token and the
    /// containers' output there, so it is `wss://` unless its host is loopback.
    pub fn check_agent_callback_url(&self) -> Result<(), ConfigError> {
        let Some(raw) = self.agent_callback_url.as_deref() else {
            return Ok(());
        };
        let url = url::Url::parse(raw)
            .map_err(|e| ConfigError::Invalid(format!("agent_callback_url {raw:?}: {e}")))?;
        let loopback = match url.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        match url.scheme() {
            "wss" => Ok(()),
            "ws" if loopback => Ok(()),
            "ws" => Err(ConfigError::Invalid(format!(
                "agent_callback_url {raw:?} is plain ws:// to a host that is not loopback: agent \
                 tokens, stdin and output would cross the network in clear text; use wss://"
            ))),
            other => Err(ConfigError::Invalid(format!(
                "agent_callback_url {raw:?}: scheme {other:?} is not wss:// (or ws:// to loopback)"
            ))),
        }
    }

    /// Reads the listener limits; both must be at least 1.
    pub(super) fn parse_listen_limits(
        &mut self,
        max_connections: Option<super::sources::Number>,
        header_read_timeout_secs: Option<super::sources::Number>,
    ) -> Result<(), ConfigError> {
        use super::sources::parse_number;
        self.max_connections = parse_number(
            "max_connections",
            max_connections,
            DEFAULT_MAX_CONNECTIONS as u64,
        )?;
        self.header_read_timeout_secs = parse_number(
            "header_read_timeout_secs",
            header_read_timeout_secs,
            DEFAULT_HEADER_READ_TIMEOUT.as_secs(),
        )?;
        if self.max_connections == 0 || self.header_read_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "max_connections and header_read_timeout_secs must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// Reads the agent link's liveness: both at least 1, the timeout longer
    /// than the ping interval (else a link between two pings looks dead).
    pub(super) fn parse_agent_liveness(
        &mut self,
        ping_secs: Option<super::sources::Number>,
        timeout_secs: Option<super::sources::Number>,
    ) -> Result<(), ConfigError> {
        use super::sources::parse_number;
        self.agent_ping_secs = parse_number("agent_ping_secs", ping_secs, DEFAULT_AGENT_PING_SECS)?;
        self.agent_liveness_timeout_secs = parse_number(
            "agent_liveness_timeout_secs",
            timeout_secs,
            DEFAULT_AGENT_LIVENESS_TIMEOUT_SECS,
        )?;
        if self.agent_ping_secs == 0 {
            return Err(ConfigError::Invalid(
                "agent_ping_secs: must be at least 1".into(),
            ));
        }
        if self.agent_liveness_timeout_secs <= self.agent_ping_secs {
            return Err(ConfigError::Invalid(format!(
                "agent_liveness_timeout_secs ({}) must be longer than agent_ping_secs ({})",
                self.agent_liveness_timeout_secs, self.agent_ping_secs
            )));
        }
        Ok(())
    }

    /// The agent link's liveness, as both ends apply it (the figures were
    /// checked at load; a configuration built in code falls back to the defaults).
    pub fn agent_liveness(&self) -> Liveness {
        Liveness::new(
            Duration::from_secs(self.agent_ping_secs),
            Duration::from_secs(self.agent_liveness_timeout_secs),
        )
        .unwrap_or_default()
    }

    /// The limits every listener of this configuration serves under.
    pub fn serve_limits(&self) -> ServeLimits {
        ServeLimits {
            header_read_timeout: std::time::Duration::from_secs(self.header_read_timeout_secs),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
        }
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
