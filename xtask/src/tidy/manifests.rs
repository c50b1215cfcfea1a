//! Rules of the manifests: which crate may depend on which (from `cargo
//! metadata`), one version of each dependency (`[workspace.dependencies]`),
//! and the workspace's lints in every member.

use serde_json::Value;

/// A member's workspace dependencies, and why no others.
struct ImportRule {
    package: &'static str,
    /// Workspace crates it may depend on (any kind).
    may_use: &'static [&'static str],
    /// Workspace crates it may use in its tests only.
    dev_only: &'static [&'static str],
    why: &'static str,
}

const IMPORT_RULES: &[ImportRule] = &[
    ImportRule {
        package: "sockerless-api",
        may_use: &[],
        dev_only: &[],
        why: "the contract knows no implementation",
    },
    ImportRule {
        package: "sockerless-frontend-docker",
        may_use: &["sockerless-api"],
        dev_only: &[],
        why: "the frontend meets the backends only through sockerless-api",
    },
    ImportRule {
        package: "sockerless-backend-aca",
        may_use: &["sockerless-api", "sockerless-agent", "sockerless-azure"],
        dev_only: &["sockerless-azure-sim"],
        why: "the backend knows the contract, the agent's peer library and the Azure clients; \
              the emulator only in its tests",
    },
    ImportRule {
        package: "sockerless-azure",
        may_use: &[],
        dev_only: &[],
        why: "the Azure clients know nothing of Docker or sockerless",
    },
    ImportRule {
        package: "sockerless-agent",
        may_use: &[],
        dev_only: &[],
        why: "the agent runs alone in every container",
    },
    ImportRule {
        package: "sockerless-azure-sim",
        may_use: &[],
        dev_only: &[],
        why: "the emulator is Azure as seen from outside",
    },
    ImportRule {
        package: "sockerless",
        may_use: &[
            "sockerless-api",
            "sockerless-frontend-docker",
            "sockerless-backend-aca",
            "sockerless-azure",
            "sockerless-azure-sim",
        ],
        dev_only: &["sockerless-testkit"],
        why: "the all-in-one puts the parts together",
    },
    ImportRule {
        package: "sockerless-testkit",
        may_use: &[],
        dev_only: &[],
        why: "the end-to-end tests drive the binaries from outside",
    },
    ImportRule {
        package: "xtask",
        may_use: &[],
        dev_only: &[],
        why: "dev tasks drive the binaries from outside",
    },
    ImportRule {
        package: "sockerless-conformance-bollard",
        may_use: &[],
        dev_only: &[],
        why: "a conformance client sees only the Docker API",
    },
];

/// The workspace's packages in `cargo metadata`'s JSON.
pub fn packages(metadata: &Value) -> Vec<&Value> {
    metadata["packages"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

/// Dependencies between workspace crates that the import rules forbid, and
/// members with no rule (a new crate must say what it may use).
pub fn import_rules(metadata: &Value) -> Vec<String> {
    let members: Vec<&str> = packages(metadata)
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    let mut findings = Vec::new();
    for package in packages(metadata) {
        let name = package["name"].as_str().unwrap_or("?");
        let Some(rule) = IMPORT_RULES.iter().find(|r| r.package == name) else {
            findings.push(format!(
                "{name}: no import rule: add it to xtask/src/tidy/manifests.rs (IMPORT_RULES)"
            ));
            continue;
        };
        let deps = package["dependencies"].as_array().into_iter().flatten();
        for dep in deps {
            let dep_name = dep["name"].as_str().unwrap_or("?");
            if !members.contains(&dep_name) {
                continue;
            }
            let dev = dep["kind"].as_str() == Some("dev");
            let allowed =
                rule.may_use.contains(&dep_name) || (dev && rule.dev_only.contains(&dep_name));
            if !allowed {
                let kind = if dev { "dev-dependency" } else { "dependency" };
                findings.push(format!(
                    "{name} must not depend on {dep_name} ({kind}): {}",
                    rule.why
                ));
            }
        }
    }
    findings
}

/// A `key = value` line of a manifest, with its line number (from 1).
type Entry = (String, String, usize);

/// A manifest's `[section]`s with their entries.
fn sections(text: &str) -> Vec<(String, Vec<Entry>)> {
    let mut out: Vec<(String, Vec<Entry>)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            out.push((line.trim_matches(['[', ']']).trim().to_owned(), Vec::new()));
            continue;
        }
        if let (Some((_, entries)), Some((key, value))) = (out.last_mut(), line.split_once('=')) {
            entries.push((key.trim().to_owned(), value.trim().to_owned(), n + 1));
        }
    }
    out
}

fn is_dependency_section(header: &str) -> bool {
    header == "dependencies"
        || header == "dev-dependencies"
        || header == "build-dependencies"
        || header.ends_with(".dependencies")
        || header.ends_with(".dev-dependencies")
        || header.ends_with(".build-dependencies")
}

/// Dependencies of a member that do not take their version from
/// `[workspace.dependencies]` (the one place versions are written).
pub fn dependency_rules(manifest: &str, text: &str) -> Vec<String> {
    let mut findings = Vec::new();
    for (header, entries) in sections(text) {
        if header.starts_with("dependencies.") || header.contains("dependencies.") {
            findings.push(format!(
                "{manifest}: [{header}]: write the dependency on one line with `workspace = true`"
            ));
            continue;
        }
        if !is_dependency_section(&header) {
            continue;
        }
        for (key, value, line) in entries {
            let inherits = key.ends_with(".workspace") && value == "true"
                || value.starts_with('{')
                    && value.contains("workspace = true")
                    && !value.contains("version")
                    && !value.contains("path");
            if !inherits {
                findings.push(format!(
                    "{manifest}:{line}: {key} = {value}: versions live in the root's \
                     [workspace.dependencies]; write `{} = {{ workspace = true }}` (features may be added)",
                    key.trim_end_matches(".workspace")
                ));
            }
        }
    }
    findings
}

/// The workspace's lints (`[workspace.lints.<tool>]` of the root manifest).
fn workspace_lints(root_manifest: &str) -> Vec<(String, String)> {
    sections(root_manifest)
        .into_iter()
        .filter_map(|(h, e)| {
            h.strip_prefix("workspace.lints.")
                .map(|t| (t.to_owned(), e))
        })
        .flat_map(|(tool, entries)| {
            entries
                .into_iter()
                .map(move |(k, v, _)| (format!("{tool}::{k}"), v))
        })
        .collect()
}

/// A member that neither inherits the workspace's lints nor repeats them
/// (with `unsafe_code` lowered from forbid to deny, the one exception, for
/// crates whose files allow `unsafe` one by one with their reason).
pub fn lint_rules(manifest: &str, text: &str, root_manifest: &str) -> Vec<String> {
    let sections = sections(text);
    if sections
        .iter()
        .any(|(h, e)| h == "lints" && e.iter().any(|(k, v, _)| k == "workspace" && v == "true"))
    {
        return Vec::new();
    }
    let own: Vec<(String, String)> = sections
        .iter()
        .filter_map(|(h, e)| h.strip_prefix("lints.").map(|t| (t, e)))
        .flat_map(|(tool, e)| {
            e.iter()
                .map(move |(k, v, _)| (format!("{tool}::{k}"), v.clone()))
        })
        .collect();
    if own.is_empty() {
        return vec![format!(
            "{manifest}: no [lints]: add `[lints] workspace = true`"
        )];
    }
    let mut findings = Vec::new();
    for (lint, level) in workspace_lints(root_manifest) {
        let theirs = own
            .iter()
            .find(|(l, _)| *l == lint)
            .map(|(_, v)| v.as_str());
        let ok = match theirs {
            Some(v) if v == level => true,
            Some("\"deny\"") if lint == "rust::unsafe_code" => true,
            _ => false,
        };
        if !ok {
            findings.push(format!(
                "{manifest}: lint {lint} is {} here, {level} in the workspace",
                theirs.unwrap_or("missing")
            ));
        }
    }
    findings
}
