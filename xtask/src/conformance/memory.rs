//! Whether the all-in-one gives memory back: its resident and private dirty
//! memory after a warm-up of a few containers, again after every scenario
//! ran (and a settle), and the verdict on the growth between the two.
//!
//! The warm-up is the baseline because the first containers grow caches and
//! pools that stay (the agent image, TLS sessions, the SQLite page cache,
//! allocator arenas); what grows after that, over a whole run of hundreds of
//! containers, is what a long-lived daemon would keep growing.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::json;

/// Containers run through the all-in-one before the baseline is read.
pub const WARM_UP_CONTAINERS: usize = 10;
/// How long the all-in-one is left alone before the final reading: removals
/// and replica cleanups finishing in the background are not growth.
pub const SETTLE: Duration = Duration::from_secs(5);
/// Resident memory the whole run may add to the baseline (issue 14).
pub const MAX_GROWTH_KIB: u64 = 32 * 1024;

/// Memory of a process, in KiB (as the kernel counts it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// Resident set (`Rss`).
    pub rss_kib: u64,
    /// Private dirty pages (`Private_Dirty`): the heap and stacks, what the
    /// process itself wrote; the shared text of the binary is not in it.
    pub private_dirty_kib: u64,
}

impl Memory {
    /// JSON of one reading.
    pub fn to_json(self) -> serde_json::Value {
        json!({"rss_kib": self.rss_kib, "private_dirty_kib": self.private_dirty_kib})
    }
}

/// The two readings of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    /// After the warm-up containers.
    pub baseline: Memory,
    /// After every scenario ran and a settle.
    pub after: Memory,
    /// Growth of the RSS allowed.
    pub limit_kib: u64,
}

impl Check {
    /// RSS growth (negative when memory came back below the baseline).
    pub fn growth_kib(&self) -> i64 {
        self.after.rss_kib as i64 - self.baseline.rss_kib as i64
    }

    /// Why the run fails, when the RSS grew past the limit.
    pub fn verdict(&self) -> Option<String> {
        let growth = self.growth_kib();
        (growth > self.limit_kib as i64).then(|| {
            format!(
                "sockerless kept memory: RSS {} after {WARM_UP_CONTAINERS} containers, {} after \
                 every scenario: +{}, more than the {} allowed (private dirty {} → {})",
                mib(self.baseline.rss_kib as i64),
                mib(self.after.rss_kib as i64),
                mib(growth),
                mib(self.limit_kib as i64),
                mib(self.baseline.private_dirty_kib as i64),
                mib(self.after.private_dirty_kib as i64),
            )
        })
    }

    /// The table's line.
    pub fn render(&self) -> String {
        format!(
            "sockerless memory: RSS {} after {WARM_UP_CONTAINERS} containers, {} after every \
             scenario ({:+.1} MiB, limit +{}); private dirty {} → {}\n",
            mib(self.baseline.rss_kib as i64),
            mib(self.after.rss_kib as i64),
            self.growth_kib() as f64 / 1024.0,
            mib(self.limit_kib as i64),
            mib(self.baseline.private_dirty_kib as i64),
            mib(self.after.private_dirty_kib as i64),
        )
    }

    /// The JSON of `results.json`'s `memory`.
    pub fn to_json(self) -> serde_json::Value {
        json!({
            "baseline": self.baseline.to_json(),
            "after": self.after.to_json(),
            "growth_kib": self.growth_kib(),
            "limit_kib": self.limit_kib,
            "pass": self.verdict().is_none(),
        })
    }
}

fn mib(kib: i64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// `Rss` and `Private_Dirty` of a `/proc/PID/smaps_rollup` text.
pub fn parse_smaps_rollup(text: &str) -> Option<Memory> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    };
    Some(Memory {
        rss_kib: field("Rss")?,
        private_dirty_kib: field("Private_Dirty")?,
    })
}

/// The memory of process `pid` now.
pub fn read(pid: u32) -> Result<Memory> {
    let path = format!("/proc/{pid}/smaps_rollup");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_smaps_rollup(&text).with_context(|| format!("no Rss or Private_Dirty in {path}"))
}

/// Runs `docker run --rm IMAGE true` `n` times against `docker_host`, its
/// output going to `log`: the containers before the baseline.
pub fn warm_up(docker_host: &str, image: &str, n: usize, log: &Path) -> Result<()> {
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let log_file =
        std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    for i in 0..n {
        let status = Command::new("docker")
            .args(["run", "--rm", image, "true"])
            .env("DOCKER_HOST", docker_host)
            .env_remove("DOCKER_CONTEXT")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file.try_clone()?)
            .status()
            .context("running docker")?;
        if !status.success() {
            bail!(
                "warm-up container {} of {n} failed ({status}); see {}",
                i + 1,
                log.display()
            );
        }
    }
    Ok(())
}
