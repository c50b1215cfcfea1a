//! The Docker API over TLS: the Docker CLI with `--tlsverify`, refusal of
//! clients without a certificate, hijacked attach and graceful drain over
//! TLS, and the listen/TLS configuration rules (library and binary).
//! Certificates are generated at test time (rcgen); no keys are committed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::{MemBackend, deframe, raw_exchange, read_to_end};
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use sockerless_api::docker::ContainerCreateBody;
use sockerless_api::listen::{Drain, ListenAddr, TlsAcceptorConfig, TlsSettings, bind};
use sockerless_api::{Backend, CreateContainerRequest};
use sockerless_frontend_docker::{
    FrontendConfig, FrontendError, TlsArgs, check_listen, check_listen_addr, run, serve_on_tls,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

const DOCKER: &str = "/usr/local/bin/docker";
const BIN: &str = env!("CARGO_BIN_EXE_sockerless-docker-frontend");

/// A CA, a server certificate (SAN localhost, 127.0.0.1) and a client
/// certificate, as PEM files in a temporary directory.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca_key = KeyPair::generate().expect("ca key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).expect("ca");
        let issuer = Issuer::new(ca_params, ca_key);
        let write =
            |name: &str, text: String| std::fs::write(dir.path().join(name), text).expect("write");
        write("ca.pem", ca.pem());
        let leaf = |names: Vec<String>, usage, cert: &str, key: &str| {
            let pair = KeyPair::generate().expect("key");
            let mut params = CertificateParams::new(names).expect("params");
            params.extended_key_usages = vec![usage];
            write(cert, params.signed_by(&pair, &issuer).expect("leaf").pem());
            write(key, pair.serialize_pem());
        };
        leaf(
            vec!["localhost".into(), "127.0.0.1".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
            "server-cert.pem",
            "server-key.pem",
        );
        leaf(
            vec![],
            ExtendedKeyUsagePurpose::ClientAuth,
            "cert.pem",
            "key.pem",
        );
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn settings(&self, verify: bool) -> TlsSettings {
        TlsSettings {
            cert_chain_pem: self.path("server-cert.pem"),
            key_pem: self.path("server-key.pem"),
            client_ca_pem: verify.then(|| self.path("ca.pem")),
        }
    }

    fn connector(&self, with_client_cert: bool) -> TlsConnector {
        let read = |name: &str| std::fs::read(self.path(name)).expect("read pem");
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(&read("ca.pem")).expect("ca"))
            .expect("root");
        let builder =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_root_certificates(roots);
        let config = if with_client_cert {
            builder
                .with_client_auth_cert(
                    vec![CertificateDer::from_pem_slice(&read("cert.pem")).expect("cert")],
                    PrivateKeyDer::from_pem_slice(&read("key.pem")).expect("key"),
                )
                .expect("client auth")
        } else {
            builder.with_no_client_auth()
        };
        TlsConnector::from(Arc::new(config))
    }
}

struct TlsServer {
    port: u16,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Drain>,
}

impl TlsServer {
    async fn start(backend: Arc<dyn Backend>, tls: &TlsSettings) -> TlsServer {
        let listener = bind(&"tcp://127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let ListenAddr::Tcp { port, .. } = addr else {
            panic!("tcp")
        };
        let mut config = FrontendConfig::new(addr);
        config.drain_timeout = Duration::from_secs(10);
        config.tls = Some(tls.clone());
        check_listen(&config.listen, config.tls.as_ref()).expect("allowed");
        let acceptor = TlsAcceptorConfig::load(tls).expect("load tls");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            serve_on_tls(listener, &config, acceptor, backend, async {
                let _ = stopped.await;
            })
            .await
        });
        TlsServer {
            port,
            stop: Some(stop),
            task,
        }
    }

    async fn connect(&self, connector: &TlsConnector) -> std::io::Result<TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(("127.0.0.1", self.port)).await?;
        connector
            .connect(ServerName::try_from("127.0.0.1").expect("name"), tcp)
            .await
    }

    async fn stop(mut self) -> Drain {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.expect("serve task")
    }
}

async fn container(backend: &MemBackend, name: &str) -> String {
    let req = CreateContainerRequest {
        name: Some(name.into()),
        platform: None,
        config: ContainerCreateBody {
            image: Some("busybox".into()),
            ..Default::default()
        },
    };
    backend.container_create(req).await.expect("create").id
}

fn upgrade_request(path: &str) -> Vec<u8> {
    format!("POST {path} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n")
        .into_bytes()
}

/// Runs the Docker CLI with `args`; returns (exit code, stdout, stderr).
async fn docker(args: Vec<String>, config: &Path) -> (Option<i32>, String, String) {
    let config = config.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(DOCKER)
            .args(&args)
            .env_clear()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Docker CLI at /usr/local/bin/docker: cargo xtask test"]
async fn docker_cli_with_tlsverify() {
    assert!(
        Path::new(DOCKER).exists(),
        "this test needs the Docker CLI at {DOCKER}"
    );
    let pki = Pki::new();
    let server = TlsServer::start(Arc::new(MemBackend::new()), &pki.settings(true)).await;
    let config = tempfile::tempdir().expect("tempdir");
    let host = format!("tcp://127.0.0.1:{}", server.port);
    let p = |name: &str| pki.path(name).display().to_string();
    let with_cert = |cmd: &[&str]| {
        let mut args: Vec<String> = ["--tlsverify", "--tlscacert", &p("ca.pem")]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend([
            "--tlscert".into(),
            p("cert.pem"),
            "--tlskey".into(),
            p("key.pem"),
        ]);
        args.extend(["-H".into(), host.clone()]);
        args.extend(cmd.iter().map(|s| s.to_string()));
        args
    };

    let (code, out, err) = docker(with_cert(&["version"]), config.path()).await;
    println!("$ docker --tlsverify ... version\n{out}{err}");
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("Server: Sockerless (memtest)"), "{out}");
    assert!(out.contains("API version:      1.44"), "{out}");

    // The life of `docker run` over TLS: attach is a hijack, wait streams.
    let (code, out, err) = docker(
        with_cert(&["run", "--rm", "alpine:3.20", "exit", "3"]),
        config.path(),
    )
    .await;
    println!("$ docker --tlsverify ... run --rm alpine:3.20 exit 3 -> exit {code:?}\n{out}{err}");
    assert_eq!(code, Some(3), "{err}");
    assert_eq!(out, "hello\nstdin:");
    assert_eq!(err, "oops\n");

    // No client certificate: refused at the handshake.
    let args = [
        "--tlsverify",
        "--tlscacert",
        &p("ca.pem"),
        "-H",
        &host,
        "version",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (code, out, err) = docker(args, config.path()).await;
    println!("$ docker --tlsverify (no client cert) version -> exit {code:?}\n{out}{err}");
    assert_ne!(code, Some(0));
    assert!(!out.contains("Server: Sockerless"), "{out}");
    assert!(err.contains("certificate") || err.contains("tls"), "{err}");
    // Plain HTTP to the TLS port gets no Docker answer.
    let args = ["-H", &host, "version"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let (code, out, _) = docker(args, config.path()).await;
    assert_ne!(code, Some(0));
    assert!(!out.contains("Server: Sockerless"), "{out}");
    assert_eq!(server.stop().await, Drain::Complete);
}

#[tokio::test]
async fn client_without_certificate_is_refused() {
    let pki = Pki::new();
    let backend = Arc::new(MemBackend::new());
    let server = TlsServer::start(backend, &pki.settings(true)).await;
    let result = async {
        let mut s = server.connect(&pki.connector(false)).await?;
        // TLS 1.3: the server's verdict arrives after the client's Finished.
        s.write_all(b"GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n")
            .await?;
        let mut got = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut s, &mut got).await?;
        Ok::<_, std::io::Error>(got)
    }
    .await;
    match result {
        Err(e) => println!("refused as expected: {e}"),
        Ok(got) => assert!(
            !String::from_utf8_lossy(&got).contains("200 OK"),
            "served: {got:?}"
        ),
    }
    // With the certificate the same request is answered.
    let mut s = server.connect(&pki.connector(true)).await.expect("connect");
    let (head, _) = raw_exchange(&mut s, b"GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    drop(s);
    assert_eq!(server.stop().await, Drain::Complete);
}

#[tokio::test]
async fn hijacked_attach_and_graceful_drain_over_tls() {
    let pki = Pki::new();
    let backend = Arc::new(MemBackend::new());
    let id = container(&backend, "tls-attach").await;
    let server = TlsServer::start(backend.clone(), &pki.settings(true)).await;
    let mut s = server.connect(&pki.connector(true)).await.expect("connect");
    let path = format!("/v1.44/containers/{id}/attach?stream=1&stdin=1&stdout=1&stderr=1");
    let (head, rest) = raw_exchange(&mut s, &upgrade_request(&path)).await;
    assert!(head.starts_with("HTTP/1.1 101 UPGRADED"), "{head}");
    assert!(head.to_ascii_lowercase().contains("upgrade: tcp"), "{head}");
    // Shutdown begins while the hijacked stream is open: it keeps working.
    let stopping = tokio::spawn(server.stop());
    s.write_all(b"over tls\n").await.expect("stdin");
    s.shutdown().await.expect("half-close");
    let out = read_to_end(&mut s, rest).await;
    assert_eq!(
        deframe(&out),
        vec![
            (1, b"hello\n".to_vec()),
            (2, b"oops\n".to_vec()),
            (1, b"stdin:over tls\n".to_vec())
        ]
    );
    let drain = tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("drained in time")
        .expect("join");
    assert_eq!(drain, Drain::Complete);
}

#[test]
fn listen_rules_for_tcp() {
    let pki = Pki::new();
    let any: ListenAddr = "tcp://0.0.0.0:2376".parse().expect("addr");
    let lo: ListenAddr = "tcp://127.0.0.1:2376".parse().expect("addr");
    let unix = ListenAddr::Unix("/run/x.sock".into());
    assert!(check_listen(&lo, None).is_ok());
    assert!(check_listen(&unix, None).is_ok());
    assert!(check_listen(&lo, Some(&pki.settings(false))).is_ok());
    assert!(check_listen(&any, Some(&pki.settings(true))).is_ok());
    let err = check_listen(&any, None).expect_err("plain");
    assert!(matches!(err, FrontendError::InsecureTcp(_)), "{err:?}");
    assert!(matches!(
        check_listen_addr(&any),
        Err(FrontendError::InsecureTcp(_))
    ));
    let err = check_listen(&any, Some(&pki.settings(false))).expect_err("no verify");
    assert!(
        matches!(err, FrontendError::UnauthenticatedTcp(_)),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("without --tlsverify") && text.contains("not be authenticated"),
        "{text}"
    );
}

#[tokio::test]
async fn run_names_a_missing_certificate_file_before_binding() {
    let pki = Pki::new();
    let mut config = FrontendConfig::new("tcp://0.0.0.0:0".parse().expect("addr"));
    config.tls = Some(TlsSettings {
        key_pem: pki.path("missing-key.pem"),
        ..pki.settings(true)
    });
    let err = run(&config, Arc::new(MemBackend::new()), std::future::pending())
        .await
        .expect_err("missing key");
    assert!(matches!(err, FrontendError::Tls(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("cannot read TLS key") && text.contains("missing-key.pem"),
        "{text}"
    );
}

#[test]
fn tls_flags_resolve_like_dockerd() {
    let dir = Path::new("/certs");
    let none = TlsArgs::default();
    assert_eq!(none.settings_in(Some(dir)).expect("plain"), None);

    let verify = TlsArgs {
        tlsverify: true,
        ..Default::default()
    };
    let s = verify
        .settings_in(Some(dir))
        .expect("defaults")
        .expect("tls");
    assert_eq!(s.cert_chain_pem, dir.join("cert.pem"));
    assert_eq!(s.key_pem, dir.join("key.pem"));
    assert_eq!(s.client_ca_pem, Some(dir.join("ca.pem")));

    // --tls alone: no client verification, even with --tlscacert (as dockerd).
    let tls = TlsArgs {
        tls: true,
        tlscacert: Some("/x/ca.pem".into()),
        tlscert: Some("/x/c.pem".into()),
        ..Default::default()
    };
    let s = tls.settings_in(Some(dir)).expect("ok").expect("tls");
    assert_eq!(s.client_ca_pem, None);
    assert_eq!(s.cert_chain_pem, PathBuf::from("/x/c.pem"));

    // No default directory: the missing flag is named.
    let err = verify.settings_in(None).expect_err("no dir").to_string();
    assert!(err.contains("--tlscacert is required"), "{err}");

    // Certificate flags without --tls are not silently plain text.
    let stray = TlsArgs {
        tlscert: Some("/x/c.pem".into()),
        ..Default::default()
    };
    let err = stray.settings_in(Some(dir)).expect_err("stray").to_string();
    assert!(
        err.contains("--tlscert given without --tls or --tlsverify"),
        "{err}"
    );
}

fn run_bin(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .env("HOME", "/nonexistent")
        .env_remove("DOCKER_CERT_PATH")
        .envs(env.iter().copied())
        .output()
        .expect("run");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn binary_refuses_unauthenticated_or_broken_tls() {
    let pki = Pki::new();
    let p = |name: &str| pki.path(name).display().to_string();
    let backend = ["--backend", "unix:///nonexistent/b.sock"];

    let (ok, err) = run_bin(
        &[&["--listen", "tcp://0.0.0.0:23761", "--tls"][..], &backend].concat(),
        &[],
    );
    assert!(!ok);
    assert!(
        err.contains("with --tls but without --tlsverify: clients would not be authenticated"),
        "{err}"
    );

    // Env equivalents; the default ~/.docker directory is named when files are missing.
    let (ok, err) = run_bin(
        &[&["--listen", "tcp://0.0.0.0:23762"][..], &backend].concat(),
        &[("SOCKERLESS_DOCKER_TLSVERIFY", "1")],
    );
    assert!(!ok);
    assert!(
        err.contains("cannot read TLS certificate /nonexistent/.docker/cert.pem"),
        "{err}"
    );

    let (ok, err) = run_bin(
        &[
            &["--listen", "tcp://0.0.0.0:23763", "--tlsverify"][..],
            &[
                "--tlscacert",
                &p("ca.pem"),
                "--tlscert",
                &p("server-cert.pem"),
            ],
            &["--tlskey", &p("nope.pem")],
            &backend,
        ]
        .concat(),
        &[],
    );
    assert!(!ok);
    assert!(
        err.contains("cannot read TLS key") && err.contains("nope.pem"),
        "{err}"
    );

    let (ok, err) = run_bin(
        &[
            &["--listen", "tcp://127.0.0.1:23764", "--tlskey", "/x"][..],
            &backend,
        ]
        .concat(),
        &[],
    );
    assert!(!ok);
    assert!(
        err.contains("--tlskey given without --tls or --tlsverify"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_serves_tlsverify_on_tcp() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let backend_sock = dir.path().join("backend.sock");
    let listener = bind(&ListenAddr::Unix(backend_sock.clone()))
        .await
        .expect("bind backend");
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let backend_task = tokio::spawn(sockerless_api::listen::serve(
        listener,
        sockerless_api::server::router(Arc::new(MemBackend::new())),
        async {
            let _ = stop_rx.await;
        },
        Duration::from_secs(2),
    ));
    // A free port (released just before the binary binds it).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut child = tokio::process::Command::new(BIN)
        .args(["--listen", &format!("tcp://127.0.0.1:{port}")])
        .args(["--backend", &format!("unix://{}", backend_sock.display())])
        .env("HOME", "/nonexistent")
        .env("DOCKER_CERT_PATH", pki.dir.path())
        .env("SOCKERLESS_DOCKER_TLSVERIFY", "true")
        .env("SOCKERLESS_DOCKER_TLSCERT", pki.path("server-cert.pem"))
        .env("SOCKERLESS_DOCKER_TLSKEY", pki.path("server-key.pem"))
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn frontend");
    let server = TlsServer {
        port,
        stop: None,
        task: tokio::spawn(async { Drain::Complete }),
    };
    let mut answered = None;
    for _ in 0..200 {
        if let Ok(mut s) = server.connect(&pki.connector(true)).await {
            answered = Some(
                raw_exchange(&mut s, b"GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n")
                    .await
                    .0,
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let head = answered.expect("the binary never served TLS");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // ca.pem came from DOCKER_CERT_PATH: a client without a certificate is refused.
    let refused = async {
        let mut s = server.connect(&pki.connector(false)).await?;
        s.write_all(b"GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n")
            .await?;
        let mut got = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut s, &mut got).await?;
        Ok::<_, std::io::Error>(got)
    }
    .await;
    assert!(refused.is_err() || refused.is_ok_and(|got| got.is_empty()));

    let pid = child.id().expect("pid").to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let exit = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("exits after SIGTERM")
        .expect("wait");
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = tokio::io::AsyncReadExt::read_to_string(&mut pipe, &mut stderr).await;
    }
    assert!(exit.success(), "exit {exit:?}: {stderr}");
    assert!(
        stderr.contains("serving the Docker API over TLS"),
        "{stderr}"
    );
    assert!(
        stderr.contains("client_certificates=\"verified\""),
        "{stderr}"
    );
    let _ = stop_tx.send(());
    backend_task.await.expect("backend join");
}
