//! Attach, logs and wait: output captured from the agent (stored lines, then
//! live chunks) and the Docker state as the runtime watches it. No polling.

use bytes::Bytes;
use futures_util::StreamExt;
use sockerless_api::docker::ContainerWaitResponse;
use sockerless_api::{
    ApiError, AttachOptions, AttachedOutput, InputStream, LogsOptions, OutputChunk, Result,
    StreamKind, WaitCondition,
};
use tokio::sync::mpsc;

use crate::AcaBackend;
use crate::clock::rfc3339;
use crate::errors::map_azure_error;
use crate::runtime::state::{Command, ContainerRuntime, LiveReceiver};
use crate::runtime::{StoredConfig, find_container};
use crate::store::logs::{self as log_store, LogLine, LogQuery};

type Sink = mpsc::Sender<Result<OutputChunk>>;

fn kind(stream: u8) -> StreamKind {
    if stream == 2 {
        StreamKind::Stderr
    } else {
        StreamKind::Stdout
    }
}

fn output_from(rx: mpsc::Receiver<Result<OutputChunk>>) -> sockerless_api::OutputStream {
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }))
}

fn with_timestamp(time_nanos: i64, data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + 32);
    for line in log_store::split_lines(data) {
        out.extend_from_slice(rfc3339(time_nanos).as_bytes());
        out.push(b' ');
        out.extend_from_slice(line);
    }
    Bytes::from(out)
}

/// Sends stored lines; `false` when the client left.
async fn send_lines(sink: &Sink, lines: Vec<LogLine>, timestamps: bool, tty: bool) -> bool {
    for line in lines {
        let data = if timestamps {
            with_timestamp(line.time_nanos, &line.data)
        } else {
            Bytes::from(line.data)
        };
        let stream = if tty {
            StreamKind::Stdout
        } else {
            kind(line.stream)
        };
        if sink.send(Ok(OutputChunk { stream, data })).await.is_err() {
            return false;
        }
    }
    true
}

/// Lines read per page when a lagging follower catches up from the store.
const CATCH_UP_PAGE: i64 = 256;

/// Where a live follower is and what it wants.
struct Follow {
    backend: AcaBackend,
    rt: std::sync::Arc<ContainerRuntime>,
    wanted: (bool, bool),
    timestamps: bool,
    tty: bool,
}

/// Forwards live chunks after `after_seq` until the run ends or the client
/// leaves. A follower that falls behind (a client not reading) is dropped
/// by the publisher; it then reads what it missed from the store, a page at
/// a time, and follows again, so its memory stays bounded and nothing
/// stored is skipped.
async fn send_live(sink: &Sink, mut live: LiveReceiver, mut after_seq: i64, f: Follow) {
    loop {
        let Some(seen) = forward_live(sink, &mut live, after_seq, &f).await else {
            return;
        };
        after_seq = seen;
        if !live.lagged() {
            return;
        }
        live = f.rt.subscribe();
        let still_running = f.rt.state.borrow().running;
        loop {
            let id = f.rt.id.clone();
            let (wanted, from) = (f.wanted, after_seq);
            let page = f
                .backend
                .store()
                .read(move |c| log_store::read_after(c, &id, wanted, from, CATCH_UP_PAGE))
                .await;
            let Ok(page) = page else { return };
            let Some(last) = page.last().map(|l| l.seq) else {
                break;
            };
            if !send_lines(sink, page, f.timestamps, f.tty).await {
                return;
            }
            after_seq = last;
        }
        if !still_running {
            return;
        }
    }
}

/// Forwards chunks newer than `after_seq`; the last sequence seen, or
/// `None` when the client left.
async fn forward_live(
    sink: &Sink,
    live: &mut LiveReceiver,
    mut after_seq: i64,
    f: &Follow,
) -> Option<i64> {
    let (wanted, timestamps, tty) = (f.wanted, f.timestamps, f.tty);
    while let Some(chunk) = live.recv().await {
        if chunk.seq != i64::MAX && chunk.seq <= after_seq {
            continue;
        }
        if chunk.seq != i64::MAX {
            after_seq = chunk.seq;
        }
        let want = match chunk.stream {
            StreamKind::Stderr => wanted.1,
            _ => wanted.0,
        };
        if !want {
            continue;
        }
        let data = if timestamps {
            with_timestamp(chunk.time_nanos, &chunk.data)
        } else {
            chunk.data
        };
        let stream = if tty {
            StreamKind::Stdout
        } else {
            chunk.stream
        };
        if sink.send(Ok(OutputChunk { stream, data })).await.is_err() {
            return None;
        }
    }
    Some(after_seq)
}

/// Lines read per page of stored output (`docker logs`, `attach --logs`).
const STORED_PAGE: i64 = 1024;

/// The stored lines of a read: after `after_seq`, up to `max_seq` (the
/// highest stored when the read began; a follower's live output goes on
/// from there).
#[derive(Debug, Clone, Copy)]
struct StoredRange {
    after_seq: i64,
    max_seq: i64,
    /// Any output was captured for the container.
    captured: bool,
}

/// Where the stored lines matching `q` start and end.
async fn stored_range(backend: &AcaBackend, id: &str, q: LogQuery) -> Result<StoredRange> {
    let id = id.to_owned();
    Ok(backend
        .store()
        .read(move |c| {
            let after_seq = log_store::read_start(c, &id, &q)?;
            let max = log_store::last_seq(c, &id)?;
            Ok(StoredRange {
                after_seq,
                max_seq: max.unwrap_or(0),
                captured: max.is_some(),
            })
        })
        .await?)
}

/// Sends the stored lines of `range` matching `q` a page at a time;
/// `false` when the client left (or the store failed, which ends the
/// stream as a client leaving does).
async fn send_stored(
    sink: &Sink,
    backend: &AcaBackend,
    id: &str,
    q: &LogQuery,
    range: StoredRange,
    timestamps: bool,
    tty: bool,
) -> bool {
    let mut after = range.after_seq;
    loop {
        let (id, q) = (id.to_owned(), q.clone());
        let page = backend
            .store()
            .read(move |c| log_store::read_page(c, &id, &q, after, range.max_seq, STORED_PAGE))
            .await;
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                let _ = sink.send(Err(ApiError::from(e))).await;
                return false;
            }
        };
        let Some(last) = page.last().map(|l| l.seq) else {
            return true;
        };
        if !send_lines(sink, page, timestamps, tty).await {
            return false;
        }
        after = last;
    }
}

/// Output not captured by the agent, from Log Analytics (when configured).
async fn analytics_lines(
    backend: &AcaBackend,
    job: &str,
    execution: &str,
    q: &LogQuery,
) -> Result<Vec<LogLine>> {
    let Some(workspace) = backend.log_analytics_workspace().await? else {
        return Ok(Vec::new());
    };
    let query = crate::logs::analytics::console_query(job, execution);
    let Some(results) = backend
        .azure()
        .log_analytics
        .query_table(&workspace, &query, None)
        .await
        .map_err(map_azure_error)?
    else {
        return Err(crate::logs::analytics::nothing_yet(&workspace, execution));
    };
    let mut lines: Vec<LogLine> = crate::logs::analytics::lines_from(&results)?
        .into_iter()
        .filter(|l| if l.stream == 2 { q.stderr } else { q.stdout })
        .filter(|l| q.since_nanos.is_none_or(|s| l.time_nanos >= s))
        .filter(|l| q.until_nanos.is_none_or(|u| l.time_nanos < u))
        .collect();
    if let Some(tail) = q.tail {
        let keep = usize::try_from(tail).unwrap_or(usize::MAX);
        let skip = lines.len().saturating_sub(keep);
        lines.drain(..skip);
    }
    Ok(lines)
}

/// `docker logs`.
pub async fn logs(backend: &AcaBackend, id: &str, opts: LogsOptions) -> Result<AttachedOutput> {
    let record = find_container(backend, id).await?;
    let tty = StoredConfig::of(&record)?.body.tty.unwrap_or(false);
    let rt = backend.runtimes().get(&record);
    let live = (opts.follow && rt.state.borrow().running).then(|| rt.subscribe());
    let q = LogQuery {
        stdout: opts.stdout,
        stderr: opts.stderr,
        since_nanos: opts.since_nanos,
        until_nanos: opts.until_nanos,
        tail: opts.tail,
    };
    let range = stored_range(backend, &record.id, q.clone()).await?;
    // A running container whose agent has connected is being captured:
    // nothing stored yet means it printed nothing yet, not that Log
    // Analytics holds its output.
    let capturing = rt.state.borrow().running && *rt.connections.borrow() > 0;
    let backlog = match &record.execution_name {
        Some(execution) if !range.captured && !capturing => {
            Backlog::Lines(analytics_lines(backend, &record.job_name, execution, &q).await?)
        }
        _ => Backlog::Stored(q),
    };
    let follow = Follow {
        backend: backend.clone(),
        rt,
        wanted: (opts.stdout, opts.stderr),
        timestamps: opts.timestamps,
        tty,
    };
    Ok(spawn_output(follow, record.id, backlog, range, live))
}

/// What an output stream sends before the live output.
enum Backlog {
    /// The stored lines of the range matching the query.
    Stored(LogQuery),
    /// These lines (Log Analytics' when nothing was captured).
    Lines(Vec<LogLine>),
    /// Nothing.
    None,
}

/// The output of `logs` and `attach`, sent from a task: the backlog, then,
/// unless the client left, the live output after it.
fn spawn_output(
    follow: Follow,
    id: String,
    backlog: Backlog,
    range: StoredRange,
    live: Option<LiveReceiver>,
) -> AttachedOutput {
    let (tx, rx) = mpsc::channel(64);
    let tty = follow.tty;
    tokio::spawn(async move {
        let (timestamps, backend) = (follow.timestamps, follow.backend.clone());
        let sent = match backlog {
            Backlog::Lines(lines) => send_lines(&tx, lines, timestamps, tty).await,
            Backlog::Stored(q) => send_stored(&tx, &backend, &id, &q, range, timestamps, tty).await,
            Backlog::None => true,
        };
        if !sent {
            return;
        }
        if let Some(live) = live {
            send_live(&tx, live, range.max_seq, follow).await;
        }
    });
    AttachedOutput {
        tty,
        output: output_from(rx),
    }
}

/// `docker attach` (before or after start): stored output when `logs`, then
/// live output until the run ends; stdin goes to the main process.
pub async fn attach(
    backend: &AcaBackend,
    id: &str,
    opts: AttachOptions,
    stdin: Option<InputStream>,
) -> Result<AttachedOutput> {
    let record = find_container(backend, id).await?;
    let body = StoredConfig::of(&record)?.body;
    let tty = body.tty.unwrap_or(false);
    let rt = backend.runtimes().get(&record);
    let live = opts.stream.then(|| rt.subscribe());
    let q = LogQuery {
        stdout: opts.stdout,
        stderr: opts.stderr,
        ..Default::default()
    };
    // Without `logs`, live output only: a follower that lags catches up
    // from the end of what is stored, not from the first line ever stored.
    let range = stored_range(backend, &record.id, q.clone()).await?;
    if let Some(mut input) = stdin.filter(|_| opts.stdin) {
        if !body.open_stdin.unwrap_or(false) {
            return Err(ApiError::Conflict(format!(
                "container {} was not created with OpenStdin, so its stdin cannot be attached",
                record.id
            )));
        }
        // As dockerd: a TTY's stdin outlives the attach (a client that
        // detached with its detach keys leaves the process running).
        let close_at_end = body.stdin_once.unwrap_or(false) && !tty;
        let rt = rt.clone();
        tokio::spawn(async move {
            while let Some(data) = input.next().await {
                rt.send_input(Command::Stdin(data)).await;
            }
            if close_at_end {
                rt.send(Command::CloseStdin);
            }
        });
    }
    let follow = Follow {
        backend: backend.clone(),
        rt,
        wanted: (opts.stdout, opts.stderr),
        timestamps: false,
        tty,
    };
    let backlog = if opts.logs {
        Backlog::Stored(q)
    } else {
        Backlog::None
    };
    Ok(spawn_output(follow, record.id, backlog, range, live))
}

/// `docker wait`.
pub async fn wait(
    backend: &AcaBackend,
    id: &str,
    condition: WaitCondition,
) -> Result<ContainerWaitResponse> {
    let record = find_container(backend, id).await?;
    let rt = backend.runtimes().get(&record);
    let mut rx = rt.state.subscribe();
    let exits_before = rx.borrow().exits;
    let done = rx
        .wait_for(|s| match condition {
            WaitCondition::NotRunning => !s.running,
            WaitCondition::NextExit => s.exits > exits_before || s.removed,
            WaitCondition::Removed => s.removed,
        })
        .await
        .map_err(|_| ApiError::Internal("container state watch closed".into()))?;
    Ok(ContainerWaitResponse {
        status_code: done.exit_code.unwrap_or(0),
        error: None,
    })
}
