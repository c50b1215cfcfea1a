//! Rules every Rust file keeps: a module doc, at most 600 lines, no `#[path]`.

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
