//! Versioned schema migrations (`PRAGMA user_version` = migrations applied).

use rusqlite::Connection;

/// Migrations in order; never edit one that shipped, append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: the maps of ACA-001 criterion 7.
    r#"
    CREATE TABLE containers (
        id               TEXT PRIMARY KEY,
        name             TEXT NOT NULL UNIQUE,
        image            TEXT NOT NULL,
        job_name         TEXT NOT NULL UNIQUE,
        execution_name   TEXT,
        agent_address    TEXT,
        agent_token_hash TEXT,
        state            TEXT NOT NULL,
        exit_code        INTEGER,
        created_at       INTEGER NOT NULL,
        started_at       INTEGER,
        finished_at      INTEGER,
        config           TEXT NOT NULL
    );
    CREATE INDEX containers_state ON containers(state);
    CREATE TABLE images (
        reference  TEXT PRIMARY KEY,
        digest     TEXT NOT NULL,
        config     TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX images_digest ON images(digest);
    CREATE TABLE networks (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL UNIQUE,
        config     TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE volumes (
        name            TEXT PRIMARY KEY,
        file_share_name TEXT NOT NULL UNIQUE,
        config          TEXT NOT NULL,
        created_at      INTEGER NOT NULL
    );
    CREATE TABLE execs (
        id           TEXT PRIMARY KEY,
        container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        config       TEXT NOT NULL,
        running      INTEGER NOT NULL DEFAULT 0,
        exit_code    INTEGER,
        created_at   INTEGER NOT NULL
    );
    CREATE INDEX execs_container ON execs(container_id);
    "#,
    // 2: output captured from the agent (bounded per container, see store::logs).
    r#"
    CREATE TABLE container_logs (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        container_id TEXT NOT NULL,
        stream       INTEGER NOT NULL,
        time_nanos   INTEGER NOT NULL,
        data         BLOB NOT NULL
    );
    CREATE INDEX container_logs_container ON container_logs(container_id, seq);
    CREATE TABLE container_log_totals (
        container_id TEXT PRIMARY KEY,
        bytes        INTEGER NOT NULL
    );
    "#,
    // 3: job deletions owed to Azure after their container's record went
    // (`docker rm` does not wait for them; see runtime::collect).
    r#"
    CREATE TABLE job_deletes (
        job_name  TEXT PRIMARY KEY,
        queued_at INTEGER NOT NULL
    );
    "#,
    // 4: how far the main process's output of the current run was stored,
    // committed with the output itself: a restarted backend resumes the
    // agent's streams from here, so nothing is lost or stored twice.
    r#"
    CREATE TABLE output_offsets (
        container_id TEXT PRIMARY KEY,
        stdout       INTEGER NOT NULL DEFAULT 0,
        stderr       INTEGER NOT NULL DEFAULT 0
    );
    "#,
    // 5: the health of a container's current (or last) run as its agent
    // reported it, so `docker inspect` and `ps` show it across a restart
    // of the backend.
    r#"
    CREATE TABLE container_health (
        container_id TEXT PRIMARY KEY,
        state        TEXT NOT NULL
    );
    "#,
    // 6: Docker events, newest kept (see events::EVENTS_KEPT), so
    // `docker events --since` answers across a restart of the backend.
    r#"
    CREATE TABLE events (
        seq        INTEGER PRIMARY KEY,
        time_nano  INTEGER NOT NULL,
        type       TEXT NOT NULL,
        action     TEXT NOT NULL,
        actor_id   TEXT NOT NULL,
        attributes TEXT NOT NULL,
        scope      TEXT NOT NULL
    );
    "#,
];

/// Applies the migrations not yet applied, each in its own transaction.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<u32> {
    let current: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = i64::try_from(index + 1).unwrap_or(i64::MAX);
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}
