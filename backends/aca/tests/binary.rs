//! Runs the built binary against a local stub standing in for ARM and the
//! managed-identity endpoint: capabilities through `RemoteBackend`, graceful
//! SIGTERM during an in-flight request, and the exit code of bad configuration.

// unsafe: pre_exec and signals for the daemon under test.
#![allow(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use sockerless_api::listen::ListenAddr;
use sockerless_api::{Backend, RemoteBackend};
use tokio::sync::watch;

const BIN: &str = env!("CARGO_BIN_EXE_sockerless-backend-aca");
const IDENTITY_SECRET: &str = "test-identity-secret";
const ENV_PATH: &str =
    "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.App/managedEnvironments/env";

#[derive(Clone)]
struct Arm {
    env_gets: Arc<AtomicUsize>,
    token_gets: Arc<AtomicUsize>,
    gate: watch::Receiver<bool>,
}

async fn msi_token(
    State(arm): State<Arm>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> impl IntoResponse {
    arm.token_gets.fetch_add(1, Ordering::SeqCst);
    let secret_ok = headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok())
        == Some(IDENTITY_SECRET);
    let resource = q
        .iter()
        .find(|(k, _)| k == "resource")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let version_ok = q
        .iter()
        .any(|(k, v)| k == "api-version" && v == "2019-08-01");
    if !secret_ok || !version_ok {
        return (StatusCode::UNAUTHORIZED, "bad identity request".to_owned());
    }
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() + 3600)
        .unwrap_or(0);
    let body = serde_json::json!({"access_token": "arm-token", "expires_on": expires.to_string(), "token_type": "Bearer", "resource": resource});
    (StatusCode::OK, body.to_string())
}

/// GET of the managed environment: parked until the test opens the gate.
async fn environment(State(arm): State<Arm>, headers: HeaderMap) -> impl IntoResponse {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer arm-token") {
        return (
            StatusCode::UNAUTHORIZED,
            [("x-ms-request-id", "denied")],
            String::new(),
        );
    }
    arm.env_gets.fetch_add(1, Ordering::SeqCst);
    let mut gate = arm.gate.clone();
    let _ = gate.wait_for(|open| *open).await;
    (
        StatusCode::OK,
        [("x-ms-request-id", "req-env")],
        r#"{"name":"env","properties":{"provisioningState":"Succeeded"}}"#.to_owned(),
    )
}

async fn start_arm() -> (String, Arm, watch::Sender<bool>) {
    let (open, gate) = watch::channel(false);
    let arm = Arm {
        env_gets: Arc::default(),
        token_gets: Arc::default(),
        gate,
    };
    let app = axum::Router::new()
        .route("/msi/token", get(msi_token))
        .route(ENV_PATH, get(environment))
        .with_state(arm.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind stub");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, arm, open)
}

/// The open-file limits (soft, hard) of process `pid`, from /proc.
fn open_file_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("open files line");
    let mut fields = line["Max open files".len()..].split_whitespace();
    (
        fields.next().expect("soft").to_owned(),
        fields.next().expect("hard").to_owned(),
    )
}

fn spawn_backend(base: &str, dir: &Path, socket: &Path) -> Child {
    let mut cmd = Command::new(BIN);
    // Started with a soft open-file limit under its hard one, as from a
    // login shell: the daemon raises it.
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_max > 256 {
                limit.rlim_cur = 256;
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            }
            Ok(())
        });
    }
    cmd.env_clear()
        .env("IDENTITY_ENDPOINT", format!("{base}/msi/token"))
        .env("IDENTITY_HEADER", IDENTITY_SECRET)
        .env("SOCKERLESS_ACA_SUBSCRIPTION_ID", "sub")
        .env("SOCKERLESS_ACA_RESOURCE_GROUP", "rg")
        .env("SOCKERLESS_ACA_MANAGED_ENVIRONMENT_NAME", "env")
        .env("SOCKERLESS_ACA_LOCATION", "eastus")
        .env("SOCKERLESS_ACA_ARM_ENDPOINT", base)
        .env("SOCKERLESS_ACA_DATA_DIR", dir.join("data"))
        .env("SOCKERLESS_ACA_LOG_FORMAT", "json")
        .env("SOCKERLESS_ACA_AGENT_LISTEN", "tcp://127.0.0.1:0")
        .args(["--listen", &format!("unix://{}", socket.display())])
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(dir.join("stderr.log")).expect("log file"),
        ))
        .spawn()
        .expect("spawn backend")
}

async fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_exit(child: &mut Child, timeout: Duration) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("backend did not exit within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn sigterm(child: &Child) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    // SAFETY: kill(2) with a pid we spawned and a valid signal number.
    let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(rc, 0, "kill failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_capabilities_and_drains_in_flight_request_on_sigterm() {
    let (base, arm, open_gate) = start_arm().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let socket: PathBuf = dir.path().join("backend.sock");
    let mut child = spawn_backend(&base, dir.path(), &socket);
    let log = dir.path().join("stderr.log");
    let show_log = || std::fs::read_to_string(&log).unwrap_or_default();

    wait_until("the socket", Duration::from_secs(20), || socket.exists()).await;
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&socket).expect("stat").permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "socket is private");

    let (soft, hard) = open_file_limits(child.id());
    assert_eq!(
        soft, hard,
        "the open-file soft limit is raised to the hard one"
    );

    let remote = RemoteBackend::new(ListenAddr::Unix(socket.clone()));
    let info = remote.capabilities().await.expect("capabilities");
    assert_eq!(info, sockerless_backend_aca::backend::backend_info());

    // The startup check is parked at the gate; system_info makes a second GET.
    wait_until("the startup check", Duration::from_secs(10), || {
        arm.env_gets.load(Ordering::SeqCst) >= 1
    })
    .await;
    let in_flight = tokio::spawn({
        let remote = remote.clone();
        async move { remote.system_info().await }
    });
    wait_until("system_info to reach ARM", Duration::from_secs(10), || {
        arm.env_gets.load(Ordering::SeqCst) >= 2
    })
    .await;

    sigterm(&child);
    // Shutdown has begun once the listener is gone, while system_info is still parked.
    wait_until("the listener to close", Duration::from_secs(5), || {
        std::os::unix::net::UnixStream::connect(&socket).is_err()
    })
    .await;
    assert!(!in_flight.is_finished(), "the request is still in flight");
    open_gate.send(true).expect("open gate");

    let info = in_flight
        .await
        .expect("join")
        .expect("in-flight request completes during drain");
    assert_eq!(
        info.warnings,
        Some(vec![]),
        "environment found: {}",
        show_log()
    );
    assert_eq!(info.os_type.as_deref(), Some("linux"));

    let status = wait_exit(&mut child, Duration::from_secs(5)).await;
    assert_eq!(status.code(), Some(0), "log: {}", show_log());
    assert!(!socket.exists(), "socket file removed");
    assert!(
        arm.token_gets.load(Ordering::SeqCst) >= 1,
        "token came from the managed identity endpoint"
    );

    let log = show_log();
    assert!(
        log.contains("/internal/v1/system/info") && log.contains("req-env"),
        "request log names the ARM request id: {log}"
    );
    assert!(
        !log.contains("arm-token") && !log.contains(IDENTITY_SECRET),
        "no secrets in logs"
    );
}

#[test]
fn missing_required_keys_exit_2_with_one_line_naming_them() {
    let output = Command::new(BIN)
        .env_clear()
        .env("SOCKERLESS_ACA_RESOURCE_GROUP", "rg")
        .args(["--location", "eastus"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    for key in ["subscription_id", "managed_environment_name"] {
        assert!(stderr.contains(key), "{stderr}");
    }
    assert!(
        !stderr.contains("resource_group") && !stderr.contains("location ("),
        "{stderr}"
    );
}

#[test]
fn non_loopback_tcp_listen_is_refused_and_help_documents_every_key() {
    let output = Command::new(BIN)
        .env_clear()
        .args([
            "--subscription-id",
            "s",
            "--resource-group",
            "r",
            "--managed-environment-name",
            "e",
            "--location",
            "l",
        ])
        .args(["--listen", "tcp://0.0.0.0:2375"])
        .output()
        .expect("run");
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let help = Command::new(BIN).arg("--help").output().expect("help");
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    for key in sockerless_backend_aca::config::ALL_KEYS {
        let flag = sockerless_backend_aca::config::flag_name(key);
        assert!(text.contains(&flag), "--help lacks {flag}");
    }
    assert!(text.contains("SOCKERLESS_ACA_"));
}

#[test]
fn plain_agent_endpoint_off_loopback_and_half_tls_exit_2() {
    let run = |extra: &[&str]| {
        Command::new(BIN)
            .env_clear()
            .args([
                "--subscription-id",
                "s",
                "--resource-group",
                "r",
                "--managed-environment-name",
                "e",
                "--location",
                "l",
                "--listen",
                "tcp://127.0.0.1:0",
            ])
            .args(extra)
            .output()
            .expect("run")
    };
    let output = run(&["--agent-listen", "tcp://0.0.0.0:9112"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("agent_listen") && stderr.contains("agent_tls_cert"),
        "{stderr}"
    );
    let output = run(&["--agent-tls-cert", "/nowhere/cert.pem"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("agent_tls_key is missing"), "{stderr}");
}
