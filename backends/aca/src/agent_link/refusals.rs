//! Refused agent connections, logged at a bounded rate: the endpoint faces
//! the network, and a scanner or a stale replica retrying must not fill the
//! log (nor spend the daemon's time writing it).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Lines logged per window; the rest are counted.
const BURST: u32 = 10;
/// Length of a window.
const WINDOW: Duration = Duration::from_secs(60);

/// A fixed-window counter: the first [`BURST`] refusals of each window are
/// logged, later ones are counted and their number reported with the next
/// line logged.
#[derive(Debug, Default)]
pub struct RefusalLog {
    state: Mutex<Window>,
}

#[derive(Debug, Default)]
struct Window {
    start: Option<Instant>,
    logged: u32,
    suppressed: u64,
}

impl RefusalLog {
    /// An empty log (usable in a `static`).
    pub const fn new() -> Self {
        RefusalLog {
            state: Mutex::new(Window {
                start: None,
                logged: 0,
                suppressed: 0,
            }),
        }
    }

    /// Whether to log this refusal now, and how many were left out before it.
    pub fn admit(&self, now: Instant) -> Option<u64> {
        let mut w = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if w.start.is_none_or(|s| now.duration_since(s) >= WINDOW) {
            w.start = Some(now);
            w.logged = 0;
        }
        if w.logged >= BURST {
            w.suppressed += 1;
            return None;
        }
        w.logged += 1;
        Some(std::mem::take(&mut w.suppressed))
    }

    /// Logs `why` unless this window's burst is spent.
    pub fn log(&self, why: &dyn std::fmt::Display) {
        if let Some(suppressed) = self.admit(Instant::now()) {
            if suppressed > 0 {
                tracing::info!(%why, suppressed, "agent connection refused (and {suppressed} more not logged)");
            } else {
                tracing::info!(%why, "agent connection refused");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_per_window_then_counted_then_reported() {
        let log = RefusalLog::default();
        let t0 = Instant::now();
        for _ in 0..BURST {
            assert_eq!(log.admit(t0), Some(0));
        }
        for _ in 0..5 {
            assert_eq!(log.admit(t0 + Duration::from_secs(1)), None);
        }
        assert_eq!(
            log.admit(t0 + WINDOW),
            Some(5),
            "the next window reports the count"
        );
        assert_eq!(log.admit(t0 + WINDOW), Some(0));
    }
}
