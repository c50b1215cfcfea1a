//! Shared test helpers: a started emulator with tokens, ARM calls, LRO polling.
#![allow(dead_code)]

pub mod image;
pub mod swagger;

use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sockerless_azure_sim::{EnvironmentSeed, FaultConfig, RunningSim, SimConfig, Simulator};

pub const API: &str = "api-version=2025-01-01";
pub const SUB: &str = "00000000-0000-0000-0000-000000000001";
pub const RG: &str = "sockerless";
pub const ENV: &str = "sockerless-env";
pub const WORKSPACE: &str = "00000000-0000-0000-0000-00000000a001";

/// Where the shared specs are.
pub fn specs_dir() -> PathBuf {
    match std::env::var("SOCKERLESS_SPECS_DIR") {
        Ok(d) => PathBuf::from(d),
        Err(_) => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../specs"),
    }
}

/// The engine for end-to-end tests (`#[ignore = "needs …"]` tests); panics
/// without it, so such a test run without its engine fails.
pub fn engine() -> String {
    match std::env::var("SOCKERLESS_SIM_ENGINE") {
        Ok(e) if !e.is_empty() => e,
        _ => panic!("this test needs SOCKERLESS_SIM_ENGINE (run it through `cargo xtask test`)"),
    }
}

/// Environments the spec examples refer to, plus the default one.
pub fn example_environments() -> Vec<EnvironmentSeed> {
    vec![
        EnvironmentSeed::default(),
        EnvironmentSeed {
            subscription_id: "34adfa4f-cedf-4dc0-ba29-b6d1a69ab345".into(),
            resource_group: "rg".into(),
            name: "demokube".into(),
            location: "East US".into(),
            log_analytics_workspace_id: "00000000-0000-0000-0000-00000000b001".into(),
        },
        EnvironmentSeed {
            subscription_id: "8efdecc5-919e-44eb-b179-915dca89ebf9".into(),
            resource_group: "examplerg".into(),
            name: "managedEnv".into(),
            location: "North Central US".into(),
            log_analytics_workspace_id: "00000000-0000-0000-0000-00000000c001".into(),
        },
        EnvironmentSeed {
            subscription_id: "8efdecc5-919e-44eb-b179-915dca89ebf9".into(),
            resource_group: "examplerg".into(),
            name: "jlaw-demo1".into(),
            location: "North Central US".into(),
            log_analytics_workspace_id: "00000000-0000-0000-0000-00000000c002".into(),
        },
    ]
}

/// A config with fast operations and no reachable engine.
pub fn fast_config() -> SimConfig {
    SimConfig {
        engine: "unix:///nonexistent/sockerless-sim-test.sock".into(),
        environments: example_environments(),
        // Fixed test credentials (the emulator's defaults are random per start).
        client_secret: "sockerless-sim-secret".into(),
        identity_header: "sockerless-sim-identity".into(),
        registry_password: "sim-registry-password".into(),
        ingestion_delay: Duration::from_millis(0),
        faults: FaultConfig {
            lro_delay_ms: 50,
            ..FaultConfig::default()
        },
        ..SimConfig::default()
    }
}

pub struct Sim {
    pub sim: Option<RunningSim>,
    pub base: String,
    pub http: reqwest::Client,
    pub arm_token: String,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

impl Sim {
    pub async fn start(cfg: SimConfig) -> Sim {
        let secret = cfg.client_secret.clone();
        let sim = Simulator::start(cfg).await.expect("start emulator");
        let base = sim.base_url();
        let http = reqwest::Client::new();
        let mut s = Sim {
            sim: Some(sim),
            base,
            http,
            arm_token: String::new(),
        };
        s.arm_token = s
            .token("https://management.azure.com/.default", &secret)
            .await;
        s
    }

    pub async fn token(&self, scope: &str, secret: &str) -> String {
        let r = self
            .http
            .post(format!("{}/tenant/oauth2/v2.0/token", self.base))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "test-client"),
                ("client_secret", secret),
                ("scope", scope),
            ])
            .send()
            .await
            .expect("token request");
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.expect("token json");
        v["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }

    pub async fn call(
        &self,
        method: Method,
        url: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Resp {
        let url = if url.starts_with("http") {
            url.to_string()
        } else {
            format!("{}{url}", self.base)
        };
        let mut req = self.http.request(method, url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = req.send().await.expect("request");
        let status = r.status();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    /// An ARM call with the ARM token; `path` gets `api-version=2025-01-01` unless it has one.
    pub async fn arm(&self, method: Method, path: &str, body: Option<&Value>) -> Resp {
        let url = if path.contains("api-version=") {
            path.to_string()
        } else if path.contains('?') {
            format!("{path}&{API}")
        } else {
            format!("{path}?{API}")
        };
        let token = self.arm_token.clone();
        self.call(method, &url, Some(&token), body).await
    }

    /// Polls `Azure-AsyncOperation` until it is no longer InProgress; returns the poll count.
    pub async fn wait_operation(&self, r: &Resp) -> u32 {
        let url = r
            .header("azure-asyncoperation")
            .expect("Azure-AsyncOperation header");
        for i in 1..=400 {
            let s = self.arm(Method::GET, &url, None).await;
            assert_eq!(s.status, 200, "{:?}", s.body);
            if s.body["status"] != "InProgress" {
                assert_eq!(s.body["status"], "Succeeded");
                return i;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("operation never completed");
    }

    pub async fn shutdown(mut self) {
        if let Some(s) = self.sim.take() {
            s.shutdown().await;
        }
    }
}

pub fn env_id(sub: &str, rg: &str, env: &str) -> String {
    format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.App/managedEnvironments/{env}"
    )
}

pub fn job_path(name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.App/jobs/{name}")
}

/// A valid manual job body.
pub fn job_body(image: &str, command: &[&str]) -> Value {
    json!({
        "location": "eastus",
        "properties": {
            "environmentId": env_id(SUB, RG, ENV),
            "configuration": {"triggerType": "Manual", "replicaTimeout": 120, "replicaRetryLimit": 0},
            "template": {"containers": [{
                "name": "main", "image": image, "command": command,
                "resources": {"cpu": 0.25, "memory": "0.5Gi"}
            }]}
        }
    })
}

/// Creates a job and waits for provisioning.
pub async fn create_job(sim: &Sim, name: &str, body: &Value) -> Resp {
    let r = sim.arm(Method::PUT, &job_path(name), Some(body)).await;
    assert!(
        r.status == 201 || r.status == 200,
        "{} {:?}",
        r.status,
        r.body
    );
    sim.wait_operation(&r).await;
    r
}

/// Polls an execution until it leaves Running/Processing.
pub async fn wait_execution(sim: &Sim, job: &str, exec: &str, limit: Duration) -> Value {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let r = sim
            .arm(
                Method::GET,
                &format!("{}/executions/{exec}", job_path(job)),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let s = r.body["properties"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if s != "Running" && s != "Processing" {
            return r.body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "execution {exec} still {s}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
