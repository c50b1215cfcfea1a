//! Exec sessions, run by the agent inside the container.
//!
//! Each function implements one `Backend` method of [`AcaBackend`]; the
//! trait impl in `backend.rs` only delegates here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use sockerless_agent::peer::{self, OutputStream, Session, SessionEvent, SessionInput};
use sockerless_api::docker::{
    ExecConfig, ExecInspectResponse, ExecStartConfig, IdResponse, ProcessConfig,
};
use sockerless_api::{ApiError, AttachedOutput, InputStream, OutputChunk, Result, StreamKind};
use tokio::sync::mpsc;

use crate::AcaBackend;
use crate::agent_link::pump::AgentLink;
use crate::clock::{now_nanos, random_hex};
use crate::exec_failure::{self, ExecFailure};
use crate::runtime::find_container;
use crate::runtime::state::ContainerRuntime;
use crate::store::{ExecRecord, records};

/// Running execs: the input side of their sessions (for resize).
#[derive(Default)]
pub struct ExecTable {
    running: Mutex<HashMap<String, SessionInput>>,
}

impl std::fmt::Debug for ExecTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.running.lock().map(|m| m.len()).unwrap_or(0);
        f.debug_struct("ExecTable").field("running", &n).finish()
    }
}

impl ExecTable {
    fn insert(&self, id: &str, input: SessionInput) {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_owned(), input);
    }
    fn remove(&self, id: &str) {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
    fn input(&self, id: &str) -> Option<SessionInput> {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }
}

fn no_such_exec(id: &str) -> ApiError {
    ApiError::NotFound(format!("No such exec instance: {id}"))
}

async fn get_exec(backend: &AcaBackend, id: &str) -> Result<ExecRecord> {
    let key = id.to_owned();
    backend
        .store()
        .call(move |c| records::get_exec(c, &key))
        .await?
        .ok_or_else(|| no_such_exec(id))
}

async fn put_exec(backend: &AcaBackend, record: ExecRecord) -> Result<()> {
    Ok(backend
        .store()
        .call(move |c| records::put_exec(c, &record))
        .await?)
}

fn config_of(record: &ExecRecord) -> Result<ExecConfig> {
    serde_json::from_value(record.config.clone())
        .map_err(|e| ApiError::Internal(format!("stored exec {} is unreadable: {e}", record.id)))
}

/// `Backend::exec_create`.
pub async fn create(
    backend: &AcaBackend,
    container_id: &str,
    config: ExecConfig,
) -> Result<IdResponse> {
    let container = find_container(backend, container_id).await?;
    let rt = backend.runtimes().get(&container);
    if !rt.state.borrow().running {
        return Err(ApiError::Conflict(format!(
            "Container {} is not running",
            container.id
        )));
    }
    crate::ops::pause::refuse_exec(&rt, container_id)?;
    if config.cmd.as_ref().is_none_or(Vec::is_empty) {
        return Err(ApiError::InvalidParameter(
            "No exec command specified".into(),
        ));
    }
    let id = random_hex(32)?;
    let (event_container, event_cmd) =
        (container.id.clone(), config.cmd.clone().unwrap_or_default());
    let value = serde_json::to_value(&config)
        .map_err(|e| ApiError::Internal(format!("cannot encode exec config: {e}")))?;
    put_exec(
        backend,
        ExecRecord {
            id: id.clone(),
            container_id: container.id,
            config: value,
            running: false,
            exit_code: None,
            created_at: now_nanos(),
        },
    )
    .await?;
    crate::events::actors::exec(backend, &event_container, "exec_create", &id, &event_cmd).await;
    Ok(IdResponse { id })
}

/// `Backend::exec_start`: runs the command through the agent; the output
/// ends when it exits (at once with `detach`).
pub async fn start(
    backend: &AcaBackend,
    exec_id: &str,
    start: ExecStartConfig,
    stdin: Option<InputStream>,
) -> Result<AttachedOutput> {
    let mut record = get_exec(backend, exec_id).await?;
    if record.running || record.exit_code.is_some() {
        return Err(ApiError::Conflict(format!(
            "Exec command {exec_id} has already run"
        )));
    }
    let config = config_of(&record)?;
    let container = find_container(backend, &record.container_id).await?;
    let rt = backend.runtimes().get(&container);
    crate::ops::pause::refuse_exec(&rt, &container.id)?;
    // Taken with the connection: the session's positions and stdin are kept
    // there across reconnects of this run.
    let resume = rt.resume();
    let conn = rt
        .agent()
        .ok_or_else(|| ApiError::Conflict(format!("Container {} is not running", container.id)))?;
    let tty = start.tty.or(config.tty).unwrap_or(false);
    let size = start
        .console_size
        .clone()
        .or(config.console_size.clone())
        .unwrap_or_default();
    let dim = |i: usize| {
        size.get(i)
            .and_then(|v| u16::try_from(*v).ok())
            .unwrap_or(0)
    };
    let detach = start.detach.unwrap_or(false);
    // Without `-w`, an exec runs where the container's process does, as
    // with dockerd (the container's WorkingDir, the image's included).
    let workdir = config
        .working_dir
        .clone()
        .filter(|w| !w.is_empty())
        .or_else(|| {
            crate::runtime::StoredConfig::of(&container)
                .ok()
                .and_then(|stored| stored.body.working_dir)
                .filter(|w| !w.is_empty())
        });
    if let Some(failure) = workdir.as_deref().and_then(exec_failure::relative_workdir) {
        return failed(backend, record, failure, tty, detach).await;
    }
    let with_stdin = config.attach_stdin.unwrap_or(false) && stdin.is_some() && !detach;
    let agent_config = peer::ExecConfig {
        cmd: config.cmd.clone().unwrap_or_default(),
        env: config.env.clone().unwrap_or_default(),
        workdir: workdir.clone(),
        user: config.user.clone().filter(|u| !u.is_empty()),
        tty,
        stdin: with_stdin,
        rows: dim(0),
        cols: dim(1),
    };
    let session = match conn.exec(&agent_config).await {
        Ok(session) => session,
        // The agent could not start the process: the exec ends as dockerd's does.
        Err(peer::PeerError::Agent(message)) => {
            let workdir_missing = match &workdir {
                Some(dir) => match conn.stat(dir).await {
                    // Go's os.ModeDir; a symlink is taken as usable.
                    Ok(stat) => stat.mode & (1 << 31) == 0 && stat.link_target.is_empty(),
                    Err(_) => true,
                },
                None => false,
            };
            let cmd = agent_config.cmd.first().map(String::as_str).unwrap_or("");
            let failure =
                exec_failure::classify(cmd, workdir.as_deref(), workdir_missing, &message);
            return failed(backend, record, failure, tty, detach).await;
        }
        Err(e) => {
            return Err(ApiError::Internal(format!(
                "exec in container {}: {e}",
                container.id
            )));
        }
    };
    record.running = true;
    put_exec(backend, record.clone()).await?;
    crate::events::actors::exec(
        backend,
        &container.id,
        "exec_start",
        exec_id,
        &agent_config.cmd,
    )
    .await;

    let input = session.input();
    backend.execs().insert(exec_id, input.clone());
    if let Some(mut stream) = stdin.filter(|_| with_stdin) {
        tokio::spawn(async move {
            while let Some(data) = stream.next().await {
                if input.write(&data).await.is_err() {
                    return;
                }
            }
            let _ = input.close();
        });
    }
    let (out_tx, out_rx) = mpsc::channel::<Result<OutputChunk>>(64);
    let backend = backend.clone();
    let id = exec_id.to_owned();
    tokio::spawn(async move {
        let sink = (!detach).then_some(out_tx);
        let id_in_agent = session.id();
        let code = follow(&backend, &rt, conn, session, sink.as_ref()).await;
        if code.is_none() {
            tracing::info!(exec = %id, container = %rt.id, "exec lost with its agent connection");
            // Its stdin writer stops waiting for a connection.
            resume.forget(id_in_agent);
        }
        backend.execs().remove(&id);
        record.running = false;
        record.exit_code = Some(code.map_or(126, i64::from));
        let (event_container, code) =
            (record.container_id.clone(), record.exit_code.unwrap_or(126));
        if let Err(e) = put_exec(&backend, record).await {
            tracing::warn!(exec = %id, error = %e, "cannot record the exec exit");
        }
        crate::events::actors::exec_die(&backend, &event_container, &id, code).await;
        // The output ends only now, so an inspect right after sees the exit code.
        drop(sink);
    });
    Ok(AttachedOutput {
        tty,
        output: Box::pin(futures_util::stream::unfold(out_rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })),
    })
}

/// An exec that could not start: its exit code recorded, then dockerd's
/// message as its only output (detached: a 400 with the message, as dockerd).
async fn failed(
    backend: &AcaBackend,
    mut record: ExecRecord,
    failure: ExecFailure,
    tty: bool,
    detach: bool,
) -> Result<AttachedOutput> {
    record.running = false;
    record.exit_code = Some(failure.exit_code);
    put_exec(backend, record).await?;
    if detach {
        return Err(ApiError::InvalidParameter(failure.message));
    }
    let chunk = OutputChunk {
        stream: StreamKind::Stdout,
        data: format!("{}\r\n", failure.message).into_bytes().into(),
    };
    Ok(AttachedOutput {
        tty,
        output: Box::pin(futures_util::stream::iter([Ok(chunk)])),
    })
}

/// Reads an exec session to its exit code, across reconnects of the agent:
/// when its connection closes first, the session is re-opened on the
/// container's next connection (the output goes on where it stopped, stdin
/// from what the agent received). `None` when no connection brings it back
/// within `agent_grace_secs` (the poller then decides the container's fate)
/// or the agent no longer has it.
async fn follow(
    backend: &AcaBackend,
    rt: &ContainerRuntime,
    mut link: Arc<AgentLink>,
    mut session: Session,
    sink: Option<&mpsc::Sender<Result<OutputChunk>>>,
) -> Option<i32> {
    loop {
        if let Some(code) = run_session(&mut session, sink).await {
            return Some(code);
        }
        let id = session.id();
        drop(session);
        (link, session) = reattach(backend, rt, link, id).await?;
        tracing::info!(container = %rt.id, session = id, "exec resumed on the agent's new connection");
    }
}

/// Waits (at most `agent_grace_secs`) for a connection of the container
/// other than `old` and re-opens session `id` on it.
async fn reattach(
    backend: &AcaBackend,
    rt: &ContainerRuntime,
    old: Arc<AgentLink>,
    id: u32,
) -> Option<(Arc<AgentLink>, Session)> {
    let grace = Duration::from_secs(backend.config().agent_grace_secs);
    let deadline = tokio::time::Instant::now() + grace;
    let mut connections = rt.connections.subscribe();
    let mut state = rt.state.subscribe();
    // Not kept alive by this wait: a link dropped by everyone else closes.
    let mut tried = Arc::downgrade(&old);
    drop(old);
    loop {
        connections.borrow_and_update();
        if !state.borrow_and_update().running {
            return None;
        }
        if let Some(link) = rt
            .agent()
            .filter(|l| !std::ptr::eq(Arc::as_ptr(l), tried.as_ptr()))
        {
            match link.resume_session(id).await {
                Ok(session) => return Some((link, session)),
                Err(peer::PeerError::Agent(message)) => {
                    tracing::info!(container = %rt.id, session = id, %message, "exec not resumed");
                    return None;
                }
                // That connection closed too: wait for the next one.
                Err(_) => tried = Arc::downgrade(&link),
            }
            continue;
        }
        tokio::select! {
            changed = connections.changed() => changed.ok()?,
            changed = state.changed() => changed.ok()?,
            () = tokio::time::sleep_until(deadline) => return None,
        }
    }
}

/// Reads an exec session until its exit code, or `None` when the
/// connection closed first.
async fn run_session(
    session: &mut Session,
    sink: Option<&mpsc::Sender<Result<OutputChunk>>>,
) -> Option<i32> {
    loop {
        match session.recv().await? {
            SessionEvent::Output { stream, data, .. } => {
                let stream = match stream {
                    OutputStream::Stdout => StreamKind::Stdout,
                    OutputStream::Stderr => StreamKind::Stderr,
                };
                if let Some(sink) = sink {
                    // A client that left stops reading; the process runs on.
                    let _ = sink.send(Ok(OutputChunk { stream, data })).await;
                }
            }
            SessionEvent::Exit(code) => return Some(code),
            SessionEvent::Error(message) => {
                if let Some(sink) = sink {
                    let _ = sink.send(Err(ApiError::Internal(message))).await;
                }
            }
        }
    }
}

/// `Backend::exec_inspect`.
pub async fn inspect(backend: &AcaBackend, exec_id: &str) -> Result<ExecInspectResponse> {
    let record = get_exec(backend, exec_id).await?;
    let config = config_of(&record)?;
    let cmd = config.cmd.clone().unwrap_or_default();
    Ok(ExecInspectResponse {
        can_remove: Some(false),
        detach_keys: Some(config.detach_keys.clone().unwrap_or_default()),
        id: Some(record.id.clone()),
        running: Some(record.running),
        exit_code: record.exit_code,
        process_config: Some(ProcessConfig {
            privileged: Some(config.privileged.unwrap_or(false)),
            user: Some(config.user.clone().unwrap_or_default()),
            tty: Some(config.tty.unwrap_or(false)),
            entrypoint: cmd.first().cloned(),
            arguments: Some(cmd.iter().skip(1).cloned().collect()),
        }),
        open_stdin: Some(config.attach_stdin.unwrap_or(false)),
        open_stderr: Some(config.attach_stderr.unwrap_or(false)),
        open_stdout: Some(config.attach_stdout.unwrap_or(false)),
        container_id: Some(record.container_id.clone()),
        pid: Some(0),
    })
}

/// `Backend::exec_resize`.
pub async fn resize(backend: &AcaBackend, exec_id: &str, height: u16, width: u16) -> Result<()> {
    let record = get_exec(backend, exec_id).await?;
    if !record.running {
        return Err(ApiError::Conflict(format!("Exec {exec_id} is not running")));
    }
    if let Some(input) = backend.execs().input(exec_id) {
        input
            .resize(height, width)
            .map_err(|e| ApiError::Conflict(format!("Exec {exec_id}: {e}")))?;
    }
    Ok(())
}
