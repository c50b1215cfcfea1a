//! The key-set diff of the shape tests: what a dockerd response has that
//! ours lacks, recursively, with dockerd's JSON type.
//!
//! Rules:
//! - Objects: every key of dockerd's must be in ours; keys only ours has are
//!   fine. A key missing from ours is reported even when dockerd's value is
//!   `null` (clients index it: `KeyError`).
//! - Types are JSON types (number, string, bool, array, object, null).
//!   dockerd `null` vs any value of ours is accepted: dockerd returns `null`
//!   for an unset value (`Labels`, `Binds`, `PidsLimit` …), which ours may
//!   give as `{}`, `[]` or a number. Ours `null` where dockerd has a value is
//!   reported: clients iterate or index it.
//! - Arrays: the shape of dockerd's first element against ours' first (none
//!   to compare when either is empty).
//! - Dynamic maps ([`DYNAMIC`]: labels, options, networks by name …) are
//!   compared as maps, not by their keys: dockerd's first value against ours
//!   under the same key, or ours' first value.
//! - [`ABSENT_IN_V1_44`]: keys the reference dockerd (API v1.41) sends that
//!   API v1.44 no longer does; each says why.

use serde_json::Value;

/// Maps keyed by data (names, label keys, ports), not by field names; a
/// path matches its end (`Labels` is every `Labels` object).
pub const DYNAMIC: &[&str] = &[
    "Labels",
    "Options",
    "DriverOpts",
    "Annotations",
    "Ports",
    "ExposedPorts",
    "Volumes",
    "Networks",
    "Containers",
    "GraphDriver.Data",
    "Tmpfs",
    "Sysctls",
    "StorageOpt",
    "Status",
    "IndexConfigs",
    "Runtimes",
    "Details",
    "LogConfig.Config",
];

/// Keys the reference dockerd sends that API v1.44 does not; a path is
/// dotted, with `[]` for array elements and `*` for map values, and matches
/// the end of a reported path.
pub const ABSENT_IN_V1_44: &[(&str, &str)] = &[
    (
        "HostConfig.KernelMemory",
        "removed in API v1.42: not in the v1.44 spec",
    ),
    (
        "HostConfig.KernelMemoryTCP",
        "v1.44 spec: omitted when empty (create refuses a value)",
    ),
    (
        "KernelMemory",
        "Info: removed in API v1.42, not in the v1.44 spec",
    ),
    (
        "KernelMemoryTCP",
        "Info: v1.44 spec: omitted if not supported",
    ),
    ("VirtualSize", "v1.44 spec: omitted in API v1.44"),
    (
        "Config.NetworkDisabled",
        "omitted when false; the engine sets it only because it runs without a default bridge",
    ),
];

/// One difference: the path in ours and what dockerd has there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub path: String,
    pub problem: String,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

/// The JSON type name of `v`.
pub fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every key path dockerd's `reference` has that `ours` lacks or types
/// differently, under `root` (the request, for the report).
pub fn diff(root: &str, ours: &Value, reference: &Value) -> Vec<Missing> {
    let mut out = Vec::new();
    walk(root, "", ours, reference, &mut out);
    out
}

/// Whether the normalized path `norm` ends with the dotted `suffix`.
fn ends_with_path(norm: &str, suffix: &str) -> bool {
    norm == suffix || norm.ends_with(&format!(".{suffix}"))
}

fn allowed_absent(norm: &str) -> bool {
    ABSENT_IN_V1_44
        .iter()
        .any(|(path, _)| ends_with_path(norm, path))
}

fn join(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_owned()
    } else {
        format!("{base}.{key}")
    }
}

/// `path` is shown (with indices and keys), `norm` is matched against
/// [`ABSENT_IN_V1_44`] (with `[]` and `*`).
fn walk(path: &str, norm: &str, ours: &Value, reference: &Value, out: &mut Vec<Missing>) {
    let report = |out: &mut Vec<Missing>, problem: String| {
        out.push(Missing {
            path: path.to_owned(),
            problem,
        })
    };
    match (reference, ours) {
        // dockerd's null is its unset value: any value of ours may stand there.
        (Value::Null, _) => {}
        (_, Value::Null) => report(
            out,
            format!("null where dockerd has {}", type_of(reference)),
        ),
        (Value::Object(theirs), Value::Object(mine)) => {
            if DYNAMIC.iter().any(|d| ends_with_path(norm, d)) {
                if let Some((key, value)) = theirs.iter().next() {
                    let counterpart = mine.get(key).or_else(|| mine.values().next());
                    if let Some(mine_value) = counterpart {
                        walk(
                            &format!("{path}.*"),
                            &format!("{norm}.*"),
                            mine_value,
                            value,
                            out,
                        );
                    }
                }
                return;
            }
            for (key, value) in theirs {
                let (p, n) = (join(path, key), join(norm, key));
                match mine.get(key) {
                    Some(mine_value) => walk(&p, &n, mine_value, value, out),
                    None if allowed_absent(&n) => {}
                    None => out.push(Missing {
                        path: p,
                        problem: format!("missing (dockerd: {})", type_of(value)),
                    }),
                }
            }
        }
        (Value::Array(theirs), Value::Array(mine)) => {
            if let (Some(t), Some(m)) = (theirs.first(), mine.first()) {
                walk(&format!("{path}[0]"), &format!("{norm}[]"), m, t, out);
            }
        }
        (Value::Number(_), Value::Number(_))
        | (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_)) => {}
        _ => report(
            out,
            format!("{} where dockerd has {}", type_of(ours), type_of(reference)),
        ),
    }
}
