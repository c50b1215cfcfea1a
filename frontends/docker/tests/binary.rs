//! The `sockerless-docker-frontend` binary end to end: flags, refusal of
//! insecure TCP, RemoteBackend to a backend served over the internal API,
//! the Docker CLI through it, and SIGTERM.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::MemBackend;
use sockerless_api::listen::{ListenAddr, bind, serve};

const BIN: &str = env!("CARGO_BIN_EXE_sockerless-docker-frontend");

#[test]
fn refuses_non_loopback_tcp_without_tls() {
    let out = Command::new(BIN)
        .args([
            "--listen",
            "tcp://0.0.0.0:23750",
            "--backend",
            "unix:///nonexistent/b.sock",
        ])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to serve the Docker API on tcp://0.0.0.0:23750 without TLS"),
        "{err}"
    );
}

#[test]
fn rejects_bad_listen_addresses() {
    let out = Command::new(BIN)
        .args(["--listen", "http://x"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid listen address"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Docker CLI at /usr/local/bin/docker: cargo xtask test"]
async fn serves_docker_cli_through_remote_backend_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend_sock = dir.path().join("backend.sock");
    let frontend_sock = dir.path().join("docker.sock");
    // The backend side: the internal API over the in-memory test backend.
    let listener = bind(&ListenAddr::Unix(backend_sock.clone()))
        .await
        .expect("bind backend");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let backend_task = tokio::spawn(serve(
        listener,
        sockerless_api::server::router(Arc::new(MemBackend::new())),
        async {
            let _ = stop_rx.await;
        },
        Duration::from_secs(2),
    ));
    let mut child = tokio::process::Command::new(BIN)
        .args(["--listen", &format!("unix://{}", frontend_sock.display())])
        .args(["--backend", &format!("unix://{}", backend_sock.display())])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn frontend");
    for _ in 0..200 {
        if frontend_sock.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(frontend_sock.exists(), "frontend socket never appeared");

    assert!(
        Path::new("/usr/local/bin/docker").exists(),
        "this test needs the Docker CLI at /usr/local/bin/docker"
    );
    {
        let host = format!("unix://{}", frontend_sock.display());
        let config = dir.path().join("docker-config");
        let out = tokio::task::spawn_blocking(move || {
            Command::new("/usr/local/bin/docker")
                .arg("version")
                .env_clear()
                .env("DOCKER_HOST", host)
                .env("DOCKER_CONFIG", config)
                .output()
        })
        .await
        .expect("join")
        .expect("docker version");
        let text = String::from_utf8_lossy(&out.stdout);
        println!(
            "$ docker version (binary + RemoteBackend)\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success());
        assert!(text.contains("Server: Sockerless (memtest)"), "{text}");
        assert!(text.contains("API version:      1.44"), "{text}");
    }

    // SIGTERM: graceful shutdown, exit 0, socket removed.
    let pid = child.id().expect("pid").to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("exits after SIGTERM")
        .expect("wait");
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        use tokio::io::AsyncReadExt;
        let _ = pipe.read_to_string(&mut stderr).await;
    }
    assert!(exit.success(), "exit {exit:?}: {stderr}");
    assert!(stderr.contains("SIGTERM"), "{stderr}");
    assert!(
        stderr.contains("status=200"),
        "request log missing: {stderr}"
    );
    assert!(!frontend_sock.exists(), "socket file left behind");
    let _ = stop_tx.send(());
    backend_task.await.expect("backend join");
}
