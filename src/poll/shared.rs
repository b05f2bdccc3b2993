//! One schedule for several runs looked at by one request (the poll board, `run::board`):
//! when the next look at all of them is due.
//!
//! Each run's own schedule polls at the rate `rᵢ(t) = cᵢ · √hᵢ(t)`, where `hᵢ` is its
//! hazard, the chance that it ends now ([`Policy`], the module documentation above). One
//! look serves every run still going, so what the looks buy is the sum of the runs' ends
//! noticed sooner. Minimising the looks at a given total latency (the same Lagrange step
//! as for one run, with `Σ fᵢ` for `f`) gives a rate that follows the square root of the
//! summed hazard: `R(t) = √(Σ cᵢ² hᵢ(t)) = √(Σ rᵢ(t)²)`. One run alone is its own schedule;
//! `N` runs alike are looked at `√N` times as often as one, each noticed `√N` times sooner,
//! for `√N` times one run's requests instead of `N` times.
//!
//! The next look after one at `now` is where `∫ R` from `now` reaches 1 (each run's
//! elapsed time moving on with it), clamped to at least [`shortest`] (a second at the
//! default `poll-interval`) and at most `max-poll-interval`, with the same ±[`JITTER`] as
//! one run's.

use super::{JITTER, MIN_GAP, Policy};
use std::time::Duration;

/// At most this many looks per `poll-interval` (5: one a second at the default 5 s).
const SHORTEST_PER_POLL_INTERVAL: u32 = 5;

/// Integration steps per look at most (each a twentieth of the gap at the current rate:
/// a gap takes about twenty).
const MAX_STEPS: usize = 4000;

impl Policy {
    /// The schedule's rate at `elapsed` (polls per second, no jitter): the slope of the
    /// history model while it lasts, else one poll per `poll-interval`.
    pub(crate) fn rate(&self, elapsed: Duration) -> f64 {
        self.model
            .as_ref()
            .and_then(|m| m.rate(elapsed.as_secs_f64()))
            .unwrap_or(1.0 / self.floor.as_secs_f64())
    }
}

/// The shortest gap between two looks: [`MIN_GAP`], or a fifth of `poll-interval` when
/// that is shorter (the same second at the default 5 s; the same proportion on a shorter
/// `poll-interval`, as on the benchmark's sped-up time).
pub(crate) fn shortest(floor: Duration) -> Duration {
    MIN_GAP
        .min(floor / SHORTEST_PER_POLL_INTERVAL)
        .max(Duration::from_millis(1))
}

/// The gap after a look at several runs, each given as its schedule and how long it has
/// gone (`runs`; none: `max`). `floor` is `poll-interval`, `max` `max-poll-interval`;
/// `draw` is uniform in `[0, 1)` (the jitter).
pub(crate) fn shared_gap(
    runs: &[(&Policy, Duration)],
    floor: Duration,
    max: Duration,
    draw: f64,
) -> Duration {
    let max = max.max(Duration::from_millis(1));
    let shortest = shortest(floor).min(max);
    if runs.is_empty() {
        return max;
    }
    let (lo, hi) = (1.0 / max.as_secs_f64(), 1.0 / shortest.as_secs_f64());
    let rate = |s: f64| {
        let at = Duration::from_secs_f64(s);
        let sum: f64 = runs
            .iter()
            .map(|(p, e)| p.rate(*e + at).powi(2))
            .filter(|r| r.is_finite())
            .sum();
        sum.sqrt().clamp(lo, hi)
    };
    let (mut s, mut done) = (0.0, 0.0);
    for _ in 0..MAX_STEPS {
        let r = rate(s);
        let dt = 0.05 / r;
        if done + r * dt >= 1.0 {
            s += (1.0 - done) / r;
            break;
        }
        done += r * dt;
        s += dt;
        if s >= max.as_secs_f64() {
            break;
        }
    }
    let jitter = 1.0 + JITTER * (2.0 * draw - 1.0);
    Duration::from_secs_f64(s * jitter).clamp(shortest, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOOR: Duration = Duration::from_secs(5);
    const MAX: Duration = Duration::from_secs(30);

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn one_run_without_history_is_looked_at_every_poll_interval() {
        let p = Policy::new(&[], FLOOR, MAX, 1);
        assert_eq!(p.rate(secs(3.0)), 0.2);
        let g = shared_gap(&[(&p, secs(12.0))], FLOOR, MAX, 0.5);
        assert!((g.as_secs_f64() - 5.0).abs() < 0.01, "{g:?}");
        // The jitter: ±10%.
        let lo = shared_gap(&[(&p, secs(12.0))], FLOOR, MAX, 0.0);
        let hi = shared_gap(&[(&p, secs(12.0))], FLOOR, MAX, 0.999_999);
        assert!((lo.as_secs_f64() - 4.5).abs() < 0.01, "{lo:?}");
        assert!((hi.as_secs_f64() - 5.5).abs() < 0.01, "{hi:?}");
    }

    #[test]
    fn n_runs_alike_are_looked_at_root_n_times_as_often_down_to_a_fifth_of_poll_interval() {
        let p = Policy::new(&[], FLOOR, MAX, 1);
        let four: Vec<_> = (0..4).map(|_| (&p, secs(10.0))).collect();
        let g = shared_gap(&four, FLOOR, MAX, 0.5);
        assert!((g.as_secs_f64() - 2.5).abs() < 0.01, "{g:?}");
        let fifty: Vec<_> = (0..50).map(|_| (&p, secs(10.0))).collect();
        assert_eq!(shared_gap(&fifty, FLOOR, MAX, 0.5), MIN_GAP);
        // With a short poll-interval, a fifth of it.
        let fast = Policy::new(&[], secs(0.5), secs(3.0), 1);
        let many: Vec<_> = (0..100).map(|_| (&fast, secs(1.0))).collect();
        assert_eq!(shared_gap(&many, secs(0.5), secs(3.0), 0.5), secs(0.1));
        assert_eq!(shortest(secs(5.0)), MIN_GAP);
        assert_eq!(shortest(secs(60.0)), MIN_GAP);
        assert_eq!(shared_gap(&[], FLOOR, MAX, 0.5), MAX);
    }

    #[test]
    fn the_look_follows_the_run_most_likely_to_end_and_looks_ahead() {
        // Runs that end at about 10 minutes, with 20 past runs each.
        let history: Vec<Duration> = (0..20).map(|i| secs(570.0 + 3.0 * i as f64)).collect();
        let p = Policy::new(&history, FLOOR, MAX, 1);
        let q = Policy::new(&[], FLOOR, MAX, 1);
        // Far from its end: sparse, never past max-poll-interval.
        let far = shared_gap(&[(&p, secs(200.0))], FLOOR, MAX, 0.5);
        assert!(far > secs(10.0) && far <= MAX, "{far:?}");
        // A run without history beside it sets the pace.
        let with = shared_gap(&[(&p, secs(200.0)), (&q, secs(5.0))], FLOOR, MAX, 0.5);
        assert!(with <= FLOOR, "{with:?}");
        // Near its end: dense.
        let near = shared_gap(&[(&p, secs(600.0))], FLOOR, MAX, 0.5);
        assert!(near < secs(4.0), "{near:?}");
        // The gap from just before the dense part does not jump over it.
        let before = shared_gap(&[(&p, secs(540.0))], FLOOR, MAX, 0.5);
        assert!(secs(540.0) + before < secs(600.0), "{before:?}");
    }
}
