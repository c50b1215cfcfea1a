//! Reverse mode over `wss://`, trusting a private CA from SOCKERLESS_CA_FILE.

mod common;

use std::sync::Arc;

use common::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use sockerless_agent::peer::{self, ResumeState};
use sockerless_agent::transport::websocket;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types};

fn server_config(ca_pem_path: &std::path::Path) -> rustls::ServerConfig {
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
    std::fs::write(ca_pem_path, ca_cert.pem()).expect("write ca");
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .expect("params")
        .signed_by(&key, &issuer)
        .expect("cert");
    let key_der = pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key_der)
        .expect("server config")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_with_a_private_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_file = dir.path().join("ca.pem");
    let acceptor = TlsAcceptor::from(Arc::new(server_config(&ca_file)));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();

    let peer = TestPeer::new().await; // only for its command builder
    let mut cmd = peer.command(
        env!("CARGO_BIN_EXE_sockerless-agent"),
        &["sh", "-c", "echo secure; exit 2"],
        &[("SOCKERLESS_CA_FILE", ca_file.to_str().expect("utf8"))],
    );
    cmd.env(
        "SOCKERLESS_CALLBACK_URL",
        format!("wss://localhost:{port}/agent/v1/connect"),
    );
    let child = Agent::spawn(cmd);

    let conn = tokio::time::timeout(GUARD, async {
        let (tcp, _) = listener.accept().await.expect("accept");
        let tls = acceptor.accept(tcp).await.expect("tls handshake");
        let ws = tokio_tungstenite::accept_async(tls)
            .await
            .expect("ws handshake");
        peer::accept(websocket(ws), TOKEN, ResumeState::new())
            .await
            .expect("peer")
    })
    .await
    .expect("agent did not connect over TLS");
    let mut main = conn.main_session().expect("main");
    let (out, _, code) = collect(&mut main).await;
    assert_eq!(
        (String::from_utf8_lossy(&out).into_owned(), code),
        ("secure\n".to_string(), 2)
    );
    assert_eq!(wait_exit(child).await, 2);
}
