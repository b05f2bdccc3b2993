//! The rate limit on the whole API (`SimConfig::rate_limit`): a burst, then one request an
//! interval, on every route (the token endpoint too); over it, 429 with `Retry-After` in
//! whole seconds, counted; faults apply only to the requests within it.

use crate::common::*;

fn retry_after(r: &Resp) -> Option<&str> {
    r.headers
        .iter()
        .find(|(k, _)| k == "retry-after")
        .map(|(_, v)| v.as_str())
}

#[test]
fn a_burst_then_one_a_second_at_60_a_minute_on_every_route() {
    let t = T::start(world().rate_limit(60, 5));
    let paths = [
        "/v1/projects".to_string(),
        format!("/v1/projects/{PID}/environments"),
        "/v1/pipeline-executions".to_string(),
    ];
    // The burst, across routes.
    for i in 0..5 {
        assert_eq!(t.get(&paths[i % 3]).status, 200, "request {i}");
    }
    let over = t.get(&paths[0]);
    assert_eq!(over.status, 429);
    assert_eq!(retry_after(&over), Some("1"));
    assert_eq!(over.json()["detail"], "Rate limit exceeded");
    // The token endpoint counts too.
    assert_eq!(t.token_request("id").status, 429);
    assert_eq!(t.sim.rejected_requests(), 2);
    // A second later, one more; not two.
    t.clock.advance(secs(1));
    assert_eq!(t.get(&paths[1]).status, 200);
    assert_eq!(t.get(&paths[1]).status, 429);
    // After a quiet minute, a whole burst again.
    t.clock.advance(secs(60));
    for _ in 0..5 {
        assert_eq!(t.get(&paths[2]).status, 200);
    }
    assert_eq!(t.get(&paths[2]).status, 429);
    assert_eq!(t.sim.rejected_requests(), 4);
    let recorded = t.sim.requests();
    let limited: Vec<_> = recorded
        .iter()
        .filter(|r| r.fault == Some("rate-limit"))
        .collect();
    assert_eq!(limited.len(), 4);
    assert!(limited.iter().all(|r| r.status == Some(429)));
}

#[test]
fn retry_after_says_when_the_next_request_would_be_let_through() {
    // Six a minute: ten seconds apart.
    let t = T::start(world().rate_limit(6, 1));
    assert_eq!(t.get("/v1/projects").status, 200);
    t.clock.advance(Duration::from_millis(2500));
    let r = t.get("/v1/projects");
    assert_eq!(r.status, 429);
    // 7.5 s left, rounded up.
    assert_eq!(retry_after(&r), Some("8"));
    // A rejected request spends nothing: at the 10 s mark the next one goes through.
    t.clock.advance(Duration::from_millis(7500));
    assert_eq!(t.get("/v1/projects").status, 200);
}

#[test]
fn faults_apply_only_to_requests_within_the_limit() {
    let t = T::start(world().rate_limit(60, 1));
    assert_eq!(t.get("/v1/projects").status, 200);
    t.sim.add_fault(Fault::once(
        Route::Projects,
        FaultAction::bad_gateway_html(),
    ));
    // Over the limit: the 429, and the fault is not spent on it...
    assert_eq!(t.get("/v1/projects").status, 429);
    assert_eq!(t.sim.faults().len(), 1);
    // ...but on the next request within it.
    t.clock.advance(secs(1));
    assert_eq!(t.get("/v1/projects").status, 502);
    assert!(t.sim.faults().is_empty());
}

#[test]
fn without_a_limit_nothing_is_rejected() {
    let t = T::start(world());
    for _ in 0..50 {
        assert_eq!(t.get("/v1/projects").status, 200);
    }
    assert_eq!(t.sim.rejected_requests(), 0);
}
