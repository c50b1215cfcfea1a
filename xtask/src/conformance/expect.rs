//! The committed expectations (`conformance/expected.json`): which scenarios
//! pass on which side today, and how a run compares with them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::runner::{Outcome, Side, Status};

/// Scenario id → side name → status.
pub type Expectations = BTreeMap<String, BTreeMap<String, Status>>;

/// Reads the expectations file; a missing file is an empty record.
pub fn load(path: &Path) -> Result<Expectations> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Expectations::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let raw: BTreeMap<String, BTreeMap<String, String>> =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let mut out = Expectations::new();
    for (id, sides) in raw {
        let mut cells = BTreeMap::new();
        for (side, status) in sides {
            let status = match status.as_str() {
                "pass" => Status::Pass,
                "fail" => Status::Fail,
                other => bail!(
                    "{}: {id}/{side}: expected \"pass\" or \"fail\", got {other:?}",
                    path.display()
                ),
            };
            cells.insert(side, status);
        }
        out.insert(id, cells);
    }
    Ok(out)
}

/// The expectations with this run's outcomes in place of the recorded ones
/// (scenarios not run, e.g. outside `--only`, keep their record).
pub fn record(previous: &Expectations, outcomes: &[Outcome], sides: &[Side]) -> Expectations {
    let mut out = previous.clone();
    for outcome in outcomes {
        let cells = out.entry(outcome.id.clone()).or_default();
        for (side, cell) in sides.iter().zip(&outcome.cells) {
            cells.insert(side.name.clone(), cell.status);
        }
    }
    out
}

/// Drops the records of scenarios that no longer exist (`known` is every
/// discovered id, whatever `--only` ran).
pub fn prune(expected: &mut Expectations, known: &[String]) {
    expected.retain(|id, _| known.iter().any(|k| k == id));
}

/// Writes the expectations as pretty JSON with sorted keys.
pub fn save(path: &Path, expected: &Expectations) -> Result<()> {
    let raw: BTreeMap<&String, BTreeMap<&String, &str>> = expected
        .iter()
        .map(|(id, cells)| (id, cells.iter().map(|(s, st)| (s, st.as_str())).collect()))
        .collect();
    let mut text = serde_json::to_string_pretty(&raw)?;
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// A recorded "pass" that failed in this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Regression {
    pub id: String,
    pub side: String,
    pub log: PathBuf,
}

/// How a run compares with the expectations.
#[derive(Debug, Default, Clone)]
pub struct Comparison {
    /// Recorded as passing, failed now: the run fails.
    pub regressions: Vec<Regression>,
    /// Ran but not in the file: the run fails until recorded.
    pub unrecorded: Vec<String>,
    /// Recorded as failing, passed now: reported so the file gets updated.
    pub improved: Vec<(String, String)>,
    /// In the file (and selected by `--only`) but no longer found: the run fails.
    pub vanished: Vec<String>,
}

impl Comparison {
    /// Whether CI must fail.
    pub fn failed(&self) -> bool {
        !self.regressions.is_empty() || !self.unrecorded.is_empty() || !self.vanished.is_empty()
    }

    /// The note for one scenario's row in the table.
    pub fn note(&self, id: &str) -> Vec<String> {
        let mut notes = Vec::new();
        let regressed: Vec<&str> = self
            .regressions
            .iter()
            .filter(|r| r.id == id)
            .map(|r| r.side.as_str())
            .collect();
        if !regressed.is_empty() {
            notes.push(format!("regressed ({})", regressed.join(", ")));
        }
        if self.unrecorded.iter().any(|u| u == id) {
            notes.push("new, not recorded".to_owned());
        }
        let improved: Vec<&str> = self
            .improved
            .iter()
            .filter(|(i, _)| i == id)
            .map(|(_, side)| side.as_str())
            .collect();
        if !improved.is_empty() {
            notes.push(format!(
                "now passes ({}; recorded fail)",
                improved.join(", ")
            ));
        }
        notes
    }
}

/// Compares a run's outcomes with the expectations. `selected` says which
/// recorded ids this run was meant to cover (the `--only` filter).
pub fn compare(
    expected: &Expectations,
    outcomes: &[Outcome],
    sides: &[Side],
    selected: impl Fn(&str) -> bool,
) -> Comparison {
    let mut cmp = Comparison::default();
    for outcome in outcomes {
        let Some(cells) = expected.get(&outcome.id) else {
            cmp.unrecorded.push(outcome.id.clone());
            continue;
        };
        for (side, cell) in sides.iter().zip(&outcome.cells) {
            match (cells.get(&side.name), cell.status) {
                (Some(Status::Pass), Status::Fail) => cmp.regressions.push(Regression {
                    id: outcome.id.clone(),
                    side: side.name.clone(),
                    log: cell.log.clone(),
                }),
                (Some(Status::Fail), Status::Pass) => {
                    cmp.improved.push((outcome.id.clone(), side.name.clone()))
                }
                // A side never recorded for this scenario: as new as a new scenario.
                (None, _) if !cmp.unrecorded.contains(&outcome.id) => {
                    cmp.unrecorded.push(outcome.id.clone());
                }
                _ => {}
            }
        }
    }
    for id in expected.keys() {
        if selected(id) && !outcomes.iter().any(|o| &o.id == id) {
            cmp.vanished.push(id.clone());
        }
    }
    cmp
}
