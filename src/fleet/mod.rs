//! Several pipelines in one step: N single runs under one supervisor. Each pipeline runs
//! on a worker thread exactly as one pipeline does ([`crate::orchestrate::run`], with its
//! own [`Config`] from [`Config::runs`]): the at-most-once trigger, the wait for a held
//! execution tag, the history-aware polling, its own timeout and cancel. At most
//! `max-parallel` run at once ([`worker`]). They share one HTTP client (one connection
//! pool, one pace for a 429's `Retry-After`), one token and one lookup of the project
//! ([`crate::wiring::platforms_for`]).
//!
//! This thread, as [`crate::supervise`] does for one pipeline, hears every worker's events,
//! prints their progress (each line starting with `[pipeline]`), saves every execution id
//! as soon as it is known, and answers a signal: every execution still running is
//! cancelled, all at once, within the same windows ([`SignalTimings`]). With `fail-fast`,
//! the first pipeline to end in failure stops the others: their workers cancel their own
//! runs, and pipelines not started yet are not started.

pub(crate) mod worker;

use crate::ci::CiKind;
use crate::clock::{Clock, Signal};
use crate::config::Config;
use crate::http::{Http, clean};
use crate::model::{CancelResult, Outcome, RunReport};
use crate::orchestrate::{self, Event};
use crate::platform::Platform;
use crate::report::aggregate::FleetReport;
use crate::report::outcome_name;
use crate::timings::{SignalTimings, Timings};
use crate::wait::still_line;
use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime};
use worker::{Crew, StopClock};

/// One pipeline, as this thread knows it.
struct Slot {
    /// Its report so far.
    report: RunReport,
    /// Its execution id while it runs and is followed.
    running: Option<String>,
    /// When its trigger was first sent, while the reply has not come.
    triggering: Option<SystemTime>,
    /// Its final report, once its worker is done.
    done: Option<RunReport>,
}

/// Saves the execution ids known so far (and the files); `true` the first time.
type SaveIds<'a> = Box<dyn Fn(&FleetReport, bool) + 'a>;

/// What this thread keeps.
struct Supervisor<'a> {
    cfg: &'a Config,
    slots: Vec<Slot>,
    events: mpsc::Receiver<(usize, Event)>,
    crew: Arc<Crew>,
    /// Saves the ids (and the files) as they become known.
    save: SaveIds<'a>,
    saved_once: bool,
    stopping: bool,
}

/// `f` with this thread's log lines marked as `pipeline`'s.
fn as_pipeline(pipeline: &str, f: impl FnOnce()) {
    crate::logging::set_context(Some(pipeline));
    f();
    crate::logging::set_context(None);
}

impl Supervisor<'_> {
    fn all_done(&self) -> bool {
        self.slots.iter().all(|s| s.done.is_some())
    }

    /// The pipelines as far as known.
    fn so_far(&self) -> FleetReport {
        let fleet = self.cfg.fleet.as_ref();
        FleetReport {
            runs: self
                .slots
                .iter()
                .map(|s| s.done.clone().unwrap_or_else(|| s.report.clone()))
                .collect(),
            max_parallel: fleet.map_or(1, |f| f.max_parallel),
            fail_fast: fleet.is_some_and(|f| f.fail_fast),
        }
    }

    fn save_ids(&mut self) {
        (self.save)(&self.so_far(), !self.saved_once);
        self.saved_once = true;
    }

    /// Take in events for up to `d` (real time), or until every worker is done.
    fn hear(&mut self, d: Duration) {
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

    /// One event of pipeline `i`.
    fn take(&mut self, i: usize, e: Event) {
        let Some(slot) = self.slots.get_mut(i) else {
            return;
        };
        let name = slot.report.pipeline.clone();
        match e {
            Event::Triggering(at) => slot.triggering = Some(at),
            Event::Triggered { id, report } => {
                slot.triggering = None;
                as_pipeline(&name, || {
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
                slot.running = self.cfg.wait.then_some(id);
                self.save_ids();
            }
            Event::Attached { id, report } => {
                as_pipeline(&name, || {
                    log::info!("{}", crate::supervise::attached_line(&report, &id));
                    if let Some(url) = crate::links::execution_url(report.platform, &id) {
                        log::info!("follow it at {url}");
                    }
                });
                // Never cancelled on a signal: this step did not start it.
                slot.report = report;
                self.save_ids();
            }
            Event::Status(s) => {
                as_pipeline(&name, || log::info!("status: {}", clean(&s)));
                slot.report.status = Some(s);
            }
            Event::Still { status, after } => {
                as_pipeline(&name, || log::info!("{}", still_line(&status, after)));
            }
            Event::Ended(s) => {
                slot.report.status = Some(s);
                slot.running = None;
            }
            Event::StepsFinished(steps) => as_pipeline(&name, || {
                for line in crate::supervise::progress_lines(&steps) {
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
        if self.crew.fail_fast && worker::ends_the_step(&r.outcome) && !self.stopping {
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
}

/// Run every pipeline of `cfg` (which has a fleet) and report them all. `http` is the one
/// client they share; `clock` the program's clock; `signals` as for one pipeline.
pub(crate) fn run_with(
    cfg: &Config,
    http: Http,
    clock: Arc<dyn Clock>,
    timings: &Timings,
    signals: mpsc::Receiver<Signal>,
    env: &dyn Fn(&str) -> Option<String>,
    ci: CiKind,
) -> FleetReport {
    let runs = cfg.runs();
    let stop = Arc::new(AtomicBool::new(false));
    let stop_clock = Arc::new(StopClock::new(clock.clone(), stop.clone()));
    let clocks: Vec<Arc<dyn Clock>> = runs
        .iter()
        .map(|_| stop_clock.clone() as Arc<dyn Clock>)
        .collect();
    let platforms = crate::wiring::platforms_for(&runs, http, &clocks, timings, ci);
    let max_parallel = cfg.fleet.as_ref().map_or(1, |f| f.max_parallel);
    let slots = runs
        .iter()
        .map(|c| Slot {
            report: RunReport::for_config(c),
            running: None,
            triggering: None,
            done: None,
        })
        .collect();
    let crew = Arc::new(Crew {
        queue: Mutex::new((0..runs.len()).collect::<VecDeque<usize>>()),
        runs,
        platforms,
        clock: stop_clock,
        outer: clock.clone(),
        stop,
        fail_fast: cfg.fleet.as_ref().is_some_and(|f| f.fail_fast),
        deadline: clock.now() + cfg.timeout,
        timings: *timings,
    });
    let (tx, events) = mpsc::channel();
    let threads = max_parallel.min(crew.runs.len());
    let started = worker::start(&crew, threads, &tx);
    drop(tx);
    log::info!(
        "running {} pipelines, at most {threads} at a time{}",
        crew.runs.len(),
        if cfg.fleet.as_ref().is_some_and(|f| f.fail_fast) {
            " (fail-fast)"
        } else {
            ""
        }
    );
    let mut sup = Supervisor {
        cfg,
        slots,
        events,
        crew,
        save: Box::new(crate::emit::fleet::save_ids(cfg, ci, env)),
        saved_once: false,
        stopping: false,
    };
    if started == 0 {
        sup.hear(Duration::ZERO);
    }
    loop {
        sup.hear(timings.tick);
        if sup.all_done() {
            // A signal that came as the last run ended still cancels nothing: all ended.
            let interrupted = sup
                .slots
                .iter()
                .find_map(|s| match s.done.as_ref()?.outcome {
                    Outcome::Interrupted { signal, .. } => Some(signal),
                    _ => None,
                });
            match interrupted {
                Some(signal) => return after_signal(&mut sup, clock.as_ref(), timings, signal),
                None => return sup.so_far(),
            }
        }
        if let Some(s) = signals.try_recv().ok().or_else(|| clock.pending_signal()) {
            return after_signal(&mut sup, clock.as_ref(), timings, s);
        }
    }
}

/// The clean-up after `signal`: let the workers stop, find the runs whose trigger's reply
/// has not come, cancel every run still going (all at once), and report them all.
fn after_signal(
    sup: &mut Supervisor<'_>,
    clock: &dyn Clock,
    timings: &Timings,
    signal: Signal,
) -> FleetReport {
    log::warn!("received {signal}: stopping");
    let signalled = clock.now();
    let SignalTimings {
        settle,
        trigger_wait,
        ..
    } = timings.signal;
    let wait = sup.cfg.wait;
    sup.hear(settle);
    let awaiting_reply =
        |s: &Slot| s.done.is_none() && s.running.is_none() && s.report.execution_id.is_none();
    if wait && sup.slots.iter().any(awaiting_reply) {
        log::info!(
            "waiting a moment for the triggers' replies, so that the runs they created are cancelled"
        );
        sup.hear(trigger_wait);
    }
    // What to do for each pipeline: look up a run whose reply has not come, cancel a run.
    let jobs: Vec<(usize, Option<SystemTime>, Option<String>)> = sup
        .slots
        .iter()
        .enumerate()
        .filter(|_| wait)
        .filter_map(|(i, s)| {
            let unknown = awaiting_reply(s).then_some(s.triggering).flatten();
            (unknown.is_some() || s.running.is_some()).then(|| (i, unknown, s.running.clone()))
        })
        .collect();
    let platforms = &sup.crew.platforms;
    let results: Vec<(usize, Option<String>, CancelResult)> = std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .into_iter()
            .map(|(i, unknown, running)| {
                let platform = platforms[i].as_ref();
                let name = sup.slots[i].report.pipeline.clone();
                scope.spawn(move || {
                    crate::logging::set_context(Some(&name));
                    clean_up_one(platform, unknown, running, clock, timings, signalled)
                        .map_or((i, None, CancelResult::NotAttempted), |(id, c)| {
                            (i, Some(id), c)
                        })
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut found_any = false;
    for (i, id, result) in results {
        let Some(slot) = sup.slots.get_mut(i) else {
            continue;
        };
        if slot.report.execution_id.is_none() && id.is_some() {
            slot.report.execution_id = id;
            found_any = true;
        }
        let mut r = slot.done.take().unwrap_or_else(|| slot.report.clone());
        if r.execution_id.is_none() {
            r.execution_id = slot.report.execution_id.clone();
        }
        if matches!(result, CancelResult::Cancelled) {
            r.status = Some("CANCELLED".into());
        }
        r.outcome = Outcome::Interrupted {
            signal,
            cancel: result,
        };
        slot.done = Some(r);
    }
    if found_any {
        sup.save_ids();
    }
    for s in sup.slots.iter_mut().filter(|s| s.done.is_none()) {
        let mut r = s.report.clone();
        r.outcome = Outcome::Interrupted {
            signal,
            cancel: CancelResult::NotAttempted,
        };
        s.done = Some(r);
    }
    sup.so_far()
}

/// After a signal, for one pipeline: find its run when the trigger's reply has not come,
/// then cancel the run within the window. The id, when one is known, and what the cancel
/// did.
fn clean_up_one(
    platform: &dyn Platform,
    unknown: Option<SystemTime>,
    running: Option<String>,
    clock: &dyn Clock,
    timings: &Timings,
    signalled: Instant,
) -> Option<(String, CancelResult)> {
    let id = match (running, unknown) {
        (Some(id), _) => id,
        (None, Some(at)) => orchestrate::find_lost_run(platform, at, clock, timings.signal.lookup)?,
        (None, None) => return None,
    };
    let result = orchestrate::cancel_after_signal(platform, &id, clock, timings, signalled);
    Some((id, result))
}
