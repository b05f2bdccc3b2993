//! Issue 19, the floor under the waits after a `429` or `503`: a `Retry-After` of `0`, or an
//! HTTP date already past (a server whose clock is behind ours), is no hint, and the
//! backoff paces the attempts; a failure repeated is said once per streak, with its count.
//! The real binary against the simulator, for every kind of request.

use crate::common::*;
use crate::resilience_common::*;
use pipeline_run_sim::{Fault, FaultAction, Route};
use std::time::Duration;

/// Lines of `log` that contain `needle`.
fn lines_with<'a>(log: &'a str, needle: &str) -> Vec<&'a str> {
    log.lines().filter(|l| l.contains(needle)).collect()
}

const SAID_429: &str = "the status poll answered 429 Too Many Requests: Rate limit exceeded";

#[test]
fn every_poll_answered_429_retry_after_0_is_paced_by_the_backoff_until_the_deadline() {
    let sim = sim(vec![Fault::always(
        Route::Status,
        FaultAction::too_many_requests(0),
    )]);
    let mut env = env_for(&sim, "long");
    set(&mut env, "MATILLION_TIMEOUT", "1s");
    // The backoff from 5 ms (0.5 s / 100), doubling, to 0.3 s (30 s / 100); the follow of
    // the cancel, 0.3 s.
    set(&mut env, "PIPELINE_RUN_TEST_TIMINGS", "100");
    let out = run(&env, &[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    // About two dozen requests in the 1 s wait and the follow of the cancel after it
    // (each poll starts the backoff again), not thousands.
    let polls = sim.requests_to(Route::Status).len();
    eprintln!("status requests: {polls}");
    assert!((4..=40).contains(&polls), "{polls} status requests");
    // A few warnings, each for a streak, not one a request.
    let warned = lines_with(&out.stderr, &format!("warning: {SAID_429}; retrying in "));
    assert!(!warned.is_empty() && warned.len() <= 6, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("{SAID_429} (")) && out.stderr.contains(" times in "),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("asked to wait"), "{}", out.stderr);
    // Cancelled at the deadline (the run was still going), and only then.
    has_line(
        &out.stderr,
        "pipeline-run: warning: timed out after 1s while the run was running; cancelling it",
    );
    assert_eq!(sim.requests_to(Route::Cancel).len(), 1);
    assert_eq!(
        lines_with(&out.stderr, "timed out").len(),
        2,
        "{}",
        out.stderr
    );
}

#[test]
fn a_retry_after_of_0_on_every_kind_of_request_waits_the_backoff_and_the_run_succeeds() {
    // Three 429s on each kind of request; two on the lookup of past runs, which has a
    // budget of its own (5 s, 0.5 s here) and gives up when the next step of the backoff
    // would not fit in it (the run then goes on without history): three steps (50, 100 and
    // 200 ms, ±30%: up to 455 ms) may not fit on a busy machine, two (up to 195 ms) do.
    let routes: [(Route, u32); 7] = [
        (Route::Token, 3),
        (Route::Projects, 3),
        (Route::Trigger, 3),
        (Route::Status, 3),
        (Route::ListExecutions, 2),
        (Route::Details, 3),
        (Route::Steps, 3),
    ];
    let sim = sim(routes
        .iter()
        .map(|(r, n)| Fault::times(*r, *n, FaultAction::too_many_requests(0)))
        .collect());
    let out = run(&env_for(&sim, "load"), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for (route, n) in routes {
        let reqs = sim.requests_to(route);
        let limited: Vec<_> = reqs.iter().filter(|r| r.status == Some(429)).collect();
        assert_eq!(
            limited.len(),
            n as usize,
            "{route:?}: {:?}",
            statuses(&reqs)
        );
        // Each next attempt came after a step of the backoff (50 ms ±30% at first), not
        // at once as the header said.
        let after = reqs
            .iter()
            .skip_while(|r| r.status == Some(429))
            .collect::<Vec<_>>();
        let gaps: Vec<Duration> = reqs
            .windows(2)
            .take(3)
            .map(|w| w[1].elapsed - w[0].elapsed)
            .collect();
        assert!(
            gaps.iter().all(|g| *g >= Duration::from_millis(35)),
            "{route:?}: {gaps:?}"
        );
        assert!(!after.is_empty(), "{route:?}");
    }
    // One trigger went through: one run.
    assert_eq!(sim.executions().len(), 1);
    assert!(sim.requests_to(Route::Cancel).is_empty());
    assert!(!out.stderr.contains("asked to wait"), "{}", out.stderr);
    // Each streak said once in full, then once with its count.
    for what in [
        "the token endpoint answered 429 Too Many Requests",
        "the trigger answered 429 Too Many Requests: Rate limit exceeded",
        "the step list answered 429 Too Many Requests: Rate limit exceeded",
    ] {
        let said = lines_with(&out.stderr, what);
        assert_eq!(said.len(), 2, "{}", out.stderr);
        assert!(said[0].starts_with(&format!("pipeline-run: warning: {what}; retrying in ")));
        assert!(said[1].starts_with(&format!("pipeline-run: warning: {what} (3 times in ")));
    }
}

#[test]
fn a_retry_after_date_in_the_past_from_a_server_clock_behind_is_no_hint() {
    let sim = sim(vec![
        Fault::times(
            Route::Status,
            4,
            FaultAction::too_many_requests_from_a_clock_behind(Duration::from_secs(3600)),
        ),
        Fault::times(
            Route::Trigger,
            2,
            FaultAction::too_many_requests_from_a_clock_behind(Duration::from_secs(600)),
        ),
    ]);
    let out = run(&env_for(&sim, "load"), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let polls = statuses(&sim.requests_to(Route::Status));
    assert_eq!(
        polls[..5],
        [Some(429), Some(429), Some(429), Some(429), Some(200)]
    );
    assert_eq!(
        statuses(&sim.requests_to(Route::Trigger)),
        [Some(429), Some(429), Some(201)]
    );
    let polls = sim.requests_to(Route::Status);
    let gaps: Vec<Duration> = polls
        .windows(2)
        .take(4)
        .map(|w| w[1].elapsed - w[0].elapsed)
        .collect();
    // 50 ms, 100 ms, 200 ms, 400 ms, each ±30%.
    assert!(gaps[0] >= Duration::from_millis(35), "{gaps:?}");
    assert!(gaps[3] >= Duration::from_millis(280), "{gaps:?}");
    assert!(sim.requests_to(Route::Cancel).is_empty());
    assert_eq!(sim.executions().len(), 1);
    assert_eq!(
        lines_with(&out.stderr, &format!("warning: {SAID_429}; retrying in ")).len(),
        1,
        "{}",
        out.stderr
    );
    has_line(&out.stderr, "pipeline-run: status: SUCCESS");
    assert!(!out.stderr.contains("asked to wait"), "{}", out.stderr);
}
