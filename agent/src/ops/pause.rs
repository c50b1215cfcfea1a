//! PAUSE and UNPAUSE: every process of the container but the agent is
//! stopped with SIGSTOP and continued with SIGCONT.
//!
//! Not the cgroup freezer: the agent lives in the container's cgroup with
//! the processes, so freezing the cgroup would freeze the agent too, and
//! nothing would be left to unfreeze it (moving the processes into a child
//! cgroup needs a writable cgroupfs, which neither ACA nor Docker give).
//! A process that stopped itself before the pause is continued by the
//! unpause; dockerd's freezer would leave it stopped.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use super::procs;

/// The container is paused (processes stopped by PAUSE).
static PAUSED: AtomicBool = AtomicBool::new(false);

/// Rounds of stopping: a process forked while the previous round ran is
/// caught by the next one.
const ROUNDS: usize = 20;

/// PAUSE was the last of PAUSE and UNPAUSE (said in the hello).
pub(crate) fn is_paused() -> bool {
    PAUSED.load(Ordering::SeqCst)
}

/// Stops every process but the agent (`me`).
pub(crate) fn pause(me: i32) -> Result<(), String> {
    PAUSED.store(true, Ordering::SeqCst);
    for _ in 0..ROUNDS {
        let running: Vec<i32> = procs::scan(Path::new("/proc"), me)
            .into_iter()
            .filter(|p| !matches!(p.state, 'T' | 't' | 'Z' | 'X'))
            .map(|p| p.pid)
            .collect();
        if running.is_empty() {
            return Ok(());
        }
        for pid in running {
            // A process that exited meanwhile is not an error.
            let _ = crate::process::kill(pid, libc::SIGSTOP);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    Err(format!(
        "processes kept starting: not all were stopped after {ROUNDS} rounds"
    ))
}

/// Continues every process but the agent.
pub(crate) fn unpause(me: i32) {
    PAUSED.store(false, Ordering::SeqCst);
    for p in procs::scan(Path::new("/proc"), me) {
        let _ = crate::process::kill(p.pid, libc::SIGCONT);
    }
}

/// Before a signal is delivered (stop, kill): a paused container is
/// continued first, as dockerd unpauses before it kills (a stopped
/// process would not act on SIGTERM until continued).
pub(crate) fn before_signal() {
    if PAUSED.load(Ordering::SeqCst) {
        unpause(std::process::id() as i32);
    }
}
