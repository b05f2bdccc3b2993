//! Every fixed duration of the program in one struct: request retries, the lookup of past
//! runs, the wait's heartbeat, the timeout's and cancel mode's cancel, and the windows of the clean-up after
//! a signal. The binary uses [`Timings::DEFAULT`]; tests inject shorter ones through the
//! library (with the simulated clock, `clock::SimClock`, where the waits are simulated
//! too), so no path needs real waiting to be tested. A leaf: it imports nothing.
//!
//! The integration tests run the real binary, on the real clock; for them only, the
//! internal variable [`TEST_KNOB`] divides every duration by a whole number from 2 to 100
//! (any other value is ignored with a warning). It is not an input: it is not in the
//! inputs table, the help or the README, and a value outside the bounds changes nothing.
//! Rates that are inputs (`rate-limit`) are not durations and are not changed; the
//! request budget's own floor and recovery are, so a test that drives the rate down to
//! its floor waits a tenth as long.

use std::time::Duration;

/// Cancelling a run: how long the request may take, then how long to follow it to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CancelTimings {
    /// How long the cancel request may take.
    pub(crate) budget: Duration,
    /// After the request, how long to follow the run to CANCELLED.
    pub(crate) follow: Duration,
}

/// The clean-up after a signal. All of it should fit in [`SignalTimings::window`]: a
/// cancelled GitHub job sends SIGTERM 7.5 s after SIGINT, and a second signal ends the
/// process at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SignalTimings {
    /// How long to wait for the worker to stop by itself.
    pub(crate) settle: Duration,
    /// When the worker is still busy and no execution is known, it may be waiting for the
    /// trigger's reply: how much longer to wait, so that the run it creates is known and
    /// cancelled rather than left running.
    pub(crate) trigger_wait: Duration,
    /// When the reply has still not come: how long the list of executions may be searched
    /// for the run the trigger created (it is then cancelled).
    pub(crate) lookup: Duration,
    /// The cancel request's budget (cut to what is left of the window, but not below
    /// `cancel_min`) and the follow to CANCELLED.
    pub(crate) cancel: CancelTimings,
    /// The least budget a cancel request gets, however late it is.
    pub(crate) cancel_min: Duration,
    /// The whole clean-up.
    pub(crate) window: Duration,
}

/// Every fixed duration of the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// First delay before a failed request is sent again.
    pub(crate) retry_initial: Duration,
    /// Largest delay between attempts (when the server does not say).
    pub(crate) retry_max: Duration,
    /// The lookup of the pipeline's past runs (for the polling schedule) may take this
    /// long, retries included; then the wait starts without it.
    pub(crate) history: Duration,
    /// A progress line at least this often while waiting.
    pub heartbeat: Duration,
    /// After the run ends, reading its details and steps may take this much past the
    /// deadline.
    pub(crate) collect_grace: Duration,
    /// After a timeout, the budget for the latest status, details and steps.
    pub(crate) partial_budget: Duration,
    /// A timeout's cancel (with `cancel-on-timeout`).
    pub(crate) timeout_cancel: CancelTimings,
    /// `pipeline-run cancel` and the post step.
    pub(crate) cancel_mode: CancelTimings,
    /// While following a cancelled run: the interval between polls.
    pub(crate) follow_step: Duration,
    /// While following a cancelled run: the least budget of one poll.
    pub(crate) follow_poll_min: Duration,
    /// After a signal.
    pub(crate) signal: SignalTimings,
    /// How often the supervisor looks for a signal while the worker is quiet.
    pub(crate) tick: Duration,
    /// Before any host has answered: how long connection failures to it are retried.
    pub(crate) connect_window: Duration,
    /// How long a 404 for the execution this program just created is taken for a replica
    /// that has not caught up, and asked again.
    pub(crate) not_found_grace: Duration,
    /// After a lost trigger reply (or a 409 that follows one): how long the list of
    /// executions is searched for the run it created before the trigger is sent again.
    pub lost_reply_lookup: Duration,
    /// The request budget's floor: however many 429s, the rate it lowers to never leaves
    /// longer than this between two requests (10 s: 6 a minute).
    pub(crate) rate_floor: Duration,
    /// After a 429 lowered the request budget's rate, it doubles back after each of these
    /// without another, up to `rate-limit`.
    pub(crate) rate_recovery: Duration,
}

impl Timings {
    /// The binary's timings.
    pub const DEFAULT: Timings = Timings {
        retry_initial: Duration::from_millis(500),
        retry_max: Duration::from_secs(30),
        history: Duration::from_secs(5),
        heartbeat: Duration::from_secs(60),
        collect_grace: Duration::from_secs(60),
        partial_budget: Duration::from_secs(15),
        timeout_cancel: CancelTimings {
            budget: Duration::from_secs(10),
            follow: Duration::from_secs(30),
        },
        cancel_mode: CancelTimings {
            budget: Duration::from_secs(20),
            follow: Duration::from_secs(20),
        },
        follow_step: Duration::from_secs(1),
        follow_poll_min: Duration::from_secs(2),
        signal: SignalTimings {
            settle: Duration::from_millis(1500),
            trigger_wait: Duration::from_millis(1500),
            lookup: Duration::from_millis(1500),
            cancel: CancelTimings {
                budget: Duration::from_secs(4),
                follow: Duration::from_millis(1500),
            },
            cancel_min: Duration::from_secs(1),
            window: Duration::from_secs(7),
        },
        tick: Duration::from_millis(100),
        connect_window: Duration::from_secs(120),
        not_found_grace: Duration::from_secs(30),
        lost_reply_lookup: Duration::from_secs(30),
        rate_floor: Duration::from_secs(10),
        rate_recovery: Duration::from_secs(120),
    };
}

/// Internal, for the integration tests only: `PIPELINE_RUN_TEST_TIMINGS=<n>` divides every
/// duration by `n` (2 to 100), so that the binary's retries, cancel follow and signal
/// windows take a fraction of their time while keeping their proportions.
pub(crate) const TEST_KNOB: &str = "PIPELINE_RUN_TEST_TIMINGS";

impl Timings {
    /// Every duration divided by `n` (at least 1).
    pub(crate) fn divided(self, n: u32) -> Timings {
        let n = n.max(1);
        let cancel = |c: CancelTimings| CancelTimings {
            budget: c.budget / n,
            follow: c.follow / n,
        };
        Timings {
            retry_initial: self.retry_initial / n,
            retry_max: self.retry_max / n,
            history: self.history / n,
            heartbeat: self.heartbeat / n,
            collect_grace: self.collect_grace / n,
            partial_budget: self.partial_budget / n,
            timeout_cancel: cancel(self.timeout_cancel),
            cancel_mode: cancel(self.cancel_mode),
            follow_step: self.follow_step / n,
            follow_poll_min: self.follow_poll_min / n,
            signal: SignalTimings {
                settle: self.signal.settle / n,
                trigger_wait: self.signal.trigger_wait / n,
                lookup: self.signal.lookup / n,
                cancel: cancel(self.signal.cancel),
                cancel_min: self.signal.cancel_min / n,
                window: self.signal.window / n,
            },
            tick: self.tick / n,
            connect_window: self.connect_window / n,
            not_found_grace: self.not_found_grace / n,
            lost_reply_lookup: self.lost_reply_lookup / n,
            rate_floor: self.rate_floor / n,
            rate_recovery: self.rate_recovery / n,
        }
    }

    /// The binary's timings: [`Timings::DEFAULT`], divided when [`TEST_KNOB`] holds a
    /// whole number from 2 to 100.
    pub(crate) fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Timings {
        let Some(v) = env(TEST_KNOB) else {
            return Timings::DEFAULT;
        };
        match v.trim().parse::<u32>() {
            Ok(n) if (2..=100).contains(&n) => Timings::DEFAULT.divided(n),
            _ => {
                log::warn!("ignoring {TEST_KNOB}: not a whole number from 2 to 100");
                Timings::DEFAULT
            }
        }
    }
}

impl Default for Timings {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signal_clean_up_fits_before_sigterm_follows_sigint() {
        // GitHub sends SIGTERM 7.5 s after SIGINT; the worst case of the clean-up is the
        // settle, the trigger wait, the list lookup, then the least cancel request and the
        // follow, all inside the window.
        let s = Timings::DEFAULT.signal;
        assert!(s.window < Duration::from_millis(7500));
        let worst_before_cancel = s.settle + s.trigger_wait + s.lookup;
        assert!(worst_before_cancel + s.cancel_min + s.cancel.follow <= s.window);
    }

    #[test]
    fn the_test_knob_divides_within_bounds_and_nothing_else() {
        let env = |v: &'static str| move |k: &str| (k == TEST_KNOB).then(|| v.to_string());
        let tenth = Timings::from_env(&env("10"));
        assert_eq!(tenth.retry_initial, Duration::from_millis(50));
        assert_eq!(tenth.signal.settle, Duration::from_millis(150));
        assert_eq!(tenth.signal.window, Duration::from_millis(700));
        assert_eq!(tenth.cancel_mode.follow, Duration::from_secs(2));
        assert_eq!(tenth, Timings::DEFAULT.divided(10));
        for ignored in ["", "1", "0", "101", "-5", "0.5", "fast", "10s"] {
            assert_eq!(
                Timings::from_env(&env(ignored)),
                Timings::DEFAULT,
                "{ignored:?}"
            );
        }
        assert_eq!(Timings::from_env(&|_| None), Timings::DEFAULT);
        assert_eq!(
            Timings::from_env(&env("100")).tick,
            Duration::from_millis(1)
        );
    }
}
