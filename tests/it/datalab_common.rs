//! What the Datalab tests (`datalab_run`, `datalab_failures`, `datalab_inputs`) share: the
//! API key, a three-step pipeline with short timings, the simulator holding it, a run's
//! inputs (50 ms polls), the GitHub Actions files, and what the simulator received.

use crate::common::*;
use pipeline_run_sim::{DatalabPipeline, ManualTime, Route, SimConfig, SimHandle};
use std::sync::Arc;
use std::time::Duration;

pub(crate) const KEY: &str = "dlk_live_7f3a9cSECRETb21e";

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Three steps, pending for 100 ms, done after 600 ms.
pub(crate) fn pipeline(id: &str) -> DatalabPipeline {
    DatalabPipeline::new(id, ms(600))
        .pending_for(ms(100))
        .steps(&["convert", "segment", "extract"])
}

pub(crate) fn sim_with(p: DatalabPipeline) -> SimHandle {
    start_sim(sim_config(p))
}

/// The same on a clock that moves only when the test moves it
/// ([`crate::common::ended_once`]).
pub(crate) fn held_with(p: DatalabPipeline) -> (SimHandle, Arc<ManualTime>) {
    start_sim_held(sim_config(p))
}

/// What the binary says once it has triggered a Datalab run.
pub(crate) const TRIGGERED_DATALAB: &str = "pipeline-run: triggered Datalab '";

/// The configuration of [`sim_with`].
pub(crate) fn sim_config(p: DatalabPipeline) -> SimConfig {
    SimConfig::new().datalab_key(KEY).datalab_pipeline(p)
}

/// A Datalab run of `pipeline` on `file_url` (tests that upload replace it with `file`).
pub(crate) fn datalab_env(sim: &SimHandle, pipeline: &str) -> Vec<(String, String)> {
    vec![
        ("INPUT_PLATFORM".into(), "datalab".into()),
        ("INPUT_API-URL".into(), sim.datalab_url()),
        ("DATALAB_API_KEY".into(), KEY.into()),
        ("INPUT_PIPELINE".into(), pipeline.into()),
        (
            "INPUT_FILE-URL".into(),
            "https://docs.example.com/invoices/sample.pdf".into(),
        ),
        ("INPUT_POLL-INTERVAL".into(), "50ms".into()),
        ("INPUT_MAX-POLL-INTERVAL".into(), "200ms".into()),
        ("INPUT_TIMEOUT".into(), "30s".into()),
    ]
}

/// GitHub Actions files in `dir`: summary, outputs, state, plus the three report files.
pub(crate) fn github(env: &mut Vec<(String, String)>, dir: &Scratch) {
    for f in ["summary.md", "output.txt", "state.txt"] {
        std::fs::write(dir.path(f), "").unwrap();
    }
    set(env, "GITHUB_ACTIONS", "true");
    set(
        env,
        "GITHUB_STEP_SUMMARY",
        dir.path("summary.md").to_str().unwrap(),
    );
    set(
        env,
        "GITHUB_OUTPUT",
        dir.path("output.txt").to_str().unwrap(),
    );
    set(env, "GITHUB_STATE", dir.path("state.txt").to_str().unwrap());
    set(
        env,
        "INPUT_RESULT-FILE",
        dir.path("result.json").to_str().unwrap(),
    );
    set(
        env,
        "INPUT_JUNIT-FILE",
        dir.path("junit.xml").to_str().unwrap(),
    );
    set(
        env,
        "INPUT_DOTENV-FILE",
        dir.path("run.env").to_str().unwrap(),
    );
}

pub(crate) fn json(dir: &Scratch) -> serde_json::Value {
    serde_json::from_str(&dir.read("result.json")).expect("result.json is JSON")
}

/// Every request the simulator saw, as `METHOD route`.
pub(crate) fn routes(sim: &SimHandle) -> Vec<(String, Route)> {
    sim.requests()
        .into_iter()
        .map(|r| (r.method, r.route))
        .collect()
}
