//! `pipeline-run publish` and `pipeline-run promote`: the CD half. `publish` sends every
//! file under `artifact-dir` as a new artifact version in `environment`; `promote` copies
//! a version from `from-environment` to `environment`. The recipe is the run's: inputs →
//! validated [`ArtifactConfig`] (and, for `publish`, the files: every check before any
//! request) → the requests ([`publish`], [`promote`]) → reports ([`emit`]) → exit code.
//!
//! Neither create nor promotion is ever sent twice blindly: after a lost reply, a 5xx, a
//! 409 or a 400, the version's details are read, and they decide ([`decide`]).

use crate::clock::{Clock, RealClock, Signal, SignalState};
use crate::config::artifact::{ArtifactCommand, ArtifactConfig, from_lookup};
use crate::config::{InputErrors, MatillionConfig, ProjectRef};
use crate::exit::Exit;
use crate::http::{Budget, Http};
use crate::platform::matillion::Matillion;
use crate::report::artifact::{ArtifactOutcome, ArtifactReport};
use crate::timings::Timings;
use crate::wait::Failure;
use std::sync::Arc;
use std::sync::mpsc;

pub(crate) mod decide;
mod emit;
pub(crate) mod files;
pub(crate) mod multipart;
mod promote;
mod publish;

/// What the requests of one command work with.
pub(crate) struct Context<'a> {
    pub(crate) cfg: &'a ArtifactConfig,
    pub(crate) client: &'a Matillion,
    pub(crate) clock: &'a dyn Clock,
    pub(crate) timings: &'a Timings,
    pub(crate) budget: Budget,
}

impl Context<'_> {
    fn matillion(&self) -> Option<&MatillionConfig> {
        self.cfg.matillion()
    }
}

/// Run `command` with the inputs read through `env`.
pub(crate) fn run(command: ArtifactCommand, env: &dyn Fn(&str) -> Option<String>) -> Exit {
    let ci = crate::ci::detect(env);
    crate::logging::init(env, ci);
    crate::unknown::log_warnings(env);
    let cfg = match from_lookup(command, env) {
        Ok(c) => c,
        Err(errs) => return refuse_inputs(ci, &errs),
    };
    for w in &cfg.warnings {
        log::warn!("{w}");
    }
    // `publish` reads the files before any request: a bad directory is an input error.
    let files = match command {
        ArtifactCommand::Publish => match files::collect(&cfg.dir) {
            Ok(f) => Some(f),
            Err(m) => {
                let errs = crate::config::artifact::input_error("artifact-dir", m);
                return refuse_inputs(ci, &errs);
            }
        },
        ArtifactCommand::Promote => None,
    };
    let signals = SignalState::new();
    let (sig_tx, _sig_rx) = mpsc::channel::<Signal>();
    if let Err(e) = crate::signals::install(signals.clone(), sig_tx) {
        log::warn!("could not install signal handlers ({e})");
    }
    let timings = Timings::from_env(env);
    let clock: Arc<dyn Clock> = Arc::new(RealClock::new(signals));
    let Some(client) =
        crate::platform::build::matillion_client(&cfg.base, Http::new(clock.clone()), &timings, ci)
    else {
        log::error!("`{}` is for platform matillion", command.name());
        return Exit::BadInput;
    };
    let ctx = Context {
        cfg: &cfg,
        client: &client,
        clock: clock.as_ref(),
        timings: &timings,
        budget: Budget::until(clock.now() + cfg.base.timeout),
    };
    let report = match files {
        Some(files) => publish::run(&ctx, files),
        None => promote::run(&ctx),
    };
    if let Some(bad) = crate::config::load::unusable_ca_bundle(&cfg.base, ci) {
        return bad;
    }
    emit::all(&cfg, &report, ci, env);
    exit_of(&report.outcome)
}

/// Bad inputs: each said, as annotations on GitHub, and exit 2.
fn refuse_inputs(ci: crate::ci::CiKind, errs: &InputErrors) -> Exit {
    for e in &errs.0 {
        log::error!("input '{}': {}", e.input, e.message);
    }
    crate::config::load::annotate(ci, errs);
    log::error!("nothing was sent: fix the input(s) above.");
    Exit::BadInput
}

/// The exit code of an outcome.
pub(crate) fn exit_of(outcome: &ArtifactOutcome) -> Exit {
    match outcome {
        ArtifactOutcome::Refused { .. } => Exit::Refused,
        ArtifactOutcome::Interrupted { signal } => Exit::from(*signal),
        _ => Exit::Success,
    }
}

/// The outcome of a failure.
pub(crate) fn outcome_of(f: Failure) -> ArtifactOutcome {
    match f {
        Failure::Interrupted(signal) => ArtifactOutcome::Interrupted { signal },
        other => ArtifactOutcome::Refused {
            reason: other.to_string(),
        },
    }
}

/// The report's start: what was asked, nothing done yet.
pub(crate) fn report_for(cfg: &ArtifactConfig) -> ArtifactReport {
    ArtifactReport {
        command: cfg.command.name(),
        project: cfg.matillion().map(|m| m.project.to_string()),
        project_id: cfg.matillion().and_then(|m| match &m.project {
            ProjectRef::Id(id) => Some(id.clone()),
            ProjectRef::Name(_) => None,
        }),
        environment: cfg.environment().to_string(),
        from_environment: (cfg.command == ArtifactCommand::Promote)
            .then(|| cfg.from_environment.clone()),
        version: cfg.version.clone(),
        version_from: cfg.version_from.clone(),
        commit: cfg.commit.clone(),
        branch: cfg.branch.clone(),
        outcome: ArtifactOutcome::DryRun,
        files: Vec::new(),
        bytes: 0,
        left_out: Vec::new(),
        ignored_resources: Vec::new(),
        notes: Vec::new(),
    }
}

/// Resolve the project into `report` (its id, and the name with it).
pub(crate) fn resolve(ctx: &Context<'_>, report: &mut ArtifactReport) -> Result<(), Failure> {
    let id = ctx.client.artifact_project(ctx.budget)?;
    if let Some(ProjectRef::Name(n)) = ctx.matillion().map(|m| &m.project) {
        report.project = Some(format!("{n} ({id})"));
    }
    report.project_id = Some(id);
    Ok(())
}

/// Sleep `d` (cut to the deadline) before sending again: `Err` when a signal came, or when
/// the deadline leaves no room.
pub(crate) fn pause(ctx: &Context<'_>, d: std::time::Duration) -> Result<(), ArtifactOutcome> {
    let now = ctx.clock.now();
    if now + d >= ctx.budget.deadline {
        return Err(ArtifactOutcome::Refused {
            reason: "the deadline (input 'timeout') passed before the request could be sent again"
                .into(),
        });
    }
    match ctx.clock.sleep(d) {
        crate::clock::Wake::Signal(signal) => Err(ArtifactOutcome::Interrupted { signal }),
        _ => Ok(()),
    }
}
