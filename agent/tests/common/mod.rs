//! Test peer: a loopback WebSocket endpoint built on `sockerless_agent::peer`,
//! and helpers to run the agent binary against it.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sockerless_agent::peer::{
    self, AgentConnection, OutputStream, ResumeState, Session, SessionEvent,
};
use sockerless_agent::transport::{verify_bearer, websocket};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;

/// Hang guard only; no test depends on timing.
pub const GUARD: Duration = Duration::from_secs(120);
pub const TOKEN: &str = "test-token-0123456789abcdef";
pub const CONTAINER_ID: &str = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";

pub struct TestPeer {
    listener: TcpListener,
    pub url: String,
}

impl TestPeer {
    pub async fn new() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        TestPeer {
            listener,
            url: format!("ws://127.0.0.1:{port}/agent/v1/connect"),
        }
    }

    /// The listening socket (for tests that handshake by hand).
    pub fn listener(&self) -> &TcpListener {
        &self.listener
    }

    /// Command running the agent binary at `bin` in reverse mode against this peer.
    pub fn command(&self, bin: &str, argv: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(bin);
        cmd.arg("--").args(argv);
        cmd.env("SOCKERLESS_CALLBACK_URL", &self.url)
            .env("SOCKERLESS_AGENT_TOKEN", TOKEN)
            .env("SOCKERLESS_CONTAINER_ID", CONTAINER_ID)
            .env("SOCKERLESS_EXIT_ACK_TIMEOUT", "60")
            .stdin(Stdio::null())
            // The agent copies the main process output to its console; tests read it from the peer.
            .stdout(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Starts the agent (debug build) running `argv`.
    pub fn spawn_agent(&self, argv: &[&str], env: &[(&str, &str)]) -> Agent {
        Agent::spawn(self.command(env!("CARGO_BIN_EXE_sockerless-agent"), argv, env))
    }

    /// Accepts the agent's next connection, checking the upgrade headers like the backend will.
    // The handshake callback's signature is tungstenite's.
    #[allow(clippy::result_large_err)]
    pub async fn accept(&self, resume: ResumeState) -> AgentConnection {
        tokio::time::timeout(GUARD, async {
            let (tcp, _) = self.listener.accept().await.expect("accept");
            let check = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
                let auth = req
                    .headers()
                    .get("Authorization")
                    .and_then(|v| v.to_str().ok());
                let id = req
                    .headers()
                    .get("X-Sockerless-Container-Id")
                    .and_then(|v| v.to_str().ok());
                if verify_bearer(auth, TOKEN) && id == Some(CONTAINER_ID) {
                    Ok(resp)
                } else {
                    let mut r = ErrorResponse::new(None);
                    *r.status_mut() = StatusCode::UNAUTHORIZED;
                    Err(r)
                }
            };
            let ws = tokio_tungstenite::accept_hdr_async(tcp, check)
                .await
                .expect("websocket handshake");
            let conn = peer::accept(websocket(ws), TOKEN, resume)
                .await
                .expect("peer accept");
            assert_eq!(conn.info().container_id.as_deref(), Some(CONTAINER_ID));
            conn
        })
        .await
        .expect("agent did not connect")
    }
}

/// An agent process, killed if the test fails before it exits.
pub struct Agent(Option<Child>);

impl Agent {
    pub fn spawn(mut cmd: Command) -> Self {
        Agent(Some(cmd.spawn().expect("spawn agent")))
    }
    pub fn id(&self) -> u32 {
        self.0.as_ref().map(|c| c.id()).unwrap_or(0)
    }
    /// The exit code if the agent already exited.
    pub fn try_wait_code(&mut self) -> Option<i32> {
        self.0
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
            .and_then(|s| s.code())
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Waits for the agent process to exit and returns its exit code.
pub async fn wait_exit(mut agent: Agent) -> i32 {
    let mut child = agent.0.take().expect("agent already waited");
    tokio::time::timeout(
        GUARD,
        tokio::task::spawn_blocking(move || child.wait().expect("wait")),
    )
    .await
    .expect("agent did not exit")
    .expect("join")
    .code()
    .expect("agent killed by a signal")
}

/// Waits for the agent process to exit and returns what it wrote (spawned
/// with its stdout or stderr piped).
pub async fn wait_output(mut agent: Agent) -> std::process::Output {
    let child = agent.0.take().expect("agent already waited");
    tokio::time::timeout(
        GUARD,
        tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait")),
    )
    .await
    .expect("agent did not exit")
    .expect("join")
}

/// Collects a session to its exit (hang-guarded).
pub async fn collect(session: &mut Session) -> (Vec<u8>, Vec<u8>, i32) {
    tokio::time::timeout(GUARD, session.collect())
        .await
        .expect("session hung")
        .expect("session failed")
}

/// Reads stdout until it contains `needle`; returns what was read.
pub async fn read_until(session: &mut Session, needle: &str) -> String {
    let mut seen = Vec::new();
    tokio::time::timeout(GUARD, async {
        while !String::from_utf8_lossy(&seen).contains(needle) {
            match session.recv().await {
                Some(SessionEvent::Output {
                    stream: OutputStream::Stdout,
                    data,
                    ..
                }) => seen.extend_from_slice(&data),
                Some(SessionEvent::Output { .. }) | Some(SessionEvent::Error(_)) => {}
                other => panic!(
                    "session ended before {needle:?}: {other:?}; saw {:?}",
                    String::from_utf8_lossy(&seen)
                ),
            }
        }
    })
    .await
    .expect("output never came");
    String::from_utf8_lossy(&seen).into_owned()
}
