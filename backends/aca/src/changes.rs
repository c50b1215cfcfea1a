//! A container's changes outlive its replica (issue 11, item 2): at each
//! exit, before it is acknowledged (the replica and its files are still
//! there), the agent's record of the changes against the image (a tar of
//! files added or changed, with OCI `.wh.` whiteouts for deletions) is kept
//! in `<data_dir>/changes/<id>.tar`; the next replica of that container
//! gets it extracted, whiteouts honoured, before its process starts, so
//! `docker start` finds the filesystem the user left.
//!
//! Bounded by `changes_max_bytes` (0 turns recording off). Bind targets are
//! left out of the record (they sync to the host), volumes and other
//! mounts are never in it. AutoRemove containers are not recorded.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sockerless_agent::peer::{OutputStream, PutOptions, SessionEvent};
use sockerless_api::Result;
use tokio::io::AsyncWriteExt;

use crate::AcaBackend;
use crate::agent_link::pump::AgentLink;
use crate::runtime::StoredConfig;
use crate::runtime::state::ContainerRuntime;
use crate::runtime::template;

/// The agent's variables (see the agent's `changes` module).
const ENV_RECORD: &str = "SOCKERLESS_RECORD_CHANGES";
const ENV_SKIP: &str = "SOCKERLESS_CHANGES_SKIP";
/// The agent's wait for its first peers while a record is restored, seconds.
const RESTORE_WAIT_SECS: u64 = 300;
/// The agent's default wait for its first peers (see the job template).
const DEFAULT_AWAIT_PEERS_SECS: u64 = 10;

/// Where the record of container `id` is kept.
pub fn record_path(backend: &AcaBackend, id: &str) -> PathBuf {
    backend
        .config()
        .data_dir
        .join("changes")
        .join(format!("{id}.tar"))
}

fn enabled(backend: &AcaBackend, stored: &StoredConfig) -> bool {
    let auto_remove = stored.auto_remove();
    backend.config().changes_max_bytes > 0 && !auto_remove
}

/// At start: tells the agent to keep a baseline (and what to leave out),
/// and to wait for the restore and the record.
pub async fn before_start(
    backend: &AcaBackend,
    id: &str,
    stored: &StoredConfig,
    job: &mut sockerless_azure::models::Job,
) -> Result<()> {
    if !enabled(backend, stored) {
        return Ok(());
    }
    let skip: Vec<String> = crate::binds::binds_of(stored)?
        .into_iter()
        .map(|b| b.target)
        .collect();
    let skip = serde_json::to_string(&skip).unwrap_or_else(|_| "[]".into());
    template::set_agent_env(job, &[(ENV_RECORD, "1".into()), (ENV_SKIP, skip)]);
    let restore = tokio::fs::try_exists(record_path(backend, id))
        .await
        .unwrap_or(false);
    // Waits already raised (binds) stay; the restore needs the long one,
    // the record at the exit as long as a bind sync.
    let current = |name| template::agent_env_u64(job, name).unwrap_or(0);
    let await_peers = current("SOCKERLESS_AWAIT_PEERS_SECS")
        .max(DEFAULT_AWAIT_PEERS_SECS)
        .max(if restore { RESTORE_WAIT_SECS } else { 0 });
    let exit_ack =
        current("SOCKERLESS_EXIT_ACK_TIMEOUT").max(backend.config().bind_sync_timeout_secs + 30);
    crate::binds::apply_waits(job, (await_peers, exit_ack));
    Ok(())
}

/// Before the process starts: extracts the kept record, if any, over the
/// fresh replica. Returns the failure, for the container's stderr.
pub async fn restore(backend: &AcaBackend, id: &str, link: &AgentLink) -> Option<String> {
    let path = record_path(backend, id);
    if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
        return None;
    }
    let options = PutOptions {
        owners: true,
        whiteouts: true,
        ..Default::default()
    };
    match crate::binds::transfer::put_file_with(link, &path, options).await {
        Ok(()) => {
            tracing::info!(container = %id, "changes of the previous run restored");
            None
        }
        Err(e) => Some(format!(
            "the container's changes from its previous run were not restored: {e}"
        )),
    }
}

/// At the exit, before it is acknowledged: keeps the record of the
/// changes (replacing the previous one). Returns the failure.
pub async fn record(
    backend: &AcaBackend,
    rt: &Arc<ContainerRuntime>,
    link: &AgentLink,
) -> Option<String> {
    let stored = match crate::runtime::find_container(backend, &rt.id)
        .await
        .and_then(|r| StoredConfig::of(&r))
    {
        Ok(s) => s,
        Err(_) => return None,
    };
    if !enabled(backend, &stored) || !link.records_changes() {
        return None;
    }
    let max = backend.config().changes_max_bytes;
    let path = record_path(backend, &rt.id);
    let limit = std::time::Duration::from_secs(backend.config().bind_sync_timeout_secs);
    let fetched = tokio::time::timeout(limit, fetch(link, &path, max))
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "not recorded within {} s (bind_sync_timeout_secs)",
                limit.as_secs()
            ))
        });
    match fetched {
        Ok(bytes) => {
            tracing::info!(container = %rt.id, bytes, "changes recorded");
            None
        }
        Err(e) => Some(format!(
            "the container's changes were not kept (its next start begins from the image): {e}"
        )),
    }
}

/// Streams the agent's record into `path` (through a temporary file, so a
/// failed record never replaces a good one); returns its size.
pub(crate) async fn fetch(
    link: &AgentLink,
    path: &Path,
    max: u64,
) -> std::result::Result<u64, String> {
    let dir = path.parent().ok_or("no directory for the record")?;
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let partial = path.with_extension("tar.partial");
    let mut session = link
        .get_changes(max)
        .await
        .map_err(|e| format!("agent: {e}"))?;
    let mut file = tokio::fs::File::create(&partial)
        .await
        .map_err(|e| format!("{}: {e}", partial.display()))?;
    // Tar headers and padding on top of the content bound.
    let limit = max.saturating_add(max / 8).saturating_add(1 << 20);
    let mut size = 0u64;
    let mut error = None;
    let outcome = loop {
        match session.recv().await {
            Some(SessionEvent::Output {
                stream: OutputStream::Stdout,
                data,
                ..
            }) => {
                size += data.len() as u64;
                if size > limit {
                    break Err(format!("the record passed {limit} bytes"));
                }
                if let Err(e) = file.write_all(&data).await {
                    break Err(format!("{}: {e}", partial.display()));
                }
            }
            Some(SessionEvent::Output { .. }) => {}
            Some(SessionEvent::Error(m)) => error = Some(m),
            Some(SessionEvent::Exit(0)) => break Ok(()),
            Some(SessionEvent::Exit(code)) => {
                break Err(error.take().unwrap_or_else(|| format!("exit code {code}")));
            }
            None => break Err("the agent connection closed".into()),
        }
    };
    let flushed = file.flush().await;
    drop(file);
    let done = outcome.and_then(|()| flushed.map_err(|e| e.to_string()));
    match done {
        Ok(()) => {
            tokio::fs::rename(&partial, path)
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(size)
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&partial).await;
            Err(e)
        }
    }
}

/// `docker rm`: the record goes with the container.
pub async fn forget(backend: &AcaBackend, id: &str) {
    let path = record_path(backend, id);
    if let Err(e) = tokio::fs::remove_file(&path).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(container = %id, error = %e, "cannot remove the recorded changes");
    }
}
