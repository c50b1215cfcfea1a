//! Process sessions: the main process and exec sessions share one path from
//! spawn to exit code, with pumps feeding the hub and a stdin writer.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::hub::{Hub, StdinMsg};
use crate::process::{self, FdIo, SpawnSpec};
use crate::protocol::{AckStream, ExecConfig, Frame, MAIN_SESSION, OutputStream};
use crate::userdb;

/// How long output may stay silent after a process exited before leftover
/// holders of its pipes (background grandchildren) stop delaying the exit report.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// Environment and defaults every process inherits.
pub(crate) struct ProcessContext {
    /// The container's environment, without the agent's own variables.
    pub base_env: Vec<(String, String)>,
}

impl ProcessContext {
    /// Builds the environment of an exec: container env, then `KEY=VALUE` overrides.
    pub(crate) fn env_with(&self, extra: &[String], home: Option<&str>) -> Vec<(String, String)> {
        let mut env = self.base_env.clone();
        for kv in extra {
            let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
            if k.is_empty() || k.starts_with("SOCKERLESS_") {
                continue;
            }
            env.retain(|(ek, _)| ek != k);
            env.push((k.to_string(), v.to_string()));
        }
        if let Some(home) = home.filter(|_| !env.iter().any(|(k, _)| k == "HOME")) {
            env.push(("HOME".into(), home.to_string()));
        }
        env
    }
}

/// Copies a pipe into the hub, never holding more than the window.
///
/// The main process's output is also written to the agent's own stdout and
/// stderr, so the platform's console log (ACA's Log Analytics) has it too:
/// the backend's fallback for output it did not capture.
pub(crate) async fn pump(hub: Arc<Hub>, id: u32, stream: OutputStream, io: FdIo) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut console = (id == MAIN_SESSION).then(|| Console::new(stream));
    loop {
        let space = hub.wait_space(id, stream).await;
        if space == 0 {
            break;
        }
        let n = buf.len().min(space);
        match io.read(&mut buf[..n]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                hub.push_output(id, stream, &buf[..n]);
                if let Some(console) = console.as_mut() {
                    console.write(&buf[..n]).await;
                }
            }
        }
    }
    hub.finish_stream(id, stream);
}

/// The agent's own stdout or stderr; a failed write disables it (the
/// console copy is best effort, the hub's copy is the one that counts).
enum Console {
    Out(Option<tokio::io::Stdout>),
    Err(Option<tokio::io::Stderr>),
}

impl Console {
    fn new(stream: OutputStream) -> Self {
        match stream {
            OutputStream::Stderr => Console::Err(Some(tokio::io::stderr())),
            _ => Console::Out(Some(tokio::io::stdout())),
        }
    }

    async fn write(&mut self, data: &[u8]) {
        use tokio::io::AsyncWriteExt;
        let ok = match self {
            Console::Out(Some(out)) => out.write_all(data).await.and(out.flush().await).is_ok(),
            Console::Err(Some(err)) => err.write_all(data).await.and(err.flush().await).is_ok(),
            _ => return,
        };
        if !ok {
            *self = match self {
                Console::Out(_) => Console::Out(None),
                Console::Err(_) => Console::Err(None),
            };
        }
    }
}

/// Writes stdin to the process and acknowledges every chunk.
pub(crate) fn spawn_stdin_writer(
    hub: Arc<Hub>,
    id: u32,
    io: FdIo,
) -> mpsc::UnboundedSender<StdinMsg> {
    // Bounded by stdin credit: each chunk is acknowledged only once written,
    // and the peer keeps at most `stdin_window` bytes unacknowledged.
    let (tx, rx) = mpsc::unbounded_channel();
    write_stdin(hub, id, io, rx);
    tx
}

/// Writes what `rx` carries to the process and acknowledges every chunk.
fn write_stdin(hub: Arc<Hub>, id: u32, io: FdIo, mut rx: mpsc::UnboundedReceiver<StdinMsg>) {
    tokio::spawn(async move {
        let mut written = 0u64;
        let mut broken = false;
        while let Some(msg) = rx.recv().await {
            match msg {
                StdinMsg::Data(d) => {
                    // A process that closed its stdin still gets its bytes acknowledged,
                    // so the peer is never left waiting for credit.
                    if !broken && io.write_all(&d).await.is_err() {
                        broken = true;
                    }
                    written += d.len() as u64;
                    hub.push_control(Frame::Ack {
                        session: id,
                        stream: AckStream::Stdin,
                        offset: written,
                    });
                }
                StdinMsg::Close => break,
            }
        }
        drop(io);
    });
}

/// Starts a process as session `id` (already registered) and returns its pid
/// and the task that reports its exit code once its output is drained. With
/// `announce`, a `Started` frame is queued before any output can be.
pub(crate) fn start_process(
    hub: &Arc<Hub>,
    id: u32,
    spec: SpawnSpec,
    announce: bool,
) -> std::io::Result<(i32, JoinHandle<i32>)> {
    start_process_with(hub, id, spec, announce, None)
}

/// [`start_process`], with stdin received before the process existed
/// (`early`, from [`Hub::early_stdin`]) written to it first.
pub(crate) fn start_process_with(
    hub: &Arc<Hub>,
    id: u32,
    spec: SpawnSpec,
    announce: bool,
    early: Option<mpsc::UnboundedReceiver<StdinMsg>>,
) -> std::io::Result<(i32, JoinHandle<i32>)> {
    let spawned = process::spawn(spec)?;
    let pid = spawned.pid;
    if announce {
        hub.push_control(Frame::Started {
            session: id,
            pid: pid as u32,
        });
    }
    let stdin_tx = match (spawned.stdin, early) {
        (Some(io), Some(rx)) => {
            write_stdin(hub.clone(), id, io, rx);
            None // the hub keeps the early sender
        }
        (Some(io), None) => Some(spawn_stdin_writer(hub.clone(), id, io)),
        (None, _) => None,
    };
    hub.set_process(id, Some(pid), spawned.pty, stdin_tx);
    let mut pumps = vec![tokio::spawn(pump(
        hub.clone(),
        id,
        OutputStream::Stdout,
        spawned.stdout,
    ))];
    match spawned.stderr {
        Some(err) => pumps.push(tokio::spawn(pump(
            hub.clone(),
            id,
            OutputStream::Stderr,
            err,
        ))),
        None => hub.finish_stream(id, OutputStream::Stderr),
    }
    let hub = hub.clone();
    let exit = spawned.exit;
    let task = tokio::spawn(async move {
        let code = exit.await.unwrap_or(255);
        drain(&hub, id, pumps).await;
        hub.set_exit(id, code);
        code
    });
    Ok((pid, task))
}

async fn drain(hub: &Arc<Hub>, id: u32, pumps: Vec<JoinHandle<()>>) {
    let streams = [OutputStream::Stdout, OutputStream::Stderr];
    for mut pump in pumps {
        let mut last = streams.map(|s| hub.produced(id, s));
        loop {
            tokio::select! {
                _ = &mut pump => break,
                _ = tokio::time::sleep(DRAIN_GRACE) => {
                    let now = streams.map(|s| hub.produced(id, s));
                    let held_by_window = streams.iter().any(|s| !hub.has_space(id, *s));
                    if now == last && !held_by_window {
                        pump.abort();
                        break;
                    }
                    last = now;
                }
            }
        }
    }
    for s in streams {
        hub.finish_stream(id, s);
    }
}

/// Starts an exec session; errors are reported to the peer by the caller.
pub(crate) fn start_exec(
    hub: &Arc<Hub>,
    ctx: &ProcessContext,
    id: u32,
    cfg: ExecConfig,
) -> Result<(), String> {
    if cfg.cmd.is_empty() {
        return Err("exec: no command given".into());
    }
    let creds = match cfg.user.as_deref().filter(|u| !u.is_empty()) {
        Some(u) => Some(userdb::resolve_user(u, Path::new("/"))?),
        None => None,
    };
    let env = ctx.env_with(&cfg.env, creds.as_ref().and_then(|c| c.home.as_deref()));
    let spec = SpawnSpec {
        argv: cfg.cmd.clone(),
        env,
        workdir: cfg.workdir.clone().filter(|w| !w.is_empty()),
        creds,
        tty: cfg.tty.then_some((
            if cfg.rows == 0 { 24 } else { cfg.rows },
            if cfg.cols == 0 { 80 } else { cfg.cols },
        )),
        stdin: cfg.stdin,
    };
    hub.register(id, true)?;
    match start_process(hub, id, spec, true) {
        Ok(_) => Ok(()),
        Err(e) => {
            hub.remove(id);
            Err(format!("exec {:?}: {e}", cfg.cmd[0]))
        }
    }
}
