//! `pipeline-run status`: one look at an execution, by id or the latest of a pipeline
//! ([`crate::attach`]), reported as a run is (log line, outputs, summary, dotenv, JUnit,
//! JSON). Exit 0 when it succeeded, 1 when it failed or was cancelled,
//! [`Exit::StillRunning`] while it runs. A handful of requests: the token, the project,
//! the list (by pipeline), the details, the steps; no wait, no trigger, no cancel.

use crate::ci::CiKind;
use crate::clock::{Clock, RealClock, SignalState};
use crate::config::{Config, Purpose};
use crate::exit::Exit;
use crate::http::{Budget, Http};
use crate::model::{Outcome, RunReport};
use crate::platform::Platform;
use crate::report::aggregate::FleetReport;
use crate::timings::Timings;
use crate::wait::{Phase, Waiter};
use crate::wiring::{load_config_for, platform_for, platforms_for, unusable_ca_bundle};
use std::sync::Arc;

/// Run `status`: look at each execution asked for, write every report asked for.
pub(crate) fn run(env: &dyn Fn(&str) -> Option<String>) -> Exit {
    let ci = crate::ci::detect(env);
    crate::logging::init(env, ci);
    let cfg = match load_config_for(env, ci, Purpose::Status) {
        Ok(c) => c,
        Err(e) => return e,
    };
    for w in cfg.warnings() {
        log::warn!("{w}");
    }
    let timings = Timings::from_env(env);
    // A look is short: a signal ends it as it would end any program.
    let clock: Arc<dyn Clock> = Arc::new(RealClock::new(SignalState::new()));
    if cfg.fleet.is_some() {
        let fleet = look_at_all(&cfg, clock, &timings, ci);
        if let Some(bad) = unusable_ca_bundle(&cfg, ci) {
            return bad;
        }
        crate::emit::fleet::all(&cfg, &fleet, ci, env);
        return fleet.exit();
    }
    let platform = platform_for(&cfg, Http::new(clock.clone()), &timings, ci);
    let report = look(platform.as_ref(), &cfg, clock.as_ref(), &timings);
    if let Some(bad) = unusable_ca_bundle(&cfg, ci) {
        return bad;
    }
    crate::emit::all(&cfg, &report, ci, env);
    Exit::from(&report.outcome)
}

/// Several pipelines: the latest execution of each, one after the other, on one client.
fn look_at_all(cfg: &Config, clock: Arc<dyn Clock>, timings: &Timings, ci: CiKind) -> FleetReport {
    let runs = cfg.runs();
    let clocks = vec![clock.clone(); runs.len()];
    let platforms = platforms_for(&runs, Http::new(clock.clone()), &clocks, timings, ci);
    let reports = runs
        .iter()
        .zip(&platforms)
        .map(|(run, platform)| {
            crate::logging::set_context(Some(run.pipeline()));
            let r = look(platform.as_ref(), run, clock.as_ref(), timings);
            crate::logging::set_context(None);
            r
        })
        .collect();
    let fleet = cfg.fleet.as_ref();
    FleetReport {
        runs: reports,
        max_parallel: fleet.map_or(1, |f| f.max_parallel),
        fail_fast: false,
    }
}

/// One look at the execution `cfg` names: its report, the outcome from its state now
/// ([`Outcome::Running`] while it runs).
pub(crate) fn look(
    platform: &dyn Platform,
    cfg: &Config,
    clock: &dyn Clock,
    timings: &Timings,
) -> RunReport {
    let mut report = RunReport::for_config(cfg);
    let w = Waiter {
        clock,
        deadline: clock.now() + cfg.timeout,
        initial: cfg.poll_interval,
        max: cfg.max_poll_interval,
        heartbeat: timings.heartbeat,
        seed: 0,
        lookup: timings.lost_reply_lookup,
    };
    let Some(attach) = &cfg.attach else {
        return crate::orchestrate::failed_before_trigger(
            report,
            crate::wait::Failure::Refused("nothing to look at".into()),
        );
    };
    let found = platform
        .prepare(w.budget(), &mut report)
        .and_then(|()| crate::attach::find(platform, attach, &w, &mut report));
    let (id, state) = match found {
        Ok(f) => f,
        Err(f) => return crate::orchestrate::failed_before_trigger(report, f),
    };
    if let Err(f) = platform.collect(&id, Budget::until(w.deadline), &mut report) {
        log::warn!("could not read the details and steps of execution {id}: {f}");
        report
            .notes
            .push(format!("Details and steps could not be read: {f}"));
    }
    report.status = Some(state.status);
    report.outcome = match state.phase {
        Phase::Succeeded => Outcome::Succeeded,
        Phase::Failed => Outcome::Failed,
        Phase::Running => Outcome::Running,
    };
    report
}
