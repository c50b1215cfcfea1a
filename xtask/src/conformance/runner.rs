//! Running scenarios: each on each side, a few at a time, each in its own
//! empty directory and process group, with its output in a log file.

// unsafe: SIGKILL to a scenario's process group.
#![allow(unsafe_code)]

use std::collections::hash_map::RandomState;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::discover::{Kind, Scenario};

/// A Docker daemon the scenarios run against.
#[derive(Debug, Clone)]
pub struct Side {
    /// `sockerless` or `engine` (the key in results and expectations).
    pub name: String,
    /// `DOCKER_HOST` for the scenarios.
    pub docker_host: String,
}

/// What every run shares.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Scenario runs at once (over both sides).
    pub jobs: usize,
    /// A run still going after this is killed (its whole process group) and fails.
    pub timeout: Duration,
    /// Logs go to `logs/<side>/<client>/<name>.log`.
    pub logs: PathBuf,
    /// Interpreter for the Python scenarios (the venv's).
    pub python: PathBuf,
    /// `CONFORMANCE_IMAGE`.
    pub image: String,
    /// `CONFORMANCE_REGISTRY`.
    pub registry: String,
}

/// Pass or fail of one scenario on one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
        }
    }
}

/// One scenario run on one side.
#[derive(Debug, Clone)]
pub struct Cell {
    pub status: Status,
    pub seconds: f64,
    /// Why it failed in a few words (`exit status: 1`, `timed out after 180 s`).
    pub detail: String,
    pub log: PathBuf,
}

/// A scenario's runs, one cell per side in the order the sides were given.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub id: String,
    pub client: String,
    pub cells: Vec<Cell>,
}

/// Runs every scenario on every side, `settings.jobs` at a time, and returns
/// the outcomes in the scenarios' order. Setting `stop` (Ctrl-C) kills the
/// runs under way and fails the ones not started.
pub fn run_all(
    scenarios: &[Scenario],
    sides: &[Side],
    settings: &Settings,
    stop: &AtomicBool,
) -> Vec<Outcome> {
    let total = scenarios.len() * sides.len();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let cells: Mutex<Vec<Option<Cell>>> = Mutex::new(vec![None; total]);
    std::thread::scope(|scope| {
        for _ in 0..settings.jobs.max(1).min(total.max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= total {
                        break;
                    }
                    let (scenario, side) = (&scenarios[i / sides.len()], &sides[i % sides.len()]);
                    let cell = run_one(scenario, side, settings, stop);
                    let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                    eprintln!(
                        "conformance: [{n}/{total}] {} on {}: {} ({:.1} s){}",
                        scenario.id,
                        side.name,
                        cell.status.as_str(),
                        cell.seconds,
                        if cell.status == Status::Fail {
                            format!(" {}; log {}", cell.detail, cell.log.display())
                        } else {
                            String::new()
                        }
                    );
                    if let Ok(mut cells) = cells.lock() {
                        cells[i] = Some(cell);
                    }
                }
            });
        }
    });
    let mut cells = cells
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter();
    scenarios
        .iter()
        .map(|scenario| Outcome {
            id: scenario.id.clone(),
            client: scenario.client().to_owned(),
            cells: sides
                .iter()
                .map(|side| {
                    cells.next().flatten().unwrap_or_else(|| Cell {
                        status: Status::Fail,
                        seconds: 0.0,
                        detail: "not run".into(),
                        log: log_path(settings, side, scenario),
                    })
                })
                .collect(),
        })
        .collect()
}

fn log_path(settings: &Settings, side: &Side, scenario: &Scenario) -> PathBuf {
    settings
        .logs
        .join(&side.name)
        .join(format!("{}.log", scenario.id))
}

/// A fresh `CONFORMANCE_PREFIX`: `cf`, five random lowercase letters or
/// digits, `-` (a valid start of container, volume, network and compose
/// project names).
pub fn new_prefix() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_usize(COUNTER.fetch_add(1, Ordering::SeqCst));
    hasher.write_u32(std::process::id());
    let mut n = hasher.finish();
    let mut prefix = String::from("cf");
    for _ in 0..5 {
        let digit = (n % 36) as u32;
        n /= 36;
        prefix.push(char::from_digit(digit, 36).unwrap_or('x'));
    }
    prefix.push('-');
    prefix
}

fn run_one(scenario: &Scenario, side: &Side, settings: &Settings, stop: &AtomicBool) -> Cell {
    let log = log_path(settings, side, scenario);
    let started = Instant::now();
    let (status, detail) = match execute(scenario, side, settings, stop, &log) {
        Ok(None) => (Status::Pass, String::new()),
        Ok(Some(why)) => (Status::Fail, why),
        Err(e) => (Status::Fail, format!("{e:#}")),
    };
    Cell {
        status,
        seconds: started.elapsed().as_secs_f64(),
        detail,
        log,
    }
}

/// Runs the scenario; `Ok(None)` when it passed, `Ok(Some(why))` when it failed.
fn execute(
    scenario: &Scenario,
    side: &Side,
    settings: &Settings,
    stop: &AtomicBool,
    log_path: &Path,
) -> Result<Option<String>> {
    if let Some(dir) = log_path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut log =
        File::create(log_path).with_context(|| format!("creating {}", log_path.display()))?;
    let prefix = new_prefix();
    let workdir = std::env::temp_dir().join(format!("sockerless-conformance-{prefix}"));
    std::fs::create_dir_all(&workdir).with_context(|| format!("creating {}", workdir.display()))?;
    let mut cmd = match &scenario.kind {
        Kind::Shell(path) => {
            let mut c = Command::new("bash");
            c.arg(path);
            c
        }
        Kind::Python(path) => {
            let mut c = Command::new(&settings.python);
            c.arg(path);
            c
        }
        Kind::Bollard { bin, name } => {
            let mut c = Command::new(bin);
            c.arg(name);
            c
        }
    };
    // A client configured elsewhere (a context, TLS) must not redirect the run.
    for var in [
        "DOCKER_CONTEXT",
        "DOCKER_TLS_VERIFY",
        "DOCKER_CERT_PATH",
        "COMPOSE_PROJECT_NAME",
        "COMPOSE_FILE",
    ] {
        cmd.env_remove(var);
    }
    cmd.current_dir(&workdir)
        .env("DOCKER_HOST", &side.docker_host)
        .env("CONFORMANCE_SIDE", &side.name)
        .env("CONFORMANCE_PREFIX", &prefix)
        .env("CONFORMANCE_IMAGE", &settings.image)
        .env("CONFORMANCE_REGISTRY", &settings.registry)
        .env("CONFORMANCE_WORKDIR", &workdir)
        .env("TESTCONTAINERS_RYUK_DISABLED", "true")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .env("PATH", path_with_docker())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log.try_clone()?)
        // Its own group, so a timeout or Ctrl-C kills whatever it started too.
        .process_group(0);
    writeln!(
        log,
        "# {} on {} ({}), CONFORMANCE_PREFIX={prefix}, in {}\n# {cmd:?}",
        scenario.id,
        side.name,
        side.docker_host,
        workdir.display()
    )?;
    let started = Instant::now();
    let result = wait(&mut cmd, settings.timeout, stop);
    let verdict = match &result {
        Ok(None) => "pass".to_owned(),
        Ok(Some(why)) => format!("FAIL: {why}"),
        Err(e) => format!("FAIL: {e:#}"),
    };
    writeln!(
        log,
        "# {verdict} after {:.1} s",
        started.elapsed().as_secs_f64()
    )?;
    let _ = std::fs::remove_dir_all(&workdir);
    result
}

fn wait(cmd: &mut Command, timeout: Duration, stop: &AtomicBool) -> Result<Option<String>> {
    let mut child = cmd.spawn().with_context(|| format!("starting {cmd:?}"))?;
    let group = child.id() as i32;
    let started = Instant::now();
    let verdict = loop {
        if let Some(status) = child.try_wait()? {
            break if status.success() {
                None
            } else {
                Some(status.to_string())
            };
        }
        if stop.load(Ordering::SeqCst) {
            kill_group(group);
            let _ = child.wait();
            break Some("interrupted".to_owned());
        }
        if started.elapsed() > timeout {
            kill_group(group);
            let _ = child.wait();
            break Some(format!("timed out after {} s", timeout.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Whatever the scenario left running in the background (a `docker events`,
    // a `logs -f`) goes with it.
    kill_group(group);
    Ok(verdict)
}

fn kill_group(group: i32) {
    // SAFETY: kill(2) with a negative pid signals the process group we
    // created for the scenario; it touches no memory.
    unsafe {
        libc::kill(-group, libc::SIGKILL);
    }
}

/// `PATH` with the Docker CLI's usual directory, which some sudo or CI
/// environments leave out.
fn path_with_docker() -> std::ffi::OsString {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for dir in ["/usr/local/bin", "/usr/bin", "/bin"] {
        if !dirs.iter().any(|d| d == Path::new(dir)) {
            dirs.push(dir.into());
        }
    }
    std::env::join_paths(dirs).unwrap_or_default()
}
