//! The binary prints its bound address first and serves on it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// A started binary: its address and the credentials it wrote.
struct Started {
    child: std::process::Child,
    addr: std::net::SocketAddr,
    credentials: serde_json::Value,
}

fn start(data_dir: &std::path::Path) -> Started {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sockerless-azure-sim"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--engine",
            "unix:///nonexistent.sock",
            "--lro-delay-ms",
            "0",
        ])
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("SOCKERLESS_SIM_CLIENT_SECRET")
        .env_remove("SOCKERLESS_SIM_IDENTITY_HEADER")
        .env_remove("SOCKERLESS_SIM_REGISTRY_PASSWORD")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let addr: std::net::SocketAddr = line.trim().parse().expect("first line is the address");
    let file = data_dir.join("credentials.json");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&file)
            .expect("credentials file")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "credentials file mode");
    let credentials =
        serde_json::from_slice(&std::fs::read(&file).expect("read credentials")).expect("json");
    Started {
        child,
        addr,
        credentials,
    }
}

#[tokio::test]
async fn binary_prints_address_and_serves_with_random_credentials() {
    let dirs = [tempfile(), tempfile()];
    let mut first = start(&dirs[0]);
    let mut second = start(&dirs[1]);
    for key in ["client_secret", "identity_header", "registry_password"] {
        let (a, b) = (&first.credentials[key], &second.credentials[key]);
        assert!(a.as_str().is_some_and(|s| s.len() >= 32), "{key}: {a}");
        assert_ne!(a, b, "{key} is the same in two starts");
    }
    let _ = second.child.kill();
    let _ = second.child.wait();
    let addr = first.addr;
    let secret = first.credentials["client_secret"]
        .as_str()
        .expect("secret")
        .to_string();
    let token = |secret: String| async move {
        reqwest::Client::new()
            .post(format!("http://{addr}/t/oauth2/v2.0/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "c"),
                ("client_secret", secret.as_str()),
                ("scope", "https://management.azure.com/.default"),
            ])
            .send()
            .await
            .expect("token")
    };
    // The old fixed secret no longer works.
    assert_eq!(token("sockerless-sim-secret".into()).await.status(), 401);
    let r = token(secret).await;
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
    let _ = first.child.kill();
    let _ = first.child.wait();
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}

fn tempfile() -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("sim-binary-{}-{}", std::process::id(), uuid_like()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

fn uuid_like() -> u128 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
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
