//! UNIX_LISTEN: Unix sockets the agent serves in the container (e.g. the
//! Docker socket at `/var/run/docker.sock`). Each accepted connection becomes
//! an UNIX_ACCEPTED socket session; the peer decides where its bytes go.

use std::collections::{BTreeSet, HashMap};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::UnixListener;
use tokio::task::JoinHandle;

use crate::hub::Hub;
use crate::protocol::UnixListen;
use crate::socket::{self, Announce, Sockets};

/// Unix socket paths one UNIX_LISTEN frame may ask for.
pub(crate) const MAX_UNIX_LISTENERS: usize = 16;
/// Mode of the socket files: any user of the container may connect, as
/// membership of Docker's socket group would allow.
const SOCKET_MODE: u32 = 0o666;

/// The Unix listeners by path.
#[derive(Default)]
pub(crate) struct UnixListeners {
    listeners: Mutex<HashMap<PathBuf, JoinHandle<()>>>,
}

impl Drop for UnixListeners {
    fn drop(&mut self) {
        for (_, task) in self.lock().drain() {
            task.abort();
        }
    }
}

impl UnixListeners {
    fn lock(&self) -> MutexGuard<'_, HashMap<PathBuf, JoinHandle<()>>> {
        match self.listeners.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Applies an UNIX_LISTEN request (the full set); returns the problems,
    /// one message each (the other paths are served regardless).
    pub(crate) fn apply(
        &self,
        hub: &Arc<Hub>,
        sockets: &Arc<Sockets>,
        request: &UnixListen,
    ) -> Vec<String> {
        let mut errors = Vec::new();
        let mut wanted = BTreeSet::new();
        for path in &request.paths {
            match check_path(path) {
                Ok(p) => {
                    wanted.insert(p);
                }
                Err(e) => errors.push(format!("unix listen {path:?}: {e}")),
            }
        }
        if wanted.len() > MAX_UNIX_LISTENERS {
            errors.push(format!(
                "unix listen: {} paths requested, only the first {MAX_UNIX_LISTENERS} are served",
                wanted.len()
            ));
            wanted = wanted.into_iter().take(MAX_UNIX_LISTENERS).collect();
        }
        let mut listeners = self.lock();
        listeners.retain(|path, task| {
            let keep = wanted.contains(path) && !task.is_finished();
            if !keep {
                task.abort();
                let _ = std::fs::remove_file(path);
            }
            keep
        });
        for path in wanted {
            if listeners.contains_key(&path) {
                continue;
            }
            match bind(&path) {
                Ok(listener) => {
                    let task = tokio::spawn(accept_loop(
                        listener,
                        path.clone(),
                        hub.clone(),
                        sockets.clone(),
                    ));
                    listeners.insert(path, task);
                }
                Err(e) => errors.push(format!("unix listen {}: {e}", path.display())),
            }
        }
        errors
    }
}

/// An absolute, normalized path (no `..`, not `/`).
fn check_path(path: &str) -> Result<PathBuf, String> {
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err("not an absolute path".into());
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err("contains \"..\"".into());
    }
    let clean: PathBuf = p.components().collect();
    if clean.parent().is_none() {
        return Err("not a file path".into());
    }
    Ok(clean)
}

/// Creates the parent directory, replaces whatever non-directory is at
/// `path` (a stale socket, or the image's file the mount would hide),
/// binds, and opens the socket to every user.
fn bind(path: &Path) -> std::io::Result<UnixListener> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "a directory is in the way",
            ));
        }
        Ok(m) => {
            if !m.file_type().is_socket() {
                tracing::info!(path = %path.display(), "replacing a file with the socket");
            }
            std::fs::remove_file(path)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = std::os::unix::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(SOCKET_MODE))?;
    listener.set_nonblocking(true)?;
    UnixListener::from_std(listener)
}

async fn accept_loop(listener: UnixListener, path: PathBuf, hub: Arc<Hub>, sockets: Arc<Sockets>) {
    let name = path.to_string_lossy().into_owned();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // E.g. out of file descriptors: back off instead of spinning.
                tracing::warn!(path = %name, error = %e, "unix accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        match sockets.reserve(&hub, None) {
            Ok(slot) => {
                let announce = Announce::Unix(name.clone());
                tokio::spawn(socket::run(hub.clone(), slot, stream, announce));
            }
            Err(e) => {
                tracing::debug!(path = %name, error = %e, "unix connection refused");
                drop(stream);
            }
        }
    }
}
