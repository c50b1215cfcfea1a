//! What a backend can do, as reported by `GET /internal/v1/capabilities`.

use serde::{Deserialize, Serialize};

/// The backend's name, version and capabilities (the ACA-001 JSON shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendInfo {
    /// Short backend name, e.g. `aca`.
    pub backend: String,
    /// The backend's version.
    pub version: String,
    /// What it supports.
    pub capabilities: Capabilities,
}

/// Feature flags a frontend uses to gate endpoints (501 when false).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// `exec` create/start/inspect.
    pub exec: bool,
    /// `attach`.
    pub attach: bool,
    /// `logs`.
    pub logs: bool,
    /// `logs --follow`.
    pub logs_follow: bool,
    /// Volumes.
    pub volumes: bool,
    /// Networks.
    pub networks: bool,
    /// Docker HEALTHCHECK.
    pub health_checks: bool,
    /// `images/create` (pull).
    pub image_pull: bool,
    /// `images/load`.
    pub image_load: bool,
    /// Longest a container may run, 0 for no limit.
    pub max_timeout_seconds: u64,
    /// Whether every container runs the sockerless agent.
    pub agent_required: bool,
}

/// A capability a frontend can ask about by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// See [`Capabilities::exec`].
    Exec,
    /// See [`Capabilities::attach`].
    Attach,
    /// See [`Capabilities::logs`].
    Logs,
    /// See [`Capabilities::logs_follow`].
    LogsFollow,
    /// See [`Capabilities::volumes`].
    Volumes,
    /// See [`Capabilities::networks`].
    Networks,
    /// See [`Capabilities::health_checks`].
    HealthChecks,
    /// See [`Capabilities::image_pull`].
    ImagePull,
    /// See [`Capabilities::image_load`].
    ImageLoad,
}

impl Capability {
    /// The name used in messages, e.g. `exec` in "does not support exec".
    pub fn name(self) -> &'static str {
        match self {
            Capability::Exec => "exec",
            Capability::Attach => "attach",
            Capability::Logs => "logs",
            Capability::LogsFollow => "logs follow",
            Capability::Volumes => "volumes",
            Capability::Networks => "networks",
            Capability::HealthChecks => "health checks",
            Capability::ImagePull => "image pull",
            Capability::ImageLoad => "image load",
        }
    }
}

impl Capabilities {
    /// Whether `cap` is supported.
    pub fn supports(&self, cap: Capability) -> bool {
        match cap {
            Capability::Exec => self.exec,
            Capability::Attach => self.attach,
            Capability::Logs => self.logs,
            Capability::LogsFollow => self.logs_follow,
            Capability::Volumes => self.volumes,
            Capability::Networks => self.networks,
            Capability::HealthChecks => self.health_checks,
            Capability::ImagePull => self.image_pull,
            Capability::ImageLoad => self.image_load,
        }
    }
}

impl BackendInfo {
    /// The message a frontend returns with 501 when `cap` is unsupported.
    pub fn unsupported_message(&self, cap: Capability) -> String {
        format!(
            "This backend ({}) does not support {}",
            self.backend,
            cap.name()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_matches_aca_001() {
        let info = BackendInfo {
            backend: "aca".into(),
            version: "0.1.0".into(),
            capabilities: Capabilities {
                exec: true,
                attach: true,
                logs: true,
                logs_follow: true,
                volumes: true,
                networks: true,
                health_checks: true,
                image_pull: true,
                image_load: true,
                max_timeout_seconds: 0,
                agent_required: true,
            },
        };
        let got: serde_json::Value = serde_json::to_value(&info).expect("serialize");
        let want = serde_json::json!({
            "backend": "aca", "version": "0.1.0",
            "capabilities": {
                "exec": true, "attach": true, "logs": true, "logs_follow": true,
                "volumes": true, "networks": true, "health_checks": true,
                "image_pull": true, "image_load": true,
                "max_timeout_seconds": 0, "agent_required": true
            }
        });
        assert_eq!(got, want);
        assert_eq!(
            info.unsupported_message(Capability::Exec),
            "This backend (aca) does not support exec"
        );
    }
}
