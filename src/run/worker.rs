//! The worker: one pipeline's recipe, on a worker thread. Three steps: **start** (prepare,
//! then trigger: [`start`]), **wait** (read how long the pipeline's past runs took, then
//! poll on the schedule they suggest, [`crate::poll`], looking at the steps now and then,
//! [`crate::progress`]: [`wait`]) and **finish** (details, the steps not read yet, this run
//! against its past successful runs; a timeout cancels the run: [`finish`]). What happens
//! is sent as [`Event`]s to the supervisor ([`super::supervisor`]), which owns every line
//! of progress, the files written once the id is known, and the answer to a signal.
//!
//! The start step is the only one that knows how the execution came to be: the wait and
//! finish steps take an execution id and the instant it started, so another way to start
//! (following an execution that already exists) only replaces [`start`].

use super::board::{Board, Joining, Seat};
use super::cleanup::cancel_on_timeout;
use crate::clock::Clock;
use crate::config::{Attach, Config};
use crate::http::Budget;
use crate::model::{CancelResult, HistoryComparison, Outcome, RunReport, Step};
use crate::platform::{PastRun, Platform, history};
use crate::poll::Policy;
use crate::progress::{Cadence, Tracker};
use crate::timings::Timings;
use crate::wait::{Failure, Pace, Phase, RunState, Seen, WaitStop, Waiter};
use std::time::{Duration, Instant, SystemTime};

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
    /// `wait`: the execution to follow was found (no trigger was sent): its id, and the
    /// report so far (what the platform says of it).
    Attached {
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

/// What one pipeline's steps share: where it runs, its inputs, and where it says what
/// happened.
struct Job<'a> {
    platform: &'a dyn Platform,
    cfg: &'a Config,
    clock: &'a dyn Clock,
    timings: &'a Timings,
    send: &'a dyn Fn(Event),
    waiter: Waiter<'a>,
    /// The poll board of the step's runs, when several go at once ([`super::board`]).
    board: Option<&'a Board>,
}

/// An execution the worker follows: its id, when it started (for the wait's schedule),
/// and when its trigger was first sent (wall clock; `None` for one `wait` follows).
struct Started {
    id: String,
    at: Instant,
    sent: Option<SystemTime>,
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
    run_on(platform, cfg, clock, timings, send, seed, None)
}

/// [`run_seeded`], waiting on `board` when the step has one (several runs at once).
pub(crate) fn run_on(
    platform: &dyn Platform,
    cfg: &Config,
    clock: &dyn Clock,
    timings: &Timings,
    send: &dyn Fn(Event),
    seed: u64,
    board: Option<&Board>,
) -> RunReport {
    let job = Job {
        platform,
        cfg,
        clock,
        timings,
        send,
        waiter: Waiter {
            clock,
            deadline: clock.now() + cfg.timeout,
            initial: cfg.poll_interval,
            max: cfg.max_poll_interval,
            heartbeat: timings.heartbeat,
            seed,
            lookup: timings.lost_reply_lookup,
        },
        board,
    };
    let mut report = RunReport::for_config(cfg);
    let started = match start(&job, &mut report) {
        Ok(Some(s)) => s,
        Ok(None) => return report,
        Err(f) => return failed_before_trigger(report, f),
    };
    if !cfg.wait {
        report.outcome = Outcome::Triggered;
        return report;
    }
    // The pipeline's past runs, in one request; the deadline keeps its meaning (a slow
    // lookup counts against it).
    let history = job.platform.history(Budget::until(
        (clock.now() + timings.history).min(job.waiter.deadline),
    ));
    let (waited, complete) = wait(&job, &started, &history, &mut report);
    finish(&job, &started.id, waited, complete, &history, report)
}

/// The start step: prepare, then trigger (at most once), or for `wait`, find the
/// execution to follow ([`attach`]). `Ok(None)`: nothing to follow, the report's outcome
/// is set (a dry run).
fn start(job: &Job<'_>, report: &mut RunReport) -> Result<Option<Started>, Failure> {
    let (platform, clock) = (job.platform, job.clock);
    platform.prepare(job.waiter.budget(), report)?;
    if let Some(a) = &job.cfg.attach {
        return attach(job, a, report).map(Some);
    }
    if job.cfg.dry_run {
        for l in platform.check(job.waiter.budget())? {
            log::info!("{l}");
        }
        report.outcome = Outcome::DryRun;
        return Ok(None);
    }
    // Nothing new starts after a signal.
    if let Some(s) = clock.pending_signal() {
        return Err(Failure::Interrupted(s));
    }
    let sent = clock.wall();
    (job.send)(Event::Triggering(sent));
    let id = platform.trigger(&job.waiter, report)?;
    let at = clock.now();
    report.execution_id = Some(id.clone());
    (job.send)(Event::Triggered {
        id: id.clone(),
        report: report.clone(),
    });
    Ok(Some(Started {
        id,
        at,
        sent: Some(sent),
    }))
}

/// `wait`'s start: the execution `a` names, followed from when it started.
fn attach(job: &Job<'_>, a: &Attach, report: &mut RunReport) -> Result<Started, Failure> {
    let (id, _) = crate::attach::find(job.platform, a, &job.waiter, report)?;
    (job.send)(Event::Attached {
        id: id.clone(),
        report: report.clone(),
    });
    let at = crate::attach::started_at(report, &job.waiter);
    Ok(Started { id, at, sent: None })
}

/// The wait step: poll `started` until it ends (or the deadline, or a signal), on a
/// schedule fitted to `history` (or on the step's poll board, when it has one), looking at
/// the steps while it runs. How the wait ended, and the step pages read whole while it ran.
fn wait(
    job: &Job<'_>,
    started: &Started,
    history: &[PastRun],
    report: &mut RunReport,
) -> (Result<RunState, WaitStop>, Vec<Vec<Step>>) {
    let platform = job.platform;
    let mut policy = job.waiter.policy(&history::durations(history));
    if policy.uses_history() {
        log::info!("{}", policy.describe());
    } else {
        log::debug!("{}", policy.describe());
    }
    let seat = seat_for(job, started, report, &policy);
    let mut progress = job.cfg.progress.then(|| Progress {
        cadence: Cadence::new(job.cfg.poll_interval),
        tracker: Tracker::new(),
    });
    let id = started.id.as_str();
    let mut unread = None;
    let poll = |budget: Budget| {
        let state = match &seat {
            Some(s) => s.read(|| platform.status(id, budget)),
            None => platform.status(id, budget),
        }?;
        if let Some(p) = progress.as_mut() {
            p.at_poll(job, id, started.at, &state, budget);
        }
        Ok(state)
    };
    let seen = |seen: Seen<'_>| match seen {
        Seen::Changed(s) => {
            report.status = Some(s.status.clone());
            (job.send)(Event::Status(s.status.clone()));
        }
        Seen::Still { status, after } => (job.send)(Event::Still {
            status: status.to_string(),
            after,
        }),
        Seen::Unread(note) => unread = Some(note),
    };
    let mut on_board = seat.as_ref();
    let pace: &mut dyn Pace = match on_board.as_mut() {
        Some(s) => s,
        None => &mut policy,
    };
    let waited = job.waiter.until_end_with(pace, started.at, poll, seen);
    // Off the board before the details are read: it stops looking for this run.
    drop(seat);
    report.notes.extend(unread);
    let complete = progress
        .map(|p| p.tracker.into_complete_pages())
        .unwrap_or_default();
    (waited, complete)
}

/// A seat on the step's poll board for `started`, with (a copy of) its schedule `policy`,
/// when the step has one and this worker triggered the run.
fn seat_for<'a>(
    job: &Job<'a>,
    started: &Started,
    report: &RunReport,
    policy: &Policy,
) -> Option<Seat<'a>> {
    let (board, since) = (job.board?, started.sent?);
    let run = Joining {
        id: started.id.clone(),
        environment: report.environment.clone(),
        since,
        started: started.at,
        policy: policy.clone(),
    };
    board.join(run, job.clock.now())
}

/// The finish step: the outcome from how the wait ended; the details and steps of a run
/// that ended (reusing the pages read whole while it ran), or the timeout's cancel and
/// what could be read after it.
fn finish(
    job: &Job<'_>,
    id: &str,
    waited: Result<RunState, WaitStop>,
    complete: Vec<Vec<Step>>,
    history: &[PastRun],
    mut report: RunReport,
) -> RunReport {
    let (platform, clock, timings) = (job.platform, job.clock, job.timings);
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
            let budget =
                Budget::until(job.waiter.deadline.max(clock.now()) + timings.collect_grace);
            ended(job, id, end, budget, complete, &mut report);
            report.history = Some(HistoryComparison::of(
                report.duration,
                &history::successful(history),
            ));
        }
        Err(WaitStop::TimedOut(last)) => {
            let was = last
                .as_ref()
                .map(|s| s.status.as_str())
                .unwrap_or("running");
            let cancel = cancel_on_timeout(platform, job.cfg, id, clock, timings, was);
            report.outcome = Outcome::TimedOut { cancel };
            finish_partial(platform, id, clock, timings, &mut report);
        }
        Err(WaitStop::Failed(Failure::Interrupted(signal))) => {
            // The supervisor cancels; report what is known.
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
        (job.send)(Event::Steps(report.steps.clone()));
    }
    report
}

/// The run ended with `end`: its outcome, then its details and steps within `budget`.
fn ended(
    job: &Job<'_>,
    id: &str,
    end: RunState,
    budget: Budget,
    complete: Vec<Vec<Step>>,
    report: &mut RunReport,
) {
    report.status = Some(end.status.clone());
    report.outcome = if end.phase == Phase::Succeeded {
        Outcome::Succeeded
    } else {
        Outcome::Failed
    };
    (job.send)(Event::Ended(end.status.clone()));
    if let Err(f) = job.platform.collect_reusing(id, budget, report, complete) {
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
}

/// Live progress on the worker: when to look at the steps, and what was seen.
struct Progress {
    cadence: Cadence,
    tracker: Tracker,
}

impl Progress {
    /// At a poll that saw `state`: a look at the steps when one is due (with a short
    /// budget of its own, within `budget`: a slow step list must not hold the wait), the
    /// steps that ended since the last one sent.
    fn at_poll(
        &mut self,
        job: &Job<'_>,
        id: &str,
        since: Instant,
        state: &RunState,
        budget: Budget,
    ) {
        if state.phase != Phase::Running {
            return;
        }
        let (clock, platform) = (job.clock, job.platform);
        let elapsed = clock.now().saturating_duration_since(since);
        let due = self.cadence.due(elapsed, &state.status);
        if due || platform.steps_come_with_status() {
            let budget = Budget::until((clock.now() + job.timings.history).min(budget.deadline));
            let ended = self.look(platform, id, budget);
            if !ended.is_empty() {
                (job.send)(Event::StepsFinished(ended));
            }
        }
    }

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

pub(crate) fn failed_before_trigger(mut report: RunReport, f: Failure) -> RunReport {
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
