//! After the main process exited: either exit (today's behaviour), or linger
//! with the execution (and so the container's filesystem) kept, waiting for
//! the peer's RESTART of the main process or its END.

use tokio::sync::mpsc;

use crate::config::Config;
use crate::hub::{Hub, StdinMsg};
use crate::protocol::{MAIN_SESSION, RESTART_REFUSED};

/// What the frame dispatcher (or a signal) tells the main loop.
pub(crate) enum MainControl {
    /// Run the main process again; its session is already reset, with the
    /// early-stdin receiver when stdin is open.
    Restart(Option<mpsc::UnboundedReceiver<StdinMsg>>),
    /// Stop lingering: the agent exits.
    End,
}

/// Handles RESTART: resets the main session and wakes the main loop.
/// Errors are the ERROR message for the peer.
pub(crate) fn restart(
    hub: &Hub,
    cfg: &Config,
    control: &mpsc::UnboundedSender<MainControl>,
) -> Result<(), String> {
    if cfg.linger.is_zero() {
        return Err(format!("{RESTART_REFUSED}the agent does not linger"));
    }
    let early = hub
        .restart(MAIN_SESSION, cfg.open_stdin)
        .map_err(|e| format!("{RESTART_REFUSED}{e}"))?;
    control
        .send(MainControl::Restart(early))
        .map_err(|_| format!("{RESTART_REFUSED}the agent is exiting"))
}

/// Waits for the acknowledgement of the main exit (bounded by
/// `exit_ack_wait`), then, when lingering, for a RESTART for up to
/// `cfg.linger`. Returns the early-stdin receiver of a restart, or `None`
/// when the agent should exit.
pub(crate) async fn after_exit(
    hub: &Hub,
    cfg: &Config,
    control: &mut mpsc::UnboundedReceiver<MainControl>,
) -> Option<Option<mpsc::UnboundedReceiver<StdinMsg>>> {
    let acked = tokio::time::timeout(cfg.exit_ack_wait, async {
        while !hub.session_done(MAIN_SESSION) {
            hub.wait_progress(MAIN_SESSION).await;
        }
    });
    if cfg.linger.is_zero() {
        if acked.await.is_err() {
            tracing::warn!("no peer acknowledged the exit code in time; exiting anyway");
        }
        return None;
    }
    // A RESTART is accepted as soon as the exit is acknowledged, possibly
    // before this wait noticed the acknowledgement: listen for both.
    tokio::select! {
        r = acked => if r.is_err() {
            tracing::warn!("no peer acknowledged the exit code in time; lingering anyway");
        },
        c = control.recv() => return restart_of(c),
    }
    tracing::info!(
        secs = cfg.linger.as_secs(),
        "main process exited; lingering"
    );
    match tokio::time::timeout(cfg.linger, control.recv()).await {
        Ok(c) => restart_of(c),
        Err(_) => {
            tracing::info!("no restart while lingering; exiting");
            None
        }
    }
}

fn restart_of(c: Option<MainControl>) -> Option<Option<mpsc::UnboundedReceiver<StdinMsg>>> {
    match c {
        Some(MainControl::Restart(early)) => Some(early),
        Some(MainControl::End) | None => None,
    }
}
