//! `HostConfig.RestartPolicy` (`--restart`, Compose's `restart:`): after an
//! exit the backend starts the container again, as dockerd does — in its
//! lingering execution when there is one, otherwise in a new one that gets
//! the recorded changes. `docker stop`/`kill`/`rm` stop the restarts.
//!
//! Delays double from 100 ms up to 1 minute with each restart and go back
//! to 100 ms after a run of 10 s (dockerd's backoff). `RestartCount` counts
//! the policy's starts since the user's last one. When the daemon starts,
//! the containers dockerd would start are started
//! (`runtime::policy_starts`). This module is the policy (pure):
//! [`restarts_after_exit`], [`next_delay`], [`starts_with_the_daemon`],
//! each run's [`Backoff`]; `runtime::policy_starts` waits and starts.

use std::time::Duration;

use crate::store::ContainerRecord;

const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(60);
/// A run this long resets the backoff.
const RESET_AFTER: Duration = Duration::from_secs(10);

/// The policy's name and retry bound, from a stored record.
fn policy(record: &ContainerRecord) -> (String, i64) {
    let body = record.config.get("body").unwrap_or(&record.config);
    let p = body.pointer("/HostConfig/RestartPolicy");
    let name = p
        .and_then(|p| p.get("Name"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
        .to_owned();
    let max = p
        .and_then(|p| p.get("MaximumRetryCount"))
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(0);
    (name, max)
}

/// Refuses what dockerd refuses at create: an unknown name, a retry count
/// without `on-failure`, a policy on an AutoRemove container.
pub fn check_create(
    body: &sockerless_api::docker::ContainerCreateBody,
) -> sockerless_api::Result<()> {
    use sockerless_api::ApiError;
    let Some(host) = body.host_config.as_ref() else {
        return Ok(());
    };
    let Some(policy) = host.restart_policy.as_ref() else {
        return Ok(());
    };
    let name = policy.name.map(|n| n.to_string()).unwrap_or_default();
    let max = policy.maximum_retry_count.unwrap_or(0);
    let restarts = !matches!(name.as_str(), "" | "no");
    if max < 0 {
        return Err(ApiError::InvalidParameter(
            "invalid restart policy: maximum retry count cannot be negative".into(),
        ));
    }
    if max > 0 && name != "on-failure" {
        return Err(ApiError::InvalidParameter(format!(
            "invalid restart policy: maximum retry count can only be used with 'on-failure', not {name:?}"
        )));
    }
    if restarts && host.auto_remove.unwrap_or(false) {
        return Err(ApiError::InvalidParameter(
            "can't create 'AutoRemove' container with restart policy".into(),
        ));
    }
    Ok(())
}

/// Whether the policy starts the container again after an exit with `code`:
/// `restarts` done by the policy so far; `stopped` by the user.
pub fn restarts_after_exit(name: &str, max: i64, restarts: i64, code: i64, stopped: bool) -> bool {
    if stopped {
        return false;
    }
    match name {
        "always" | "unless-stopped" => true,
        "on-failure" => code != 0 && (max <= 0 || restarts < max),
        _ => false,
    }
}

/// dockerd's backoff: the first delay 100 ms, doubling after each restart up
/// to a minute, back to 100 ms after a run of 10 s or more.
pub fn next_delay(previous: Option<Duration>, ran: Duration) -> Duration {
    match previous {
        Some(previous) if ran < RESET_AFTER => previous.saturating_mul(2).min(MAX_DELAY),
        _ => FIRST_DELAY,
    }
}

/// Whether a container that existed when the daemon started is started
/// again, as dockerd's restore decides: `always` even after a user's stop,
/// `unless-stopped` unless stopped, `on-failure` after a failure within
/// its retries; only a container that was started before.
pub fn starts_with_the_daemon(
    name: &str,
    max: i64,
    restarts: i64,
    code: Option<i64>,
    manually_stopped: bool,
) -> bool {
    match name {
        "always" => true,
        "unless-stopped" => !manually_stopped,
        "on-failure" => {
            !manually_stopped && code.is_some_and(|c| c != 0) && (max <= 0 || restarts < max)
        }
        _ => false,
    }
}

/// The restart count after a start: one more when the policy started it,
/// back to 0 when the user did (dockerd resets it on `docker start`).
pub fn count_after_start(count: i64, by_policy: bool) -> i64 {
    if by_policy {
        count.saturating_add(1)
    } else {
        0
    }
}

/// What a container's restart policy remembers between its runs.
#[derive(Debug, Default)]
pub struct Backoff {
    /// The start under way is the policy's.
    by_policy: bool,
    /// The last delay waited (none since the user's last start).
    delay: Option<Duration>,
}

impl Backoff {
    /// Whether the start about to run is the policy's (not consumed).
    pub fn start_pending(&self) -> bool {
        self.by_policy
    }

    /// Called by each start: whether the policy made it (for
    /// [`count_after_start`]). A user's start forgets the backoff.
    pub fn take_start(&mut self) -> bool {
        let by_policy = std::mem::take(&mut self.by_policy);
        if !by_policy {
            self.delay = None;
        }
        by_policy
    }

    /// The next start is the policy's (`true`), or it was not needed or
    /// failed (`false`).
    pub fn set_by_policy(&mut self, by_policy: bool) {
        self.by_policy = by_policy;
    }

    /// The delay before the policy's next start after a run of `ran`, kept
    /// as the last one.
    pub fn next(&mut self, ran: Duration) -> Duration {
        let delay = next_delay(self.delay, ran);
        self.delay = Some(delay);
        delay
    }
}

/// After an exit with `code` of `record`'s container (`stopped`: by the
/// user): the delay before its policy starts it again, if it does, and the
/// policy's name. The backoff in `backoff` moves on.
pub fn after_exit(
    backoff: &std::sync::Mutex<Backoff>,
    record: &ContainerRecord,
    code: i64,
    stopped: bool,
) -> Option<(Duration, String)> {
    let (name, max) = policy(record);
    let restarts = crate::runtime::StoredConfig::of(record)
        .map(|s| s.restart_count)
        .unwrap_or(0);
    if !restarts_after_exit(&name, max, restarts, code, stopped) {
        return None;
    }
    let ran = match (record.started_at, record.finished_at) {
        (Some(start), Some(end)) => Duration::from_nanos(u64::try_from(end - start).unwrap_or(0)),
        _ => Duration::ZERO,
    };
    let delay = lock(backoff).next(ran);
    Some((delay, name))
}

/// Whether the policy starts `record`'s container with the daemon, with
/// the policy's name ([`starts_with_the_daemon`] on its stored state).
pub fn starts_with_the_daemon_of(record: &ContainerRecord) -> Option<String> {
    if record.state == "running" || record.started_at.is_none() {
        return None;
    }
    let (name, max) = policy(record);
    let stored = crate::runtime::StoredConfig::of(record).ok()?;
    starts_with_the_daemon(
        &name,
        max,
        stored.restart_count,
        record.exit_code,
        stored.manually_stopped,
    )
    .then_some(name)
}

/// Whether `record`'s container is removed at its exit (`HostConfig.AutoRemove`).
pub fn auto_remove_of(record: &ContainerRecord) -> bool {
    crate::runtime::StoredConfig::of(record).is_ok_and(|c| c.auto_remove())
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_policies() {
        assert!(!restarts_after_exit("", 0, 0, 1, false));
        assert!(!restarts_after_exit("no", 0, 0, 1, false));
        assert!(restarts_after_exit("always", 0, 0, 0, false));
        assert!(restarts_after_exit("unless-stopped", 0, 3, 0, false));
        assert!(
            !restarts_after_exit("always", 0, 0, 0, true),
            "stopped by the user"
        );
        assert!(!restarts_after_exit("on-failure", 0, 0, 0, false), "exit 0");
        assert!(restarts_after_exit("on-failure", 0, 5, 2, false));
        assert!(restarts_after_exit("on-failure", 2, 1, 2, false));
        assert!(
            !restarts_after_exit("on-failure", 2, 2, 2, false),
            "retries used up"
        );
    }

    #[test]
    fn backoff_doubles_to_a_minute_and_resets_after_ten_seconds_up() {
        let short = Duration::from_secs(1);
        let mut delay = None;
        let mut seen = Vec::new();
        for _ in 0..12 {
            let d = next_delay(delay, short);
            seen.push(d.as_millis());
            delay = Some(d);
        }
        assert_eq!(&seen[..5], &[100, 200, 400, 800, 1600]);
        assert_eq!(seen[11], 60_000);
        assert_eq!(next_delay(delay, Duration::from_secs(10)), FIRST_DELAY);
        assert_eq!(next_delay(None, short), FIRST_DELAY);
    }

    #[test]
    fn the_count_is_the_policys_starts_since_the_users_last() {
        assert_eq!(count_after_start(2, true), 3);
        assert_eq!(count_after_start(2, false), 0);
    }

    #[test]
    fn daemon_start_restarts_what_dockerd_restores() {
        assert!(starts_with_the_daemon("always", 0, 0, Some(0), true));
        assert!(starts_with_the_daemon(
            "unless-stopped",
            0,
            0,
            Some(0),
            false
        ));
        assert!(!starts_with_the_daemon(
            "unless-stopped",
            0,
            0,
            Some(137),
            true
        ));
        assert!(starts_with_the_daemon("on-failure", 3, 2, Some(1), false));
        assert!(!starts_with_the_daemon("on-failure", 3, 3, Some(1), false));
        assert!(!starts_with_the_daemon("on-failure", 0, 0, Some(0), false));
        assert!(!starts_with_the_daemon("no", 0, 0, Some(1), false));
        assert!(!starts_with_the_daemon("", 0, 0, Some(1), false));
    }

    #[test]
    fn create_refuses_what_dockerd_refuses() {
        use sockerless_api::docker::{ContainerCreateBody, HostConfig, RestartPolicy};
        let body = |policy: serde_json::Value, auto_remove: bool| -> ContainerCreateBody {
            let policy: RestartPolicy = serde_json::from_value(policy).expect("policy");
            ContainerCreateBody {
                host_config: Some(HostConfig {
                    restart_policy: Some(policy),
                    auto_remove: Some(auto_remove),
                    ..Default::default()
                }),
                ..Default::default()
            }
        };
        use serde_json::json;
        for ok in [
            json!({"Name": "no"}),
            json!({"Name": ""}),
            json!({"Name": "always"}),
            json!({"Name": "unless-stopped"}),
            json!({"Name": "on-failure", "MaximumRetryCount": 3}),
        ] {
            check_create(&body(ok.clone(), false)).unwrap_or_else(|e| panic!("{ok}: {e:?}"));
        }
        check_create(&body(json!({"Name": "no"}), true)).expect("--rm without a policy");
        for (bad, needle) in [
            (
                body(json!({"Name": "always", "MaximumRetryCount": 2}), false),
                "on-failure",
            ),
            (
                body(
                    json!({"Name": "on-failure", "MaximumRetryCount": -1}),
                    false,
                ),
                "negative",
            ),
            (body(json!({"Name": "always"}), true), "AutoRemove"),
        ] {
            let err = check_create(&bad).expect_err(needle);
            assert!(err.message().contains(needle), "{err:?}");
        }
    }
}
