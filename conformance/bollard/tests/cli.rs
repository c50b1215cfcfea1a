//! The binary's command line, as the conformance harness calls it (this test
//! also makes `cargo test --workspace` build the binary the harness runs).

use std::collections::HashSet;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_sockerless-conformance-bollard");

#[test]
fn list_names_every_scenario_once_and_unknown_names_are_a_usage_error() {
    let out = Command::new(BIN)
        .arg("--list")
        .output()
        .expect("run --list");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let names: Vec<&str> = text.lines().collect();
    assert!(names.len() >= 10, "{names:?}");
    let unique: HashSet<&str> = names.iter().copied().collect();
    assert_eq!(unique.len(), names.len(), "duplicate names: {names:?}");
    assert!(names.iter().all(|n| !n.is_empty() && !n.contains(' ')));

    let unknown = Command::new(BIN)
        .arg("no-such-scenario")
        .output()
        .expect("run unknown");
    assert_eq!(unknown.status.code(), Some(2), "{unknown:?}");
}
