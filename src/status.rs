//! `pipeline-run status`: one look at an execution, by id or the latest of a pipeline
//! ([`crate::attach`]), reported as a run is (log line, outputs, summary, dotenv, JUnit,
//! JSON). Exit 0 when it succeeded, 1 when it failed or was cancelled,
//! [`Exit::StillRunning`] while it runs. A handful of requests: the token, the project,
//! the list (by pipeline), the details, the steps; no wait, no trigger, no cancel.

use crate::clock::{Clock, RealClock, SignalState};
use crate::config::{Config, Purpose, load};
use crate::exit::Exit;
use crate::http::{Budget, Http};
use crate::model::{Outcome, RunReport};
use crate::platform::Platform;
use crate::report::fleet::FleetReport;
use crate::run::worker::failed_before_trigger;
use crate::timings::Timings;
use crate::wait::{Failure, Phase, Waiter};
use std::sync::Arc;

/// Run `status`: look at each execution asked for (one, or the latest of each pipeline),
/// one after the other on one client, and write every report asked for.
pub(crate) fn run(env: &dyn Fn(&str) -> Option<String>) -> Exit {
    let ci = crate::ci::detect(env);
    crate::logging::init(env, ci);
    let cfg = match load::load_for(env, ci, Purpose::Status) {
        Ok(c) => c,
        Err(e) => return e,
    };
    for w in cfg.warnings() {
        log::warn!("{w}");
    }
    let timings = Timings::from_env(env);
    // A look is short: a signal ends it as it would end any program.
    let clock: Arc<dyn Clock> = Arc::new(RealClock::new(SignalState::new()));
    let runs = cfg.runs();
    let platforms = crate::platform::build::clients(&runs, Http::new(clock.clone()), &timings, ci);
    let several = runs.len() > 1;
    let reports = runs
        .iter()
        .zip(&platforms)
        .map(|(run, platform)| {
            crate::logging::set_context(several.then(|| run.pipeline()));
            let r = look(platform.as_ref(), run, clock.as_ref(), &timings);
            crate::logging::set_context(None);
            r
        })
        .collect();
    let fleet = FleetReport {
        runs: reports,
        max_parallel: cfg.fleet.as_ref().map_or(1, |f| f.max_parallel),
        fail_fast: false,
        rejected_requests: platforms.first().map_or(0, |p| p.rejected_requests()),
    };
    if let Some(bad) = load::unusable_ca_bundle(&cfg, ci) {
        return bad;
    }
    crate::emit::all(&cfg, &fleet, ci, env);
    fleet.exit()
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
        let nothing = Failure::Refused("nothing to look at".into());
        return failed_before_trigger(report, nothing);
    };
    let found = platform
        .prepare(w.budget(), &mut report)
        .and_then(|()| crate::attach::find(platform, attach, &w, &mut report));
    let (id, state) = match found {
        Ok(f) => f,
        Err(f) => return failed_before_trigger(report, f),
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
