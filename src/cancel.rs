//! `pipeline-run cancel`: cancel an execution by id, for clean-up steps such as GitLab's
//! `after_script` on a cancelled job. The id comes from the `execution-id` input, else from
//! the main step's `result-file` (JSON) or `dotenv-file`. The other inputs are the same as
//! for the run (the job's variables), so the project resolves the same way.

use crate::ci::CiKind;
use crate::clock::{Clock, RealClock, SignalState};
use crate::config::Config;
use crate::exit::Exit;
use crate::http::{Budget, Http};
use crate::model::{CancelResult, Outcome, RunReport};
use crate::orchestrate::{cancel_and_follow, no_cancel};
use crate::platform::Platform;
use crate::report::describe_cancel;
use crate::timings::Timings;
use crate::wiring::{load_config, platform_for};
use std::sync::Arc;

pub(crate) mod many;

pub(crate) use many::{cancel_targets, find_targets};

/// Where the id came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// The execution id.
    pub(crate) id: String,
    /// "input execution-id", "result-file x.json", ...
    pub(crate) source: String,
    /// The pipeline it ran, when the source says (the JSON result of several pipelines).
    pub(crate) pipeline: Option<String>,
}

/// Find the execution to cancel. `Ok(None)`: there is none (the run never started).
pub(crate) fn find_target(cfg: &Config) -> Result<Option<Target>, String> {
    if let Some(id) = &cfg.execution_id {
        return Ok(Some(Target {
            id: id.clone(),
            source: "input 'execution-id'".into(),
            pipeline: None,
        }));
    }
    if let Some(path) = &cfg.files.result {
        if let Ok(text) = std::fs::read_to_string(path) {
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(v) => {
                    if let Some(id) = v.get("execution_id").and_then(|x| x.as_str()) {
                        return Ok(Some(Target {
                            id: id.to_string(),
                            source: format!("result-file {}", path.display()),
                            pipeline: None,
                        }));
                    }
                }
                // Not fatal: the dotenv file may still hold the id, and a run left going
                // is worse than a warning.
                Err(e) => log::warn!(
                    "result-file {} is not JSON ({e}); looking in dotenv-file",
                    path.display()
                ),
            }
        }
    }
    if let Some(path) = &cfg.files.dotenv {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Some(id) = text
                .lines()
                .find_map(|l| l.strip_prefix("PIPELINE_RUN_EXECUTION_ID="))
                .map(str::trim)
                .filter(|id| !id.is_empty())
            {
                return Ok(Some(Target {
                    id: id.to_string(),
                    source: format!("dotenv-file {}", path.display()),
                    pipeline: None,
                }));
            }
        }
    }
    Ok(None)
}

/// Run cancel mode: cancel the execution, then write every report asked for (outputs,
/// summary, dotenv, JUnit, JSON) with the outcome `cancel-requested` (or `refused`), so an
/// `after_script` that reads them sees what the clean-up did.
pub(crate) fn run(env: &dyn Fn(&str) -> Option<String>) -> Exit {
    let ci = crate::ci::detect(env);
    crate::logging::init(env, ci);
    let cfg = match load_config(env, ci) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let targets = match find_targets(&cfg) {
        Ok(t) if t.len() > 1 => {
            // Several pipelines ran: cancel each, report them all.
            let fleet = cancel_targets(&cfg, &t, ci, &Timings::from_env(env));
            if let Some(bad) = crate::wiring::unusable_ca_bundle(&cfg, ci) {
                return bad;
            }
            crate::emit::fleet::all(&cfg, &fleet, ci, env);
            return fleet.exit();
        }
        other => other,
    };
    let target = match targets.map(|t| t.into_iter().next()) {
        Ok(Some(t)) => t,
        Ok(None) => {
            log::info!(
                "nothing to cancel: no execution id in input 'execution-id', result-file or dotenv-file (the run may never have started)"
            );
            return Exit::Success;
        }
        Err(e) => {
            log::error!("{e}");
            return Exit::BadInput;
        }
    };
    let report = cancel_target(&cfg, &target, ci, &Timings::from_env(env));
    if let Some(bad) = crate::wiring::unusable_ca_bundle(&cfg, ci) {
        return bad;
    }
    crate::emit::all(&cfg, &report, ci, env);
    Exit::from(&report.outcome)
}

/// Cancel `target` and follow it to its end (shared by `cancel` and the GitHub post step),
/// within `timings.cancel_mode`. The report's outcome is `CancelRequested` when it was
/// cancelled, had already ended, or the cancel was accepted; `Refused` otherwise, with
/// the reason (said once, by whoever reports it).
pub(crate) fn cancel_target(
    cfg: &Config,
    target: &Target,
    ci: CiKind,
    timings: &Timings,
) -> RunReport {
    let clock: Arc<dyn Clock> = Arc::new(RealClock::new(SignalState::new()));
    let platform = platform_for(cfg, Http::new(clock.clone()), timings, ci);
    cancel_on(platform.as_ref(), cfg, target, clock.as_ref(), timings)
}

/// [`cancel_target`] on a client already built.
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
