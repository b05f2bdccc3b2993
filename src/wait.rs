//! The wait primitive, below the platforms and the wait loop that use it: polling on the
//! schedule of [`crate::poll::Policy`] bounded by a deadline ([`Waiter`]), what a poll
//! sees ([`RunState`]), and why a platform call or a wait stopped ([`Failure`],
//! [`WaitStop`]). It knows no platform: the poll is a closure.

use crate::clock::{Clock, Signal};
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
    /// A reply came but could not be used (an HTML page from a proxy, a body over the size
    /// limit), again and again: a full sentence. In a wait, a missed poll.
    Unreadable(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Refused(m)
            | Failure::Unreachable(m)
            | Failure::TimedOut(m)
            | Failure::Unreadable(m) => f.write_str(m),
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
                "{platform} authentication failed: the token endpoint refused the credentials with {p} — check client-id and client-secret."
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
                Failure::Unreadable(format!("{platform} gave no usable reply to {what}: {m}"))
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
    /// A poll could not be read (the wait goes on): the note for the report, with how
    /// many polls so far.
    Unread(String),
}

/// "still RUNNING after 2m": the heartbeat line.
pub(crate) fn still_line(status: &str, after: Duration) -> String {
    format!("still {status} after {}", humantime::format_duration(after))
}

/// When a wait looks again, and how it rests until then: its own schedule
/// ([`crate::poll::Policy`], which sleeps on the clock), or a look shared with other runs
/// (`run::board`), which may end a rest early when there is news.
pub(crate) trait Pace {
    /// How long to rest after a look made `elapsed` after the start.
    fn next_gap(&mut self, elapsed: Duration) -> Duration;
    /// Rest up to `d` on `clock`: `Ok(true)` when news came first (look now).
    fn rest(&mut self, clock: &dyn Clock, d: Duration) -> Result<bool, Signal> {
        clock.sleep(d).or_signal().map(|()| false)
    }
    /// Whether the first look waits for news (else it is made at once).
    fn rests_first(&self) -> bool {
        false
    }
}

impl Pace for Policy {
    fn next_gap(&mut self, elapsed: Duration) -> Duration {
        Policy::next_gap(self, elapsed)
    }
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
        self.clock.sleep(d).or_signal()
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
    /// (the trigger). A poll that cannot be read, or whose retries ran out, is a missed
    /// poll: the wait goes on at the schedule's pace, and only the deadline ends it.
    pub(crate) fn until_end_with(
        &self,
        pace: &mut dyn Pace,
        since: Instant,
        mut poll: impl FnMut(Budget) -> Result<RunState, Failure>,
        mut seen: impl FnMut(Seen<'_>),
    ) -> Result<RunState, WaitStop> {
        let mut watch = Watch::new(self.clock.now());
        if pace.rests_first() {
            let gap = pace.next_gap(self.clock.now().saturating_duration_since(since));
            self.nap(gap, pace, &mut watch, &mut seen)?;
        }
        loop {
            // A poll sleep ends at the deadline: past it there is nothing left to ask with.
            if self.clock.now() >= self.deadline {
                return Err(watch.stop());
            }
            match poll(self.budget()) {
                Ok(state) => {
                    watch.read_again();
                    if let Some(end) = self.saw(&mut watch, state, &mut seen) {
                        return Ok(end);
                    }
                }
                // A poll whose retries ran into the deadline: the timeout, with what kept
                // failing (however far the last reply came before the deadline).
                Err(Failure::Unreadable(m) | Failure::Unreachable(m))
                    if self.clock.now() >= self.deadline =>
                {
                    return Err(watch.stop_failing(m));
                }
                Err(Failure::Unreadable(m) | Failure::Unreachable(m)) => {
                    watch.missed(m, &mut seen);
                }
                Err(f) => return Err(WaitStop::Failed(f)),
            }
            if self.clock.now() >= self.deadline {
                return Err(watch.stop());
            }
            let gap = pace.next_gap(self.clock.now().saturating_duration_since(since));
            self.nap(gap, pace, &mut watch, &mut seen)?;
        }
    }

    /// A poll read: say a new status or a heartbeat; the state when the run has ended.
    fn saw(
        &self,
        watch: &mut Watch,
        state: RunState,
        seen: &mut impl FnMut(Seen<'_>),
    ) -> Option<RunState> {
        if watch.last.as_ref().map(|l| &l.status) != Some(&state.status) {
            seen(Seen::Changed(&state));
            watch.last_line = self.clock.now();
        }
        if state.phase != Phase::Running {
            return Some(state);
        }
        let now = self.clock.now();
        if now.saturating_duration_since(watch.last_line) >= self.heartbeat {
            seen(Seen::Still {
                status: &state.status,
                after: Duration::from_secs((now - watch.started).as_secs()),
            });
            watch.last_line = now;
        }
        watch.last = Some(state);
        None
    }

    /// Rest `gap` in slices, so that a heartbeat falls due on time even when the gap
    /// between polls is longer than it; never past the deadline; over early when `pace`
    /// has news. `Err` on a signal.
    fn nap(
        &self,
        gap: Duration,
        pace: &mut dyn Pace,
        watch: &mut Watch,
        seen: &mut impl FnMut(Seen<'_>),
    ) -> Result<(), WaitStop> {
        let wake_at = self.clock.now() + gap;
        loop {
            let now = self.clock.now();
            if now >= wake_at || now >= self.deadline {
                return Ok(());
            }
            let due = watch.last_line + self.heartbeat.max(Duration::from_millis(10));
            if let (true, Some(state)) = (now >= due, &watch.last) {
                seen(Seen::Still {
                    status: &state.status,
                    after: Duration::from_secs((now - watch.started).as_secs()),
                });
                watch.last_line = now;
                continue;
            }
            let until = if watch.last.is_some() {
                wake_at.min(due)
            } else {
                wake_at
            };
            let d = (until - now).min(self.deadline.saturating_duration_since(now));
            match pace.rest(self.clock, d) {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(s) => return Err(WaitStop::Failed(Failure::Interrupted(s))),
            }
        }
    }
}

/// What a wait has seen so far.
struct Watch {
    started: Instant,
    /// The last state read.
    last: Option<RunState>,
    /// When the last line (a status or a heartbeat) was said.
    last_line: Instant,
    /// Polls that could not be read, in all and in a row.
    missed: u32,
    in_row: u32,
    /// What the last poll failed with, when it failed.
    failing: Option<String>,
}

impl Watch {
    fn new(now: Instant) -> Self {
        Self {
            started: now,
            last: None,
            last_line: now,
            missed: 0,
            in_row: 0,
            failing: None,
        }
    }

    /// A missed poll: said when it starts a streak, counted for the report.
    fn missed(&mut self, why: String, seen: &mut impl FnMut(Seen<'_>)) {
        self.missed += 1;
        self.in_row += 1;
        let line = format!("{why}; a missed poll, the wait goes on");
        if self.in_row == 1 {
            log::warn!("{line}");
        } else {
            log::debug!("{line}");
        }
        seen(Seen::Unread(if self.missed == 1 {
            format!("1 status poll could not be read; the wait went on (the last: {why})")
        } else {
            format!(
                "{} status polls could not be read; the wait went on (the last: {why})",
                self.missed
            )
        }));
        self.failing = Some(why);
    }

    /// A poll read after missed ones: how many in a row were missed.
    fn read_again(&mut self) {
        if self.in_row > 1 {
            log::warn!(
                "{} status polls in a row could not be read; read again",
                self.in_row
            );
        }
        self.in_row = 0;
        self.failing = None;
    }

    /// At the deadline, the last poll failed with `why`: a timeout, said with it.
    fn stop_failing(mut self, why: String) -> WaitStop {
        self.failing = Some(why);
        self.stop()
    }

    /// At the deadline: what kept failing, if the last poll failed (a timeout too, said
    /// with it), or the last state seen.
    fn stop(self) -> WaitStop {
        match self.failing {
            Some(m) => WaitStop::Failed(Failure::Unreachable(m)),
            None => WaitStop::TimedOut(self.last),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SimClock;

    fn waiter(clock: &SimClock) -> Waiter<'_> {
        Waiter {
            clock,
            deadline: clock.now() + Duration::from_secs(10),
            initial: Duration::from_secs(1),
            max: Duration::from_secs(1),
            heartbeat: Duration::from_secs(60),
            seed: 0,
            lookup: Duration::from_secs(1),
        }
    }

    #[test]
    fn an_unreadable_poll_that_ends_past_the_deadline_is_the_timeout() {
        // The poll's retries of unusable replies took it past the deadline (a busy
        // machine): the timeout with what kept failing, as when the deadline cut them
        // short, not a failure of its own.
        let clock = SimClock::new();
        let w = waiter(&clock);
        let mut polls = 0;
        let waited = w.until_end(
            |_| {
                polls += 1;
                clock.pause(Duration::from_secs(6));
                Err(Failure::Unreadable("a block page".into()))
            },
            |_| {},
        );
        // At 0 s and at 7 s (after the 1 s gap); the second ends at 13 s.
        assert_eq!(polls, 2);
        assert_eq!(
            waited,
            Err(WaitStop::Failed(Failure::Unreachable(
                "a block page".into()
            )))
        );
    }

    #[test]
    fn an_unreadable_poll_before_the_deadline_is_a_missed_poll() {
        let clock = SimClock::new();
        let w = waiter(&clock);
        let mut polls = 0;
        let mut unread = Vec::new();
        let waited = w.until_end(
            |_| {
                polls += 1;
                if polls < 3 {
                    return Err(Failure::Unreadable("a block page".into()));
                }
                Ok(RunState {
                    status: "SUCCESS".into(),
                    phase: Phase::Succeeded,
                })
            },
            |s| {
                if let Seen::Unread(m) = s {
                    unread.push(m);
                }
            },
        );
        assert_eq!(waited.map(|s| s.status), Ok("SUCCESS".to_string()));
        assert_eq!(unread.len(), 2, "{unread:?}");
    }
}
