//! The retry decision, pure (no clock, no I/O, no randomness): what one failed attempt
//! means for the request, given what the earlier attempts gave ([`Tally`]) and where the
//! request stands ([`Rules`]: the time, the deadline, the backoff's current step). The
//! loop around it (`retry.rs`) sends, draws the backoff's step, sleeps and logs.
//!
//! The waits after a `429` or `503` have a floor: a `Retry-After` of `0` or a date already
//! past is no hint at all (the backoff decides), and a hint is never shorter than the
//! backoff's current step, so a server that says "now" cannot start a storm.

use super::{HttpError, Problem, UNUSABLE_BODY_ATTEMPTS, clean};
use std::time::{Duration, Instant};

/// How one attempt failed (a usable 2xx never gets here). Every text is a sentence that
/// already names the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Failed {
    /// A reply that is not a 2xx.
    Status {
        /// Its status, its body read as an error (`problem`), and the reply's `Retry-After`
        /// (`None` when absent or unreadable; a date already past is zero).
        problem: Box<Problem>,
        /// "the status poll answered 429 Too Many Requests: …".
        said: String,
        /// The reply's `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// A 2xx whose body cannot be used, or a body over the size limit.
    Unusable(String),
    /// Failed before the request could have reached the server.
    NotSent(String),
    /// Failed after the request may have reached the server.
    Lost(String),
    /// The server's certificate is not trusted.
    Untrusted(String),
}

impl Failed {
    /// The kind of failure, for counting a streak of the same one: the status, or the
    /// class of failure.
    pub(super) fn kind(&self) -> String {
        match self {
            Failed::Status { problem, .. } => format!("status {}", problem.status),
            Failed::Unusable(_) => "unusable".into(),
            Failed::NotSent(_) => "not sent".into(),
            Failed::Lost(_) => "lost".into(),
            Failed::Untrusted(_) => "untrusted".into(),
        }
    }
}

/// Where the request stands when the attempt has failed.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rules<'a> {
    /// Whether sending it twice is harmless.
    pub(super) repeatable: bool,
    /// A first 401 for which a new credential can be had.
    pub(super) fresh_credential: bool,
    /// Whether the request's origin has answered at least once.
    pub(super) reached: bool,
    /// `scheme://host:port`, for the message about a host that never answered.
    pub(super) origin: &'a str,
    /// How long connection failures to a host that never answered are retried.
    pub(super) connect_window: Duration,
    /// When the attempt was sent.
    pub(super) sent: Instant,
    /// Now (after the attempt).
    pub(super) now: Instant,
    /// The budget's deadline.
    pub(super) deadline: Instant,
    /// The backoff's current step (its jitter applied, never above the largest delay).
    pub(super) step: Duration,
}

/// What the earlier attempts of the request gave.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Tally {
    /// 2xx replies in a row whose body could not be used.
    pub(super) unusable: u32,
    /// Since when connecting to a host that never answered has been failing.
    pub(super) unreached_since: Option<Instant>,
}

/// What to do after a failed attempt (cargo's `RetryResult`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Send again at once with a new credential (a first 401).
    Refresh,
    /// Send again after `after`; `why` is what failed. `hold` holds back every request of
    /// the client this long (a 429 that said how long).
    Retry {
        /// The wait.
        after: Duration,
        /// What failed, a sentence.
        why: String,
        /// How long the request budget holds every request back, when the platform said
        /// it is rate-limiting (its `Retry-After`).
        hold: Option<Duration>,
    },
    /// The platform asked to wait longer than the time left: wait until the deadline, then
    /// give up saying so (a rate limit is never a reason to stop early).
    WaitOut {
        /// Until the deadline.
        wait: Duration,
        /// What failed and what was asked, a sentence.
        why: String,
        /// How long the request budget holds every request back.
        hold: Option<Duration>,
    },
    /// Stop with this error.
    GiveUp(HttpError),
}

/// The decision. `tally` is updated with this attempt.
pub(super) fn decide(failed: Failed, rules: &Rules<'_>, tally: &mut Tally) -> Verdict {
    match classify(failed, rules, tally) {
        Class::Retried(why, hint, rate_limited) => delay(rules, tally, why, hint, rate_limited),
        Class::Now(verdict) => verdict,
    }
}

/// How a failure classifies.
enum Class {
    /// Retried: what failed, the server's hint, whether it is a 429.
    Retried(String, Option<Duration>, bool),
    /// A verdict at once.
    Now(Verdict),
}

fn classify(failed: Failed, rules: &Rules<'_>, tally: &mut Tally) -> Class {
    let give_up = |e| Class::Now(Verdict::GiveUp(e));
    match failed {
        Failed::Status {
            problem,
            said,
            retry_after,
        } => match problem.status {
            401 if rules.fresh_credential => Class::Now(Verdict::Refresh),
            429 => Class::Retried(said, retry_after, true),
            500..=599 if !rules.repeatable => give_up(HttpError::Ambiguous(said)),
            500..=599 => Class::Retried(said, retry_after, false),
            _ => give_up(HttpError::Refused(*problem)),
        },
        Failed::Unusable(m) if !rules.repeatable => give_up(HttpError::Ambiguous(m)),
        Failed::Unusable(m) => {
            tally.unusable += 1;
            if tally.unusable >= UNUSABLE_BODY_ATTEMPTS {
                return give_up(HttpError::Unusable(format!(
                    "{m}; {} replies in a row could not be used",
                    tally.unusable
                )));
            }
            Class::Retried(m, None, false)
        }
        Failed::NotSent(m) => {
            if !rules.reached {
                let since = *tally.unreached_since.get_or_insert(rules.sent);
                let tried = rules.now.saturating_duration_since(since);
                if tried >= rules.connect_window {
                    return give_up(HttpError::Unreachable(format!(
                        "could not connect to {} for {} ({m}); it has not answered once, so this does not look like something that heals by waiting: check the URL and the network",
                        clean(rules.origin),
                        humantime::format_duration(round_s(tried))
                    )));
                }
            }
            Class::Retried(m, None, false)
        }
        Failed::Lost(m) if !rules.repeatable => give_up(HttpError::Ambiguous(m)),
        Failed::Lost(m) => Class::Retried(m, None, false),
        Failed::Untrusted(m) => give_up(HttpError::Untrusted(m)),
    }
}

/// How long to wait before the next attempt, if there is time for it. A hint of zero is
/// no hint; a hint shorter than the backoff's step is stretched to it.
fn delay(
    rules: &Rules<'_>,
    tally: &Tally,
    why: String,
    hint: Option<Duration>,
    rate_limited: bool,
) -> Verdict {
    let hint = hint.filter(|d| !d.is_zero()).map(|d| d.max(rules.step));
    let hold = hint.filter(|_| rate_limited);
    let left = rules.deadline.saturating_duration_since(rules.now);
    if let Some(asked) = hint.filter(|asked| *asked > left) {
        let why = format!(
            "{why}; the platform asked to wait {} (Retry-After), longer than the time left",
            humantime::format_duration(round_ms(asked))
        );
        return Verdict::WaitOut {
            wait: left,
            why,
            hold,
        };
    }
    let mut after = hint.unwrap_or(rules.step);
    // A host that never answered gets one last attempt at the end of its window.
    if let (false, Some(since)) = (rules.reached, tally.unreached_since) {
        after = after.min((since + rules.connect_window).saturating_duration_since(rules.now));
    }
    if after > left {
        // Waiting would pass the deadline: give up now with what kept failing.
        return Verdict::GiveUp(HttpError::Deadline(why));
    }
    Verdict::Retry { after, why, hold }
}

/// To the millisecond, for messages.
pub(super) fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

fn round_s(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}

#[cfg(test)]
mod tests;
