//! `cargo xtask deny`: the dependency policy in `deny.toml` (licences, bans,
//! sources) checked by cargo-deny over `Cargo.lock`, installing cargo-deny
//! from crates.io on first use.
//!
//! Advisories are left out: RustSec's database is a git repository on GitHub,
//! which the machines CI runs on cannot reach.

use std::process::{Command, Stdio};

use anyhow::Result;

use crate::shell;

/// The cargo-deny release the policy is written for (`--locked` install).
const CARGO_DENY_VERSION: &str = "0.20.2";

fn installed() -> bool {
    Command::new("cargo")
        .args(["deny", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs the check, installing cargo-deny first when it is missing.
pub fn check() -> Result<()> {
    if !installed() {
        shell::run(shell::cargo().args([
            "install",
            "--locked",
            "cargo-deny",
            "--version",
            CARGO_DENY_VERSION,
        ]))?;
    }
    shell::run(shell::cargo().args([
        "deny",
        "--workspace",
        "check",
        "bans",
        "licenses",
        "sources",
    ]))
}
