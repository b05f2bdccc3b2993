//! Failure handling, end to end, while a run is polled: the real binary against the
//! simulator on loopback, with faults injected (rate limits, gateway errors, garbage,
//! connection resets, bad credentials, a token that expires mid-run). Every claim is
//! checked against what the simulator recorded (requests, their times, their statuses).

use crate::common::*;
use crate::resilience_common::*;
use pipeline_run_sim::{Fault, FaultAction, Route};
use std::time::Duration;

/// Everything the binary printed, for "is it anywhere" checks.
fn all_text(out: &Output) -> String {
    format!("{}\n{}", out.stdout, out.stderr)
}

#[test]
fn rate_limit_waits_as_long_as_retry_after_says() {
    let sim = sim(vec![Fault::once(
        Route::Status,
        FaultAction::too_many_requests(1),
    )]);
    let out = run(&env_for(&sim, "load"), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let reqs = sim.requests();
    let i = reqs
        .iter()
        .position(|r| r.status == Some(429))
        .expect("a 429 was sent");
    let next = &reqs[i + 1];
    let gap = next.at - reqs[i].at;
    assert!(
        gap >= Duration::from_secs(1),
        "the next request came {gap:?} after the 429"
    );
    assert_eq!(next.route, Route::Status);
    assert!(
        out.stderr.contains(
            "warning: the status poll answered 429 Too Many Requests: Rate limit exceeded; retrying in 1s"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn gateway_html_three_times_then_success() {
    let sim = sim(vec![Fault::times(
        Route::Status,
        3,
        FaultAction::bad_gateway_html(),
    )]);
    let out = run(&env_for(&sim, "load"), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let polls = statuses(&sim.requests_to(Route::Status));
    assert_eq!(polls[..4], [Some(502), Some(502), Some(502), Some(200)]);
    // Said once when the streak starts, and once with its count when it ends.
    let said = "the status poll answered 502 Bad Gateway (body: <html>";
    assert_eq!(out.stderr.matches(said).count(), 2, "{}", out.stderr);
    assert_eq!(
        out.stderr.matches("; retrying in ").count(),
        1,
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .lines()
            .any(|l| l.starts_with(&format!("pipeline-run: warning: {said}"))
                && l.contains("</center></body></html>) (3 times in ")),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("result: SUCCESS"), "{}", out.stderr);
    assert_eq!(sim.executions().len(), 1);
}

#[test]
fn garbage_json_then_success() {
    let sim = sim(vec![Fault::once(Route::Status, FaultAction::Garbage)]);
    let out = run(&env_for(&sim, "load"), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let polls = sim.requests_to(Route::Status);
    assert_eq!(polls[0].fault, Some("garbage"));
    assert_eq!(polls[1].status, Some(200));
    assert!(
        out.stderr
            .contains("the status poll answered 200 with a body that is not the JSON expected"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("result: SUCCESS"), "{}", out.stderr);
}

#[test]
fn connection_reset_then_success() {
    let sim = sim(vec![
        Fault::once(Route::Token, FaultAction::Reset),
        Fault::once(Route::Status, FaultAction::Reset),
    ]);
    let out = run(&env_for(&sim, "load"), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for route in [Route::Token, Route::Status] {
        let reqs = sim.requests_to(route);
        assert_eq!(reqs[0].status, None, "{route:?}: the first got no reply");
        assert_eq!(
            reqs[1].status,
            Some(200),
            "{route:?}: the retry was answered"
        );
    }
    assert_eq!(sim.executions().len(), 1);
    assert!(out.stderr.contains("result: SUCCESS"), "{}", out.stderr);
}

#[test]
fn bad_credentials_exit_4_without_the_secret() {
    let sim = sim(vec![]);
    let mut env = env_for(&sim, "load");
    let secret = "wr0ng-S3cret-value-4242";
    set(&mut env, "MATILLION_CLIENT_SECRET", secret);
    let gh = GithubFiles::new("badcreds", &mut env);
    let out = run(&env, &[]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    // Said once, as what it is: the credentials were refused (not "the project list").
    let line = "pipeline-run: error: Matillion authentication failed: the token endpoint refused the credentials with 401 access_denied: Unauthorized — check client-id and client-secret.\n";
    assert_eq!(
        out.stderr.lines().filter(|l| l.contains("refused")).count(),
        1,
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(line), "{}", out.stderr);
    assert!(!out.stderr.contains("project list"), "{}", out.stderr);
    // Asked once: a refusal is not retried.
    assert_eq!(statuses(&sim.requests_to(Route::Token)), [Some(401)]);
    assert!(sim.requests_to(Route::Trigger).is_empty());
    for (what, text) in [
        ("output", all_text(&out)),
        ("summary", gh.summary()),
        ("outputs file", gh.scratch.read("output")),
    ] {
        assert!(!text.contains(secret), "the secret is in the {what}");
        assert!(
            !text.contains("S3cret"),
            "part of the secret is in the {what}"
        );
    }
    assert_eq!(output(&gh.outputs(), "outcome").as_deref(), Some("refused"));
}

#[test]
fn expired_token_mid_run_is_replaced_once() {
    // A 401 on a poll: one fresh token, the same poll again, and the run followed to its end.
    // The second poll is held at the simulator's door until the token has expired, so the
    // expiry falls between two polls however slowly the machine runs (and the run cannot
    // end first).
    let sim = start_sim(
        sim_config().fault(Fault::once(Route::Status, FaultAction::Delay(RUN_LIMIT)).after(1)),
    );
    let child = spawn(&env_for(&sim, "load"), &[]);
    wait_for("the second status poll", || {
        sim.requests_to(Route::Status).len() == 2
    });
    sim.expire_tokens();
    sim.release_delayed();
    let out = finish(child);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(sim.issued_tokens().len(), 2, "{}", out.stderr);
    let polls = statuses(&sim.requests_to(Route::Status));
    assert!(polls.contains(&Some(401)), "{polls:?}");
    assert_eq!(polls.last(), Some(&Some(200)));
}
