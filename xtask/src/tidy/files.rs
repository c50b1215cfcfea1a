//! Rules every Rust file keeps: a module doc, at most 600 lines, no
//! `#[path]`; and where some code may live: SQL only in a backend's store
//! modules, no hand-built JSON (`json!`) for Docker's bodies in a frontend
//! (its typed v1.44 models say what dockerd sends).

/// The most lines a file may have: past that it holds two ideas.
pub const MAX_LINES: usize = 600;

/// What `path` (relative to the root) breaks of the file rules.
pub fn file_rules(path: &str, text: &str) -> Vec<String> {
    let mut findings = Vec::new();
    let lines = text.lines().count();
    if lines > MAX_LINES {
        findings.push(format!(
            "{path}: {lines} lines, more than {MAX_LINES}: split it by idea"
        ));
    }
    if !text.trim_start().starts_with("//!") {
        findings.push(format!(
            "{path}: no module doc: begin the file with `//!` saying what it owns"
        ));
    }
    for (n, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("#[path") || code.starts_with("#![path") {
            findings.push(format!(
                "{path}:{}: `#[path]`: make it a child module (`foo.rs` + `foo/tests.rs`) or a crate",
                n + 1
            ));
        }
    }
    findings
}

/// A test file: its own rules are looser (inputs may be built by hand).
fn is_test_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    path.contains("/tests/") || name == "tests.rs" || name.ends_with("_tests.rs")
}

/// The code of a file: its lines without `//` comments, up to a trailing
/// `#[cfg(test)]` module.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .take_while(|(_, l)| l.trim() != "#[cfg(test)]")
        .map(|(n, l)| (n + 1, l.find("//").map_or(l, |at| &l[..at])))
}

/// What SQL looks like in this code base: rusqlite's statements and its
/// error codes. (A closure composing the store's typed functions in one
/// transaction names `rusqlite::Connection` and is not SQL.)
const SQL_MARKERS: &[&str] = &[
    "rusqlite::ErrorCode",
    "rusqlite::Error::SqliteFailure",
    "params![",
    ".query_map(",
    ".query_row(",
    ".prepare(",
    ".prepare_cached(",
    ".execute_batch(",
    ".execute(\"",
];

/// Where code may live: SQL only in a backend's `store/` (or a `store.rs`
/// of its own component), no `json!` in a frontend outside tests.
pub fn placement_rules(path: &str, text: &str) -> Vec<String> {
    if is_test_file(path) {
        return Vec::new();
    }
    let mut findings = Vec::new();
    let in_store = path.contains("/store/") || path.ends_with("/store.rs");
    if path.starts_with("backends/") && path.contains("/src/") && !in_store {
        for (n, code) in code_lines(text) {
            if let Some(marker) = SQL_MARKERS.iter().find(|m| code.contains(*m)) {
                findings.push(format!(
                    "{path}:{n}: SQL (`{marker}`) outside the store: put it behind a typed function in `store/`"
                ));
            }
        }
    }
    if path.starts_with("frontends/") && path.contains("/src/") {
        for (n, code) in code_lines(text) {
            if code.contains("json!(") {
                findings.push(format!(
                    "{path}:{n}: `json!` in a frontend: Docker's bodies are the typed models of `v1_44`"
                ));
            }
        }
    }
    findings
}
