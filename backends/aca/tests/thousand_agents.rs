//! Over a thousand agents connected to one daemon at once, the daemon
//! started with the usual open-file soft limit (1024): it raises the limit to
//! the hard one at startup, so every agent connects and nothing hits EMFILE.
//!
//! The containers are recorded as running straight in the state store (no
//! Azure: a stub stands in for ARM and the managed identity), and the agents
//! are the agent binary run on this host, each dialing the daemon's agent
//! endpoint on loopback. Needs `SOCKERLESS_AGENT_BIN`: ignored by plain
//! `cargo test`, run by `cargo xtask test`, failing when that variable is missing.

// unsafe: rlimits, process groups and a mount namespace for a thousand agents.
#![allow(unsafe_code)]

use std::collections::BTreeSet;
use std::ffi::CString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use sockerless_backend_aca::runtime::StoredConfig;
use sockerless_backend_aca::store::{ContainerRecord, Store, hash_token, records};

const BIN: &str = env!("CARGO_BIN_EXE_sockerless-backend-aca");
/// Over a thousand, and more than the soft limit the daemon starts with:
/// exactly 1000 connections plus the daemon's own descriptors (about 20)
/// still fit under 1024, so only a raised limit lets all of these in.
const AGENTS: usize = 1100;
/// The soft limit a login shell usually hands out.
const USUAL_SOFT_LIMIT: libc::rlim_t = 1024;
const IDENTITY_SECRET: &str = "thousand-agents-identity";
const ENV_PATH: &str =
    "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.App/managedEnvironments/env";
/// Generous: on 2 cores, starting the agents and their handshakes takes
/// about ten seconds.
const CONNECT_GUARD: Duration = Duration::from_secs(180);
const STARTUP_GUARD: Duration = Duration::from_secs(30);
const NO_AGENT_BIN: &str =
    "SOCKERLESS_AGENT_BIN (the agent binary) is not set: run through `cargo xtask test`";

/// The managed-identity endpoint: every request gets a token.
async fn msi_token() -> impl IntoResponse {
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() + 3600)
        .unwrap_or(0);
    serde_json::json!({
        "access_token": "arm-token",
        "expires_on": expires.to_string(),
        "token_type": "Bearer",
        "resource": "https://management.azure.com/",
    })
    .to_string()
}

async fn environment() -> impl IntoResponse {
    (
        [("x-ms-request-id", "req-env")],
        r#"{"name":"env","properties":{"provisioningState":"Succeeded"}}"#,
    )
}

/// Any other GET (the daemon's listings at startup): an empty collection.
async fn empty_list() -> impl IntoResponse {
    (
        StatusCode::OK,
        [("x-ms-request-id", "req-list")],
        r#"{"value":[]}"#,
    )
}

/// Serves the stub ARM and managed identity; returns its base URL.
async fn start_arm() -> String {
    let app = axum::Router::new()
        .route("/msi/token", get(msi_token))
        .route(ENV_PATH, get(environment))
        .fallback(get(empty_list));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind stub");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

/// One container: its ID and its agent's token.
struct Container {
    id: String,
    token: String,
}

fn containers() -> Vec<Container> {
    (0..AGENTS)
        .map(|i| Container {
            // 64 hex digits whose first 29 differ (they name the job).
            id: hash_token(&format!("thousand-agents-container-{i}")),
            token: format!("thousand-agents-token-{i}"),
        })
        .collect()
}

/// Records every container as running with its agent's token, as a daemon
/// that crashed with them running would have left its store.
async fn record_running(data_dir: &Path, containers: &[Container]) {
    let config = StoredConfig {
        image_id: "sha256:abc".into(),
        ..Default::default()
    }
    .to_value()
    .expect("json");
    let recs: Vec<ContainerRecord> = containers
        .iter()
        .enumerate()
        .map(|(i, c)| ContainerRecord {
            id: c.id.clone(),
            name: format!("agent-{i}"),
            image: "busybox".into(),
            job_name: sockerless_backend_aca::names::job_name(&c.id).expect("job name"),
            execution_name: Some(format!("exec-{i}")),
            agent_address: None,
            agent_token_hash: Some(hash_token(&c.token)),
            state: "running".into(),
            exit_code: None,
            created_at: 1,
            started_at: Some(2),
            finished_at: None,
            config: config.clone(),
        })
        .collect();
    let store = Store::open_async(data_dir.join("state.db"))
        .await
        .expect("open store");
    store
        .call(move |conn| {
            let tx = conn.transaction()?;
            for rec in &recs {
                records::put_container(&tx, rec)?;
            }
            tx.commit()
        })
        .await
        .expect("put containers");
    store.close().await.expect("close store");
}

/// Raises this process's open-file soft limit to the hard one (the test
/// itself holds few descriptors per child, but let it not be the bottleneck).
fn raise_own_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// The daemon and the agents; all killed on drop, so a failing test leaves
/// no process behind. Each agent leads its own process group (its main
/// process stays in it), killed whole.
#[derive(Default)]
struct Processes {
    daemon: Option<Child>,
    agents: Vec<Child>,
}

fn kill_group(leader: &Child, signal: libc::c_int) -> bool {
    let Ok(pid) = libc::pid_t::try_from(leader.id()) else {
        return false;
    };
    // SAFETY: kill(2) on a process group this test created.
    unsafe { libc::kill(-pid, signal) == 0 }
}

impl Processes {
    /// Kills and reaps every agent group, then the daemon.
    fn kill_all(&mut self) {
        for agent in &self.agents {
            kill_group(agent, libc::SIGKILL);
        }
        for agent in &mut self.agents {
            let _ = agent.wait();
        }
        if let Some(daemon) = self.daemon.as_mut() {
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// Starts the daemon with the usual soft limit (its hard limit inherited).
fn spawn_daemon(arm: &str, dir: &Path) -> Child {
    let mut cmd = Command::new(BIN);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            limit.rlim_cur = USUAL_SOFT_LIMIT.min(limit.rlim_max);
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.env_clear()
        .env("IDENTITY_ENDPOINT", format!("{arm}/msi/token"))
        .env("IDENTITY_HEADER", IDENTITY_SECRET)
        .env("SOCKERLESS_ACA_SUBSCRIPTION_ID", "sub")
        .env("SOCKERLESS_ACA_RESOURCE_GROUP", "rg")
        .env("SOCKERLESS_ACA_MANAGED_ENVIRONMENT_NAME", "env")
        .env("SOCKERLESS_ACA_LOCATION", "eastus")
        .env("SOCKERLESS_ACA_ARM_ENDPOINT", arm)
        .env("SOCKERLESS_ACA_DATA_DIR", dir.join("data"))
        .env("SOCKERLESS_ACA_LOG_FORMAT", "json")
        .env("SOCKERLESS_ACA_AGENT_LISTEN", "tcp://127.0.0.1:0")
        // No agent is ever late: no poller asks the stub for an execution.
        .env("SOCKERLESS_ACA_AGENT_GRACE_SECS", "600")
        .args([
            "--listen",
            &format!("unix://{}", dir.join("backend.sock").display()),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("daemon.log")).expect("daemon log"),
        ))
        .spawn()
        .expect("spawn daemon")
}

/// A directory standing in for `/proc/net` in every agent: empty `tcp` and
/// `tcp6` files.
fn empty_proc_net(dir: &Path) -> CString {
    let net = dir.join("empty-proc-net");
    std::fs::create_dir_all(&net).expect("mkdir");
    for file in ["tcp", "tcp6"] {
        std::fs::write(net.join(file), "").expect("empty file");
    }
    CString::new(net.into_os_string().into_vec()).expect("path without NUL")
}

/// In the forked agent, before exec: its own mount namespace in which its
/// `/proc/<pid>/net` is `empty_net`. Each agent samples `/proc/net/tcp` twice
/// a second for the ports its container listens on; in a replica that file
/// lists the replica's few sockets, but on this host it lists every agent's
/// connection, so a thousand agents would spend the two cores re-reading each
/// other's (quadratic) and starve the handshakes this test is about.
fn isolate_proc_net(empty_net: &CString) -> std::io::Result<()> {
    let check = |rc: libc::c_int| {
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    // SAFETY: unshare and mount are plain syscalls; every pointer is a
    // NUL-terminated string that outlives the call (or null where allowed).
    unsafe {
        check(libc::unshare(libc::CLONE_NEWNS))?;
        // Private first: the bind mount must not propagate to the host.
        check(libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ))?;
        // `/proc/self` resolves to this process, which exec turns into the agent.
        check(libc::mount(
            empty_net.as_ptr(),
            c"/proc/self/net".as_ptr(),
            std::ptr::null(),
            libc::MS_BIND,
            std::ptr::null(),
        ))
    }
}

/// Starts one agent (its main process waits) in its own process group and
/// mount namespace (see [`isolate_proc_net`]); its diagnostics go to the
/// shared `agents_log`.
fn spawn_agent(
    bin: &Path,
    url: &str,
    dir: &Path,
    empty_net: &CString,
    c: &Container,
    agents_log: &std::fs::File,
) -> Child {
    let mut cmd = Command::new(bin);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let empty_net = empty_net.clone();
    // SAFETY: only syscalls between fork and exec, on data built before the fork.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
            isolate_proc_net(&empty_net)
        });
    }
    cmd.env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("SOCKERLESS_CALLBACK_URL", url)
        .env("SOCKERLESS_AGENT_TOKEN", &c.token)
        .env("SOCKERLESS_CONTAINER_ID", &c.id)
        .env("SOCKERLESS_HOSTS_FILE", dir.join("hosts"))
        .args(["--", "sleep", "300"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(agents_log.try_clone().expect("dup agents log")))
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "spawn agent (needs root for its mount namespace, as `cargo xtask test` has): {e}"
            )
        })
}

/// The daemon's JSON log lines so far (a partial last line is skipped).
fn log_events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

fn message(event: &serde_json::Value) -> &str {
    event["fields"]["message"].as_str().unwrap_or_default()
}

/// The containers the daemon logged `agent connected` for.
fn connected_ids(events: &[serde_json::Value]) -> BTreeSet<String> {
    events
        .iter()
        .filter(|e| message(e) == "agent connected")
        .filter_map(|e| e["fields"]["container"].as_str().map(str::to_owned))
        .collect()
}

fn out_of_files(log: &str) -> bool {
    log.contains("Too many open files") || log.contains("EMFILE")
}

/// The last `n` lines of a file, for failure messages.
fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// What the daemon holds: its open-file limits line from /proc, its open
/// descriptors and how many of them are sockets.
struct Descriptors {
    limits: String,
    open: usize,
    sockets: usize,
}

impl std::fmt::Display for Descriptors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} descriptors ({} sockets) under \"{}\"",
            self.open, self.sockets, self.limits
        )
    }
}

fn descriptors(pid: u32) -> Descriptors {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let targets: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .map(|t| t.to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    Descriptors {
        limits,
        open: targets.len(),
        sockets: targets.iter().filter(|t| t.starts_with("socket:")).count(),
    }
}

/// Processes (not zombies) whose process group is one of `groups`.
fn live_members(groups: &BTreeSet<u32>) -> Vec<u32> {
    let Ok(proc_dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    proc_dir
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            // After the command's closing parenthesis: state, ppid, pgrp.
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some((_, rest)) = stat.rsplit_once(')') else {
                return false;
            };
            let mut fields = rest.split_whitespace();
            let state = fields.next().unwrap_or("Z");
            let pgrp = fields.nth(1).and_then(|g| g.parse::<u32>().ok());
            state != "Z" && state != "X" && pgrp.is_some_and(|g| groups.contains(&g))
        })
        .collect()
}

/// Waits for the daemon's callback URL (it binds port 0 and logs the URL).
async fn callback_url(daemon: &mut Child, log: &Path) -> String {
    let deadline = Instant::now() + STARTUP_GUARD;
    loop {
        if let Some(url) = log_events(log)
            .iter()
            .find(|e| message(e) == "agent endpoint listening")
            .and_then(|e| e["fields"]["callback_url"].as_str())
        {
            return url.to_owned();
        }
        if let Ok(Some(status)) = daemon.try_wait() {
            panic!(
                "daemon exited ({status}) before listening:\n{}",
                tail(log, 40)
            );
        }
        assert!(
            Instant::now() < deadline,
            "no agent endpoint within {STARTUP_GUARD:?}:\n{}",
            tail(log, 40)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the static agent: SOCKERLESS_AGENT_BIN (cargo xtask test sets it)"]
async fn more_agents_than_the_usual_soft_limit_all_connect_at_once() {
    let agent_bin = std::env::var_os("SOCKERLESS_AGENT_BIN")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .expect(NO_AGENT_BIN);
    assert!(
        agent_bin.is_file(),
        "no agent binary at {}",
        agent_bin.display()
    );
    raise_own_limit();
    let dir = tempfile::tempdir().expect("tempdir");
    let containers = containers();
    record_running(&dir.path().join("data"), &containers).await;

    let arm = start_arm().await;
    let mut procs = Processes::default();
    let daemon_log = dir.path().join("daemon.log");
    let daemon = procs.daemon.insert(spawn_daemon(&arm, dir.path()));
    let daemon_pid = daemon.id();
    let url = callback_url(daemon, &daemon_log).await;

    let agents_log_path = dir.path().join("agents.log");
    let agents_log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&agents_log_path)
        .expect("agents log");
    let empty_net = empty_proc_net(dir.path());
    let spawn = |c| spawn_agent(&agent_bin, &url, dir.path(), &empty_net, c, &agents_log);
    tokio::task::block_in_place(|| {
        for c in &containers {
            procs.agents.push(spawn(c));
        }
    });

    let deadline = Instant::now() + CONNECT_GUARD;
    loop {
        let raw = std::fs::read_to_string(&daemon_log).unwrap_or_default();
        let stop = connected_ids(&log_events(&daemon_log)).len() >= AGENTS || out_of_files(&raw);
        if let Some(Ok(Some(status))) = procs.daemon.as_mut().map(Child::try_wait) {
            panic!("daemon exited ({status}):\n{}", tail(&daemon_log, 40));
        }
        if stop || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let held = descriptors(daemon_pid);
    let connected = connected_ids(&log_events(&daemon_log));
    let raw = std::fs::read_to_string(&daemon_log).unwrap_or_default();
    let missing: Vec<&str> = containers
        .iter()
        .map(|c| c.id.as_str())
        .filter(|id| !connected.contains(*id))
        .collect();
    let report = format!(
        "{} of {} agents connected (first missing: {:?}); daemon holds {held}\n\
         daemon log (tail):\n{}\nagents' log (tail):\n{}",
        connected.len(),
        containers.len(),
        missing.iter().take(3).collect::<Vec<_>>(),
        tail(&daemon_log, 20),
        tail(&agents_log_path, 20),
    );
    assert!(
        !out_of_files(&raw),
        "the daemon ran out of descriptors: {report}"
    );
    assert!(missing.is_empty(), "not all agents connected: {report}");
    // At once: none dropped while the others were connecting.
    let dropped = log_events(&daemon_log)
        .iter()
        .filter(|e| message(e).starts_with("agent disconnected"))
        .count();
    assert_eq!(dropped, 0, "agents disconnected: {report}");
    assert!(
        held.sockets >= containers.len(),
        "one socket per agent: {report}"
    );

    let groups: BTreeSet<u32> = procs.agents.iter().map(Child::id).collect();
    procs.kill_all();
    // The main processes were orphaned by their agents' deaths: wait (bounded)
    // for the kernel and init to finish them.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut left = live_members(&groups);
    while !left.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = live_members(&groups);
    }
    assert!(
        left.is_empty(),
        "processes left in the agents' groups: {left:?}"
    );
}
