//! Shared setup of the emulator tests: the emulator, a backend against it
//! (its managed identity built explicitly, the process environment is not
//! touched), busybox pulled. Replicas run isolated on the emulator's network,
//! so the agent endpoint listens on its gateway address with TLS (a CA made
//! here, handed to the containers as in production): agents dial `wss://`.
#![allow(dead_code)]

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use futures_util::StreamExt;
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use sockerless_api::docker::ContainerCreateBody;
use sockerless_api::{Backend, CreateContainerRequest, PullImageOptions, StreamKind};
use sockerless_azure::pipeline::AzureOptions;
use sockerless_azure_sim::{FaultConfig, SimConfig, Simulator};
use sockerless_backend_aca::{AcaBackend, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Hang guard only.
pub const GUARD: Duration = Duration::from_secs(300);
const IDENTITY_HEADER: &str = "sockerless-sim-identity";

/// Managed identity against the emulator's `/msi/token`, built explicitly
/// (the process environment is not touched).
#[derive(Debug)]
struct SimIdentity {
    addr: std::net::SocketAddr,
}

#[async_trait]
impl TokenCredential for SimIdentity {
    async fn get_token(
        &self,
        scopes: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let err = |m: String| {
            azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, m)
        };
        let resource = scopes
            .first()
            .map(|s| s.trim_end_matches("/.default"))
            .unwrap_or("");
        let mut tcp = tokio::net::TcpStream::connect(self.addr)
            .await
            .map_err(|e| err(e.to_string()))?;
        let request = format!(
            "GET /msi/token?resource={resource}&api-version=2019-08-01 HTTP/1.0\r\nHost: {}\r\nX-IDENTITY-HEADER: {IDENTITY_HEADER}\r\n\r\n",
            self.addr
        );
        tcp.write_all(request.as_bytes())
            .await
            .map_err(|e| err(e.to_string()))?;
        let mut answer = String::new();
        tcp.read_to_string(&mut answer)
            .await
            .map_err(|e| err(e.to_string()))?;
        let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        let json: serde_json::Value =
            serde_json::from_str(body).map_err(|e| err(format!("{e}: {answer}")))?;
        let token = json["access_token"]
            .as_str()
            .ok_or_else(|| err(format!("no token: {answer}")))?;
        Ok(AccessToken::new(
            token.to_owned(),
            azure_core::time::OffsetDateTime::now_utc() + azure_core::time::Duration::minutes(30),
        ))
    }
}

pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

pub async fn collect(out: sockerless_api::AttachedOutput) -> (String, String) {
    let (mut stdout, mut stderr) = (String::new(), String::new());
    let mut stream = out.output;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("output chunk");
        let text = String::from_utf8_lossy(&chunk.data).into_owned();
        match chunk.stream {
            StreamKind::Stderr => stderr.push_str(&text),
            _ => stdout.push_str(&text),
        }
    }
    (stdout, stderr)
}

/// A CA and a server certificate for `ip`, written as cert.pem, key.pem and
/// ca.pem into `dir`.
pub fn write_pki(dir: &Path, ip: IpAddr) {
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca").pem();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec![ip.to_string()]).expect("params");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &issuer).expect("leaf");
    std::fs::write(dir.join("cert.pem"), cert.pem()).expect("cert");
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).expect("key");
    std::fs::write(dir.join("ca.pem"), ca).expect("ca");
}

pub struct Env {
    pub sim: sockerless_azure_sim::RunningSim,
    pub backend: AcaBackend,
    pub _dir: tempfile::TempDir,
}

pub async fn setup(engine: String, registry: String, agent_image: String) -> Env {
    setup_with(engine, registry, agent_image, |_| {}).await
}

/// The emulator as these tests run it: fixed test credentials, fast
/// operations and ingestion.
pub async fn start_sim(engine: String) -> sockerless_azure_sim::RunningSim {
    start_sim_with(engine, |_| {}).await
}

/// [`start_sim`] with changes to the emulator's configuration.
pub async fn start_sim_with(
    engine: String,
    tweak: impl FnOnce(&mut SimConfig),
) -> sockerless_azure_sim::RunningSim {
    let mut config = SimConfig {
        engine,
        // Fixed test credentials (the emulator's defaults are random per start).
        client_secret: "sockerless-sim-secret".into(),
        identity_header: IDENTITY_HEADER.into(),
        registry_password: "sim-registry-password".into(),
        ingestion_delay: Duration::from_millis(200),
        faults: FaultConfig {
            lro_delay_ms: 50,
            ..FaultConfig::default()
        },
        ..SimConfig::default()
    };
    tweak(&mut config);
    Simulator::start(config).await.expect("emulator")
}

/// The managed-identity header the emulator of [`start_sim`] expects.
pub fn identity_header() -> &'static str {
    IDENTITY_HEADER
}

/// A backend configuration against `sim` with its data (and a CA and
/// server certificate for the agent endpoint on the replica network's
/// gateway, port `agent_port`, 0 for any) under `dir`.
pub fn sim_config(
    sim: &sockerless_azure_sim::RunningSim,
    dir: &Path,
    registry: &str,
    agent_image: String,
    agent_port: u16,
) -> Config {
    let seed = sockerless_azure_sim::EnvironmentSeed::default();
    let mut config = Config::new(
        &seed.subscription_id,
        &seed.resource_group,
        &seed.name,
        &seed.location,
    );
    config.data_dir = dir.to_owned();
    config.arm_endpoint = sim.base_url().parse().expect("url");
    config.log_analytics_endpoint = sim.base_url().parse().expect("url");
    config.log_analytics_workspace_id = Some(seed.log_analytics_workspace_id.clone());
    config.registry_mirrors.insert(
        "docker.io".into(),
        format!("http://{registry}").parse().expect("mirror"),
    );
    config.agent_image = Some(agent_image);
    let gateway = sim.gateway().expect("the emulator's replica network");
    let pki = dir.join("pki");
    std::fs::create_dir_all(&pki).expect("pki dir");
    write_pki(&pki, gateway);
    config.agent_listen = format!("tcp://{gateway}:{agent_port}");
    config.agent_tls_cert = Some(pki.join("cert.pem"));
    config.agent_tls_key = Some(pki.join("key.pem"));
    config.agent_tls_ca = Some(pki.join("ca.pem"));
    config.agent_connect_timeout_secs = 120;
    config.agent_grace_secs = 5;
    config
}

/// [`setup`] with configuration changes applied before the backend starts.
pub async fn setup_with(
    engine: String,
    registry: String,
    agent_image: String,
    tweak: impl FnOnce(&mut Config),
) -> Env {
    setup_on(start_sim(engine).await, registry, agent_image, tweak).await
}

/// [`setup_with`] on an emulator the test started.
pub async fn setup_on(
    sim: sockerless_azure_sim::RunningSim,
    registry: String,
    agent_image: String,
    tweak: impl FnOnce(&mut Config),
) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = sim_config(&sim, dir.path(), &registry, agent_image, 0);
    tweak(&mut config);
    let backend = backend_on(&sim, config).await;
    let endpoint = backend
        .start_agent_endpoint()
        .await
        .expect("agent endpoint");
    assert_ne!(endpoint.local_addr.port(), 0);
    assert!(
        endpoint.callback_url.starts_with("wss://"),
        "{}",
        endpoint.callback_url
    );
    pull_busybox(&backend).await;
    Env {
        sim,
        backend,
        _dir: dir,
    }
}

/// The emulator's managed identity, for clients a test builds itself.
pub fn credential(sim: &sockerless_azure_sim::RunningSim) -> Arc<dyn TokenCredential> {
    Arc::new(SimIdentity { addr: sim.addr() })
}

/// `busybox:latest` pulled into `backend`'s catalog (from the test registry).
pub async fn pull_busybox(backend: &(impl Backend + ?Sized)) {
    let mut pull = backend
        .image_pull(
            PullImageOptions {
                from_image: "busybox".into(),
                tag: Some("latest".into()),
                platform: None,
            },
            None,
        )
        .await
        .expect("pull");
    while let Some(item) = pull.next().await {
        item.expect("pull progress");
    }
}

/// A backend on `config` against `sim` (a second one on the same data dir
/// is the same backend after a restart).
pub async fn backend_on(sim: &sockerless_azure_sim::RunningSim, config: Config) -> AcaBackend {
    let options = AzureOptions {
        poll_interval: Duration::from_millis(200),
        ..Default::default()
    };
    let credential = Arc::new(SimIdentity { addr: sim.addr() });
    AcaBackend::with_credential(config, credential, options)
        .await
        .expect("backend")
}

/// Sets the emulator's faults (`PUT /_sim/faults`, camelCase `FaultConfig`).
pub async fn set_faults(sim: &sockerless_azure_sim::RunningSim, faults: serde_json::Value) {
    let r = reqwest::Client::new()
        .put(format!("{}/_sim/faults", sim.base_url()))
        .header("content-type", "application/json")
        .body(faults.to_string())
        .send()
        .await
        .expect("PUT /_sim/faults");
    assert!(r.status().is_success(), "{}", r.status());
}

/// The emulator's variables; a test that needs them is `#[ignore]`d and
/// fails here when run without them.
pub fn vars() -> (String, String, String) {
    match (
        env("SOCKERLESS_SIM_ENGINE"),
        env("SOCKERLESS_TEST_REGISTRY"),
        env("SOCKERLESS_AGENT_IMAGE"),
    ) {
        (Some(a), Some(b), Some(c)) => (a, b, c),
        _ => panic!(
            "needs SOCKERLESS_SIM_ENGINE, SOCKERLESS_TEST_REGISTRY and SOCKERLESS_AGENT_IMAGE (cargo xtask test sets them)"
        ),
    }
}

pub async fn create(backend: &AcaBackend, name: &str, body: ContainerCreateBody) -> String {
    backend
        .container_create(CreateContainerRequest {
            name: Some(name.into()),
            platform: None,
            config: ContainerCreateBody {
                image: Some("busybox".into()),
                ..body
            },
        })
        .await
        .expect("create")
        .id
}

pub fn sh(script: &str) -> Option<Vec<String>> {
    Some(vec!["sh".into(), "-c".into(), script.into()])
}

/// Waits (bounded) until `job` is gone from Azure: `docker rm` queues the
/// job's deletion and answers at once (runtime::collect).
pub async fn wait_job_gone(backend: &AcaBackend, job: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let found = backend.azure().jobs.get_job(job).await.expect("get job");
        if found.is_none() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "job {job} still there 60 s after rm"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
