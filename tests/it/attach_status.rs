//! `pipeline-run status` (one look: exit 0, 1, or 5 while the run goes on), the inputs of
//! `wait` and `status` checked before any request (the id's form, neither id nor pipeline,
//! the `command` input), and Datalab, which follows an execution by id only.

use crate::attach::{PROJECT_ID, ended, job, job_for_id, sim};
use crate::common::*;
use crate::datalab_common::{datalab_env, github, held_with, pipeline, sim_with};
use pipeline_run_sim::{Route, SeedExecution};
use std::time::Duration;

#[test]
fn status_of_a_running_execution_exits_5_with_the_steps_so_far() {
    let sim = sim();
    let dir = Scratch::new("status-running");
    let id = sim.start_scheduled("prod", "slow").expect("published");
    let out = run(&job_for_id(&sim, &dir, &id), &["status"]);
    assert_eq!(out.code, 5, "{}", out.stderr);
    has_line(
        &out.stderr,
        &format!("pipeline-run: result: execution {id} is still running (RUNNING)"),
    );
    let outputs = parse_outputs(&dir.read("output.txt"));
    assert_eq!(output(&outputs, "outcome").as_deref(), Some("running"));
    assert_eq!(output(&outputs, "status").as_deref(), Some("RUNNING"));
    let v = crate::datalab_common::json(&dir);
    assert_eq!(v["outcome"], serde_json::json!({"kind": "running"}));
    assert_eq!(v["pipeline"], "slow");
    assert!(dir.read("summary.md").contains("⏳ slow is still running"));
    assert!(
        dir.read("run.env")
            .contains("PIPELINE_RUN_OUTCOME=running\n")
    );
    // One look: no poll loop, no trigger, no cancel.
    assert!(sim.requests_to(Route::Status).is_empty());
    assert_eq!(sim.requests_to(Route::Details).len(), 2);
    assert!(sim.requests_to(Route::Trigger).is_empty());
    assert!(sim.requests_to(Route::Cancel).is_empty());
    assert!(!dir.read("state.txt").contains("execution_id"));
    // A handful of requests: the token, the project, the details (attach, then with the
    // steps), the steps.
    let routes: Vec<Route> = sim.requests().iter().map(|r| r.route).collect();
    assert_eq!(
        routes,
        [
            Route::Token,
            Route::Projects,
            Route::Details,
            Route::Details,
            Route::Steps
        ]
    );
}

#[test]
fn status_of_ended_executions_exits_0_or_1() {
    let sim = sim();
    // A run that failed 5 s ago, after 30 s.
    let failed = sim.add_running_execution(
        SeedExecution::new("broken", "prod")
            .project(PROJECT_ID)
            .running_for(Duration::from_secs(35))
            .script(pipeline_run_sim::RunScript::failure(
                Duration::from_secs(30),
                2,
                1,
                "boom",
            )),
    );
    let done = ended(&sim, "quick", Duration::from_secs(5));
    let dir = Scratch::new("status-failed");
    let out = run(&job_for_id(&sim, &dir, &failed), &["status"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stdout.contains("::error title=Step 2::boom"),
        "{}",
        out.stdout
    );
    let dir = Scratch::new("status-done");
    let out = run(&job_for_id(&sim, &dir, &done), &["status"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    has_line(
        &out.stderr,
        "pipeline-run: result: SUCCESS in 30s (3 steps, 0 failed)",
    );
}

#[test]
fn status_by_pipeline_looks_at_its_latest_execution() {
    let sim = sim();
    let dir = Scratch::new("status-latest");
    ended(&sim, "quick", Duration::from_secs(600));
    let latest = sim.start_scheduled("prod", "quick").expect("published");
    sim.start_scheduled("prod", "quick-reload")
        .expect("published");
    let out = run(&job(&sim, &dir, "quick"), &["status"]);
    assert!([0, 5].contains(&out.code), "{}", out.stderr);
    let started = crate::datalab_common::json(&dir)["started_at"]
        .as_str()
        .unwrap_or("?")
        .to_string();
    has_line(
        &out.stderr,
        &format!(
            "pipeline-run: the latest execution of pipeline 'quick' in environment 'prod' is {latest}, started {started}"
        ),
    );
    assert_eq!(sim.requests().len(), 6, "{:?}", sim.requests());
    // Any status: the list is not filtered by it.
    let lists = sim.requests_to(Route::ListExecutions);
    assert_eq!(lists.len(), 1);
    assert!(!lists[0].query.contains("status="), "{}", lists[0].query);
}

#[test]
fn status_of_a_pipeline_that_never_ran_exits_4() {
    let sim = sim();
    let dir = Scratch::new("status-never");
    let out = run(&job(&sim, &dir, "quick"), &["status"]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    has_line(
        &out.stderr,
        "pipeline-run: error: pipeline 'quick' in environment 'prod' has no execution",
    );
}

/// Inputs given, arguments, and the error line they give.
type BadCase<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str);

#[test]
fn bad_inputs_exit_2_before_any_request() {
    let sim = sim();
    let dir = Scratch::new("attach-bad");
    let cases: [BadCase; 5] = [
        (
            &[("INPUT_EXECUTION-ID", "12345")],
            &["wait"],
            "pipeline-run: error: input 'execution-id': got '12345'; expected a Matillion execution id, a UUID such as `0f6e1c2a-…`.",
        ),
        (
            &[],
            &["wait"],
            "pipeline-run: error: input 'execution-id': or `pipeline` is required for `wait`: give the execution's id, or `pipeline` and `environment` to follow its running execution.",
        ),
        (
            &[("INPUT_COMMAND", "follow")],
            &[],
            "pipeline-run: error: input 'command': got 'follow' (from INPUT_COMMAND); expected `run`, `wait`, `status`, `publish`, `promote` or `cancel`.",
        ),
        (
            &[("INPUT_PIPELINE", "quick"), ("INPUT_DRY-RUN", "true")],
            &["wait"],
            "pipeline-run: error: input 'dry-run': is true but `wait` triggers nothing: it follows an execution that exists. Remove it.",
        ),
        (
            &[("INPUT_EXECUTION-ID", "a\nb")],
            &["status"],
            "pipeline-run: error: input 'execution-id': lists several ids, one a line; `status` follows one execution by id (to follow several, give their pipelines in `pipeline`).",
        ),
    ];
    for (extra, args, line) in cases {
        let mut env = job_for_id(&sim, &dir, "");
        unset(&mut env, "INPUT_EXECUTION-ID");
        for (k, v) in extra {
            set(&mut env, k, *v);
        }
        let out = run(&env, args);
        assert_eq!(out.code, 2, "{line}\n{}", out.stderr);
        has_line(&out.stderr, line);
    }
    assert!(sim.requests().is_empty(), "{:?}", sim.requests());
}

#[test]
fn the_command_input_selects_the_command_and_a_typed_one_wins() {
    let sim = sim();
    let id = sim.start_scheduled("prod", "slow").expect("published");
    let dir = Scratch::new("attach-command");
    let mut env = job_for_id(&sim, &dir, &id);
    set(&mut env, "INPUT_COMMAND", "Status");
    assert_eq!(run(&env, &[]).code, 5);
    // Typed, `wait` wins over the input (and times out, leaving the run going).
    set(&mut env, "INPUT_TIMEOUT", "1s");
    assert_eq!(run(&env, &["wait"]).code, 3);
    assert!(sim.requests_to(Route::Trigger).is_empty());
    assert!(sim.requests_to(Route::Cancel).is_empty());
}

/// A Datalab step following `id` (no pipeline, no document).
fn datalab_job(
    sim: &pipeline_run_sim::SimHandle,
    dir: &Scratch,
    id: &str,
) -> Vec<(String, String)> {
    let mut env = datalab_env(sim, "");
    unset(&mut env, "INPUT_PIPELINE");
    unset(&mut env, "INPUT_FILE-URL");
    github(&mut env, dir);
    set(&mut env, "INPUT_EXECUTION-ID", id);
    env
}

#[test]
fn datalab_wait_and_status_by_id() {
    // The run goes on until `wait` has found it.
    let (sim, clock) = held_with(pipeline("pl_docs"));
    let id = sim
        .start_datalab_run("pl_docs", "https://docs.example.com/a.pdf")
        .expect("configured");
    let dir = Scratch::new("attach-datalab-status");
    let out = run(&datalab_job(&sim, &dir, &id), &["status"]);
    assert_eq!(out.code, 5, "{}", out.stderr);
    let dir = Scratch::new("attach-datalab-wait");
    let following = format!("pipeline-run: following Datalab 'pl_docs': execution {id}, started ");
    let out = ended_once(&clock, &datalab_job(&sim, &dir, &id), &["wait"], &following);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "pipeline-run: following Datalab 'pl_docs': execution {id}, started "
        )),
        "{}",
        out.stderr
    );
    let v = crate::datalab_common::json(&dir);
    assert_eq!(v["outcome"]["kind"], "succeeded");
    assert_eq!(v["steps"].as_array().map(Vec::len), Some(3));
    assert!(sim.requests_to(Route::DatalabRun).is_empty());
    // The past runs read are the pipeline's the execution names.
    let lists = sim.requests_to(Route::DatalabList);
    assert_eq!(lists.len(), 1, "{lists:?}");
    assert_eq!(lists[0].path, "/api/v1/pipelines/pl_docs/executions");
    assert_eq!(lists[0].status, Some(200));
}

#[test]
fn a_datalab_run_that_ended_before_the_wait_is_not_one_of_its_own_past_runs() {
    let sim = sim_with(pipeline("pl_docs"));
    let hour = Duration::from_secs(3600);
    for i in 1..=5u32 {
        sim.add_datalab_run("pl_docs", Duration::from_secs(40), hour * i)
            .expect("seeded");
    }
    let id = sim
        .add_datalab_run("pl_docs", Duration::from_secs(40), Duration::from_secs(1))
        .expect("seeded");
    let dir = Scratch::new("attach-datalab-ended");
    let out = run(&datalab_job(&sim, &dir, &id), &["wait"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = crate::datalab_common::json(&dir);
    assert_eq!(v["execution_id"], id.as_str());
    assert_eq!(v["history"]["successful_runs"], 5);
}

#[test]
fn datalab_refuses_a_pipeline_without_an_id_and_names_an_unknown_id() {
    let sim = sim_with(pipeline("pl_docs"));
    let dir = Scratch::new("attach-datalab-bad");
    let mut env = datalab_job(&sim, &dir, "");
    unset(&mut env, "INPUT_EXECUTION-ID");
    set(&mut env, "INPUT_PIPELINE", "pl_docs");
    let out = run(&env, &["wait"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    has_line(
        &out.stderr,
        "pipeline-run: error: input 'execution-id': is required for `wait` on Datalab: its API reads an execution by id, but cannot list a pipeline's running executions in a known order. Give the `pex_…` id the run printed.",
    );
    assert!(sim.requests().is_empty());

    let out = run(&datalab_job(&sim, &dir, "pex_nope"), &["wait"]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("does not know execution"))
        .unwrap_or_default();
    assert!(
        line.starts_with("pipeline-run: error: Datalab does not know execution pex_nope (404")
            && line.ends_with("): check the id and the api-key's account"),
        "{line}"
    );
}

#[test]
fn status_of_several_pipelines_exits_with_the_worst_of_theirs() {
    let sim = sim();
    let dir = Scratch::new("status-fleet");
    let done = ended(&sim, "quick", Duration::from_secs(5));
    let going = sim.start_scheduled("prod", "slow").expect("published");
    let out = run(&job(&sim, &dir, "quick\nslow"), &["status"]);
    assert_eq!(out.code, 5, "{}", out.stderr);
    let v = crate::datalab_common::json(&dir);
    assert_eq!(v["pipelines"][0]["execution_id"], done.as_str());
    assert_eq!(v["pipelines"][0]["outcome"]["kind"], "succeeded");
    assert_eq!(v["pipelines"][1]["execution_id"], going.as_str());
    assert_eq!(v["pipelines"][1]["outcome"]["kind"], "running");
    assert!(sim.requests_to(Route::Status).is_empty());
}
