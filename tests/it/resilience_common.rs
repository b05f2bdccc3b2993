//! What the resilience tests (`resilience_faults`, `resilience_trigger`, `resilience_cancel`)
//! share: the project (`load`, `long`, `load-extra`), the simulator holding it with faults
//! injected, a run's inputs, and the GitHub files for outputs and summary.

use crate::common::*;
use pipeline_run_sim::{
    Environment, Fault, Project, PublishedPipeline, RecordedRequest, RunScript, SimConfig,
    SimHandle,
};
use std::time::Duration;

pub(crate) const PROJECT_ID: &str = "5d0e7a2c-1111-4222-8333-944455556666";
pub(crate) const PROJECT: &str = "Warehouse";
pub(crate) const ENV: &str = "dev";

/// `load` ends in well under a second; `long` runs for two minutes (it is cancelled);
/// `load-extra` shares a prefix with `load` (the list filter is a partial match).
pub(crate) fn project() -> Project {
    Project::new(PROJECT_ID, PROJECT).environment(
        Environment::new(ENV)
            .pipeline(PublishedPipeline::new(
                "load",
                RunScript::new(Duration::from_millis(300), 3),
            ))
            .pipeline(PublishedPipeline::new(
                "long",
                RunScript::new(Duration::from_secs(120), 3),
            ))
            .pipeline(PublishedPipeline::new(
                "load-extra",
                RunScript::new(Duration::from_secs(120), 3),
            )),
    )
}

/// The platform takes this long to move a cancelled run to CANCELLED: well inside the
/// binary's follow after a signal (1.5 s, divided by [`TIMINGS_DIVISOR`] here).
pub(crate) fn cancel_delay() -> Duration {
    Duration::from_millis(200) / TIMINGS_DIVISOR
}

pub(crate) fn sim_config() -> SimConfig {
    SimConfig::new()
        .project(project())
        .cancel_delay(cancel_delay())
}

pub(crate) fn sim(faults: Vec<Fault>) -> SimHandle {
    let mut c = sim_config();
    for f in faults {
        c = c.fault(f);
    }
    start_sim(c)
}

pub(crate) fn env_for(sim: &SimHandle, pipeline: &str) -> Vec<(String, String)> {
    matillion_env(sim, PROJECT, ENV, pipeline)
}

pub(crate) fn statuses(reqs: &[RecordedRequest]) -> Vec<Option<u16>> {
    reqs.iter().map(|r| r.status).collect()
}

/// GitHub-style files for outputs and summary.
pub(crate) struct GithubFiles {
    pub(crate) scratch: Scratch,
}

impl GithubFiles {
    pub(crate) fn new(tag: &str, env: &mut Vec<(String, String)>) -> Self {
        let scratch = Scratch::new(tag);
        set(env, "GITHUB_ACTIONS", "true");
        set(
            env,
            "GITHUB_OUTPUT",
            scratch.path("output").to_string_lossy(),
        );
        set(
            env,
            "GITHUB_STEP_SUMMARY",
            scratch.path("summary.md").to_string_lossy(),
        );
        set(env, "GITHUB_STATE", scratch.path("state").to_string_lossy());
        Self { scratch }
    }
    pub(crate) fn outputs(&self) -> Vec<(String, String)> {
        parse_outputs(&self.scratch.read("output"))
    }
    pub(crate) fn summary(&self) -> String {
        self.scratch.read("summary.md")
    }
}
