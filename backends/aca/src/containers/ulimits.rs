//! `HostConfig.Ulimits` (`--ulimit nofile=1024:2048`): checked at create
//! with the agent's own parser, passed to it as JSON in
//! `SOCKERLESS_ULIMITS`; the agent sets them on every process it starts.

use sockerless_api::docker::ContainerCreateBody;
use sockerless_api::{ApiError, Result};

/// The agent's variable and its JSON value; `None` without ulimits.
pub fn env(body: &ContainerCreateBody) -> Option<(&'static str, String)> {
    let limits = body.host_config.as_ref()?.ulimits.as_ref()?;
    if limits.is_empty() {
        return None;
    }
    let json = serde_json::to_string(limits).ok()?;
    Some((sockerless_agent::limits::ENV, json))
}

/// Refuses unknown names and a soft limit above the hard one, naming them.
pub fn check_create(body: &ContainerCreateBody) -> Result<()> {
    match env(body) {
        Some((_, json)) => sockerless_agent::limits::validate(&json)
            .map_err(|e| ApiError::InvalidParameter(format!("HostConfig.Ulimits: {e}"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockerless_api::docker::{HostConfig, ResourcesUlimits};

    fn body(limits: &[(&str, i64, i64)]) -> ContainerCreateBody {
        ContainerCreateBody {
            host_config: Some(HostConfig {
                ulimits: Some(
                    limits
                        .iter()
                        .map(|(n, s, h)| ResourcesUlimits {
                            name: Some((*n).into()),
                            soft: Some(*s),
                            hard: Some(*h),
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn passed_as_the_api_spells_them() {
        let (key, json) = env(&body(&[("nofile", 1024, 2048)])).expect("env");
        assert_eq!(key, "SOCKERLESS_ULIMITS");
        assert_eq!(json, r#"[{"Name":"nofile","Soft":1024,"Hard":2048}]"#);
        assert!(env(&body(&[])).is_none());
        assert!(env(&ContainerCreateBody::default()).is_none());
        check_create(&body(&[("nofile", 1024, 2048), ("core", -1, -1)])).expect("valid");
    }

    #[test]
    fn bad_entries_are_refused_by_name() {
        for (limits, needle) in [
            (body(&[("files", 1, 1)]), "files"),
            (body(&[("nofile", 10, 5)]), "nofile"),
        ] {
            let err = check_create(&limits).expect_err(needle);
            assert_eq!(err.status().as_u16(), 400);
            assert!(
                err.message().contains("HostConfig.Ulimits") && err.message().contains(needle),
                "{err:?}"
            );
        }
    }
}
