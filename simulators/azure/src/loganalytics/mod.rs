//! Log Analytics query API (`/v1/workspaces/{id}/query`) over the console
//! output of replica containers, as table `ContainerAppConsoleLogs_CL`.

mod eval;
#[cfg(test)]
mod ingestion_tests;
pub mod kql;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use crate::auth::{LOG_ANALYTICS_AUDIENCES, TokenError};
use crate::config::Timing;
use crate::state::AppState;

pub use eval::{COLUMNS, TABLE};

/// Where console lines come from: the same for every line of a container,
/// so its rows share one.
#[derive(Debug, Clone, Default)]
pub struct LineSource {
    /// Workspace customer ID.
    pub workspace_id: String,
    /// Job name.
    pub job_name: String,
    /// Job ARM ID.
    pub job_id: String,
    /// Environment name.
    pub environment_name: String,
    /// Replica name (starts with the execution name).
    pub replica: String,
    /// Container name from the template.
    pub container: String,
    /// Image.
    pub image: String,
    /// Engine container ID.
    pub container_id: String,
}

/// A line of console output as the runner sees it.
#[derive(Debug, Clone)]
pub struct ConsoleLine {
    /// Its container.
    pub source: Arc<LineSource>,
    /// `stdout` or `stderr`.
    pub stream: &'static str,
    /// The line, without its newline.
    pub log: String,
}

/// A stored row.
#[derive(Debug, Clone)]
pub struct LogRow {
    /// The line.
    pub line: ConsoleLine,
    /// When it was printed.
    pub time_generated: DateTime<Utc>,
    /// When it became queryable.
    pub time_received: DateTime<Utc>,
}

impl LogRow {
    /// Bytes it holds, for the store's bound: the row and its text (the
    /// source is shared by all the rows of a container).
    fn cost(&self) -> usize {
        std::mem::size_of::<LogRow>() + self.line.log.capacity()
    }
}

/// Ingested console output, oldest dropped past a byte bound (as a
/// workspace's retention drops old rows): a container printing without end
/// must not grow the emulator's memory.
#[derive(Clone)]
pub struct LogStore {
    rows: Arc<Mutex<Rows>>,
    delay: TimeDelta,
    // Shared by the clones (replicas' log tasks hold one): `PUT /_sim/timing`
    // changes them for every row ingested from then on.
    jitter_ms: Arc<std::sync::atomic::AtomicU64>,
    table_absent_until_first_row: Arc<std::sync::atomic::AtomicBool>,
    max_bytes: usize,
}

#[derive(Default)]
struct Rows {
    rows: std::collections::VecDeque<LogRow>,
    bytes: usize,
    /// When each workspace's (lowercase) first row became queryable: its
    /// table exists from then on, whatever retention drops later. One entry
    /// per workspace of a seeded environment.
    first_row: HashMap<String, DateTime<Utc>>,
}

/// Default bound of the console rows kept, in bytes.
pub const DEFAULT_MAX_BYTES: usize = 16 << 20;

impl LogStore {
    /// A store whose rows become visible `delay` after ingestion, keeping at
    /// most [`DEFAULT_MAX_BYTES`].
    pub fn new(delay: Duration) -> Self {
        Self::bounded(delay, DEFAULT_MAX_BYTES)
    }

    /// [`LogStore::new`] keeping at most `max_bytes` of rows.
    pub fn bounded(delay: Duration, max_bytes: usize) -> Self {
        LogStore {
            rows: Arc::new(Mutex::new(Rows::default())),
            delay: TimeDelta::from_std(delay).unwrap_or(TimeDelta::MAX),
            jitter_ms: Arc::default(),
            table_absent_until_first_row: Arc::default(),
            max_bytes,
        }
    }

    /// The store with `timing`'s ingestion figures: each row's delay gets a
    /// random extra of up to `ingestion_jitter_ms` (rows become queryable out
    /// of order), and a workspace may have no table before its first row.
    pub fn with_timing(self, timing: &Timing) -> Self {
        self.set_timing(timing);
        self
    }

    /// Applies `timing`'s ingestion figures from now on (this store and its clones).
    pub fn set_timing(&self, timing: &Timing) {
        use std::sync::atomic::Ordering::Relaxed;
        self.jitter_ms.store(timing.ingestion_jitter_ms, Relaxed);
        self.table_absent_until_first_row
            .store(timing.table_absent_until_first_row, Relaxed);
    }

    /// Ingests a line printed now.
    pub fn ingest(&self, line: ConsoleLine) {
        let now = Utc::now();
        let extra = i64::try_from(crate::arm::store::jitter(
            self.jitter_ms.load(std::sync::atomic::Ordering::Relaxed),
        ))
        .unwrap_or(0);
        let time_received = now
            .checked_add_signed(self.delay)
            .and_then(|t| t.checked_add_signed(TimeDelta::milliseconds(extra)))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let workspace = line.source.workspace_id.to_ascii_lowercase();
        let row = LogRow {
            line,
            time_generated: now,
            time_received,
        };
        let mut rows = self.rows.lock().unwrap_or_else(|p| p.into_inner());
        let first = rows.first_row.entry(workspace).or_insert(time_received);
        *first = (*first).min(time_received);
        rows.bytes += row.cost();
        rows.rows.push_back(row);
        while rows.bytes > self.max_bytes {
            let Some(old) = rows.rows.pop_front() else {
                break;
            };
            rows.bytes -= old.cost();
        }
        // A burst that was dropped since leaves no queue sized for it.
        let len = rows.rows.len();
        if rows.rows.capacity() > 4 * len.max(1024) {
            rows.rows.shrink_to(2 * len);
        }
    }

    /// Whether `ContainerAppConsoleLogs_CL` exists at `now` in one of
    /// `workspaces`: always, unless the table is absent until a workspace's
    /// first row is queryable (Azure creates a custom table on first
    /// ingestion).
    pub fn table_exists(&self, workspaces: &[String], now: DateTime<Utc>) -> bool {
        if !self
            .table_absent_until_first_row
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return true;
        }
        let rows = self.rows.lock().unwrap_or_else(|p| p.into_inner());
        workspaces.iter().any(|w| {
            rows.first_row
                .get(&w.to_ascii_lowercase())
                .is_some_and(|t| *t <= now)
        })
    }

    /// Rows of `workspaces` that are visible at `now`.
    pub fn visible(&self, workspaces: &[String], now: DateTime<Utc>) -> Vec<LogRow> {
        self.rows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .rows
            .iter()
            .filter(|r| {
                r.time_received <= now
                    && workspaces
                        .iter()
                        .any(|w| w.eq_ignore_ascii_case(&r.line.source.workspace_id))
            })
            .cloned()
            .collect()
    }
}

/// The answer to a refused query: `BadArgumentError` around the KQL error.
/// A semantic error nests as Log Analytics does: `SemanticError` ("A
/// semantic error occurred.") around Kusto's own code, `SEM0100` for a name
/// that does not resolve (a table not there yet among them).
fn kql_error(e: &kql::KqlError) -> Response {
    let mut inner = json!({"code": e.code, "message": e.message});
    if e.code == "SemanticError" && e.message.contains("Failed to resolve") {
        inner = json!({
            "code": "SemanticError",
            "message": "A semantic error occurred.",
            "innererror": {"code": "SEM0100", "message": e.message},
        });
    }
    let error = json!({
        "message": "The request had some invalid properties",
        "code": "BadArgumentError",
        "correlationId": uuid::Uuid::new_v4().to_string(),
        "innererror": inner,
    });
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({ "error": error })),
    )
        .into_response()
}

/// A Log Analytics error response.
pub fn la_error(
    status: StatusCode,
    code: &str,
    message: &str,
    inner: Option<(&str, &str)>,
) -> Response {
    let mut error = json!({
        "code": code,
        "message": message,
        "correlationId": uuid::Uuid::new_v4().to_string(),
    });
    if let Some((c, m)) = inner {
        error["innererror"] = json!({"code": c, "message": m});
    }
    (status, axum::Json(json!({ "error": error }))).into_response()
}

/// Parses an ISO 8601 duration (`PT1H`, `P1DT2H30M`, `PT0.5S`).
pub fn parse_iso_duration(s: &str) -> Option<TimeDelta> {
    let rest = s.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut total = 0f64;
    let mut parse_part = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut num = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                num.push(c);
            } else {
                let mult = units.iter().find(|(u, _)| *u == c)?.1;
                total += num.parse::<f64>().ok()? * mult;
                num.clear();
            }
        }
        num.is_empty().then_some(())
    };
    parse_part(date, &[('W', 604800.0), ('D', 86400.0)])?;
    if let Some(t) = time {
        if t.is_empty() {
            return None;
        }
        parse_part(t, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    (total.is_finite() && total < 1e12 && rest != "T" && !rest.is_empty())
        .then(|| TimeDelta::milliseconds((total * 1000.0) as i64))
}

/// Parses a `timespan` into [start, end].
pub fn parse_timespan(s: &str, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let point = |p: &str| {
        DateTime::parse_from_rfc3339(p)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    match s.split_once('/') {
        None => Some((now.checked_sub_signed(parse_iso_duration(s)?)?, now)),
        Some((a, b)) => match (point(a), point(b)) {
            (Some(a), Some(b)) => Some((a, b)),
            (Some(a), None) => Some((a, a.checked_add_signed(parse_iso_duration(b)?)?)),
            (None, Some(b)) => Some((b.checked_sub_signed(parse_iso_duration(a)?)?, b)),
            (None, None) => None,
        },
    }
}

/// `GET|POST /v1/workspaces/{workspaceId}/query`.
pub async fn query(
    State(state): State<Arc<AppState>>,
    Path(workspace): Path<String>,
    method: Method,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    match state.tokens.check_bearer(&headers, LOG_ANALYTICS_AUDIENCES) {
        Ok(claims) => {
            if let Some(r) = crate::roles::checks::check_log_analytics(&state, &claims) {
                return r;
            }
        }
        Err(TokenError::Missing) => {
            return la_error(
                StatusCode::UNAUTHORIZED,
                "AuthorizationRequiredError",
                "Valid authentication was not provided",
                None,
            );
        }
        Err(e) => {
            return la_error(
                StatusCode::FORBIDDEN,
                "InvalidTokenError",
                &e.to_string(),
                None,
            );
        }
    }
    let (text, timespan, extra) = if method == Method::POST {
        let body: Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return la_error(
                    StatusCode::BAD_REQUEST,
                    "BadArgumentError",
                    "The request body is not valid JSON",
                    Some(("InvalidJson", &e.to_string())),
                );
            }
        };
        let extra: Vec<String> = body["workspaces"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| w.as_str().map(str::to_string))
            .collect();
        (
            body["query"].as_str().map(str::to_string),
            body["timespan"].as_str().map(str::to_string),
            extra,
        )
    } else {
        (
            q.get("query").cloned(),
            q.get("timespan").cloned(),
            Vec::new(),
        )
    };
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return la_error(
            StatusCode::BAD_REQUEST,
            "BadArgumentError",
            "The request had some invalid properties",
            Some(("QueryMissing", "The 'query' property is required.")),
        );
    };
    let known: Vec<String> = state
        .arm()
        .environment_workspaces
        .values()
        .cloned()
        .collect();
    let mut workspaces = vec![workspace];
    workspaces.extend(extra);
    for w in &workspaces {
        if !known.iter().any(|k| k.eq_ignore_ascii_case(w)) {
            return la_error(
                StatusCode::NOT_FOUND,
                "WorkspaceNotFoundError",
                &format!("The workspace could not be found: {w}"),
                None,
            );
        }
    }
    let now = Utc::now();
    let window = match timespan.as_deref().map(|t| parse_timespan(t, now)) {
        None => None,
        Some(Some(w)) => Some(w),
        Some(None) => {
            return la_error(
                StatusCode::BAD_REQUEST,
                "BadArgumentError",
                "The request had some invalid properties",
                Some((
                    "InvalidTimespan",
                    "The 'timespan' is not a valid ISO 8601 duration or interval.",
                )),
            );
        }
    };
    let parsed = match kql::parse(&text, now) {
        Ok(p) => p,
        Err(e) => return kql_error(&e),
    };
    if parsed.table == TABLE && !state.logs.table_exists(&workspaces, now) {
        return kql_error(&eval::unresolved_table(&parsed));
    }
    let mut rows = state.logs.visible(&workspaces, now);
    if let Some((start, end)) = window {
        rows.retain(|r| r.time_generated >= start && r.time_generated <= end);
    }
    match eval::run(&parsed, &rows) {
        Ok(table) => axum::Json(json!({ "tables": [table] })).into_response(),
        Err(e) => kql_error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_visible_after_the_ingestion_delay() {
        let store = LogStore::new(Duration::from_secs(5));
        store.ingest(ConsoleLine {
            source: Arc::new(LineSource {
                workspace_id: "W".into(),
                job_name: "j".into(),
                job_id: "id".into(),
                environment_name: "e".into(),
                replica: "r".into(),
                container: "c".into(),
                image: "i".into(),
                container_id: "x".into(),
            }),
            stream: "stdout",
            log: "hello".into(),
        });
        let now = Utc::now();
        let w = vec!["w".to_string()];
        assert!(store.visible(&w, now).is_empty());
        let later = now + TimeDelta::seconds(6);
        assert_eq!(store.visible(&w, later).len(), 1);
        assert!(store.visible(&["other".to_string()], later).is_empty());
    }

    #[test]
    fn the_oldest_rows_go_past_the_bound() {
        let store = LogStore::bounded(Duration::ZERO, 10_000);
        let source = Arc::new(LineSource {
            workspace_id: "w".into(),
            ..LineSource::default()
        });
        for i in 0..1000 {
            store.ingest(ConsoleLine {
                source: source.clone(),
                stream: "stdout",
                log: format!("{i:0100}"),
            });
        }
        let rows = store.visible(&["w".to_string()], Utc::now() + TimeDelta::seconds(1));
        assert!(rows.len() < 100 && !rows.is_empty(), "{}", rows.len());
        assert_eq!(
            rows.last().map(|r| r.line.log.clone()),
            Some(format!("{:0100}", 999))
        );
    }

    #[test]
    fn iso_durations() {
        assert_eq!(parse_iso_duration("PT1H"), Some(TimeDelta::hours(1)));
        assert_eq!(
            parse_iso_duration("P1DT30M"),
            Some(TimeDelta::minutes(1470))
        );
        assert_eq!(
            parse_iso_duration("PT0.5S"),
            Some(TimeDelta::milliseconds(500))
        );
        for bad in ["", "P", "PT", "1H", "PT1X", "PT1", "P1H"] {
            assert_eq!(parse_iso_duration(bad), None, "{bad}");
        }
        let now = Utc::now();
        let (a, b) = parse_timespan("2024-01-01T00:00:00Z/PT1H", now).unwrap();
        assert_eq!(b - a, TimeDelta::hours(1));
        assert!(parse_timespan("x/y", now).is_none());
    }
}
