//! Shared state of a running emulator.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use crate::arm::store::ArmStore;
use crate::auth::TokenIssuer;
use crate::config::{FaultConfig, SimConfig};
use crate::faults::{FaultState, RequestRecord};
use crate::loganalytics::LogStore;
use crate::registry::store::RegistryStore;
use crate::runner::Runner;

/// Largest number of requests kept in the request log.
const MAX_REQUESTS: usize = 100_000;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Everything the handlers share.
pub struct AppState {
    /// Configuration.
    pub config: SimConfig,
    /// Bound address.
    pub addr: SocketAddr,
    /// Data directory (shares, EmptyDir and secret volumes).
    pub data_dir: PathBuf,
    /// Token issuer.
    pub tokens: TokenIssuer,
    /// Console logs.
    pub logs: LogStore,
    /// Execution runner.
    pub runner: Runner,
    arm: Mutex<ArmStore>,
    registry: Mutex<RegistryStore>,
    faults: Mutex<FaultState>,
    requests: Mutex<Vec<RequestRecord>>,
}

impl AppState {
    /// Builds the state, seeding environments.
    pub fn new(config: SimConfig, addr: SocketAddr, data_dir: PathBuf) -> Self {
        let mut arm = ArmStore::default();
        for seed in &config.environments {
            let env = crate::arm::environments::seed_resource(seed);
            let key = env["id"].as_str().unwrap_or_default().to_ascii_lowercase();
            arm.environment_workspaces
                .insert(key.clone(), seed.log_analytics_workspace_id.clone());
            arm.environments.insert(key, env);
        }
        AppState {
            tokens: TokenIssuer::new(&config.tenant_id),
            logs: LogStore::new(config.ingestion_delay),
            runner: Runner::new(
                &config.engine,
                &data_dir.display().to_string(),
                config.network.as_deref(),
                config.network_subnet.as_deref(),
            ),
            faults: Mutex::new(FaultState::new(config.faults.clone())),
            arm: Mutex::new(arm),
            registry: Mutex::new(RegistryStore::default()),
            requests: Mutex::new(Vec::new()),
            config,
            addr,
            data_dir,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Login server of the registry (`127.0.0.1:PORT`).
    pub fn registry_host(&self) -> String {
        self.addr.to_string()
    }

    /// ARM state, with due operations completed.
    pub fn arm(&self) -> MutexGuard<'_, ArmStore> {
        let mut g = lock(&self.arm);
        g.settle();
        g
    }

    /// Registry contents.
    pub fn registry(&self) -> MutexGuard<'_, RegistryStore> {
        lock(&self.registry)
    }

    /// Fault state.
    pub fn faults(&self) -> MutexGuard<'_, FaultState> {
        lock(&self.faults)
    }

    /// Current fault settings.
    pub fn faults_snapshot(&self) -> FaultConfig {
        self.faults().config.clone()
    }

    /// Appends to the request log, returning the sequence number.
    pub fn log_request(&self, mut r: RequestRecord) -> u64 {
        let mut log = lock(&self.requests);
        r.seq = log.last().map(|l| l.seq + 1).unwrap_or(1);
        let seq = r.seq;
        if log.len() >= MAX_REQUESTS {
            log.remove(0);
        }
        log.push(r);
        seq
    }

    /// Records the response status of a logged request.
    pub fn set_request_status(&self, seq: u64, status: u16) {
        let mut log = lock(&self.requests);
        if let Some(r) = log.iter_mut().rev().find(|r| r.seq == seq) {
            r.status = status;
        }
    }

    /// The request log.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.requests).clone()
    }

    /// Empties the request log (sequence numbers restart at 1).
    pub fn clear_requests(&self) {
        lock(&self.requests).clear();
    }
}
