//! The Log Analytics fallback for `docker logs`: console lines of a job's
//! execution from `ContainerAppConsoleLogs_CL` (replica names start with the
//! execution name). Log Analytics lags behind, so this returns what it finds.

use serde_json::Value;
use sockerless_api::ApiError;
use sockerless_azure::loganalytics::QueryResults;

use crate::store::logs::LogLine;

/// Table of console logs when the environment sends logs to Log Analytics.
pub const CONSOLE_TABLE: &str = "ContainerAppConsoleLogs_CL";

fn kql_string(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The KQL reading one execution's console output in order: the user's
/// container only, not the init container that installs the agent.
pub fn console_query(job: &str, execution: &str) -> String {
    format!(
        "{CONSOLE_TABLE} | where ContainerJobName_s == {} and ContainerGroupName_s startswith {} \
         and ContainerName_s == {} | order by TimeGenerated asc | project TimeGenerated, Stream_s, Log_s",
        kql_string(job),
        kql_string(execution),
        kql_string(crate::runtime::template::MAIN_CONTAINER)
    )
}

/// The answer for output that was never captured while Log Analytics has
/// not created the console table yet (it does so with the workspace's first
/// row, minutes after a replica prints): there is nothing to show *yet*,
/// which an empty log would hide.
pub fn nothing_yet(workspace: &str, execution: &str) -> ApiError {
    ApiError::Unavailable(format!(
        "the output of execution {execution} was not captured by the sockerless agent, and \
         Log Analytics has nothing yet: workspace {workspace} has no {CONSOLE_TABLE} table \
         until its first console row is ingested (minutes after a replica prints); try again later"
    ))
}

fn parse_time(v: &Value) -> i64 {
    v.as_str()
        .and_then(|s| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
        })
        .map(|t| i64::try_from(t.unix_timestamp_nanos()).unwrap_or(0))
        .unwrap_or(0)
}

/// Turns query results into log lines (sequence numbers are row indexes).
pub fn lines_from(results: &QueryResults) -> Result<Vec<LogLine>, ApiError> {
    let Some(table) = results.tables.first() else {
        return Ok(Vec::new());
    };
    let col = |name: &str| {
        table
            .column(name)
            .ok_or_else(|| ApiError::Internal(format!("Log Analytics answer has no column {name}")))
    };
    let (t, s, l) = (col("TimeGenerated")?, col("Stream_s")?, col("Log_s")?);
    Ok(table
        .rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let stream = match row.get(s).and_then(Value::as_str) {
                Some("stderr") => 2,
                _ => 1,
            };
            let mut data = row
                .get(l)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .as_bytes()
                .to_vec();
            data.push(b'\n');
            LogLine {
                seq: i as i64,
                stream,
                time_nanos: row.get(t).map(parse_time).unwrap_or(0),
                data,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_filters_job_and_execution() {
        assert_eq!(
            console_query("sl-abc", "sl-abc-x1y2z3a"),
            "ContainerAppConsoleLogs_CL | where ContainerJobName_s == 'sl-abc' and \
             ContainerGroupName_s startswith 'sl-abc-x1y2z3a' and ContainerName_s == 'main' \
             | order by TimeGenerated asc | project TimeGenerated, Stream_s, Log_s"
        );
        assert!(console_query("a'b", "c").contains(r"'a\'b'"));
    }

    #[test]
    fn rows_become_lines() {
        let results: QueryResults = serde_json::from_value(serde_json::json!({
            "tables": [{"name": "PrimaryResult", "columns": [
                {"name": "TimeGenerated", "type": "datetime"},
                {"name": "Stream_s", "type": "string"},
                {"name": "Log_s", "type": "string"}],
              "rows": [["2026-01-01T00:00:01Z", "stdout", "out"], ["2026-01-01T00:00:02Z", "stderr", "err"]]}]
        }))
        .expect("results");
        let lines = lines_from(&results).expect("lines");
        assert_eq!(lines.len(), 2);
        assert_eq!(
            (lines[0].stream, lines[0].data.as_slice()),
            (1, &b"out\n"[..])
        );
        assert_eq!(
            (lines[1].stream, lines[1].data.as_slice()),
            (2, &b"err\n"[..])
        );
        assert_eq!(lines[1].time_nanos, 1_767_225_602_000_000_000);
    }
}
