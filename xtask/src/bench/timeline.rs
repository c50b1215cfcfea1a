//! The `docker run --rm` timeline: phase events from the daemon's log
//! (target `sockerless_timeline`) and ARM calls from the emulator's request
//! log, classified into the client's critical path and after. Pure parts,
//! unit-tested; times are Unix seconds (f64), one clock: the emulator runs
//! inside the daemon, and the bench on the same machine.

use serde_json::Value;

/// Target of the backend's phase events (`sockerless_backend_aca::runtime::TIMELINE`).
pub const TARGET: &str = "sockerless_timeline";

/// Unix seconds of an RFC 3339 UTC timestamp (`2026-12-05T14:50:49.123456Z`,
/// as tracing and the emulator write them); `None` for other forms.
pub fn parse_rfc3339(s: &str) -> Option<f64> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (h, min, sec) = (t.next()??, t.next()??, t.next()??);
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac: f64 = format!("0.{frac}").parse().ok()?;
    let days = days_from_civil(y, m, day);
    Some((days * 86_400 + h * 3600 + min * 60 + sec) as f64 + frac)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// One phase event of one container.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseEvent {
    pub time: f64,
    pub phase: String,
    pub container: String,
    /// Other fields (`job`, `execution`, `code`).
    pub fields: Vec<(String, String)>,
}

impl PhaseEvent {
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The phase events in a daemon log (tracing's text format, no ANSI):
/// `TIME DEBUG [spans: ]sockerless_timeline: PHASE container=ID key=value…`.
pub fn phase_events(log: &str) -> Vec<PhaseEvent> {
    let marker = format!(" {TARGET}: ");
    log.lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(&marker)?;
            let time = parse_rfc3339(before.split_whitespace().next()?)?;
            let mut words = after.split_whitespace();
            let phase = words.next()?.to_owned();
            let fields: Vec<(String, String)> = words
                .filter_map(|w| w.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
                .collect();
            let container = fields.iter().find(|(k, _)| k == "container")?.1.clone();
            Some(PhaseEvent {
                time,
                phase,
                container,
                fields,
            })
        })
        .collect()
}

/// The first event of `phase` for `container`.
pub fn phase_time(events: &[PhaseEvent], container: &str, phase: &str) -> Option<f64> {
    events
        .iter()
        .find(|e| e.container == container && e.phase == phase)
        .map(|e| e.time)
}

/// One ARM call from the emulator's request log.
#[derive(Debug, Clone, PartialEq)]
pub struct ArmCall {
    pub time: f64,
    pub method: String,
    pub path: String,
}

impl ArmCall {
    /// Reads are GET/HEAD; everything else (PUT, POST, PATCH, DELETE) writes.
    pub fn is_write(&self) -> bool {
        !matches!(self.method.as_str(), "GET" | "HEAD")
    }
}

/// The ARM calls (paths under `/subscriptions/`) of a `/_sim/requests`
/// answer; tokens, registry, Files and Log Analytics traffic is not ARM.
pub fn arm_calls(log: &Value) -> Vec<ArmCall> {
    log.as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|r| {
            let path = r["path"].as_str()?;
            if !path.starts_with("/subscriptions/") {
                return None;
            }
            Some(ArmCall {
                time: parse_rfc3339(r["time"].as_str()?)?,
                method: r["method"].as_str()?.to_owned(),
                path: path.to_owned(),
            })
        })
        .collect()
}

/// The windows of one `docker run --rm`, Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunWindows {
    /// The client started (before its create request).
    pub start: f64,
    /// `docker run` returned.
    pub returned: f64,
    /// The container's record went (the backend's `removed` event): the
    /// last thing `docker run --rm` waits for. Calls made after it (the
    /// job's deletion, queued) are not on the client's path even when they
    /// land before the client has read its answer.
    pub removed: Option<f64>,
    /// The job was gone (end of the "after" window).
    pub end: f64,
    /// The agent connected / the exit was recorded.
    pub agent: Option<(f64, f64)>,
}

/// ARM calls of one run, by window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArmCounts {
    pub critical_writes: usize,
    pub critical_reads: usize,
    pub after_writes: usize,
    pub after_reads: usize,
    /// Reads while the agent was connected (inside the critical path).
    pub reads_while_connected: usize,
    /// `window METHOD path` of each call, in order.
    pub calls: Vec<String>,
}

/// Classifies `calls` into the critical path (`start` until the client
/// returned or the record went, whichever came first) and after (until
/// `end`); calls outside both are another run's.
pub fn classify(calls: &[ArmCall], w: &RunWindows) -> ArmCounts {
    let mut c = ArmCounts::default();
    let critical_end = w.removed.map_or(w.returned, |r| r.min(w.returned));
    for call in calls {
        let window = if (w.start..=critical_end).contains(&call.time) {
            if call.is_write() {
                c.critical_writes += 1;
            } else {
                c.critical_reads += 1;
            }
            "critical"
        } else if call.time > critical_end && call.time <= w.end {
            if call.is_write() {
                c.after_writes += 1;
            } else {
                c.after_reads += 1;
            }
            "after"
        } else {
            continue;
        };
        if !call.is_write()
            && w.agent
                .is_some_and(|(from, to)| (from..=to).contains(&call.time))
        {
            c.reads_while_connected += 1;
        }
        c.calls
            .push(format!("{window} {} {}", call.method, call.path));
    }
    c
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn rfc3339_times_are_unix_seconds() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_rfc3339("2000-03-01T00:00:01.5Z"), Some(951_868_801.5));
        let t = parse_rfc3339("2026-12-05T14:50:49.123456Z").expect("parses");
        assert!((t - 1_796_482_249.123_456).abs() < 1e-6, "{t}");
        assert_eq!(parse_rfc3339("2026-12-05T14:50:49+01:00"), None);
        assert_eq!(parse_rfc3339("garbage"), None);
    }

    #[test]
    fn phase_events_are_read_from_the_log_with_or_without_spans() {
        let log = "\
2026-12-05T14:50:49.000000Z  INFO sockerless_backend_aca::containers: container created container=abc
2026-12-05T14:50:49.000100Z DEBUG sockerless_timeline: created container=abc
2026-12-05T14:50:49.500000Z DEBUG request{method=POST}: sockerless_timeline: job_written container=abc job=j-abc
2026-12-05T14:50:50.000000Z DEBUG sockerless_timeline: exited container=abc code=0
not a log line sockerless_timeline: nothing
";
        let events = phase_events(log);
        assert_eq!(events.len(), 3);
        assert_eq!(events[1].phase, "job_written");
        assert_eq!(events[1].field("job"), Some("j-abc"));
        assert_eq!(events[2].field("code"), Some("0"));
        let created = phase_time(&events, "abc", "created").expect("created");
        let written = phase_time(&events, "abc", "job_written").expect("written");
        assert!((written - created - 0.4999).abs() < 1e-6);
        assert_eq!(phase_time(&events, "other", "created"), None);
    }

    fn call(time: f64, method: &str, path: &str) -> ArmCall {
        ArmCall {
            time,
            method: method.into(),
            path: path.into(),
        }
    }

    #[test]
    fn only_arm_paths_with_a_time_are_calls() {
        let log = json!([
            {"seq": 1, "method": "POST", "path": "/msi/token", "time": "2026-12-05T14:50:49Z"},
            {"seq": 2, "method": "PUT", "path": "/subscriptions/s/jobs/j", "time": "2026-12-05T14:50:49Z"},
            {"seq": 3, "method": "GET", "path": "/v2/agent/manifests/latest", "time": "2026-12-05T14:50:49Z"},
            {"seq": 4, "method": "GET", "path": "/subscriptions/s/jobs/j"}
        ]);
        let calls = arm_calls(&log);
        assert_eq!(calls.len(), 1);
        assert!(calls[0].is_write());
        assert!(!call(0.0, "GET", "/").is_write());
        assert!(call(0.0, "DELETE", "/").is_write());
    }

    #[test]
    fn calls_are_split_into_critical_path_and_after() {
        let calls = [
            call(0.5, "GET", "/subscriptions/s/before"),
            call(1.1, "PUT", "/subscriptions/s/jobs/j"),
            call(1.2, "POST", "/subscriptions/s/jobs/j/start"),
            call(1.5, "GET", "/subscriptions/s/jobs/j/executions/e"),
            call(2.0, "DELETE", "/subscriptions/s/jobs/j"),
            call(3.5, "GET", "/subscriptions/s/operations/o"),
            call(9.0, "GET", "/subscriptions/s/later"),
        ];
        let w = RunWindows {
            start: 1.0,
            returned: 3.0,
            removed: None,
            end: 4.0,
            agent: Some((1.4, 1.9)),
        };
        let c = classify(&calls, &w);
        assert_eq!(
            (
                c.critical_writes,
                c.critical_reads,
                c.after_writes,
                c.after_reads
            ),
            (3, 1, 0, 1)
        );
        assert_eq!(c.reads_while_connected, 1);
        assert_eq!(c.calls[0], "critical PUT /subscriptions/s/jobs/j");
        assert_eq!(c.calls[4], "after GET /subscriptions/s/operations/o");
        let no_agent = RunWindows { agent: None, ..w };
        assert_eq!(classify(&calls, &no_agent).reads_while_connected, 0);
        // The record went at 1.8: the DELETE at 2.0 is the queued deletion,
        // after the client's path although before it returned.
        let removed = classify(
            &calls,
            &RunWindows {
                removed: Some(1.8),
                ..w
            },
        );
        assert_eq!(
            (removed.critical_writes, removed.after_writes),
            (2, 1),
            "{:?}",
            removed.calls
        );
    }
}
