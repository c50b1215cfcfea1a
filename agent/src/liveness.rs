//! Liveness of a WebSocket link, for both ends of the agent link: a ping
//! every interval, and a link on which nothing arrived (no message, no pong)
//! for the timeout is dead. A peer that vanished without FIN or RST (a
//! frozen replica, a cut network) is otherwise never noticed: TCP keepalive
//! does not fire while unacknowledged data is queued, and a frozen peer's
//! kernel keeps answering zero-window probes forever.
//!
//! The reader drives it: both ends always read their link (the frames are
//! routed without waiting), so the clock is polled as long as the link lives.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Wake};
use std::time::Duration;

use futures_util::task::AtomicWaker;
use tokio::time::{Instant, Sleep};

/// How often a link is pinged and how long it may stay silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    ping_every: Duration,
    timeout: Duration,
}

impl Liveness {
    /// 10 s between pings, 30 s of silence at most: a ping lost or late
    /// twice is not yet a dead link.
    pub const DEFAULT: Liveness = Liveness {
        ping_every: Duration::from_secs(10),
        timeout: Duration::from_secs(30),
    };

    /// Checks that the figures make sense: a ping interval above zero and a
    /// timeout longer than it (else a link between two pings looks dead).
    pub fn new(ping_every: Duration, timeout: Duration) -> Result<Self, String> {
        if ping_every.is_zero() {
            return Err("the ping interval must be above zero".into());
        }
        if timeout <= ping_every {
            return Err(format!(
                "the liveness timeout ({timeout:?}) must be longer than the ping interval ({ping_every:?})"
            ));
        }
        Ok(Self {
            ping_every,
            timeout,
        })
    }

    /// Time between two pings.
    pub fn ping_every(&self) -> Duration {
        self.ping_every
    }

    /// Longest silence of a live link.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

impl Default for Liveness {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// How a link found silent ends: the stream yields it once, the sink
/// refuses every send with it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("nothing received for {0:?} (no message, no pong): the other side is gone")]
pub struct LinkSilent(pub Duration);

/// Where the ping of this interval is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ping {
    /// Nothing to send.
    Idle,
    /// Its time came; not yet in the WebSocket's buffer.
    Due,
    /// In the buffer, not yet flushed to the socket.
    Written,
}

/// The clock of one link.
pub(crate) struct Watch {
    liveness: Liveness,
    heard: Instant,
    next_ping: Instant,
    pub(crate) ping: Ping,
    timer: Pin<Box<Sleep>>,
}

impl Watch {
    pub(crate) fn new(liveness: Liveness) -> Self {
        let now = Instant::now();
        let next_ping = now + liveness.ping_every;
        Self {
            liveness,
            heard: now,
            next_ping,
            ping: Ping::Idle,
            timer: Box::pin(tokio::time::sleep_until(next_ping)),
        }
    }

    /// Something arrived from the other side.
    pub(crate) fn heard(&mut self) {
        self.heard = Instant::now();
    }

    /// Advances the clock: the link is dead once silent for the timeout;
    /// otherwise a ping is due when its time came, and the timer is set to
    /// wake the reader at the next deadline.
    pub(crate) fn poll_clock(&mut self, cx: &mut Context<'_>) -> Result<(), LinkSilent> {
        loop {
            let now = Instant::now();
            let silent_at = self.heard + self.liveness.timeout;
            if now >= silent_at {
                return Err(LinkSilent(self.liveness.timeout));
            }
            if now >= self.next_ping {
                // A ping still unflushed is not doubled.
                if self.ping == Ping::Idle {
                    self.ping = Ping::Due;
                }
                self.next_ping = now + self.liveness.ping_every;
            }
            let wake_at = silent_at.min(self.next_ping);
            if self.timer.deadline() != wake_at {
                self.timer.as_mut().reset(wake_at);
            }
            if self.timer.as_mut().poll(cx).is_pending() {
                return Ok(());
            }
        }
    }
}

/// The wakers of the two tasks polling a split transport. tokio-tungstenite
/// keeps one waker per direction: the reader sending a ping through the
/// sink would replace the writer's waker, and a writer waiting for room in
/// the socket would never be woken. Every sink operation is therefore
/// polled with a waker that wakes both (a spurious wake costs one poll).
#[derive(Default)]
pub(crate) struct BothTasks {
    pub(crate) reader: AtomicWaker,
    pub(crate) writer: AtomicWaker,
}

impl Wake for BothTasks {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.reader.wake();
        self.writer.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_checked() {
        let s = Duration::from_secs;
        assert!(Liveness::new(s(0), s(30)).is_err());
        assert!(Liveness::new(s(10), s(10)).is_err());
        assert!(Liveness::new(s(10), s(5)).is_err());
        let l = Liveness::new(s(1), s(3)).expect("valid");
        assert_eq!((l.ping_every(), l.timeout()), (s(1), s(3)));
        assert_eq!(
            Liveness::default(),
            Liveness::new(s(10), s(30)).expect("ok")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn pings_fall_due_and_silence_kills() {
        let s = Duration::from_secs;
        let mut watch = Watch::new(Liveness::new(s(1), s(3)).expect("valid"));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(watch.poll_clock(&mut cx).is_ok());
        assert_eq!(watch.ping, Ping::Idle);
        tokio::time::advance(s(1)).await;
        assert!(watch.poll_clock(&mut cx).is_ok());
        assert_eq!(watch.ping, Ping::Due);
        watch.ping = Ping::Idle;
        tokio::time::advance(s(1)).await;
        watch.heard();
        tokio::time::advance(s(2)).await;
        assert!(watch.poll_clock(&mut cx).is_ok(), "heard 2 s ago");
        tokio::time::advance(s(1)).await;
        assert!(watch.poll_clock(&mut cx).is_err(), "silent for 3 s");
    }
}
