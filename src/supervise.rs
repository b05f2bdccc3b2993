//! The supervisor: the run goes on a worker thread (so that a signal is answered even while
//! a request is in flight), and this thread hears what happened as [`Event`]s over a
//! channel. It owns every progress line, the files written once the id is known, and the
//! decision to cancel after a signal, within the windows of [`SignalTimings`].

use crate::ci::CiKind;
use crate::clock::{Clock, Signal};
use crate::config::Config;
use crate::emit;
use crate::http::clean;
use crate::model::{CancelResult, Outcome, RunReport, Step};
use crate::orchestrate::{self, Event};
use crate::platform::Platform;
use crate::report;
use crate::text::one_line;
use crate::timings::{SignalTimings, Timings};
use crate::wait::still_line;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// What the worker has said so far, as this thread keeps it.
struct Watch<'a> {
    events: mpsc::Receiver<Event>,
    /// The report as far as known.
    report: RunReport,
    /// The execution id while it is running and followed (cancelled on a signal).
    running: Option<String>,
    /// When the trigger was first sent, while its reply has not come.
    triggering: Option<std::time::SystemTime>,
    wait: bool,
    /// Called once the id is known (id files, `GITHUB_STATE`, the waiting group).
    on_triggered: Box<dyn Fn(&str) + 'a>,
}

/// How a wait for the worker ended.
enum Heard {
    /// It finished with this report.
    Finished(Box<RunReport>),
    /// Nothing more within the time given.
    Quiet,
    /// It is gone without a report.
    Gone,
}

impl Heard {
    fn finished(self) -> Option<RunReport> {
        match self {
            Heard::Finished(r) => Some(*r),
            Heard::Quiet | Heard::Gone => None,
        }
    }
}

impl Watch<'_> {
    /// Take in events until the worker finishes, or until `d` passes (real time: the
    /// worker's pace is real even on a simulated clock).
    fn hear(&mut self, d: Duration) -> Heard {
        let end = Instant::now() + d;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Event::Finished(r)) => return Heard::Finished(Box::new(r)),
                Ok(e) => self.take(e),
                Err(mpsc::RecvTimeoutError::Timeout) => return Heard::Quiet,
                Err(mpsc::RecvTimeoutError::Disconnected) => return Heard::Gone,
            }
        }
    }

    /// One event: the line it prints, and what it changes in the report so far.
    fn take(&mut self, e: Event) {
        match e {
            Event::Triggering(at) => self.triggering = Some(at),
            Event::Triggered { id, report } => {
                self.triggering = None;
                log::info!(
                    "triggered {} '{}': execution {id}",
                    report.platform.display_name(),
                    report.pipeline
                );
                if let Some(url) = crate::links::execution_url(report.platform, &id) {
                    log::info!("follow it at {url}");
                }
                (self.on_triggered)(&id);
                self.report = report;
                self.running = self.wait.then_some(id);
            }
            Event::Attached { id, report } => {
                log::info!("{}", attached_line(&report, &id));
                if let Some(url) = crate::links::execution_url(report.platform, &id) {
                    log::info!("follow it at {url}");
                }
                (self.on_triggered)(&id);
                // Never cancelled on a signal: this step did not start it.
                self.report = report;
            }
            Event::Status(s) => {
                log::info!("status: {}", clean(&s));
                self.report.status = Some(s);
            }
            Event::Still { status, after } => log::info!("{}", still_line(&status, after)),
            Event::Ended(s) => {
                self.report.status = Some(s);
                self.running = None;
            }
            Event::StepsFinished(steps) => {
                for line in progress_lines(&steps) {
                    match line {
                        (true, l) => log::warn!("{l}"),
                        (false, l) => log::info!("{l}"),
                    }
                }
            }
            Event::Steps(steps) => self.report.steps = steps,
            Event::Finished(_) => {}
        }
    }

    /// The execution id the worker has made known, if any.
    fn known_execution(&self) -> Option<&str> {
        self.running
            .as_deref()
            .or(self.report.execution_id.as_deref())
    }
}

/// The line that says which execution `wait` follows: what the platform says of it.
pub(crate) fn attached_line(report: &RunReport, id: &str) -> String {
    let mut line = format!(
        "following {} '{}': execution {}",
        report.platform.display_name(),
        clean(&report.pipeline),
        clean(id)
    );
    if let Some(t) = &report.started_at {
        line.push_str(&format!(", started {}", clean(t)));
    }
    if let Some(t) = &report.trigger {
        line.push_str(&format!(" by {}", clean(t)));
    }
    line.push_str(" (not started by this step: left running if the wait stops early)");
    line
}

/// At most this many lines for the steps that ended since the last look (every failed
/// one is said); the step list at the end has them all.
pub(crate) const PROGRESS_LINES: usize = 50;

/// The lines for steps that ended while the run goes on (`true`: a failed step, said as a
/// warning). Remote text on one line, a message cut at 500 characters; each line starts
/// with the log's prefix, so none can be a workflow command.
pub(crate) fn progress_lines(steps: &[Step]) -> Vec<(bool, String)> {
    let mut lines = Vec::new();
    let mut others = 0usize;
    for st in steps {
        let dur = st
            .duration
            .map(|d| format!(" in {}", report::humanize_duration(d)))
            .unwrap_or_default();
        let (name, status) = (one_line(&st.name), one_line(&st.status));
        if st.failed {
            let msg = st
                .message
                .as_deref()
                .map(|m| format!(": {}", report::truncate_chars(&one_line(m), 500)))
                .unwrap_or_default();
            lines.push((true, format!("step '{name}' ended {status}{dur}{msg}")));
        } else if others < PROGRESS_LINES {
            others += 1;
            lines.push((false, format!("step '{name}' ended {status}{dur}")));
        } else {
            others += 1;
        }
    }
    if others > PROGRESS_LINES {
        lines.push((
            false,
            format!(
                "… and {} more steps ended (listed at the end)",
                others - PROGRESS_LINES
            ),
        ));
    }
    lines
}

fn refused(cfg: &Config, reason: String) -> RunReport {
    let mut r = RunReport::for_config(cfg);
    r.outcome = Outcome::Refused { reason };
    r
}

/// The run on a worker thread; this thread prints its progress and answers signals (from
/// `signals`, or the clock's own).
pub fn run_with(
    platform: Arc<dyn Platform>,
    cfg: &Config,
    clock: Arc<dyn Clock>,
    timings: &Timings,
    signals: mpsc::Receiver<Signal>,
    env: &dyn Fn(&str) -> Option<String>,
    ci: CiKind,
) -> RunReport {
    let (tx, events) = mpsc::channel::<Event>();
    // After `wait`, the post step has nothing to clean up: no id is saved for it.
    let state_file = emit::state_saver(ci, env, cfg.wait, cfg.attach.is_none());
    let id_files = emit::id_saver(cfg);
    let spawned = {
        let platform = platform.clone();
        let cfg = cfg.clone();
        let clock = clock.clone();
        let timings = *timings;
        std::thread::Builder::new()
            .name("run".into())
            .spawn(move || {
                let send = |e| {
                    let _ = tx.send(e);
                };
                let report =
                    orchestrate::run(platform.as_ref(), &cfg, clock.as_ref(), &timings, &send);
                send(Event::Finished(report));
            })
    };
    if let Err(e) = spawned {
        return refused(cfg, format!("could not start the worker thread: {e}"));
    }
    let mut watch = Watch {
        events,
        report: RunReport::for_config(cfg),
        running: None,
        triggering: None,
        wait: cfg.wait,
        on_triggered: Box::new(move |id: &str| {
            id_files(id);
            state_file(id);
        }),
    };

    // Wait for the worker, or for a signal. The worker wakes from its sleeps on a signal
    // and may well report first: its report is then the start of the clean-up, not the end.
    let (signal, early) = loop {
        match watch.hear(timings.tick) {
            Heard::Finished(report) => match report.outcome {
                Outcome::Interrupted { signal, .. } => break (signal, Some(*report)),
                _ => return *report,
            },
            Heard::Gone => return refused(cfg, "the run stopped unexpectedly".into()),
            Heard::Quiet => {}
        }
        if let Some(s) = signals.try_recv().ok().or_else(|| clock.pending_signal()) {
            break (s, None);
        }
    };
    after_signal(
        &mut watch,
        platform.as_ref(),
        cfg,
        clock.as_ref(),
        timings,
        signal,
        early,
    )
}

/// The clean-up after `signal`: let the worker stop, cancel a run still going, and say so.
fn after_signal(
    watch: &mut Watch<'_>,
    platform: &dyn Platform,
    cfg: &Config,
    clock: &dyn Clock,
    timings: &Timings,
    signal: Signal,
    early: Option<RunReport>,
) -> RunReport {
    log::warn!("received {signal}: stopping");
    let signalled = clock.now();
    let SignalTimings {
        settle,
        trigger_wait,
        lookup,
        ..
    } = timings.signal;

    // Give the worker a moment to stop by itself (it wakes from any sleep at once).
    let mut finished = early.or_else(|| watch.hear(settle).finished());
    if finished.is_none() && cfg.wait && cfg.attach.is_none() && watch.known_execution().is_none() {
        log::info!(
            "waiting a moment for the trigger's reply, so that a run it created is cancelled"
        );
        finished = watch.hear(trigger_wait).finished();
        // Still no reply: the run may exist all the same (its 201 held up). Look for it in
        // the list, so that it is cancelled rather than left running.
        if finished.is_none() && watch.known_execution().is_none() {
            if let Some(at) = watch.triggering {
                log::info!("the trigger's reply has not come; looking for the run it created");
                if let Some(id) = orchestrate::find_lost_run(platform, at, clock, lookup) {
                    watch.report.execution_id = Some(id.clone());
                    (watch.on_triggered)(&id);
                    watch.running = Some(id);
                }
            }
        }
    }
    if let Some(r) = &finished {
        if !matches!(r.outcome, Outcome::Interrupted { .. }) {
            // It ended on its own (the run finished just as the signal came).
            return r.clone();
        }
    }
    let mut report = finished.unwrap_or_else(|| watch.report.clone());

    // A run still going is cancelled (never with wait: false, never one `wait` followed).
    if let (Some(id), Some(_)) = (&watch.report.execution_id, &cfg.attach) {
        log::warn!(
            "execution {} goes on: this step did not start it, and does not cancel it",
            clean(id)
        );
    }
    let result = match watch.running.clone().filter(|_| cfg.wait) {
        Some(id) => orchestrate::cancel_after_signal(platform, &id, clock, timings, signalled),
        None => CancelResult::NotAttempted,
    };
    if matches!(result, CancelResult::Cancelled) {
        report.status = Some("CANCELLED".into());
    }
    report.outcome = Outcome::Interrupted {
        signal,
        cancel: result,
    };
    report
}
