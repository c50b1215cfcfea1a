//! Docker HEALTHCHECK, run inside the container and reported to the peer.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use crate::exec::ProcessContext;
use crate::hub::Hub;
use crate::process::{self, FdIo, SpawnSpec};
use crate::protocol::{Frame, HealthReport};
use crate::timefmt;

/// Docker keeps this much probe output.
const MAX_OUTPUT: usize = 4096;
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: u32 = 3;

/// Docker's `HealthConfig` (durations in nanoseconds; 0 means the default).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct HealthConfig {
    /// `["NONE"]`, `["CMD", args...]` or `["CMD-SHELL", command]`.
    #[serde(default)]
    pub test: Vec<String>,
    /// Time between probes.
    #[serde(default)]
    pub interval: i64,
    /// Time a probe may take.
    #[serde(default)]
    pub timeout: i64,
    /// Consecutive failures that make the container unhealthy.
    #[serde(default)]
    pub retries: i64,
    /// Time during which failures do not count.
    #[serde(default)]
    pub start_period: i64,
    /// Time between probes during the start period.
    #[serde(default)]
    pub start_interval: i64,
}

fn dur(ns: i64, default: Duration) -> Duration {
    if ns > 0 {
        Duration::from_nanos(ns as u64)
    } else {
        default
    }
}

impl HealthConfig {
    /// The probe's argv, or `None` when health checks are disabled.
    pub fn argv(&self) -> Option<Vec<String>> {
        match self.test.split_first() {
            Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => Some(rest.to_vec()),
            Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => {
                Some(vec!["/bin/sh".into(), "-c".into(), rest.join(" ")])
            }
            _ => None,
        }
    }
}

struct Probe {
    exit_code: i32,
    output: String,
}

async fn read_capped(io: Option<FdIo>, out: &mut Vec<u8>) {
    let Some(io) = io else { return };
    let mut buf = [0u8; 4096];
    while let Ok(n) = io.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = MAX_OUTPUT.saturating_sub(out.len());
        out.extend_from_slice(&buf[..n.min(room)]);
    }
}

async fn probe(argv: Vec<String>, ctx: &ProcessContext, timeout: Duration) -> Probe {
    let spec = SpawnSpec {
        argv,
        env: ctx.base_env.clone(),
        workdir: None,
        creds: None,
        tty: None,
        stdin: false,
    };
    let spawned = match process::spawn(spec) {
        Ok(s) => s,
        Err(e) => {
            return Probe {
                exit_code: -1,
                output: format!("health check failed to start: {e}"),
            };
        }
    };
    let pid = spawned.pid;
    let run = async move {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let (code, _, _) = tokio::join!(
            spawned.exit,
            read_capped(Some(spawned.stdout), &mut out),
            read_capped(spawned.stderr, &mut err)
        );
        out.extend_from_slice(&err);
        out.truncate(MAX_OUTPUT);
        (code.unwrap_or(-1), out)
    };
    match tokio::time::timeout(timeout, run).await {
        Ok((code, out)) => Probe {
            exit_code: code,
            output: String::from_utf8_lossy(&out).into_owned(),
        },
        Err(_) => {
            let _ = process::kill(pid, libc::SIGKILL);
            Probe {
                exit_code: -1,
                output: format!("Health check exceeded timeout ({timeout:?})"),
            }
        }
    }
}

/// Runs health checks until the task is dropped, pushing one report per probe.
pub(crate) async fn run(hub: Arc<Hub>, cfg: HealthConfig, ctx: Arc<ProcessContext>) {
    let Some(argv) = cfg.argv() else { return };
    let interval = dur(cfg.interval, DEFAULT_INTERVAL);
    let start_interval = dur(cfg.start_interval, interval);
    let timeout = dur(cfg.timeout, DEFAULT_TIMEOUT);
    let retries = if cfg.retries > 0 {
        cfg.retries as u32
    } else {
        DEFAULT_RETRIES
    };
    let start_period = dur(cfg.start_period, Duration::ZERO);
    let started = Instant::now();
    let mut status = "starting";
    let mut failing_streak = 0u32;
    loop {
        let in_start_period = started.elapsed() < start_period;
        tokio::time::sleep(if in_start_period && status == "starting" {
            start_interval
        } else {
            interval
        })
        .await;
        let start = timefmt::now();
        let result = probe(argv.clone(), &ctx, timeout).await;
        let end = timefmt::now();
        if result.exit_code == 0 {
            failing_streak = 0;
            status = "healthy";
        } else if !(status == "starting" && started.elapsed() < start_period) {
            // Docker: failures inside the start period do not count.
            failing_streak += 1;
            if failing_streak >= retries {
                status = "unhealthy";
            }
        }
        hub.push_control(Frame::Health(HealthReport {
            status: status.to_string(),
            failing_streak,
            exit_code: result.exit_code,
            output: result.output,
            start,
            end,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_health_config() {
        let cfg: HealthConfig = serde_json::from_str(
            r#"{"Test":["CMD-SHELL","curl -f http://localhost/ || exit 1"],"Interval":1000000000,"Retries":2}"#,
        )
        .expect("parse");
        assert_eq!(cfg.argv().expect("argv")[0], "/bin/sh");
        assert_eq!(dur(cfg.interval, DEFAULT_INTERVAL), Duration::from_secs(1));
        let none: HealthConfig = serde_json::from_str(r#"{"Test":["NONE"]}"#).expect("parse");
        assert!(none.argv().is_none());
        let cmd: HealthConfig = serde_json::from_str(r#"{"Test":["CMD","true"]}"#).expect("parse");
        assert_eq!(cmd.argv(), Some(vec!["true".to_string()]));
    }
}
