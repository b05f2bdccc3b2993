//! The first fault kinds: a canned status and body, garbage, a reset, a delay, a lost
//! reply, and faults configured at start.

use crate::common::*;

#[test]
fn fault_respond_and_garbage() {
    let t = T::start(world());
    t.sim.add_fault(Fault::once(
        Route::Projects,
        FaultAction::bad_gateway_html(),
    ));
    t.sim.add_fault(Fault::times(
        Route::Environments,
        2,
        FaultAction::too_many_requests(2),
    ));
    t.sim
        .add_fault(Fault::once(Route::PublishedPipelines, FaultAction::Garbage));
    t.sim.add_fault(Fault::on_path(
        "GET",
        "/v1/pipeline-executions",
        FaultAction::unavailable_json(),
    ));

    let r = t.get("/v1/projects");
    assert_eq!(r.status, 502);
    assert!(r.ctype.starts_with("text/html"));
    assert!(r.body.contains("<html>"));
    assert_eq!(t.get("/v1/projects").status, 200);

    let env = format!("/v1/projects/{PID}/environments");
    for _ in 0..2 {
        let r = t.get(&env);
        assert_eq!(r.status, 429);
        assert!(
            r.headers
                .iter()
                .any(|(k, v)| k == "retry-after" && v == "2")
        );
    }
    assert_eq!(t.get(&env).status, 200);

    let r = t.get(&format!(
        "/v1/projects/{PID}/published-pipelines?environmentName=dev"
    ));
    assert_eq!(r.status, 200);
    assert!(serde_json::from_str::<Value>(&r.body).is_err());

    let r = t.get("/v1/pipeline-executions");
    assert_eq!(r.status, 503);
    assert!(r.ctype.starts_with("application/json"));
    assert!(t.sim.faults().is_empty());
    let rec = t.sim.requests();
    assert_eq!(rec[0].fault, Some("respond"));
    assert_eq!(rec[1].fault, None);
}

#[test]
fn fault_reset_and_delay() {
    let t = T::start(world());
    t.sim
        .add_fault(Fault::once(Route::Status, FaultAction::Reset));
    let id = t.trigger(json!({"pipelineName": "nightly-load", "environmentName": "dev"}));
    let path = format!("/v1/projects/{PID}/pipeline-executions/{id}/status");
    assert!(t.try_get(&path).is_err());
    assert_eq!(t.get(&path).status, 200);
    let rec = t.sim.requests_to(Route::Status);
    assert_eq!(rec[0].status, None);
    assert_eq!(rec[0].fault, Some("reset"));

    t.sim.add_fault(Fault::once(
        Route::Status,
        FaultAction::Delay(Duration::from_millis(60)),
    ));
    let started = std::time::Instant::now();
    assert_eq!(t.get(&path).status, 200);
    assert!(started.elapsed() >= Duration::from_millis(60));
}

#[test]
fn fault_lose_reply_still_creates_execution() {
    let t = T::start(world());
    t.sim
        .add_fault(Fault::once(Route::Trigger, FaultAction::LoseReply));
    let r = t.try_post(
        &format!("/v1/projects/{PID}/pipeline-executions"),
        &json!({"pipelineName": "nightly-load", "environmentName": "dev", "executionTag": "t"}),
    );
    assert!(r.is_err());
    let ex = t.sim.executions();
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0].execution_tag.as_deref(), Some("t"));
    let rec = t.sim.requests_to(Route::Trigger);
    assert_eq!(rec[0].status, None);
    assert_eq!(rec[0].fault, Some("lose-reply"));
    // A retry with the same tag now conflicts.
    let r = t.post(
        &format!("/v1/projects/{PID}/pipeline-executions"),
        &json!({"pipelineName": "nightly-load", "environmentName": "dev", "executionTag": "t"}),
    );
    assert_eq!(r.status, 409);
}

#[test]
fn faults_from_config_and_token_route() {
    let cfg = world().fault(Fault::once(Route::Token, FaultAction::unavailable_json()));
    let t = T::start(cfg);
    let send = || {
        to_resp(t.agent.post(t.sim.token_url()).send_form([
            ("grant_type", "client_credentials"),
            ("client_id", "id"),
            ("client_secret", "secret"),
        ]))
        .unwrap()
    };
    assert_eq!(send().status, 503);
    assert_eq!(send().status, 200);
}
