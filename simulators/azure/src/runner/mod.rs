//! Runs job executions as containers on a local Docker engine: init
//! containers in order, then the template's containers as one replica.
//!
//! Each replica gets its own network namespace on the emulator's bridge
//! network (see [`network`]): a sandbox container holds it and every init
//! and main container joins it, with one hosts file per replica bound at
//! `/etc/hosts`. The host's loopback is out of reach, as on Azure; services
//! of the host are reachable at the network's gateway address.
//!
//! An execution runs `replicaCompletionCount` successful replicas,
//! `parallelism` at a time ([`execution`]); each replica waits a scheduling
//! delay ([`schedule`]), stays pending while its volumes or images fail
//! ([`pull`]), and is stopped with SIGTERM and a grace period ([`replica`]).

mod attempt;
mod console;
mod engine;
mod execution;
mod launch;
pub mod network;
mod pull;
mod replica;
pub mod resources;
pub mod schedule;
mod status;
pub mod volumes;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde_json::Value;
use tokio::sync::watch;

pub use engine::{connect, untag};
pub use network::SimNetwork;

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
    network_name: String,
    network_subnet: Option<String>,
    network: Mutex<Option<SimNetwork>>,
    closed: std::sync::atomic::AtomicBool,
    stops: Mutex<HashMap<String, watch::Sender<StopKind>>>,
    /// Image references pulled from the emulator's own registry (their tags
    /// name a port that dies with the emulator, so they are untagged at shutdown).
    own_images: Mutex<std::collections::HashSet<String>>,
    tasks: tokio::sync::Mutex<tokio::task::JoinSet<()>>,
}

impl Runner {
    /// A runner for `engine`, labelling containers and networks with `owner`;
    /// replicas run on the bridge network `network` (default: one named after
    /// the owner), created on `subnet` if given.
    pub fn new(engine: &str, owner: &str, network: Option<&str>, subnet: Option<&str>) -> Self {
        Runner {
            engine: engine.to_string(),
            owner: owner.to_string(),
            network_name: network
                .map(str::to_string)
                .unwrap_or_else(|| network::default_name(owner)),
            network_subnet: subnet.map(str::to_string),
            network: Mutex::new(None),
            closed: std::sync::atomic::AtomicBool::new(false),
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

    /// The replica network, once prepared.
    pub fn network(&self) -> Option<SimNetwork> {
        self.network
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Finds or creates the replica network on the engine and remembers it.
    pub async fn prepare_network(&self) -> Result<SimNetwork, String> {
        if let Some(net) = self.network() {
            return Ok(net);
        }
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            return Err("the emulator is shutting down".into());
        }
        let docker = connect(&self.engine).await?;
        let net = network::ensure(
            &docker,
            &self.network_name,
            self.network_subnet.as_deref(),
            &self.owner,
        )
        .await?;
        *self.network.lock().unwrap_or_else(|p| p.into_inner()) = Some(net.clone());
        Ok(net)
    }

    pub(super) fn stops(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<StopKind>>> {
        self.stops.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks a running execution to stop (no-op when it already ended): its
    /// replicas' processes get SIGTERM, then SIGKILL after the grace period.
    pub fn stop(&self, exec_key: &str) {
        if let Some(tx) = self.stops().get(exec_key) {
            tx.send_if_modified(|k| {
                let was = *k;
                *k = (*k).max(StopKind::Graceful);
                was != *k
            });
        }
    }

    /// Remembers an image pulled from the emulator's own registry.
    pub fn note_own_image(&self, reference: &str) {
        self.own_images
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(reference.to_string());
    }

    /// From now on no network is created (replicas starting late fail).
    pub fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Stops every execution, waits for them, and removes leftovers
    /// (containers, the network, and the engine's tags of images from this
    /// registry).
    pub async fn shutdown(&self) {
        self.close();
        for tx in self.stops().values() {
            // The emulator is going away: no grace period to sit out.
            let _ = tx.send(StopKind::Kill);
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

    /// Removes every container and network carrying this emulator's owner label.
    pub async fn remove_leftovers(&self) {
        self.network
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Err(e) = engine::remove_owned(&self.engine, &self.owner).await {
            tracing::debug!(error = %e, "no leftover cleanup (engine unavailable)");
        }
    }
}

/// Why an execution is asked to end; ordered, so a stop only escalates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StopKind {
    /// Keep running.
    None,
    /// A client's stop: SIGTERM, then SIGKILL after the grace period.
    Graceful,
    /// The emulator shuts down: SIGKILL at once.
    Kill,
}
