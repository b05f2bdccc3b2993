//! The supervisor: every pipeline runs on a worker thread ([`super::crew`]; so that a
//! signal is answered even while a request is in flight), and this thread hears what
//! happened as `(pipeline, Event)` over a channel. It owns every progress line (marked
//! with the pipeline's name when there are several), saves the execution ids as soon as
//! they are known ([`IdSaver`]), and answers a signal ([`super::cleanup::after_signal`]).
//! One pipeline is the case N = 1.

use super::cleanup;
use super::crew::{self, Crew};
use super::worker::Event;
use crate::clock::{Clock, Signal};
use crate::config::Config;
use crate::emit::IdSaver;
use crate::model::{Outcome, RunReport, Step};
use crate::report::fleet::FleetReport;
use crate::report::{self, outcome_name};
use crate::text::{clean, one_line};
use crate::timings::Timings;
use crate::wait::still_line;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant, SystemTime};

/// One pipeline, as this thread knows it.
pub(super) struct Slot {
    /// Its report so far.
    pub(super) report: RunReport,
    /// Its execution id while it runs and is followed (cancelled on a signal).
    pub(super) running: Option<String>,
    /// When its trigger was first sent, while the reply has not come.
    pub(super) triggering: Option<SystemTime>,
    /// Its final report, once its worker is done.
    pub(super) done: Option<RunReport>,
}

impl Slot {
    /// Its trigger may have been sent, and no reply has come.
    pub(super) fn awaiting_reply(&self) -> bool {
        self.done.is_none() && self.running.is_none() && self.report.execution_id.is_none()
    }
}

/// What this thread keeps.
pub(super) struct Supervisor<'a> {
    pub(super) cfg: &'a Config,
    pub(super) slots: Vec<Slot>,
    events: mpsc::Receiver<(usize, Event)>,
    pub(super) crew: Arc<Crew>,
    /// Saves the ids (and the files) as they become known.
    pub(super) ids: IdSaver,
    /// Whether an id was saved already (the first save is said, and opens a group).
    pub(super) saved_once: bool,
    stopping: bool,
}

/// `f` with this thread's log lines marked as `pipeline`'s (`None`: one pipeline, whose
/// lines are not marked).
pub(super) fn as_pipeline(pipeline: Option<&str>, f: impl FnOnce()) {
    crate::logging::set_context(pipeline);
    f();
    crate::logging::set_context(None);
}

impl<'a> Supervisor<'a> {
    /// The supervisor of `crew`'s pipelines, hearing `events`.
    pub(super) fn new(
        cfg: &'a Config,
        crew: Arc<Crew>,
        events: mpsc::Receiver<(usize, Event)>,
        ids: IdSaver,
    ) -> Self {
        let slots = crew
            .runs
            .iter()
            .map(|c| Slot {
                report: RunReport::for_config(c),
                running: None,
                triggering: None,
                done: None,
            })
            .collect();
        Self {
            cfg,
            slots,
            events,
            crew,
            ids,
            saved_once: false,
            stopping: false,
        }
    }

    /// The name that marks pipeline `i`'s lines: none when it is the only one.
    pub(super) fn mark(&self, i: usize) -> Option<String> {
        (self.slots.len() > 1).then(|| self.slots[i].report.pipeline.clone())
    }

    pub(super) fn all_done(&self) -> bool {
        self.slots.iter().all(|s| s.done.is_some())
    }

    /// The pipelines as far as known.
    pub(super) fn so_far(&self) -> FleetReport {
        FleetReport {
            runs: self
                .slots
                .iter()
                .map(|s| s.done.clone().unwrap_or_else(|| s.report.clone()))
                .collect(),
            max_parallel: self.crew.max_parallel,
            fail_fast: self.crew.fail_fast,
            // Every pipeline's client shares one request budget: any one counts for all.
            rejected_requests: self
                .crew
                .platforms
                .first()
                .map_or(0, |p| p.rejected_requests()),
        }
    }

    pub(super) fn save_ids(&mut self) {
        self.ids.save(&self.so_far(), !self.saved_once);
        self.saved_once = true;
    }

    /// Take in events for up to `d` (real time: the workers' pace is real even on a
    /// simulated clock), or until every worker is done.
    pub(super) fn hear(&mut self, d: Duration) {
        let end = Instant::now() + d;
        while !self.all_done() {
            let left = end.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok((i, e)) => self.take(i, e),
                Err(mpsc::RecvTimeoutError::Timeout) => return,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    for s in self.slots.iter_mut().filter(|s| s.done.is_none()) {
                        let mut r = s.report.clone();
                        r.outcome = Outcome::Refused {
                            reason: "the run stopped unexpectedly".into(),
                        };
                        s.done = Some(r);
                    }
                    return;
                }
            }
        }
    }

    /// One event of pipeline `i`: the line it prints, and what it changes in the report
    /// so far.
    fn take(&mut self, i: usize, e: Event) {
        let mark = self.mark(i);
        let wait = self.cfg.wait;
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        let mark = mark.as_deref();
        match e {
            Event::Triggering(at) => slot.triggering = Some(at),
            Event::Triggered { id, report } => {
                slot.triggering = None;
                as_pipeline(mark, || {
                    log::info!(
                        "triggered {} '{}': execution {id}",
                        report.platform.display_name(),
                        report.pipeline
                    );
                    if let Some(url) = crate::links::execution_url(report.platform, &id) {
                        log::info!("follow it at {url}");
                    }
                });
                slot.report = report;
                slot.running = wait.then_some(id);
                self.save_ids();
            }
            Event::Attached { id, report } => {
                as_pipeline(mark, || {
                    log::info!("{}", attached_line(&report, &id));
                    if let Some(url) = crate::links::execution_url(report.platform, &id) {
                        log::info!("follow it at {url}");
                    }
                });
                // Not `running`: a signal never cancels what this step did not start.
                slot.report = report;
                self.save_ids();
            }
            Event::Status(s) => {
                as_pipeline(mark, || log::info!("status: {}", clean(&s)));
                slot.report.status = Some(s);
            }
            Event::Still { status, after } => {
                as_pipeline(mark, || log::info!("{}", still_line(&status, after)));
            }
            Event::Ended(s) => {
                slot.report.status = Some(s);
                slot.running = None;
            }
            Event::StepsFinished(steps) => as_pipeline(mark, || {
                for line in progress_lines(&steps) {
                    match line {
                        (true, l) => log::warn!("{l}"),
                        (false, l) => log::info!("{l}"),
                    }
                }
            }),
            Event::Steps(steps) => slot.report.steps = steps,
            Event::Finished(r) => self.finished(i, r),
        }
    }

    fn finished(&mut self, i: usize, r: RunReport) {
        // The worker has stopped the others already (before taking another pipeline).
        if self.crew.fail_fast && crew::ends_the_step(&r.outcome) && !self.stopping {
            self.stopping = true;
            log::warn!(
                "fail-fast: '{}' ended {}; stopping the other pipelines",
                clean(&r.pipeline),
                outcome_name(&r.outcome)
            );
        }
        if let Some(slot) = self.slots.get_mut(i) {
            if !matches!(r.outcome, Outcome::Interrupted { .. }) {
                slot.running = None;
            }
            if slot.report.execution_id.is_none() && r.execution_id.is_some() {
                slot.report.execution_id = r.execution_id.clone();
            }
            slot.done = Some(r);
        }
    }

    /// The signal the pipelines ended on, when every one is done and one was interrupted
    /// (a signal that came as the last run ended still cancels nothing: all ended).
    fn interrupted(&self) -> Option<Signal> {
        self.slots
            .iter()
            .find_map(|s| match s.done.as_ref()?.outcome {
                Outcome::Interrupted { signal, .. } => Some(signal),
                _ => None,
            })
    }
}

/// Hear the workers until every pipeline is done, or until a signal (from `signals`, or
/// the clock's own), then clean up after it. The worker wakes from its sleeps on a signal
/// and may well report first: its report is then the start of the clean-up, not the end.
pub(super) fn watch(
    sup: &mut Supervisor<'_>,
    clock: &dyn Clock,
    timings: &Timings,
    signals: &mpsc::Receiver<Signal>,
) -> FleetReport {
    loop {
        sup.hear(timings.tick);
        if sup.all_done() {
            return match sup.interrupted() {
                Some(signal) => cleanup::after_signal(sup, clock, timings, signal),
                None => sup.so_far(),
            };
        }
        if let Some(s) = signals.try_recv().ok().or_else(|| clock.pending_signal()) {
            return cleanup::after_signal(sup, clock, timings, s);
        }
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
