//! The one clean-up, after a signal or a timeout, for one pipeline and for several. After
//! a signal ([`after_signal`], on the supervisor's side): let the workers stop, wait a
//! moment for a trigger's reply, look up a run whose reply has not come
//! ([`find_lost_run`]), and cancel every run still going, all at once, within the windows
//! of [`SignalTimings`] ([`cancel_after_signal`]). After a timeout ([`cancel_on_timeout`],
//! on the worker's side): cancel the run if `cancel-on-timeout` asks for it. Both, and
//! cancel mode, ask and then follow the run to its end with [`cancel_and_follow`].

use super::supervisor::{Slot, Supervisor, as_pipeline};
use crate::clock::{Clock, Signal, Wake};
use crate::config::Config;
use crate::http::Budget;
use crate::model::{CancelResult, Outcome};
use crate::platform::{CancelAck, Platform};
use crate::report::fleet::FleetReport;
use crate::text::clean;
use crate::timings::{CancelTimings, SignalTimings, Timings};
use crate::wait::Phase;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// What the clean-up does for one pipeline: look up the run a trigger sent at this time
/// created (its reply has not come), and cancel this run.
struct CleanUpJob {
    slot: usize,
    lost: Option<SystemTime>,
    running: Option<String>,
}

/// The clean-up after `signal`: let the workers stop, find the runs whose trigger's reply
/// has not come, cancel every run still going (all at once; never with `wait: false`),
/// and report them all.
pub(super) fn after_signal(
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
    // `wait` follows runs this step did not start: none is cancelled (and no trigger's
    // reply is awaited).
    let wait = sup.cfg.wait && sup.cfg.attach.is_none();
    // Give the workers a moment to stop by themselves (they wake from any sleep at once).
    sup.hear(settle);
    if sup.cfg.attach.is_some() {
        say_left_going(sup);
    }
    if wait && sup.slots.iter().any(Slot::awaiting_reply) {
        if sup.slots.len() > 1 {
            log::info!(
                "waiting a moment for the triggers' replies, so that the runs they created are cancelled"
            );
        } else {
            log::info!(
                "waiting a moment for the trigger's reply, so that a run it created is cancelled"
            );
        }
        sup.hear(trigger_wait);
    }
    let jobs: Vec<CleanUpJob> = sup
        .slots
        .iter()
        .enumerate()
        .filter(|_| wait)
        .filter_map(|(i, s)| {
            let lost = s.awaiting_reply().then_some(s.triggering).flatten();
            (lost.is_some() || s.running.is_some()).then(|| CleanUpJob {
                slot: i,
                lost,
                running: s.running.clone(),
            })
        })
        .collect();
    let results = clean_up(sup, jobs, clock, timings, signalled);
    settle_reports(sup, results, signal);
    sup.so_far()
}

/// After a signal, `wait`: each execution followed and not ended goes on, and the log
/// says so.
fn say_left_going(sup: &Supervisor<'_>) {
    for (i, s) in sup.slots.iter().enumerate() {
        let ended = s
            .done
            .as_ref()
            .is_some_and(|r| !matches!(r.outcome, Outcome::Interrupted { .. }));
        if let (Some(id), false) = (&s.report.execution_id, ended) {
            as_pipeline(sup.mark(i).as_deref(), || {
                log::warn!(
                    "execution {} goes on: this step did not start it, and does not cancel it",
                    clean(id)
                )
            });
        }
    }
}

/// Run every job at once, each on a thread of its own (its lines marked as its
/// pipeline's); an id found is saved at once, before its cancel. For each job: the id,
/// when one is known, and what the cancel did.
fn clean_up(
    sup: &mut Supervisor<'_>,
    jobs: Vec<CleanUpJob>,
    clock: &dyn Clock,
    timings: &Timings,
    signalled: Instant,
) -> Vec<(usize, Option<String>, CancelResult)> {
    // The ids known so far, and whether the next save is the first.
    let saved = Mutex::new((sup.so_far(), !sup.saved_once));
    let (ids, platforms) = (&sup.ids, &sup.crew.platforms);
    let marks: Vec<Option<String>> = (0..sup.slots.len()).map(|i| sup.mark(i)).collect();
    let save = |i: usize, id: &str| {
        let mut saved = saved.lock().unwrap_or_else(|e| e.into_inner());
        let (so_far, first) = &mut *saved;
        if let Some(r) = so_far.runs.get_mut(i) {
            r.execution_id = Some(id.to_string());
        }
        ids.save(so_far, *first);
        *first = false;
    };
    let results = std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .into_iter()
            .map(|job| {
                let platform = platforms[job.slot].as_ref();
                let mark = marks[job.slot].as_deref();
                let save = &save;
                scope.spawn(move || {
                    let mut out = (job.slot, None, CancelResult::NotAttempted);
                    as_pipeline(mark, || {
                        let id = match (job.running, job.lost) {
                            (Some(id), _) => Some(id),
                            (None, Some(at)) => {
                                log::info!(
                                    "the trigger's reply has not come; looking for the run it created"
                                );
                                let id = find_lost_run(platform, at, clock, timings.signal.lookup);
                                if let Some(id) = &id {
                                    save(job.slot, id);
                                }
                                id
                            }
                            (None, None) => None,
                        };
                        if let Some(id) = id {
                            let result =
                                cancel_after_signal(platform, &id, clock, timings, signalled);
                            out = (job.slot, Some(id), result);
                        }
                    });
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().ok())
            .collect::<Vec<_>>()
    });
    let (_, first) = saved.into_inner().unwrap_or_else(|e| e.into_inner());
    sup.saved_once = !first;
    results
}

/// Every pipeline's report after the clean-up: interrupted by `signal`, with what its
/// cancel did (a pipeline that ended on its own keeps its outcome).
fn settle_reports(
    sup: &mut Supervisor<'_>,
    results: Vec<(usize, Option<String>, CancelResult)>,
    signal: Signal,
) {
    for (i, id, result) in results {
        let Some(slot) = sup.slots.get_mut(i) else {
            continue;
        };
        if slot.report.execution_id.is_none() && id.is_some() {
            slot.report.execution_id = id;
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
    for s in sup.slots.iter_mut().filter(|s| s.done.is_none()) {
        let mut r = s.report.clone();
        r.outcome = Outcome::Interrupted {
            signal,
            cancel: CancelResult::NotAttempted,
        };
        s.done = Some(r);
    }
}

/// The timeout's clean-up: cancel the run if the platform can and `cancel-on-timeout`
/// asks for it; say what became of it.
pub(super) fn cancel_on_timeout(
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
        Some(id) => log::warn!("found execution {} created by the trigger", clean(id)),
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
                log::info!("execution {id} is now {}", clean(&s.status));
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
