//! The real Docker CLI against the frontend (in-process, over a test backend)
//! on a temporary Unix socket. Skipped, with a message, when the CLI is absent.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use common::{MemBackend, serve_unix};
use sockerless_api::docker::{ContainerCreateBody, NetworkCreateRequest, VolumeCreateRequest};
use sockerless_api::{Backend, CreateContainerRequest};

const DOCKER: &str = "/usr/local/bin/docker";

struct Cli {
    host: String,
    config_dir: tempfile::TempDir,
}

impl Cli {
    /// Runs `docker args...`; returns (success, stdout, stderr).
    async fn run(&self, args: &[&str]) -> (bool, String, String) {
        let (code, out, err) = self.run_code(args).await;
        (code == Some(0), out, err)
    }

    /// Runs `docker args...`; returns (exit code, stdout, stderr).
    async fn run_code(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let host = self.host.clone();
        let config: PathBuf = self.config_dir.path().to_owned();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let out = tokio::task::spawn_blocking(move || {
            Command::new(DOCKER)
                .args(&args)
                .env_clear()
                .env("DOCKER_HOST", host)
                .env("DOCKER_CONFIG", config)
                .env("HOME", "/nonexistent")
                .env("PATH", "/usr/bin:/bin")
                .output()
        })
        .await
        .expect("join")
        .expect("run docker");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

async fn seeded_backend() -> Arc<MemBackend> {
    let backend = Arc::new(MemBackend::new());
    backend
        .container_create(CreateContainerRequest {
            name: Some("cli-ctr".into()),
            platform: None,
            config: ContainerCreateBody {
                image: Some("busybox".into()),
                ..Default::default()
            },
        })
        .await
        .expect("container");
    backend
        .network_create(NetworkCreateRequest {
            name: "clinet".into(),
            ..Default::default()
        })
        .await
        .expect("network");
    backend
        .volume_create(VolumeCreateRequest {
            name: Some("clivol".into()),
            ..Default::default()
        })
        .await
        .expect("volume");
    backend
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Docker CLI at /usr/local/bin/docker: cargo xtask test"]
async fn docker_cli_sees_a_docker_engine() {
    assert!(
        Path::new(DOCKER).exists(),
        "this test needs the Docker CLI at {DOCKER}"
    );
    let server = serve_unix(seeded_backend().await).await;
    let cli = Cli {
        host: format!("unix://{}", server.socket_path().display()),
        config_dir: tempfile::tempdir().expect("tempdir"),
    };

    let (ok, out, err) = cli.run(&["version"]).await;
    println!("$ docker version\n{out}{err}");
    assert!(ok, "docker version failed: {err}");
    assert!(out.contains("Server: Sockerless (memtest)"), "{out}");
    assert!(
        out.contains("API version:      1.44 (minimum version 1.24)"),
        "{out}"
    );
    assert!(out.contains("sockerless-backend-memtest:"), "{out}");

    let (ok, out, err) = cli.run(&["info"]).await;
    println!("$ docker info\n{out}{err}");
    assert!(ok, "docker info failed: {err}");
    assert!(out.contains("Server Version: 25.0.0+sockerless"), "{out}");
    assert!(out.contains("Storage Driver: memtest"), "{out}");
    assert!(out.contains("Name: sockerless-memtest"), "{out}");

    let (ok, out, err) = cli
        .run(&["ps", "-a", "--format", "{{.Names}} {{.Image}}"])
        .await;
    assert!(ok, "docker ps failed: {err}");
    assert_eq!(out.trim(), "cli-ctr busybox");

    let (ok, out, err) = cli.run(&["inspect", "cli-ctr"]).await;
    assert!(ok, "docker inspect failed: {err}");
    let inspected: serde_json::Value = serde_json::from_str(&out).expect("inspect JSON");
    assert_eq!(inspected[0]["Name"], "/cli-ctr");

    let (ok, _, err) = cli.run(&["inspect", "ghost"]).await;
    assert!(!ok);
    assert!(
        err.contains("No such object: ghost") || err.contains("No such container: ghost"),
        "{err}"
    );

    let (ok, out, err) = cli.run(&["network", "ls"]).await;
    assert!(ok, "docker network ls failed: {err}");
    assert!(out.contains("clinet"), "{out}");

    let (ok, out, err) = cli.run(&["volume", "ls"]).await;
    assert!(ok, "docker volume ls failed: {err}");
    assert!(out.contains("clivol"), "{out}");

    let (ok, out, err) = cli.run(&["logs", "cli-ctr"]).await;
    assert!(ok, "docker logs failed: {err}");
    assert_eq!(out, "out1\n");
    assert_eq!(err, "err1\n");

    let (ok, _, err) = cli.run(&["plugin", "ls"]).await;
    assert!(!ok);
    assert!(
        err.contains("plugins is not supported by sockerless"),
        "{err}"
    );

    let (ok, out, err) = cli.run(&["pull", "alpine:3.20"]).await;
    assert!(ok, "docker pull failed: {err}");
    assert!(
        out.contains("Status: Downloaded newer image for docker.io/library/alpine:3.20"),
        "{out}"
    );
    let (ok, _, err) = cli.run(&["pull", "broken:1"]).await;
    assert!(!ok);
    assert!(err.contains("registry went away"), "{err}");

    let (ok, out, err) = cli
        .run(&["create", "--name", "made", "-t", "alpine:3.20"])
        .await;
    assert!(ok, "docker create failed: {err}");
    assert_eq!(out.trim().len(), 64, "{out}");
    let (ok, out, err) = cli.run(&["exec", "-i", "cli-ctr", "cat"]).await;
    println!("$ docker exec -i cli-ctr cat\n{out}{err}");
    assert!(ok, "docker exec failed: {err}");
    assert_eq!(out, "hello\nstdin:");
    assert_eq!(err, "oops\n");
    // The life of `docker run`: create, attach (hijack), wait (headers
    // first), start; the exit code comes from wait.
    let (code, out, err) = cli
        .run_code(&["run", "--rm", "alpine:3.20", "exit", "3"])
        .await;
    println!("$ docker run --rm alpine:3.20 exit 3  -> exit {code:?}\n{out}{err}");
    assert_eq!(code, Some(3), "{err}");
    assert_eq!(out, "hello\nstdin:");
    assert_eq!(err, "oops\n");

    let (ok, out, err) = cli.run(&["rm", "made"]).await;
    assert!(ok, "docker rm failed: {err}");
    assert_eq!(out.trim(), "made");

    server.stop().await;
}
