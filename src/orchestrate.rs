//! The run's recipe, on the worker thread: prepare → trigger → read how long the
//! pipeline's past runs took → poll on the schedule they suggest ([`crate::poll`]) until
//! the run ends, looking at the steps now and then ([`crate::progress`]) → collect
//! details and the steps not read yet → this run against its past successful runs. Timeouts cancel the run. What happens
//! is sent as [`Event`]s to the caller (the supervisor), which owns the progress
//! lines, the files written once the id is known, and the answer to a signal.

use crate::clock::{Clock, Wake};
use crate::config::Config;
use crate::http::Budget;
use crate::model::{CancelResult, HistoryComparison, Outcome, RunReport, Step};
use crate::platform::{CancelAck, Platform, history};
use crate::progress::{Cadence, Tracker};
use crate::timings::{CancelTimings, Timings};
use crate::wait::{Failure, Phase, Seen, WaitStop, Waiter};
use std::time::Duration;

/// What the worker saw, in order. The last event is always [`Event::Finished`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The trigger is about to be sent for the first time, at this wall-clock time (after
    /// a signal, a run it created can be looked for in the list from then on).
    Triggering(std::time::SystemTime),
    /// The trigger was accepted: the execution id, and the report so far (names resolved,
    /// notes such as an adopted run).
    Triggered {
        /// The execution id.
        id: String,
        /// The report so far.
        report: RunReport,
    },
    /// A status different from the last one.
    Status(String),
    /// The same status for another heartbeat.
    Still {
        /// The status.
        status: String,
        /// How long the wait has lasted (whole seconds).
        after: Duration,
    },
    /// Steps that ended since the last look, seen while the run goes on (live progress,
    /// [`crate::progress`]), in the platform's order.
    StepsFinished(Vec<Step>),
    /// The run ended with this status; its details and steps are being read.
    Ended(String),
    /// The steps read after the end (or after a timeout), before the report is final.
    Steps(Vec<Step>),
    /// The report, with its outcome set.
    Finished(RunReport),
}

/// Run the whole flow: the report, with its outcome set. `send` hears every [`Event`]
/// but the last; the caller sends [`Event::Finished`] with the report returned. The
/// polling schedule's jitter is seeded from the OS.
pub fn run(
    platform: &dyn Platform,
    cfg: &Config,
    clock: &dyn Clock,
    timings: &Timings,
    send: &dyn Fn(Event),
) -> RunReport {
    run_seeded(
        platform,
        cfg,
        clock,
        timings,
        send,
        crate::poll::seed_from_os(),
    )
}

/// [`run`] with the polling schedule's jitter seeded by `seed` (tests and benchmarks).
pub fn run_seeded(
    platform: &dyn Platform,
    cfg: &Config,
    clock: &dyn Clock,
    timings: &Timings,
    send: &dyn Fn(Event),
    seed: u64,
) -> RunReport {
    let started = clock.now();
    let waiter = Waiter {
        clock,
        deadline: started + cfg.timeout,
        initial: cfg.poll_interval,
        max: cfg.max_poll_interval,
        heartbeat: timings.heartbeat,
        seed,
        lookup: timings.lost_reply_lookup,
    };
    let mut report = RunReport::for_config(cfg);

    if let Err(f) = platform.prepare(waiter.budget(), &mut report) {
        return failed_before_trigger(report, f);
    }

    if cfg.dry_run {
        return match platform.check(waiter.budget()) {
            Ok(lines) => {
                for l in lines {
                    log::info!("{l}");
                }
                report.outcome = Outcome::DryRun;
                report
            }
            Err(f) => failed_before_trigger(report, f),
        };
    }

    // Nothing new starts after a signal.
    if let Some(s) = clock.pending_signal() {
        return failed_before_trigger(report, Failure::Interrupted(s));
    }
    send(Event::Triggering(clock.wall()));
    let id = match platform.trigger(&waiter, &mut report) {
        Ok(id) => id,
        Err(f) => return failed_before_trigger(report, f),
    };
    let triggered = clock.now();
    report.execution_id = Some(id.clone());
    send(Event::Triggered {
        id: id.clone(),
        report: report.clone(),
    });

    if !cfg.wait {
        report.outcome = Outcome::Triggered;
        return report;
    }

    // One request; the deadline keeps its meaning (a slow lookup counts against it).
    let history = platform.history(Budget::until(
        (clock.now() + timings.history).min(waiter.deadline),
    ));
    let mut policy = waiter.policy(&history::durations(&history));
    if policy.uses_history() {
        log::info!("{}", policy.describe());
    } else {
        log::debug!("{}", policy.describe());
    }
    let mut progress = cfg.progress.then(|| Progress {
        cadence: Cadence::new(cfg.poll_interval),
        tracker: Tracker::new(),
    });
    let mut unread = None;
    let waited = waiter.until_end_with(
        &mut policy,
        triggered,
        |budget| {
            let state = platform.status(&id, budget)?;
            if let (Some(p), Phase::Running) = (progress.as_mut(), state.phase) {
                let elapsed = clock.now().saturating_duration_since(triggered);
                let due = p.cadence.due(elapsed, &state.status);
                if due || platform.steps_come_with_status() {
                    // A short budget of its own: a slow step list must not hold the wait.
                    let budget =
                        Budget::until((clock.now() + timings.history).min(budget.deadline));
                    let ended = p.look(platform, &id, budget);
                    if !ended.is_empty() {
                        send(Event::StepsFinished(ended));
                    }
                }
            }
            Ok(state)
        },
        |seen| match seen {
            Seen::Changed(s) => {
                report.status = Some(s.status.clone());
                send(Event::Status(s.status.clone()));
            }
            Seen::Still { status, after } => send(Event::Still {
                status: status.to_string(),
                after,
            }),
            Seen::Unread(note) => unread = Some(note),
        },
    );
    report.notes.extend(unread);

    let collect_budget = Budget::until(waiter.deadline.max(clock.now()) + timings.collect_grace);
    // The platform kept failing until the deadline (or until one more retry would pass it)
    // while the run was going: that is a timeout too (exit 3, the run cancelled), with
    // what kept failing said. (Polls are repeatable, so `Unreachable` here is the deadline.)
    let waited = match waited {
        Err(WaitStop::Failed(Failure::Unreachable(m))) => {
            log::error!("{m}");
            report.notes.push(m);
            Err(WaitStop::TimedOut(None))
        }
        other => other,
    };
    match waited {
        Ok(end) => {
            report.status = Some(end.status.clone());
            report.outcome = if end.phase == Phase::Succeeded {
                Outcome::Succeeded
            } else {
                Outcome::Failed
            };
            send(Event::Ended(end.status.clone()));
            let complete = progress
                .map(|p| p.tracker.into_complete_pages())
                .unwrap_or_default();
            if let Err(f) = platform.collect_reusing(&id, collect_budget, &mut report, complete) {
                log::warn!(
                    "the run ended {}, but its details could not be read: {f}",
                    end.status
                );
                report
                    .notes
                    .push(format!("Details and steps could not be read: {f}"));
            }
            // The details' status is authoritative only when it agrees it ended.
            report.status = Some(end.status);
            report.history = Some(HistoryComparison::of(
                report.duration,
                &history::successful(&history),
            ));
        }
        Err(WaitStop::TimedOut(last)) => {
            let was = last
                .as_ref()
                .map(|s| s.status.as_str())
                .unwrap_or("running");
            let cancel = cancel_on_timeout(platform, cfg, &id, clock, timings, was);
            report.outcome = Outcome::TimedOut { cancel };
            finish_partial(platform, &id, clock, timings, &mut report);
        }
        Err(WaitStop::Failed(Failure::Interrupted(signal))) => {
            // The caller cancels; report what is known.
            report.outcome = Outcome::Interrupted {
                signal,
                cancel: CancelResult::NotAttempted,
            };
            return report;
        }
        Err(WaitStop::Failed(f)) => {
            // Said once, by the result line.
            report.outcome = Outcome::Refused {
                reason: f.to_string(),
            };
        }
    }
    if !report.steps.is_empty() {
        send(Event::Steps(report.steps.clone()));
    }
    report
}

/// Live progress on the worker: when to look at the steps, and what was seen.
struct Progress {
    cadence: Cadence,
    tracker: Tracker,
}

impl Progress {
    /// Read the pages not complete yet, in order (stopping at the first that cannot be
    /// read: no steps while running is normal); the steps that ended since the last look.
    fn look(&mut self, platform: &dyn Platform, id: &str, budget: Budget) -> Vec<Step> {
        let mut ended = Vec::new();
        for page in self.tracker.pages_to_read() {
            match platform.step_page(id, page, budget) {
                Ok(Some(p)) => {
                    let last = p.steps.len() < p.size;
                    ended.extend(self.tracker.absorb(page, p));
                    if last {
                        break;
                    }
                }
                Ok(None) => break,
                Err(f) => {
                    log::debug!("the steps could not be read while the run goes on: {f}");
                    break;
                }
            }
        }
        ended
    }
}

/// The timeout's clean-up: cancel the run if the platform can and `cancel-on-timeout`
/// asks for it; say what became of it.
fn cancel_on_timeout(
    platform: &dyn Platform,
    cfg: &Config,
    id: &str,
    clock: &dyn Clock,
    timings: &Timings,
    was: &str,
) -> CancelResult {
    let after = humantime::format_duration(cfg.timeout);
    if !platform.can_cancel() {
        log::warn!(
            "timed out after {after} while the run was {was}; {}",
            no_cancel(platform, id)
        );
        CancelResult::Unsupported
    } else if cfg.cancel_on_timeout {
        log::warn!("timed out after {after} while the run was {was}; cancelling it");
        cancel_and_follow(platform, id, clock, timings, timings.timeout_cancel, true)
    } else {
        log::warn!("timed out after {after}; the run goes on (cancel-on-timeout is false)");
        CancelResult::NotAttempted
    }
}

/// After a timeout: the latest status, details and steps, within a short budget.
fn finish_partial(
    platform: &dyn Platform,
    id: &str,
    clock: &dyn Clock,
    timings: &Timings,
    report: &mut RunReport,
) {
    let budget = Budget::until(clock.now() + timings.partial_budget);
    if let Ok(s) = platform.status(id, budget) {
        report.status = Some(s.status);
    }
    if let Err(f) = platform.collect(id, budget, report) {
        log::warn!("could not read the run's details: {f}");
    }
}

fn failed_before_trigger(mut report: RunReport, f: Failure) -> RunReport {
    report.outcome = match f {
        Failure::Interrupted(signal) => Outcome::Interrupted {
            signal,
            cancel: CancelResult::NotAttempted,
        },
        Failure::TimedOut(m) => {
            log::error!("{m}");
            report.notes.push(m);
            Outcome::TimedOut {
                cancel: CancelResult::NotAttempted,
            }
        }
        // Said once, by the result line.
        other => Outcome::Refused {
            reason: other.to_string(),
        },
    };
    report
}

/// After a signal, when the trigger's reply has not come: the run a trigger first sent at
/// `at` created, looked up in the platform's list within `lookup` (not cut short by the
/// signal), so that it is cancelled rather than left running. Says what it found.
pub(crate) fn find_lost_run(
    platform: &dyn Platform,
    at: std::time::SystemTime,
    clock: &dyn Clock,
    lookup: Duration,
) -> Option<String> {
    let budget = Budget {
        deadline: clock.now() + lookup,
        interruptible: false,
    };
    let found = platform.find_triggered(at, budget);
    match &found {
        Some(id) => log::warn!(
            "found execution {} created by the trigger",
            crate::http::clean(id)
        ),
        None => log::warn!("no run created by the trigger was found; if one was, it goes on"),
    }
    found
}

/// After a signal: cancel `id` and follow it, within what is left of the signal window
/// that began at `signalled` (the follow is paid for first, then the request, never less
/// than `cancel_min`). A platform that cannot cancel says so instead.
pub(crate) fn cancel_after_signal(
    platform: &dyn Platform,
    id: &str,
    clock: &dyn Clock,
    timings: &Timings,
    signalled: std::time::Instant,
) -> CancelResult {
    if !platform.can_cancel() {
        log::warn!("{}", no_cancel(platform, id));
        return CancelResult::Unsupported;
    }
    log::warn!("cancelling execution {id}");
    let s = timings.signal;
    let left = s
        .window
        .saturating_sub(clock.now().saturating_duration_since(signalled))
        .saturating_sub(s.cancel.follow);
    let cancel = CancelTimings {
        budget: s.cancel.budget.min(left).max(s.cancel_min),
        follow: s.cancel.follow,
    };
    cancel_and_follow(platform, id, clock, timings, cancel, false)
}

/// For a platform that cannot cancel: the sentence the log says instead.
pub(crate) fn no_cancel(platform: &dyn Platform, id: &str) -> String {
    let name = platform.kind().display_name();
    format!("{name} has no way to cancel execution {id}: the execution continues on {name}")
}

/// Ask the platform to cancel `id` within `cancel.budget`, then follow it to its end for
/// up to `cancel.follow`, polling every `timings.follow_step`. `interruptible: false` for
/// the clean-up after a signal (its waits must not be cut short).
pub(crate) fn cancel_and_follow(
    platform: &dyn Platform,
    id: &str,
    clock: &dyn Clock,
    timings: &Timings,
    cancel: CancelTimings,
    interruptible: bool,
) -> CancelResult {
    let budget = Budget {
        deadline: clock.now() + cancel.budget,
        interruptible,
    };
    match platform.cancel(id, budget) {
        Ok(CancelAck::Unsupported) => {
            log::warn!("{}", no_cancel(platform, id));
            return CancelResult::Unsupported;
        }
        Ok(CancelAck::AlreadyEnded) => {
            log::info!("execution {id} had already ended");
            return CancelResult::NotAttempted;
        }
        Ok(CancelAck::Accepted) => log::info!("cancel requested for execution {id}"),
        Err(f) => {
            log::error!("could not cancel execution {id}: {f}");
            return CancelResult::Failed(f.to_string());
        }
    }
    let end = clock.now() + cancel.follow;
    loop {
        let budget = Budget {
            deadline: end.max(clock.now() + timings.follow_poll_min),
            interruptible,
        };
        match platform.status(id, budget) {
            Ok(s) if s.phase != Phase::Running => {
                log::info!("execution {id} is now {}", crate::http::clean(&s.status));
                return CancelResult::Cancelled;
            }
            Ok(_) => {}
            Err(_) => return CancelResult::Requested,
        }
        if clock.now() >= end {
            return CancelResult::Requested;
        }
        let step = timings.follow_step.min(end - clock.now());
        if interruptible {
            if let Wake::Signal(_) = clock.sleep(step) {
                return CancelResult::Requested;
            }
        } else {
            clock.pause(step);
        }
    }
}
