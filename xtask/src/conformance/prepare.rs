//! What a conformance run needs besides the engine and the registry: the
//! Python venv of the Python clients, the built binaries, and the
//! all-in-one under test.

// unsafe: SIGTERM to the all-in-one it started.
#![allow(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::engine::Engine;
use crate::shell;

/// `target/conformance`: logs, results, the venv.
pub fn dir() -> PathBuf {
    shell::target_dir().join("conformance")
}

/// The venv's interpreter, made (and `pip install -r`'d) when
/// `requirements.txt` exists and changed since the last install. Without
/// the file the Python clients have no scenarios worth a venv: `python3`.
pub fn venv(requirements: &Path) -> Result<PathBuf> {
    let Ok(wanted) = std::fs::read_to_string(requirements) else {
        return Ok(PathBuf::from("python3"));
    };
    let venv = dir().join("venv");
    let python = venv.join("bin/python");
    if !python.is_file() {
        shell::run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    // The stamp is the requirements file as last installed.
    let stamp = venv.join(".requirements.installed");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        shell::run(
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                ])
                .arg(requirements),
        )?;
        std::fs::write(&stamp, &wanted)?;
    }
    Ok(python)
}

/// Builds sockerless (and the bollard scenarios' binary when its crate
/// exists); returns the paths of both. They are built as the workspace's
/// tests build them (their integration tests run them), so after `cargo
/// test --workspace` (CI) nothing is compiled again: a `cargo build -p`
/// would resolve other features and rebuild most dependencies.
pub fn build(root: &Path) -> Result<(PathBuf, Option<PathBuf>)> {
    shell::run(shell::cargo().args(["test", "--workspace", "--no-run"]))?;
    let debug = shell::target_dir().join("debug");
    let bollard = root
        .join("bollard/Cargo.toml")
        .is_file()
        .then(|| debug.join("sockerless-conformance-bollard"));
    Ok((debug.join("sockerless"), bollard))
}

/// The all-in-one under test, stopped when dropped (also on error or panic).
pub struct AllInOne {
    child: Child,
    dir: PathBuf,
    socket: PathBuf,
}

impl AllInOne {
    /// Starts `bin` on a socket and data directory of its own and waits
    /// until it answers `/_ping`. Its log goes to `log`.
    pub fn start(
        bin: &Path,
        engine: &Engine,
        agent: &Path,
        registry: &str,
        profile: &str,
        log: &Path,
    ) -> Result<AllInOne> {
        let dir =
            std::env::temp_dir().join(format!("sockerless-conformance-aio-{}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let socket = dir.join("docker.sock");
        let _ = std::fs::remove_file(&socket);
        if let Some(parent) = log.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let log_file = std::fs::File::create(log)?;
        let mut cmd = Command::new(bin);
        cmd.arg("--emulator")
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .arg("--engine")
            .arg(engine.url())
            .arg("--agent-bin")
            .arg(agent)
            .arg("--docker-io-mirror")
            .arg(format!("http://{registry}"))
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--emulator-profile")
            .arg(profile)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        eprintln!("xtask: starting {cmd:?}");
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let mut aio = AllInOne { child, dir, socket };
        let deadline = Instant::now() + Duration::from_secs(90);
        while !aio.answers() {
            if let Some(status) = aio.child.try_wait()? {
                bail!(
                    "sockerless exited ({status}) before answering; see {}",
                    log.display()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "sockerless did not answer within 90 s; see {}",
                    log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(aio)
    }

    /// Its process ID (its memory is read from `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `DOCKER_HOST` for it.
    pub fn url(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    fn answers(&self) -> bool {
        Command::new("curl")
            .args([
                "-fsS",
                "-o",
                "/dev/null",
                "--max-time",
                "5",
                "--unix-socket",
            ])
            .arg(&self.socket)
            .arg("http://sockerless/_ping")
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }
}

impl Drop for AllInOne {
    fn drop(&mut self) {
        eprintln!("xtask: stopping sockerless {}", self.child.id());
        // SIGTERM first: it drains and removes its jobs' replicas from the engine.
        // SAFETY: kill(2) on our own child's pid; it touches no memory.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = std::fs::remove_dir_all(&self.dir);
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
