//! Harness for the scenario tests: the all-in-one `sockerless` binary in
//! emulator mode on a temporary Unix socket, driven by the real Docker CLI.
//!
//! Needs `SOCKERLESS_SIM_ENGINE` (the engine running executions),
//! `SOCKERLESS_TEST_REGISTRY` (Docker Hub stand-in with library/busybox) and
//! `SOCKERLESS_AGENT_BIN` (the static agent). The tests that need them are
//! `#[ignore = "needs …"]`; `cargo xtask test` sets them up and runs those
//! tests, which fail when the variables are missing. Timeouts here are hang
//! guards only.
//!
//! A crate of its own (not a `tests/common` module) so the benches share it
//! with the tests without `#[path]`.

#![warn(missing_docs)]

mod cloud;
mod restart_daemon;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The all-in-one binary cargo built for the test or bench running:
/// `target/<profile>/sockerless`, next to the `deps/` folder holding the
/// test's own binary (cargo builds a package's binaries for its tests and
/// benches).
pub fn sockerless_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent()
        .and_then(Path::parent)
        .map(|profile| profile.join("sockerless"))
        .unwrap_or_else(|| PathBuf::from("sockerless"))
}

/// Hang guard for one CLI command or one scenario step.
pub const GUARD: Duration = Duration::from_secs(120);
/// The hang guard for this run: under the emulator's azure profile
/// (`SOCKERLESS_SIM_PROFILE=azure`, inherited by the all-in-one) a container
/// waits up to minutes to be scheduled, so steps get ten times longer.
#[allow(dead_code)]
pub fn guard() -> Duration {
    match std::env::var("SOCKERLESS_SIM_PROFILE").as_deref() {
        Ok("azure") => GUARD * 10,
        _ => GUARD,
    }
}
/// Hang guard for the daemon's startup (it pushes the agent image).
pub const STARTUP_GUARD: Duration = Duration::from_secs(120);
/// The Docker CLI.
pub const DOCKER: &str = "/usr/local/bin/docker";
/// The emulator's seeded subscription and resource group.
pub const SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000001";
/// The emulator's seeded resource group.
pub const RESOURCE_GROUP: &str = "sockerless";

/// What the scenario tests need from the environment.
#[derive(Debug, Clone)]
pub struct TestEnv {
    /// The engine running executions (`SOCKERLESS_SIM_ENGINE`).
    pub engine: String,
    /// The Docker Hub stand-in (`SOCKERLESS_TEST_REGISTRY`).
    pub registry: String,
    /// The static agent (`SOCKERLESS_AGENT_BIN`).
    pub agent_bin: PathBuf,
    /// `SOCKERLESS_E2E_AGENT_IMAGE`: a prebuilt agent image to pass as
    /// `--agent-image` instead of the one the all-in-one builds and pushes
    /// into the emulator's registry (the default, and what CI tests).
    pub agent_image: Option<String>,
}

/// The environment the scenario tests need; panics naming what is missing,
/// so an ignored test run without it fails instead of passing unrun.
pub fn test_env() -> TestEnv {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let required = [
        "SOCKERLESS_SIM_ENGINE",
        "SOCKERLESS_TEST_REGISTRY",
        "SOCKERLESS_AGENT_BIN",
    ];
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|k| var(k).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "this test needs {} (run it through `cargo xtask test`)",
        missing.join(", ")
    );
    let get = |k: &str| var(k).unwrap_or_default();
    TestEnv {
        engine: get("SOCKERLESS_SIM_ENGINE"),
        registry: get("SOCKERLESS_TEST_REGISTRY"),
        agent_bin: PathBuf::from(get("SOCKERLESS_AGENT_BIN")),
        agent_image: var("SOCKERLESS_E2E_AGENT_IMAGE"),
    }
}

/// Serialises the scenarios of one test binary: each starts its own daemon
/// and emulator, and 2 cores do not run many at once reliably.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Resident memory of `pid`, KiB (0 when it is gone).
fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A command running in the background ([`Sockerless::docker_shell`]).
pub struct Background(std::thread::JoinHandle<Out>);

impl Background {
    /// Its output once it ended (within the hang guard of [`run`]).
    pub fn wait(self) -> Out {
        self.0.join().expect("background command thread")
    }
}

/// Output of a finished command.
#[derive(Debug, Clone)]
pub struct Out {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

impl Out {
    /// Panics with the whole output unless the command exited 0.
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "command failed: {self:?}");
        self
    }
}

/// Runs `cmd` with `input` on stdin (closed afterwards), under the hang guard.
pub fn run(mut cmd: Command, input: Option<&[u8]>) -> Out {
    let what = format!("{cmd:?}");
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting {what}: {e}"));
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let stdout = reader(child.stdout.take());
    let stderr = reader(child.stderr.take());
    let deadline = Instant::now() + guard();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "hang guard: {what} still running after {} s; stdout so far: {:?}",
                guard().as_secs(),
                stdout
                    .recv_timeout(Duration::from_secs(1))
                    .unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Out {
        code: status.code().unwrap_or(-1),
        stdout: stdout.recv_timeout(guard()).unwrap_or_default(),
        stderr: stderr.recv_timeout(guard()).unwrap_or_default(),
    }
}

fn reader<R: Read + Send + 'static>(pipe: Option<R>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf);
        }
        let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
    });
    rx
}

/// A running `sockerless` in emulator mode.
pub struct Sockerless {
    child: Child,
    dir: tempfile::TempDir,
    /// `unix:///...` of the Docker API.
    pub docker_host: String,
    /// `http://127.0.0.1:PORT` of the embedded emulator.
    pub azure: String,
    /// The engine running the executions.
    pub engine: String,
    sim_data_dir: PathBuf,
}

impl Sockerless {
    /// Starts the binary and waits for its `export DOCKER_HOST=...` line.
    pub fn start(env: &TestEnv) -> Self {
        Self::start_with(env, &[])
    }

    /// Like [`Sockerless::start`], with extra flags (e.g. `--network-mode direct`).
    pub fn start_with(env: &TestEnv, extra: &[&str]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("slx")
            .tempdir()
            .expect("tempdir");
        let socket = dir.path().join("docker.sock");
        let data_dir = dir.path().join("data");
        let log = std::fs::File::create(dir.path().join("sockerless.log")).expect("log file");
        let mut cmd = Command::new(crate::sockerless_bin());
        cmd.arg("--emulator")
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .arg("--engine")
            .arg(&env.engine)
            .arg("--agent-bin")
            .arg(&env.agent_bin)
            .arg("--docker-io-mirror")
            .arg(format!("http://{}", env.registry))
            .arg("--data-dir")
            .arg(&data_dir)
            .args(extra)
            .env("SOCKERLESS_ACA_LOG_LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        if let Some(image) = &env.agent_image {
            cmd.arg("--agent-image").arg(image);
        }
        // Emulator mode: no subscription may leak in from the environment.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("SOCKERLESS_ACA_")
                && key != "SOCKERLESS_ACA_LOG_LEVEL"
            {
                cmd.env_remove(key);
            }
        }
        let mut child = cmd.spawn().expect("starting sockerless");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut daemon = Self {
            child,
            docker_host: format!("unix://{}", socket.display()),
            azure: String::new(),
            engine: env.engine.clone(),
            sim_data_dir: data_dir.join("azure-sim"),
            dir,
        };
        let first = rx.recv_timeout(STARTUP_GUARD).unwrap_or_else(|_| {
            panic!(
                "sockerless printed no DOCKER_HOST line within {} s (or exited); log:\n{}",
                STARTUP_GUARD.as_secs(),
                daemon.log()
            )
        });
        assert_eq!(
            first,
            format!("export DOCKER_HOST={}", daemon.docker_host),
            "first stdout line"
        );
        let second = rx
            .recv_timeout(guard())
            .expect("SOCKERLESS_AZURE_ENDPOINT line");
        daemon.azure = second
            .strip_prefix("export SOCKERLESS_AZURE_ENDPOINT=")
            .unwrap_or_else(|| panic!("second stdout line: {second:?}"))
            .to_owned();
        daemon
    }

    /// The daemon's data directory (`--data-dir`).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sockerless.log")).unwrap_or_default()
    }

    /// A `docker` command pointed at this daemon.
    pub fn docker_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(DOCKER);
        cmd.arg("-H").arg(&self.docker_host).args(args);
        cmd.env_remove("DOCKER_CONTEXT");
        cmd
    }

    /// Runs `docker ARGS` against this daemon.
    pub fn docker(&self, args: &[&str]) -> Out {
        run(self.docker_cmd(args), None)
    }

    /// Runs `docker ARGS` with `input` on stdin.
    pub fn docker_stdin(&self, args: &[&str], input: &[u8]) -> Out {
        run(self.docker_cmd(args), Some(input))
    }

    /// Runs `docker ARGS` on a pseudo-terminal (under `script`).
    pub fn docker_tty(&self, args: &str) -> Out {
        let mut cmd = Command::new("script");
        cmd.args(["-qec"])
            .arg(format!("{DOCKER} -H {} {args}", self.docker_host))
            .arg("/dev/null");
        run(cmd, None)
    }

    /// Pulls busybox once so later runs print nothing about pulling.
    pub fn pull_busybox(&self) {
        self.docker(&["pull", "-q", "busybox"]).ok();
    }

    /// A temporary file path inside this daemon's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Resident memory of the all-in-one, KiB.
    pub fn rss_kib(&self) -> u64 {
        rss_of(self.child.id())
    }

    /// Reads the all-in-one's resident memory (KiB) from another thread.
    pub fn rss_sampler(&self) -> impl Fn() -> u64 + Send + 'static {
        let pid = self.child.id();
        move || rss_of(pid)
    }

    /// `sh -c script` in the background with `DOCKER_HOST` pointing here.
    pub fn docker_shell(&self, script: &str) -> Background {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script])
            .env("DOCKER_HOST", &self.docker_host)
            .env(
                "PATH",
                format!(
                    "/usr/local/bin:{}",
                    std::env::var("PATH").unwrap_or_default()
                ),
            );
        Background(std::thread::spawn(move || run(cmd, None)))
    }

    /// Polls `docker logs NAME` (hang guard) until its stdout contains `needle`.
    pub fn wait_for_log(&self, name: &str, needle: &str) -> String {
        let deadline = Instant::now() + guard();
        loop {
            let out = self.docker(&["logs", name]);
            if out.stdout.contains(needle) {
                return out.stdout;
            }
            if Instant::now() > deadline {
                panic!("{needle:?} never appeared in docker logs {name}: {out:?}");
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// SIGTERM and wait (hang guard); returns the exit status code.
    pub fn stop(mut self) -> Option<i32> {
        self.terminate()
    }

    fn terminate(&mut self) -> Option<i32> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return status.code();
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + guard();
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Sockerless {
    fn drop(&mut self) {
        let code = self.terminate();
        if std::thread::panicking() {
            let log = self.log();
            // Polls (ps, ping) fill the request log while a test waits:
            // what the daemon did is in the other lines.
            let tail: Vec<&str> = log
                .lines()
                .rev()
                .filter(|l| !l.contains(" request method="))
                .take(80)
                .collect();
            eprintln!(
                "--- sockerless exited {code:?}; last log lines but requests ---\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }
}

/// Whether `line` is `<RFC 3339 timestamp> <text>` with the expected text.
pub fn is_timestamped(line: &str, text: &str) -> bool {
    let Some((stamp, rest)) = line.split_once(' ') else {
        return false;
    };
    rest == text
        && stamp.len() >= 20
        && stamp.as_bytes()[0].is_ascii_digit()
        && stamp.as_bytes().get(10) == Some(&b'T')
        && (stamp.ends_with('Z') || stamp[19..].contains(['+', '-']))
}

/// A unique suffix for names in one test run.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{prefix}{}{nanos}", std::process::id())
}

/// Whether `path` exists (a test that needs a tool fails naming it when it is missing).
pub fn have(path: &str) -> bool {
    Path::new(path).exists()
}
