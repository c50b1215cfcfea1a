//! Container health as the agent reports it (it runs the HEALTHCHECK probes
//! with Docker's semantics and sends one report per probe): the state kept
//! in memory per container, and Docker's views of it (`State.Health`, the
//! `ps` status suffix, the `health` filter).

use std::collections::VecDeque;

use sockerless_agent::peer::HealthReport;
use sockerless_api::docker::{ContainerCreateBody, Health, HealthStatusEnum, HealthcheckResult};

/// Probe results kept, as in Docker.
pub const LOG_LEN: usize = 5;

/// Docker's health status of a container with a health check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HealthStatus {
    /// No probe has succeeded yet, and not enough have failed.
    #[default]
    Starting,
    /// The last probe succeeded.
    Healthy,
    /// `Retries` consecutive probes failed.
    Unhealthy,
}

impl HealthStatus {
    /// Parses the status of a report.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "starting" => Some(Self::Starting),
            "healthy" => Some(Self::Healthy),
            "unhealthy" => Some(Self::Unhealthy),
            _ => None,
        }
    }

    /// Docker's name of the status.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Healthy => "healthy",
            Self::Unhealthy => "unhealthy",
        }
    }

    /// What `docker ps` appends to `Up …` (`Up 3 seconds (healthy)`).
    pub fn ps_suffix(self) -> &'static str {
        match self {
            Self::Starting => " (health: starting)",
            Self::Healthy => " (healthy)",
            Self::Unhealthy => " (unhealthy)",
        }
    }

    fn docker(self) -> HealthStatusEnum {
        match self {
            Self::Starting => HealthStatusEnum::STARTING,
            Self::Healthy => HealthStatusEnum::HEALTHY,
            Self::Unhealthy => HealthStatusEnum::UNHEALTHY,
        }
    }
}

/// The health of one run of a container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthState {
    /// Current status.
    pub status: HealthStatus,
    /// Consecutive failed probes.
    pub failing_streak: u32,
    /// The last [`LOG_LEN`] probe results, oldest first.
    pub log: VecDeque<HealthReport>,
}

impl HealthState {
    /// The state as stored (`{"status", "failingStreak", "log": [reports]}`).
    pub fn to_stored(&self) -> String {
        serde_json::json!({
            "status": self.status.as_str(),
            "failingStreak": self.failing_streak,
            "log": self.log,
        })
        .to_string()
    }

    /// A stored state; `None` when it does not parse (it is then not shown).
    pub fn from_stored(stored: &str) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_str(stored).ok()?;
        let log: VecDeque<HealthReport> = serde_json::from_value(value.get("log")?.clone()).ok()?;
        Some(Self {
            status: HealthStatus::parse(value.get("status")?.as_str()?)?,
            failing_streak: u32::try_from(value.get("failingStreak")?.as_u64()?).ok()?,
            log: log.into_iter().rev().take(LOG_LEN).rev().collect(),
        })
    }

    /// Applies one report; a report with an unknown status is refused whole.
    pub fn apply(&mut self, report: HealthReport) -> Result<(), String> {
        let status = HealthStatus::parse(&report.status)
            .ok_or_else(|| format!("unknown health status {:?}", report.status))?;
        self.status = status;
        self.failing_streak = report.failing_streak;
        if self.log.len() == LOG_LEN {
            self.log.pop_front();
        }
        self.log.push_back(report);
        Ok(())
    }

    /// Docker's `State.Health`.
    pub fn view(&self) -> Health {
        Health {
            status: Some(self.status.docker()),
            failing_streak: Some(i64::from(self.failing_streak)),
            log: Some(
                self.log
                    .iter()
                    .map(|r| HealthcheckResult {
                        start: Some(r.start.clone()),
                        end: Some(r.end.clone()),
                        exit_code: Some(i64::from(r.exit_code)),
                        output: Some(r.output.clone()),
                    })
                    .collect(),
            ),
        }
    }
}

/// Whether the container has a health check (its own or the image's,
/// already merged; `["NONE"]` disables it).
pub fn has_healthcheck(body: &ContainerCreateBody) -> bool {
    body.healthcheck
        .as_ref()
        .and_then(|h| h.test.as_ref())
        .and_then(|t| t.first())
        .is_some_and(|first| first != "NONE")
}

/// The health shown for a container: none without a health check or before
/// its first start; `starting` until the agent's first report of this run.
pub fn current(
    body: &ContainerCreateBody,
    ever_started: bool,
    reported: Option<HealthState>,
) -> Option<HealthState> {
    if !has_healthcheck(body) {
        return None;
    }
    reported.or_else(|| ever_started.then(HealthState::default))
}

/// The value the `health` filter of `docker ps` compares with.
pub fn filter_value(health: Option<&HealthState>) -> &'static str {
    health.map_or("none", |h| h.status.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockerless_api::docker::HealthConfig;

    fn report(status: &str, streak: u32, code: i32) -> HealthReport {
        HealthReport {
            status: status.into(),
            failing_streak: streak,
            exit_code: code,
            output: format!("probe {streak}"),
            start: "2026-01-01T00:00:00Z".into(),
            end: "2026-01-01T00:00:01Z".into(),
        }
    }

    /// What the store keeps gives back the same state; what it cannot
    /// read is not shown.
    #[test]
    fn the_stored_state_round_trips() {
        let mut state = HealthState::default();
        for (i, status) in ["starting", "healthy", "unhealthy"].iter().enumerate() {
            state
                .apply(report(status, u32::try_from(i).expect("small"), 1))
                .expect("apply");
        }
        let back = HealthState::from_stored(&state.to_stored()).expect("parses");
        assert_eq!(back, state);
        assert_eq!(HealthState::from_stored("{}"), None);
        assert_eq!(HealthState::from_stored("not json"), None);
        assert_eq!(
            HealthState::from_stored(r#"{"status":"weird","failingStreak":0,"log":[]}"#),
            None
        );
    }

    #[test]
    fn reports_drive_status_streak_and_a_bounded_log() {
        let mut h = HealthState::default();
        assert_eq!(h.status, HealthStatus::Starting);
        h.apply(report("starting", 1, 1)).expect("apply");
        h.apply(report("unhealthy", 2, 1)).expect("apply");
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Unhealthy, 2));
        for _ in 0..6 {
            h.apply(report("healthy", 0, 0)).expect("apply");
        }
        assert_eq!(h.log.len(), LOG_LEN);
        assert!(h.log.iter().all(|r| r.exit_code == 0));
        let view = h.view();
        assert_eq!(view.status, Some(HealthStatusEnum::HEALTHY));
        assert_eq!(view.failing_streak, Some(0));
        let log = view.log.expect("log");
        assert_eq!(log.len(), LOG_LEN);
        assert_eq!(log[0].output.as_deref(), Some("probe 0"));
        assert_eq!(log[0].exit_code, Some(0));
    }

    #[test]
    fn unknown_status_is_refused_and_changes_nothing() {
        let mut h = HealthState::default();
        h.apply(report("healthy", 0, 0)).expect("apply");
        let before = h.clone();
        assert!(h.apply(report("sleepy", 9, 1)).is_err());
        assert_eq!(h, before);
    }

    #[test]
    fn current_health_and_filter_values() {
        let with = |test: &[&str]| ContainerCreateBody {
            healthcheck: Some(HealthConfig {
                test: Some(test.iter().map(|s| s.to_string()).collect()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let shell = with(&["CMD-SHELL", "true"]);
        assert!(current(&ContainerCreateBody::default(), true, None).is_none());
        assert!(current(&with(&["NONE"]), true, None).is_none());
        assert!(current(&with(&[]), true, None).is_none());
        assert!(current(&shell, false, None).is_none());
        let starting = current(&shell, true, None);
        assert_eq!(filter_value(starting.as_ref()), "starting");
        let mut unhealthy = HealthState::default();
        unhealthy.apply(report("unhealthy", 3, 1)).expect("apply");
        let shown = current(&shell, true, Some(unhealthy));
        assert_eq!(filter_value(shown.as_ref()), "unhealthy");
        assert_eq!(filter_value(None), "none");
        assert_eq!(HealthStatus::Healthy.ps_suffix(), " (healthy)");
        assert_eq!(HealthStatus::Starting.ps_suffix(), " (health: starting)");
    }
}
