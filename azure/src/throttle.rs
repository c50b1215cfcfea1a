//! A process-wide token bucket in front of ARM, shaped like ARM's own
//! throttling (a bucket refilled at a steady rate per second), so that a
//! burst of `docker run`s waits here instead of earning 429s that slow
//! every client of the subscription. The pipeline's ARM policy
//! ([`crate::pipeline`]) takes its tokens.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// ARM's documented budget per principal and subscription: 250 requests
/// at once, refilled at 25 per second.
pub const ARM_BURST: f64 = 250.0;
/// See [`ARM_BURST`].
pub const ARM_RATE: f64 = 25.0;

/// A token bucket: `burst` tokens, refilled at `rate` per second.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Option<Instant>)>,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: f64, burst: f64) -> Self {
        let rate = rate.max(f64::MIN_POSITIVE);
        let burst = burst.max(1.0);
        TokenBucket {
            rate,
            burst,
            state: Mutex::new((burst, None)),
        }
    }

    /// Takes a token at `now`; how long the caller must wait for it (zero
    /// when one was there). Tokens may go negative: later callers queue
    /// behind earlier ones in the order they asked.
    pub fn reserve(&self, now: Instant) -> Duration {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, last) = *state;
        let refilled = last.map_or(tokens, |last| {
            (tokens + now.saturating_duration_since(last).as_secs_f64() * self.rate).min(self.burst)
        });
        let left = refilled - 1.0;
        *state = (left, Some(now));
        if left >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-left / self.rate)
        }
    }

    /// Waits for a token.
    pub async fn acquire(&self) {
        let wait = self.reserve(Instant::now());
        if !wait.is_zero() {
            tracing::debug!(wait_ms = wait.as_millis() as u64, "ARM rate limit: waiting");
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let bucket = TokenBucket::new(10.0, 3.0);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(bucket.reserve(t0), Duration::ZERO);
        }
        // The 4th and 5th wait 0.1 s and 0.2 s for the refill.
        assert_eq!(bucket.reserve(t0), Duration::from_millis(100));
        assert_eq!(bucket.reserve(t0), Duration::from_millis(200));
        // A second later the debt is paid and 8 tokens came, capped at 3.
        let later = t0 + Duration::from_secs(1);
        for _ in 0..3 {
            assert_eq!(bucket.reserve(later), Duration::ZERO);
        }
        assert!(bucket.reserve(later) > Duration::ZERO);
    }
}
