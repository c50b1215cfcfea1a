//! Shared state of a running emulator.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use crate::acr_tasks::runs::Tasks;
use crate::arm::store::ArmStore;
use crate::auth::TokenIssuer;
use crate::blob::store::BlobStore;
use crate::config::{FaultConfig, SimConfig, Timing};
use crate::faults::{FaultState, RequestRecord};
use crate::loganalytics::LogStore;
use crate::registry::store::RegistryStore;
use crate::runner::Runner;

/// Largest number of requests kept in the request log.
const MAX_REQUESTS: usize = 10_000;
/// Bytes (estimated) the request log may hold: the last few hundred
/// container runs' requests. An emulator embedded in a long-lived daemon
/// must not keep every request body it ever saw.
const MAX_REQUEST_LOG_BYTES: usize = 4 << 20;

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
    /// ACR Tasks runs.
    pub tasks: Tasks,
    /// Key of the blob endpoint's SAS tokens (random per start).
    pub sas_key: Vec<u8>,
    blobs: Mutex<BlobStore>,
    arm: Mutex<ArmStore>,
    registry: Mutex<RegistryStore>,
    faults: Mutex<FaultState>,
    timing: Mutex<Timing>,
    requests: Mutex<RequestLog>,
}

/// The request log, oldest first, within [`MAX_REQUESTS`] and
/// [`MAX_REQUEST_LOG_BYTES`].
#[derive(Default)]
struct RequestLog {
    records: VecDeque<RequestRecord>,
    bytes: usize,
    last_seq: u64,
}

impl AppState {
    /// Builds the state, seeding environments.
    pub fn new(config: SimConfig, addr: SocketAddr, data_dir: PathBuf) -> Self {
        let mut arm = ArmStore::default();
        for seed in &config.environments {
            let env = crate::arm::store::seed_resource(seed);
            let key = env["id"].as_str().unwrap_or_default().to_ascii_lowercase();
            arm.environment_workspaces
                .insert(key.clone(), seed.log_analytics_workspace_id.clone());
            arm.environments.insert(key, env);
        }
        AppState {
            tokens: TokenIssuer::new(&config.tenant_id),
            logs: LogStore::bounded(config.ingestion_delay, config.console_log_max_bytes)
                .with_timing(&config.timing),
            runner: Runner::new(
                &config.engine,
                &data_dir.display().to_string(),
                config.network.as_deref(),
                config.network_subnet.as_deref(),
            ),
            faults: Mutex::new(FaultState::new(config.faults.clone())),
            timing: Mutex::new(config.timing.clone()),
            arm: Mutex::new(arm),
            registry: Mutex::new(RegistryStore::new(data_dir.join("registry"))),
            blobs: Mutex::new(BlobStore::new(data_dir.join("blob"))),
            tasks: Tasks::default(),
            sas_key: crate::util::random_secret().into_bytes(),
            requests: Mutex::new(RequestLog::default()),
            config,
            addr,
            data_dir,
        }
    }

    /// Scheduling and ingestion timing now (`SimConfig::timing` at start,
    /// changed by `PUT /_sim/timing`).
    pub fn timing(&self) -> Timing {
        lock(&self.timing).clone()
    }

    /// Replaces the timing: replicas scheduled and rows ingested from now on follow it.
    pub fn set_timing(&self, timing: Timing) {
        self.logs.set_timing(&timing);
        *lock(&self.timing) = timing;
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

    /// The blob endpoint's index.
    pub fn blobs(&self) -> MutexGuard<'_, BlobStore> {
        lock(&self.blobs)
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
        log.last_seq += 1;
        r.seq = log.last_seq;
        log.bytes += r.cost;
        log.records.push_back(r);
        while log.records.len() > MAX_REQUESTS || log.bytes > MAX_REQUEST_LOG_BYTES {
            let Some(old) = log.records.pop_front() else {
                break;
            };
            log.bytes -= old.cost;
        }
        log.last_seq
    }

    /// Records the response status of a logged request.
    pub fn set_request_status(&self, seq: u64, status: u16) {
        let mut log = lock(&self.requests);
        if let Some(r) = log.records.iter_mut().rev().find(|r| r.seq == seq) {
            r.status = status;
        }
    }

    /// The request log.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.requests).records.iter().cloned().collect()
    }

    /// Empties the request log (sequence numbers restart at 1).
    pub fn clear_requests(&self) {
        *lock(&self.requests) = RequestLog::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(cost: usize) -> RequestRecord {
        RequestRecord {
            seq: 0,
            method: "GET".into(),
            path: "/subscriptions/s".into(),
            api_version: None,
            body: serde_json::Value::Null,
            status: 0,
            time: String::new(),
            cost,
        }
    }

    #[tokio::test]
    async fn the_request_log_keeps_the_newest_within_its_bounds() {
        let dir = std::env::temp_dir().join(format!("sim-state-{}", uuid::Uuid::new_v4()));
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        let state = AppState::new(SimConfig::default(), addr, dir.clone());
        for _ in 0..MAX_REQUESTS + 10 {
            state.log_request(record(1));
        }
        let log = state.requests();
        assert_eq!(log.len(), MAX_REQUESTS);
        assert_eq!(log.first().map(|r| r.seq), Some(11));

        state.clear_requests();
        for _ in 0..100 {
            state.log_request(record(MAX_REQUEST_LOG_BYTES / 10));
        }
        let log = state.requests();
        assert_eq!(log.len(), 10, "a tenth of the bound each");
        assert_eq!(log.last().map(|r| r.seq), Some(100));
        state.set_request_status(100, 201);
        assert_eq!(state.requests().last().map(|r| r.status), Some(201));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
