//! Captured output in SQLite: one row per line (a trailing partial line is a
//! row of its own, as in Docker's json-file driver), bounded per container.
//! When a container's rows exceed the bound, the oldest rows are deleted.

use rusqlite::{Connection, OptionalExtension, params};

/// One stored line (or partial line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Monotonic sequence number (global).
    pub seq: i64,
    /// 1 stdout, 2 stderr.
    pub stream: u8,
    /// When the backend received it, nanoseconds since the epoch.
    pub time_nanos: i64,
    /// The bytes, with the newline when the line is complete.
    pub data: Vec<u8>,
}

/// Which lines to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogQuery {
    /// Include stdout.
    pub stdout: bool,
    /// Include stderr.
    pub stderr: bool,
    /// Only lines at or after (nanoseconds).
    pub since_nanos: Option<i64>,
    /// Only lines before (nanoseconds).
    pub until_nanos: Option<i64>,
    /// Only the last N matching lines.
    pub tail: Option<u64>,
}

/// Splits `data` into lines, keeping each newline with its line.
pub fn split_lines(data: &[u8]) -> Vec<&[u8]> {
    data.split_inclusive(|b| *b == b'\n').collect()
}

/// One chunk of a container's output, as the pump stores it.
#[derive(Debug, Clone)]
pub struct Chunk<'a> {
    /// 1 stdout, 2 stderr.
    pub stream: u8,
    /// When it arrived.
    pub time_nanos: i64,
    /// The bytes.
    pub data: &'a [u8],
    /// The agent's offset just past this chunk on its stream, committed with
    /// it (see [`output_offsets`]); `None` for the backend's own lines.
    pub stream_end: Option<u64>,
}

/// Appends a chunk of output and trims the container's oldest lines beyond
/// `max_bytes`. Returns the sequence number of the last line inserted.
/// `stream_end`: the agent's offset just past this chunk on its stream,
/// committed with it (see [`output_offsets`]); `None` for the backend's own lines.
pub fn append(
    conn: &mut Connection,
    container_id: &str,
    stream: u8,
    time_nanos: i64,
    data: &[u8],
    max_bytes: u64,
    stream_end: Option<u64>,
) -> rusqlite::Result<i64> {
    let chunk = Chunk {
        stream,
        time_nanos,
        data,
        stream_end,
    };
    let seqs = append_batch(conn, container_id, &[chunk], max_bytes)?;
    Ok(seqs.first().copied().unwrap_or(0))
}

/// Appends several chunks in one transaction (one trip to the disk for a
/// burst of output) and trims the oldest lines beyond `max_bytes`. Returns
/// each chunk's last sequence number.
pub fn append_batch(
    conn: &mut Connection,
    container_id: &str,
    chunks: &[Chunk<'_>],
    max_bytes: u64,
) -> rusqlite::Result<Vec<i64>> {
    let tx = conn.transaction()?;
    let mut seqs = Vec::with_capacity(chunks.len());
    let mut added: i64 = 0;
    for chunk in chunks {
        if let Some(end) = chunk.stream_end {
            let end = i64::try_from(end).unwrap_or(i64::MAX);
            let sql = if chunk.stream == 2 {
                "INSERT INTO output_offsets (container_id, stderr) VALUES (?1, ?2) \
                 ON CONFLICT(container_id) DO UPDATE SET stderr = max(stderr, excluded.stderr)"
            } else {
                "INSERT INTO output_offsets (container_id, stdout) VALUES (?1, ?2) \
                 ON CONFLICT(container_id) DO UPDATE SET stdout = max(stdout, excluded.stdout)"
            };
            tx.execute(sql, params![container_id, end])?;
        }
        let mut last = 0;
        for line in split_lines(chunk.data) {
            tx.execute(
                "INSERT INTO container_logs (container_id, stream, time_nanos, data) VALUES (?1, ?2, ?3, ?4)",
                params![container_id, chunk.stream, chunk.time_nanos, line],
            )?;
            last = tx.last_insert_rowid();
            added += line.len() as i64;
        }
        seqs.push(last);
    }
    tx.execute(
        "INSERT INTO container_log_totals (container_id, bytes) VALUES (?1, ?2) \
         ON CONFLICT(container_id) DO UPDATE SET bytes = bytes + excluded.bytes",
        params![container_id, added],
    )?;
    let mut total: i64 = tx.query_row(
        "SELECT bytes FROM container_log_totals WHERE container_id = ?1",
        [container_id],
        |r| r.get(0),
    )?;
    let max = i64::try_from(max_bytes).unwrap_or(i64::MAX);
    while total > max {
        let oldest = pair(
            &tx,
            "SELECT seq, length(data) FROM container_logs WHERE container_id = ?1 ORDER BY seq LIMIT 1",
            container_id,
        )?;
        let Some((seq, len)) = oldest else { break };
        tx.execute("DELETE FROM container_logs WHERE seq = ?1", [seq])?;
        total -= len;
    }
    tx.execute(
        "UPDATE container_log_totals SET bytes = ?2 WHERE container_id = ?1",
        params![container_id, total.max(0)],
    )?;
    tx.commit()?;
    Ok(seqs)
}

/// Lines matching `q`, oldest first, all at once (see [`read_page`] for
/// reads that hold a page at a time).
pub fn read(conn: &Connection, container_id: &str, q: &LogQuery) -> rusqlite::Result<Vec<LogLine>> {
    let mut after = read_start(conn, container_id, q)?;
    let mut lines = Vec::new();
    loop {
        let page = read_page(conn, container_id, q, after, i64::MAX, 4096)?;
        let Some(last) = page.last() else {
            return Ok(lines);
        };
        after = last.seq;
        lines.extend(page);
    }
}

/// The streams `q` wants, for `(stream = ?2 OR stream = ?3)`; `None` when
/// it wants no line at all.
fn wanted_streams(q: &LogQuery) -> Option<(u8, u8)> {
    let streams: Vec<u8> = [(q.stdout, 1u8), (q.stderr, 2u8)]
        .into_iter()
        .filter_map(|(on, s)| on.then_some(s))
        .collect();
    let first = *streams.first()?;
    (q.tail != Some(0)).then(|| (first, streams.get(1).copied().unwrap_or(first)))
}

/// The sequence number after which the lines of `q` start: just before the
/// first line of its `tail`, or before every line.
pub fn read_start(conn: &Connection, container_id: &str, q: &LogQuery) -> rusqlite::Result<i64> {
    let (Some(tail), Some((first, second))) = (q.tail, wanted_streams(q)) else {
        return Ok(i64::MIN);
    };
    let before_tail: Option<i64> = conn
        .query_row(
            "SELECT seq FROM container_logs \
             WHERE container_id = ?1 AND (stream = ?2 OR stream = ?3) \
               AND time_nanos >= ?4 AND time_nanos < ?5 \
             ORDER BY seq DESC LIMIT 1 OFFSET ?6",
            params![
                container_id,
                first,
                second,
                q.since_nanos.unwrap_or(i64::MIN),
                q.until_nanos.unwrap_or(i64::MAX),
                i64::try_from(tail).unwrap_or(i64::MAX)
            ],
            |r| r.get(0),
        )
        .optional()?;
    Ok(before_tail.unwrap_or(i64::MIN))
}

/// Up to `limit` lines matching `q` (its `tail` aside: see [`read_start`])
/// after `after_seq` and at most `up_to_seq`, oldest first: `docker logs`
/// of a large log holds a page at a time, not the whole log.
pub fn read_page(
    conn: &Connection,
    container_id: &str,
    q: &LogQuery,
    after_seq: i64,
    up_to_seq: i64,
    limit: i64,
) -> rusqlite::Result<Vec<LogLine>> {
    let Some((first, second)) = wanted_streams(q) else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare_cached(
        "SELECT seq, stream, time_nanos, data FROM container_logs \
         WHERE container_id = ?1 AND (stream = ?2 OR stream = ?3) \
           AND time_nanos >= ?4 AND time_nanos < ?5 AND seq > ?6 AND seq <= ?7 \
         ORDER BY seq ASC LIMIT ?8",
    )?;
    let rows = stmt.query_map(
        params![
            container_id,
            first,
            second,
            q.since_nanos.unwrap_or(i64::MIN),
            q.until_nanos.unwrap_or(i64::MAX),
            after_seq,
            up_to_seq,
            limit
        ],
        log_line,
    )?;
    rows.collect()
}

/// A row of `SELECT seq, stream, time_nanos, data`.
fn log_line(r: &rusqlite::Row<'_>) -> rusqlite::Result<LogLine> {
    Ok(LogLine {
        seq: r.get(0)?,
        stream: r.get(1)?,
        time_nanos: r.get(2)?,
        data: r.get(3)?,
    })
}

/// Up to `limit` lines of the wanted streams after `after_seq`, oldest
/// first: a live follower that fell behind catches up a page at a time.
pub fn read_after(
    conn: &Connection,
    container_id: &str,
    wanted: (bool, bool),
    after_seq: i64,
    limit: i64,
) -> rusqlite::Result<Vec<LogLine>> {
    let streams: Vec<u8> = [(wanted.0, 1u8), (wanted.1, 2u8)]
        .into_iter()
        .filter_map(|(on, s)| on.then_some(s))
        .collect();
    let Some(first) = streams.first().copied() else {
        return Ok(Vec::new());
    };
    let second = streams.get(1).copied().unwrap_or(first);
    let mut stmt = conn.prepare(
        "SELECT seq, stream, time_nanos, data FROM container_logs \
         WHERE container_id = ?1 AND (stream = ?2 OR stream = ?3) AND seq > ?4 \
         ORDER BY seq ASC LIMIT ?5",
    )?;
    let rows = stmt.query_map(
        params![container_id, first, second, after_seq, limit],
        log_line,
    )?;
    rows.collect()
}

/// The first row of `sql` (two integers, `?1` the container) if any.
fn pair(conn: &Connection, sql: &str, container_id: &str) -> rusqlite::Result<Option<(i64, i64)>> {
    conn.query_row(sql, [container_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

/// The sequence number of the container's last stored line; `None` when
/// nothing was captured for it.
pub fn last_seq(conn: &Connection, container_id: &str) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT MAX(seq) FROM container_logs WHERE container_id = ?1",
        [container_id],
        |r| r.get(0),
    )
}

/// Whether any output was captured for the container.
pub fn has_any(conn: &Connection, container_id: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM container_logs WHERE container_id = ?1)",
        [container_id],
        |r| r.get(0),
    )
}

/// How far the main process's (stdout, stderr) of the current run are
/// stored: where a restarted backend resumes the agent's streams.
pub fn output_offsets(conn: &Connection, container_id: &str) -> rusqlite::Result<(u64, u64)> {
    let found = pair(
        conn,
        "SELECT stdout, stderr FROM output_offsets WHERE container_id = ?1",
        container_id,
    )?;
    let (out, err) = found.unwrap_or((0, 0));
    Ok((
        u64::try_from(out).unwrap_or(0),
        u64::try_from(err).unwrap_or(0),
    ))
}

/// A new execution's streams start at offset 0.
pub fn reset_output_offsets(conn: &Connection, container_id: &str) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM output_offsets WHERE container_id = ?1",
        [container_id],
    )?;
    Ok(())
}

/// Deletes a container's captured output.
pub fn delete(conn: &Connection, container_id: &str) -> rusqlite::Result<()> {
    reset_output_offsets(conn, container_id)?;
    conn.execute(
        "DELETE FROM container_logs WHERE container_id = ?1",
        [container_id],
    )?;
    conn.execute(
        "DELETE FROM container_log_totals WHERE container_id = ?1",
        [container_id],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The stored offsets advance with the output they belong to, per
    /// stream, never backwards; a new run starts from zero.
    #[test]
    fn output_offsets_are_committed_with_the_output() {
        let mut c = db();
        assert_eq!(output_offsets(&c, "a").expect("none"), (0, 0));
        append(&mut c, "a", 1, 1, b"one\n", 1 << 20, Some(4)).expect("append");
        append(&mut c, "a", 2, 2, b"e\n", 1 << 20, Some(2)).expect("append");
        append(&mut c, "a", 1, 3, b"two\n", 1 << 20, Some(8)).expect("append");
        append(&mut c, "a", 2, 4, b"backend line\n", 1 << 20, None).expect("append");
        append(&mut c, "a", 1, 5, b"old\n", 1 << 20, Some(3)).expect("append");
        assert_eq!(output_offsets(&c, "a").expect("offsets"), (8, 2));
        reset_output_offsets(&c, "a").expect("reset");
        assert_eq!(output_offsets(&c, "a").expect("reset"), (0, 0));
    }

    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().expect("open");
        crate::store::schema::migrate(&mut conn).expect("migrate");
        conn
    }

    fn all(conn: &Connection, id: &str) -> LogQuery {
        let _ = (conn, id);
        LogQuery {
            stdout: true,
            stderr: true,
            ..Default::default()
        }
    }

    fn text(lines: &[LogLine]) -> String {
        lines
            .iter()
            .map(|l| String::from_utf8_lossy(&l.data).into_owned())
            .collect()
    }

    #[test]
    fn lines_split_streams_and_tail() {
        let mut c = db();
        append(&mut c, "a", 1, 10, b"1\n2\n", 1 << 20, None).expect("append");
        append(&mut c, "a", 2, 20, b"err\n", 1 << 20, None).expect("append");
        append(&mut c, "a", 1, 30, b"3\npartial", 1 << 20, None).expect("append");
        append(&mut c, "b", 1, 30, b"other\n", 1 << 20, None).expect("append");
        let q = all(&c, "a");
        assert_eq!(
            text(&read(&c, "a", &q).expect("read")),
            "1\n2\nerr\n3\npartial"
        );
        let out = LogQuery {
            stderr: false,
            ..q.clone()
        };
        assert_eq!(
            text(&read(&c, "a", &out).expect("read")),
            "1\n2\n3\npartial"
        );
        let err = LogQuery {
            stdout: false,
            ..q.clone()
        };
        assert_eq!(text(&read(&c, "a", &err).expect("read")), "err\n");
        let tail = LogQuery {
            tail: Some(2),
            ..q.clone()
        };
        assert_eq!(text(&read(&c, "a", &tail).expect("read")), "3\npartial");
        let zero = LogQuery {
            tail: Some(0),
            ..q.clone()
        };
        assert!(read(&c, "a", &zero).expect("read").is_empty());
        let window = LogQuery {
            since_nanos: Some(20),
            until_nanos: Some(30),
            ..q.clone()
        };
        assert_eq!(text(&read(&c, "a", &window).expect("read")), "err\n");
        assert!(has_any(&c, "a").expect("any"));
        delete(&c, "a").expect("delete");
        assert!(!has_any(&c, "a").expect("any"));
        assert!(has_any(&c, "b").expect("any"));
    }

    #[test]
    fn oldest_lines_are_dropped_beyond_the_bound() {
        let mut c = db();
        for i in 0..100 {
            append(
                &mut c,
                "a",
                1,
                i,
                format!("line-{i:03}\n").as_bytes(),
                90,
                None,
            )
            .expect("append");
        }
        let lines = read(&c, "a", &all(&c, "a")).expect("read");
        let total: usize = lines.iter().map(|l| l.data.len()).sum();
        assert!(total <= 90, "{total}");
        assert_eq!(lines.len(), 10);
        assert_eq!(text(&lines[9..]), "line-099\n");
        assert_eq!(text(&lines[..1]), "line-090\n");
    }

    proptest! {
        #[test]
        fn split_keeps_every_byte(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let joined: Vec<u8> = split_lines(&data).concat();
            prop_assert_eq!(joined, data);
        }
    }
}
