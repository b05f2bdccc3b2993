//! A rate limit on the whole API ([`SimConfig::rate_limit`](crate::SimConfig)), as a
//! platform enforces one: the generic cell rate algorithm (GCRA, a token bucket kept as
//! one instant), `per_minute` requests a minute with bursts of `burst`. A request over it
//! is answered `429 Too Many Requests` with a `Retry-After` in whole seconds (at least 1),
//! and counted ([`SimHandle::rejected_requests`](crate::SimHandle)).

use std::time::{Duration, Instant};

/// A rate limit: requests a minute, and the largest burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests a minute, on average.
    pub per_minute: u32,
    /// How many may come at once (at least 1).
    pub burst: u32,
}

impl RateLimit {
    /// The time between two requests at the rate.
    fn interval(self) -> Duration {
        Duration::from_secs_f64(60.0 / f64::from(self.per_minute.max(1)))
    }
}

/// Whether a request at `now` is within the limit, given the theoretical arrival time
/// `tat` of the next request (`None`: none so far). `Ok(the next tat)`, or `Err(how long
/// until it would be)`.
pub(crate) fn admit(
    limit: RateLimit,
    tat: Option<Instant>,
    now: Instant,
) -> Result<Instant, Duration> {
    let t = limit.interval();
    let tolerance = t * limit.burst.max(1).saturating_sub(1);
    let tat = tat.unwrap_or(now).max(now);
    let earliest = tat.checked_sub(tolerance).unwrap_or(now);
    if now < earliest {
        return Err(earliest - now);
    }
    Ok(tat + t)
}

/// The `Retry-After` for a wait: whole seconds, rounded up, at least 1.
pub(crate) fn retry_after(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_an_interval() {
        let limit = RateLimit {
            per_minute: 60,
            burst: 5,
        };
        let t0 = Instant::now();
        let mut tat = None;
        for _ in 0..5 {
            tat = Some(admit(limit, tat, t0).expect("within the burst"));
        }
        assert_eq!(admit(limit, tat, t0), Err(Duration::from_secs(1)));
        let t1 = t0 + Duration::from_millis(1000);
        tat = Some(admit(limit, tat, t1).expect("a second later"));
        assert_eq!(
            admit(limit, tat, t1 + Duration::from_millis(400)),
            Err(Duration::from_millis(600))
        );
        // After a long quiet spell, a whole burst again, no more.
        let later = t1 + Duration::from_secs(600);
        for _ in 0..5 {
            tat = Some(admit(limit, tat, later).expect("burst"));
        }
        assert!(admit(limit, tat, later).is_err());
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        for (ms, want) in [(0, 1), (1, 1), (999, 1), (1000, 1), (1001, 2), (2500, 3)] {
            assert_eq!(retry_after(Duration::from_millis(ms)), want, "{ms}");
        }
    }
}
