//! `docker run --rm busybox true`: wall time through the docker CLI on both
//! sides, and on ours the breakdown from the backend's phase events, the
//! engine's events (the replica started) and the emulator's request log.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::json;

use super::daemon::Daemon;
use super::docker::{self, LABEL, encode, label_value};
use super::http::Client;
use super::timeline::{self, ArmCounts, PhaseEvent, RunWindows};

/// Longest wait for a run's job to be gone after `docker run` returned.
const GONE_WITHIN: Duration = Duration::from_secs(60);

/// The milestones of one run, in order, as shown in the breakdown.
pub const STEPS: [&str; 7] = [
    "client start → created",
    "created → job written",
    "job written → execution running",
    "execution running → agent connected",
    "agent connected → exit",
    "exit → removed",
    "removed → docker run returned",
];

/// One run on ours.
#[derive(Debug)]
pub struct OurRun {
    pub wall: Duration,
    /// Seconds between the milestones of [`STEPS`].
    pub steps: Vec<Option<f64>>,
    pub arm: ArmCounts,
}

pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Runs `docker run --rm busybox true` with the CLI on `host`; its wall time.
pub fn cli_run(host: &Path) -> Result<Duration> {
    let t = Instant::now();
    let out = Command::new("docker")
        .env("DOCKER_HOST", format!("unix://{}", host.display()))
        .args(["run", "--rm", "--label"])
        .arg(format!("{LABEL}={}", label_value()))
        .args(["busybox", "true"])
        .stdin(Stdio::null())
        .output()
        .context("running the docker CLI")?;
    let wall = t.elapsed();
    if !out.status.success() {
        bail!(
            "docker run --rm busybox true failed on {}: {}",
            host.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(wall)
}

/// One run on ours, with its breakdown and ARM calls.
pub fn our_run(d: &Daemon, engine: &Path) -> Result<OurRun> {
    let start = now();
    let wall = cli_run(&d.socket)?;
    let returned = now();
    let created = timeline::phase_events(&d.log())
        .into_iter()
        .find(|e| e.phase == "created" && e.time >= start)
        .context("no `created` phase event in the daemon's log (is the release build current?)")?;
    let id = created.container.clone();
    // `docker run --rm` may return before the removal; the "after" window
    // lasts until the job's replica is gone from the engine.
    let deadline = Instant::now() + GONE_WITHIN;
    let events = loop {
        let events = timeline::phase_events(&d.log());
        if timeline::phase_time(&events, &id, "removed").is_some() {
            break events;
        }
        if Instant::now() > deadline {
            bail!(
                "container {id} was not removed within {} s",
                GONE_WITHIN.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let execution = events
        .iter()
        .find(|e: &&PhaseEvent| e.container == id && e.phase == "execution_started")
        .and_then(|e| e.field("execution"))
        .context("no execution_started event")?
        .to_owned();
    let mut engine_client = Client::new(engine);
    wait_replica_gone(&mut engine_client, &execution)?;
    let end = now();
    let running = replica_started(&mut engine_client, &execution, start, end)?;
    let at = |phase: &str| timeline::phase_time(&events, &id, phase);
    let (connected, exited) = (at("agent_connected"), at("exited"));
    let milestones = [
        Some(start),
        Some(created.time),
        at("job_written"),
        running,
        connected,
        exited,
        at("removed"),
        Some(returned),
    ];
    let steps = milestones.windows(2).map(|w| Some(w[1]? - w[0]?)).collect();
    let windows = RunWindows {
        start,
        returned,
        removed: at("removed"),
        end,
        agent: connected.zip(exited),
    };
    let arm = timeline::classify(&timeline::arm_calls(&d.sim_requests()?), &windows);
    Ok(OurRun { wall, steps, arm })
}

const EXECUTION_LABEL: &str = "sockerless-azure-sim.execution";

fn execution_filter(execution: &str) -> String {
    format!("{EXECUTION_LABEL}={execution}")
}

fn wait_replica_gone(engine: &mut Client, execution: &str) -> Result<()> {
    let filter = json!({ "label": [execution_filter(execution)] }).to_string();
    let path = format!("/containers/json?all=1&filters={}", encode(&filter));
    let deadline = Instant::now() + GONE_WITHIN;
    loop {
        if engine
            .get(&path)?
            .json()?
            .as_array()
            .is_none_or(Vec::is_empty)
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "the replica of execution {execution} is still on the engine after {} s",
                GONE_WITHIN.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// When the engine started the execution's first container (the replica's
/// sandbox: the emulator marks the execution Running once it runs).
fn replica_started(
    engine: &mut Client,
    execution: &str,
    since: f64,
    until: f64,
) -> Result<Option<f64>> {
    let filter = json!({
        "type": ["container"],
        "event": ["start"],
        "label": [execution_filter(execution)],
    })
    .to_string();
    let path = format!(
        "/events?since={:.3}&until={:.3}&filters={}",
        since.floor(),
        until.ceil(),
        encode(&filter)
    );
    let r = engine.get(&path)?;
    r.ok()?;
    let first = String::from_utf8_lossy(&r.body)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|e| e["timeNano"].as_i64())
        .min();
    Ok(first.map(|ns| ns as f64 / 1e9))
}

/// Removes what a failed run may have left (its container on ours).
pub fn cleanup(socket: &Path) {
    if let Err(e) = docker::remove_labelled(socket, 2) {
        eprintln!("xtask: bench: cleanup on {}: {e:#}", socket.display());
    }
}
