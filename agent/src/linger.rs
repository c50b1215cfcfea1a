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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{AckStream, Frame, OutputStream};

    fn config(linger: &str) -> Config {
        let linger = linger.to_owned();
        Config::from_lookup(move |k| match k {
            "SOCKERLESS_AGENT_TOKEN" => Some("t".into()),
            "SOCKERLESS_LINGER_SECS" => Some(linger.clone()),
            "SOCKERLESS_OPEN_STDIN" => Some("1".into()),
            _ => None,
        })
        .expect("config")
    }

    /// A main session that produced output and exited, everything acknowledged.
    fn exited_and_acknowledged() -> std::sync::Arc<Hub> {
        let hub = Hub::new(4096, 4096);
        hub.register(MAIN_SESSION, false).expect("register");
        hub.push_output(MAIN_SESSION, OutputStream::Stdout, b"run 1\n");
        for s in [OutputStream::Stdout, OutputStream::Stderr] {
            hub.finish_stream(MAIN_SESSION, s);
        }
        hub.set_exit(MAIN_SESSION, 3);
        let _ = hub.next_frames();
        hub.ack(MAIN_SESSION, AckStream::Stdout, 6);
        hub.ack(MAIN_SESSION, AckStream::Exit, 0);
        hub
    }

    #[test]
    fn restart_is_refused_without_linger_or_before_the_exit_is_acknowledged() {
        let (tx, _rx) = mpsc::unbounded_channel();
        let hub = exited_and_acknowledged();
        let refused = restart(&hub, &config("0"), &tx).expect_err("no linger");
        assert!(refused.starts_with(RESTART_REFUSED), "{refused}");

        let hub = Hub::new(4096, 4096);
        hub.register(MAIN_SESSION, false).expect("register");
        hub.set_exit(MAIN_SESSION, 0); // exit not acknowledged (nor the streams ended)
        let refused = restart(&hub, &config("60"), &tx).expect_err("not done");
        assert!(refused.starts_with(RESTART_REFUSED), "{refused}");
    }

    #[test]
    fn restart_resets_the_session_and_keeps_output_offsets() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let hub = exited_and_acknowledged();
        // A stdin acknowledgement of run 1 still queued.
        hub.push_control(Frame::Ack {
            session: MAIN_SESSION,
            stream: AckStream::Stdin,
            offset: 5,
        });
        restart(&hub, &config("60"), &tx).expect("restart");
        assert!(matches!(rx.try_recv(), Ok(MainControl::Restart(Some(_)))));
        assert!(!hub.session_done(MAIN_SESSION), "a new run is under way");
        assert!(hub.next_frames().is_empty(), "run 1's stdin ack is dropped");
        assert_eq!(hub.produced(MAIN_SESSION, OutputStream::Stdout), 6);
        // The new run's output goes on at offset 6; its exit is sent again.
        hub.push_output(MAIN_SESSION, OutputStream::Stdout, b"run 2\n");
        for s in [OutputStream::Stdout, OutputStream::Stderr] {
            hub.finish_stream(MAIN_SESSION, s);
        }
        hub.set_exit(MAIN_SESSION, 4);
        let frames = hub.next_frames();
        assert!(
            matches!(
                &frames[..],
                [Frame::Output { offset: 6, .. }, Frame::Exit { code: 4, .. }]
            ),
            "{frames:?}"
        );
        // A second RESTART before this exit is acknowledged is refused.
        assert!(restart(&hub, &config("60"), &tx).is_err());
    }
}
