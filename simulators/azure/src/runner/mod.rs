//! Runs job executions as containers on a local Docker engine: init
//! containers in order, then the template's containers as one replica.
//!
//! Emulator difference: replicas use the host's network namespace (the first
//! container has `network_mode: host`, the others join it), so they can reach
//! services on the host's loopback, as the backend's agent endpoint needs.

mod engine;
pub mod volumes;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::watch;

use crate::arm::store::ExecStatus;
use crate::state::AppState;
use crate::util;

pub use engine::connect;

/// Label on every container the emulator creates.
pub const LABEL_SIM: &str = "sockerless-azure-sim";
/// Label naming the emulator's data dir (one emulator per data dir).
pub const LABEL_OWNER: &str = "sockerless-azure-sim.owner";
/// Label with the execution name.
pub const LABEL_EXECUTION: &str = "sockerless-azure-sim.execution";

/// What an execution needs, captured when it starts.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    /// Store key of the execution.
    pub exec_key: String,
    /// Execution name.
    pub exec_name: String,
    /// Job name.
    pub job_name: String,
    /// Job ARM ID.
    pub job_id: String,
    /// Store key of the environment.
    pub environment_key: String,
    /// Environment name.
    pub environment_name: String,
    /// Log Analytics workspace receiving console logs.
    pub workspace_id: String,
    /// The job's `configuration` (secrets, registries, replicaTimeout).
    pub configuration: Value,
    /// The effective template (job template with the start override applied).
    pub template: Value,
    /// Environment storages at start time.
    pub storages: BTreeMap<String, Value>,
}

/// Launches and stops executions.
pub struct Runner {
    engine: String,
    owner: String,
    stops: Mutex<HashMap<String, watch::Sender<bool>>>,
    /// Image references pulled from the emulator's own registry (their tags
    /// name a port that dies with the emulator, so they are untagged at shutdown).
    own_images: Mutex<std::collections::HashSet<String>>,
    tasks: tokio::sync::Mutex<tokio::task::JoinSet<()>>,
}

impl Runner {
    /// A runner for `engine`, labelling containers with `owner`.
    pub fn new(engine: &str, owner: &str) -> Self {
        Runner {
            engine: engine.to_string(),
            owner: owner.to_string(),
            stops: Mutex::new(HashMap::new()),
            own_images: Mutex::new(std::collections::HashSet::new()),
            tasks: tokio::sync::Mutex::new(tokio::task::JoinSet::new()),
        }
    }

    /// Engine endpoint.
    pub fn engine(&self) -> &str {
        &self.engine
    }

    /// Owner label value.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    fn stops(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<bool>>> {
        self.stops.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts an execution in the background.
    pub fn launch(&self, state: Arc<AppState>, spec: LaunchSpec) {
        let (tx, rx) = watch::channel(false);
        self.stops().insert(spec.exec_key.clone(), tx);
        let task = async move {
            let key = spec.exec_key.clone();
            let (status, reason) = engine::run(&state, &spec, rx).await;
            if let Some(r) = &reason {
                tracing::info!(execution = %spec.exec_name, status = status.as_str(), reason = %r, "execution ended");
            }
            set_status(&state, &key, status);
            state.runner.stops().remove(&key);
        };
        match self.tasks.try_lock() {
            Ok(mut set) => {
                while set.try_join_next().is_some() {}
                set.spawn(task);
            }
            Err(_) => {
                tokio::spawn(task);
            }
        }
    }

    /// Asks a running execution to stop (no-op when it already ended).
    pub fn stop(&self, exec_key: &str) {
        if let Some(tx) = self.stops().get(exec_key) {
            let _ = tx.send(true);
        }
    }

    /// Remembers an image pulled from the emulator's own registry.
    pub fn note_own_image(&self, reference: &str) {
        self.own_images
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(reference.to_string());
    }

    /// Stops every execution, waits for them, and removes leftovers
    /// (containers, and the engine's tags of images from this registry).
    pub async fn shutdown(&self) {
        for tx in self.stops().values() {
            let _ = tx.send(true);
        }
        let mut set = self.tasks.lock().await;
        while set.join_next().await.is_some() {}
        drop(set);
        self.remove_leftovers().await;
        let images: Vec<String> = self
            .own_images
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .collect();
        engine::untag(&self.engine, &images).await;
    }

    /// Removes every container carrying this emulator's owner label.
    pub async fn remove_leftovers(&self) {
        if let Err(e) = engine::remove_owned(&self.engine, &self.owner).await {
            tracing::debug!(error = %e, "no leftover cleanup (engine unavailable)");
        }
    }
}

/// Records a status change (and the end time of terminal states).
pub fn set_status(state: &AppState, exec_key: &str, status: ExecStatus) {
    let mut arm = state.arm();
    if let Some(e) = arm.executions.get_mut(exec_key) {
        if e.status.is_terminal() {
            return;
        }
        e.status = status;
        if status.is_terminal() {
            e.end_time = Some(util::now_rfc3339());
        }
    }
}
