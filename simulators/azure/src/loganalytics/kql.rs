//! The subset of KQL the emulator understands:
//!
//! ```text
//! Table | where Col OP literal [and Col OP literal ...]
//!       | order by Col [asc|desc] [, ...]     (also `sort by`; default desc)
//!       | take N                              (also `limit N`)
//!       | project Col [, Col ...]
//! OP:      ==  !=  startswith  >  >=  <  <=
//! literal: "str" | 'str' | number | datetime(...) | ago(1h) | now()
//! ```
//!
//! Anything else is a syntax or semantic error, never silently ignored.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};

/// A parse error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct KqlError {
    /// Inner code: `SyntaxError` or `SemanticError`.
    pub code: &'static str,
    /// Description.
    pub message: String,
}

fn syntax(message: impl Into<String>) -> KqlError {
    KqlError {
        code: "SyntaxError",
        message: message.into(),
    }
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// String.
    Str(String),
    /// Number.
    Num(f64),
    /// Point in time.
    Time(DateTime<Utc>),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `startswith` (case-insensitive, as in KQL)
    StartsWith,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
}

/// One `Col OP literal` term.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Column.
    pub column: String,
    /// Operator.
    pub op: CmpOp,
    /// Right-hand side.
    pub value: Literal,
}

/// A pipeline stage.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// `where` with terms joined by `and`.
    Where(Vec<Comparison>),
    /// `order by` keys (column, descending).
    OrderBy(Vec<(String, bool)>),
    /// `take` / `limit`.
    Take(usize),
    /// `project`.
    Project(Vec<String>),
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// Source table.
    pub table: String,
    /// Stages in order.
    pub stages: Vec<Stage>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(String),
    Op(&'static str),
}

fn tokenize(src: &str) -> Result<Vec<Tok>, KqlError> {
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let is_datetime = word == "datetime";
            out.push(Tok::Ident(word));
            if is_datetime {
                // datetime(2024-01-01T00:00:00Z) has characters no other token
                // allows, so its argument is taken raw up to ')'.
                let mut j = i;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                if chars.get(j) == Some(&'(') {
                    let body_start = j + 1;
                    let Some(len) = chars[body_start..].iter().position(|c| *c == ')') else {
                        return Err(syntax("unterminated datetime()"));
                    };
                    out.push(Tok::Op("("));
                    out.push(Tok::Str(
                        chars[body_start..body_start + len].iter().collect(),
                    ));
                    out.push(Tok::Op(")"));
                    i = body_start + len + 1;
                }
            }
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            out.push(Tok::Num(chars[start..i].iter().collect()));
        } else if c == '"' || c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(syntax("unterminated string literal")),
                    Some('\\') => {
                        match chars.get(i + 1) {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some(&e) if e == '\\' || e == '"' || e == '\'' => s.push(e),
                            _ => return Err(syntax("invalid escape sequence in string literal")),
                        }
                        i += 2;
                    }
                    Some(&q) if q == c => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(s));
        } else {
            let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let op = match two.as_str() {
                "==" => Some("=="),
                "!=" => Some("!="),
                ">=" => Some(">="),
                "<=" => Some("<="),
                _ => None,
            };
            if let Some(op) = op {
                out.push(Tok::Op(op));
                i += 2;
                continue;
            }
            let op = match c {
                '|' => "|",
                ',' => ",",
                '(' => "(",
                ')' => ")",
                '>' => ">",
                '<' => "<",
                other => return Err(syntax(format!("unexpected character '{other}'"))),
            };
            out.push(Tok::Op(op));
            i += 1;
        }
    }
    Ok(out)
}

/// Parses a timespan literal such as `1h`, `30m`, `1.5d`, `250ms`.
pub fn parse_timespan(s: &str) -> Option<TimeDelta> {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let ms = match unit {
        "d" => 86_400_000.0,
        "h" => 3_600_000.0,
        "m" => 60_000.0,
        "s" => 1_000.0,
        "ms" => 1.0,
        _ => return None,
    };
    let total = n * ms;
    (total.is_finite() && total < 1e15).then(|| TimeDelta::milliseconds(total as i64))
}

/// Parses a datetime literal body (RFC 3339, `YYYY-MM-DD HH:MM:SS[.f]`, or a date).
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim().trim_matches(|c| c == '"' || c == '\'');
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s.trim_end_matches('Z'), f) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()?
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    now: DateTime<Utc>,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn ident(&mut self, what: &str) -> Result<String, KqlError> {
        match self.next() {
            Some(Tok::Ident(s)) => Ok(s),
            other => Err(syntax(format!(
                "expected {what}, found {}",
                show(other.as_ref())
            ))),
        }
    }
    fn expect_op(&mut self, op: &str) -> Result<(), KqlError> {
        match self.next() {
            Some(Tok::Op(o)) if o == op => Ok(()),
            other => Err(syntax(format!(
                "expected '{op}', found {}",
                show(other.as_ref())
            ))),
        }
    }
    fn at_stage_end(&self) -> bool {
        matches!(self.peek(), None | Some(Tok::Op("|")))
    }

    fn literal(&mut self) -> Result<Literal, KqlError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Literal::Str(s)),
            Some(Tok::Num(n)) => n
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(Literal::Num)
                .ok_or_else(|| syntax(format!("invalid number '{n}'"))),
            Some(Tok::Ident(f)) if f == "datetime" => {
                self.expect_op("(")?;
                let text = match self.next() {
                    Some(Tok::Str(s)) => s,
                    other => {
                        return Err(syntax(format!(
                            "expected a datetime, found {}",
                            show(other.as_ref())
                        )));
                    }
                };
                self.expect_op(")")?;
                parse_datetime(&text)
                    .map(Literal::Time)
                    .ok_or_else(|| syntax(format!("invalid datetime literal '{text}'")))
            }
            Some(Tok::Ident(f)) if f == "ago" => {
                self.expect_op("(")?;
                let span = match self.next() {
                    Some(Tok::Num(n)) => parse_timespan(&n)
                        .ok_or_else(|| syntax(format!("invalid timespan '{n}'")))?,
                    other => {
                        return Err(syntax(format!(
                            "expected a timespan, found {}",
                            show(other.as_ref())
                        )));
                    }
                };
                self.expect_op(")")?;
                self.now
                    .checked_sub_signed(span)
                    .map(Literal::Time)
                    .ok_or_else(|| syntax("timespan out of range"))
            }
            Some(Tok::Ident(f)) if f == "now" => {
                self.expect_op("(")?;
                self.expect_op(")")?;
                Ok(Literal::Time(self.now))
            }
            other => Err(syntax(format!(
                "expected a literal, found {}",
                show(other.as_ref())
            ))),
        }
    }

    fn comparison(&mut self) -> Result<Comparison, KqlError> {
        let column = self.ident("a column name")?;
        let op = match self.next() {
            Some(Tok::Op("==")) => CmpOp::Eq,
            Some(Tok::Op("!=")) => CmpOp::Ne,
            Some(Tok::Op(">")) => CmpOp::Gt,
            Some(Tok::Op(">=")) => CmpOp::Ge,
            Some(Tok::Op("<")) => CmpOp::Lt,
            Some(Tok::Op("<=")) => CmpOp::Le,
            Some(Tok::Ident(s)) if s == "startswith" => CmpOp::StartsWith,
            other => {
                return Err(syntax(format!(
                    "unsupported operator {} (supported: ==, !=, startswith, >, >=, <, <=)",
                    show(other.as_ref())
                )));
            }
        };
        let value = self.literal()?;
        Ok(Comparison { column, op, value })
    }

    fn stage(&mut self) -> Result<Stage, KqlError> {
        let op = self.ident("an operator after '|'")?;
        match op.as_str() {
            "where" => {
                let mut terms = vec![self.comparison()?];
                while !self.at_stage_end() {
                    match self.next() {
                        Some(Tok::Ident(s)) if s == "and" => terms.push(self.comparison()?),
                        other => {
                            return Err(syntax(format!(
                                "expected 'and' or '|', found {}",
                                show(other.as_ref())
                            )));
                        }
                    }
                }
                Ok(Stage::Where(terms))
            }
            "order" | "sort" => {
                match self.next() {
                    Some(Tok::Ident(s)) if s == "by" => {}
                    other => {
                        return Err(syntax(format!(
                            "expected 'by', found {}",
                            show(other.as_ref())
                        )));
                    }
                }
                let mut keys = Vec::new();
                loop {
                    let col = self.ident("a column name")?;
                    let mut desc = true;
                    if let Some(Tok::Ident(d)) = self.peek() {
                        match d.as_str() {
                            "asc" => desc = false,
                            "desc" => desc = true,
                            other => {
                                return Err(syntax(format!(
                                    "expected 'asc', 'desc', ',' or '|', found '{other}'"
                                )));
                            }
                        }
                        self.pos += 1;
                    }
                    keys.push((col, desc));
                    if self.at_stage_end() {
                        break;
                    }
                    self.expect_op(",")?;
                }
                Ok(Stage::OrderBy(keys))
            }
            "take" | "limit" => {
                let n = match self.next() {
                    Some(Tok::Num(n)) => n
                        .parse::<usize>()
                        .map_err(|_| syntax(format!("invalid row count '{n}'")))?,
                    other => {
                        return Err(syntax(format!(
                            "expected a row count, found {}",
                            show(other.as_ref())
                        )));
                    }
                };
                if !self.at_stage_end() {
                    return Err(syntax(format!(
                        "unexpected {} after {op}",
                        show(self.peek())
                    )));
                }
                Ok(Stage::Take(n))
            }
            "project" => {
                let mut cols = vec![self.ident("a column name")?];
                while !self.at_stage_end() {
                    self.expect_op(",")?;
                    cols.push(self.ident("a column name")?);
                }
                Ok(Stage::Project(cols))
            }
            other => Err(syntax(format!(
                "the query operator '{other}' is not supported by this emulator (supported: where, order by, sort by, take, limit, project)"
            ))),
        }
    }
}

fn show(t: Option<&Tok>) -> String {
    match t {
        None => "end of query".into(),
        Some(Tok::Ident(s)) => format!("'{s}'"),
        Some(Tok::Str(s)) => format!("string \"{s}\""),
        Some(Tok::Num(s)) => format!("number {s}"),
        Some(Tok::Op(o)) => format!("'{o}'"),
    }
}

/// Parses a query; `now` anchors `ago()` and `now()`.
pub fn parse(src: &str, now: DateTime<Utc>) -> Result<Query, KqlError> {
    let toks = tokenize(src)?;
    let mut p = Parser { toks, pos: 0, now };
    let table = p.ident("a table name")?;
    let mut stages = Vec::new();
    while let Some(t) = p.next() {
        if t != Tok::Op("|") {
            return Err(syntax(format!("expected '|', found {}", show(Some(&t)))));
        }
        stages.push(p.stage()?);
    }
    Ok(Query { table, stages })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_subset() {
        let now = Utc::now();
        let q = parse(
            "ContainerAppConsoleLogs_CL | where ContainerJobName_s == 'j' and ContainerGroupName_s startswith \"j-abc\" and TimeGenerated > ago(1h) | order by TimeGenerated asc, Log_s | take 10 | project Log_s, Stream_s",
            now,
        )
        .unwrap();
        assert_eq!(q.table, "ContainerAppConsoleLogs_CL");
        assert_eq!(q.stages.len(), 4);
        assert_eq!(
            q.stages[1],
            Stage::OrderBy(vec![
                ("TimeGenerated".into(), false),
                ("Log_s".into(), true)
            ])
        );
        assert_eq!(q.stages[2], Stage::Take(10));
        let Stage::Where(terms) = &q.stages[0] else {
            panic!()
        };
        assert_eq!(terms[2].value, Literal::Time(now - TimeDelta::hours(1)));
        let q = parse(
            "T | where TimeGenerated >= datetime(2024-01-02T03:04:05Z)",
            now,
        )
        .unwrap();
        let Stage::Where(terms) = &q.stages[0] else {
            panic!()
        };
        assert_eq!(
            terms[0].value,
            Literal::Time(parse_datetime("2024-01-02T03:04:05Z").unwrap())
        );
    }

    #[test]
    fn rejects_what_it_does_not_know() {
        let now = Utc::now();
        for q in [
            "T | summarize count()",
            "T | where a == 1 or b == 2",
            "T | where (a == 1)",
            "T | where a contains 'x'",
            "T | take",
            "T | take 5 6",
            "T | project-away a",
            "T | where a == 'x",
            "T | extend x = 1",
            "T | order TimeGenerated",
            "T | where a =~ 'x'",
            "",
            "| where a == 1",
            "T | where t > ago(1y)",
            "T union U",
        ] {
            assert!(parse(q, now).is_err(), "{q}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,200}") {
            let _ = parse(&s, Utc::now());
        }

        #[test]
        fn never_panics_on_kql_like_input(parts in proptest::collection::vec(prop::sample::select(vec![
            "T", "|", "where", "order", "by", "take", "project", "and", "==", "!=", ">", ">=", "<", "startswith",
            "'x'", "\"y", "1", "1.5", "ago(", "1h", ")", "datetime(", "2024-01-01", ",", "asc", "desc", "now()", "(", "limit", "sort", "\\",
        ]), 0..30)) {
            let _ = parse(&parts.join(" "), Utc::now());
        }
    }
}
