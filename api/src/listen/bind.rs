//! Binding listeners: Unix sockets private from the first instant, TCP as asked.

use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::net::{TcpListener, UnixListener};

use super::{ListenAddr, ListenError};

/// A bound listener, ready for [`super::serve`].
#[derive(Debug)]
pub enum Listener {
    /// A Unix socket; its file is removed when [`super::serve`] returns.
    Unix {
        /// The listening socket.
        listener: UnixListener,
        /// Where its file lives.
        path: PathBuf,
    },
    /// A TCP socket.
    Tcp(TcpListener),
}

impl Listener {
    /// The address clients connect to (for `tcp://host:0`, the chosen port).
    pub fn local_addr(&self) -> io::Result<ListenAddr> {
        match self {
            Listener::Unix { path, .. } => Ok(ListenAddr::Unix(path.clone())),
            Listener::Tcp(l) => {
                let a = l.local_addr()?;
                Ok(ListenAddr::Tcp {
                    host: a.ip().to_string(),
                    port: a.port(),
                })
            }
        }
    }
}

/// Binds `addr`.
///
/// A Unix socket is bound inside a fresh 0700 directory next to its final
/// path, made 0600, then renamed into place, so it is never reachable by
/// others with looser permissions. A missing parent directory is created
/// (0700). A socket file nobody listens on (left by a crash) is replaced; a
/// live one is [`ListenError::InUse`]; any other file there is an error.
pub async fn bind(addr: &ListenAddr) -> Result<Listener, ListenError> {
    match addr {
        ListenAddr::Unix(path) => bind_unix(addr, path).await,
        ListenAddr::Tcp { .. } => {
            let listener = TcpListener::bind(addr.host_port()).await.map_err(|e| {
                if e.kind() == io::ErrorKind::AddrInUse {
                    ListenError::InUse(addr.to_string())
                } else {
                    ListenError::io(format!("bind {addr}"), e)
                }
            })?;
            Ok(Listener::Tcp(listener))
        }
    }
}

async fn bind_unix(addr: &ListenAddr, path: &Path) -> Result<Listener, ListenError> {
    let ctx = |what: &str| format!("{what} for {addr}");
    let parent = path.parent().unwrap_or(Path::new("/"));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(parent)
        .map_err(|e| ListenError::io(ctx("create parent directory"), e))?;
    check_existing(addr, path).await?;

    let staging =
        staging_dir(parent).map_err(|e| ListenError::io(ctx("create staging directory"), e))?;
    let result = async {
        let staged = staging.join("s");
        let listener =
            UnixListener::bind(&staged).map_err(|e| ListenError::io(format!("bind {addr}"), e))?;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| ListenError::io(ctx("chmod 0600"), e))?;
        // Re-check right before the rename: someone may have started meanwhile.
        check_existing(addr, path).await?;
        std::fs::rename(&staged, path)
            .map_err(|e| ListenError::io(ctx("move socket into place"), e))?;
        Ok::<_, ListenError>(listener)
    }
    .await;
    if let Err(e) = std::fs::remove_dir_all(&staging) {
        tracing::warn!(dir = %staging.display(), error = %e, "could not remove staging directory");
    }
    Ok(Listener::Unix {
        listener: result?,
        path: path.to_owned(),
    })
}

/// Errors if `path` holds a live socket or a non-socket file; removes nothing.
async fn check_existing(addr: &ListenAddr, path: &Path) -> Result<(), ListenError> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ListenError::io(format!("inspect {addr}"), e)),
        Ok(meta) if !meta.file_type().is_socket() => Err(ListenError::io(
            format!("bind {addr}"),
            io::Error::new(
                io::ErrorKind::AlreadyExists,
                "a file that is not a socket is in the way",
            ),
        )),
        Ok(_) => match tokio::net::UnixStream::connect(path).await {
            Ok(_) => Err(ListenError::InUse(addr.to_string())),
            // ECONNREFUSED: nobody listens; the rename replaces the stale file.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(()),
            Err(e) => Err(ListenError::io(format!("probe existing socket {addr}"), e)),
        },
    }
}

/// A new private directory in `parent`; its short name keeps the staged
/// socket path within the kernel's 108-byte limit whenever the final one is.
fn staging_dir(parent: &Path) -> io::Result<PathBuf> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let seed = std::process::id()
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
    for _ in 0..16 {
        let n = seed.wrapping_add(
            COUNTER
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_mul(0x9E37_79B9),
        );
        let dir = parent.join(format!(".{n:08x}"));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free staging directory name",
    ))
}
