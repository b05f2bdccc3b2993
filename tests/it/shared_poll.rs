//! Several runs followed by one look at the list of executions (`run::board`), the real
//! binary against the simulator: one list request per tick instead of a status poll per
//! run, and one lookup of past runs for the step; a list that lags, errors or says a run
//! ended when it has not never makes a run look ended (only its own status read does);
//! and one pipeline alone sends exactly the requests it always did.

use crate::common::*;
use pipeline_run_sim::{
    Environment, Fault, FaultAction, Matcher, Project, PublishedPipeline, Route, RunScript,
    SeedExecution, SimConfig, SimHandle,
};
use std::time::Duration;

const PROJECT_ID: &str = "4d3c2b1a-5555-4666-8777-988899990000";
const PROJECT: &str = "Warehouse";
const ENV: &str = "dev";
const PIPELINES: &str = "load-a\nload-b\nload-c\nload-d";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn world() -> SimConfig {
    SimConfig::new().project(
        Project::new(PROJECT_ID, PROJECT).environment(
            Environment::new(ENV)
                .pipeline(PublishedPipeline::new("load-a", RunScript::new(ms(900), 2)))
                .pipeline(PublishedPipeline::new(
                    "load-b",
                    RunScript::failure(ms(700), 2, 1, "table missing"),
                ))
                .pipeline(PublishedPipeline::new(
                    "load-c",
                    RunScript::new(ms(1200), 2),
                ))
                .pipeline(PublishedPipeline::new("load-d", RunScript::new(ms(500), 2))),
        ),
    )
}

/// A job running `pipelines` at once, with a JSON result.
fn job(sim: &SimHandle, pipelines: &str, dir: &Scratch) -> Vec<(String, String)> {
    let mut env = matillion_env(sim, PROJECT, ENV, pipelines);
    set(&mut env, "MATILLION_MAX_PARALLEL", "4");
    // Room in the request budget for polls every 50 ms: what is compared is the polling.
    set(&mut env, "MATILLION_RATE_LIMIT", "60000");
    set(
        &mut env,
        "MATILLION_RESULT_FILE",
        dir.path("result.json").to_string_lossy(),
    );
    env
}

/// Each pipeline's outcome and status in the JSON result, in order.
fn outcomes(dir: &Scratch) -> Vec<(String, String, String)> {
    let v: serde_json::Value = serde_json::from_str(&dir.read("result.json")).expect("JSON");
    v["pipelines"]
        .as_array()
        .expect("pipelines")
        .iter()
        .map(|p| {
            (
                p["pipeline"].as_str().unwrap_or_default().to_string(),
                p["outcome"]["kind"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                p["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// What every run of `world` really does.
fn truth() -> Vec<(String, String, String)> {
    [
        ("load-a", "succeeded", "SUCCESS"),
        ("load-b", "failed", "FAILED"),
        ("load-c", "succeeded", "SUCCESS"),
        ("load-d", "succeeded", "SUCCESS"),
    ]
    .iter()
    .map(|(p, o, s)| (p.to_string(), o.to_string(), s.to_string()))
    .collect()
}

/// The looks at the list that follow the runs (not the lookup of past runs).
fn looks(sim: &SimHandle) -> Vec<pipeline_run_sim::RecordedRequest> {
    sim.requests_to(Route::ListExecutions)
        .into_iter()
        .filter(|r| r.query.contains("startedAfter"))
        .collect()
}

const FOLLOWS: &str = "pipeline-run: one look at the list of executions follows every run going; a run it shows ended is confirmed by its own status";

#[test]
fn several_runs_cost_one_list_request_a_tick_not_a_status_poll_each() {
    let (shared, per_run) = (start_sim(world()), start_sim(world()));
    let (a, b) = (Scratch::new("shared"), Scratch::new("per-run"));
    let mut alone = job(&per_run, PIPELINES, &b);
    set(&mut alone, "PIPELINE_RUN_PER_RUN_POLLS", "1");
    let (out, out_alone) = std::thread::scope(|s| {
        let one = s.spawn(|| run(&job(&shared, PIPELINES, &a), &[]));
        let two = s.spawn(|| run(&alone, &[]));
        (one.join().unwrap(), two.join().unwrap())
    });
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out_alone.code, 1, "{}", out_alone.stderr);
    assert_eq!(outcomes(&a), truth());
    assert_eq!(outcomes(&b), truth());
    has_line(&out.stderr, FOLLOWS);
    assert!(!out_alone.stderr.contains(FOLLOWS), "{}", out_alone.stderr);

    // Shared: one status read per run (the one that confirms its end), and the list of
    // this project's runs in dev started since the step began, at every tick.
    let status = shared.requests_to(Route::Status);
    assert_eq!(status.len(), 4, "{}", out.stderr);
    let ticks = looks(&shared);
    assert!(ticks.len() >= 4, "{} looks", ticks.len());
    for t in &ticks {
        let q = t.query_pairs();
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("projectId"), Some(PROJECT_ID));
        assert_eq!(get("environmentName"), Some(ENV));
        assert_eq!(get("pipelineName"), None);
    }
    // One lookup of past runs for the four pipelines: the environment's list.
    let lookups: Vec<_> = shared
        .requests_to(Route::ListExecutions)
        .into_iter()
        .filter(|r| !r.query.contains("startedAfter"))
        .collect();
    assert_eq!(
        lookups.len(),
        1,
        "{:?}",
        lookups.iter().map(|r| &r.query).collect::<Vec<_>>()
    );
    assert!(
        !lookups[0].query.contains("pipelineName"),
        "{}",
        lookups[0].query
    );

    // Per run: no look at the list, a status poll per run and tick, a lookup each. The
    // four runs alike are looked at twice as often as one (√4), each poll of four runs
    // replaced by one look: fewer requests than the four runs' own polls.
    assert!(looks(&per_run).is_empty());
    assert_eq!(per_run.requests_to(Route::ListExecutions).len(), 4);
    let polls = per_run.requests_to(Route::Status).len();
    let shared_cost = ticks.len() + status.len();
    assert!(
        4 * shared_cost < 3 * polls,
        "shared: {} looks + {} reads; per run: {polls} status polls",
        ticks.len(),
        status.len()
    );
}

#[test]
fn a_lagging_list_still_reports_every_run_as_it_ended() {
    // New runs stay out of the list for 800 ms: the shorter ones end before it shows
    // them, and are read directly until then.
    let sim = start_sim(world().list_lag(ms(800)));
    let dir = Scratch::new("lag");
    let out = run(&job(&sim, PIPELINES, &dir), &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(outcomes(&dir), truth());
    // Every run was read while the list did not show it: more reads than runs.
    assert!(sim.requests_to(Route::Status).len() > 4, "{}", out.stderr);
    assert!(!looks(&sim).is_empty());
}

#[test]
fn a_list_that_errors_sends_every_run_back_to_its_own_polls_and_the_step_succeeds() {
    let sim = start_sim(world());
    sim.add_fault(
        Fault::matching(
            Matcher::Query {
                route: Route::ListExecutions,
                contains: "startedAfter".into(),
            },
            FaultAction::respond(500, "text/html", "<h1>oops</h1>"),
        )
        .forever(),
    );
    let dir = Scratch::new("errors");
    let out = run(&job(&sim, "load-a\nload-c\nload-d", &dir), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Asked once a tick (not retried), three times, then never again.
    assert_eq!(looks(&sim).len(), 3, "{}", out.stderr);
    let said: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("the list of executions cannot follow the runs"))
        .collect();
    assert_eq!(said.len(), 1, "{}", out.stderr);
    assert!(
        said[0].starts_with("pipeline-run: warning: the list of executions cannot follow the runs (Matillion gave no usable reply to the list of executions: ")
            && said[0].ends_with("; 3 times in a row); each run polls its own status from now on"),
        "{}",
        said[0]
    );
    assert!(!out.stderr.contains(FOLLOWS), "{}", out.stderr);
    // Each run polled its own status to its end.
    for e in sim.executions() {
        let reads = sim
            .requests_to(Route::Status)
            .iter()
            .filter(|r| r.path.contains(&e.id))
            .count();
        assert!(reads >= 2, "{}: {reads} status reads", e.pipeline);
    }
    let v: serde_json::Value = serde_json::from_str(&dir.read("result.json")).unwrap();
    assert_eq!(v["outcome"]["kind"], "succeeded");
}

#[test]
fn a_list_that_says_a_run_ended_does_not_end_it_its_own_status_does() {
    let sim = start_sim(world());
    sim.add_fault(Fault::always(
        Route::ListExecutions,
        FaultAction::list_says("SUCCESS"),
    ));
    let dir = Scratch::new("says-ended");
    let out = run(&job(&sim, PIPELINES, &dir), &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    // load-b failed; the list said SUCCESS all along, and was never believed.
    assert_eq!(outcomes(&dir), truth());
    assert!(
        !out.stderr.contains("[load-b] status: SUCCESS"),
        "{}",
        out.stderr
    );
    // Every run was confirmed at every look, and went on while its status said RUNNING.
    let running = sim
        .requests_to(Route::Status)
        .iter()
        .filter(|r| r.status == Some(200))
        .count();
    assert!(running > 4, "{running} status reads\n{}", out.stderr);
    for e in sim.executions().iter().filter(|e| e.trigger == "API") {
        let last = sim
            .requests_to(Route::Status)
            .into_iter()
            .rfind(|r| r.path.contains(&e.id))
            .map(|r| r.at)
            .expect("a status read");
        let script = match e.pipeline.as_str() {
            "load-a" => ms(900),
            "load-b" => ms(700),
            "load-c" => ms(1200),
            _ => ms(500),
        };
        assert!(
            last >= e.started + script,
            "{} read as ended before it ended",
            e.pipeline
        );
    }
}

#[test]
fn one_pipeline_alone_sends_the_requests_it_always_did() {
    let sim = start_sim(world());
    for i in 0..6 {
        sim.add_running_execution(
            SeedExecution::new("load-a", ENV)
                .finished(ms(900), Duration::from_secs(3600 * (i + 1))),
        );
    }
    let dir = Scratch::new("alone");
    let out = run(&job(&sim, "load-a", &dir), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains(FOLLOWS), "{}", out.stderr);
    // Token, project, trigger, the pipeline's own lookup of past runs, then its status
    // polls (a look at the steps among them), the details and the steps.
    let mut routes: Vec<Route> = Vec::new();
    for r in sim.requests() {
        if routes.last() != Some(&r.route) {
            routes.push(r.route);
        }
    }
    let polled: Vec<Route> = routes
        .iter()
        .copied()
        .take_while(|r| *r != Route::Details)
        .filter(|r| *r != Route::Steps)
        .fold(Vec::new(), |mut v, r| {
            if v.last() != Some(&r) {
                v.push(r);
            }
            v
        });
    assert_eq!(
        polled,
        [
            Route::Token,
            Route::Projects,
            Route::Trigger,
            Route::ListExecutions,
            Route::Status
        ],
        "{routes:?}"
    );
    assert_eq!(routes.last(), Some(&Route::Steps));
    let lists = sim.requests_to(Route::ListExecutions);
    assert_eq!(lists.len(), 1);
    assert!(
        lists[0].query.contains("pipelineName=load-a"),
        "{}",
        lists[0].query
    );
    assert!(lists[0].query.contains("limit=30"), "{}", lists[0].query);
    assert!(out.stderr.contains("from 6 past runs"), "{}", out.stderr);
}

#[test]
fn every_row_of_the_table_of_the_list_names_a_test_that_exists() {
    const SOURCES: [&str; 2] = [include_str!("shared_poll.rs"), include_str!("fleet.rs")];
    let rows =
        assert_failure_table_names_tests("Several runs: the list that follows them", &SOURCES);
    assert_eq!(rows, 4);
}

#[test]
fn the_looks_take_at_most_a_quarter_of_the_request_budget() {
    // 600 requests a minute: a look every 0.4 s at most, where the schedule alone (runs
    // polled every 50 ms) would look every 25 ms.
    let sim = start_sim(world());
    let dir = Scratch::new("quarter");
    let mut env = job(&sim, "load-a\nload-c\nload-d", &dir);
    set(&mut env, "MATILLION_RATE_LIMIT", "600");
    // (max-poll-interval bounds the gap even then: room above the 0.4 s.)
    set(&mut env, "MATILLION_MAX_POLL_INTERVAL", "2s");
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let ticks = looks(&sim);
    assert!(ticks.len() >= 2, "{}", out.stderr);
    for pair in ticks.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= ms(390), "looks {gap:?} apart");
    }
}
