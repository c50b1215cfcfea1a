//! Evaluates a parsed query over console-log rows.

use std::cmp::Ordering;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::LogRow;
use super::kql::{CmpOp, Comparison, KqlError, Literal, Query, Stage};

/// The table name.
pub const TABLE: &str = "ContainerAppConsoleLogs_CL";

/// Columns of the table and their types.
pub const COLUMNS: &[(&str, &str)] = &[
    ("TenantId", "string"),
    ("TimeGenerated", "datetime"),
    ("_timeReceived", "datetime"),
    ("ContainerAppName_s", "string"),
    ("ContainerJobName_s", "string"),
    ("ContainerGroupName_s", "string"),
    ("ContainerName_s", "string"),
    ("ContainerImage_s", "string"),
    ("ContainerId_s", "string"),
    ("EnvironmentName_s", "string"),
    ("Stream_s", "string"),
    ("Log_s", "string"),
    ("_ResourceId", "string"),
    ("Type", "string"),
];

#[derive(Debug, Clone, PartialEq)]
enum Cell {
    S(String),
    T(DateTime<Utc>),
}

fn cell(row: &LogRow, col: usize) -> Cell {
    let l = &row.line.source;
    match col {
        0 => Cell::S(l.workspace_id.clone()),
        1 => Cell::T(row.time_generated),
        2 => Cell::T(row.time_received),
        3 | 4 => Cell::S(l.job_name.clone()),
        5 => Cell::S(l.replica.clone()),
        6 => Cell::S(l.container.clone()),
        7 => Cell::S(l.image.clone()),
        8 => Cell::S(l.container_id.clone()),
        9 => Cell::S(l.environment_name.clone()),
        10 => Cell::S(row.line.stream.to_owned()),
        11 => Cell::S(row.line.log.clone()),
        12 => Cell::S(l.job_id.clone()),
        _ => Cell::S(super::TABLE.to_string()),
    }
}

fn semantic(message: String) -> KqlError {
    KqlError {
        code: "SemanticError",
        message,
    }
}

fn column_index(cols: &[usize], name: &str) -> Result<usize, KqlError> {
    cols.iter()
        .copied()
        .find(|c| COLUMNS.get(*c).is_some_and(|(n, _)| *n == name))
        .ok_or_else(|| {
            semantic(format!(
                "Failed to resolve scalar expression named '{name}'"
            ))
        })
}

fn matches(c: &Cell, cmp: &Comparison) -> Result<bool, KqlError> {
    match (c, &cmp.value) {
        (Cell::S(s), Literal::Str(v)) => Ok(match cmp.op {
            CmpOp::Eq => s == v,
            CmpOp::Ne => s != v,
            CmpOp::StartsWith => s.to_lowercase().starts_with(&v.to_lowercase()),
            _ => {
                return Err(semantic(format!(
                    "Operator {:?} cannot be applied to string column '{}'",
                    cmp.op, cmp.column
                )));
            }
        }),
        (Cell::T(t), Literal::Time(v)) => Ok(match cmp.op {
            CmpOp::Eq => t == v,
            CmpOp::Ne => t != v,
            CmpOp::Gt => t > v,
            CmpOp::Ge => t >= v,
            CmpOp::Lt => t < v,
            CmpOp::Le => t <= v,
            CmpOp::StartsWith => {
                return Err(semantic(format!(
                    "startswith cannot be applied to datetime column '{}'",
                    cmp.column
                )));
            }
        }),
        (Cell::S(_), _) => Err(semantic(format!(
            "Cannot compare string column '{}' with a non-string value",
            cmp.column
        ))),
        (Cell::T(_), _) => Err(semantic(format!(
            "Cannot compare datetime column '{}' with a non-datetime value; use datetime(...) or ago(...)",
            cmp.column
        ))),
    }
}

/// Type errors surface even when no row is left to compare.
fn check_types(t: &Comparison, kind: &str) -> Result<(), KqlError> {
    let probe = match kind {
        "datetime" => Cell::T(DateTime::<Utc>::UNIX_EPOCH),
        _ => Cell::S(String::new()),
    };
    matches(&probe, t).map(|_| ())
}

fn compare(a: &Cell, b: &Cell) -> Ordering {
    match (a, b) {
        (Cell::S(x), Cell::S(y)) => x.cmp(y),
        (Cell::T(x), Cell::T(y)) => x.cmp(y),
        (Cell::S(_), Cell::T(_)) => Ordering::Less,
        (Cell::T(_), Cell::S(_)) => Ordering::Greater,
    }
}

/// The error of a query whose table does not exist (in the workspace):
/// Kusto names the first operator applied to it.
pub fn unresolved_table(q: &Query) -> KqlError {
    let operator = match q.stages.first() {
        Some(Stage::Where(_)) => "'where' operator: ",
        Some(Stage::OrderBy(_)) => "'order' operator: ",
        Some(Stage::Take(_)) => "'take' operator: ",
        Some(Stage::Project(_)) => "'project' operator: ",
        None => "",
    };
    semantic(format!(
        "{operator}Failed to resolve table or column expression named '{}'",
        q.table
    ))
}

/// Runs `q` over `rows`, giving a `Table` of the response.
pub fn run(q: &Query, rows: &[LogRow]) -> Result<Value, KqlError> {
    if q.table != TABLE {
        return Err(unresolved_table(q));
    }
    let mut cols: Vec<usize> = (0..COLUMNS.len()).collect();
    let mut data: Vec<&LogRow> = rows.iter().collect();
    for stage in &q.stages {
        match stage {
            Stage::Where(terms) => {
                let idx: Vec<usize> = terms
                    .iter()
                    .map(|t| column_index(&cols, &t.column))
                    .collect::<Result<_, _>>()?;
                for (t, i) in terms.iter().zip(&idx) {
                    check_types(t, COLUMNS.get(*i).map(|c| c.1).unwrap_or("string"))?;
                }
                let mut kept = Vec::with_capacity(data.len());
                for r in data {
                    let mut ok = true;
                    for (t, i) in terms.iter().zip(&idx) {
                        if !matches(&cell(r, *i), t)? {
                            ok = false;
                            break;
                        }
                    }
                    if ok {
                        kept.push(r);
                    }
                }
                data = kept;
            }
            Stage::OrderBy(keys) => {
                let idx: Vec<(usize, bool)> = keys
                    .iter()
                    .map(|(c, d)| Ok((column_index(&cols, c)?, *d)))
                    .collect::<Result<_, KqlError>>()?;
                data.sort_by(|a, b| {
                    for (i, desc) in &idx {
                        let o = compare(&cell(a, *i), &cell(b, *i));
                        let o = if *desc { o.reverse() } else { o };
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                    Ordering::Equal
                });
            }
            Stage::Take(n) => data.truncate(*n),
            Stage::Project(names) => {
                cols = names
                    .iter()
                    .map(|n| column_index(&cols, n))
                    .collect::<Result<_, _>>()?;
            }
        }
    }
    let columns: Vec<Value> = cols
        .iter()
        .filter_map(|c| COLUMNS.get(*c))
        .map(|(n, t)| json!({"name": n, "type": t}))
        .collect();
    let out: Vec<Value> = data
        .iter()
        .map(|r| {
            Value::Array(
                cols.iter()
                    .map(|c| match cell(r, *c) {
                        Cell::S(s) => Value::String(s),
                        Cell::T(t) => Value::String(t.to_rfc3339_opts(SecondsFormat::Micros, true)),
                    })
                    .collect(),
            )
        })
        .collect();
    Ok(json!({"name": "PrimaryResult", "columns": columns, "rows": out}))
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::loganalytics::kql::parse;
    use crate::loganalytics::{ConsoleLine, LineSource};

    fn row(replica: &str, stream: &str, log: &str, secs: i64) -> LogRow {
        let t = DateTime::<Utc>::UNIX_EPOCH + TimeDelta::seconds(secs);
        LogRow {
            line: ConsoleLine {
                source: std::sync::Arc::new(LineSource {
                    workspace_id: "w".into(),
                    job_name: "job".into(),
                    job_id: "/jobs/job".into(),
                    environment_name: "env".into(),
                    replica: replica.into(),
                    container: "main".into(),
                    image: "img".into(),
                    container_id: "id".into(),
                }),
                stream: if stream == "stderr" {
                    "stderr"
                } else {
                    "stdout"
                },
                log: log.into(),
            },
            time_generated: t,
            time_received: t,
        }
    }

    #[test]
    fn where_order_take_project() {
        let rows = vec![
            row("job-abc-1", "stdout", "a", 3),
            row("job-abc-1", "stderr", "b", 1),
            row("job-xyz-1", "stdout", "c", 2),
            row("JOB-ABC-2", "stdout", "d", 4),
        ];
        let now = Utc::now();
        let q = parse("ContainerAppConsoleLogs_CL | where ContainerGroupName_s startswith 'job-abc' and ContainerJobName_s == 'job' | order by TimeGenerated asc | project Log_s, Stream_s", now).unwrap();
        let t = run(&q, &rows).unwrap();
        assert_eq!(
            t["rows"],
            json!([["b", "stderr"], ["a", "stdout"], ["d", "stdout"]])
        );
        let q = parse("ContainerAppConsoleLogs_CL | where Stream_s != 'stderr' and TimeGenerated >= datetime(1970-01-01T00:00:03Z) | order by TimeGenerated | take 1 | project Log_s", now).unwrap();
        assert_eq!(run(&q, &rows).unwrap()["rows"], json!([["d"]]));
        let q = parse("ContainerAppConsoleLogs_CL | where TimeGenerated < datetime(1970-01-01 00:00:02) | project Log_s", now).unwrap();
        assert_eq!(run(&q, &rows).unwrap()["rows"], json!([["b"]]));
        let q = parse(
            "ContainerAppConsoleLogs_CL | order by Stream_s asc, Log_s desc | project Log_s",
            now,
        )
        .unwrap();
        assert_eq!(
            run(&q, &rows).unwrap()["rows"],
            json!([["b"], ["d"], ["c"], ["a"]])
        );
        let q = parse("ContainerAppConsoleLogs_CL | take 0", now).unwrap();
        assert_eq!(run(&q, &rows).unwrap()["rows"], json!([]));
    }

    #[test]
    fn type_errors_surface_without_rows() {
        let now = Utc::now();
        for q in [
            "ContainerAppConsoleLogs_CL | where Log_s == 1",
            "ContainerAppConsoleLogs_CL | where TimeGenerated == 'x'",
            "ContainerAppConsoleLogs_CL | where TimeGenerated startswith datetime(2024-01-01)",
        ] {
            let e = run(&parse(q, now).unwrap(), &[]).unwrap_err();
            assert_eq!(e.code, "SemanticError", "{q}");
        }
    }
}
