//! The container operations (TOP, STATS, PAUSE, UNPAUSE, EXPORT; the
//! frames are in `protocol/ops.rs`): each runs on the blocking pool and
//! writes its answer to the session's stdout through a pipe, so an export
//! streams with the session's flow control and is never held in memory.

// unsafe: sysconf(3) for the clock tick and page size.
#![allow(unsafe_code)]

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::hub::Hub;
use crate::protocol::{Frame, Op, OutputStream};

mod export;
mod pause;
mod procs;
mod stats;
mod top;

pub(crate) use pause::{before_signal, is_paused};

/// Nanoseconds since the epoch.
pub(crate) fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// The agent's own pid, never listed, stopped or counted.
fn me() -> i32 {
    std::process::id() as i32
}

fn sysconf(name: libc::c_int, default: u64) -> u64 {
    // SAFETY: sysconf reads a system constant; no memory is passed.
    let v = unsafe { libc::sysconf(name) };
    if v > 0 { v as u64 } else { default }
}

fn clock() -> top::Clock {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let boot = read("/proc/stat")
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    top::Clock {
        ticks: sysconf(libc::_SC_CLK_TCK, 100),
        boot,
        now: now_nanos() / 1_000_000_000,
        mem_total_kib: stats::parse_mem_total(&read("/proc/meminfo")) / 1024,
        page_kib: sysconf(libc::_SC_PAGESIZE, 4096) / 1024,
        users: procs::parse_names(&read("/etc/passwd")),
        groups: procs::parse_names(&read("/etc/group")),
    }
}

/// The agent's directory (where `--install` put it): not exported.
fn own_dir() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
        .filter(|d| d != Path::new("/"))
}

/// Does `op`, writing its answer to `out`.
fn run(op: Op, mut out: std::fs::File) -> Result<(), String> {
    match op {
        Op::Top { ps_args } => {
            let procs = procs::scan(Path::new("/proc"), me());
            let answer = top::format(&ps_args, &procs, &clock())?;
            serde_json::to_writer(&mut out, &answer).map_err(|e| e.to_string())
        }
        Op::Stats => {
            let n = procs::scan(Path::new("/proc"), me()).len() as u32;
            let ticks = sysconf(libc::_SC_CLK_TCK, 100);
            let mut s = stats::sample(Path::new("/sys/fs/cgroup"), Path::new("/proc"), ticks, n);
            // The cgroup counts the agent's threads too; `docker stats`
            // shows the container's own.
            let own = std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|t| stats::parse_threads(&t))
                .unwrap_or(0);
            s.pids_current = s.pids_current.map(|p| p.saturating_sub(own));
            serde_json::to_writer(&mut out, &s).map_err(|e| e.to_string())
        }
        Op::Pause => pause::pause(me()),
        Op::Unpause => {
            pause::unpause(me());
            Ok(())
        }
        Op::Export => {
            let mounts: HashSet<PathBuf> = std::fs::read_to_string("/proc/self/mountinfo")
                .map(|t| export::parse_mountinfo(&t))
                .unwrap_or_default()
                .into_iter()
                .filter(|m| m != Path::new("/"))
                .collect();
            let skip: Vec<PathBuf> = own_dir().into_iter().collect();
            let entries = export::write_export(Path::new("/"), &mounts, &skip, &mut out)
                .map_err(|e| format!("export: {e}"))?;
            tracing::info!(entries, "root filesystem exported");
            out.flush().map_err(|e| e.to_string())
        }
    }
}

/// Answers an operation frame: STARTED, the answer on stdout, EXIT.
pub(crate) fn serve(hub: &Arc<Hub>, id: u32, op: Op) -> Result<(), String> {
    answer(hub, id, move |out| run(op, out))
}

/// Answers a request on session `id`: STARTED, what `write` writes (on the
/// blocking pool) as the session's stdout, then EXIT 0, or ERROR with its
/// message and EXIT 1.
pub(crate) fn answer<F>(hub: &Arc<Hub>, id: u32, write: F) -> Result<(), String>
where
    F: FnOnce(std::fs::File) -> Result<(), String> + Send + 'static,
{
    hub.register(id, true)?;
    let (reader, write_end) = match crate::process::async_pipe_reader() {
        Ok(p) => p,
        Err(e) => {
            hub.remove(id);
            return Err(format!("pipe: {e}"));
        }
    };
    hub.push_control(Frame::Started {
        session: id,
        pid: 0,
    });
    hub.finish_stream(id, OutputStream::Stderr);
    let pump = tokio::spawn(crate::exec::pump(
        hub.clone(),
        id,
        OutputStream::Stdout,
        reader,
    ));
    let hub = hub.clone();
    tokio::spawn(async move {
        let done = tokio::task::spawn_blocking(move || write(std::fs::File::from(write_end)))
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
        let _ = pump.await;
        match done {
            Ok(()) => hub.set_exit(id, 0),
            Err(message) => {
                hub.push_control(Frame::Error {
                    session: id,
                    message,
                });
                hub.set_exit(id, 1);
            }
        }
    });
    Ok(())
}
