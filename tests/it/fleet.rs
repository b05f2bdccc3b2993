//! Several pipelines in one step, end to end: the real binary against the simulator. One
//! failing among three (all reported, none cancelled), `fail-fast`, a signal that cancels
//! every run still going, a held execution tag and a lost trigger reply on one pipeline,
//! a bad `pipelines` entry (exit 2, nothing sent), `max-parallel`, one token and one
//! project lookup for all, and one 429 pacing them all.

use crate::common::*;
use pipeline_run_sim::{
    Environment, Fault, FaultAction, Project, PublishedPipeline, Route, RunScript, SeedExecution,
    SimConfig, SimHandle,
};
use std::time::Duration;

const PROJECT_ID: &str = "6e1f8b3d-2222-4333-8444-a55566667777";
const PROJECT: &str = "Warehouse";
const ENV: &str = "dev";

fn quick() -> RunScript {
    RunScript::new(Duration::from_millis(300), 2)
}

fn long() -> RunScript {
    RunScript::new(Duration::from_secs(120), 2)
}

fn sim(faults: Vec<Fault>) -> SimHandle {
    start_sim(config(faults))
}

/// The configuration of [`sim`].
fn config(faults: Vec<Fault>) -> SimConfig {
    let mut c = SimConfig::new()
        .cancel_delay(Duration::from_millis(20))
        .project(
            Project::new(PROJECT_ID, PROJECT).environment(
                Environment::new(ENV)
                    .pipeline(PublishedPipeline::new("load-a", quick()))
                    .pipeline(PublishedPipeline::new(
                        "load-b",
                        RunScript::failure(Duration::from_millis(300), 2, 1, "table missing"),
                    ))
                    .pipeline(PublishedPipeline::new("load-c", quick()))
                    .pipeline(PublishedPipeline::new("long-1", long()))
                    .pipeline(PublishedPipeline::new("long-2", long())),
            ),
        );
    for f in faults {
        c = c.fault(f);
    }
    c
}

/// A GitHub job with every report asked for.
struct Job {
    env: Vec<(String, String)>,
    dir: Scratch,
}

impl Job {
    fn new(sim: &SimHandle, pipelines: &str) -> Self {
        let dir = Scratch::new("fleet");
        let mut env = matillion_env(sim, PROJECT, ENV, pipelines);
        set(&mut env, "GITHUB_ACTIONS", "true");
        for (k, f) in [
            ("GITHUB_OUTPUT", "output"),
            ("GITHUB_STEP_SUMMARY", "summary.md"),
            ("GITHUB_STATE", "state"),
            ("MATILLION_RESULT_FILE", "result.json"),
            ("MATILLION_JUNIT_FILE", "junit.xml"),
            ("MATILLION_DOTENV_FILE", "run.env"),
        ] {
            set(&mut env, k, dir.path(f).to_string_lossy());
        }
        Self { env, dir }
    }
    fn output(&self, name: &str) -> String {
        output(&parse_outputs(&self.dir.read("output")), name).unwrap_or_default()
    }
    fn result(&self) -> serde_json::Value {
        serde_json::from_str(&self.dir.read("result.json")).expect("result JSON")
    }
}

fn executions_of(sim: &SimHandle, pipeline: &str) -> Vec<pipeline_run_sim::ExecutionInfo> {
    sim.executions()
        .into_iter()
        .filter(|e| e.pipeline == pipeline && e.trigger == "API")
        .collect()
}

#[test]
fn three_pipelines_one_fails_all_are_reported_and_none_is_cancelled() {
    let sim = sim(vec![]);
    let job = Job::new(&sim, "load-a\nload-b\nload-c");
    let out = run(&job.env, &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let execs = sim.executions();
    assert_eq!(execs.len(), 3, "one execution per pipeline");
    assert!(execs.iter().all(|e| !e.cancel_requested), "none cancelled");
    // One token and one lookup of the project (by name) for the three.
    assert_eq!(sim.issued_tokens().len(), 1, "{}", out.stderr);
    assert_eq!(sim.requests_to(Route::Projects).len(), 1);
    // The log tells the pipelines apart.
    assert!(
        out.stderr
            .contains("pipeline-run: error: [load-b] result: FAILED"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("pipeline-run: error: result: 2 of 3 pipelines succeeded; exit code 1"),
        "{}",
        out.stderr
    );
    // Outputs: the aggregate, every id, and one result per pipeline.
    assert_eq!(job.output("outcome"), "failed");
    assert_eq!(job.output("status"), "FAILED");
    let ids: Vec<String> = execs.iter().map(|e| e.id.clone()).collect();
    let mut listed: Vec<String> = job
        .output("execution-id")
        .lines()
        .map(String::from)
        .collect();
    listed.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(listed, want);
    assert_eq!(job.output("steps-total"), "6");
    assert_eq!(job.output("failed-steps"), "load-b: Step 2");
    let results: serde_json::Value = serde_json::from_str(&job.output("results")).unwrap();
    let outcomes: Vec<&str> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(outcomes, ["succeeded", "failed", "succeeded"]);
    // The summary, the JSON result v2, the JUnit suites, the dotenv report.
    let summary = job.dir.read("summary.md");
    assert!(
        summary.starts_with("## ❌ 1 of 3 pipelines did not succeed\n"),
        "{summary}"
    );
    assert!(summary.contains("### ❌ load-b: failed"), "{summary}");
    let v = job.result();
    assert_eq!(v["schema"], "pipeline-run/result/v2");
    assert_eq!(v["pipelines"].as_array().map(Vec::len), Some(3));
    // Every field of the step as a whole is in the table of v2 (docs/outputs.md).
    let outputs = include_str!("../../docs/outputs.md");
    let table = outputs
        .split("\n## The JSON result of several pipelines (v2)\n")
        .nth(1)
        .and_then(|t| t.split("\n\n```").next())
        .expect("docs/outputs.md documents v2");
    for key in v.as_object().unwrap().keys() {
        assert!(
            table.lines().any(|l| l.starts_with("| `")
                && l.split('|')
                    .nth(1)
                    .is_some_and(|c| c.contains(&format!("`{key}`")))),
            "field {key} of v2 is not in docs/outputs.md"
        );
    }
    assert_eq!(v["pipelines"][1]["status"], "FAILED");
    let junit = job.dir.read("junit.xml");
    assert_eq!(junit.matches("<testsuite ").count(), 3, "{junit}");
    let dotenv = job.dir.read("run.env");
    assert!(
        dotenv.contains("PIPELINE_RUN_PIPELINES_SUCCEEDED=2\n"),
        "{dotenv}"
    );
    // GITHUB_STATE holds every id (the post step would cancel them all) and `done`.
    let state = parse_outputs(&job.dir.read("state"));
    let mut saved: Vec<String> = output(&state, "execution_id")
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect();
    saved.sort();
    assert_eq!(saved, want);
    assert_eq!(output(&state, "done").as_deref(), Some("true"));
}

#[test]
fn fail_fast_cancels_the_others_and_starts_no_more() {
    let sim = sim(vec![]);
    let mut job = Job::new(&sim, "load-b\nlong-1\nlong-2\nload-c");
    set(&mut job.env, "MATILLION_FAIL_FAST", "true");
    set(&mut job.env, "MATILLION_MAX_PARALLEL", "3");
    let out = run(&job.env, &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    for p in ["long-1", "long-2"] {
        let e = executions_of(&sim, p);
        assert_eq!(e.len(), 1, "{p}");
        assert!(e[0].cancel_requested, "{p} cancelled: {}", out.stderr);
    }
    assert!(
        executions_of(&sim, "load-c").is_empty(),
        "load-c never started"
    );
    assert!(
        out.stderr
            .contains("fail-fast: 'load-b' ended failed; stopping the other pipelines")
    );
    let results: serde_json::Value = serde_json::from_str(&job.output("results")).unwrap();
    let outcomes: Vec<&str> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(outcomes, ["failed", "stopped", "stopped", "stopped"]);
    assert_eq!(
        job.result()["pipelines"][1]["outcome"]["cancel"],
        "cancelled"
    );
}

#[test]
fn a_signal_cancels_every_run_still_going() {
    let sim = sim(vec![]);
    let job = Job::new(&sim, "long-1\nlong-2\nload-a");
    let child = spawn(&job.env, &[]);
    // Both long runs are going once the list that follows every run has been read after
    // their triggers (their status is not polled one by one).
    wait_for("both long runs followed", || {
        let triggered: Vec<u64> = sim
            .requests_to(Route::Trigger)
            .iter()
            .filter(|r| String::from_utf8_lossy(&r.body).contains("\"long-"))
            .map(|r| r.id)
            .collect();
        triggered.len() == 2
            && sim
                .requests_to(Route::ListExecutions)
                .iter()
                .any(|r| r.query.contains("startedAfter") && triggered.iter().all(|t| r.id > *t))
    });
    signal(&child, "TERM");
    let out = finish(child);
    assert_eq!(out.code, 143, "{}", out.stderr);
    for p in ["long-1", "long-2"] {
        let e = executions_of(&sim, p);
        assert!(
            e[0].cancel_requested && !e[0].force_cancel,
            "{p}: {}",
            out.stderr
        );
    }
    // load-a may have ended before the signal; if not, it was cancelled too.
    let cancels = sim.requests_to(Route::Cancel).len();
    assert!((2..=3).contains(&cancels), "{cancels} cancels");
    assert_eq!(job.output("outcome"), "interrupted");
    assert_eq!(job.output("execution-id").lines().count(), 3);
    let v = job.result();
    assert_eq!(v["outcome"]["kind"], "interrupted");
    assert_eq!(v["pipelines"][0]["outcome"]["cancel"], "cancelled");
}

#[test]
fn a_held_tag_on_one_pipeline_is_waited_for_the_others_run() {
    // The holder (and load-c) end once load-a was seen waiting for the tag; load-a's own
    // run once it was triggered, however slowly the machine runs.
    let (sim, clock) = start_sim_held(config(vec![]));
    let holder = sim.add_running_execution(
        SeedExecution::new("load-a", ENV)
            .tag("ta")
            .script(RunScript::new(Duration::from_millis(600), 1)),
    );
    let mut job = Job::new(&sim, "x");
    unset(&mut job.env, "MATILLION_PIPELINE");
    set(
        &mut job.env,
        "MATILLION_PIPELINES",
        r#"[{"pipeline": "load-a", "execution-tag": "ta"},
            {"pipeline": "load-c", "execution-tag": "tc", "variables": {"day": "1"}}]"#,
    );
    let held = format!("[load-a] execution tag 'ta' is held by execution {holder}");
    let steps = [
        (held.as_str(), Duration::from_secs(1)),
        (
            "[load-a] triggered Matillion 'load-a'",
            Duration::from_secs(1),
        ),
    ];
    let out = stepped(&clock, &job.env, &[], &steps);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let a = executions_of(&sim, "load-a");
    assert_eq!(a.len(), 1, "exactly one new run of load-a");
    assert_ne!(a[0].id, holder);
    assert_eq!(a[0].execution_tag.as_deref(), Some("ta"));
    let c = executions_of(&sim, "load-c");
    assert_eq!(
        c[0].scalar_variables.get("day").map(String::as_str),
        Some("1")
    );
    assert!(
        out.stderr.contains(&format!(
            "pipeline-run: [load-a] execution tag 'ta' is held by execution {holder}"
        )),
        "{}",
        out.stderr
    );
    let mut triggers: Vec<Option<u16>> = sim
        .requests_to(Route::Trigger)
        .iter()
        .map(|r| r.status)
        .collect();
    triggers.sort();
    assert_eq!(triggers, [Some(201), Some(201), Some(409)]);
    assert_eq!(job.output("outcome"), "succeeded");
}

#[test]
fn a_lost_trigger_reply_on_one_pipeline_is_adopted_not_repeated() {
    let sim = sim(vec![Fault::once(Route::Trigger, FaultAction::LoseReply)]);
    let job = Job::new(&sim, "load-a\nload-c");
    let out = run(&job.env, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(executions_of(&sim, "load-a").len(), 1);
    assert_eq!(executions_of(&sim, "load-c").len(), 1);
    let triggers: Vec<Option<u16>> = sim
        .requests_to(Route::Trigger)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(triggers.len(), 2, "no trigger sent twice: {triggers:?}");
    assert!(
        out.stderr
            .contains("The trigger's reply was lost; adopted execution"),
        "{}",
        out.stderr
    );
    assert_eq!(job.output("execution-id").lines().count(), 2);
}

#[test]
fn a_bad_pipelines_entry_is_exit_2_and_nothing_is_sent() {
    let sim = sim(vec![]);
    let mut env = matillion_env(&sim, PROJECT, ENV, "x");
    unset(&mut env, "MATILLION_PIPELINE");
    set(
        &mut env,
        "MATILLION_PIPELINES",
        r#"[{"pipeline": "load-a"}, {"pipeline": "load-c", "grid-variables": {"g": "x"}}]"#,
    );
    let out = run(&env, &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "pipeline-run: error: input 'pipelines': pipelines[1] ('load-c'): field 'grid-variables': grid variable 'g' must be an array of rows, each an array of strings."
        ),
        "{}",
        out.stderr
    );
    assert!(sim.requests().is_empty(), "nothing was sent");
}

#[test]
fn max_parallel_one_runs_them_one_after_the_other() {
    let sim = sim(vec![]);
    let mut job = Job::new(&sim, "load-a\nload-c");
    set(&mut job.env, "MATILLION_MAX_PARALLEL", "1");
    let out = run(&job.env, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (a, c) = (
        &executions_of(&sim, "load-a")[0],
        &executions_of(&sim, "load-c")[0],
    );
    assert!(
        c.started >= a.started + Duration::from_millis(300),
        "load-c started {:?} after load-a",
        c.started - a.started
    );
    assert!(
        out.stderr
            .contains("running 2 pipelines, at most 1 at a time")
    );
}

#[test]
fn one_429_holds_back_every_pipeline() {
    let sim = sim(vec![Fault::once(
        Route::Status,
        FaultAction::too_many_requests(2),
    )]);
    let mut job = Job::new(&sim, "load-a\nload-c\nlong-1");
    // One request every 200 ms for the three (the request budget), so that a request
    // already on its way when the 429 came is one, not a handful.
    set(&mut job.env, "MATILLION_RATE_LIMIT", "300");
    let child = spawn(&job.env, &[]);
    wait_for(
        "the 429, then a request once its Retry-After is out",
        || {
            let reqs = sim.requests();
            let Some(limited) = reqs.iter().find(|r| r.status == Some(429)) else {
                return false;
            };
            reqs.iter()
                .any(|r| r.at >= limited.at + Duration::from_millis(1900))
        },
    );
    let reqs = sim.requests();
    let i = reqs.iter().position(|r| r.status == Some(429)).unwrap();
    let limited_at = reqs[i].at;
    // Before it, one every 200 ms: about ten in a window as long as the Retry-After.
    let before = reqs[..i]
        .iter()
        .filter(|r| r.at + Duration::from_millis(1900) >= limited_at)
        .count();
    assert!(before >= 5, "{before} requests in the 1.9 s before the 429");
    // Within its Retry-After, whichever pipeline sent it: at most the one whose turn had
    // come before the 429 was read (the budget's turns after it are void and restart
    // once the Retry-After is out).
    let within: Vec<_> = reqs[i + 1..]
        .iter()
        .filter(|r| r.at < limited_at + Duration::from_millis(1900))
        .map(|r| (r.route, r.elapsed))
        .collect();
    assert!(
        within.len() <= 1,
        "sent before the Retry-After was out: {within:?}"
    );
    signal(&child, "INT");
    let out = finish(child);
    assert_eq!(out.code, 130, "{}", out.stderr);
    let v = job.result();
    assert_eq!(v["rejected_requests"], 1, "{}", out.stderr);
}

/// Two long runs triggered with `wait: false`; their ids, as the step saved them.
fn two_left_running(sim: &SimHandle) -> (Job, Vec<String>) {
    let mut job = Job::new(sim, "long-1\nlong-2");
    set(&mut job.env, "MATILLION_WAIT", "false");
    let out = run(&job.env, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(job.output("outcome"), "triggered");
    let ids: Vec<String> = sim.executions().iter().map(|e| e.id.clone()).collect();
    assert_eq!(ids.len(), 2);
    assert!(sim.executions().iter().all(|e| !e.cancel_requested));
    (job, ids)
}

#[test]
fn cancel_mode_cancels_every_execution_of_the_result_file() {
    let sim = sim(vec![]);
    let (job, _) = two_left_running(&sim);
    let out = run(&job.env, &["cancel"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        sim.executions().iter().all(|e| e.cancel_requested),
        "{}",
        out.stderr
    );
    let v = job.result();
    assert_eq!(v["schema"], "pipeline-run/result/v2");
    assert_eq!(v["pipelines"][1]["pipeline"], "long-2");
    assert_eq!(v["pipelines"][1]["outcome"]["kind"], "cancel-requested");
}

#[test]
fn the_post_step_cancels_every_saved_execution() {
    let sim = sim(vec![]);
    let (job, ids) = two_left_running(&sim);
    let mut env = job.env.clone();
    // As a main step that waited and was killed would have left them.
    unset(&mut env, "MATILLION_WAIT");
    set(&mut env, "STATE_execution_id", ids.join("\n"));
    let out = run(&env, &["post"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        sim.executions().iter().all(|e| e.cancel_requested),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.stdout
            .matches("::warning title=Execution cancelled by the post step::")
            .count(),
        2,
        "{}",
        out.stdout
    );
}
