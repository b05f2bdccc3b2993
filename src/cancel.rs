//! `pipeline-run cancel`: cancel executions by id, for clean-up steps such as GitLab's
//! `after_script` on a cancelled job, and the cancels of the GitHub post step (`post`,
//! above this module). The ids come from the `execution-id` input, else from the main
//! step's `result-file` (JSON) or `dotenv-file` ([`targets`]). The other inputs are the
//! same as for the run (the job's variables), so the project resolves the same way. One
//! execution or several, one path: each is cancelled at once beside the others, on one
//! client (one token), and the reports are written by the one writer ([`crate::emit`]).

use crate::ci::CiKind;
use crate::clock::{Clock, RealClock, SignalState};
use crate::config::{Config, PlatformConfig, load};
use crate::exit::Exit;
use crate::http::{Budget, Http};
use crate::model::{CancelResult, Outcome, RunReport};
use crate::platform::Platform;
use crate::report::describe_cancel;
use crate::report::fleet::FleetReport;
use crate::run::cleanup::{cancel_and_follow, no_cancel};
use crate::timings::Timings;
use std::sync::Arc;

pub(crate) mod targets;

pub(crate) use targets::{Target, find_targets, lines_of};

/// Run cancel mode: cancel the executions, then write every report asked for (outputs,
/// summary, dotenv, JUnit, JSON) with the outcome `cancel-requested` (or `refused`), so an
/// `after_script` that reads them sees what the clean-up did.
pub(crate) fn run(env: &dyn Fn(&str) -> Option<String>) -> Exit {
    let ci = crate::ci::detect(env);
    crate::logging::init(env, ci);
    let cfg = match load::load(env, ci) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let targets = find_targets(&cfg);
    if targets.is_empty() {
        log::info!(
            "nothing to cancel: no execution id in input 'execution-id', result-file or dotenv-file (the run may never have started)"
        );
        return Exit::Success;
    }
    let report = cancel_targets(&cfg, &targets, ci, &Timings::from_env(env));
    if let Some(bad) = load::unusable_ca_bundle(&cfg, ci) {
        return bad;
    }
    crate::emit::all(&cfg, &report, ci, env);
    report.exit()
}

/// Cancel every target at once and follow each to its end (within `timings.cancel_mode`),
/// on one client: one report per target. A report's outcome is `CancelRequested` when
/// its execution was cancelled, had already ended, or the cancel was accepted; `Refused`
/// otherwise, with the reason (said once, by whoever reports it).
pub(crate) fn cancel_targets(
    cfg: &Config,
    targets: &[Target],
    ci: CiKind,
    timings: &Timings,
) -> FleetReport {
    let clock: Arc<dyn Clock> = Arc::new(RealClock::new(SignalState::new()));
    let runs = cfg.runs();
    // Each target with the config of its pipeline, when the source named it.
    let cfgs: Vec<Config> = targets
        .iter()
        .map(|t| {
            runs.iter()
                .find(|r| Some(r.pipeline()) == t.pipeline.as_deref())
                .unwrap_or(cfg)
                .clone()
        })
        .collect();
    let platforms = crate::platform::build::clients(&cfgs, Http::new(clock.clone()), timings, ci);
    // Which pipeline ran an execution is not known when several were saved without names.
    let unnamed = cfg.fleet.is_some() && targets.len() > 1;
    let reports = std::thread::scope(|scope| {
        let handles: Vec<_> = targets
            .iter()
            .zip(&cfgs)
            .zip(&platforms)
            .map(|((t, c), p)| {
                let clock = clock.as_ref();
                scope.spawn(move || {
                    let mut r = cancel_on(p.as_ref(), c, t, clock, timings);
                    match (&t.pipeline, &c.platform) {
                        (Some(name), _) => r.pipeline = name.clone(),
                        (None, PlatformConfig::Matillion(_)) if unnamed => {
                            r.pipeline = format!("execution {}", t.id);
                        }
                        _ => {}
                    }
                    r
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().ok())
            .collect::<Vec<_>>()
    });
    FleetReport {
        runs: reports,
        max_parallel: cfg.fleet.as_ref().map_or(1, |f| f.max_parallel),
        fail_fast: false,
        rejected_requests: platforms.first().map_or(0, |p| p.rejected_requests()),
    }
}

/// Cancel `target` on `platform`, and follow it to its end.
fn cancel_on(
    platform: &dyn Platform,
    cfg: &Config,
    target: &Target,
    clock: &dyn Clock,
    timings: &Timings,
) -> RunReport {
    let mut report = RunReport::for_config(cfg);
    report.execution_id = Some(target.id.clone());
    let refused = |mut report: RunReport, reason: String| {
        report.outcome = Outcome::Refused { reason };
        report
    };
    let budget = Budget::until(clock.now() + timings.cancel_mode.budget);
    if !platform.can_cancel() {
        return refused(report, no_cancel(platform, &target.id));
    }
    if let Err(f) = platform.prepare(budget, &mut report) {
        return refused(report, f.to_string());
    }
    log::info!(
        "cancelling execution {} (from {})",
        target.id,
        target.source
    );
    let result = cancel_and_follow(
        platform,
        &target.id,
        clock,
        timings,
        timings.cancel_mode,
        true,
    );
    match result {
        CancelResult::Cancelled | CancelResult::Requested | CancelResult::NotAttempted => {
            let what = match result {
                CancelResult::NotAttempted => "had already ended; nothing to cancel".to_string(),
                other => describe_cancel(&other, report.platform),
            };
            report
                .notes
                .push(format!("Cancel mode: execution {}: {what}.", target.id));
            report.outcome = Outcome::CancelRequested;
            report
        }
        CancelResult::Unsupported | CancelResult::Failed(_) => {
            let why = describe_cancel(&result, report.platform);
            refused(report, format!("execution {}: {why}", target.id))
        }
    }
}
