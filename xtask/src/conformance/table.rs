//! The run's table (scenario × side) on stdout and as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::json;

use super::expect::Comparison;
use super::memory;
use super::runner::{Cell, Outcome, Side, Status};

/// The notes of one row: the comparison's, and whether dockerd fails it too.
pub fn notes(outcome: &Outcome, sides: &[Side], cmp: &Comparison) -> String {
    let mut notes = Vec::new();
    let engine_failed = sides
        .iter()
        .zip(&outcome.cells)
        .any(|(side, cell)| side.name == "engine" && cell.status == Status::Fail);
    if engine_failed {
        let all_failed = outcome.cells.iter().all(|c| c.status == Status::Fail);
        notes.push(if all_failed {
            "fails on dockerd too".to_owned()
        } else {
            "fails on dockerd".to_owned()
        });
    }
    notes.extend(cmp.note(&outcome.id));
    notes.join("; ")
}

fn cell_text(cell: &Cell) -> String {
    let word = match cell.status {
        Status::Pass => "pass",
        Status::Fail => "FAIL",
    };
    format!("{word} {:>6.1}s", cell.seconds)
}

/// The table: one row per scenario, then the totals per client.
pub fn render(outcomes: &[Outcome], sides: &[Side], cmp: &Comparison) -> String {
    let width = outcomes
        .iter()
        .map(|o| o.id.len())
        .chain(["scenario".len()])
        .max()
        .unwrap_or(8);
    let cell_width = sides
        .iter()
        .map(|s| s.name.len())
        .chain(["pass 1000.0s".len()])
        .max()
        .unwrap_or(12);
    let mut out = String::new();
    let _ = write!(out, "{:<width$}", "scenario");
    for side in sides {
        let _ = write!(out, " | {:<cell_width$}", side.name);
    }
    out.push_str(" | note\n");
    let _ = write!(out, "{}", "-".repeat(width));
    for _ in sides {
        let _ = write!(out, "-|-{}", "-".repeat(cell_width));
    }
    out.push_str("-|-----\n");
    for outcome in outcomes {
        let _ = write!(out, "{:<width$}", outcome.id);
        for cell in &outcome.cells {
            let _ = write!(out, " | {:<cell_width$}", cell_text(cell));
        }
        let _ = writeln!(out, " | {}", notes(outcome, sides, cmp));
    }
    out.push('\n');
    for (client, counts) in totals(outcomes, sides) {
        let _ = write!(out, "{client:<16}");
        for (side, (passed, total)) in sides.iter().zip(counts) {
            let _ = write!(out, " {}: {passed}/{total} pass ", side.name);
        }
        out.push('\n');
    }
    out
}

/// Per client, then `all`: for each side, (passed, total).
pub fn totals(outcomes: &[Outcome], sides: &[Side]) -> Vec<(String, Vec<(usize, usize)>)> {
    let mut per_client: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
    let mut all = vec![(0, 0); sides.len()];
    for outcome in outcomes {
        let counts = per_client
            .entry(outcome.client.clone())
            .or_insert_with(|| vec![(0, 0); sides.len()]);
        for ((count, sum), cell) in counts.iter_mut().zip(all.iter_mut()).zip(&outcome.cells) {
            let passed = usize::from(cell.status == Status::Pass);
            count.0 += passed;
            count.1 += 1;
            sum.0 += passed;
            sum.1 += 1;
        }
    }
    let mut out: Vec<_> = per_client.into_iter().collect();
    out.push(("all".to_owned(), all));
    out
}

/// The results as JSON: sides, one entry per scenario, totals, comparison.
pub fn to_json(outcomes: &[Outcome], sides: &[Side], cmp: &Comparison) -> serde_json::Value {
    let scenarios: Vec<serde_json::Value> = outcomes
        .iter()
        .map(|o| {
            let mut entry = serde_json::Map::new();
            entry.insert("id".into(), json!(o.id));
            entry.insert("client".into(), json!(o.client));
            for (side, cell) in sides.iter().zip(&o.cells) {
                entry.insert(
                    side.name.clone(),
                    json!({
                        "status": cell.status.as_str(),
                        "seconds": (cell.seconds * 10.0).round() / 10.0,
                        "detail": cell.detail,
                        "log": cell.log.display().to_string(),
                    }),
                );
            }
            entry.insert("note".into(), json!(notes(o, sides, cmp)));
            serde_json::Value::Object(entry)
        })
        .collect();
    let totals: serde_json::Map<String, serde_json::Value> = totals(outcomes, sides)
        .into_iter()
        .map(|(client, counts)| {
            let per_side: serde_json::Map<String, serde_json::Value> = sides
                .iter()
                .zip(counts)
                .map(|(s, (passed, total))| {
                    (s.name.clone(), json!({"passed": passed, "total": total}))
                })
                .collect();
            (client, serde_json::Value::Object(per_side))
        })
        .collect();
    json!({
        "sides": sides.iter().map(|s| (s.name.clone(), json!(s.docker_host))).collect::<serde_json::Map<_, _>>(),
        "scenarios": scenarios,
        "totals": totals,
        "regressions": cmp.regressions.iter().map(|r| json!({"id": r.id, "side": r.side, "log": r.log.display().to_string()})).collect::<Vec<_>>(),
        "unrecorded": cmp.unrecorded,
        "vanished": cmp.vanished,
        "improved": cmp.improved.iter().map(|(id, side)| json!({"id": id, "side": side})).collect::<Vec<_>>(),
    })
}

/// Writes [`to_json`] to `path`, with the all-in-one's `memory` readings
/// when it was measured.
pub fn write_json(
    path: &Path,
    outcomes: &[Outcome],
    sides: &[Side],
    cmp: &Comparison,
    memory: Option<&memory::Check>,
) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut results = to_json(outcomes, sides, cmp);
    if let (Some(memory), Some(object)) = (memory, results.as_object_mut()) {
        object.insert("memory".into(), memory.to_json());
    }
    let text = serde_json::to_string_pretty(&results)?;
    std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))
}
