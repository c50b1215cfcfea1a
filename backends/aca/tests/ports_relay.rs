//! Published ports without Azure: the agent binary runs on this host
//! against the backend's agent endpoint (so "inside the container" is this
//! host's loopback), `ports::open` binds a dynamic host port for a local
//! server's port, and connections to it are relayed through the agent.
//! Needs `SOCKERLESS_AGENT_BIN` (the agent binary): ignored by plain `cargo test`,
//! run by `cargo xtask test`, and failing when that variable is missing.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use sockerless_api::docker::{ContainerCreateBody, HostConfig, PortBinding};
use sockerless_backend_aca::runtime::StoredConfig;
use sockerless_backend_aca::runtime::state::ContainerRuntime;
use sockerless_backend_aca::store::{ContainerRecord, hash_token, records};
use sockerless_backend_aca::{AcaBackend, Config, ports};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const ID: &str = "feed0000feed0000feed0000feed0000feed0000feed0000feed0000feed0000";
const TOKEN: &str = "ports-relay-token";
const GUARD: Duration = Duration::from_secs(120);

/// One test at a time: a test spawning the agent forks while another's
/// listener exists, and the child holds that socket until its exec, so a
/// port closed meanwhile could not be bound again at once.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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

struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Setup {
    dir: tempfile::TempDir,
    _backend: AcaBackend,
    rt: Arc<ContainerRuntime>,
    bin: std::ffi::OsString,
    url: String,
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

/// A backend whose container `ID` is starting (its token accepted), no agent yet.
async fn starting() -> Setup {
    let serial = SERIAL.lock().await;
    let bin = std::env::var_os("SOCKERLESS_AGENT_BIN")
        .filter(|v| !v.is_empty())
        .expect(
            "SOCKERLESS_AGENT_BIN (the agent binary) is not set: run through `cargo xtask test`",
        );
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::new("sub", "rg", "env", "eastus");
    config.data_dir = dir.path().to_owned();
    config.agent_listen = "tcp://127.0.0.1:0".into();
    let backend = AcaBackend::with_credential(config, Arc::new(NoAzure), Default::default())
        .await
        .expect("backend");
    let endpoint = backend.start_agent_endpoint().await.expect("endpoint");
    let record = ContainerRecord {
        id: ID.into(),
        name: "web".into(),
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
    let rt = backend.runtimes().get(&record);
    rt.begin_run(hash_token(TOKEN));
    Setup {
        dir,
        _backend: backend,
        rt,
        bin,
        url: endpoint.callback_url.clone(),
        _serial: serial,
    }
}

/// Runs the agent binary (its main process sleeps) against the backend.
fn spawn_agent(s: &Setup) -> Agent {
    Agent(
        Command::new(&s.bin)
            .args(["--", "sleep", "300"])
            .env("SOCKERLESS_CALLBACK_URL", &s.url)
            .env("SOCKERLESS_AGENT_TOKEN", TOKEN)
            .env("SOCKERLESS_CONTAINER_ID", ID)
            .env("SOCKERLESS_HOSTS_FILE", s.dir.path().join("hosts"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn agent"),
    )
}

/// A backend whose container `ID` runs: the agent binary dialed in.
async fn running() -> (Setup, Agent) {
    let setup = starting().await;
    let mut connections = setup.rt.connections.subscribe();
    let agent = spawn_agent(&setup);
    tokio::time::timeout(GUARD, connections.wait_for(|n| *n > 0))
        .await
        .expect("agent did not connect")
        .expect("runtime");
    // The connected agent opened the stored config's publication (none);
    // each test opens its own.
    ports::close(&setup.rt).await;
    (setup, agent)
}

fn publish(port: u16) -> ContainerCreateBody {
    ContainerCreateBody {
        host_config: Some(HostConfig {
            port_bindings: Some(
                [(
                    format!("{port}/tcp"),
                    Some(vec![PortBinding {
                        host_ip: Some("127.0.0.1".into()),
                        host_port: Some(String::new()),
                    }]),
                )]
                .into(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A server on this host ("in the container"): `echo` echoes until the
/// client half-closes; otherwise it sends `greeting` and closes.
async fn server(greeting: Option<&'static [u8]>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                match greeting {
                    Some(g) => {
                        let _ = tcp.write_all(g).await;
                    }
                    None => {
                        let (mut r, mut w) = tcp.split();
                        let _ = tokio::io::copy(&mut r, &mut w).await;
                        let _ = w.shutdown().await;
                    }
                }
            });
        }
    });
    port
}

fn payload(len: usize) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect()
}

fn host_port(rt: &ContainerRuntime) -> u16 {
    let bound = rt.ports.bound();
    assert_eq!(bound.len(), 1, "{bound:?}");
    bound[0].host_port
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs SOCKERLESS_AGENT_BIN (cargo xtask test)"]
async fn relayed_both_ways_with_half_close_and_closed_on_close() {
    let (setup, _agent) = running().await;
    let rt = setup.rt.clone();
    tokio::time::timeout(GUARD, async {
        // Echo: 8 MiB (more than the agent's windows) out and back.
        let echo = server(None).await;
        ports::open(&rt, "web", ID, &publish(echo)).expect("open");
        let port = host_port(&rt);
        let data = payload(8 << 20);
        let client = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let (mut r, mut w) = client.into_split();
        let sent = data.clone();
        let writer = tokio::spawn(async move {
            w.write_all(&sent).await.expect("send");
            w.shutdown().await.expect("half-close");
        });
        let mut back = Vec::new();
        r.read_to_end(&mut back).await.expect("read back");
        writer.await.expect("writer");
        assert!(
            back == data,
            "echoed {} of {} bytes",
            back.len(),
            data.len()
        );
        ports::close(&rt).await;
        assert!(
            TcpStream::connect(("127.0.0.1", port)).await.is_err(),
            "closed listener"
        );

        // The container side speaks and closes first: the client reads it, then EOF.
        let pong = server(Some(b"pong\n")).await;
        ports::open(&rt, "web", ID, &publish(pong)).expect("open");
        let mut c = TcpStream::connect(("127.0.0.1", host_port(&rt)))
            .await
            .expect("connect");
        let mut got = String::new();
        c.read_to_string(&mut got).await.expect("read");
        assert_eq!(got, "pong\n");
        ports::close(&rt).await;

        // The container side half-closes first, then reads what the client
        // still sends, up to the client's EOF, and reports it.
        let (seen_tx, seen_rx) = tokio::sync::oneshot::channel::<Vec<u8>>();
        let late = {
            let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let port = l.local_addr().expect("addr").port();
            tokio::spawn(async move {
                let Ok((mut tcp, _)) = l.accept().await else {
                    return;
                };
                let (mut r, mut w) = tcp.split();
                let _ = w.write_all(b"bye\n").await;
                let _ = w.shutdown().await;
                let mut rest = Vec::new();
                let _ = r.read_to_end(&mut rest).await;
                let _ = seen_tx.send(rest);
            });
            port
        };
        ports::open(&rt, "web", ID, &publish(late)).expect("open");
        let mut c = TcpStream::connect(("127.0.0.1", host_port(&rt)))
            .await
            .expect("connect");
        let mut got = String::new();
        c.read_to_string(&mut got).await.expect("read");
        assert_eq!(got, "bye\n");
        c.write_all(b"late words")
            .await
            .expect("write after the server's EOF");
        c.shutdown().await.expect("half-close");
        let seen = tokio::time::timeout(GUARD, seen_rx)
            .await
            .expect("the container side sees the client's EOF")
            .expect("seen");
        assert_eq!(seen, b"late words");
        ports::close(&rt).await;

        // Nothing listens in the container: the client's connection is reset.
        let nothing = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        ports::open(&rt, "web", ID, &publish(nothing)).expect("open");
        // (The reset may even come before the client's connect completes.)
        if let Ok(mut c) = TcpStream::connect(("127.0.0.1", host_port(&rt))).await {
            let mut buf = [0u8; 16];
            let read = c.read(&mut buf).await;
            assert!(
                matches!(read, Ok(0)) || read.is_err(),
                "no bytes from a refused port: {read:?}"
            );
        }
        ports::close(&rt).await;
    })
    .await
    .expect("hang guard");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs SOCKERLESS_AGENT_BIN (cargo xtask test)"]
async fn a_hundred_mib_in_bounded_memory() {
    let (setup, _agent) = running().await;
    let rt = setup.rt.clone();
    tokio::time::timeout(GUARD, async {
        // A sink "in the container" that counts, then answers the count.
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let sink = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            if let Ok((mut tcp, _)) = listener.accept().await {
                let mut buf = vec![0u8; 64 * 1024];
                let mut total = 0u64;
                loop {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => total += n as u64,
                    }
                }
                let _ = tcp.write_all(total.to_string().as_bytes()).await;
            }
        });
        ports::open(&rt, "web", ID, &publish(sink)).expect("open");
        let before = vm_hwm_kib();
        let mut c = TcpStream::connect(("127.0.0.1", host_port(&rt)))
            .await
            .expect("connect");
        let chunk = vec![7u8; 1 << 20];
        for _ in 0..100 {
            c.write_all(&chunk).await.expect("send");
        }
        c.shutdown().await.expect("half-close");
        let mut answer = String::new();
        c.read_to_string(&mut answer).await.expect("answer");
        assert_eq!(answer, (100u64 << 20).to_string());
        let grown = vm_hwm_kib().saturating_sub(before) / 1024;
        assert!(grown < 64, "peak memory grew by {grown} MiB");
        ports::close(&rt).await;
    })
    .await
    .expect("hang guard");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs SOCKERLESS_AGENT_BIN (cargo xtask test)"]
async fn a_connection_made_while_the_container_starts_waits_for_its_agent() {
    let setup = starting().await;
    tokio::time::timeout(GUARD, async {
        // As `docker start` does: listeners first, the agent later.
        let echo = server(None).await;
        ports::open(&setup.rt, "web", ID, &publish(echo)).expect("open");
        let mut c = TcpStream::connect(("127.0.0.1", host_port(&setup.rt)))
            .await
            .expect("connect");
        c.write_all(b"early\n").await.expect("send");
        c.shutdown().await.expect("half-close");
        let _agent = spawn_agent(&setup);
        let mut got = String::new();
        c.read_to_string(&mut got).await.expect("read");
        assert_eq!(got, "early\n");
        ports::close(&setup.rt).await;
    })
    .await
    .expect("hang guard");
}

fn publish_fixed(ctr: u16, host: u16) -> ContainerCreateBody {
    let mut body = publish(ctr);
    if let Some(b) = body
        .host_config
        .as_mut()
        .and_then(|h| h.port_bindings.as_mut())
        .and_then(|m| m.values_mut().next())
        .and_then(|v| v.as_mut())
    {
        b[0].host_port = Some(host.to_string());
    }
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs SOCKERLESS_AGENT_BIN (cargo xtask test)"]
async fn a_fixed_port_is_free_again_once_close_returns() {
    let (setup, _agent) = running().await;
    let rt = setup.rt.clone();
    tokio::time::timeout(GUARD, async {
        let pong = server(Some(b"pong\n")).await;
        // Below the ephemeral range, where no client socket of this process lands.
        let start = 20_000 + (std::process::id() % 10_000) as u16;
        let fixed = (start..30_000)
            .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
            .expect("a free port");
        ports::open(&rt, "web", ID, &publish_fixed(pong, fixed)).expect("open");
        for _ in 0..20 {
            ports::close(&rt).await;
            // As `docker restart` does: the same fixed port at once.
            ports::open(&rt, "web", ID, &publish_fixed(pong, fixed)).expect("reopen");
            let mut c = TcpStream::connect(("127.0.0.1", fixed))
                .await
                .expect("connect");
            let mut got = String::new();
            c.read_to_string(&mut got).await.expect("read");
            assert_eq!(got, "pong\n");
        }
        ports::close(&rt).await;
    })
    .await
    .expect("hang guard");
}
