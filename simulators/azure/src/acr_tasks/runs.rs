//! Runs: their statuses and the moves between them, the `Run` resource the
//! API shows, and the bounded store of runs (IDs `ca1`, `ca2`, … as ACR
//! gives quick builds).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, watch};

use crate::util::rfc3339;

/// Most runs kept; the oldest finished run goes past it (with its log).
pub const MAX_RUNS: usize = 500;

/// A run's status (the spec's `RunStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// Waiting for a build slot.
    Queued,
    /// Building or pushing.
    Running,
    /// Built (and pushed).
    Succeeded,
    /// The build failed.
    Failed,
    /// Canceled by a client.
    Canceled,
    /// The emulator could not run it (engine unreachable, storage).
    Error,
    /// Ran past its `timeout`.
    Timeout,
}

impl RunStatus {
    /// The spec's name.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "Queued",
            RunStatus::Running => "Running",
            RunStatus::Succeeded => "Succeeded",
            RunStatus::Failed => "Failed",
            RunStatus::Canceled => "Canceled",
            RunStatus::Error => "Error",
            RunStatus::Timeout => "Timeout",
        }
    }

    /// Whether the run is over.
    pub fn is_final(self) -> bool {
        !matches!(self, RunStatus::Queued | RunStatus::Running)
    }

    /// Whether a run may move from `self` to `to`: forward only, and never
    /// out of a final status (a cancel is not overwritten by the build's
    /// own end arriving later).
    pub fn may_become(self, to: RunStatus) -> bool {
        match self {
            RunStatus::Queued => to != RunStatus::Queued,
            RunStatus::Running => to.is_final(),
            _ => false,
        }
    }

    /// The log blob's `Complete` metadata of a final status.
    pub fn complete_metadata(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "successful",
            RunStatus::Canceled => "canceled",
            RunStatus::Timeout => "timedout",
            RunStatus::Error => "error",
            _ => "failed",
        }
    }
}

/// A pushed image (the spec's `ImageDescriptor`).
#[derive(Debug, Clone, PartialEq)]
pub struct OutputImage {
    /// Login server.
    pub registry: String,
    /// Repository.
    pub repository: String,
    /// Tag.
    pub tag: String,
    /// Manifest digest.
    pub digest: String,
}

/// One run.
#[derive(Debug, Clone)]
pub struct Run {
    /// ARM ID of the registry it ran in (as the client named it).
    pub registry_id: String,
    /// `ca<n>`.
    pub run_id: String,
    seq: u64,
    /// Status.
    pub status: RunStatus,
    /// Scheduled.
    pub create_time: DateTime<Utc>,
    /// Started building.
    pub start_time: Option<DateTime<Utc>>,
    /// Ended.
    pub finish_time: Option<DateTime<Utc>>,
    /// Last change.
    pub last_updated: DateTime<Utc>,
    /// The request's `platform`.
    pub platform: Value,
    /// `isArchiveEnabled`.
    pub archive: bool,
    /// Pushed images.
    pub output_images: Vec<OutputImage>,
    /// Why it did not succeed.
    pub error: Option<String>,
    /// Storage key of its log blob.
    pub log_key: String,
}

impl Run {
    /// The `Run` resource.
    pub fn to_json(&self) -> Value {
        let mut p = json!({
            "runId": self.run_id,
            "status": self.status.as_str(),
            "lastUpdatedTime": rfc3339(self.last_updated),
            "runType": "QuickBuild",
            "createTime": rfc3339(self.create_time),
            "platform": self.platform,
            "agentConfiguration": {"cpu": 2},
            "provisioningState": "Succeeded",
            "isArchiveEnabled": self.archive,
        });
        if let Some(t) = self.start_time {
            p["startTime"] = json!(rfc3339(t));
        }
        if let Some(t) = self.finish_time {
            p["finishTime"] = json!(rfc3339(t));
        }
        if !self.output_images.is_empty() {
            p["outputImages"] = self
                .output_images
                .iter()
                .map(|i| json!({"registry": i.registry, "repository": i.repository, "tag": i.tag, "digest": i.digest}))
                .collect();
        }
        if let Some(e) = &self.error {
            p["runErrorMessage"] = json!(e);
        }
        json!({
            "id": format!("{}/runs/{}", self.registry_id, self.run_id),
            "name": self.run_id,
            "type": "Microsoft.ContainerRegistry/registries/runs",
            "properties": p,
        })
    }
}

/// Every run, newest last.
#[derive(Debug, Default)]
pub struct RunStore {
    runs: BTreeMap<u64, Run>,
    next: u64,
}

impl RunStore {
    /// A new queued run; `Err` when [`MAX_RUNS`] runs are all unfinished.
    /// Also returns the log keys of runs dropped to make room.
    pub fn create(
        &mut self,
        registry_id: &str,
        platform: Value,
        archive: bool,
        log_key: impl Fn(&str) -> String,
    ) -> Result<(Run, Vec<String>), String> {
        let mut dropped = Vec::new();
        while self.runs.len() >= MAX_RUNS {
            let Some(seq) = self
                .runs
                .iter()
                .find(|(_, r)| r.status.is_final())
                .map(|(s, _)| *s)
            else {
                return Err(format!(
                    "{MAX_RUNS} runs are queued or running; try again when one ends"
                ));
            };
            if let Some(r) = self.runs.remove(&seq) {
                dropped.push(r.log_key);
            }
        }
        self.next += 1;
        let run_id = format!("ca{}", self.next);
        let now = Utc::now();
        let run = Run {
            registry_id: registry_id.to_string(),
            log_key: log_key(&run_id),
            run_id,
            seq: self.next,
            status: RunStatus::Queued,
            create_time: now,
            start_time: None,
            finish_time: None,
            last_updated: now,
            platform,
            archive,
            output_images: Vec::new(),
            error: None,
        };
        self.runs.insert(run.seq, run.clone());
        Ok((run, dropped))
    }

    /// A run by ID (case-insensitive, as ARM names are).
    pub fn get(&self, run_id: &str) -> Option<&Run> {
        self.runs
            .values()
            .find(|r| r.run_id.eq_ignore_ascii_case(run_id))
    }

    /// Runs, newest first, at most `top`.
    pub fn list(&self, top: usize) -> Vec<Run> {
        self.runs.values().rev().take(top).cloned().collect()
    }

    /// Moves a run to `to` if [`RunStatus::may_become`] allows it, with its
    /// times, error and images; returns whether it moved.
    pub fn set_status(
        &mut self,
        run_id: &str,
        to: RunStatus,
        error: Option<String>,
        images: Vec<OutputImage>,
    ) -> bool {
        let Some(run) = self.runs.values_mut().find(|r| r.run_id == run_id) else {
            return false;
        };
        if !run.status.may_become(to) {
            return false;
        }
        let now = Utc::now();
        run.status = to;
        run.last_updated = now;
        if to == RunStatus::Running || (to.is_final() && run.start_time.is_none()) {
            run.start_time = Some(now);
        }
        if to.is_final() {
            run.finish_time = Some(now);
            run.error = error;
            run.output_images = images;
        }
        true
    }
}

/// Runs building at once; the others stay `Queued` (an ACR registry's
/// concurrent runs are limited too).
pub const MAX_BUILDING: usize = 2;

/// The runs of the emulator's registry, shared by the API and the runs'
/// tasks.
pub struct Tasks {
    runs: Mutex<RunStore>,
    cancels: Mutex<HashMap<String, watch::Sender<bool>>>,
    /// Build slots.
    pub permits: Arc<Semaphore>,
}

impl Default for Tasks {
    fn default() -> Self {
        Tasks {
            runs: Mutex::default(),
            cancels: Mutex::default(),
            permits: Arc::new(Semaphore::new(MAX_BUILDING)),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Tasks {
    /// A new queued run and the receiver its task watches for a cancel;
    /// also the log keys of runs dropped to make room.
    pub fn create(
        &self,
        registry_id: &str,
        platform: Value,
        archive: bool,
        log_key: impl Fn(&str) -> String,
    ) -> Result<(Run, watch::Receiver<bool>, Vec<String>), String> {
        let (run, dropped) = lock(&self.runs).create(registry_id, platform, archive, log_key)?;
        let (tx, rx) = watch::channel(false);
        let mut cancels = lock(&self.cancels);
        cancels.retain(|_, tx| !tx.is_closed());
        cancels.insert(run.run_id.clone(), tx);
        Ok((run, rx, dropped))
    }

    /// A run.
    pub fn get(&self, run_id: &str) -> Option<Run> {
        lock(&self.runs).get(run_id).cloned()
    }

    /// A run's status.
    pub fn status(&self, run_id: &str) -> Option<RunStatus> {
        lock(&self.runs).get(run_id).map(|r| r.status)
    }

    /// Runs, newest first.
    pub fn list(&self, top: usize) -> Vec<Run> {
        lock(&self.runs).list(top)
    }

    /// See [`RunStore::set_status`].
    pub fn set_status(
        &self,
        run_id: &str,
        to: RunStatus,
        error: Option<String>,
        images: Vec<OutputImage>,
    ) -> bool {
        lock(&self.runs).set_status(run_id, to, error, images)
    }

    /// Cancels a run that has not ended (its task stops the build); a run
    /// that has ended stays as it is, as ACR's cancel of a finished run does.
    pub fn cancel(&self, run_id: &str) {
        let Some(run) = self.get(run_id) else { return };
        if self.set_status(&run.run_id, RunStatus::Canceled, None, vec![])
            && let Some(tx) = lock(&self.cancels).get(&run.run_id)
        {
            let _ = tx.send(true);
        }
    }

    /// Cancels every run (the emulator stops).
    pub fn cancel_all(&self) {
        for tx in lock(&self.cancels).values() {
            let _ = tx.send(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(n: usize) -> RunStore {
        let mut s = RunStore::default();
        for _ in 0..n {
            s.create("/subscriptions/s/resourceGroups/r/providers/Microsoft.ContainerRegistry/registries/x", json!({"os": "Linux"}), false, |id| format!("logs/{id}"))
                .expect("created");
        }
        s
    }

    #[test]
    fn statuses_move_forward_only() {
        use RunStatus::*;
        assert!(Queued.may_become(Running) && Queued.may_become(Canceled));
        assert!(Running.may_become(Succeeded) && Running.may_become(Timeout));
        assert!(!Running.may_become(Queued) && !Running.may_become(Running));
        for f in [Succeeded, Failed, Canceled, Error, Timeout] {
            assert!(f.is_final());
            assert!(!f.may_become(Succeeded) && !f.may_become(Running));
        }
        assert_eq!(Timeout.complete_metadata(), "timedout");
    }

    #[test]
    fn a_cancel_is_not_overwritten_by_the_build_ending() {
        let mut s = store_with(1);
        assert!(s.set_status("ca1", RunStatus::Running, None, vec![]));
        assert!(s.get("CA1").and_then(|r| r.start_time).is_some());
        assert!(s.set_status("ca1", RunStatus::Canceled, None, vec![]));
        assert!(!s.set_status("ca1", RunStatus::Failed, Some("x".into()), vec![]));
        let run = s.get("ca1").expect("run").to_json();
        assert_eq!(run["properties"]["status"], "Canceled");
        assert_eq!(run["name"], "ca1");
        assert!(
            run["id"]
                .as_str()
                .is_some_and(|i| i.ends_with("/registries/x/runs/ca1"))
        );
        assert!(run["properties"]["finishTime"].is_string());
    }

    #[test]
    fn the_store_keeps_the_newest_and_never_drops_a_live_run() {
        let mut s = store_with(MAX_RUNS);
        assert!(
            s.create("r", json!({}), false, |id| id.to_string())
                .is_err(),
            "all live"
        );
        s.set_status("ca3", RunStatus::Failed, Some("e".into()), vec![]);
        let (run, dropped) = s
            .create("r", json!({}), false, |id| format!("logs/{id}"))
            .expect("room");
        assert_eq!(dropped, vec!["logs/ca3".to_string()]);
        assert_eq!(run.run_id, format!("ca{}", MAX_RUNS + 1));
        assert_eq!(
            s.list(2).first().map(|r| r.run_id.clone()),
            Some(run.run_id)
        );
    }
}
