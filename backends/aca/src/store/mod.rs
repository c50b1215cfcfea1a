//! The SQLite state store (WAL) under `data_dir`.
//!
//! SQLite calls block, so every call runs on tokio's blocking pool through
//! [`Store::call`]; the functions of [`records`], [`logs`] and [`events`]
//! are the queries: the crate's SQL is all under this module. Failures are
//! typed ([`StoreError`]) and become an [`ApiError`] in one place (its
//! `From`); a caller expecting a [`StoreError::Conflict`] answers Docker's
//! message for it instead.

pub mod events;
pub mod logs;
pub mod records;
pub mod schema;
pub mod sealed;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use sockerless_api::ApiError;

pub use records::{
    ContainerCounts, ContainerRecord, ExecRecord, ImageRecord, NetworkRecord, VolumeRecord,
    hash_token,
};

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A write broke a unique or primary-key constraint: the row exists.
    #[error("state store: {0}")]
    Conflict(#[source] rusqlite::Error),
    /// SQLite failed.
    #[error("state store: {0}")]
    Sqlite(#[source] rusqlite::Error),
    /// The data directory could not be prepared.
    #[error("state store: {context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// The store was closed (shutdown).
    #[error("state store is closed")]
    Closed,
    /// The blocking task died.
    #[error("state store task failed: {0}")]
    Task(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        match &err {
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                StoreError::Conflict(err)
            }
            _ => StoreError::Sqlite(err),
        }
    }
}

impl From<StoreError> for ApiError {
    /// Every store failure is the daemon's own (500), a conflict too: one
    /// the caller did not expect (it checked first) is a broken invariant,
    /// not the client's mistake.
    fn from(err: StoreError) -> Self {
        ApiError::Internal(err.to_string()).with_source(err)
    }
}

/// Read-only connections beside the writer: reads (inspect, ps, logs, the
/// lookups before every operation) do not queue behind writes (WAL lets
/// readers and the writer work at once).
pub const READERS: usize = 2;

/// The store; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    conn: Arc<Mutex<Option<Connection>>>,
    readers: Arc<Vec<Mutex<Option<Connection>>>>,
    next_reader: Arc<std::sync::atomic::AtomicUsize>,
    path: PathBuf,
    seal: Arc<sealed::SealKey>,
}

impl Store {
    /// Opens (creating) the database at `path` and applies migrations. Blocking:
    /// use [`Store::open_async`] from async code.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        if let Some(dir) = dir {
            create_private_dir(dir)?;
        }
        let dir = dir.unwrap_or(Path::new("."));
        let seal = sealed::SealKey::load(dir, std::env::var(sealed::KEY_ENV).ok())?;
        private_file(path, true)?;
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        schema::migrate(&mut conn)?;
        // SQLite creates these with the database file's mode; older data
        // dirs may hold them with wider modes.
        for suffix in ["-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            private_file(Path::new(&name), false)?;
        }
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let reader = Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            reader.busy_timeout(std::time::Duration::from_secs(5))?;
            readers.push(Mutex::new(Some(reader)));
        }
        Ok(Self {
            conn: Arc::new(Mutex::new(Some(conn))),
            readers: Arc::new(readers),
            next_reader: Arc::default(),
            path: path.to_owned(),
            seal: Arc::new(seal),
        })
    }

    /// `plain` sealed with the state key, bound to `context`.
    pub fn seal(&self, context: &str, plain: &str) -> Result<String, StoreError> {
        self.seal.seal(context, plain)
    }

    /// The plain value of a sealed (or legacy plain) `stored` value.
    pub fn unseal(&self, context: &str, stored: &str) -> Option<String> {
        self.seal.open(context, stored)
    }

    /// [`Store::open`] on the blocking pool.
    pub async fn open_async(path: PathBuf) -> Result<Self, StoreError> {
        tokio::task::spawn_blocking(move || Self::open(&path))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the store is open, without waiting: what `_ping` asks, on
    /// every Docker client's first request and on every health probe, so it
    /// must not cost a trip to the blocking pool (a busy connection is an
    /// open one).
    pub fn check_open(&self) -> Result<(), StoreError> {
        match self.conn.try_lock() {
            Ok(guard) if guard.is_some() => Ok(()),
            Ok(_) => Err(StoreError::Closed),
            Err(std::sync::TryLockError::WouldBlock) => Ok(()),
            Err(std::sync::TryLockError::Poisoned(_)) => {
                Err(StoreError::Task("store lock poisoned".into()))
            }
        }
    }

    /// Runs `f` with the connection on the blocking pool.
    pub async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| StoreError::Task("store lock poisoned".into()))?;
            let conn = guard.as_mut().ok_or(StoreError::Closed)?;
            f(conn).map_err(StoreError::from)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Runs `f` on one of the read-only connections, on the blocking pool:
    /// it sees every write committed before the call.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        use std::sync::atomic::Ordering;
        let readers = self.readers.clone();
        let first = self.next_reader.fetch_add(1, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || {
            let count = readers.len();
            // A free reader if there is one, else wait for the next in turn.
            let free = (0..count).find_map(|i| readers[(first + i) % count].try_lock().ok());
            let mut guard = match free {
                Some(guard) => guard,
                None => readers[first % count]
                    .lock()
                    .map_err(|_| StoreError::Task("store lock poisoned".into()))?,
            };
            let conn = guard.as_mut().ok_or(StoreError::Closed)?;
            f(conn).map_err(StoreError::from)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Images stored (rows of `images`: one per reference), for `docker info`.
    pub async fn image_count(&self) -> Result<i64, StoreError> {
        self.call(|c| records::image_count(c)).await
    }

    /// Container counts for `docker info`.
    pub async fn container_counts(&self) -> Result<ContainerCounts, StoreError> {
        self.call(|c| records::container_counts(c)).await
    }

    /// The schema version (migrations applied).
    pub async fn schema_version(&self) -> Result<u32, StoreError> {
        self.call(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))
            .await
    }

    /// Checkpoints the WAL and closes the connection; later calls fail with `Closed`.
    pub async fn close(&self) -> Result<(), StoreError> {
        let conn = self.conn.clone();
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let taken = conn
                .lock()
                .map_err(|_| StoreError::Task("store lock poisoned".into()))?
                .take();
            // Readers first: the checkpoint can then truncate the WAL.
            for reader in readers.iter() {
                let reader = reader
                    .lock()
                    .map_err(|_| StoreError::Task("store lock poisoned".into()))?
                    .take();
                if let Some(reader) = reader {
                    reader.close().map_err(|(_, e)| StoreError::Sqlite(e))?;
                }
            }
            if let Some(conn) = taken {
                conn.pragma_update(None, "wal_checkpoint", "TRUNCATE")?;
                conn.close().map_err(|(_, e)| StoreError::Sqlite(e))?;
            }
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

/// Creates `dir` 0700, or tightens it to 0700 when it exists: it holds the
/// state key, the database and containers' recorded files.
fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StoreError::Io {
            context: format!("create {}", dir.display()),
            source,
        })?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|source| {
        StoreError::Io {
            context: format!("make the data dir {} private (0700)", dir.display()),
            source,
        }
    })
}

/// Makes `path` 0600: created empty so when `create` and missing, else
/// tightened when it exists.
fn private_file(path: &Path, create: bool) -> Result<(), StoreError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let context = || format!("make {} private (0600)", path.display());
    if create {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => {
                return Err(StoreError::Io {
                    context: context(),
                    source,
                });
            }
        }
    }
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
        Ok(()) => Ok(()),
        Err(e) if !create && e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StoreError::Io {
            context: context(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests;
