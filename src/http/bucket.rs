//! The request budget of the whole process: one token bucket that every request of every
//! clone of the client passes through (the token, the lookups, the trigger, the polls, the
//! pages, the cancels), so that pipelines run side by side stay together inside the
//! platform's rate limit (`rate-limit`, requests a minute).
//!
//! - **The bucket.** It holds at most a burst of tokens ([`burst`]: a quarter-minute's
//!   share of the rate, from 1 to [`BURST`]) and earns them back at the rate. A request
//!   takes a token, or reserves the next one and waits for it: requests queue one after
//!   the other, at the rate, never in a herd. A request whose turn would come after its
//!   deadline waits until the deadline and gives up there (a rate limit is never a reason
//!   to stop early, nor to go over it).
//! - **Urgent requests** (a cancel; every request of the clean-up after a signal, whose
//!   budget a signal cannot cut short) take a token without waiting for one: the bucket
//!   goes into debt and the requests after them wait the longer. A signal never waits
//!   behind the bucket.
//! - **A 429 lowers the rate** (the limit is the account's, shared with every other job
//!   using its credentials): to half of what it was ([`lowered`]), not below a floor of
//!   one request every [`Limit::floor`]; only a 429 to a request sent after the last
//!   lowering lowers it again (those already on their way say nothing new). The rate
//!   doubles back after each [`Limit::recovery`] without a 429, up to the rate configured
//!   ([`recovered`]). A 429 also empties the bucket, voids the turns already reserved,
//!   and restarts it after the platform's `Retry-After` at a random offset within one
//!   interval of the new rate, so that the requests that were held (and other processes
//!   on the same account) do not come back together.
//! - **The platform's `Retry-After`** holds back every request as before: none is sent
//!   before it is out when that fits its deadline (an urgent one too: sending it sooner
//!   would only be refused again).
//!
//! The decisions are pure functions of the tokens, the rate and the time
//! ([`refill`], [`turn`], [`lowered`], [`recovered`]), tested as tables; [`Bucket`] keeps
//! the state behind one lock, and the caller (`retry.rs`) sleeps on the injected clock.

use crate::poll::SplitMix64;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The largest burst. The older Matillion reference allows bursts of 5 a second; one
/// less leaves room for a request of another job on the same account.
pub(crate) const BURST: f64 = 4.0;

/// The request budget, as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limit {
    /// Requests a minute (`rate-limit`): the rate the process starts at and never exceeds.
    pub(crate) per_minute: u32,
    /// After 429s, the rate never falls below one request this often (10 s: 6 a minute).
    pub(crate) floor: Duration,
    /// After a 429, the rate doubles back after each of these without one (2 minutes).
    pub(crate) recovery: Duration,
    /// Who is rate-limiting, for the log ("Matillion").
    pub(crate) platform: &'static str,
}

/// A request's turn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Turn {
    /// Send now (a token was taken).
    Go,
    /// A token is reserved: send after this wait, unless a 429 voided the reservation
    /// meanwhile ([`Bucket::still_valid`] with `epoch`).
    Wait {
        /// How long.
        wait: Duration,
        /// The bucket's epoch when the token was reserved.
        epoch: u64,
    },
    /// Its turn would come after its deadline: wait `left` (until the deadline), then give
    /// up. Nothing is reserved.
    TooLate {
        /// Until the deadline.
        left: Duration,
        /// The rate now, for the message.
        per_minute: u32,
    },
}

/// What a 429 did to the rate, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lowered {
    /// The new rate, whole requests a minute.
    pub(crate) per_minute: u32,
    /// The first time the platform was seen rate-limiting (said once, as a warning).
    pub(crate) first: bool,
    /// Who is rate-limiting.
    pub(crate) platform: &'static str,
}

/// The burst a rate allows: a quarter-minute's share of it, from 1 to [`BURST`] (60 a
/// minute: 4; 30: 2; 6: 1), so that a low rate is not spent in one go.
pub(crate) fn burst(per_minute: f64) -> f64 {
    (per_minute / 15.0).clamp(1.0, BURST)
}

/// The time between two requests at a rate.
pub(crate) fn interval(per_minute: f64) -> Duration {
    Duration::from_secs_f64(60.0 / per_minute.max(f64::MIN_POSITIVE))
}

/// The tokens at `now` of a bucket that held `tokens` as of `at`: earned back at the rate
/// since `at`, up to a burst. A bucket held until a later instant (`at` after `now`)
/// earns nothing yet. Returns the tokens and the instant they are counted from.
pub(crate) fn refill(tokens: f64, at: Instant, now: Instant, per_minute: f64) -> (f64, Instant) {
    if now <= at {
        return (tokens, at);
    }
    let earned = now.duration_since(at).as_secs_f64() * per_minute / 60.0;
    ((tokens + earned).min(burst(per_minute).max(tokens)), now)
}

/// How long a request waits at `now` for a token of a bucket holding `tokens` (refilled:
/// see [`refill`]; fewer than 1, or below zero when turns are already reserved) as of
/// `at`, at a rate.
pub(crate) fn turn(tokens: f64, at: Instant, now: Instant, per_minute: f64) -> Duration {
    let start = at.saturating_duration_since(now);
    if tokens >= 1.0 {
        return start;
    }
    start + interval(per_minute).mul_f64(1.0 - tokens)
}

/// The rate after a 429: half of `per_minute`, not below `floor` (itself not above the
/// rate: a configured rate under the floor stays as it is).
pub(crate) fn lowered(per_minute: f64, floor: f64) -> f64 {
    (per_minute / 2.0).max(floor.min(per_minute))
}

/// The rate `since` a 429 lowered it to `low`: doubled for each whole `every` without
/// another, up to `ceiling` (the rate configured).
pub(crate) fn recovered(low: f64, ceiling: f64, since: Duration, every: Duration) -> f64 {
    if every.is_zero() {
        return ceiling;
    }
    let doublings = (since.as_secs_f64() / every.as_secs_f64())
        .floor()
        .min(32.0);
    (low * 2f64.powf(doublings)).min(ceiling)
}

/// The state behind the lock.
#[derive(Debug)]
struct State {
    /// `None`: no budget (a client not configured: only `Retry-After` holds it back).
    limit: Option<Limit>,
    /// Tokens as of `at` (below zero: turns reserved).
    tokens: f64,
    /// When `tokens` was counted; later than now while the bucket is held after a 429.
    at: Option<Instant>,
    /// No request before this instant (the platform's `Retry-After`).
    held: Option<Instant>,
    /// The rate the last lowering set, and when.
    low: Option<(f64, Instant)>,
    /// Bumped by every 429: the turns reserved before it are void.
    epoch: u64,
    /// 429s received.
    rejected: u64,
    /// Whether the platform was already said to be rate-limiting.
    said: bool,
    /// Draws the offsets after a 429.
    rng: SplitMix64,
}

/// The request budget shared by every clone of a client (see the module documentation).
#[derive(Debug)]
pub(crate) struct Bucket(Mutex<State>);

impl Default for Bucket {
    fn default() -> Self {
        Self::seeded(crate::poll::seed_from_os())
    }
}

impl Bucket {
    /// A bucket with no budget yet, its offsets drawn from `seed`.
    pub(crate) fn seeded(seed: u64) -> Self {
        Self(Mutex::new(State {
            limit: None,
            tokens: 0.0,
            at: None,
            held: None,
            low: None,
            epoch: 0,
            rejected: 0,
            said: false,
            rng: SplitMix64(seed),
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Set the budget (again: the same settings change nothing). A full bucket to start.
    pub(crate) fn limit(&self, limit: Limit) {
        let mut s = self.lock();
        if s.limit == Some(limit) {
            return;
        }
        s.tokens = burst(f64::from(limit.per_minute.max(1)));
        s.limit = Some(limit);
        s.low = None;
    }

    /// How long the platform's `Retry-After` still holds every request back at `now`.
    pub(crate) fn held(&self, now: Instant) -> Option<Duration> {
        let s = self.lock();
        s.held
            .filter(|t| *t > now)
            .map(|t| t.saturating_duration_since(now))
    }

    /// A request's turn at `now`, to be sent before `deadline`; `urgent` takes a token
    /// without waiting.
    pub(crate) fn turn(&self, now: Instant, deadline: Instant, urgent: bool) -> Turn {
        let mut s = self.lock();
        let Some(rate) = s.rate(now) else {
            return Turn::Go;
        };
        let (tokens, at) = refill(s.tokens, s.at.unwrap_or(now), now, rate);
        s.at = Some(at);
        s.tokens = tokens;
        let wait = turn(tokens, at, now, rate);
        if urgent || wait.is_zero() {
            s.tokens -= 1.0;
            return Turn::Go;
        }
        if now + wait > deadline {
            return Turn::TooLate {
                left: deadline.saturating_duration_since(now),
                per_minute: rate as u32,
            };
        }
        s.tokens -= 1.0;
        Turn::Wait {
            wait,
            epoch: s.epoch,
        }
    }

    /// Whether a turn reserved at `epoch` still holds (no 429 since).
    pub(crate) fn still_valid(&self, epoch: u64) -> bool {
        self.lock().epoch == epoch
    }

    /// A 429 at `now` to a request sent at `sent`; `hold` is how long the platform asked
    /// every request to wait (its `Retry-After`, floored). What it did to the rate, when
    /// it lowered it.
    pub(crate) fn rejected(
        &self,
        now: Instant,
        sent: Instant,
        hold: Option<Duration>,
    ) -> Option<Lowered> {
        let mut s = self.lock();
        s.rejected += 1;
        if let Some(h) = hold {
            let until = now + h;
            s.held = Some(s.held.map_or(until, |t| t.max(until)));
        }
        let limit = s.limit?;
        let rate = s.rate(now)?;
        let lower = s.low.is_none_or(|(_, when)| sent >= when);
        let new = if lower {
            let floor = 60.0 / limit.floor.as_secs_f64().max(1e-3);
            lowered(rate, floor)
        } else {
            rate
        };
        if lower {
            s.low = Some((new, now));
        }
        // Empty, every turn reserved void, and restarted after the Retry-After at a random
        // offset within one interval.
        let offset = interval(new).mul_f64(s.rng.next_f64());
        let restart = now + hold.unwrap_or_default() + offset;
        s.at = Some(s.at.map_or(restart, |t| t.max(restart)));
        s.tokens = 0.0;
        s.epoch += 1;
        let first = !s.said;
        s.said = true;
        lower.then_some(Lowered {
            per_minute: new as u32,
            first,
            platform: limit.platform,
        })
    }

    /// How many 429s were received.
    pub(crate) fn rejected_count(&self) -> u64 {
        self.lock().rejected
    }

    /// The rate at `now`, requests a minute (`None` without a budget).
    pub(crate) fn rate_now(&self, now: Instant) -> Option<f64> {
        self.lock().rate(now)
    }
}

impl State {
    /// The rate at `now` (requests a minute): the configured one, or what a 429 lowered it
    /// to, recovered since. `None` without a budget.
    fn rate(&mut self, now: Instant) -> Option<f64> {
        let limit = self.limit?;
        let ceiling = f64::from(limit.per_minute.max(1));
        let Some((low, when)) = self.low else {
            return Some(ceiling);
        };
        let rate = recovered(
            low,
            ceiling,
            now.saturating_duration_since(when),
            limit.recovery,
        );
        if rate >= ceiling {
            self.low = None;
            log::debug!(
                "{} has not rate-limited for a while: back to {} requests a minute",
                limit.platform,
                limit.per_minute
            );
        }
        Some(rate)
    }
}

#[cfg(test)]
mod tests;
