//! A private OCI registry (Debian's `docker-registry`, the CNCF distribution)
//! on loopback, standing in for Docker Hub: the backend's `docker.io` mirror
//! points here, so tests never reach the internet.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::shell;

/// Where the test registry listens unless `SOCKERLESS_TEST_REGISTRY` says otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:5000";

/// The test registry's `host:port`.
pub fn addr() -> String {
    std::env::var("SOCKERLESS_TEST_REGISTRY").unwrap_or_else(|_| DEFAULT_ADDR.to_owned())
}

fn dir() -> PathBuf {
    shell::target_dir().join("registry")
}

fn answers(addr: &str) -> bool {
    Command::new("curl")
        .args(["-fsS", "-o", "/dev/null", &format!("http://{addr}/v2/")])
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Starts the registry in the background unless one answers; returns
/// whether this call started it.
pub fn ensure() -> Result<bool> {
    let addr = addr();
    if answers(&addr) {
        return Ok(false);
    }
    let dir = dir();
    std::fs::create_dir_all(dir.join("data"))?;
    let config = dir.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
            dir.join("data").display()
        ),
    )?;
    let log = std::fs::File::create(dir.join("registry.log"))?;
    let mut cmd = Command::new("docker-registry");
    cmd.arg("serve")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    eprintln!("xtask: starting {cmd:?}");
    let child = cmd
        .spawn()
        .context("starting docker-registry (apt-get install docker-registry)")?;
    std::fs::write(dir.join("registry.pid"), child.id().to_string())?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !answers(&addr) {
        if Instant::now() > deadline {
            bail!(
                "registry did not answer on {addr} within 30 s; see {}",
                dir.join("registry.log").display()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(true)
}

/// Stops the registry this xtask started, if any.
pub fn stop() -> Result<()> {
    let Ok(pid) = std::fs::read_to_string(dir().join("registry.pid")) else {
        return Ok(());
    };
    eprintln!("xtask: stopping docker-registry {}", pid.trim());
    let _ = Command::new("kill").arg(pid.trim()).status();
    let _ = std::fs::remove_file(dir().join("registry.pid"));
    Ok(())
}
