//! The binds of a container, read from its stored config: what the
//! runtime state keeps of a run and what start, prepare and sync-back use.
//! Pure except [`of_running`] (which resolves host paths).

use std::path::PathBuf;

use sockerless_api::Result;

use crate::containers::mounts::{self, MountSpec};
use crate::runtime::StoredConfig;

/// One bind of a daemon-host path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// Host path as given.
    pub host_path: PathBuf,
    /// Absolute container path.
    pub target: String,
    /// Copied in only, never synced back.
    pub read_only: bool,
    /// A missing host path is created (`-v`), otherwise refused (`--mount`).
    pub create_missing: bool,
}

/// The binds of a container (from its resolved mounts).
pub fn binds_of(stored: &StoredConfig) -> Result<Vec<Bind>> {
    let specs = if stored.mounts.is_empty() {
        mounts::classify(&stored.body)?.mounts
    } else {
        stored.mounts.clone()
    };
    Ok(specs
        .into_iter()
        .filter_map(|m| match m {
            MountSpec::Bind {
                host_path,
                target,
                read_only,
                create_missing,
            } => Some(Bind {
                host_path: PathBuf::from(host_path),
                target,
                read_only,
                create_missing,
            }),
            _ => None,
        })
        .collect())
}

/// The binds of a container found running when the daemon starts: they
/// were copied in by the previous daemon (a failure then is not known).
pub fn of_running(record: &crate::store::ContainerRecord) -> Vec<Bind> {
    let binds = StoredConfig::of(record)
        .and_then(|s| binds_of(&s))
        .unwrap_or_default();
    binds
        .into_iter()
        .filter_map(|b| {
            let host_path = std::fs::canonicalize(&b.host_path).ok()?;
            Some(Bind { host_path, ..b })
        })
        .collect()
}
