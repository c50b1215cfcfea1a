//! How long a replica waits to be scheduled ([`Timing`]'s distribution):
//! Azure finds a node and starts a pod sandbox before anything is pulled,
//! and that alone takes seconds, sometimes minutes.

use std::time::Duration;

use crate::config::Timing;

/// A delay drawn from `timing`, with `unit_a` and `unit_b` uniform in
/// `0..1`: `unit_a` picks the tail (below `scheduling_tail_rate`), `unit_b`
/// the point within the chosen range. Pure, so the distribution is tested.
pub fn delay_from(timing: &Timing, unit_a: f64, unit_b: f64) -> Duration {
    let min = timing.scheduling_min_ms;
    let max = timing.scheduling_max_ms.max(min);
    let (lo, hi) = if unit_a < timing.scheduling_tail_rate.clamp(0.0, 1.0) {
        (max, timing.scheduling_tail_max_ms.max(max))
    } else {
        (min, max)
    };
    let span = (hi - lo) as f64;
    let ms = lo + (span * unit_b.clamp(0.0, 1.0)).round() as u64;
    Duration::from_millis(ms.min(hi))
}

/// A delay drawn at random from `timing`.
pub fn delay(timing: &Timing) -> Duration {
    delay_from(timing, unit(), unit())
}

/// A uniform draw in `0..1` (from a v4 UUID's random bits: no RNG crate
/// needed for a delay).
fn unit() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() as u64 >> 11;
    bits as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(min: u64, max: u64, rate: f64, tail: u64) -> Timing {
        Timing {
            scheduling_min_ms: min,
            scheduling_max_ms: max,
            scheduling_tail_rate: rate,
            scheduling_tail_max_ms: tail,
            ..Timing::default()
        }
    }

    #[test]
    fn the_default_is_no_delay() {
        assert_eq!(delay(&Timing::default()), Duration::ZERO);
    }

    #[test]
    fn common_case_and_tail_ranges() {
        let t = timing(5_000, 40_000, 0.02, 180_000);
        assert_eq!(delay_from(&t, 0.5, 0.0), Duration::from_millis(5_000));
        assert_eq!(delay_from(&t, 0.5, 1.0), Duration::from_millis(40_000));
        assert_eq!(delay_from(&t, 0.5, 0.5), Duration::from_millis(22_500));
        assert_eq!(delay_from(&t, 0.01, 0.0), Duration::from_millis(40_000));
        assert_eq!(delay_from(&t, 0.01, 1.0), Duration::from_millis(180_000));
    }

    #[test]
    fn inconsistent_bounds_never_go_below_the_minimum() {
        let t = timing(3_000, 1_000, 1.0, 0);
        assert_eq!(delay_from(&t, 0.0, 1.0), Duration::from_millis(3_000));
        for _ in 0..100 {
            let d = delay(&timing(100, 200, 0.5, 300));
            assert!((100..=300).contains(&d.as_millis()), "{d:?}");
        }
    }
}
