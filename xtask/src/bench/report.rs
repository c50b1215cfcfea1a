//! Figures, goals, the printed table and the JSON file: pure, unit-tested.

use std::time::Duration;

use serde_json::{Value, json};

/// Nearest-rank percentile (`p` in 0..=100) of `samples`; `None` when empty.
pub fn percentile(samples: &[Duration], p: f64) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Milliseconds of a duration, as the table shows them.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// What a figure is measured in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unit {
    Ms,
    Count,
    MibPerSec,
    Mb,
}

impl Unit {
    fn suffix(self) -> &'static str {
        match self {
            Unit::Ms => " ms",
            Unit::Count => "",
            Unit::MibPerSec => " MiB/s",
            Unit::Mb => " MB",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Unit::Ms => "ms",
            Unit::Count => "count",
            Unit::MibPerSec => "MiB/s",
            Unit::Mb => "MB",
        }
    }

    fn format(self, v: f64) -> String {
        let n = match self {
            Unit::Count => format!("{v:.0}"),
            Unit::Ms if v < 10.0 => format!("{v:.2}"),
            _ => format!("{v:.1}"),
        };
        format!("{n}{}", self.suffix())
    }
}

/// A goal the bench reports against (it does not assert it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    /// ours / baseline ≤ x.
    RatioAtMost(f64),
    /// ours ≤ x.
    AtMost(f64),
    /// ours < x.
    Below(f64),
}

impl Goal {
    fn describe(self, unit: Unit) -> String {
        match self {
            Goal::RatioAtMost(x) => format!("ratio ≤ {x:.1}"),
            Goal::AtMost(x) => format!("≤ {}", unit.format(x)),
            Goal::Below(x) => format!("< {}", unit.format(x)),
        }
    }

    /// Whether `f` meets the goal; `None` when a needed value is missing.
    fn met(self, f: &Figure) -> Option<bool> {
        match self {
            Goal::RatioAtMost(x) => f.ratio().map(|r| r <= x),
            Goal::AtMost(x) => f.ours.map(|o| o <= x),
            Goal::Below(x) => f.ours.map(|o| o < x),
        }
    }
}

/// One row: ours next to the baseline measured in the same run.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub name: String,
    pub unit: Unit,
    pub ours: Option<f64>,
    pub baseline: Option<f64>,
    pub goal: Option<Goal>,
}

impl Figure {
    pub fn new(
        name: impl Into<String>,
        unit: Unit,
        ours: Option<f64>,
        baseline: Option<f64>,
    ) -> Self {
        Self {
            name: name.into(),
            unit,
            ours,
            baseline,
            goal: None,
        }
    }

    pub fn goal(mut self, goal: Goal) -> Self {
        self.goal = Some(goal);
        self
    }

    /// ours / baseline, when both exist and the baseline is not zero.
    pub fn ratio(&self) -> Option<f64> {
        match (self.ours, self.baseline) {
            (Some(o), Some(b)) if b != 0.0 => Some(o / b),
            _ => None,
        }
    }

    fn goal_cell(&self) -> String {
        match self.goal {
            None => String::new(),
            Some(g) => {
                let verdict = match g.met(self) {
                    Some(true) => "met",
                    Some(false) => "NOT MET",
                    None => "not measured",
                };
                format!("{}: {verdict}", g.describe(self.unit))
            }
        }
    }
}

fn cell(unit: Unit, v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_owned(), |v| unit.format(v))
}

/// The table: figure | ours | baseline | ratio | goal, columns aligned.
pub fn table(figures: &[Figure]) -> String {
    let mut rows = vec![[
        "figure".to_owned(),
        "ours".to_owned(),
        "baseline".to_owned(),
        "ratio".to_owned(),
        "goal".to_owned(),
    ]];
    for f in figures {
        rows.push([
            f.name.clone(),
            cell(f.unit, f.ours),
            cell(f.unit, f.baseline),
            f.ratio()
                .map_or_else(|| "—".to_owned(), |r| format!("{r:.2}")),
            f.goal_cell(),
        ]);
    }
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..5).map(width).collect();
    let mut out = String::new();
    for (n, r) in rows.iter().enumerate() {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = widths[i] - c.chars().count();
                // Numbers right-aligned, text left-aligned.
                if (1..=3).contains(&i) {
                    format!("{}{c}", " ".repeat(pad))
                } else {
                    format!("{c}{}", " ".repeat(pad))
                }
            })
            .collect();
        out.push_str(line.join(" | ").trim_end());
        out.push('\n');
        if n == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push_str(&rule.join("-|-"));
            out.push('\n');
        }
    }
    out
}

/// The figures as JSON objects (`null` where not measured).
pub fn figures_json(figures: &[Figure]) -> Value {
    Value::Array(
        figures
            .iter()
            .map(|f| {
                json!({
                    "figure": f.name,
                    "unit": f.unit.key(),
                    "ours": f.ours,
                    "baseline": f.baseline,
                    "ratio": f.ratio(),
                    "goal": f.goal.map(|g| g.describe(f.unit)),
                    "met": f.goal.and_then(|g| g.met(f)),
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).rev().map(d).collect();
        assert_eq!(percentile(&samples, 50.0), Some(d(50)));
        assert_eq!(percentile(&samples, 99.0), Some(d(99)));
        assert_eq!(percentile(&samples, 100.0), Some(d(100)));
        assert_eq!(percentile(&samples, 0.0), Some(d(1)));
        assert_eq!(percentile(&[d(7)], 99.0), Some(d(7)));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[d(1), d(2), d(3)], 50.0), Some(d(2)));
    }

    #[test]
    fn goals_are_judged_on_ratio_or_value() {
        let f = Figure::new("ps", Unit::Ms, Some(2.0), Some(4.0)).goal(Goal::RatioAtMost(0.5));
        assert_eq!(f.ratio(), Some(0.5));
        assert_eq!(f.goal_cell(), "ratio ≤ 0.5: met");
        let f = Figure::new("writes", Unit::Count, Some(3.0), None).goal(Goal::AtMost(2.0));
        assert_eq!(f.goal_cell(), "≤ 2: NOT MET");
        let f = Figure::new("rss", Unit::Mb, None, Some(80.0)).goal(Goal::Below(50.0));
        assert_eq!(f.goal_cell(), "< 50.0 MB: not measured");
        assert_eq!(
            Figure::new("x", Unit::Ms, Some(1.0), Some(0.0)).ratio(),
            None
        );
    }

    #[test]
    fn the_table_aligns_columns_and_marks_missing_values() {
        let figures = [
            Figure::new("ping p50", Unit::Ms, Some(0.25), Some(0.5)).goal(Goal::RatioAtMost(1.0)),
            Figure::new("ARM reads", Unit::Count, Some(0.0), None).goal(Goal::AtMost(0.0)),
        ];
        let t = table(&figures);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], "figure    |    ours | baseline | ratio | goal");
        assert_eq!(
            lines[2],
            "ping p50  | 0.25 ms |  0.50 ms |  0.50 | ratio ≤ 1.0: met"
        );
        assert_eq!(
            lines[3],
            "ARM reads |       0 |        — |     — | ≤ 0: met"
        );
        assert!(lines[1].starts_with("----------|-"));
    }

    #[test]
    fn json_has_every_column() {
        let figures = [Figure::new("run", Unit::Ms, Some(3000.0), Some(1000.0))];
        let j = figures_json(&figures);
        assert_eq!(
            j,
            json!([{
                "figure": "run", "unit": "ms", "ours": 3000.0, "baseline": 1000.0,
                "ratio": 3.0, "goal": null, "met": null
            }])
        );
    }
}
