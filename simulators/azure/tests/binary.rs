//! The binary prints its bound address first and serves on it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn binary_prints_address_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sockerless-azure-sim"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--engine",
            "unix:///nonexistent.sock",
            "--lro-delay-ms",
            "0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let addr: std::net::SocketAddr = line.trim().parse().expect("first line is the address");
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/t/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "c"),
            ("client_secret", "sockerless-sim-secret"),
            ("scope", "https://management.azure.com/.default"),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), 200);
    let token = r.json::<serde_json::Value>().await.expect("json")["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    let env = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/sockerless/providers/Microsoft.App/managedEnvironments/sockerless-env?api-version=2025-01-01";
    let r = reqwest::Client::new()
        .get(format!("http://{addr}{env}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn state_flag_is_refused_clearly() {
    let out = Command::new(env!("CARGO_BIN_EXE_sockerless-azure-sim"))
        .args(["--state", "/tmp/x.db"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not implemented"));
}
