//! The demo world served by `pipeline-run-sim serve` and `demo`: project `Demo`,
//! environment `dev`, pipelines `nightly-load`, `broken-load` and `hostile` (step names
//! and messages that try to break reporters), fixed credentials, and a Datalab pipeline;
//! and its past ([`demo_past_runs`]): a few successful runs of each pipeline on the days
//! before, so that the first demo already polls around the expected end and compares the
//! run with its history.

use super::{
    DatalabPipeline, Environment, Project, PublishedPipeline, RunScript, SeedExecution, SimConfig,
};
use std::str::FromStr;
use std::time::Duration;

/// The demo project's id.
pub const DEMO_PROJECT_ID: &str = "2f7c4e1a-9b3d-4c6e-8a15-d0e1f2a3b4c5";
/// The demo project's name.
pub const DEMO_PROJECT_NAME: &str = "Demo";
/// The demo OAuth client id.
pub const DEMO_CLIENT_ID: &str = "demo-client";
/// The demo OAuth client secret.
pub const DEMO_CLIENT_SECRET: &str = "demo-secret";
/// The demo Datalab API key.
pub const DEMO_DATALAB_KEY: &str = "demo-datalab-key";
/// The demo Datalab pipeline id.
pub const DEMO_DATALAB_PIPELINE: &str = "pl_demo";

/// What `nightly-load` does in the demo world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scenario {
    /// Succeeds after about 6 s with 12 steps.
    #[default]
    Success,
    /// Fails at one step.
    Failure,
    /// Queued, then an unknown status, then about 2 minutes of running.
    Slow,
    /// Fails at a step, with hostile step names and messages (markup, workflow
    /// commands, newlines followed by `status=SUCCESS`).
    Hostile,
}

impl FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "success" => Ok(Scenario::Success),
            "failure" => Ok(Scenario::Failure),
            "slow" => Ok(Scenario::Slow),
            "hostile" => Ok(Scenario::Hostile),
            other => Err(format!(
                "unknown scenario {other:?} (expected success, failure, slow or hostile)"
            )),
        }
    }
}

const STEP_NAMES: [&str; 12] = [
    "Start",
    "Extract customers",
    "Extract orders",
    "Extract products",
    "Stage orders",
    "Dedupe customers",
    "Join order lines",
    "Load orders",
    "Load customers",
    "Refresh aggregates",
    "Run data checks",
    "End Success",
];

fn named(mut s: RunScript) -> RunScript {
    for (i, n) in STEP_NAMES.iter().enumerate().take(s.steps) {
        if s.step_specs.get(&i).is_none_or(|sp| sp.name.is_none()) {
            s = s.step_name(i, n);
        }
    }
    s
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn success() -> RunScript {
    named(RunScript::new(secs(6), 12).phase(secs(1), "QUEUED"))
        .child_pipeline(6, "join-order-lines")
}

fn failure() -> RunScript {
    named(RunScript::new(secs(5), 8).status("FAILED").fail_step(
        7,
        "SQL compilation error: Object 'ANALYTICS.PUBLIC.ORDERS' does not exist or not authorized.",
    ))
}

fn slow() -> RunScript {
    named(
        RunScript::new(secs(130), 12)
            .phase(secs(5), "QUEUED")
            .phase(secs(10), "PENDING_AGENT"),
    )
}

fn hostile() -> RunScript {
    RunScript::new(secs(6), 8)
        .step_name(0, "<script>alert(1)</script>")
        .step_message(0, "<img src=x onerror=alert(1)>")
        .step_name(1, "| x |")
        .step_message(1, "| a | b |\n|---|---|")
        .step_name(2, "::error::pwned")
        .step_message(2, "::error::pwned\n::set-output name=status::SUCCESS")
        .step_name(3, "[click](https://evil.example)")
        .step_message(3, "@here ![img](https://evil.example/x.png)")
        .step_name(4, "Line\nbreak")
        .step_message(4, "partial failure\nstatus=SUCCESS")
        .step_name(5, "`code` **bold** <!-- comment -->")
        .step_name(6, "%0A%25 ${{ secrets.TOKEN }}")
        .step_name(7, "End")
        .status("FAILED")
        .fail_step(
            4,
            "bad row\nstatus=SUCCESS\r\n::error::pwned </details> <script>x</script>",
        )
}

impl SimConfig {
    /// The demo world; `scenario` decides what `nightly-load` does.
    pub fn demo(scenario: Scenario) -> Self {
        let nightly = match scenario {
            Scenario::Success => success(),
            Scenario::Failure => failure(),
            Scenario::Slow => slow(),
            Scenario::Hostile => hostile(),
        };
        let dev = Environment::new("dev")
            .pipeline(PublishedPipeline::new("nightly-load", nightly).versions(&["1.0.0", "1.1.0"]))
            .pipeline(PublishedPipeline::new("broken-load", failure()))
            .pipeline(PublishedPipeline::new("hostile", hostile()))
            .pipeline(PublishedPipeline::new("slow-load", slow()))
            .pipeline(PublishedPipeline::new("legacy-load", success()).disabled());
        let prod =
            Environment::new("prod").pipeline(PublishedPipeline::new("nightly-load", success()));
        SimConfig::new()
            .credentials(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
            .project(
                Project::new(DEMO_PROJECT_ID, DEMO_PROJECT_NAME)
                    .description("Demo project served by pipeline-run-sim")
                    .environment(dev)
                    .environment(prod),
            )
            .datalab_key(DEMO_DATALAB_KEY)
            .datalab_pipeline(
                DatalabPipeline::new(DEMO_DATALAB_PIPELINE, secs(6))
                    .steps(&["convert", "segment", "extract"]),
            )
    }
}

/// How long each past run took, as a share of what the pipeline's script takes today:
/// one a day, newest first, within about a tenth of it.
const PAST_RUNS: [f64; 8] = [0.91, 1.06, 0.96, 1.12, 0.88, 1.03, 0.98, 1.09];

/// The past of a demo world (`SimConfig::demo`, or any other: every enabled pipeline of
/// every environment of every project of `config`): [`PAST_RUNS`] successful runs each,
/// ended one a day before now, to seed with
/// [`SimHandle::add_running_execution`](crate::SimHandle::add_running_execution).
pub fn demo_past_runs(config: &SimConfig) -> Vec<SeedExecution> {
    let day = Duration::from_secs(86_400);
    let mut out = Vec::new();
    for project in &config.projects {
        for env in &project.environments {
            for p in env.pipelines.iter().filter(|p| !p.disabled) {
                for (i, share) in PAST_RUNS.iter().enumerate() {
                    let took = Duration::from_millis(
                        (p.script.duration.as_millis() as f64 * share).round() as u64,
                    );
                    out.push(
                        SeedExecution::new(&p.name, &env.name)
                            .project(&project.id)
                            .finished(took, day * (i as u32 + 1)),
                    );
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_enabled_demo_pipeline_has_past_runs_around_its_length_today() {
        let config = SimConfig::demo(Scenario::Success);
        let past = demo_past_runs(&config);
        // nightly-load, broken-load, hostile and slow-load in dev, nightly-load in prod.
        assert_eq!(past.len(), 5 * PAST_RUNS.len());
        assert!(past.iter().all(|s| s.pipeline != "legacy-load"));
        let nightly: Vec<&SeedExecution> = past
            .iter()
            .filter(|s| s.pipeline == "nightly-load" && s.environment == "dev")
            .collect();
        assert_eq!(nightly.len(), PAST_RUNS.len());
        for s in nightly {
            assert_eq!(s.project_id.as_deref(), Some(DEMO_PROJECT_ID));
            let took = s.script.duration.as_secs_f64();
            assert!((5.2..=6.8).contains(&took), "{took}");
            assert!(s.running_for >= Duration::from_secs(86_400));
            assert_eq!(s.script.final_status, "SUCCESS");
        }
    }
}
