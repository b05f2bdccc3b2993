//! `pipeline-run wait` against the simulator, on executions started directly on it as a
//! schedule would start them (no trigger from the binary): by id and by pipeline, the
//! report as `run` writes it, several runs going, none going (exit 4, or waiting for the
//! next to start), an unknown id after the replica-lag grace, and never a cancel of what
//! it did not start (timeout, signal, post step) unless `cancel-on-timeout: true` is given.

use crate::common::*;
use crate::datalab_common::github;
use pipeline_run_sim::{
    Environment, ManualTime, Project, PublishedPipeline, Route, RunScript, SeedExecution,
    SimConfig, SimHandle,
};
use std::sync::Arc;
use std::time::Duration;

pub(crate) const PROJECT_ID: &str = "5e6f7081-92a3-4b4c-8d5e-6f708192a3b4";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(crate) fn config() -> SimConfig {
    SimConfig::new().cancel_delay(ms(100)).project(
        Project::new(PROJECT_ID, "Analytics").environment(
            Environment::new("prod")
                .pipeline(PublishedPipeline::new("quick", RunScript::new(ms(400), 3)))
                .pipeline(PublishedPipeline::new(
                    "broken",
                    RunScript::failure(ms(400), 3, 1, "table missing"),
                ))
                .pipeline(PublishedPipeline::new(
                    "slow",
                    RunScript::new(Duration::from_secs(600), 3),
                ))
                // A partial match of the name filter: never followed for 'quick'.
                .pipeline(PublishedPipeline::new(
                    "quick-reload",
                    RunScript::new(Duration::from_secs(600), 3),
                )),
        ),
    )
}

pub(crate) fn sim() -> SimHandle {
    start_sim(config())
}

/// The same on a clock that moves only when the test moves it: the short runs go on until
/// the binary has found them, however slowly the machine runs.
fn held() -> (SimHandle, Arc<ManualTime>) {
    start_sim_held(config())
}

/// Run the binary with `env` and `args` until its log has every line of `seen` (it found
/// the runs), then move the clock a second on (the short runs end); its output.
fn found_then_ended(
    clock: &ManualTime,
    env: &[(String, String)],
    args: &[&str],
    seen: &[String],
) -> Output {
    let mut child = spawn(env, args);
    let live = LiveStderr::take(&mut child);
    wait_for("the runs to be found", || {
        seen.iter().all(|l| live.contains(l))
    });
    clock.advance(Duration::from_secs(1));
    live.finish(child)
}

/// A past run of `pipeline` in prod that took 30 s and ended `ago` before now; its id.
pub(crate) fn ended(sim: &SimHandle, pipeline: &str, ago: Duration) -> String {
    sim.add_running_execution(
        SeedExecution::new(pipeline, "prod")
            .project(PROJECT_ID)
            .finished(Duration::from_secs(30), ago),
    )
}

/// A GitHub step that follows `pipeline` (the id is added by each test), with every report
/// file in `dir`.
pub(crate) fn job(sim: &SimHandle, dir: &Scratch, pipeline: &str) -> Vec<(String, String)> {
    let mut env = matillion_env(sim, "Analytics", "prod", pipeline);
    github(&mut env, dir);
    env
}

/// The same, following `id` (no pipeline, no environment: both come from the execution).
pub(crate) fn job_for_id(sim: &SimHandle, dir: &Scratch, id: &str) -> Vec<(String, String)> {
    let mut env = job(sim, dir, "");
    unset(&mut env, "MATILLION_PIPELINE");
    unset(&mut env, "MATILLION_ENVIRONMENT");
    set(&mut env, "INPUT_EXECUTION-ID", id);
    env
}

fn json(dir: &Scratch) -> serde_json::Value {
    crate::datalab_common::json(dir)
}

/// The start of the line that names the execution followed.
fn found(pipeline: &str, id: &str) -> String {
    format!("following Matillion '{pipeline}': execution {id}")
}

/// The line that names the execution followed, with its start as the report has it.
fn following(pipeline: &str, id: &str, dir: &Scratch) -> String {
    let started = json(dir)["started_at"].as_str().unwrap_or("?").to_string();
    format!(
        "pipeline-run: following Matillion '{pipeline}': execution {id}, started {started} by SCHEDULE (not started by this step: left running if the wait stops early)"
    )
}

#[test]
fn wait_by_id_reports_a_scheduled_run_as_run_does_without_a_trigger() {
    let (sim, clock) = held();
    let dir = Scratch::new("attach-id");
    let id = sim.start_scheduled("prod", "quick").expect("published");
    let mut env = job_for_id(&sim, &dir, &id);
    set(&mut env, "INPUT_COMMAND", "wait");
    let out = found_then_ended(&clock, &env, &[], &[found("quick", &id)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    has_line(&out.stderr, &following("quick", &id, &dir));
    has_line(&out.stdout, &format!("::group::Waiting for execution {id}"));
    assert!(
        out.stderr.contains("pipeline-run: result: SUCCESS in "),
        "{}",
        out.stderr
    );
    assert!(sim.requests_to(Route::Trigger).is_empty());
    assert!(sim.requests_to(Route::Cancel).is_empty());
    // The reports of a run: outputs, summary, JSON, JUnit, dotenv.
    let outputs = parse_outputs(&dir.read("output.txt"));
    assert_eq!(output(&outputs, "outcome").as_deref(), Some("succeeded"));
    assert_eq!(output(&outputs, "execution-id"), Some(id.clone()));
    assert_eq!(output(&outputs, "steps-total").as_deref(), Some("3"));
    let v = json(&dir);
    assert_eq!(v["pipeline"], "quick");
    assert_eq!(v["environment"], "prod");
    assert_eq!(v["trigger"], "SCHEDULE");
    assert_eq!(v["outcome"]["kind"], "succeeded");
    assert_eq!(v["steps"].as_array().map(Vec::len), Some(3));
    let summary = dir.read("summary.md");
    assert!(summary.contains("✅ quick succeeded"), "{summary}");
    assert!(dir.read("junit.xml").contains("tests=\"3\""));
    assert!(
        dir.read("run.env")
            .contains(&format!("PIPELINE_RUN_EXECUTION_ID={id}\n"))
    );
    // Nothing for the post step to clean up.
    let state = parse_outputs(&dir.read("state.txt"));
    assert_eq!(state, [("done".to_string(), "true".to_string())]);
}

#[test]
fn wait_follows_a_failed_run_to_exit_1_with_its_failed_step() {
    let (sim, clock) = held();
    let dir = Scratch::new("attach-failed");
    let id = sim.start_scheduled("prod", "broken").expect("published");
    let env = job_for_id(&sim, &dir, &id);
    let out = found_then_ended(&clock, &env, &["wait"], &[found("broken", &id)]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stdout.contains("::error title=Step 2::table missing"),
        "{}",
        out.stdout
    );
    assert_eq!(json(&dir)["outcome"]["kind"], "failed");
}

#[test]
fn wait_by_pipeline_follows_the_most_recent_of_the_runs_going_and_says_which() {
    let (sim, clock) = held();
    let dir = Scratch::new("attach-several");
    let older = sim.add_running_execution(
        SeedExecution::new("quick", "prod")
            .project(PROJECT_ID)
            .running_for(Duration::from_secs(60))
            .script(RunScript::new(Duration::from_secs(600), 3)),
    );
    let other = sim
        .start_scheduled("prod", "quick-reload")
        .expect("published");
    let newest = sim.start_scheduled("prod", "quick").expect("published");
    let seen = [format!("following the most recent, execution {newest}")];
    let out = found_then_ended(&clock, &job(&sim, &dir, "quick"), &["wait"], &seen);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let started = json(&dir)["started_at"].as_str().unwrap_or("?").to_string();
    has_line(
        &out.stderr,
        &format!(
            "pipeline-run: 2 runs of pipeline 'quick' in environment 'prod' were going; following the most recent, execution {newest}, started {started} (not followed: {older})."
        ),
    );
    has_line(&out.stderr, &following("quick", &newest, &dir));
    assert_eq!(json(&dir)["execution_id"], newest.as_str());
    assert!(!out.stderr.contains(&other));
    // The list asked for: this pipeline's running executions in this environment.
    let lists = sim.requests_to(Route::ListExecutions);
    let q = lists[0].query_pairs();
    for (k, v) in [
        ("projectId", PROJECT_ID),
        ("pipelineName", "quick"),
        ("environmentName", "prod"),
        ("status", "RUNNING"),
    ] {
        assert!(q.contains(&(k.into(), v.into())), "{q:?}");
    }
    // The older run goes on: it was never touched.
    assert_eq!(
        sim.execution(&older).map(|e| e.status).as_deref(),
        Some("RUNNING")
    );
    assert!(sim.requests_to(Route::Cancel).is_empty());
}

#[test]
fn wait_by_pipeline_with_none_going_exits_4_naming_pipeline_and_environment() {
    let sim = sim();
    let dir = Scratch::new("attach-none");
    // Ended runs and another pipeline's run are not followed.
    ended(&sim, "quick", Duration::from_secs(60));
    sim.start_scheduled("prod", "quick-reload")
        .expect("published");
    let out = run(&job(&sim, &dir, "quick"), &["wait"]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    has_line(
        &out.stderr,
        "pipeline-run: error: no run of pipeline 'quick' in environment 'prod' is going (`wait-for-start: true` waits for the next one)",
    );
    assert!(sim.requests_to(Route::Status).is_empty());
    assert!(sim.requests_to(Route::Details).is_empty());
    assert_eq!(json(&dir)["outcome"]["kind"], "refused");
}

#[test]
fn wait_for_start_follows_the_next_run_once_its_schedule_starts_it() {
    let (sim, clock) = held();
    let dir = Scratch::new("attach-next");
    let mut env = job(&sim, &dir, "quick");
    set(&mut env, "INPUT_WAIT-FOR-START", "true");
    let mut child = spawn(&env, &["wait"]);
    let live = LiveStderr::take(&mut child);
    wait_for("the wait for a start", || {
        live.contains("no run of pipeline 'quick' in environment 'prod' is going; waiting for the next one to start")
    });
    let id = sim.start_scheduled("prod", "quick").expect("published");
    // It ends once it was found.
    wait_for("the run to be found", || {
        live.contains(&found("quick", &id))
    });
    clock.advance(Duration::from_secs(1));
    let out = live.finish(child);
    assert_eq!(out.code, 0, "{}", out.stderr);
    has_line(&out.stderr, &following("quick", &id, &dir));
    assert!(sim.requests_to(Route::ListExecutions).len() >= 2);
}

#[test]
fn wait_for_start_ends_at_the_timeout_when_none_starts() {
    let sim = sim();
    let dir = Scratch::new("attach-never");
    let mut env = job(&sim, &dir, "quick");
    set(&mut env, "INPUT_WAIT-FOR-START", "true");
    set(&mut env, "INPUT_TIMEOUT", "1s");
    let out = run(&env, &["wait"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    has_line(
        &out.stderr,
        "pipeline-run: error: timed out waiting for a run of pipeline 'quick' in environment 'prod' to start",
    );
    let looks = sim.requests_to(Route::ListExecutions).len();
    assert!((2..=20).contains(&looks), "{looks} looks");
}

#[test]
fn a_timeout_leaves_the_run_going_unless_cancel_on_timeout_is_given() {
    let sim = sim();
    let dir = Scratch::new("attach-timeout");
    let id = sim.start_scheduled("prod", "slow").expect("published");
    let mut env = job_for_id(&sim, &dir, &id);
    set(&mut env, "INPUT_TIMEOUT", "1s");
    let out = run(&env, &["wait"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    has_line(
        &out.stderr,
        "pipeline-run: warning: timed out after 1s; the run goes on (cancel-on-timeout is false)",
    );
    assert!(sim.requests_to(Route::Cancel).is_empty());
    assert_eq!(
        sim.execution(&id).map(|e| e.status).as_deref(),
        Some("RUNNING")
    );
}

#[test]
fn a_timeout_cancels_the_run_when_cancel_on_timeout_is_given() {
    // Given explicitly: cancelled on timeout, as `run` does.
    let sim = sim();
    let id = sim.start_scheduled("prod", "slow").expect("published");
    let dir = Scratch::new("attach-timeout-cancel");
    let mut env = job_for_id(&sim, &dir, &id);
    set(&mut env, "INPUT_TIMEOUT", "1s");
    set(&mut env, "INPUT_CANCEL-ON-TIMEOUT", "true");
    let out = run(&env, &["wait"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    has_line(
        &out.stderr,
        "pipeline-run: warning: timed out after 1s while the run was RUNNING; cancelling it",
    );
    assert_eq!(sim.requests_to(Route::Cancel).len(), 1);
    assert!(sim.execution(&id).is_some_and(|e| e.cancel_requested));
}

#[test]
fn a_signal_leaves_the_run_going_and_the_post_step_has_nothing_to_do() {
    let sim = sim();
    let dir = Scratch::new("attach-signal");
    let id = sim.start_scheduled("prod", "slow").expect("published");
    let env = job_for_id(&sim, &dir, &id);
    let mut child = spawn(&env, &["wait"]);
    let live = LiveStderr::take(&mut child);
    wait_for("the wait", || live.contains("status: RUNNING"));
    signal(&child, "TERM");
    let out = live.finish(child);
    assert_eq!(out.code, 143, "{}", out.stderr);
    has_line(
        &out.stderr,
        &format!(
            "pipeline-run: warning: execution {id} goes on: this step did not start it, and does not cancel it"
        ),
    );
    assert!(sim.requests_to(Route::Cancel).is_empty());
    assert_eq!(
        sim.execution(&id).map(|e| e.status).as_deref(),
        Some("RUNNING")
    );
    // The post step, as the runner calls it, with the state the main step left.
    let state = parse_outputs(&dir.read("state.txt"));
    assert_eq!(output(&state, "execution_id"), None, "{state:?}");
    let mut post_env = env.clone();
    for (k, v) in &state {
        set(&mut post_env, &format!("STATE_{k}"), v.clone());
    }
    let post = run(&post_env, &["post"]);
    assert_eq!(post.code, 0, "{}", post.stderr);
    assert!(sim.requests_to(Route::Cancel).is_empty());
}

#[test]
fn an_unknown_id_exits_4_naming_it_after_the_replica_lag_grace() {
    let sim = sim();
    let dir = Scratch::new("attach-unknown");
    let id = "0f6e1c2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b";
    let mut env = job_for_id(&sim, &dir, id);
    // The grace, 30 s / 100: 0.3 s.
    set(&mut env, "PIPELINE_RUN_TEST_TIMINGS", "100");
    let out = run(&env, &["wait"]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with("pipeline-run: error: "))
        .unwrap_or_default()
        .to_string();
    assert!(
        line.starts_with(&format!(
            "pipeline-run: error: Matillion does not know execution {id} in project 'Analytics' (404"
        )) && line.ends_with("still 300ms later): check the id and the project"),
        "{line}"
    );
    // Asked again for the grace (0.3 s under these test timings; it starts once the project
    // is found, after its list was asked for), never cancelled. The last ask may leave
    // before the grace ends (it ends while the reply is on its way): five sixths of it.
    let details = sim.requests_to(Route::Details);
    assert!(details.len() >= 2, "{} requests", details.len());
    let project_found = sim.requests_to(Route::Projects)[0].elapsed;
    let span = details[details.len() - 1].elapsed - project_found;
    assert!(span >= ms(250), "asked until {span:?}");
    assert!(sim.requests_to(Route::Cancel).is_empty());
}

#[test]
fn a_run_not_yet_on_every_replica_is_found_within_the_grace() {
    // The replica catches up once the test has seen a 404 for the run (the clock moved past
    // the lag), however long the binary took to ask.
    let (sim, clock) = start_sim_held(config().replica_lag(Duration::from_secs(60)));
    let dir = Scratch::new("attach-lag");
    let id = sim.start_scheduled("prod", "quick").expect("published");
    let child = spawn(&job_for_id(&sim, &dir, &id), &["wait"]);
    wait_for("a 404 for the run", || {
        sim.requests_to(Route::Details)
            .iter()
            .any(|r| r.status == Some(404))
    });
    clock.advance(Duration::from_secs(60));
    let out = finish(child);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let details = sim.requests_to(Route::Details);
    assert_eq!(details[0].status, Some(404));
    has_line(&out.stderr, &following("quick", &id, &dir));
}

#[test]
fn several_pipelines_attach_to_each() {
    let (sim, clock) = held();
    let dir = Scratch::new("attach-fleet");
    let quick = sim.start_scheduled("prod", "quick").expect("published");
    let broken = sim.start_scheduled("prod", "broken").expect("published");
    let env = job(&sim, &dir, "quick\nbroken");
    let seen = [&quick, &broken].map(|id| format!("': {id}, started "));
    let out = found_then_ended(&clock, &env, &["wait"], &seen);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let v = json(&dir);
    for (i, (name, id)) in [("quick", &quick), ("broken", &broken)]
        .into_iter()
        .enumerate()
    {
        let started = v["pipelines"][i]["started_at"].as_str().unwrap_or("?");
        has_line(
            &out.stderr,
            &format!(
                "pipeline-run: [{name}] found the running execution of pipeline '{name}' in environment 'prod': {id}, started {started}"
            ),
        );
    }
    assert_eq!(v["pipelines"][0]["execution_id"], quick.as_str());
    assert_eq!(v["pipelines"][0]["outcome"]["kind"], "succeeded");
    assert_eq!(v["pipelines"][1]["execution_id"], broken.as_str());
    assert_eq!(v["pipelines"][1]["outcome"]["kind"], "failed");
    assert!(sim.requests_to(Route::Trigger).is_empty());
    // Nothing saved for the post step.
    assert!(!dir.read("state.txt").contains("execution_id"));
}

#[test]
fn a_followed_run_that_stops_being_found_is_never_cancelled() {
    let sim = sim();
    let dir = Scratch::new("attach-lost");
    let id = sim.start_scheduled("prod", "slow").expect("published");
    let mut env = job_for_id(&sim, &dir, &id);
    // The grace, 30 s / 100: 0.3 s.
    set(&mut env, "PIPELINE_RUN_TEST_TIMINGS", "100");
    let mut child = spawn(&env, &["wait"]);
    let live = LiveStderr::take(&mut child);
    wait_for("the wait", || live.contains("status: RUNNING"));
    sim.add_fault(pipeline_run_sim::Fault::always(
        Route::Status,
        pipeline_run_sim::FaultAction::respond(
            404,
            "application/problem+json",
            r#"{"status":404,"title":"Pipeline Execution not Found"}"#,
        ),
    ));
    let out = live.finish(child);
    assert_eq!(out.code, 4, "{}", out.stderr);
    // Asked again for the grace (a replica that lags), then said, never cancelled.
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with("pipeline-run: error: Matillion refused the status poll: 404"))
        .unwrap_or_default();
    assert!(
        line.ends_with(&format!(
            "; execution {id} has not been found for 300ms; this step did not start it and does not cancel it — check it in the Matillion console"
        )),
        "{}",
        out.stderr
    );
    assert!(sim.requests_to(Route::Cancel).is_empty());
    assert_eq!(
        sim.execution(&id).map(|e| e.status).as_deref(),
        Some("RUNNING")
    );
}

#[test]
fn wait_by_id_compares_the_run_with_its_pipelines_past_runs() {
    let (sim, clock) = held();
    let dir = Scratch::new("attach-history");
    for ago in 1..=5 {
        ended(&sim, "quick", Duration::from_secs(60 * ago));
    }
    let id = sim.start_scheduled("prod", "quick").expect("published");
    let env = job_for_id(&sim, &dir, &id);
    let out = found_then_ended(&clock, &env, &["wait"], &[found("quick", &id)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The pipeline and environment come from the execution (the inputs named neither).
    let lists = sim.requests_to(Route::ListExecutions);
    assert_eq!(lists.len(), 1, "{lists:?}");
    let q = lists[0].query_pairs();
    assert!(
        q.contains(&("pipelineName".into(), "quick".into())),
        "{q:?}"
    );
    assert!(
        q.contains(&("environmentName".into(), "prod".into())),
        "{q:?}"
    );
    let v = json(&dir);
    assert_eq!(v["history"]["successful_runs"], 5);
    assert_eq!(v["history"]["median_seconds"], 30.0);
}

#[test]
fn a_run_that_ended_before_the_wait_is_not_one_of_its_own_past_runs() {
    // The list of past runs is read after the execution is found: a run that ended by then
    // is in that list, and is left out of its own history.
    let sim = sim();
    let dir = Scratch::new("attach-ended-history");
    for ago in 2..=6 {
        ended(&sim, "quick", Duration::from_secs(60 * ago));
    }
    let id = ended(&sim, "quick", Duration::from_secs(1));
    let out = run(&job_for_id(&sim, &dir, &id), &["wait"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = json(&dir);
    assert_eq!(v["execution_id"], id.as_str());
    assert_eq!(v["history"]["successful_runs"], 5);
    assert_eq!(v["history"]["median_seconds"], 30.0);
    assert_eq!(v["history"]["change_percent"], 0);
}
