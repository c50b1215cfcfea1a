//! The `events` table: Docker events in the order they were recorded (`seq`),
//! the newest [`KEPT`] kept, trimmed on every insert.

use rusqlite::{Connection, params};

/// Events kept in the store (dockerd keeps 256, in memory only).
pub const KEPT: i64 = 10_000;

/// One stored event; `attributes` is the actor's attributes as a JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    /// Order of recording, increasing across restarts.
    pub seq: i64,
    /// Nanoseconds since the epoch.
    pub time_nano: i64,
    /// `container`, `image`, `network`, `volume` …
    pub typ: String,
    /// `create`, `die`, `exec_start: sh` …
    pub action: String,
    /// The actor's ID.
    pub actor_id: String,
    /// The actor's attributes, JSON.
    pub attributes: String,
    /// `local`.
    pub scope: String,
}

/// The highest `seq` stored (0 when none).
pub fn max_seq(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))
}

/// Inserts `rows` in one transaction and drops all but the newest [`KEPT`].
pub fn insert(conn: &mut Connection, rows: &[EventRow]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut put = tx.prepare_cached(
            "INSERT OR REPLACE INTO events (seq, time_nano, type, action, actor_id, attributes, scope)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for row in rows {
            put.execute(params![
                row.seq,
                row.time_nano,
                row.typ,
                row.action,
                row.actor_id,
                row.attributes,
                row.scope
            ])?;
        }
    }
    if let Some(last) = rows.iter().map(|r| r.seq).max() {
        tx.execute(
            "DELETE FROM events WHERE seq <= ?1",
            params![last.saturating_sub(KEPT)],
        )?;
    }
    tx.commit()
}

/// Up to `limit` events with `after < seq < before` and `since <= time_nano
/// <= until`, in `seq` order: one page of a history replay.
pub fn page(
    conn: &Connection,
    after: i64,
    before: i64,
    since: i64,
    until: i64,
    limit: usize,
) -> rusqlite::Result<Vec<EventRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, time_nano, type, action, actor_id, attributes, scope FROM events
         WHERE seq > ?1 AND seq < ?2 AND time_nano >= ?3 AND time_nano <= ?4
         ORDER BY seq LIMIT ?5",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    stmt.query_map(params![after, before, since, until, limit], |r| {
        Ok(EventRow {
            seq: r.get(0)?,
            time_nano: r.get(1)?,
            typ: r.get(2)?,
            action: r.get(3)?,
            actor_id: r.get(4)?,
            attributes: r.get(5)?,
            scope: r.get(6)?,
        })
    })?
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: i64) -> EventRow {
        EventRow {
            seq,
            time_nano: seq * 10,
            typ: "container".into(),
            action: "start".into(),
            actor_id: format!("c{seq}"),
            attributes: "{}".into(),
            scope: "local".into(),
        }
    }

    fn conn() -> Connection {
        let mut c = Connection::open_in_memory().expect("open");
        crate::store::schema::migrate(&mut c).expect("migrate");
        c
    }

    #[test]
    fn pages_in_order_within_the_window() {
        let mut c = conn();
        insert(&mut c, &(1..=5).map(row).collect::<Vec<_>>()).expect("insert");
        assert_eq!(max_seq(&c).expect("max"), 5);
        let got = page(&c, 0, i64::MAX, 20, 40, 10).expect("page");
        assert_eq!(got.iter().map(|r| r.seq).collect::<Vec<_>>(), [2, 3, 4]);
        let got = page(&c, 2, 5, 0, i64::MAX, 1).expect("page");
        assert_eq!(got, [row(3)]);
    }

    #[test]
    fn keeps_only_the_newest() {
        let mut c = conn();
        insert(&mut c, &[row(1), row(2)]).expect("insert");
        insert(&mut c, &[row(KEPT + 2)]).expect("insert");
        let got = page(&c, 0, i64::MAX, 0, i64::MAX, 10).expect("page");
        assert_eq!(got.iter().map(|r| r.seq).collect::<Vec<_>>(), [KEPT + 2]);
        let count: i64 = c
            .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
            .expect("count");
        assert_eq!(count, 1);
    }
}
