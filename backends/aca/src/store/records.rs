//! Records of the store and their SQL.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A container and its Azure job.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerRecord {
    /// 64-hex container ID.
    pub id: String,
    /// Name without the leading `/`.
    pub name: String,
    /// Image reference as given.
    pub image: String,
    /// Container Apps Job name (see [`crate::names::job_name`]).
    pub job_name: String,
    /// Current or last execution.
    pub execution_name: Option<String>,
    /// Agent address in forward mode.
    pub agent_address: Option<String>,
    /// SHA-256 (hex) of the agent token; the token itself is never stored.
    pub agent_token_hash: Option<String>,
    /// Docker state: created, running, paused, restarting, removing, exited, dead.
    pub state: String,
    /// Exit code once exited.
    pub exit_code: Option<i64>,
    /// Creation time, nanoseconds since the epoch.
    pub created_at: i64,
    /// Start time, nanoseconds since the epoch.
    pub started_at: Option<i64>,
    /// Finish time, nanoseconds since the epoch.
    pub finished_at: Option<i64>,
    /// The full Docker create body (config, HostConfig, NetworkingConfig).
    pub config: Value,
}

/// An image's resolved config.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRecord {
    /// Normalised reference, e.g. `docker.io/library/busybox:latest`.
    pub reference: String,
    /// Manifest digest.
    pub digest: String,
    /// OCI image config JSON.
    pub config: Value,
    /// When it was pulled, nanoseconds since the epoch.
    pub created_at: i64,
}

/// A Docker network.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkRecord {
    /// 64-hex network ID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Docker network config JSON.
    pub config: Value,
    /// Creation time, nanoseconds since the epoch.
    pub created_at: i64,
}

/// A Docker volume and its Azure file share.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeRecord {
    /// Docker volume name.
    pub name: String,
    /// Azure file share (and environment storage) name.
    pub file_share_name: String,
    /// Labels, driver options.
    pub config: Value,
    /// Creation time, nanoseconds since the epoch.
    pub created_at: i64,
}

/// An exec instance.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecRecord {
    /// 64-hex exec ID.
    pub id: String,
    /// Its container.
    pub container_id: String,
    /// Docker exec config JSON.
    pub config: Value,
    /// Whether it is running.
    pub running: bool,
    /// Exit code once done.
    pub exit_code: Option<i64>,
    /// Creation time, nanoseconds since the epoch.
    pub created_at: i64,
}

/// Container counts for `docker info`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContainerCounts {
    /// All containers.
    pub total: i64,
    /// Running.
    pub running: i64,
    /// Paused.
    pub paused: i64,
    /// Neither running nor paused.
    pub stopped: i64,
}

/// SHA-256 (hex) of an agent token.
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn json_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<Value> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })
}

const CONTAINER_COLS: &str = "id, name, image, job_name, execution_name, agent_address, agent_token_hash, \
     state, exit_code, created_at, started_at, finished_at, config";

fn container_row(row: &Row<'_>) -> rusqlite::Result<ContainerRecord> {
    Ok(ContainerRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        image: row.get(2)?,
        job_name: row.get(3)?,
        execution_name: row.get(4)?,
        agent_address: row.get(5)?,
        agent_token_hash: row.get(6)?,
        state: row.get(7)?,
        exit_code: row.get(8)?,
        created_at: row.get(9)?,
        started_at: row.get(10)?,
        finished_at: row.get(11)?,
        config: json_col(row, 12)?,
    })
}

/// Inserts a container or updates it by ID (a clashing name or job name is an error, never a silent replace).
/// A record read before `set_execution_name` ran (the agent connecting while
/// the start's answer is being recorded) keeps the execution name: losing it
/// would make `docker rm` skip the job's deletion and leak the job.
pub fn put_container(conn: &Connection, c: &ContainerRecord) -> rusqlite::Result<()> {
    conn.execute(
        &format!(
            "INSERT INTO containers ({CONTAINER_COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13) \
             ON CONFLICT(id) DO UPDATE SET name = excluded.name, image = excluded.image, job_name = excluded.job_name, \
             execution_name = COALESCE(excluded.execution_name, containers.execution_name), agent_address = excluded.agent_address, \
             agent_token_hash = excluded.agent_token_hash, state = excluded.state, exit_code = excluded.exit_code, \
             created_at = excluded.created_at, started_at = excluded.started_at, finished_at = excluded.finished_at, \
             config = excluded.config"
        ),
        params![
            c.id, c.name, c.image, c.job_name, c.execution_name, c.agent_address, c.agent_token_hash,
            c.state, c.exit_code, c.created_at, c.started_at, c.finished_at, c.config.to_string()
        ],
    )?;
    Ok(())
}

/// A container by full ID or name.
pub fn get_container(
    conn: &Connection,
    id_or_name: &str,
) -> rusqlite::Result<Option<ContainerRecord>> {
    let name = id_or_name.strip_prefix('/').unwrap_or(id_or_name);
    conn.query_row(
        &format!("SELECT {CONTAINER_COLS} FROM containers WHERE id = ?1 OR name = ?2"),
        params![id_or_name, name],
        container_row,
    )
    .optional()
}

/// Containers whose ID starts with `prefix` (at most `limit`).
pub fn containers_by_id_prefix(
    conn: &Connection,
    prefix: &str,
    limit: usize,
) -> rusqlite::Result<Vec<ContainerRecord>> {
    let escaped = prefix
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let mut stmt = conn.prepare(&format!(
        "SELECT {CONTAINER_COLS} FROM containers WHERE id LIKE ?1 ESCAPE '\\' ORDER BY id LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![format!("{escaped}%"), limit as i64], container_row)?;
    rows.collect()
}

/// The containers `key` may name (full ID or name, else an ID prefix; at
/// most two), for `runtime::pick_container`: on the caller's connection,
/// so it can read more in the same trip to the blocking pool.
pub fn lookup_container(conn: &Connection, key: &str) -> rusqlite::Result<Vec<ContainerRecord>> {
    if let Some(r) = get_container(conn, key)? {
        return Ok(vec![r]);
    }
    if key.is_empty() {
        return Ok(Vec::new());
    }
    containers_by_id_prefix(conn, key, 2)
}

/// Every container, newest first.
pub fn list_containers(conn: &Connection) -> rusqlite::Result<Vec<ContainerRecord>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {CONTAINER_COLS} FROM containers ORDER BY created_at DESC, id"
    ))?;
    let rows = stmt.query_map([], container_row)?;
    rows.collect()
}

/// Removes a container (and its execs). Returns whether it existed.
pub fn delete_container(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    conn.execute("DELETE FROM container_health WHERE container_id = ?1", [id])?;
    Ok(conn.execute("DELETE FROM containers WHERE id = ?1", [id])? > 0)
}

/// Stores the health of a container's run (JSON of `HealthState`).
pub fn save_health(conn: &Connection, id: &str, state: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO container_health (container_id, state) VALUES (?1, ?2) \
         ON CONFLICT(container_id) DO UPDATE SET state = excluded.state",
        params![id, state],
    )?;
    Ok(())
}

/// The stored health of one container.
pub fn health_of(conn: &Connection, id: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT state FROM container_health WHERE container_id = ?1",
        [id],
        |r| r.get(0),
    )
    .optional()
}

/// Every stored health, by container ID.
pub fn all_health(
    conn: &Connection,
) -> rusqlite::Result<std::collections::HashMap<String, String>> {
    let mut stmt = conn.prepare("SELECT container_id, state FROM container_health")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// Container counts by state.
pub fn container_counts(conn: &Connection) -> rusqlite::Result<ContainerCounts> {
    conn.query_row(
        "SELECT COUNT(*), \
                COALESCE(SUM(state = 'running'), 0), \
                COALESCE(SUM(state = 'paused'), 0) \
         FROM containers",
        [],
        |r| {
            let (total, running, paused): (i64, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
            Ok(ContainerCounts {
                total,
                running,
                paused,
                stopped: total - running - paused,
            })
        },
    )
}

/// Inserts or replaces an image.
pub fn put_image(conn: &Connection, i: &ImageRecord) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO images (reference, digest, config, created_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT(reference) DO UPDATE SET digest = excluded.digest, config = excluded.config, created_at = excluded.created_at",
        params![i.reference, i.digest, i.config.to_string(), i.created_at],
    )?;
    Ok(())
}

fn image_row(row: &Row<'_>) -> rusqlite::Result<ImageRecord> {
    Ok(ImageRecord {
        reference: row.get(0)?,
        digest: row.get(1)?,
        config: json_col(row, 2)?,
        created_at: row.get(3)?,
    })
}

/// An image by reference.
pub fn get_image(conn: &Connection, reference: &str) -> rusqlite::Result<Option<ImageRecord>> {
    conn.query_row(
        "SELECT reference, digest, config, created_at FROM images WHERE reference = ?1",
        [reference],
        image_row,
    )
    .optional()
}

/// The number of image rows (one per reference).
pub fn image_count(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COUNT(*) FROM images", [], |r| r.get(0))
}

/// Every image, newest first.
pub fn list_images(conn: &Connection) -> rusqlite::Result<Vec<ImageRecord>> {
    let mut stmt = conn.prepare("SELECT reference, digest, config, created_at FROM images ORDER BY created_at DESC, reference")?;
    let rows = stmt.query_map([], image_row)?;
    rows.collect()
}

/// Removes an image reference.
pub fn delete_image(conn: &Connection, reference: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM images WHERE reference = ?1", [reference])? > 0)
}

/// Inserts or replaces a network.
pub fn put_network(conn: &Connection, n: &NetworkRecord) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO networks (id, name, config, created_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT(id) DO UPDATE SET name = excluded.name, config = excluded.config, created_at = excluded.created_at",
        params![n.id, n.name, n.config.to_string(), n.created_at],
    )?;
    Ok(())
}

fn network_row(row: &Row<'_>) -> rusqlite::Result<NetworkRecord> {
    Ok(NetworkRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        config: json_col(row, 2)?,
        created_at: row.get(3)?,
    })
}

/// A network by ID or name.
pub fn get_network(conn: &Connection, id_or_name: &str) -> rusqlite::Result<Option<NetworkRecord>> {
    conn.query_row(
        "SELECT id, name, config, created_at FROM networks WHERE id = ?1 OR name = ?1",
        [id_or_name],
        network_row,
    )
    .optional()
}

/// Every network.
pub fn list_networks(conn: &Connection) -> rusqlite::Result<Vec<NetworkRecord>> {
    let mut stmt =
        conn.prepare("SELECT id, name, config, created_at FROM networks ORDER BY name")?;
    let rows = stmt.query_map([], network_row)?;
    rows.collect()
}

/// Removes a network.
pub fn delete_network(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM networks WHERE id = ?1", [id])? > 0)
}

/// Inserts or replaces a volume.
pub fn put_volume(conn: &Connection, v: &VolumeRecord) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO volumes (name, file_share_name, config, created_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT(name) DO UPDATE SET file_share_name = excluded.file_share_name, config = excluded.config, created_at = excluded.created_at",
        params![v.name, v.file_share_name, v.config.to_string(), v.created_at],
    )?;
    Ok(())
}

fn volume_row(row: &Row<'_>) -> rusqlite::Result<VolumeRecord> {
    Ok(VolumeRecord {
        name: row.get(0)?,
        file_share_name: row.get(1)?,
        config: json_col(row, 2)?,
        created_at: row.get(3)?,
    })
}

/// A volume by name.
pub fn get_volume(conn: &Connection, name: &str) -> rusqlite::Result<Option<VolumeRecord>> {
    conn.query_row(
        "SELECT name, file_share_name, config, created_at FROM volumes WHERE name = ?1",
        [name],
        volume_row,
    )
    .optional()
}

/// Every volume.
pub fn list_volumes(conn: &Connection) -> rusqlite::Result<Vec<VolumeRecord>> {
    let mut stmt = conn
        .prepare("SELECT name, file_share_name, config, created_at FROM volumes ORDER BY name")?;
    let rows = stmt.query_map([], volume_row)?;
    rows.collect()
}

/// Removes a volume.
pub fn delete_volume(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM volumes WHERE name = ?1", [name])? > 0)
}

/// Inserts or replaces an exec.
pub fn put_exec(conn: &Connection, e: &ExecRecord) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO execs (id, container_id, config, running, exit_code, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT(id) DO UPDATE SET config = excluded.config, running = excluded.running, exit_code = excluded.exit_code",
        params![e.id, e.container_id, e.config.to_string(), e.running, e.exit_code, e.created_at],
    )?;
    Ok(())
}

fn exec_row(row: &Row<'_>) -> rusqlite::Result<ExecRecord> {
    Ok(ExecRecord {
        id: row.get(0)?,
        container_id: row.get(1)?,
        config: json_col(row, 2)?,
        running: row.get(3)?,
        exit_code: row.get(4)?,
        created_at: row.get(5)?,
    })
}

/// An exec by ID.
pub fn get_exec(conn: &Connection, id: &str) -> rusqlite::Result<Option<ExecRecord>> {
    conn.query_row(
        "SELECT id, container_id, config, running, exit_code, created_at FROM execs WHERE id = ?1",
        [id],
        exec_row,
    )
    .optional()
}

/// The execs of a container.
pub fn execs_of(conn: &Connection, container_id: &str) -> rusqlite::Result<Vec<ExecRecord>> {
    let mut stmt = conn.prepare(
        "SELECT id, container_id, config, running, exit_code, created_at FROM execs WHERE container_id = ?1 ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map([container_id], exec_row)?;
    rows.collect()
}

/// Removes an exec.
pub fn delete_exec(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM execs WHERE id = ?1", [id])? > 0)
}

/// A run begins: the agent token it accepts and the config (restart
/// count) written, the last exit code cleared, in one statement (the rest
/// of the record is left as it is now, not as it was read).
pub fn begin_run(
    conn: &Connection,
    id: &str,
    token_hash: &str,
    config: &serde_json::Value,
) -> rusqlite::Result<bool> {
    // A new run has no health yet.
    conn.execute("DELETE FROM container_health WHERE container_id = ?1", [id])?;
    Ok(conn.execute(
        "UPDATE containers SET agent_token_hash = ?2, exit_code = NULL, config = ?3 WHERE id = ?1",
        params![id, token_hash, config.to_string()],
    )? > 0)
}

/// Sets (or, with `None`, drops) the agent token a container's run accepts.
pub fn set_token_hash(
    conn: &Connection,
    id: &str,
    token_hash: Option<&str>,
) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE containers SET agent_token_hash = ?2 WHERE id = ?1",
        params![id, token_hash],
    )? > 0)
}

/// The container is running since `now` unless it already was. Whether the
/// state changed.
pub fn mark_running(conn: &Connection, id: &str, now: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE containers SET state = 'running', started_at = ?2, finished_at = NULL, exit_code = NULL \
         WHERE id = ?1 AND state != 'running'",
        params![id, now],
    )? > 0)
}

/// The run ended with `code` at `now`: exited, the token dropped, in one
/// statement. The record as it is now; `None` for an unknown container.
/// `arm`: the ARM calls made for it so far (reads, writes), kept in its config.
pub fn record_exit(
    conn: &Connection,
    id: &str,
    code: i64,
    now: i64,
    arm: (u64, u64),
    manually_stopped: bool,
) -> rusqlite::Result<Option<ContainerRecord>> {
    let reads = i64::try_from(arm.0).unwrap_or(i64::MAX);
    let writes = i64::try_from(arm.1).unwrap_or(i64::MAX);
    let stopped = if manually_stopped { "true" } else { "false" };
    conn.execute(
        "UPDATE containers SET state = 'exited', exit_code = ?2, finished_at = ?3, agent_token_hash = NULL, \
         config = json_set(config, '$.arm_reads', ?4, '$.arm_writes', ?5, '$.manually_stopped', json(?6)) \
         WHERE id = ?1",
        params![id, code, now, reads, writes, stopped],
    )?;
    get_container(conn, id)
}

/// Sets a container's current execution without touching the rest of its
/// record (the agent may already have changed its state).
pub fn set_execution_name(conn: &Connection, id: &str, execution: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE containers SET execution_name = ?2 WHERE id = ?1",
        params![id, execution],
    )? > 0)
}

/// Queues the deletion of `job` (in the transaction that removes its
/// container's record, so a crash cannot lose it).
pub fn queue_job_delete(conn: &Connection, job: &str, now_nanos: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO job_deletes (job_name, queued_at) VALUES (?1, ?2)",
        params![job, now_nanos],
    )?;
    Ok(())
}

/// The queued job deletions, oldest first.
pub fn queued_job_deletes(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT job_name FROM job_deletes ORDER BY queued_at, job_name")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    rows.collect()
}

/// Forgets a queued deletion once Azure confirmed it.
pub fn job_delete_done(conn: &Connection, job: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM job_deletes WHERE job_name = ?1", params![job])? > 0)
}

/// Replaces a container's Docker config (`docker update`) and nothing else
/// of its record (its state may change meanwhile).
pub fn set_body(conn: &Connection, id: &str, body: &serde_json::Value) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE containers SET config = json_set(config, '$.body', json(?2)) WHERE id = ?1",
        params![id, body.to_string()],
    )? > 0)
}
