//! `cargo xtask tidy`: the rules of the house that prose alone would let slip,
//! checked on the tree (run first by `cargo xtask test`).
//!
//! Each check is a pure function over text (a manifest, `cargo metadata`'s
//! JSON, a source file, a crate's modules) returning findings, so its own
//! tests show it failing on a deliberately broken input (`tests.rs`).

mod cycles;
mod files;
mod manifests;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::shell;

/// Runs every check on the workspace and fails listing what broke a rule.
pub fn main() -> Result<()> {
    let root = shell::workspace_root();
    let mut findings = Vec::new();

    let metadata = shell::output(
        shell::cargo()
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .current_dir(&root),
    )?;
    let metadata: serde_json::Value =
        serde_json::from_str(&metadata).context("cargo metadata's JSON")?;
    findings.extend(manifests::import_rules(&metadata));

    let root_manifest = read(&root.join("Cargo.toml"))?;
    for manifest in member_manifests(&metadata) {
        let text = read(&manifest)?;
        let name = relative(&root, &manifest);
        findings.extend(manifests::dependency_rules(&name, &text));
        findings.extend(manifests::lint_rules(&name, &text, &root_manifest));
    }

    let sources = tracked_rust_files(&root)?;
    for path in &sources {
        let text = read(&root.join(path))?;
        findings.extend(files::file_rules(path, &text));
        findings.extend(files::placement_rules(path, &text));
    }
    for src in crate_source_dirs(&metadata) {
        let modules = cycles::read_crate(&src)?;
        for cycle in cycles::cycles(&modules) {
            findings.push(format!(
                "{}: module import cycle: {}",
                relative(&root, &src),
                cycle
            ));
        }
    }

    if findings.is_empty() {
        println!(
            "tidy: {} manifests, {} Rust files: ok",
            member_manifests(&metadata).len(),
            sources.len()
        );
        return Ok(());
    }
    for f in &findings {
        eprintln!("tidy: {f}");
    }
    bail!("tidy: {} finding(s)", findings.len())
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn member_manifests(metadata: &serde_json::Value) -> Vec<PathBuf> {
    manifests::packages(metadata)
        .iter()
        .filter_map(|p| p["manifest_path"].as_str().map(PathBuf::from))
        .collect()
}

/// The `src/` folder of every member (where `crate::` paths are its modules).
fn crate_source_dirs(metadata: &serde_json::Value) -> Vec<PathBuf> {
    member_manifests(metadata)
        .into_iter()
        .filter_map(|m| m.parent().map(|d| d.join("src")))
        .filter(|src| src.is_dir())
        .collect()
}

/// The Rust files git tracks (and the new ones it does not ignore).
fn tracked_rust_files(root: &Path) -> Result<Vec<String>> {
    let out = shell::output(
        Command::new("git")
            .args([
                "ls-files",
                "--cached",
                "--others",
                "--exclude-standard",
                "*.rs",
            ])
            .current_dir(root),
    )?;
    let mut files: Vec<String> = out
        .lines()
        .filter(|l| root.join(l).is_file())
        .map(str::to_owned)
        .collect();
    files.sort();
    files.dedup();
    Ok(files)
}
