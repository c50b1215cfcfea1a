//! Binds of daemon-host paths (`-v /host:/ctr[:ro]`, `--mount type=bind`)
//! through the agent, and files put into a container before it starts.
//!
//! - At start (before any ARM write) every bind is checked: a missing host
//!   path is created as a directory for `-v` (as dockerd does) and refused
//!   for `--mount` (dockerd's message); a tree larger than `bind_max_bytes`
//!   fails the start.
//! - When the run's agent first connects (`containers::prepare`), the
//!   files put before start, then each bind's tree, are streamed into the
//!   container (ARCHIVE_PUT of `/`, so missing target directories are
//!   created), before the process is released.
//! - When the process exits (or `docker stop` ends it), before its exit is
//!   acknowledged, each read-write bind that was copied in is synced back:
//!   ARCHIVE_GET of the target, mirrored into the host path ([`mirror`]).
//!
//! Failures are logged and written as one `sockerless:` line on the
//! container's stderr (`docker logs`). `:ro` binds are never synced back;
//! those of directories are also read-only in the container when a storage
//! account is configured ([`read_only`]: ACA mounts them, the agent cannot).

pub mod files;
pub mod mirror;
pub mod pipe;
pub mod read_only;
pub mod spec;
pub mod transfer;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sockerless_api::{ApiError, Result};

pub use spec::{Bind, binds_of, of_running};

use crate::AcaBackend;
use crate::agent_link::pump::AgentLink;
use crate::containers::mounts::{self, MountSpec};
use crate::runtime::StoredConfig;
use crate::runtime::state::ContainerRuntime;

fn size_text(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB {
        format!("{:.1} MiB", bytes as f64 / MIB as f64)
    } else {
        format!("{bytes} bytes")
    }
}

/// Checks one bind on the host: creates a missing `-v` path, refuses a
/// missing `--mount` path, bounds the size. Blocking.
pub fn check_bind(bind: &Bind, max_bytes: u64) -> Result<()> {
    let path = &bind.host_path;
    match std::fs::metadata(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && bind.create_missing => {
            std::fs::create_dir_all(path).map_err(|e| {
                ApiError::InvalidParameter(format!(
                    "error while creating mount source path '{}': {e}",
                    path.display()
                ))
            })?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::InvalidParameter(format!(
                "invalid mount config for type \"bind\": bind source path does not exist: {}",
                path.display()
            )));
        }
        Err(e) => {
            return Err(ApiError::InvalidParameter(format!(
                "invalid mount config for type \"bind\": {}: {e}",
                path.display()
            )));
        }
    }
    let size = transfer::tree_size(path, max_bytes).map_err(|e| {
        ApiError::InvalidParameter(format!("bind source path {}: {e}", path.display()))
    })?;
    if size > max_bytes {
        return Err(ApiError::InvalidParameter(format!(
            "bind source path {} holds more than {} (bind_max_bytes): sockerless copies binds into the container",
            path.display(),
            size_text(max_bytes)
        )));
    }
    Ok(())
}

/// `docker create`: a `--mount type=bind` source must exist (a missing `-v`
/// source is created at start, as dockerd does).
pub fn check_create(body: &sockerless_api::docker::ContainerCreateBody) -> Result<()> {
    for m in mounts::classify(body)?.mounts {
        if let MountSpec::Bind {
            host_path,
            create_missing: false,
            ..
        } = m
            && std::fs::metadata(&host_path).is_err()
        {
            return Err(ApiError::InvalidParameter(format!(
                "invalid mount config for type \"bind\": bind source path does not exist: {host_path}"
            )));
        }
    }
    Ok(())
}

/// `docker start`: checks every bind of the container.
pub async fn check(backend: &AcaBackend, stored: &StoredConfig) -> Result<()> {
    let binds = binds_of(stored)?;
    if binds.is_empty() {
        return Ok(());
    }
    let max = backend.config().bind_max_bytes;
    tokio::task::spawn_blocking(move || binds.iter().try_for_each(|b| check_bind(b, max)))
        .await
        .map_err(|e| ApiError::Internal(format!("checking binds: {e}")))?
}

/// `docker start`, before any ARM write: checks the binds, mounts the `:ro`
/// directory binds read-only ([`read_only`]) and, when the run has binds or
/// files to put in, gives the agent the waits they need.
pub async fn before_start(
    backend: &AcaBackend,
    record: &crate::store::ContainerRecord,
    stored: &StoredConfig,
    job: &mut sockerless_azure::models::Job,
) -> Result<()> {
    check(backend, stored).await?;
    let binds = binds_of(stored)?;
    read_only::before_start(backend, &record.job_name, &binds, job).await?;
    let files = files::has_any(backend, &record.id).await;
    if let Some(waits) = agent_waits(backend, files || !binds.is_empty()) {
        apply_waits(job, waits);
    }
    Ok(())
}

/// On the run's first agent connection, before the process is released:
/// the kept files, then the binds, into the container. Failures are logged
/// and written on the container's stderr; a bind that failed is not synced back.
pub async fn prepare(backend: &AcaBackend, rt: &Arc<ContainerRuntime>, link: &AgentLink) {
    rt.binds.lock().unwrap_or_else(|p| p.into_inner()).clear();
    let stored = match crate::runtime::find_container(backend, &rt.id)
        .await
        .and_then(|r| StoredConfig::of(&r))
    {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(container = %rt.id, error = %e, "binds not prepared");
            return;
        }
    };
    let mut failures = files::apply(backend, &rt.id, link).await;
    failures.extend(copy_in(backend, rt, link, &stored).await);
    report(backend, rt, &failures).await;
}

/// Logs `failures` and writes each as a `sockerless:` line on the container's stderr.
pub async fn report(backend: &AcaBackend, rt: &ContainerRuntime, failures: &[String]) {
    for f in failures {
        tracing::warn!(container = %rt.id, "{f}");
        crate::runtime::output::log_line(backend, rt, &format!("sockerless: {f}\n")).await;
    }
}

/// Copies every bind into the container; records those copied, so only
/// they are synced back. Returns the failures (one message per bind).
pub async fn copy_in(
    backend: &AcaBackend,
    rt: &ContainerRuntime,
    link: &AgentLink,
    stored: &StoredConfig,
) -> Vec<String> {
    let binds = match binds_of(stored) {
        Ok(b) => b,
        Err(e) => return vec![e.to_string()],
    };
    let max = backend.config().bind_max_bytes;
    let mut ready = Vec::new();
    let mut failures = Vec::new();
    for (n, bind) in binds.into_iter().enumerate() {
        let started = Instant::now();
        let host = match tokio::fs::canonicalize(&bind.host_path).await {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("bind {}: {e}", bind.host_path.display()));
                continue;
            }
        };
        let into = read_only::copy_target(backend, n, &bind, host.is_dir());
        match transfer::copy_in(link, &host, &into, max).await {
            Ok(()) => {
                tracing::info!(container = %rt.id, host = %host.display(), target = %bind.target,
                    into = %into, ms = started.elapsed().as_millis() as u64, "bind copied in");
                ready.push(Bind {
                    host_path: host,
                    ..bind
                });
            }
            Err(e) => failures.push(format!(
                "bind {} → {} not copied into the container: {e}",
                bind.host_path.display(),
                bind.target
            )),
        }
    }
    *rt.binds.lock().unwrap_or_else(|p| p.into_inner()) = ready;
    failures
}

/// Whether read-write binds wait to be synced back at the exit.
pub fn has_rw(rt: &ContainerRuntime) -> bool {
    rt.binds
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .any(|b| !b.read_only)
}

/// Syncs one bind back; returns what it did.
pub async fn sync_one(
    link: &AgentLink,
    bind: &Bind,
    max: u64,
) -> std::result::Result<mirror::Stats, String> {
    let (_, session) = link
        .get_archive(&bind.target)
        .await
        .map_err(|e| format!("reading {}: {e}", bind.target))?;
    let (tx, reader) = pipe::reader();
    let host = bind.host_path.clone();
    let is_dir = std::fs::symlink_metadata(&host)
        .map_err(|e| e.to_string())?
        .is_dir();
    let consumer = tokio::task::spawn_blocking(move || {
        if is_dir {
            mirror::mirror_dir(reader, &host, max)
        } else {
            mirror::mirror_file(reader, &host, max)
        }
    });
    transfer::pump_tar(session, tx).await;
    match consumer.await {
        Ok(Ok(stats)) => Ok(stats),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// At the exit, before it is acknowledged: syncs the read-write binds back
/// within `bind_sync_timeout_secs`. Returns the failures.
pub async fn sync_back(
    backend: &AcaBackend,
    rt: &Arc<ContainerRuntime>,
    link: &AgentLink,
) -> Vec<String> {
    let binds: Vec<Bind> = rt
        .binds
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter(|b| !b.read_only)
        .cloned()
        .collect();
    let max = backend.config().bind_max_bytes;
    let limit = Duration::from_secs(backend.config().bind_sync_timeout_secs);
    let deadline = tokio::time::Instant::now() + limit;
    let mut failures = Vec::new();
    for bind in binds {
        let started = Instant::now();
        let what = format!("bind {} → {}", bind.target, bind.host_path.display());
        match tokio::time::timeout_at(deadline, sync_one(link, &bind, max)).await {
            Ok(Ok(stats)) => {
                tracing::info!(container = %rt.id, target = %bind.target, host = %bind.host_path.display(),
                    written = stats.written, removed = stats.removed, bytes = stats.bytes,
                    ms = started.elapsed().as_millis() as u64, "bind synced back");
                if !stats.skipped.is_empty() {
                    tracing::info!(container = %rt.id, skipped = ?stats.skipped, "special files not synced back");
                }
            }
            Ok(Err(e)) => failures.push(format!("{what} not synced back: {e}")),
            Err(_) => failures.push(format!(
                "{what} not synced back within {} s (bind_sync_timeout_secs)",
                limit.as_secs()
            )),
        }
    }
    failures
}

/// Agent waits for a run with binds or files: the process is held back
/// while they are copied in, and the replica stays after the exit while
/// they are synced back. `None` when the defaults do.
pub fn agent_waits(backend: &AcaBackend, has_binds_or_files: bool) -> Option<(u64, u64)> {
    has_binds_or_files.then(|| {
        // The agent caps the wait for its first peers at 300 s.
        (300, backend.config().bind_sync_timeout_secs + 30)
    })
}

/// Sets the agent's waits in the main container of `job` (see [`agent_waits`]).
pub fn apply_waits(job: &mut sockerless_azure::models::Job, waits: (u64, u64)) {
    crate::runtime::template::set_agent_env(
        job,
        &[
            ("SOCKERLESS_AWAIT_PEERS_SECS", waits.0.to_string()),
            ("SOCKERLESS_EXIT_ACK_TIMEOUT", waits.1.to_string()),
        ],
    );
}

#[cfg(test)]
mod tests;
