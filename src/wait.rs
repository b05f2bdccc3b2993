//! The wait primitive, below the platforms and the wait loop that use it: polling on the
//! schedule of [`crate::poll::Policy`] bounded by a deadline ([`Waiter`]), what a poll
//! sees ([`RunState`]), and why a platform call or a wait stopped ([`Failure`],
//! [`WaitStop`]). It knows no platform: the poll is a closure.

use crate::clock::{Clock, Signal, Wake};
use crate::http::{Budget, HttpError};
use crate::poll::Policy;
use backoff::backoff::Backoff;
use std::fmt;
use std::time::{Duration, Instant};

/// Why a platform call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The platform refused (bad credentials, unknown project, 4xx): a full sentence.
    Refused(String),
    /// The deadline passed while the platform kept failing: a full sentence.
    Unreachable(String),
    /// A signal arrived.
    Interrupted(Signal),
    /// The wait for something else (a held execution tag) passed the deadline.
    TimedOut(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Refused(m) | Failure::Unreachable(m) | Failure::TimedOut(m) => f.write_str(m),
            Failure::Interrupted(s) => write!(f, "interrupted by {s}"),
        }
    }
}

impl Failure {
    /// A failure from an HTTP error: `platform` ("Matillion") and `what` ("the trigger")
    /// make the sentence, and `hint` may add advice for a refusal's status.
    pub(crate) fn from_http(
        e: HttpError,
        platform: &str,
        what: &str,
        hint: impl FnOnce(u16) -> Option<String>,
    ) -> Self {
        match e {
            HttpError::Refused(p) => {
                let hint = hint(p.status)
                    .map(|h| format!(" — {h}"))
                    .unwrap_or_default();
                Failure::Refused(format!("{platform} refused {what}: {p}{hint}"))
            }
            HttpError::CredentialsRefused(p) => Failure::Refused(format!(
                "{platform} refused the credentials: the token endpoint answered {p} — check client-id and client-secret."
            )),
            HttpError::Untrusted(m) => Failure::Refused(format!(
                "{platform}'s TLS certificate is not trusted ({m}) — if a proxy inspects TLS, give its root certificate in `ca-bundle` (or SSL_CERT_FILE)."
            )),
            HttpError::Ambiguous(m) => {
                Failure::Unreachable(format!("{platform} gave no usable reply to {what}: {m}"))
            }
            HttpError::Deadline(m) => Failure::Unreachable(format!(
                "{platform} could not be reached for {what} before the deadline; last error: {m}"
            )),
            HttpError::Interrupted(s) => Failure::Interrupted(s),
            HttpError::Unusable(m) => {
                Failure::Unreachable(format!("{platform} gave no usable reply to {what}: {m}"))
            }
            HttpError::Unreachable(m) => {
                Failure::Unreachable(format!("{platform} could not be reached for {what}: {m}"))
            }
        }
    }
}

/// Where an execution is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunState {
    /// The platform's status, as sent.
    pub status: String,
    /// Whether it has ended, and how.
    pub(crate) phase: Phase,
}

/// Running, or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Anything not known to be terminal (including statuses not documented).
    Running,
    /// Ended successfully.
    Succeeded,
    /// Ended in another terminal status.
    Failed,
}

/// Why a wait ended without the run ending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitStop {
    /// The deadline passed; the last state seen.
    TimedOut(Option<RunState>),
    /// A platform call failed.
    Failed(Failure),
}

/// What a wait saw, for whoever shows progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen<'a> {
    /// A status different from the last one.
    Changed(&'a RunState),
    /// The same status for another heartbeat: still `status` after `after` (whole seconds).
    Still {
        /// The status.
        status: &'a str,
        /// How long the wait has lasted.
        after: Duration,
    },
}

/// "still RUNNING after 2m": the heartbeat line.
pub(crate) fn still_line(status: &str, after: Duration) -> String {
    format!("still {status} after {}", humantime::format_duration(after))
}

/// Polling on a schedule, bounded by a deadline.
pub struct Waiter<'a> {
    /// The clock.
    pub clock: &'a dyn Clock,
    /// The overall deadline.
    pub deadline: Instant,
    /// `poll-interval`: the schedule's interval without history (and the first retry wait
    /// of [`Waiter::intervals`]).
    pub initial: Duration,
    /// `max-poll-interval`: no gap between two polls is longer.
    pub max: Duration,
    /// A [`Seen::Still`] at least this often while the status does not change.
    pub heartbeat: Duration,
    /// Seeds the schedule's jitter ([`crate::poll::seed_from_os`] in production).
    pub seed: u64,
    /// After a lost trigger reply: how long the list is searched for the run it created
    /// before the trigger may be sent again (`Timings::lost_reply_lookup`).
    pub lookup: Duration,
}

impl Waiter<'_> {
    /// A budget until the deadline.
    pub fn budget(&self) -> Budget {
        Budget::until(self.deadline)
    }

    /// A backoff for retry waits (the trigger's): from `initial`, ×1.5 each time, ±20%
    /// jitter, never above `max`. Status polls follow [`Waiter::policy`] instead.
    pub(crate) fn intervals(&self) -> impl FnMut() -> Duration + use<> {
        let mut b = backoff::ExponentialBackoff {
            initial_interval: self.initial,
            current_interval: self.initial,
            randomization_factor: 0.2,
            multiplier: 1.5,
            max_interval: self.max,
            max_elapsed_time: None,
            ..backoff::ExponentialBackoff::default()
        };
        let max = self.max;
        move || b.next_backoff().unwrap_or(max).min(max)
    }

    /// Sleep for `d` but not past the deadline. `Err` on a signal.
    pub(crate) fn sleep(&self, d: Duration) -> Result<(), Signal> {
        let now = self.clock.now();
        let d = d.min(self.deadline.saturating_duration_since(now));
        match self.clock.sleep(d) {
            Wake::Elapsed => Ok(()),
            Wake::Signal(s) => Err(s),
        }
    }

    /// The polling schedule for a run whose past runs took `history` (newest first).
    pub(crate) fn policy(&self, history: &[Duration]) -> Policy {
        Policy::new(history, self.initial, self.max, self.seed)
    }

    /// Poll until the run ends or the deadline passes, every `poll-interval` (no history).
    /// `poll` asks once within the budget it is given; `seen` hears each new status and
    /// the heartbeats.
    pub fn until_end(
        &self,
        poll: impl FnMut(Budget) -> Result<RunState, Failure>,
        seen: impl FnMut(Seen<'_>),
    ) -> Result<RunState, WaitStop> {
        let mut policy = self.policy(&[]);
        self.until_end_with(&mut policy, self.clock.now(), poll, seen)
    }

    /// [`Waiter::until_end`] on `policy`'s schedule, its elapsed time counted from `since`
    /// (the trigger).
    pub(crate) fn until_end_with(
        &self,
        policy: &mut Policy,
        since: Instant,
        mut poll: impl FnMut(Budget) -> Result<RunState, Failure>,
        mut seen: impl FnMut(Seen<'_>),
    ) -> Result<RunState, WaitStop> {
        let started = self.clock.now();
        let mut last: Option<RunState> = None;
        let mut last_line = started;
        loop {
            // A poll sleep ends at the deadline: past it there is nothing left to ask with.
            if self.clock.now() >= self.deadline {
                return Err(WaitStop::TimedOut(last));
            }
            let state = poll(self.budget()).map_err(WaitStop::Failed)?;
            if last.as_ref().map(|l| &l.status) != Some(&state.status) {
                seen(Seen::Changed(&state));
                last_line = self.clock.now();
            }
            if state.phase != Phase::Running {
                return Ok(state);
            }
            let now = self.clock.now();
            if now.saturating_duration_since(last_line) >= self.heartbeat {
                seen(Seen::Still {
                    status: &state.status,
                    after: Duration::from_secs((now - started).as_secs()),
                });
                last_line = now;
            }
            if now >= self.deadline {
                return Err(WaitStop::TimedOut(Some(state)));
            }
            // Sleep in slices, so that a heartbeat falls due on time even when the gap
            // between polls is longer than it.
            let wake_at = now + policy.next_gap(now.saturating_duration_since(since));
            loop {
                let now = self.clock.now();
                if now >= wake_at || now >= self.deadline {
                    break;
                }
                let due = last_line + self.heartbeat.max(Duration::from_millis(10));
                if now >= due {
                    seen(Seen::Still {
                        status: &state.status,
                        after: Duration::from_secs((now - started).as_secs()),
                    });
                    last_line = now;
                    continue;
                }
                self.sleep(wake_at.min(due) - now)
                    .map_err(|s| WaitStop::Failed(Failure::Interrupted(s)))?;
            }
            last = Some(state);
            // The sleep stops at the deadline: polling then would have no budget left and
            // be reported as unreachable instead of timed out.
            if self.clock.now() >= self.deadline {
                return Err(WaitStop::TimedOut(last));
            }
        }
    }
}
