//! A private dockerd for the Azure emulator to run job executions on.
//!
//! It keeps everything under `target/engine`, has no default bridge, and
//! touches neither iptables nor the host's IP forwarding, so it coexists with
//! another engine on the same machine. The emulator creates its own
//! user-defined bridge network on it (a subnet dockerd picks clear of the
//! host's routes): each replica gets its own network namespace there and
//! reaches the host only at the bridge's gateway address.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::shell;

/// A running engine's socket.
pub struct Engine {
    socket: PathBuf,
}

impl Engine {
    /// `unix:///...` URL of the engine's socket.
    pub fn url(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// A `docker` CLI command talking to this engine.
    pub fn docker(&self) -> Command {
        let mut cmd = Command::new("docker");
        cmd.env("DOCKER_HOST", self.url());
        cmd
    }

    /// The line to put in a shell to point tests at this engine.
    pub fn env_line(&self) -> String {
        format!("export SOCKERLESS_SIM_ENGINE={}", self.url())
    }

    fn answers(&self) -> bool {
        self.docker()
            .args(["version", "--format", "{{.Server.Version}}"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }
}

fn dir() -> PathBuf {
    shell::target_dir().join("engine")
}

fn ours() -> Engine {
    Engine {
        socket: dir().join("docker.sock"),
    }
}

/// The engine named by `SOCKERLESS_SIM_ENGINE`, or ours if it is running.
pub fn running() -> Result<Engine> {
    if let Some(url) = std::env::var_os("SOCKERLESS_SIM_ENGINE") {
        let url = url.to_string_lossy().into_owned();
        let Some(path) = url.strip_prefix("unix://") else {
            bail!("SOCKERLESS_SIM_ENGINE must be unix:///path, got {url}");
        };
        return Ok(Engine {
            socket: PathBuf::from(path),
        });
    }
    let engine = ours();
    if !engine.answers() {
        bail!("no engine: run `cargo xtask engine start` or set SOCKERLESS_SIM_ENGINE");
    }
    Ok(engine)
}

/// A running engine, and whether this call started it.
pub fn ensure() -> Result<(Engine, bool)> {
    if let Ok(engine) = running()
        && engine.answers()
    {
        return Ok((engine, false));
    }
    Ok((start()?, true))
}

/// Starts dockerd in the background and waits until it answers.
pub fn start() -> Result<Engine> {
    let engine = ours();
    if engine.answers() {
        return Ok(engine);
    }
    let dir = dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let _ = std::fs::remove_file(&engine.socket);
    let log = std::fs::File::create(dir.join("dockerd.log"))?;
    let dockerd = which("dockerd").context(
        "dockerd not found: install Debian's docker.io package (apt-get install docker.io)",
    )?;
    let mut cmd = Command::new(dockerd);
    cmd.arg("--data-root")
        .arg(dir.join("data"))
        .arg("--exec-root")
        .arg(dir.join("exec"))
        .arg("--pidfile")
        .arg(dir.join("dockerd.pid"))
        .arg("--host")
        .arg(engine.url())
        .args([
            "--bridge",
            "none",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-forward=false",
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    eprintln!("xtask: starting {cmd:?}");
    cmd.spawn().context("starting dockerd")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !engine.answers() {
        if Instant::now() > deadline {
            bail!(
                "dockerd did not answer within 60 s; see {}",
                dir.join("dockerd.log").display()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Ok(engine)
}

/// Stops our dockerd, if running.
pub fn stop() -> Result<()> {
    let pidfile = dir().join("dockerd.pid");
    let Ok(pid) = std::fs::read_to_string(&pidfile) else {
        return Ok(());
    };
    let pid = pid.trim();
    remove_emulator_leftovers(&ours());
    eprintln!("xtask: stopping dockerd {pid}");
    let _ = Command::new("kill").arg(pid).status();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    unmount_leftovers();
    Ok(())
}

/// Removes what emulators left on the engine (containers, then their bridge
/// networks, whose interfaces would otherwise outlive dockerd on the host).
fn remove_emulator_leftovers(engine: &Engine) {
    if !engine.answers() {
        return;
    }
    let label = "label=sockerless-azure-sim";
    let ids = engine
        .docker()
        .args(["ps", "-aq", "--filter", label])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if !ids.is_empty() {
        eprintln!("xtask: removing {} emulator container(s)", ids.len());
        let _ = engine
            .docker()
            .args(["rm", "-f"])
            .args(&ids)
            .stdout(Stdio::null())
            .status();
    }
    eprintln!("xtask: removing the emulators' networks");
    let _ = engine
        .docker()
        .args(["network", "prune", "-f", "--filter", label])
        .stdout(Stdio::null())
        .status();
}

/// dockerd leaves its default network namespace mounted under the exec root;
/// unmount what is left under our directory so `target/` can be deleted.
fn unmount_leftovers() {
    let dir = dir();
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
        return;
    };
    let mut points: Vec<&str> = mounts
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .filter(|point| std::path::Path::new(point).starts_with(&dir))
        .collect();
    // Deepest first, so nested mounts come off before their parents.
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for point in points {
        eprintln!("xtask: unmounting {point}");
        let _ = Command::new("umount").arg(point).status();
    }
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
