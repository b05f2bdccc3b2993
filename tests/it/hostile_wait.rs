//! Issue 11, the wait and platform classes: bounded paging (3), a new execution that a
//! replica does not know yet (4), exactly once when the list lags (5), signals at every
//! moment (7), an honest heartbeat (10), Datalab's undocumented list order (12). The real
//! binary against the simulator, with the fault injected; the fixed durations are divided
//! by the tests' knob (`PIPELINE_RUN_TEST_TIMINGS`), so a 30-second grace takes 0.3–3 s.

use crate::common::*;
use pipeline_run_sim::{
    DatalabPipeline, Environment, Fault, FaultAction, ListOrder, Project, PublishedPipeline, Route,
    RunScript, SimConfig, SimHandle,
};
use std::time::{Duration, Instant};

const PROJECT_ID: &str = "5d0e7a2c-1111-4222-8333-944455556666";
const PROJECT: &str = "Warehouse";
const ENV: &str = "dev";

/// `load` and `wide` end in 0.3 s, `slow` in 1.5 s, `steady` in 3 s; `long` runs for two
/// minutes.
pub(crate) fn sim_with(cfg: SimConfig, faults: Vec<Fault>) -> SimHandle {
    start_sim(config_with(cfg, faults))
}

/// The configuration of [`sim_with`].
pub(crate) fn config_with(cfg: SimConfig, faults: Vec<Fault>) -> SimConfig {
    let mut c = cfg.cancel_delay(Duration::from_millis(100)).project(
        Project::new(PROJECT_ID, PROJECT).environment(
            Environment::new(ENV)
                .pipeline(PublishedPipeline::new(
                    "load",
                    RunScript::new(Duration::from_millis(300), 3),
                ))
                .pipeline(PublishedPipeline::new(
                    "wide",
                    RunScript::new(Duration::from_millis(300), 250),
                ))
                .pipeline(PublishedPipeline::new(
                    "slow",
                    RunScript::new(Duration::from_millis(1500), 2),
                ))
                .pipeline(PublishedPipeline::new(
                    "steady",
                    RunScript::new(Duration::from_secs(3), 3),
                ))
                .pipeline(PublishedPipeline::new(
                    "long",
                    RunScript::new(Duration::from_secs(120), 3),
                )),
        ),
    );
    for f in faults {
        c = c.fault(f);
    }
    c
}

pub(crate) fn env_for(sim: &SimHandle, pipeline: &str) -> Vec<(String, String)> {
    matillion_env(sim, PROJECT, ENV, pipeline)
}

fn result_file(env: &mut Vec<(String, String)>, scratch: &Scratch) {
    set(
        env,
        "MATILLION_RESULT_FILE",
        scratch.path("result.json").to_string_lossy(),
    );
}

// ---- class 3: bounded paging -----------------------------------------------------------

#[test]
fn a_cache_that_ignores_the_page_stops_at_the_repeat_and_the_report_says_so() {
    let sim = sim_with(
        SimConfig::new(),
        vec![Fault::always(
            Route::Steps,
            FaultAction::cache_ignoring_page(),
        )],
    );
    let scratch = Scratch::new("cache-page");
    let mut env = env_for(&sim, "wide");
    result_file(&mut env, &scratch);
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The second page repeated the first: two requests, not 59,000.
    assert_eq!(sim.requests_to(Route::Steps).len(), 2);
    let cut = "the step list was cut at 100 items: page 2 repeated an earlier page (a cache or proxy that ignores the page parameter?)";
    assert!(
        out.stderr
            .contains(&format!("pipeline-run: warning: {cut}")),
        "{}",
        out.stderr
    );
    let result = scratch.read("result.json");
    assert!(
        result.contains(&format!("\"Not every step is shown: {cut}.\"")),
        "{result}"
    );
    assert_eq!(result.matches("\"name\": \"Step ").count(), 100);
}

#[test]
fn a_list_without_total_ends_at_its_short_page() {
    let sim = sim_with(
        SimConfig::new(),
        vec![Fault::always(Route::Steps, FaultAction::without_total())],
    );
    let scratch = Scratch::new("no-total");
    let mut env = env_for(&sim, "wide");
    result_file(&mut env, &scratch);
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(sim.requests_to(Route::Steps).len(), 3);
    let result = scratch.read("result.json");
    assert_eq!(result.matches("\"name\": \"Step ").count(), 250);
    assert!(!result.contains("Not every step"), "{result}");
}

// ---- class 4: eventual consistency -----------------------------------------------------

#[test]
fn a_new_execution_that_answers_404_for_a_while_is_asked_again() {
    // The replica lags 0.5 s; the grace is 30 s / 10.
    let sim = sim_with(
        SimConfig::new().replica_lag(Duration::from_millis(500)),
        vec![],
    );
    let out = run(&env_for(&sim, "load"), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let statuses: Vec<_> = sim
        .requests_to(Route::Status)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses.first(), Some(&Some(404)), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&Some(200)), "{statuses:?}");
    assert!(sim.requests_to(Route::Cancel).is_empty());
    assert_eq!(sim.executions()[0].status, "SUCCESS");
}

#[test]
fn a_new_execution_still_not_found_after_the_grace_is_cancelled_and_named() {
    let sim = sim_with(
        SimConfig::new().replica_lag(Duration::from_secs(60)),
        vec![],
    );
    let mut env = env_for(&sim, "long");
    // The grace, 30 s / 100: 0.3 s.
    set(&mut env, "PIPELINE_RUN_TEST_TIMINGS", "100");
    let started = Instant::now();
    let out = run(&env, &[]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(started.elapsed() < Duration::from_secs(10));
    let id = sim.executions()[0].id.clone();
    assert!(
        out.stderr.contains(&format!(
            "execution {id} was created by this run but was still not found 300ms later; asked the platform to cancel it — check it in the Matillion console"
        )),
        "{}",
        out.stderr
    );
    let cancels = sim.requests_to(Route::Cancel);
    assert_eq!(cancels.len(), 1);
    assert!(cancels[0].path.ends_with(&id));
    assert!(sim.executions()[0].cancel_requested);
}

// ---- class 5: exactly once when the list lags ------------------------------------------

#[test]
fn a_lost_reply_is_looked_up_while_the_list_lags_and_adopted() {
    // The list shows the new run only after 1 s (once the test has seen the lookup miss
    // it, on a clock the test moves); the lookup window is 30 s / 10.
    let (sim, clock) = start_sim_held(config_with(
        SimConfig::new().list_lag(Duration::from_secs(1)),
        vec![Fault::once(Route::Trigger, FaultAction::LoseReply)],
    ));
    let child = spawn(&env_for(&sim, "load"), &[]);
    wait_for("a lookup that misses the run", || {
        sim.requests_to(Route::ListExecutions)
            .iter()
            .any(|r| r.status.is_some())
    });
    clock.advance(Duration::from_secs(60));
    let out = finish(child);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(sim.executions().len(), 1, "{}", out.stderr);
    // One POST: the second was never needed.
    assert_eq!(sim.requests_to(Route::Trigger).len(), 1);
    assert!(sim.requests_to(Route::ListExecutions).len() >= 2);
    let id = &sim.executions()[0].id;
    assert!(
        out.stderr.contains(&format!(
            "The trigger's reply was lost; adopted execution {id} (started "
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn a_409_after_a_lost_reply_is_taken_for_our_own_run_and_adopted() {
    // A lookup window (0.3 s) shorter than the list's lag (1 s): the trigger is sent again,
    // answered 409 because our own run holds the tag, and that run is adopted — never
    // waited for and followed by a second run.
    // On a clock the test moves: the lag ends once the 409 was seen, the run once adopted.
    let (sim, clock) = start_sim_held(config_with(
        SimConfig::new().list_lag(Duration::from_secs(1)),
        vec![Fault::once(Route::Trigger, FaultAction::LoseReply)],
    ));
    // A run that outlasts the lag, so that it holds the tag when the trigger is sent again.
    let mut env = env_for(&sim, "slow");
    set(&mut env, "MATILLION_EXECUTION_TAG", "nightly");
    set(&mut env, "PIPELINE_RUN_TEST_TIMINGS", "100");
    let steps = [
        (
            "the trigger was answered 409 after a lost reply",
            Duration::from_secs(1),
        ),
        ("adopted execution ", Duration::from_secs(60)),
    ];
    let out = stepped(&clock, &env, &[], &steps);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(sim.executions().len(), 1, "{}", out.stderr);
    let triggers: Vec<_> = sim
        .requests_to(Route::Trigger)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(triggers[0], None);
    assert!(
        triggers[1..].iter().all(|s| *s == Some(409)),
        "{triggers:?}"
    );
    assert!(
        out.stderr.contains(
            "the trigger was answered 409 after a lost reply: the run it created probably holds the tag; looking for it"
        ),
        "{}",
        out.stderr
    );
    let id = &sim.executions()[0].id;
    assert!(
        out.stderr
            .contains(&format!("adopted execution {id} (started ")),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("waiting for it"), "{}", out.stderr);
}

// ---- class 7: signals at every moment --------------------------------------------------

#[test]
fn sigterm_while_the_token_request_is_in_flight_starts_nothing_new() {
    let sim = sim_with(
        SimConfig::new(),
        vec![Fault::once(
            Route::Token,
            FaultAction::delay_reply(Duration::from_secs(20)),
        )],
    );
    let mut child = spawn(&env_for(&sim, "load"), &[]);
    let live = LiveStderr::take(&mut child);
    wait_for("the token request", || {
        !sim.requests_to(Route::Token).is_empty()
    });
    signal(&child, "TERM");
    // The token arrives once the signal was heard: nothing may be sent with it.
    wait_for("the signal to be heard", || {
        live.contains("received SIGTERM: stopping")
    });
    sim.release_delayed();
    let out = live.finish(child);
    assert_eq!(out.code, 143, "{}", out.stderr);
    let routes: Vec<Route> = sim.requests().iter().map(|r| r.route).collect();
    assert_eq!(routes, [Route::Token], "{}", out.stderr);
    assert!(sim.executions().is_empty());
}

#[test]
fn sigint_while_the_trigger_reply_is_held_finds_the_run_and_cancels_it() {
    // The run exists at once; its 201 is held far beyond the clean-up's window.
    let sim = sim_with(
        SimConfig::new(),
        vec![Fault::once(
            Route::Trigger,
            FaultAction::delay_reply(Duration::from_secs(30)),
        )],
    );
    let child = spawn(&env_for(&sim, "long"), &[]);
    wait_for("the execution", || sim.executions().len() == 1);
    let started = Instant::now();
    signal(&child, "INT");
    let out = finish(child);
    // Inside the window before SIGTERM (7.5 s, here divided by 10).
    assert!(started.elapsed() < Duration::from_millis(2000));
    assert_eq!(out.code, 130, "{}", out.stderr);
    let id = sim.executions()[0].id.clone();
    assert!(
        out.stderr
            .contains(&format!("found execution {id} created by the trigger")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("cancelling execution {id}")),
        "{}",
        out.stderr
    );
    assert!(sim.executions()[0].cancel_requested, "{}", out.stderr);
    assert_eq!(sim.requests_to(Route::Trigger).len(), 1);
}

// ---- class 10: an honest heartbeat -----------------------------------------------------

#[test]
fn the_heartbeat_comes_on_time_even_when_polls_are_far_apart() {
    // Polls 1 s apart, a heartbeat due every 60 s / 100 = 0.6 s, a run of 1.5 s: the
    // heartbeat lines come between the polls (at 0.6, 1.2 and 1.8 s), not only after them
    // (at 1 s only).
    let sim = sim_with(SimConfig::new(), vec![]);
    let mut env = env_for(&sim, "slow");
    set(&mut env, "MATILLION_POLL_INTERVAL", "1s");
    set(&mut env, "MATILLION_MAX_POLL_INTERVAL", "1s");
    set(&mut env, "PIPELINE_RUN_TEST_TIMINGS", "100");
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let polls = sim.requests_to(Route::Status).len();
    let still = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("pipeline-run: still RUNNING after "))
        .count();
    assert!(polls <= 3, "{polls} polls");
    assert!(still >= 3, "{still} heartbeat lines:\n{}", out.stderr);
}

// ---- class 12: Datalab's list order is not documented ----------------------------------

const DL_KEY: &str = "dlk_live_hostile_wait_0001";
const DL_FILE: &str = "https://docs.example.com/invoices/sample.pdf";

#[test]
fn a_lost_datalab_run_is_found_whatever_the_list_order() {
    // The two orders side by side.
    std::thread::scope(|s| {
        for order in [ListOrder::OldestFirst, ListOrder::Shuffled(11)] {
            s.spawn(move || lost_and_found(order));
        }
    });
}

/// A Datalab run whose reply was lost, looked up in a list in `order`.
fn lost_and_found(order: ListOrder) {
    let sim = start_sim(
        SimConfig::new()
            .datalab_key(DL_KEY)
            .datalab_pipeline(
                DatalabPipeline::new("pl_hist", Duration::from_millis(300)).steps(&["convert"]),
            )
            .datalab_list_order(order)
            .fault(Fault::once(Route::DatalabRun, FaultAction::LoseReply)),
    );
    // 150 earlier runs of the same pipeline on the same document, an hour ago: our
    // run is not on the first page, and they are not ours.
    let old = sim.add_datalab_runs("pl_hist", DL_FILE, 150, Duration::from_secs(3600));
    assert_eq!(old.len(), 150);
    let env = vec![
        ("INPUT_PLATFORM".into(), "datalab".into()),
        ("INPUT_API-URL".into(), sim.datalab_url()),
        ("DATALAB_API_KEY".into(), DL_KEY.into()),
        ("INPUT_PIPELINE".into(), "pl_hist".into()),
        ("INPUT_FILE-URL".into(), DL_FILE.into()),
        ("INPUT_POLL-INTERVAL".into(), "50ms".into()),
        ("INPUT_MAX-POLL-INTERVAL".into(), "200ms".into()),
        ("INPUT_TIMEOUT".into(), "30s".into()),
    ];
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{order:?}: {}", out.stderr);
    let runs = sim.datalab_runs();
    assert_eq!(runs.len(), 151, "{order:?}: a second run was started");
    assert_eq!(sim.requests_to(Route::DatalabRun).len(), 1);
    let ours = runs
        .iter()
        .find(|r| !old.contains(&r.execution_id))
        .map(|r| r.execution_id.clone())
        .unwrap_or_default();
    assert!(
        out.stderr.contains(&format!(
            "The run request's reply was lost; adopted execution {ours}, which it created."
        )),
        "{order:?}: {}",
        out.stderr
    );
    // Every page was read (bounded), not just the first; the other list request is the
    // past runs for the schedule, after the trigger.
    let lists = sim.requests_to(Route::DatalabList);
    let lookups = lists
        .iter()
        .filter(|r| r.query.contains("limit=100"))
        .count();
    assert_eq!(lookups, 2, "{order:?}: {lists:?}");
    assert_eq!(lists.len(), 3, "{order:?}: {lists:?}");
}
