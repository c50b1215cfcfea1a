//! Spawning processes as PID 1: one reaper collects every child (ours and
//! re-parented orphans), pipes and ptys are driven through [`FdIo`].

// unsafe: PID 1's work: subreaper, waitpid, pipes, openpty, TIOCSWINSZ, kill, pre_exec.
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use tokio::sync::oneshot;

pub(crate) use crate::fdio::FdIo;
use crate::userdb::Credentials;

/// What to run.
pub(crate) struct SpawnSpec {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub workdir: Option<String>,
    pub creds: Option<Credentials>,
    /// Some((rows, cols)) runs the process on a new pty.
    pub tty: Option<(u16, u16)>,
    /// Keep a stdin pipe open (otherwise stdin reads EOF at once).
    pub stdin: bool,
}

/// A started process.
pub(crate) struct Spawned {
    pub pid: i32,
    /// Write end of stdin (the pty master in TTY mode).
    pub stdin: Option<FdIo>,
    /// Stdout (the pty master in TTY mode).
    pub stdout: FdIo,
    /// Stderr (none in TTY mode).
    pub stderr: Option<FdIo>,
    /// Pty master kept for resizing.
    pub pty: Option<OwnedFd>,
    /// Exit code, 128+n when killed by signal n.
    pub exit: oneshot::Receiver<i32>,
}

struct Reaper {
    waiting: Mutex<HashMap<i32, oneshot::Sender<i32>>>,
}

static REAPER: OnceLock<Reaper> = OnceLock::new();

fn reaper() -> &'static Reaper {
    REAPER.get_or_init(|| Reaper {
        waiting: Mutex::new(HashMap::new()),
    })
}

/// Starts the reaper task. Makes this process a child subreaper, so orphans
/// are collected even when the agent is not PID 1 (tests).
pub(crate) fn start_reaper() -> io::Result<()> {
    // SAFETY: prctl with integer arguments has no memory effects.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let mut sigchld = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::child())?;
    tokio::spawn(async move {
        loop {
            reap_all();
            if sigchld.recv().await.is_none() {
                break;
            }
        }
    });
    Ok(())
}

fn reap_all() {
    // Holding the lock keeps spawn() and waitpid(-1) apart: std's spawn reaps a
    // child whose exec failed itself and must not find it already gone.
    let mut waiting = match reaper().waiting.lock() {
        Ok(w) => w,
        Err(p) => p.into_inner(),
    };
    loop {
        let mut status = 0;
        // SAFETY: plain syscall with a valid out pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            break;
        }
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else if libc::WIFSIGNALED(status) {
            128 + libc::WTERMSIG(status)
        } else {
            continue;
        };
        if let Some(tx) = waiting.remove(&pid) {
            let _ = tx.send(code);
        }
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid 2-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 returned two fresh descriptors we now own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A pipe whose read end the agent drives asynchronously; returns (async read end, write end).
pub(crate) fn async_pipe_reader() -> io::Result<(FdIo, OwnedFd)> {
    let (r, w) = pipe()?;
    Ok((FdIo::new(r)?, w))
}

/// A pipe whose write end the agent drives asynchronously; returns (read end, async write end).
pub(crate) fn async_pipe_writer() -> io::Result<(OwnedFd, FdIo)> {
    let (r, w) = pipe()?;
    Ok((r, FdIo::new(w)?))
}

fn set_cloexec(fd: RawFd) {
    // SAFETY: fcntl on a descriptor we own.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
}

fn openpty(rows: u16, cols: u16) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut master = 0;
    let mut slave = 0;
    let ws = libc::winsize {
        ws_row: rows.max(1),
        ws_col: cols.max(1),
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: valid out pointers; name and termios may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &ws,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    set_cloexec(master);
    set_cloexec(slave);
    // SAFETY: openpty returned two fresh descriptors we now own.
    Ok(unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) })
}

/// Sets a pty's window size.
pub(crate) fn resize_pty(fd: RawFd, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize struct from a valid pointer.
    if unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sends a signal to a process.
pub(crate) fn kill(pid: i32, signal: i32) -> io::Result<()> {
    // SAFETY: plain syscall.
    if unsafe { libc::kill(pid, signal) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The agent's supplementary groups.
fn current_groups() -> io::Result<Vec<u32>> {
    // SAFETY: a null buffer with size 0 asks for the count only.
    let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut groups = vec![0 as libc::gid_t; n as usize];
    // SAFETY: groups holds n entries.
    let n = unsafe { libc::getgroups(n, groups.as_mut_ptr()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    groups.truncate(n as usize);
    Ok(groups)
}

/// Starts a process and registers it with the reaper.
pub(crate) fn spawn(spec: SpawnSpec) -> io::Result<Spawned> {
    let program = spec
        .argv
        .first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command"))?;
    let mut cmd = Command::new(program);
    cmd.args(&spec.argv[1..])
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)));
    if let Some(dir) = &spec.workdir {
        cmd.current_dir(dir);
    }
    let mut stdin_io = None;
    let stdout_io;
    let mut stderr_io = None;
    let mut pty = None;
    if let Some((rows, cols)) = spec.tty {
        let (master, slave) = openpty(rows, cols)?;
        cmd.stdin(Stdio::from(slave.try_clone()?))
            .stdout(Stdio::from(slave.try_clone()?))
            .stderr(Stdio::from(slave));
        pty = Some(master.try_clone()?);
        let writer = master.try_clone()?;
        set_cloexec(writer.as_raw_fd());
        stdin_io = Some(FdIo::new(writer)?);
        stdout_io = FdIo::new(master)?;
    } else {
        let (r, w) = pipe()?;
        if spec.stdin {
            stdin_io = Some(FdIo::new(w)?);
        } else {
            drop(w); // the process reads EOF at once; works without /dev/null
        }
        cmd.stdin(Stdio::from(r));
        let (r, w) = pipe()?;
        cmd.stdout(Stdio::from(w));
        stdout_io = FdIo::new(r)?;
        let (r, w) = pipe()?;
        cmd.stderr(Stdio::from(w));
        stderr_io = Some(FdIo::new(r)?);
    }
    let tty = spec.tty.is_some();
    let creds = spec.creds.clone();
    // --group-add: on top of the user's groups (the agent's own for root).
    let extra = crate::userdb::extra_groups();
    let groups: Option<Vec<u32>> = if extra.is_empty() {
        None
    } else {
        let mut all = match &creds {
            Some(c) => c.groups.clone(),
            None => current_groups()?,
        };
        for g in extra {
            if !all.contains(g) {
                all.push(*g);
            }
        }
        Some(all)
    };
    let limits = crate::limits::configured();
    crate::limits::check(limits)?;
    // SAFETY: the closure only makes async-signal-safe syscalls.
    unsafe {
        cmd.pre_exec(move || {
            // Before the user change: raising a hard limit needs root's capability.
            crate::limits::apply_in_child(limits)?;
            if tty {
                if libc::setsid() < 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            let wanted = groups.as_ref().or(creds.as_ref().map(|c| &c.groups));
            if let Some(g) = wanted
                && libc::setgroups(g.len(), g.as_ptr()) != 0
                && libc::geteuid() == 0
            {
                return Err(io::Error::last_os_error());
            }
            if let Some(c) = &creds
                && (libc::setgid(c.gid) != 0 || libc::setuid(c.uid) != 0)
            {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (tx, rx) = oneshot::channel();
    let mut waiting = match reaper().waiting.lock() {
        Ok(w) => w,
        Err(p) => p.into_inner(),
    };
    let child = cmd.spawn()?;
    let pid = child.id() as i32;
    waiting.insert(pid, tx);
    drop(waiting);
    drop(cmd); // closes our copies of the child's ends
    Ok(Spawned {
        pid,
        stdin: stdin_io,
        stdout: stdout_io,
        stderr: stderr_io,
        pty,
        exit: rx,
    })
}
