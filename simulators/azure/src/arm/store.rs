//! In-memory ARM state and the clock of long-running operations.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::config::{EnvironmentSeed, FaultConfig};
use crate::util;

/// A job and the operation that is changing it.
#[derive(Debug, Clone)]
pub struct JobRecord {
    /// The resource as GET returns it (secret values included; they are
    /// stripped when rendered).
    pub resource: Value,
    /// Key of the environment the job lives in.
    pub environment_key: String,
    /// Operation that is changing the job (create, update or delete): while
    /// it runs the job is locked ([`super::lock`]).
    pub pending_op: Option<String>,
}

/// Status of an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecStatus {
    /// Being scheduled / pulling images.
    Processing,
    /// Containers are running.
    Running,
    /// All containers exited 0.
    Succeeded,
    /// A container exited non-zero, timed out, or could not start.
    Failed,
    /// Stopped by a client.
    Stopped,
}

impl ExecStatus {
    /// Name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecStatus::Processing => "Processing",
            ExecStatus::Running => "Running",
            ExecStatus::Succeeded => "Succeeded",
            ExecStatus::Failed => "Failed",
            ExecStatus::Stopped => "Stopped",
        }
    }
    /// Whether the execution has ended.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ExecStatus::Succeeded | ExecStatus::Failed | ExecStatus::Stopped
        )
    }
}

/// One job execution.
#[derive(Debug, Clone)]
pub struct ExecutionRecord {
    /// ARM ID.
    pub id: String,
    /// Execution name.
    pub name: String,
    /// Key of the job.
    pub job_key: String,
    /// Status.
    pub status: ExecStatus,
    /// Start time (RFC 3339).
    pub start_time: String,
    /// End time once terminal.
    pub end_time: Option<String>,
    /// The template the execution runs (`JobExecutionTemplate`).
    pub template: Value,
    /// Creation order, for listing.
    pub seq: u64,
    /// `detailedStatus` (`{"replicas": [...]}`, the shape of the
    /// 2025-02-02-preview `ExecutionStatus`): per replica and container, the
    /// status, exit code and why, which is where a client reads why an
    /// execution failed. `None` until a replica is scheduled.
    pub detailed_status: Option<Value>,
}

impl ExecutionRecord {
    /// The `JobExecution` resource.
    pub fn render(&self) -> Value {
        let mut props = json!({
            "status": self.status.as_str(),
            "startTime": self.start_time,
            "template": self.template,
        });
        if let Some(end) = &self.end_time {
            props["endTime"] = json!(end);
        }
        if let Some(detail) = &self.detailed_status {
            props["detailedStatus"] = detail.clone();
        }
        json!({
            "id": self.id,
            "name": self.name,
            "type": "Microsoft.App/jobs/executions",
            "properties": props,
        })
    }
}

/// What completing an operation does.
#[derive(Debug, Clone)]
pub enum OpEffect {
    /// The job's provisioningState becomes Succeeded.
    JobProvisioned(String),
    /// The job (and its executions) disappear.
    JobDeleted(String),
    /// Nothing beyond the operation's own status.
    Nothing,
}

/// Status of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpStatus {
    /// Not done.
    InProgress,
    /// Done.
    Succeeded,
    /// Ended in error (injected: `lroFailRate`).
    Failed,
    /// Ended without taking effect (injected: `lroCancelRate`).
    Canceled,
}

impl OpStatus {
    /// Name used in the API (and as the resource's `provisioningState`).
    pub fn as_str(self) -> &'static str {
        match self {
            OpStatus::InProgress => "InProgress",
            OpStatus::Succeeded => "Succeeded",
            OpStatus::Failed => "Failed",
            OpStatus::Canceled => "Canceled",
        }
    }
}

/// Running sums that make injected LRO outcomes deterministic, as
/// `faults.rs` does for request faults.
#[derive(Debug, Default)]
struct LroDraws {
    fail: f64,
    cancel: f64,
}

/// A uniform draw from `0..=max` (0 when `max` is 0).
pub fn jitter(max: u64) -> u64 {
    if max == 0 {
        return 0;
    }
    // A v4 UUID is 122 random bits from the OS: enough for a delay, without a
    // random-number crate for this alone.
    let bits = uuid::Uuid::new_v4().as_u128();
    u64::try_from(bits % (u128::from(max) + 1)).unwrap_or(0)
}

/// A long-running operation.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Operation ID (GUID).
    pub id: String,
    /// Subscription the operation belongs to.
    pub subscription: String,
    /// Normalised location used in the status URLs.
    pub location: String,
    created: Instant,
    /// RFC 3339 start time.
    pub start_time: String,
    /// RFC 3339 end time once done.
    pub end_time: Option<String>,
    /// Status polls seen so far.
    pub polls: u32,
    needed_polls: u32,
    delay: Duration,
    /// Status.
    pub status: OpStatus,
    /// How it will end, drawn when it began.
    outcome: OpStatus,
    effect: OpEffect,
    /// Body the `Location` URL returns once done (`None`: empty 200).
    pub result: Option<Value>,
}

/// All ARM state of the emulator.
#[derive(Debug, Default)]
pub struct ArmStore {
    /// Managed environments by lowercase ARM ID.
    pub environments: BTreeMap<String, Value>,
    /// Workspace customer ID of each environment (by lowercase ARM ID).
    pub environment_workspaces: HashMap<String, String>,
    /// Environment storages by lowercase ARM ID (with secrets).
    pub storages: BTreeMap<String, Value>,
    /// Jobs by lowercase ARM ID.
    pub jobs: BTreeMap<String, JobRecord>,
    /// Executions by lowercase ARM ID.
    pub executions: BTreeMap<String, ExecutionRecord>,
    /// File shares by lowercase ARM ID.
    pub shares: BTreeMap<String, Value>,
    /// Operations by ID.
    pub operations: HashMap<String, Operation>,
    next_seq: u64,
    draws: LroDraws,
}

/// Normalises an Azure location the way ARM does in URLs (`East US` → `eastus`).
pub fn normalize_location(location: &str) -> String {
    location
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

impl ArmStore {
    /// Next sequence number for ordering executions.
    pub fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Starts the injected LRO outcomes afresh (new fault settings).
    pub fn reset_lro_draws(&mut self) {
        self.draws = LroDraws::default();
    }

    /// Registers a new operation, paced by `faults` (`lroDelayMs` plus a draw
    /// of `lroJitterMs`). An operation on a job may be drawn to fail or be
    /// canceled (`lroFailRate`, `lroCancelRate`); it locks the job until it
    /// ends.
    pub fn begin_operation(
        &mut self,
        subscription: &str,
        location: &str,
        effect: OpEffect,
        result: Option<Value>,
        faults: &FaultConfig,
    ) -> Operation {
        let job = match &effect {
            OpEffect::JobProvisioned(key) | OpEffect::JobDeleted(key) => Some(key.clone()),
            OpEffect::Nothing => None,
        };
        // Only job writes have a provisioningState to leave Failed; a start
        // or stop that "failed" while its execution runs would contradict it.
        let outcome = if job.is_none() {
            OpStatus::Succeeded
        } else if util::draw(&mut self.draws.fail, faults.lro_fail_rate) {
            OpStatus::Failed
        } else if util::draw(&mut self.draws.cancel, faults.lro_cancel_rate) {
            OpStatus::Canceled
        } else {
            OpStatus::Succeeded
        };
        let delay = faults
            .lro_delay_ms
            .saturating_add(jitter(faults.lro_jitter_ms));
        let op = Operation {
            id: uuid::Uuid::new_v4().to_string(),
            subscription: subscription.to_string(),
            location: normalize_location(location),
            created: Instant::now(),
            start_time: util::now_rfc3339(),
            end_time: None,
            polls: 0,
            needed_polls: faults.lro_polls,
            delay: Duration::from_millis(delay),
            status: OpStatus::InProgress,
            outcome,
            effect,
            result,
        };
        if let Some(record) = job.and_then(|key| self.jobs.get_mut(&key)) {
            record.pending_op = Some(op.id.clone());
        }
        self.operations.insert(op.id.clone(), op.clone());
        op
    }

    /// Completes every operation whose time (and poll count) has come, and
    /// forgets operations that completed more than an hour ago.
    pub fn settle(&mut self) {
        let now = Instant::now();
        self.operations.retain(|_, op| {
            op.status == OpStatus::InProgress
                || now.duration_since(op.created) < Duration::from_secs(3600) + op.delay
        });
        let ready: Vec<String> = self
            .operations
            .values()
            .filter(|op| {
                op.status == OpStatus::InProgress
                    && now.duration_since(op.created) >= op.delay
                    && op.polls >= op.needed_polls
            })
            .map(|op| op.id.clone())
            .collect();
        for id in ready {
            let Some(op) = self.operations.get_mut(&id) else {
                continue;
            };
            op.status = op.outcome;
            op.end_time = Some(util::now_rfc3339());
            let (effect, outcome) = (op.effect.clone(), op.outcome);
            if outcome == OpStatus::Succeeded {
                self.apply(effect, &id);
            } else {
                self.abandon(effect, outcome, &id);
            }
        }
    }

    /// A failed or canceled operation leaves the job as it stood, marked
    /// with the outcome: it can be PUT again or deleted.
    fn abandon(&mut self, effect: OpEffect, outcome: OpStatus, op_id: &str) {
        let (OpEffect::JobProvisioned(key) | OpEffect::JobDeleted(key)) = effect else {
            return;
        };
        if let Some(job) = self.jobs.get_mut(&key)
            && job.pending_op.as_deref() == Some(op_id)
        {
            job.resource["properties"]["provisioningState"] = json!(outcome.as_str());
            job.pending_op = None;
        }
    }

    fn apply(&mut self, effect: OpEffect, op_id: &str) {
        match effect {
            OpEffect::JobProvisioned(key) => {
                if let Some(job) = self.jobs.get_mut(&key)
                    && job.pending_op.as_deref() == Some(op_id)
                {
                    job.resource["properties"]["provisioningState"] = json!("Succeeded");
                    job.pending_op = None;
                }
            }
            OpEffect::JobDeleted(key) => {
                self.jobs.remove(&key);
                self.executions.retain(|_, e| e.job_key != key);
            }
            OpEffect::Nothing => {}
        }
    }

    /// Counts a status poll of an operation and settles; `None` if unknown.
    pub fn poll_operation(&mut self, id: &str) -> Option<Operation> {
        self.operations.get_mut(id)?.polls += 1;
        self.settle();
        self.operations.get(id).cloned()
    }
}

/// ARM ID of an environment.
pub fn environment_id(sub: &str, rg: &str, name: &str) -> String {
    format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.App/managedEnvironments/{name}"
    )
}

/// Builds the environment resource of a seed.
pub fn seed_resource(seed: &EnvironmentSeed) -> Value {
    json!({
        "id": environment_id(&seed.subscription_id, &seed.resource_group, &seed.name),
        "name": seed.name,
        "type": "Microsoft.App/managedEnvironments",
        "location": seed.location,
        "tags": {},
        "properties": {
            "provisioningState": "Succeeded",
            "defaultDomain": format!("{}.{}.azurecontainerapps.io", seed.name, normalize_location(&seed.location)),
            "staticIp": "127.0.0.1",
            "zoneRedundant": false,
            "appLogsConfiguration": {
                "destination": "log-analytics",
                "logAnalyticsConfiguration": {"customerId": seed.log_analytics_workspace_id}
            },
            "workloadProfiles": [{"name": "Consumption", "workloadProfileType": "Consumption"}]
        }
    })
}
