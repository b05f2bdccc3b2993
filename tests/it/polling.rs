//! The wait's schedule and the tail after the end, with the real binary against the
//! simulator: the pipeline's past runs are read once (exact name and environment, ended),
//! the schedule says it follows them and polls less than without them, a failing lookup
//! changes nothing but the schedule, and a step list of many pages fetched several at a
//! time comes back whole and in order.

use crate::common::*;
use pipeline_run_sim::{
    Environment, Fault, FaultAction, Project, PublishedPipeline, Route, RunScript, SeedExecution,
    SimConfig, SimHandle,
};
use std::time::Duration;

const PID: &str = "9b1c2d3e-4f50-4a6b-8c7d-0e1f2a3b4c5d";

fn world(run: Duration, steps: usize) -> SimConfig {
    let script = || RunScript::new(run, steps);
    SimConfig::new().project(
        Project::new(PID, "Analytics")
            .environment(
                Environment::new("prod")
                    .pipeline(PublishedPipeline::new("Load orders", script()))
                    .pipeline(PublishedPipeline::new("Load orders v2", script())),
            )
            .environment(
                Environment::new("dev").pipeline(PublishedPipeline::new("Load orders", script())),
            ),
    )
}

fn env_for(sim: &SimHandle) -> Vec<(String, String)> {
    let mut env = matillion_env(sim, "Analytics", "prod", "Load orders");
    set(&mut env, "MATILLION_POLL_INTERVAL", "100ms");
    set(&mut env, "MATILLION_MAX_POLL_INTERVAL", "1s");
    env
}

/// `n` past runs of about `took` (±5%) of "Load orders" in prod, and decoys that must not
/// count: a pipeline whose name contains it, the same name in another environment.
fn seed_history(sim: &SimHandle, n: usize, took: Duration) {
    let hour = Duration::from_secs(3600);
    for i in 0..n {
        let spread = 0.95 + 0.1 * i as f64 / n.max(1) as f64;
        sim.add_running_execution(
            SeedExecution::new("Load orders", "prod")
                .finished(took.mul_f64(spread), hour * (i as u32 + 1)),
        );
    }
    for (pipeline, env) in [("Load orders v2", "prod"), ("Load orders", "dev")] {
        for i in 0..n {
            sim.add_running_execution(
                SeedExecution::new(pipeline, env).finished(hour, hour * (i as u32 + 1)),
            );
        }
    }
}

#[test]
fn the_past_runs_are_read_once_and_the_schedule_follows_them_with_fewer_polls() {
    let run_for = Duration::from_secs(2);
    let with = start_sim(world(run_for, 3));
    seed_history(&with, 8, run_for);
    let without = start_sim(world(run_for, 3));
    // Side by side: the same run, with and without history.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| run(&env_for(&with), &[]));
        let b = s.spawn(|| run(&env_for(&without), &[]));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(a.code, 0, "{a:?}");
    assert_eq!(b.code, 0, "{b:?}");

    // One lookup, for exactly this pipeline and environment, after the trigger.
    let lists = with.requests_to(Route::ListExecutions);
    assert_eq!(
        lists.len(),
        1,
        "{:?}",
        lists.iter().map(|r| &r.query).collect::<Vec<_>>()
    );
    let q = lists[0].query_pairs();
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("projectId"), Some(PID));
    assert_eq!(get("pipelineName"), Some("Load orders"));
    assert_eq!(get("environmentName"), Some("prod"));
    assert_eq!(get("limit"), Some("30"));
    assert!(lists[0].id > with.requests_to(Route::Trigger)[0].id);

    // The schedule says it follows the 8 past runs (not the decoys).
    assert!(
        a.stderr
            .contains("pipeline-run: polling around the expected end at ~2s")
            && a.stderr.contains("from 8 past runs"),
        "{}",
        a.stderr
    );
    // Without history: the lookup finds nothing, and the schedule is not announced.
    assert_eq!(without.requests_to(Route::ListExecutions).len(), 1);
    assert!(!b.stderr.contains("polling around"), "{}", b.stderr);

    // Sparse before the expected end: fewer polls for the same run.
    let polls_with = with.requests_to(Route::Status).len();
    let polls_without = without.requests_to(Route::Status).len();
    assert!(
        polls_with < polls_without,
        "with history {polls_with} status polls, without {polls_without}"
    );
}

#[test]
fn a_failing_lookup_of_past_runs_does_not_fail_the_run() {
    for (fault, why) in [
        (
            FaultAction::respond(503, "text/html", "<h1>down</h1>"),
            "503",
        ),
        (
            FaultAction::respond(
                403,
                "application/json",
                r#"{"title":"Forbidden","status":403}"#,
            ),
            "403",
        ),
        (FaultAction::Garbage, "not the JSON expected"),
    ] {
        let sim = start_sim(world(Duration::from_millis(300), 2));
        seed_history(&sim, 8, Duration::from_millis(300));
        sim.add_fault(Fault::always(Route::ListExecutions, fault));
        let out = run(&env_for(&sim), &[]);
        assert_eq!(out.code, 0, "{why}: {out:?}");
        assert!(
            out.stderr
                .contains("pipeline-run: Matillion's list of past executions could not be read (")
                && out.stderr.contains("); polling at a fixed interval\n"),
            "{why}: {}",
            out.stderr
        );
        assert!(out.stderr.contains(why), "{why}: {}", out.stderr);
        assert!(!out.stderr.contains("polling around"), "{}", out.stderr);
    }
}

#[test]
fn many_step_pages_fetched_several_at_a_time_come_back_whole_and_in_order() {
    const STEPS: usize = 2_450;
    let sim = start_sim(
        world(Duration::from_millis(200), STEPS).fault(Fault::always(
            Route::Steps,
            FaultAction::Delay(Duration::from_millis(20)),
        )),
    );
    let scratch = Scratch::new("tail");
    let mut env = env_for(&sim);
    set(
        &mut env,
        "MATILLION_RESULT_FILE",
        scratch.path("result.json").to_string_lossy(),
    );
    // The pages go several at a time when the request budget has room for them (at the
    // default 1,000 a minute, a burst of 4, then one every 60 ms).
    set(&mut env, "MATILLION_RATE_LIMIT", "60000");
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    let doc: serde_json::Value =
        serde_json::from_str(&scratch.read("result.json")).expect("result JSON");
    let names: Vec<&str> = doc["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["name"].as_str().unwrap_or_default())
        .collect();
    let want: Vec<String> = (1..=STEPS).map(|i| format!("Step {i}")).collect();
    assert_eq!(names, want);
    // Every page once; more than one connection at a time, no more than the bound.
    let reqs = sim.requests_to(Route::Steps);
    let mut pages: Vec<usize> = reqs
        .iter()
        .filter_map(|r| {
            r.query_pairs()
                .into_iter()
                .find(|(k, _)| k == "page")
                .and_then(|(_, v)| v.parse().ok())
        })
        .collect();
    pages.sort_unstable();
    assert_eq!(pages, (0..STEPS.div_ceil(100)).collect::<Vec<_>>());
    let conns: std::collections::BTreeSet<u64> = reqs.iter().map(|r| r.connection).collect();
    assert!(
        (2..=pipeline_run::platform::pages::IN_FLIGHT).contains(&conns.len()),
        "{} connections",
        conns.len()
    );
}
