//! The daemon under test: a release `sockerless` all-in-one on a temporary
//! socket and data dir, its log kept for the phase events; and the RSS of a
//! process.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::shell;

/// How long the all-in-one may take to print its `DOCKER_HOST` line (it
/// builds and pushes the agent image first).
const STARTUP: Duration = Duration::from_secs(120);

/// A running all-in-one; stopped (SIGTERM, then waited for) on drop.
pub struct Daemon {
    child: Child,
    pub dir: PathBuf,
    pub socket: PathBuf,
    /// Base URL of the embedded emulator (its `/_sim/requests`).
    pub azure: String,
}

impl Daemon {
    /// Starts `target/release/sockerless` in emulator mode on `engine`, with
    /// the phase events of the backend in its log.
    pub fn start(engine_url: &str, agent_bin: &Path, registry: &str) -> Result<Self> {
        let bin = shell::target_dir().join("release/sockerless");
        let dir = std::env::temp_dir().join(format!("sockerless-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let socket = dir.join("docker.sock");
        let log = std::fs::File::create(dir.join("sockerless.log"))?;
        let mut cmd = Command::new(&bin);
        cmd.arg("--emulator")
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .arg("--engine")
            .arg(engine_url)
            .arg("--agent-bin")
            .arg(agent_bin)
            .arg("--docker-io-mirror")
            .arg(format!("http://{registry}"))
            .arg("--data-dir")
            .arg(dir.join("data"))
            .env(
                "SOCKERLESS_ACA_LOG_LEVEL",
                format!("info,{}=debug", super::timeline::TARGET),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        // Emulator mode: no subscription may leak in from the environment.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("SOCKERLESS_ACA_") {
                cmd.env_remove(&key);
            }
        }
        eprintln!("xtask: starting {}", bin.display());
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().context("stdout of sockerless")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout)
                .lines()
                .map_while(std::result::Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut daemon = Self {
            child,
            dir,
            socket,
            azure: String::new(),
        };
        for _ in 0..2 {
            let line = rx.recv_timeout(STARTUP).with_context(|| {
                format!("sockerless did not get ready; its log:\n{}", daemon.log())
            })?;
            if let Some(url) = line.strip_prefix("export SOCKERLESS_AZURE_ENDPOINT=") {
                daemon.azure = url.to_owned();
            }
        }
        if daemon.azure.is_empty() {
            bail!("sockerless printed no SOCKERLESS_AZURE_ENDPOINT line");
        }
        Ok(daemon)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("sockerless.log")).unwrap_or_default()
    }

    /// The emulator's request log (`GET /_sim/requests`), through curl: it
    /// is read once per run, outside anything measured.
    pub fn sim_requests(&self) -> Result<serde_json::Value> {
        let out = shell::output(
            Command::new("curl").args(["-fsS", &format!("{}/_sim/requests", self.azure)]),
        )?;
        serde_json::from_str(&out).context("request log JSON")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SIGTERM: the all-in-one removes the emulator's containers on the way out.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Resident set of process `pid` in MB (10^6 bytes), from `/proc/PID/status`.
pub fn rss_mb(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    parse_vmrss_kb(&status)
        .map(|kb| kb as f64 * 1024.0 / 1e6)
        .with_context(|| format!("no VmRSS in /proc/{pid}/status"))
}

/// `VmRSS` in kB of a `/proc/PID/status` text.
pub fn parse_vmrss_kb(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// The engine's dockerd PID (`target/engine/dockerd.pid`).
pub fn engine_pid() -> Result<u32> {
    let file = shell::target_dir().join("engine/dockerd.pid");
    let pid =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    pid.trim()
        .parse()
        .with_context(|| format!("bad PID in {}", file.display()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn vmrss_is_read_in_kb() {
        let status = "Name:\tsockerless\nVmPeak:\t  900 kB\nVmRSS:\t   86056 kB\nThreads:\t9\n";
        assert_eq!(super::parse_vmrss_kb(status), Some(86056));
        assert_eq!(super::parse_vmrss_kb("Name: x\n"), None);
    }
}
