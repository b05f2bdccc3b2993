//! Issue 19: an unusable reply during the wait is a missed poll, not a verdict. A run of
//! HTML block pages (a proxy in front of the API) or of bodies over the read limit in the
//! middle of a healthy run, and a 404 for a run already seen (a lagging replica): the wait
//! goes on, nothing is cancelled, the run's own end decides; only the deadline makes a
//! timeout. The real binary against the simulator.

use crate::common::*;
use crate::hostile_wait::{config_with, env_for, sim_with};
use crate::resilience_common::statuses;
use pipeline_run_sim::{Fault, FaultAction, ManualTime, Route, SimConfig, SimHandle};
use std::sync::Arc;
use std::time::Duration;

/// The simulator of the wait tests (`long` runs for two minutes).
fn sim(faults: Vec<Fault>) -> SimHandle {
    sim_with(SimConfig::new(), faults)
}

/// The same on a clock that moves only when the test moves it: `long` goes on as long as
/// the test needs, and ends when the test moves the clock past its two minutes.
fn held(faults: Vec<Fault>) -> (SimHandle, Arc<ManualTime>) {
    start_sim_held(config_with(SimConfig::new(), faults))
}

/// Run `long` with `env` until the simulator has answered `n` status polls the way
/// `faulted` counts them, then end the run (the clock moved past it); the binary's output.
/// The unusable replies all come while the run is going, however slowly the machine runs.
fn long_through(
    sim: &SimHandle,
    clock: &ManualTime,
    env: &[(String, String)],
    n: usize,
    faulted: impl Fn(&SimHandle) -> usize,
) -> Output {
    let child = spawn(env, &[]);
    wait_for("the faulty replies", || faulted(sim) >= n);
    assert_eq!(sim.executions()[0].status, "RUNNING");
    clock.advance(Duration::from_secs(120));
    finish(child)
}

fn with_result(sim: &SimHandle, pipeline: &str, scratch: &Scratch) -> Vec<(String, String)> {
    let mut env = env_for(sim, pipeline);
    set(
        &mut env,
        "MATILLION_RESULT_FILE",
        scratch.path("result.json").to_string_lossy(),
    );
    env
}

fn not_found() -> FaultAction {
    FaultAction::respond(
        404,
        "application/problem+json",
        r#"{"type":"about:blank","title":"Not Found","status":404,"detail":"Pipeline execution not found"}"#,
    )
}

/// Status requests the fault `kind` answered.
fn faulted(sim: &SimHandle, kind: &str) -> usize {
    sim.requests_to(Route::Status)
        .iter()
        .filter(|r| r.fault == Some(kind))
        .count()
}

#[test]
fn block_pages_mid_run_are_missed_polls_and_the_run_succeeds() {
    // Twelve block pages after the third poll: three polls of four replies each.
    let (sim, clock) = held(vec![
        Fault::times(Route::Status, 12, FaultAction::block_page()).after(3),
    ]);
    let scratch = Scratch::new("block-pages");
    let env = with_result(&sim, "long", &scratch);
    let out = long_through(&sim, &clock, &env, 12, |s| faulted(s, "respond"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(faulted(&sim, "respond"), 12);
    assert_eq!(
        sim.requests_to(Route::Status).last().and_then(|r| r.status),
        Some(200)
    );
    assert!(sim.requests_to(Route::Cancel).is_empty());
    assert_eq!(sim.executions()[0].status, "SUCCESS");
    assert!(!out.stderr.contains("timed out"), "{}", out.stderr);
    let missed = "Matillion gave no usable reply to the status poll: the status poll answered 200 with a body that is not the JSON expected";
    assert_eq!(
        out.stderr.matches(&format!("warning: {missed}")).count(),
        1,
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("4 replies in a row could not be used; a missed poll, the wait goes on\n"),
        "{}",
        out.stderr
    );
    has_line(
        &out.stderr,
        "pipeline-run: warning: 3 status polls in a row could not be read; read again",
    );
    has_line(&out.stderr, "pipeline-run: status: SUCCESS");
    let result = scratch.read("result.json");
    assert!(
        result.contains("\"3 status polls could not be read; the wait went on (the last: Matillion gave no usable reply to the status poll"),
        "{result}"
    );
}

#[test]
fn bodies_over_the_read_limit_mid_run_are_missed_polls() {
    let (sim, clock) = held(vec![
        Fault::times(Route::Status, 4, FaultAction::huge_body(9 << 20)).after(2),
    ]);
    let scratch = Scratch::new("huge-polls");
    let env = with_result(&sim, "long", &scratch);
    let out = long_through(&sim, &clock, &env, 4, |s| faulted(s, "raw"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(faulted(&sim, "raw"), 4);
    assert!(sim.requests_to(Route::Cancel).is_empty());
    assert!(!out.stderr.contains("timed out"), "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "warning: Matillion gave no usable reply to the status poll: the status poll: the reply (200) is longer than 8 MB, the most read; 4 replies in a row could not be used; a missed poll, the wait goes on"
        ),
        "{}",
        out.stderr
    );
    assert!(
        scratch
            .read("result.json")
            .contains("\"1 status poll could not be read; the wait went on"),
        "{}",
        scratch.read("result.json")
    );
}

#[test]
fn block_pages_to_the_end_time_out_at_the_deadline_and_only_then() {
    let sim = sim(vec![
        Fault::always(Route::Status, FaultAction::block_page()).after(2),
    ]);
    let scratch = Scratch::new("block-to-end");
    let mut env = with_result(&sim, "long", &scratch);
    set(&mut env, "MATILLION_TIMEOUT", "2s");
    let out = run(&env, &[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    // The cancel went out at the deadline (2 s after the start, which came after the
    // simulator's), not after the fourth unusable reply (about 0.5 s in).
    let cancels = sim.requests_to(Route::Cancel);
    assert_eq!(cancels.len(), 1);
    assert!(
        cancels[0].elapsed >= Duration::from_secs(2),
        "{:?}",
        cancels[0].elapsed
    );
    has_line(
        &out.stderr,
        "pipeline-run: warning: timed out after 2s while the run was running; cancelling it",
    );
    // Polls on the schedule, four replies each, until the deadline: bounded.
    let polls = sim.requests_to(Route::Status).len();
    assert!((8..=80).contains(&polls), "{polls} status requests");
    assert!(
        scratch
            .read("result.json")
            .contains(" status polls could not be read; the wait went on"),
        "{}",
        scratch.read("result.json")
    );
}

#[test]
fn a_404_for_a_run_already_seen_gets_the_replica_lag_grace() {
    // Five 404s after the third poll: the run was seen, then a lagging replica answers.
    let (sim, clock) = held(vec![Fault::times(Route::Status, 5, not_found()).after(3)]);
    let scratch = Scratch::new("404-mid-run");
    let env = with_result(&sim, "long", &scratch);
    let out = long_through(&sim, &clock, &env, 5, |s| faulted(s, "respond"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let polls = statuses(&sim.requests_to(Route::Status));
    assert_eq!(polls[..3], [Some(200), Some(200), Some(200)], "{polls:?}");
    assert_eq!(
        polls.iter().filter(|s| **s == Some(404)).count(),
        5,
        "{polls:?}"
    );
    assert_eq!(polls.last(), Some(&Some(200)));
    assert!(sim.requests_to(Route::Cancel).is_empty());
    assert_eq!(sim.executions()[0].status, "SUCCESS");
    let id = sim.executions()[0].id.clone();
    has_line(
        &out.stderr,
        &format!(
            "pipeline-run: warning: execution {id} answered 404 after it was found (a replica that lags behind?); asking again for up to 3s"
        ),
    );
    assert!(!out.stderr.contains("refused"), "{}", out.stderr);
}

#[test]
fn a_run_already_seen_still_not_found_after_the_grace_is_cancelled_and_named() {
    let sim = sim(vec![Fault::always(Route::Status, not_found()).after(2)]);
    let mut env = env_for(&sim, "long");
    // The grace, 30 s / 100: 0.3 s.
    set(&mut env, "PIPELINE_RUN_TEST_TIMINGS", "100");
    let out = run(&env, &[]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    let id = sim.executions()[0].id.clone();
    assert!(
        out.stderr.contains(&format!(
            "execution {id} was found earlier but has not been found for 300ms; asked the platform to cancel it — check it in the Matillion console"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(sim.requests_to(Route::Cancel).len(), 1);
}
