//! `listen::serve_tls`: loading PEM files, client-certificate verification at
//! the handshake, handshake timeouts, Docker's hijack and draining over TLS.
//! Certificates are generated at test time (rcgen); no keys are committed.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::post;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use sockerless_api::listen::{
    self, Drain, ShutdownHandle, TlsAcceptorConfig, TlsError, TlsSettings,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

/// A CA and, signed by it, a server (SAN localhost, 127.0.0.1) and a client.
struct Pki {
    ca: String,
    server_cert: String,
    server_key: String,
    client_cert: String,
    client_key: String,
}

fn new_pki() -> Pki {
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca").pem();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf = |names: Vec<String>, usage| {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(names).expect("params");
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &issuer).expect("leaf");
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = leaf(
        vec!["localhost".into(), "127.0.0.1".into()],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client_cert, client_key) = leaf(vec![], ExtendedKeyUsagePurpose::ClientAuth);
    Pki {
        ca,
        server_cert,
        server_key,
        client_cert,
        client_key,
    }
}

fn acceptor(pki: &Pki, verify: bool) -> TlsAcceptorConfig {
    TlsAcceptorConfig::from_pem(
        pki.server_cert.as_bytes(),
        pki.server_key.as_bytes(),
        verify.then_some(pki.ca.as_bytes()),
    )
    .expect("tls config")
}

fn connector(pki: &Pki, with_client_cert: bool) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pki.ca.as_bytes()).expect("ca pem"))
        .expect("root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    let config = if with_client_cert {
        builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(pki.client_cert.as_bytes()).expect("cert")],
                PrivateKeyDer::from_pem_slice(pki.client_key.as_bytes()).expect("key"),
            )
            .expect("client auth")
    } else {
        builder.with_no_client_auth()
    };
    TlsConnector::from(Arc::new(config))
}

struct Server {
    port: u16,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Drain>,
}

impl Server {
    async fn start(tls: TlsAcceptorConfig, drain: Duration) -> Server {
        let listener = listen::bind(&"tcp://127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("bind");
        let listen::ListenAddr::Tcp { port, .. } = listener.local_addr().expect("addr") else {
            panic!("tcp")
        };
        let router = axum::Router::new()
            .route("/hijack", post(hijack))
            .route("/ping", post(|| async { "pong" }));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(listen::serve_tls(
            listener,
            router,
            tls,
            async {
                let _ = stopped.await;
            },
            drain,
        ));
        Server {
            port,
            stop: Some(stop),
            task,
        }
    }

    async fn connect(&self, connector: &TlsConnector) -> std::io::Result<TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(("127.0.0.1", self.port)).await?;
        let name = ServerName::try_from("localhost").expect("name");
        let mut tls = connector.connect(name, tcp).await?;
        // TLS 1.3 delivers the server's verdict on the client certificate
        // after the client's handshake is done: a round trip surfaces it.
        tls.write_all(b"POST /ping HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            .await?;
        let head = read_head(&mut tls).await?;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let mut body = [0u8; 4];
        tls.read_exact(&mut body).await?;
        assert_eq!(&body, b"pong");
        Ok(tls)
    }

    async fn stop(mut self) -> Drain {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.expect("serve task")
    }
}

async fn read_head(stream: &mut (impl AsyncRead + Unpin)) -> std::io::Result<String> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await?;
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// Docker's hijack: `Upgrade: tcp`, 101, then an echo until the client half-closes.
async fn hijack(handle: ShutdownHandle, mut req: Request) -> Response {
    let on_upgrade = hyper::upgrade::on(&mut req);
    handle.spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let mut io = TokioIo::new(upgraded);
        let mut buf = [0u8; 64];
        while let Ok(n) = io.read(&mut buf).await {
            if n == 0 {
                let _ = io.write_all(b"bye").await;
                let _ = io.shutdown().await;
                return;
            }
            if io.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    });
    Response::builder()
        .status(101)
        .header("Connection", "Upgrade")
        .header("Upgrade", "tcp")
        .body(Body::empty())
        .expect("response")
}

async fn start_hijack(stream: &mut (impl AsyncRead + AsyncWrite + Unpin)) {
    stream
        .write_all(b"POST /hijack HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n")
        .await
        .expect("write");
    let head = read_head(stream).await.expect("head");
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
}

#[tokio::test]
async fn hijack_round_trip_and_half_close_over_verified_tls() {
    let pki = new_pki();
    let server = Server::start(acceptor(&pki, true), Duration::from_secs(30)).await;
    let mut s = server
        .connect(&connector(&pki, true))
        .await
        .expect("connect");
    start_hijack(&mut s).await;
    s.write_all(b"ping").await.expect("write");
    let mut echo = [0u8; 4];
    s.read_exact(&mut echo).await.expect("echo");
    assert_eq!(&echo, b"ping");
    // Half-close (close_notify): the server sees EOF and can still answer.
    s.shutdown().await.expect("half-close");
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).await.expect("read to end");
    assert_eq!(rest, b"bye");
    assert_eq!(server.stop().await, Drain::Complete);
}

#[tokio::test]
async fn client_without_certificate_is_refused_when_verifying() {
    let pki = new_pki();
    let server = Server::start(acceptor(&pki, true), Duration::from_secs(30)).await;
    let Err(err) = server.connect(&connector(&pki, false)).await else {
        panic!("a client without a certificate was served");
    };
    let text = err.to_string();
    assert!(
        text.contains("CertificateRequired") || text.contains("certificate"),
        "{text}"
    );
    // A certificate from another CA is refused too.
    let other = new_pki();
    let foreign = Pki {
        ca: pki.ca.clone(),
        ..other
    };
    assert!(server.connect(&connector(&foreign, true)).await.is_err());
    // Plain HTTP on the TLS port gets no HTTP answer.
    let mut plain = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .expect("tcp");
    plain
        .write_all(b"POST /ping HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        .await
        .expect("write");
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got).await;
    assert!(!String::from_utf8_lossy(&got).contains("pong"));
    assert_eq!(server.stop().await, Drain::Complete);
}

#[tokio::test]
async fn without_verification_any_client_is_served() {
    let pki = new_pki();
    let tls = acceptor(&pki, false);
    assert!(!tls.verifies_clients());
    let server = Server::start(tls, Duration::from_secs(30)).await;
    server
        .connect(&connector(&pki, false))
        .await
        .expect("no client cert");
    server
        .connect(&connector(&pki, true))
        .await
        .expect("client cert ignored");
    assert_eq!(server.stop().await, Drain::Complete);
}

/// Paused clock: the silent client is dropped exactly at the handshake timeout.
#[tokio::test(start_paused = true)]
async fn silent_client_is_dropped_after_the_handshake_timeout() {
    let pki = new_pki();
    let tls = acceptor(&pki, true).with_handshake_timeout(Duration::from_secs(3));
    let server = Server::start(tls, Duration::from_secs(3600)).await;
    let mut silent = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .expect("tcp");
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(60), silent.read(&mut buf))
        .await
        .expect("server closed the silent connection")
        .unwrap_or(0);
    assert_eq!(n, 0, "EOF expected");
    // Nothing is left to drain (the drain timeout is an hour).
    assert_eq!(server.stop().await, Drain::Complete);
}

#[tokio::test(start_paused = true)]
async fn shutdown_drains_a_hijacked_tls_stream_then_cuts_off() {
    let pki = new_pki();
    let server = Server::start(acceptor(&pki, true), Duration::from_secs(5)).await;
    let mut s = server
        .connect(&connector(&pki, true))
        .await
        .expect("connect");
    start_hijack(&mut s).await;
    // A handshake in progress does not hold shutdown.
    let _half_open = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .expect("tcp");
    assert_eq!(server.stop().await, Drain::TimedOut { remaining: 1 });
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest).await;
    assert!(rest.is_empty(), "{rest:?}");
}

#[tokio::test]
async fn shutdown_waits_for_hijacked_tls_stream_to_finish() {
    let pki = new_pki();
    let server = Server::start(acceptor(&pki, true), Duration::from_secs(60)).await;
    let mut s = server
        .connect(&connector(&pki, true))
        .await
        .expect("connect");
    start_hijack(&mut s).await;
    let Server { stop, task, .. } = server;
    let _ = stop.expect("stop").send(());
    // Still served after shutdown began.
    s.write_all(b"late").await.expect("write");
    let mut echo = [0u8; 4];
    s.read_exact(&mut echo).await.expect("echo");
    assert_eq!(&echo, b"late");
    assert!(!task.is_finished());
    s.shutdown().await.expect("half-close");
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).await.expect("rest");
    assert_eq!(rest, b"bye");
    assert_eq!(task.await.expect("serve"), Drain::Complete);
}

#[test]
fn load_names_the_file_at_fault() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = new_pki();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    let settings = TlsSettings {
        cert_chain_pem: write("cert.pem", &pki.server_cert),
        key_pem: write("key.pem", &pki.server_key),
        client_ca_pem: Some(write("ca.pem", &pki.ca)),
    };
    assert!(
        TlsAcceptorConfig::load(&settings)
            .expect("load")
            .verifies_clients()
    );

    let missing = TlsSettings {
        client_ca_pem: Some(dir.path().join("nope.pem")),
        ..settings.clone()
    };
    let err = TlsAcceptorConfig::load(&missing).expect_err("missing");
    assert!(matches!(err, TlsError::Read { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with("cannot read TLS CA certificate "),
        "{text}"
    );
    assert!(text.contains("nope.pem"), "{text}");

    // A key file holding a certificate: named, its content not echoed.
    let wrong = TlsSettings {
        key_pem: settings.cert_chain_pem.clone(),
        ..settings.clone()
    };
    let text = TlsAcceptorConfig::load(&wrong)
        .expect_err("no key")
        .to_string();
    assert!(text.starts_with("invalid TLS key "), "{text}");
    assert!(text.contains("cert.pem"), "{text}");
    assert!(!text.contains("BEGIN"), "{text}");

    let empty = TlsSettings {
        cert_chain_pem: write("empty.pem", "not pem"),
        ..settings.clone()
    };
    let text = TlsAcceptorConfig::load(&empty)
        .expect_err("no cert")
        .to_string();
    assert!(
        text.contains("invalid TLS certificate") && text.contains("empty.pem"),
        "{text}"
    );

    // A key that does not belong to the certificate.
    let other = new_pki();
    let err = TlsAcceptorConfig::from_pem(
        pki.server_cert.as_bytes(),
        other.server_key.as_bytes(),
        None,
    )
    .expect_err("mismatch");
    assert!(err.to_string().contains("do not go together"), "{err}");
    // Debug never shows key material.
    let dbg = format!("{:?}", TlsAcceptorConfig::load(&settings).expect("load"));
    assert!(!dbg.contains("PRIVATE"), "{dbg}");
}
