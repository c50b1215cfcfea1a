//! The agent endpoint over TLS (`agent_tls_cert` / `agent_tls_key`): agents
//! trusting the configured CA dial `wss://` and authenticate with their
//! token; plain `ws://` and agents not trusting the CA get nowhere.
//! Certificates are generated at test time (rcgen); no keys are committed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use futures_util::{SinkExt, StreamExt};
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use sockerless_agent::net::{DialOptions, dial};
use sockerless_agent::protocol::{Frame, Hello, PROTOCOL_VERSION};
use sockerless_backend_aca::runtime::StoredConfig;
use sockerless_backend_aca::store::{ContainerRecord, hash_token, records};
use sockerless_backend_aca::{AcaBackend, Config};

const ID: &str = "7150000071500000715000007150000071500000715000007150000071500000";
const TOKEN: &str = "tls-token";
const GUARD: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct NoAzure;

#[async_trait]
impl TokenCredential for NoAzure {
    async fn get_token(
        &self,
        _: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        Err(azure_core::Error::with_message(
            azure_core::error::ErrorKind::Credential,
            "no Azure in this test",
        ))
    }
}

/// Writes a CA and a server certificate for 127.0.0.1 signed by it; returns
/// (cert, key, ca) paths.
fn write_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca").pem();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().expect("key");
    let mut params =
        CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).expect("params");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &issuer).expect("leaf");
    let paths = (
        dir.join("cert.pem"),
        dir.join("key.pem"),
        dir.join("ca.pem"),
    );
    std::fs::write(&paths.0, cert.pem()).expect("cert");
    std::fs::write(&paths.1, key.serialize_pem()).expect("key");
    std::fs::write(&paths.2, ca).expect("ca");
    paths
}

async fn tls_backend(dir: &tempfile::TempDir) -> AcaBackend {
    let (cert, key, ca) = write_pki(dir.path());
    let mut config = Config::new("sub", "rg", "env", "eastus");
    config.data_dir = dir.path().join("data");
    config.agent_listen = "tcp://127.0.0.1:0".into();
    config.agent_tls_cert = Some(cert);
    config.agent_tls_key = Some(key);
    config.agent_tls_ca = Some(ca);
    AcaBackend::with_credential(config, Arc::new(NoAzure), Default::default())
        .await
        .expect("backend")
}

async fn starting_container(backend: &AcaBackend) {
    let record = ContainerRecord {
        id: ID.into(),
        name: "tls".into(),
        image: "busybox".into(),
        job_name: sockerless_backend_aca::names::job_name(ID).expect("job"),
        execution_name: None,
        agent_address: None,
        agent_token_hash: Some(hash_token(TOKEN)),
        state: "created".into(),
        exit_code: None,
        created_at: 1,
        started_at: None,
        finished_at: None,
        config: StoredConfig {
            image_id: "sha256:abc".into(),
            ..Default::default()
        }
        .to_value()
        .expect("json"),
    };
    let r = record.clone();
    backend
        .store()
        .call(move |c| records::put_container(c, &r))
        .await
        .expect("put");
    backend.runtimes().get(&record).begin_run(hash_token(TOKEN));
}

fn opts(token: &str, ca: Option<PathBuf>) -> DialOptions {
    DialOptions {
        token: token.into(),
        container_id: Some(ID.into()),
        ca_file: ca,
    }
}

#[tokio::test]
async fn agents_trusting_the_ca_authenticate_over_wss_and_plain_ws_fails() {
    tokio::time::timeout(GUARD, async {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = tls_backend(&dir).await;
        let endpoint = backend.start_agent_endpoint().await.expect("endpoint");
        let url = endpoint.callback_url.clone();
        assert!(
            url.starts_with("wss://127.0.0.1:") && url.ends_with("/agent/v1/connect"),
            "{url}"
        );
        let ca_path = dir.path().join("ca.pem");
        let ca = std::fs::read_to_string(&ca_path).expect("ca");
        assert_eq!(endpoint.ca_pem.as_deref(), Some(ca.as_str()));
        starting_container(&backend).await;

        // Plain WebSocket to the TLS port: the server wants a TLS handshake.
        let plain = url.replacen("wss://", "ws://", 1);
        assert!(dial(&plain, &opts(TOKEN, None)).await.is_err());
        // An agent that does not trust the CA refuses the certificate.
        let err = dial(&url, &opts(TOKEN, None))
            .await
            .err()
            .expect("untrusted");
        assert!(err.to_string().contains("certificate"), "{err}");
        // Trusting the CA but with a wrong token: 401 over TLS.
        let err = dial(&url, &opts("wrong", Some(ca_path.clone())))
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains("401"), "{err}");

        // The right token over wss: the backend answers the hello.
        let mut io = dial(&url, &opts(TOKEN, Some(ca_path)))
            .await
            .expect("accepted");
        let hello = Hello {
            version: PROTOCOL_VERSION,
            token: Some(TOKEN.into()),
            container_id: Some(ID.into()),
            window: 1 << 20,
            stdin_window: 1 << 20,
            ..Default::default()
        };
        io.send(Frame::Hello(hello).encode()).await.expect("hello");
        let answer = io.next().await.expect("answer").expect("frame");
        assert!(matches!(Frame::decode(&answer), Ok(Frame::Hello(_))));
        let mut running = false;
        for _ in 0..100 {
            let state = sockerless_api::Backend::container_inspect(&backend, ID)
                .await
                .expect("inspect")
                .state;
            if state.and_then(|s| s.running) == Some(true) {
                running = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(running, "the agent authenticated over TLS");
    })
    .await
    .expect("test timed out");
}

#[tokio::test]
async fn a_bad_key_file_stops_the_endpoint_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, _, _) = write_pki(dir.path());
    let bad_key = dir.path().join("bad.pem");
    std::fs::write(&bad_key, "not a key").expect("write");
    let mut config = Config::new("sub", "rg", "env", "eastus");
    config.data_dir = dir.path().join("data");
    config.agent_listen = "tcp://127.0.0.1:0".into();
    config.agent_tls_cert = Some(cert);
    config.agent_tls_key = Some(bad_key);
    let backend = AcaBackend::with_credential(config, Arc::new(NoAzure), Default::default())
        .await
        .expect("backend");
    let err = backend.start_agent_endpoint().await.expect_err("refused");
    let msg = err.message().to_owned();
    assert!(msg.contains("TLS key") && msg.contains("bad.pem"), "{msg}");
    assert!(
        !msg.contains("not a key"),
        "the key file's content is never echoed: {msg}"
    );
}
