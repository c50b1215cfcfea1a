//! Finding the scenarios under `conformance/`: one file (or one bollard
//! sub-command) per scenario, named `client/NAME`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// How a scenario is started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `bash NAME.sh` (the Docker CLI and docker-compose scenarios).
    Shell(PathBuf),
    /// `PYTHON NAME.py` with the venv's interpreter.
    Python(PathBuf),
    /// `sockerless-conformance-bollard NAME`.
    Bollard { bin: PathBuf, name: String },
}

/// One scenario: `id` is `client/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    pub id: String,
    pub kind: Kind,
}

impl Scenario {
    /// The client part of the id (`cli`, `compose`, `python-sdk`, ...).
    pub fn client(&self) -> &str {
        self.id.split('/').next().unwrap_or(&self.id)
    }
}

/// The script directories: client name, file extension, how to run one.
const SCRIPT_DIRS: [(&str, &str); 4] = [
    ("cli", "sh"),
    ("compose", "sh"),
    ("python-sdk", "py"),
    ("testcontainers", "py"),
];

/// Every scenario under `root` (the `conformance/` directory), sorted by id.
/// `bollard` is the built scenario binary, asked for its list with `--list`;
/// `None` when the crate is absent.
pub fn discover(root: &Path, bollard: Option<&Path>) -> Result<Vec<Scenario>> {
    let mut found = Vec::new();
    for (client, ext) in SCRIPT_DIRS {
        let dir = root.join(client);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry
                .with_context(|| format!("reading {}", dir.display()))?
                .path();
            if !path.is_file() || path.extension().and_then(|e| e.to_str()) != Some(ext) {
                continue;
            }
            let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            // Helpers shared by a client's scenarios (`_common.py`) are not scenarios.
            if name.starts_with('_') {
                continue;
            }
            let kind = if ext == "sh" {
                Kind::Shell(path.clone())
            } else {
                Kind::Python(path.clone())
            };
            found.push(Scenario {
                id: format!("{client}/{name}"),
                kind,
            });
        }
    }
    if let Some(bin) = bollard {
        for name in bollard_list(bin)? {
            found.push(Scenario {
                id: format!("bollard/{name}"),
                kind: Kind::Bollard {
                    bin: bin.to_path_buf(),
                    name,
                },
            });
        }
    }
    found.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(found)
}

/// The bollard binary's scenario names, one per line of `--list`.
fn bollard_list(bin: &Path) -> Result<Vec<String>> {
    let out = Command::new(bin)
        .arg("--list")
        .output()
        .with_context(|| format!("starting {} --list", bin.display()))?;
    if !out.status.success() {
        bail!(
            "{} --list failed: {}: {}",
            bin.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

/// Keeps the scenarios whose id starts with one of `only` (all when empty).
pub fn filter(scenarios: Vec<Scenario>, only: &[String]) -> Vec<Scenario> {
    if only.is_empty() {
        return scenarios;
    }
    scenarios
        .into_iter()
        .filter(|s| only.iter().any(|p| s.id.starts_with(p.as_str())))
        .collect()
}
