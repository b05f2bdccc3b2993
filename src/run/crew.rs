//! The worker threads: at most `max-parallel` (one for one pipeline), each taking the next
//! pipeline from a queue and running it ([`worker::run`]) with its own [`Config`] and
//! platform client; with `fail-fast`, on a clock that the supervisor can stop
//! ([`StopClock`]). Everything a worker sees is sent to the supervisor as
//! `(index, Event)`.

use super::board::Board;
use super::cleanup::{cancel_and_follow, no_cancel};
use super::worker::{self, Event};
use crate::clock::{Clock, Signal, Wake};
use crate::config::Config;
use crate::model::{CancelResult, Outcome, RunReport};
use crate::platform::Platform;
use crate::timings::Timings;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime};

/// While stopped, a sleep wakes at most this late.
const STOP_STEP: Duration = Duration::from_millis(50);

/// A clock whose sleeps also end when the supervisor stops the workers (`fail-fast`):
/// a stop reads as a SIGINT to the code below, which then ends its wait as it does on a
/// signal. The supervisor knows which it was.
pub(crate) struct StopClock {
    inner: Arc<dyn Clock>,
    stop: Arc<AtomicBool>,
}

impl StopClock {
    /// `inner`, stopped when `stop` is set.
    pub(crate) fn new(inner: Arc<dyn Clock>, stop: Arc<AtomicBool>) -> Self {
        Self { inner, stop }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

impl Clock for StopClock {
    fn now(&self) -> Instant {
        self.inner.now()
    }
    fn wall(&self) -> SystemTime {
        self.inner.wall()
    }
    fn sleep(&self, d: Duration) -> Wake {
        let end = self.inner.now() + d;
        loop {
            if let Some(s) = self.pending_signal() {
                return Wake::Signal(s);
            }
            let left = end.saturating_duration_since(self.inner.now());
            if left.is_zero() {
                return Wake::Elapsed;
            }
            if let Wake::Signal(s) = self.inner.sleep(left.min(STOP_STEP)) {
                return Wake::Signal(s);
            }
        }
    }
    fn pending_signal(&self) -> Option<Signal> {
        self.inner
            .pending_signal()
            .or_else(|| self.stopped().then_some(Signal::Int))
    }
    fn pause(&self, d: Duration) {
        self.inner.pause(d);
    }
}

/// What the workers share.
pub(crate) struct Crew {
    /// One config per pipeline.
    pub(crate) runs: Vec<Config>,
    /// One client per pipeline (sharing connections, pace, token and project).
    pub(crate) platforms: Vec<Arc<dyn Platform>>,
    /// The clock every pipeline runs on (a [`StopClock`] with `fail-fast`).
    pub(crate) clock: Arc<dyn Clock>,
    /// The real clock under it, to tell a signal from a stop.
    pub(crate) outer: Arc<dyn Clock>,
    /// Set when a pipeline ends in failure with `fail-fast`: the others stop.
    pub(crate) stop: Arc<AtomicBool>,
    /// `fail-fast`.
    pub(crate) fail_fast: bool,
    /// `max-parallel`.
    pub(crate) max_parallel: usize,
    /// The step's deadline: a pipeline that starts late gets what is left of it.
    pub(crate) deadline: Instant,
    /// The program's durations.
    pub(crate) timings: Timings,
    /// Pipelines not started yet, in order.
    pub(crate) queue: Mutex<VecDeque<usize>>,
    /// The poll board, when several runs may go at once ([`super::board`]).
    pub(crate) board: Option<Arc<Board>>,
}

/// Start the workers (at most `max-parallel`, at most one per pipeline), sending to `tx`;
/// how many could be started.
pub(crate) fn start(crew: &Arc<Crew>, tx: &mpsc::Sender<(usize, Event)>) -> usize {
    let threads = crew.max_parallel.min(crew.runs.len());
    let mut started = 0;
    for n in 0..threads {
        let crew = crew.clone();
        let tx = tx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("run-{n}"))
            .spawn(move || work(&crew, &tx));
        match spawned {
            Ok(_) => started += 1,
            Err(e) => log::warn!("could not start worker thread {n}: {e}"),
        }
    }
    started
}

/// Take pipelines from the queue until it is empty. The first is taken at the start of
/// the step; the others waited their turn.
fn work(crew: &Crew, tx: &mpsc::Sender<(usize, Event)>) {
    let several = crew.runs.len() > 1;
    let mut waited = false;
    loop {
        let next = crew
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front();
        let Some(i) = next else { break };
        let cfg = &crew.runs[i];
        crate::logging::set_context(several.then_some(cfg.pipeline()));
        let send = |e| {
            let _ = tx.send((i, e));
        };
        let report = run_one(crew, i, waited, &send);
        waited = true;
        // Decided here, before this worker takes the next pipeline: with fail-fast, a
        // failure stops the others and keeps the rest from starting.
        if crew.fail_fast && ends_the_step(&report.outcome) {
            crew.stop.store(true, Ordering::SeqCst);
        }
        send(Event::Finished(report));
        crate::logging::set_context(None);
    }
}

/// Whether `outcome` is a failure that `fail-fast` stops the others for: failed, refused
/// or timed out (not a stop or an interruption, which follow from something else).
pub(crate) fn ends_the_step(outcome: &Outcome) -> bool {
    matches!(
        outcome,
        Outcome::Failed | Outcome::Refused { .. } | Outcome::TimedOut { .. }
    )
}

/// Pipeline `i` (`waited`: after its turn came), or why it did not start.
fn run_one(crew: &Crew, i: usize, waited: bool, send: &dyn Fn(Event)) -> RunReport {
    let cfg = &crew.runs[i];
    if waited {
        if let Some(report) = not_started(crew, cfg) {
            return report;
        }
    }
    // The timeout counts from the start of the step, for a pipeline that waited its turn
    // as for the first ones.
    let cfg = Config {
        timeout: if waited {
            crew.deadline.saturating_duration_since(crew.clock.now())
        } else {
            cfg.timeout
        },
        ..cfg.clone()
    };
    let platform = crew.platforms[i].as_ref();
    let report = worker::run_on(
        platform,
        &cfg,
        crew.clock.as_ref(),
        &crew.timings,
        send,
        crate::poll::seed_from_os(),
        crew.board.as_deref(),
    );
    match report.outcome {
        // Stopped by the supervisor (another pipeline failed), not by a signal.
        Outcome::Interrupted { .. }
            if crew.outer.pending_signal().is_none() && crew.stop.load(Ordering::SeqCst) =>
        {
            stopped(crew, platform, &cfg, report)
        }
        _ => report,
    }
}

/// Why a pipeline whose turn came does not start: a signal, `fail-fast`, or the timeout.
fn not_started(crew: &Crew, cfg: &Config) -> Option<RunReport> {
    let mut report = RunReport::for_config(cfg);
    let (outcome, note) = if let Some(signal) = crew.outer.pending_signal() {
        let cancel = CancelResult::NotAttempted;
        (Outcome::Interrupted { signal, cancel }, NOT_STARTED_SIGNAL)
    } else if crew.stop.load(Ordering::SeqCst) {
        let cancel = CancelResult::NotAttempted;
        (Outcome::Stopped { cancel }, NOT_STARTED_FAIL_FAST)
    } else if crew.deadline <= crew.clock.now() {
        let cancel = CancelResult::NotAttempted;
        (Outcome::TimedOut { cancel }, NOT_STARTED_TIMEOUT)
    } else {
        return None;
    };
    report.outcome = outcome;
    report.notes.push(note.into());
    Some(report)
}

/// A pipeline that `fail-fast` stopped: its run is cancelled here, beside the others'
/// cancels.
fn stopped(crew: &Crew, platform: &dyn Platform, cfg: &Config, mut report: RunReport) -> RunReport {
    let clock = crew.clock.as_ref();
    // Never one that `wait` followed: this step did not start it.
    let ours = cfg.wait && cfg.attach.is_none();
    let cancel = match report.execution_id.clone().filter(|_| ours) {
        Some(id) if platform.can_cancel() => {
            log::warn!("cancelling execution {id} (fail-fast)");
            let t = crew.timings.timeout_cancel;
            cancel_and_follow(platform, &id, clock, &crew.timings, t, false)
        }
        Some(id) => {
            log::warn!("{}", no_cancel(platform, &id));
            CancelResult::Unsupported
        }
        None => CancelResult::NotAttempted,
    };
    if matches!(cancel, CancelResult::Cancelled) {
        report.status = Some("CANCELLED".into());
    }
    if report.execution_id.is_none() {
        report.notes.push(NOT_STARTED_FAIL_FAST.into());
    }
    report.outcome = Outcome::Stopped { cancel };
    report
}

/// The note of a pipeline that `fail-fast` kept from starting.
pub(crate) const NOT_STARTED_FAIL_FAST: &str =
    "Not started: another pipeline ended in failure and fail-fast is on.";
/// The note of a pipeline that a signal kept from starting.
pub(crate) const NOT_STARTED_SIGNAL: &str =
    "Not started: the step was interrupted before its turn.";
/// The note of a pipeline whose turn came after the timeout.
pub(crate) const NOT_STARTED_TIMEOUT: &str =
    "Not started: the timeout passed before its turn (see max-parallel).";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SimClock;

    #[test]
    fn a_stop_ends_a_sleep_as_a_signal_would() {
        let sim = SimClock::new();
        let stop = Arc::new(AtomicBool::new(false));
        let clock = StopClock::new(sim.clone(), stop.clone());
        assert_eq!(clock.sleep(Duration::from_secs(3)), Wake::Elapsed);
        assert_eq!(sim.elapsed(), Duration::from_secs(3));
        assert_eq!(clock.pending_signal(), None);
        stop.store(true, Ordering::SeqCst);
        assert_eq!(
            clock.sleep(Duration::from_secs(3)),
            Wake::Signal(Signal::Int)
        );
        assert_eq!(clock.pending_signal(), Some(Signal::Int));
        assert_eq!(sim.elapsed(), Duration::from_secs(3));
    }
}
