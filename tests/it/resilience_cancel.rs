//! Failure handling, end to end, when the wait is cut short: timeouts (the run cancelled,
//! or left with `cancel-on-timeout: false`, and a stalled status reply that cannot eat the
//! deadline) and signals sent to the binary (SIGTERM and SIGINT while waiting, while a
//! poll is stuck, twice, during the trigger). The real binary against the simulator on
//! loopback; every claim is checked against the requests and executions it recorded.

use crate::common::*;
use crate::resilience_common::*;
use pipeline_run_sim::{Fault, FaultAction, Route, SimHandle};
use std::process::Child;
use std::time::{Duration, Instant};

#[test]
fn timeout_cancels_the_run_and_exits_3() {
    let sim = sim(vec![]);
    let mut env = env_for(&sim, "long");
    set(&mut env, "MATILLION_TIMEOUT", "500ms");
    let gh = GithubFiles::new("timeout", &mut env);
    let out = run(&env, &[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    let cancels = sim.requests_to(Route::Cancel);
    assert_eq!(cancels.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&cancels[0].body).expect("JSON body");
    assert_eq!(
        body,
        serde_json::json!({"status": "CANCELLED", "forceUpdate": false})
    );
    let e = &sim.executions()[0];
    assert!(e.cancel_requested && !e.force_cancel);
    assert_eq!(e.status, "CANCELLED");
    assert!(
        out.stderr
            .contains("result: timed out; the execution was cancelled"),
        "{}",
        out.stderr
    );
    assert_eq!(
        output(&gh.outputs(), "outcome").as_deref(),
        Some("timed-out")
    );
    assert_eq!(
        output(&gh.outputs(), "status").as_deref(),
        Some("CANCELLED")
    );
}

#[test]
fn timeout_with_cancel_on_timeout_false_leaves_the_run() {
    let sim = sim(vec![]);
    let mut env = env_for(&sim, "long");
    set(&mut env, "MATILLION_TIMEOUT", "500ms");
    set(&mut env, "MATILLION_CANCEL_ON_TIMEOUT", "false");
    let out = run(&env, &[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(sim.requests_to(Route::Cancel).is_empty());
    assert_eq!(sim.executions()[0].status, "RUNNING");
}

#[test]
fn stalled_status_reply_cannot_eat_the_deadline() {
    // The only status poll stalls far past the timeout: the attempt is cut at the deadline,
    // the run is cancelled, exit 3.
    let sim = sim(vec![Fault::once(
        Route::Status,
        FaultAction::Delay(Duration::from_secs(20)),
    )]);
    let mut env = env_for(&sim, "long");
    set(&mut env, "MATILLION_TIMEOUT", "500ms");
    let out = run(&env, &[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(sim.requests_to(Route::Cancel).len(), 1);
    assert!(sim.executions()[0].cancel_requested);
}

/// Start a run of `long`, wait until it is being polled, send `sig`; the child and the
/// instant of the signal.
fn signal_while_waiting(sim: &SimHandle, env: &[(String, String)], sig: &str) -> (Child, Instant) {
    let child = spawn(env, &[]);
    wait_for("the first status poll", || {
        !sim.requests_to(Route::Status).is_empty()
    });
    let at = Instant::now();
    signal(&child, sig);
    (child, at)
}

fn assert_cancelled_after_signal(sim: &SimHandle, at: Instant, out: &Output) {
    let cancels = sim.requests_to(Route::Cancel);
    assert_eq!(cancels.len(), 1, "one cancel request: {}", out.stderr);
    let lag = cancels[0].at.saturating_duration_since(at);
    assert!(
        lag < Duration::from_secs(5),
        "cancel sent {lag:?} after the signal"
    );
    let body: serde_json::Value = serde_json::from_slice(&cancels[0].body).expect("JSON body");
    assert_eq!(
        body,
        serde_json::json!({"status": "CANCELLED", "forceUpdate": false})
    );
    let e = &sim.executions()[0];
    assert!(e.cancel_requested && !e.force_cancel);
}

fn signal_cancels(sig: &str, name: &str, code: i32) {
    let sim = sim(vec![]);
    let mut env = env_for(&sim, "long");
    let gh = GithubFiles::new("signal", &mut env);
    let (child, at) = signal_while_waiting(&sim, &env, sig);
    let out = finish(child);
    assert_eq!(out.code, code, "{}", out.stderr);
    assert_cancelled_after_signal(&sim, at, &out);
    let id = sim.executions()[0].id.clone();
    assert!(
        out.stderr.contains(&format!("received {name}: stopping")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!(
            "pipeline-run: warning: cancelling execution {id}\n"
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!(
            "result: interrupted by {name}; the execution was cancelled"
        )),
        "{}",
        out.stderr
    );
    let outputs = gh.outputs();
    assert_eq!(output(&outputs, "outcome").as_deref(), Some("interrupted"));
    assert_eq!(output(&outputs, "execution-id"), Some(id.clone()));
    assert_eq!(output(&outputs, "status").as_deref(), Some("CANCELLED"));
    let summary = gh.summary();
    assert!(
        summary.starts_with("## ⏹ long was interrupted"),
        "{summary}"
    );
}

#[test]
fn sigterm_and_sigint_while_waiting_cancel_the_run_and_exit_143_and_130() {
    // Two independent runs side by side (each has its own simulator), to keep the file fast.
    std::thread::scope(|s| {
        s.spawn(|| signal_cancels("TERM", "SIGTERM", 143));
        s.spawn(|| signal_cancels("INT", "SIGINT", 130));
    });
}

#[test]
fn signal_while_a_poll_is_stuck_still_cancels() {
    // The worker is blocked in a status poll that takes 20 s; the signal handler does not
    // wait for it: it cancels from its own connection.
    let sim = sim(vec![Fault::once(
        Route::Status,
        FaultAction::Delay(Duration::from_secs(20)),
    )]);
    let env = env_for(&sim, "long");
    let (child, at) = signal_while_waiting(&sim, &env, "INT");
    let out = finish(child);
    assert_eq!(out.code, 130, "{}", out.stderr);
    assert_cancelled_after_signal(&sim, at, &out);
}

#[test]
fn second_signal_exits_at_once() {
    // The cancel request stalls; a second signal ends the process without waiting for it.
    let sim = sim(vec![Fault::once(
        Route::Cancel,
        FaultAction::Delay(Duration::from_secs(20)),
    )]);
    let env = env_for(&sim, "long");
    let (child, _) = signal_while_waiting(&sim, &env, "INT");
    wait_for("the cancel request", || {
        !sim.requests_to(Route::Cancel).is_empty()
    });
    signal(&child, "TERM");
    let out = finish(child);
    // 143 is the second signal's code: the first one's clean-up (exit 130) never finished.
    assert_eq!(out.code, 143, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("pipeline-run: second signal (SIGTERM): exiting now"),
        "{}",
        out.stderr
    );
}

/// A signal while the trigger's reply is slow to come: the platform holds the trigger
/// until the binary has settled after the signal (exit with `wait: false`; with
/// `wait: true`, the line saying it waits for the trigger's reply), then creates the run
/// and answers, whenever that is on a busy machine. Returns the output, and whether a
/// cancel was sent and taken.
fn signal_during_trigger(wait: bool) -> (Output, bool) {
    let sim = sim(vec![Fault::once(
        Route::Trigger,
        FaultAction::Delay(RUN_LIMIT),
    )]);
    let mut env = env_for(&sim, "long");
    set(&mut env, "MATILLION_WAIT", wait.to_string());
    // The wait for the trigger's reply, 1.5 s / 5: 0.3 s for the test to answer in, then
    // as long again to find the run in the list.
    set(&mut env, "PIPELINE_RUN_TEST_TIMINGS", "5");
    let mut child = spawn(&env, &[]);
    let live = LiveStderr::take(&mut child);
    wait_for("the trigger", || {
        !sim.requests_to(Route::Trigger).is_empty()
    });
    signal(&child, "INT");
    let out = if wait {
        wait_for("the wait for the trigger's reply", || {
            live.contains("waiting a moment for the trigger's reply")
        });
        sim.release_delayed();
        live.finish(child)
    } else {
        let out = live.finish(child);
        sim.release_delayed();
        out
    };
    wait_for("the execution", || sim.executions().len() == 1);
    let cancelled = !sim.requests_to(Route::Cancel).is_empty();
    assert_eq!(cancelled, sim.executions()[0].cancel_requested);
    (out, cancelled)
}

#[test]
fn signal_during_the_trigger_cancels_the_run_it_creates_unless_wait_is_false() {
    std::thread::scope(|s| {
        s.spawn(|| {
            // Waiting: the run the trigger creates is known in time, and cancelled.
            let (out, cancelled) = signal_during_trigger(true);
            assert_eq!(out.code, 130, "{}", out.stderr);
            assert!(cancelled, "{}", out.stderr);
            assert!(
                out.stderr
                    .contains("result: interrupted by SIGINT; the execution was cancelled"),
                "{}",
                out.stderr
            );
        });
        s.spawn(|| {
            // `wait: false`: nothing is ever cancelled.
            let (out, cancelled) = signal_during_trigger(false);
            assert_eq!(out.code, 130, "{}", out.stderr);
            assert!(!cancelled, "{}", out.stderr);
            assert!(
                out.stderr
                    .contains("result: interrupted by SIGINT; the execution was not cancelled"),
                "{}",
                out.stderr
            );
        });
    });
}
