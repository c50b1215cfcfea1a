//! Running containers on ACA Jobs: the job template ([`template`]), the
//! in-memory state of each container ([`state`]), the run lifecycle
//! (start and removal in [`lifecycle`], [`running`], [`exit`], [`stop`]),
//! the restart policy ([`restart_policy`], [`policy_starts`]), what the
//! agent link reports ([`connection`], [`output`]) and the execution-status
//! poller used when the agent is gone ([`poller`]).

pub mod collect;
pub mod connection;
pub mod exit;
pub mod first_connect;
pub mod lifecycle;
pub mod output;
pub mod policy_starts;
pub mod poller;
pub mod reconcile;
pub mod restart;
pub mod restart_policy;
pub mod running;
pub mod state;
pub mod stop;
pub mod template;

use std::path::Path;

use serde::{Deserialize, Serialize};
use sockerless_api::docker::ContainerCreateBody;
use sockerless_api::{ApiError, Result};

use crate::AcaBackend;
use crate::store::{ContainerRecord, records};

/// Target of the debug events marking a container's phases (message: the
/// phase; fields: `container`, and `job`/`execution` where known).
/// `cargo xtask bench` parses them from the daemon's log
/// (`SOCKERLESS_ACA_LOG_LEVEL=info,sockerless_timeline=debug`) for its
/// `docker run` breakdown, so the target and the phase names are stable.
pub const TIMELINE: &str = "sockerless_timeline";

/// What the store keeps in a container's `config` column.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredConfig {
    /// The Docker config with the image config merged in.
    pub body: ContainerCreateBody,
    /// The image ID (`sha256:...`).
    pub image_id: String,
    /// `platform` given at create.
    #[serde(default)]
    pub platform: Option<String>,
    /// Starts by the restart policy since the user's last start.
    #[serde(default)]
    pub restart_count: i64,
    /// The user stopped or killed it at its last exit (what `unless-stopped`
    /// remembers when the daemon starts again).
    #[serde(default)]
    pub manually_stopped: bool,
    /// The container's mounts as resolved at create (anonymous volumes
    /// named, `--volumes-from` merged): see `crate::containers::mounts`.
    #[serde(default)]
    pub mounts: Vec<crate::containers::mounts::MountSpec>,
    /// ARM reads made for it, as last stored (at each start and exit).
    #[serde(default)]
    pub arm_reads: u64,
    /// ARM writes made for it, as last stored.
    #[serde(default)]
    pub arm_writes: u64,
}

impl StoredConfig {
    /// `HostConfig.AutoRemove` (`--rm`).
    pub fn auto_remove(&self) -> bool {
        self.body
            .host_config
            .as_ref()
            .and_then(|h| h.auto_remove)
            .unwrap_or(false)
    }

    /// The ARM calls stored with the record.
    pub fn arm_calls(&self) -> sockerless_azure::pipeline::ArmCallCounts {
        sockerless_azure::pipeline::ArmCallCounts {
            reads: self.arm_reads,
            writes: self.arm_writes,
        }
    }

    /// Reads the config column of a record.
    pub fn of(record: &ContainerRecord) -> Result<Self> {
        serde_json::from_value(record.config.clone()).map_err(|e| {
            ApiError::Internal(format!(
                "stored config of container {} is unreadable: {e}",
                record.id
            ))
        })
    }

    /// As JSON for the record.
    pub fn to_value(&self) -> Result<serde_json::Value> {
        serde_json::to_value(self)
            .map_err(|e| ApiError::Internal(format!("cannot encode container config: {e}")))
    }
}

/// A container by full ID, name or unique ID prefix; Docker's 404 otherwise.
pub async fn find_container(backend: &AcaBackend, id: &str) -> Result<ContainerRecord> {
    let key = id.to_owned();
    let found = backend
        .store()
        .read(move |c| records::lookup_container(c, &key))
        .await?;
    pick_container(found, id)
}

/// The one container of a [`records::lookup_container`], or dockerd's error
/// for `id` (moby's `daemon/container/view.go`: 400 for an ambiguous
/// prefix, 404 for none).
pub fn pick_container(found: Vec<ContainerRecord>, id: &str) -> Result<ContainerRecord> {
    let mut found = found.into_iter();
    match (found.next(), found.next()) {
        (Some(record), None) => Ok(record),
        (None, _) => Err(ApiError::NotFound(format!("No such container: {id}"))),
        (Some(_), Some(_)) => Err(ApiError::InvalidParameter(format!(
            "multiple IDs found with provided prefix: {id}"
        ))),
    }
}

/// The backend instance ID: random, persisted in `data_dir/instance-id`.
pub fn load_instance_id(data_dir: &Path) -> std::io::Result<String> {
    let path = data_dir.join("instance-id");
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => return Ok(s.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let id = crate::clock::random_hex(8).map_err(|e| std::io::Error::other(e.to_string()))?;
    std::fs::create_dir_all(data_dir)?;
    std::fs::write(&path, &id)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_id_is_persisted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = load_instance_id(dir.path()).expect("first");
        assert_eq!(load_instance_id(dir.path()).expect("again"), first);
    }
}
