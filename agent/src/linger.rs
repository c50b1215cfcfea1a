//! After the main process exited: either exit (today's behaviour), or linger
//! with the execution (and so the container's filesystem) kept, waiting for
//! the peer's RESTART of the main process or its END.

use std::time::Duration;

use tokio::sync::{mpsc, watch};

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

/// Dials in a row answered 401 after which a backend is taken to have
/// recorded the exit already (it revokes a run's token once the exit is
/// stored; the acknowledgement was lost) or to have forgotten the container.
pub(crate) const REFUSALS_TO_GIVE_UP: u32 = 3;

/// The links to the peer, as the wait for the acknowledgement sees them.
pub(crate) struct Links {
    /// Connections past their handshake.
    pub(crate) live: watch::Receiver<usize>,
    /// Dials in a row refused with 401.
    pub(crate) refusals: watch::Receiver<u32>,
}

/// How the wait for the acknowledgement ended.
#[derive(Debug, PartialEq, Eq)]
enum Ack {
    /// The peer acknowledged the exit and its output.
    Done,
    /// A connected peer let the wait run out.
    TimedOut,
    /// The peer refuses the run's token: it has no use for the exit.
    Refused,
}

/// Waits for the acknowledgement of the main exit (see [`acknowledged`]),
/// then, when lingering, for a RESTART for up to `cfg.linger`. Returns the
/// early-stdin receiver of a restart, or `None` when the agent should exit.
/// `links` are the connections to the peer; `code` is the exit code.
pub(crate) async fn after_exit(
    hub: &Hub,
    cfg: &Config,
    links: Links,
    code: i32,
    control: &mut mpsc::UnboundedReceiver<MainControl>,
) -> Option<Option<mpsc::UnboundedReceiver<StdinMsg>>> {
    let acked = acknowledged(hub, cfg.exit_ack_wait, links);
    let gave_up = |ack: Ack, then: &str| match ack {
        Ack::Done => {}
        Ack::TimedOut => tracing::warn!(
            code,
            secs = cfg.exit_ack_wait.as_secs(),
            "the backend is connected but did not acknowledge the exit code of the main process \
             in SOCKERLESS_EXIT_ACK_TIMEOUT; {then}"
        ),
        Ack::Refused => tracing::warn!(
            code,
            "the backend refuses this run's token (it recorded the exit already, or forgot \
             the container); {then}"
        ),
    };
    if cfg.linger.is_zero() {
        // END never comes without lingering: only a terminating signal (ACA
        // stopping the execution) ends the wait early.
        tokio::select! {
            acked = acked => gave_up(acked, "exiting with it anyway"),
            _ = control.recv() => tracing::warn!(
                code,
                "stopped before the backend acknowledged the exit code; exiting with it"
            ),
        }
        return None;
    }
    // A RESTART is accepted as soon as the exit is acknowledged, possibly
    // before this wait noticed the acknowledgement: listen for both.
    tokio::select! {
        acked = acked => match acked {
            // Nobody will ask for a restart.
            Ack::Refused => {
                gave_up(Ack::Refused, "exiting with it");
                return None;
            }
            other => gave_up(other, "lingering anyway"),
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

/// Waits until the peer acknowledged the main exit and its output, or a
/// connected peer let `wait` pass without doing so (a zero `wait` does not
/// wait at all). While no peer is connected the wait does not run out: a
/// backend away for a while (restarting, a network cut) still gets the real
/// exit code, where an agent that exited would leave it only the
/// execution's status (ACA's `replicaTimeout` bounds the wait) — unless the
/// backend answers but refuses the run's token [`REFUSALS_TO_GIVE_UP`]
/// times in a row. Each connection gets the whole `wait`: it may first copy
/// binds back.
async fn acknowledged(hub: &Hub, wait: Duration, links: Links) -> Ack {
    let Links {
        mut live,
        mut refusals,
    } = links;
    if wait.is_zero() {
        return if hub.session_done(MAIN_SESSION) {
            Ack::Done
        } else {
            Ack::TimedOut
        };
    }
    let done = async {
        while !hub.session_done(MAIN_SESSION) {
            hub.wait_progress(MAIN_SESSION).await;
        }
    };
    tokio::pin!(done);
    loop {
        tokio::select! {
            () = &mut done => return Ack::Done,
            () = until(&mut live, |n| *n > 0) => {}
            () = until(&mut refusals, |n| *n >= REFUSALS_TO_GIVE_UP) => return Ack::Refused,
        }
        tokio::select! {
            () = &mut done => return Ack::Done,
            () = tokio::time::sleep(wait) => return Ack::TimedOut,
            // Info, not warn: the agent's stderr is the container's, and a
            // backend restarting is no fault of the container.
            () = until(&mut live, |n| *n == 0) => tracing::info!(
                "the backend went away before acknowledging the exit code; waiting for it to come back"
            ),
        }
    }
}

/// Resolves once the watched value satisfies `ok` (never if it is no
/// longer kept).
async fn until<T>(rx: &mut watch::Receiver<T>, ok: impl Fn(&T) -> bool) {
    if rx.wait_for(|n| ok(n)).await.is_err() {
        std::future::pending::<()>().await;
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

    /// A main session that exited, nothing acknowledged yet.
    fn exited() -> std::sync::Arc<Hub> {
        let hub = Hub::new(4096, 4096);
        hub.register(MAIN_SESSION, false).expect("register");
        for s in [OutputStream::Stdout, OutputStream::Stderr] {
            hub.finish_stream(MAIN_SESSION, s);
        }
        hub.set_exit(MAIN_SESSION, 42);
        let _ = hub.next_frames();
        hub
    }

    #[tokio::test(start_paused = true)]
    async fn the_acknowledgement_wait_runs_only_while_connected() {
        let wait = Duration::from_secs(30);
        let hub = exited();
        let (live, rx) = watch::channel(0usize);
        let (_refusals, refusals) = watch::channel(0u32);
        let links = Links { live: rx, refusals };
        let mut acked = std::pin::pin!(acknowledged(&hub, wait, links));
        let pending = |r: Result<Ack, tokio::time::error::Elapsed>| r.is_err();
        // Away ten times the wait: still waiting.
        let r = tokio::time::timeout(wait * 10, &mut acked).await;
        assert!(pending(r), "gave up while no backend was connected");
        // Connected for most of the wait, then gone: the clock stops...
        live.send_replace(1);
        assert!(pending(
            tokio::time::timeout(wait - Duration::from_secs(1), &mut acked).await
        ));
        live.send_replace(0);
        assert!(pending(tokio::time::timeout(wait * 10, &mut acked).await));
        // ...and a new connection gets the whole wait again.
        live.send_replace(1);
        assert!(pending(
            tokio::time::timeout(wait - Duration::from_secs(1), &mut acked).await
        ));
        let r = tokio::time::timeout(Duration::from_secs(2), &mut acked).await;
        assert_eq!(
            r.ok(),
            Some(Ack::TimedOut),
            "a connected backend that never acknowledges"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_acknowledgement_after_a_long_absence_ends_the_wait() {
        let hub = exited();
        let (live, rx) = watch::channel(0usize);
        let (_refusals, refusals) = watch::channel(0u32);
        let links = Links { live: rx, refusals };
        let mut acked = std::pin::pin!(acknowledged(&hub, Duration::from_secs(30), links));
        let r = tokio::time::timeout(Duration::from_secs(3600), &mut acked).await;
        assert!(r.is_err(), "gave up while no backend was connected");
        live.send_replace(1);
        hub.ack(MAIN_SESSION, AckStream::Exit, 0);
        assert_eq!(acked.await, Ack::Done);
        // A zero wait does not wait.
        let (_live, rx) = watch::channel(0usize);
        let (_refusals, refusals) = watch::channel(0u32);
        let links = Links { live: rx, refusals };
        assert_eq!(
            acknowledged(&exited(), Duration::ZERO, links).await,
            Ack::TimedOut
        );
    }

    /// A backend that answers but refuses the run's token (it stored the exit
    /// and revoked the token; the acknowledgement was lost) ends the wait
    /// after a few dials: the replica does not sit out `replicaTimeout`.
    #[tokio::test(start_paused = true)]
    async fn a_backend_refusing_the_token_ends_the_wait() {
        let hub = exited();
        let (_live, rx) = watch::channel(0usize);
        let (refused, refusals) = watch::channel(0u32);
        let links = Links { live: rx, refusals };
        let mut acked = std::pin::pin!(acknowledged(&hub, Duration::from_secs(30), links));
        refused.send_replace(REFUSALS_TO_GIVE_UP - 1);
        let r = tokio::time::timeout(Duration::from_secs(3600), &mut acked).await;
        assert!(r.is_err(), "fewer refusals than the limit: still waiting");
        refused.send_replace(REFUSALS_TO_GIVE_UP);
        assert_eq!(acked.await, Ack::Refused);
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
