//! The wait loop and the run's recipe: prepare → trigger → poll with a growing interval
//! until the run ends → collect details and steps. Timeouts cancel the run; signals are
//! handled by the caller (see `cli`), which reads the progress this module publishes.

use crate::clock::{Clock, Signal, Wake};
use crate::config::Config;
use crate::http::Budget;
use crate::platform::{CancelAck, Failure, Phase, Platform, RunState};
use crate::report::{CancelResult, Outcome, RunReport};
use backoff::backoff::Backoff;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// After the run ends, reading its details and steps may take this much past the deadline.
pub const COLLECT_GRACE: Duration = Duration::from_secs(60);
/// How long a timeout's cancel request may take.
pub const CANCEL_BUDGET: Duration = Duration::from_secs(10);
/// After a timeout's cancel, how long to follow the run to CANCELLED.
pub const CANCEL_FOLLOW: Duration = Duration::from_secs(30);
/// A progress line at least this often while waiting.
pub const HEARTBEAT: Duration = Duration::from_secs(60);

/// Polling with a growing interval, bounded by a deadline.
pub struct Waiter<'a> {
    /// The clock.
    pub clock: &'a dyn Clock,
    /// The overall deadline.
    pub deadline: Instant,
    /// First interval.
    pub initial: Duration,
    /// Largest interval.
    pub max: Duration,
}

/// Why a wait ended without the run ending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitStop {
    /// The deadline passed; the last state seen.
    TimedOut(Option<RunState>),
    /// A platform call failed.
    Failed(Failure),
}

impl Waiter<'_> {
    /// A budget until the deadline.
    pub fn budget(&self) -> Budget {
        Budget::until(self.deadline)
    }

    /// The backoff that spaces polls: from `initial`, ×1.5 each time, ±20% jitter, never
    /// above `max` (the jitter is clamped so the detection latency stays ≤ `max`).
    pub fn intervals(&self) -> impl FnMut() -> Duration {
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
    pub fn sleep(&self, d: Duration) -> Result<(), Signal> {
        let now = self.clock.now();
        let d = d.min(self.deadline.saturating_duration_since(now));
        match self.clock.sleep(d) {
            Wake::Elapsed => Ok(()),
            Wake::Signal(s) => Err(s),
        }
    }

    /// Poll `id` until it ends or the deadline passes. `on_change` sees each new status.
    pub fn until_end(
        &self,
        platform: &dyn Platform,
        id: &str,
        mut on_change: impl FnMut(&RunState),
    ) -> Result<RunState, WaitStop> {
        let started = self.clock.now();
        let mut next = self.intervals();
        let mut last: Option<RunState> = None;
        let mut last_line = started;
        loop {
            // A poll sleep ends at the deadline: past it there is nothing left to ask with.
            if self.clock.now() >= self.deadline {
                return Err(WaitStop::TimedOut(last));
            }
            let state = platform
                .status(id, self.budget())
                .map_err(WaitStop::Failed)?;
            if last.as_ref().map(|l| &l.status) != Some(&state.status) {
                on_change(&state);
                last_line = self.clock.now();
            }
            if state.phase != Phase::Running {
                return Ok(state);
            }
            let now = self.clock.now();
            if now.saturating_duration_since(last_line) >= HEARTBEAT {
                log::info!(
                    "still {} after {}",
                    state.status,
                    humantime::format_duration(secs(now - started))
                );
                last_line = now;
            }
            last = Some(state);
            if now >= self.deadline {
                return Err(WaitStop::TimedOut(last));
            }
            self.sleep(next())
                .map_err(|s| WaitStop::Failed(Failure::Interrupted(s)))?;
            // The sleep stops at the deadline: polling then would have no budget left and
            // be reported as unreachable instead of timed out.
            if self.clock.now() >= self.deadline {
                return Err(WaitStop::TimedOut(last));
            }
        }
    }
}

fn secs(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}

/// What the worker publishes for the signal handler: the report so far and whether the
/// execution is still running (and so must be cancelled on a signal).
#[derive(Debug, Default)]
pub struct Progress {
    /// The report as far as known.
    pub report: Option<RunReport>,
    /// The execution id while it is running and followed.
    pub running: Option<String>,
}

/// Shared progress.
pub type SharedProgress = Arc<Mutex<Progress>>;

fn publish(progress: &SharedProgress, report: &RunReport, running: Option<&str>) {
    let mut p = progress.lock().unwrap_or_else(|e| e.into_inner());
    p.report = Some(report.clone());
    p.running = running.map(str::to_string);
}

/// Called once an execution id is known (GitHub: saved to `GITHUB_STATE`).
pub type OnTriggered<'a> = &'a dyn Fn(&str);

/// Run the whole flow: the report, with its outcome set.
pub fn run(
    platform: &dyn Platform,
    cfg: &Config,
    clock: &dyn Clock,
    progress: &SharedProgress,
    on_triggered: OnTriggered<'_>,
) -> RunReport {
    let started = clock.now();
    let waiter = Waiter {
        clock,
        deadline: started + cfg.timeout,
        initial: cfg.poll_interval,
        max: cfg.max_poll_interval,
    };
    let mut report = initial_report(cfg);
    publish(progress, &report, None);

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

    let id = match platform.trigger(&waiter, &mut report) {
        Ok(id) => id,
        Err(f) => return failed_before_trigger(report, f),
    };
    log::info!(
        "triggered {} '{}': execution {id}",
        platform.kind().display_name(),
        report.pipeline
    );
    report.execution_id = Some(id.clone());
    on_triggered(&id);

    if !cfg.wait {
        report.outcome = Outcome::Triggered;
        publish(progress, &report, None);
        return report;
    }
    publish(progress, &report, Some(&id));

    let waited = waiter.until_end(platform, &id, |s| {
        log::info!("status: {}", crate::http::clean(&s.status));
        report.status = Some(s.status.clone());
        publish(progress, &report, Some(&id));
    });

    let collect_budget = Budget::until(waiter.deadline.max(clock.now()) + COLLECT_GRACE);
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
            publish(progress, &report, None);
            if let Err(f) = platform.collect(&id, collect_budget, &mut report) {
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
        Err(WaitStop::TimedOut(last)) => {
            let was = last
                .as_ref()
                .map(|s| s.status.as_str())
                .unwrap_or("running");
            let cancel = cancel_on_timeout(platform, cfg, &id, clock, was);
            report.outcome = Outcome::TimedOut { cancel };
            finish_partial(platform, &id, clock, &mut report);
        }
        Err(WaitStop::Failed(Failure::Interrupted(s))) => {
            // The signal handler cancels; report what is known. The execution stays
            // published as running: that is how the handler knows what to cancel.
            report.outcome = Outcome::Interrupted {
                signal: signal_name(s).into(),
                cancel: CancelResult::NotAttempted,
            };
            publish(progress, &report, Some(&id));
            return report;
        }
        Err(WaitStop::Failed(f)) => {
            // Said once, by the result line.
            report.outcome = Outcome::Refused {
                reason: f.to_string(),
            };
        }
    }
    publish(progress, &report, None);
    report
}

/// The timeout's clean-up: cancel the run if the platform can and `cancel-on-timeout`
/// asks for it; say what became of it.
fn cancel_on_timeout(
    platform: &dyn Platform,
    cfg: &Config,
    id: &str,
    clock: &dyn Clock,
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
        cancel_and_follow(platform, id, clock, CANCEL_BUDGET, CANCEL_FOLLOW, true)
    } else {
        log::warn!("timed out after {after}; the run goes on (cancel-on-timeout is false)");
        CancelResult::NotAttempted
    }
}

/// After a timeout: the latest status, details and steps, within a short budget.
fn finish_partial(platform: &dyn Platform, id: &str, clock: &dyn Clock, report: &mut RunReport) {
    let budget = Budget::until(clock.now() + Duration::from_secs(15));
    if let Ok(s) = platform.status(id, budget) {
        report.status = Some(s.status);
    }
    if let Err(f) = platform.collect(id, budget, report) {
        log::warn!("could not read the run's details: {f}");
    }
}

/// The report before anything is sent: what was asked for.
pub fn initial_report(cfg: &Config) -> RunReport {
    use crate::config::PlatformConfig;
    use crate::report::PlatformKind;
    match &cfg.platform {
        PlatformConfig::Matillion(m) => {
            let mut r = RunReport::new(PlatformKind::Matillion, m.pipeline.clone());
            r.project = Some(m.project.to_string());
            r.environment = Some(m.environment.clone());
            r.version = m.version.clone();
            r.execution_tag = m.execution_tag.clone();
            r.overridden_variables = m
                .variables
                .keys()
                .chain(m.grid_variables.keys())
                .cloned()
                .collect();
            r
        }
        PlatformConfig::Datalab(d) => {
            let mut r = RunReport::new(PlatformKind::Datalab, d.pipeline.clone());
            r.version = d.version.clone();
            r
        }
    }
}

/// "SIGINT" / "SIGTERM".
pub fn signal_name(s: Signal) -> &'static str {
    match s {
        Signal::Int => "SIGINT",
        Signal::Term => "SIGTERM",
    }
}

fn failed_before_trigger(mut report: RunReport, f: Failure) -> RunReport {
    report.outcome = match f {
        Failure::Interrupted(s) => Outcome::Interrupted {
            signal: signal_name(s).into(),
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

/// For a platform that cannot cancel: the sentence the log says instead.
pub fn no_cancel(platform: &dyn Platform, id: &str) -> String {
    let name = platform.kind().display_name();
    format!("{name} has no way to cancel execution {id}: the execution continues on {name}")
}

/// Ask the platform to cancel `id`, then follow it to its end for up to `follow`.
/// `interruptible: false` for the clean-up after a signal (its waits must not be cut short).
pub fn cancel_and_follow(
    platform: &dyn Platform,
    id: &str,
    clock: &dyn Clock,
    request_budget: Duration,
    follow: Duration,
    interruptible: bool,
) -> CancelResult {
    let budget = Budget {
        deadline: clock.now() + request_budget,
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
    let end = clock.now() + follow;
    loop {
        let budget = Budget {
            deadline: end.max(clock.now() + Duration::from_secs(2)),
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
        let step = Duration::from_secs(1).min(end - clock.now());
        if interruptible {
            if let Wake::Signal(_) = clock.sleep(step) {
                return CancelResult::Requested;
            }
        } else {
            clock.pause(step);
        }
    }
}
