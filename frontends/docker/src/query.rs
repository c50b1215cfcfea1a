//! Query parameters as Docker parses them: booleans, integers, filters, timestamps.

use std::collections::BTreeSet;
use std::str::FromStr;

use serde_json::Value;
use sockerless_api::Filters;

use crate::errors::DockerError;

/// A request's query string, decoded once.
#[derive(Debug, Clone, Default)]
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl QueryParams {
    /// Decodes a raw query string; malformed escapes are kept as-is, never an error.
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Self { pairs }
    }

    /// The first value of `key` (Go's `FormValue`), if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `key` when present and not empty.
    pub fn string(&self, key: &str) -> Option<String> {
        self.get(key).filter(|v| !v.is_empty()).map(str::to_owned)
    }

    /// Docker's `BoolValue`: false when absent, empty, `0`, `no`, `false` or `none`.
    pub fn bool(&self, key: &str) -> bool {
        self.get(key).is_some_and(parse_bool)
    }

    /// Docker's `BoolValueOrDefault`: `default` when the key is absent.
    pub fn bool_or(&self, key: &str, default: bool) -> bool {
        self.get(key).map_or(default, parse_bool)
    }

    /// An integer parameter; absent or empty gives `None`, garbage gives 400.
    pub fn int<T: FromStr>(&self, key: &str) -> Result<Option<T>, DockerError> {
        match self.get(key).map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v.parse::<T>().map(Some).map_err(|_| {
                DockerError::bad_request(format!("invalid value for \"{key}\": {v:?}"))
            }),
        }
    }

    /// The `filters` parameter, normalised from either of Docker's encodings.
    pub fn filters(&self) -> Result<Filters, DockerError> {
        parse_filters(self.get("filters").unwrap_or("")).map_err(DockerError::bad_request)
    }

    /// A `seconds[.nanos]` timestamp in nanoseconds; absent, empty or 0 gives `None`.
    pub fn timestamp_nanos(&self, key: &str) -> Result<Option<i64>, DockerError> {
        match self.get(key).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => match parse_timestamp_nanos(v) {
                Some(0) => Ok(None),
                Some(n) => Ok(Some(n)),
                None => Err(DockerError::bad_request(format!(
                    "invalid value for \"{key}\": {v:?} (expected seconds[.nanoseconds] since the epoch)"
                ))),
            },
        }
    }
}

/// Docker's boolean query parsing: anything but ``, `0`, `no`, `false`, `none` is true.
pub fn parse_bool(value: &str) -> bool {
    let v = value.trim().to_ascii_lowercase();
    !matches!(v.as_str(), "" | "0" | "no" | "false" | "none")
}

/// Parses Docker's `filters` JSON: `{"label":["a=b"]}` or the map form
/// `{"label":{"a=b":true}}`. Values are sorted and de-duplicated.
pub fn parse_filters(raw: &str) -> Result<Filters, String> {
    let raw = raw.trim();
    let mut filters = Filters::new();
    if raw.is_empty() {
        return Ok(filters);
    }
    let invalid = || "invalid filter".to_owned();
    let value: Value = serde_json::from_str(raw).map_err(|_| invalid())?;
    let object = match value {
        Value::Null => return Ok(filters),
        Value::Object(object) => object,
        _ => return Err(invalid()),
    };
    for (name, values) in object {
        let set: BTreeSet<String> = match values {
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s),
                    _ => Err(format!("invalid filter '{name}'")),
                })
                .collect::<Result<_, _>>()?,
            Value::Object(map) => {
                if map.values().any(|v| !v.is_boolean()) {
                    return Err(format!("invalid filter '{name}'"));
                }
                map.into_iter().map(|(k, _)| k).collect()
            }
            Value::Null => BTreeSet::new(),
            _ => return Err(format!("invalid filter '{name}'")),
        };
        filters.insert(name, set.into_iter().collect());
    }
    Ok(filters)
}

/// Parses Docker's `seconds[.fraction]` timestamp into nanoseconds.
pub fn parse_timestamp_nanos(value: &str) -> Option<i64> {
    let (secs, frac) = match value.split_once('.') {
        Some((s, f)) => (s, Some(f)),
        None => (value, None),
    };
    let secs: i64 = secs.parse().ok()?;
    let mut nanos: i64 = 0;
    if let Some(frac) = frac {
        if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits: i64 = frac.parse().ok()?;
        nanos = digits * 10_i64.pow(9 - frac.len() as u32);
    }
    let base = secs.checked_mul(1_000_000_000)?;
    if secs < 0 {
        base.checked_sub(nanos)
    } else {
        base.checked_add(nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bools_follow_docker() {
        for t in ["1", "true", "True", "TRUE", "yes", "anything"] {
            assert!(parse_bool(t), "{t}");
        }
        for f in ["", "0", "false", "False", "no", "none", " 0 "] {
            assert!(!parse_bool(f), "{f}");
        }
        let q = QueryParams::parse(Some("a=1&b=False&c="));
        assert!(q.bool("a"));
        assert!(!q.bool("b"));
        assert!(!q.bool("c"));
        assert!(!q.bool("missing"));
        assert!(q.bool_or("missing", true));
        assert!(!q.bool_or("c", true));
    }

    #[test]
    fn both_filter_encodings_normalise_alike() {
        let list = parse_filters(r#"{"label":["b=2","a=1"],"status":["running"]}"#);
        let map = parse_filters(r#"{"label":{"a=1":true,"b=2":true},"status":{"running":true}}"#);
        assert_eq!(list, map);
        let list = list.expect("valid");
        assert_eq!(list["label"], vec!["a=1".to_owned(), "b=2".to_owned()]);
        assert_eq!(parse_filters(""), Ok(Filters::new()));
        assert_eq!(parse_filters("null"), Ok(Filters::new()));
    }

    #[test]
    fn bad_filters_are_rejected() {
        for bad in [
            "[",
            "[]",
            "1",
            r#"{"label":"a"}"#,
            r#"{"label":[1]}"#,
            r#"{"label":{"a":1}}"#,
        ] {
            assert!(parse_filters(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp_nanos("10"), Some(10_000_000_000));
        assert_eq!(parse_timestamp_nanos("1.5"), Some(1_500_000_000));
        assert_eq!(parse_timestamp_nanos("1.000000001"), Some(1_000_000_001));
        assert_eq!(parse_timestamp_nanos("1.0000000001"), None);
        assert_eq!(parse_timestamp_nanos("x"), None);
        assert_eq!(parse_timestamp_nanos("99999999999999999"), None);
    }

    #[test]
    fn ints_give_docker_errors() {
        let q = QueryParams::parse(Some("t=abc&n=5&e="));
        assert_eq!(q.int::<i64>("n"), Ok(Some(5)));
        assert_eq!(q.int::<i64>("e"), Ok(None));
        let err = q.int::<i64>("t").expect_err("garbage");
        assert_eq!(err.status().as_u16(), 400);
    }

    proptest! {
        #[test]
        fn filter_parser_never_panics(s in ".*") {
            let _ = parse_filters(&s);
        }

        #[test]
        fn filter_parser_never_panics_on_jsonish(s in r#"\{("[a-z]{0,3}":(\[("[a-z=]{0,4}",?){0,3}\]|\{("[a-z]{0,3}":(true|false|1),?){0,3}\}|null|1),?){0,3}\}"#) {
            let _ = parse_filters(&s);
        }

        #[test]
        fn query_parsers_never_panic(raw in ".*", key in "[a-z]{1,3}") {
            let q = QueryParams::parse(Some(&raw));
            let _ = q.bool(&key);
            let _ = q.int::<i64>(&key);
            let _ = q.int::<u16>(&key);
            let _ = q.filters();
            let _ = q.timestamp_nanos(&key);
        }

        #[test]
        fn timestamp_parser_never_panics(s in "-?[0-9]{0,20}(\\.[0-9]{0,12})?") {
            let _ = parse_timestamp_nanos(&s);
        }
    }
}
