//! The Matillion API as the simulator serves it: tokens, the catalogue, trigger and its
//! errors, status on the clock, steps paging, tags, the list of executions, cancel, and
//! the demo world.

use crate::common::*;
use std::time::SystemTime;

/// A timestamp the API sent, read by an independent parser.
fn rfc3339(s: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339(s).ok()
}

#[test]
fn token_and_auth() {
    let mut t = T::start(world());
    t.token = "nope".into();
    let r = t.get("/v1/projects");
    assert_eq!(r.status, 401);
    assert!(r.ctype.starts_with("application/problem+json"));
    assert_eq!(r.json()["status"], 401);

    let form = |id: &'static str| {
        to_resp(t.agent.post(t.sim.token_url()).send_form([
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", "secret"),
            ("audience", "https://api.matillion.com"),
        ]))
        .unwrap()
    };
    let bad = form("wrong");
    assert_eq!(bad.status, 401);
    assert!(bad.json()["error"].is_string());
    let ok = form("id");
    assert_eq!(ok.status, 200, "{}", ok.body);
    let tok = ok.json();
    assert_eq!(tok["token_type"], "Bearer");
    assert_eq!(tok["expires_in"], 1800);
    t.token = tok["access_token"].as_str().unwrap().to_string();
    assert_eq!(t.sim.issued_tokens(), vec![t.token.clone()]);
    assert_eq!(t.get("/v1/projects").status, 200);

    t.clock.advance(secs(1801));
    assert_eq!(t.get("/v1/projects").status, 401);
    t.token = "static-token".into();
    assert_eq!(t.get("/v1/projects").status, 200);

    let recorded = t.sim.requests_to(Route::Token);
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[1].status, Some(200));
    assert!(String::from_utf8_lossy(&recorded[1].body).contains("client_secret=secret"));
}

#[test]
fn project_paging() {
    let mut cfg = SimConfig::new().static_token("static-token");
    for i in 0..30 {
        cfg = cfg.project(Project::new(&format!("p-{i}"), &format!("Project {i}")));
    }
    let t = T::start(cfg);
    let p0 = t.get("/v1/projects?page=0&size=25").json();
    assert_eq!(p0["total"], 30);
    assert_eq!(p0["results"].as_array().unwrap().len(), 25);
    assert_eq!(p0["results"][0]["name"], "Project 0");
    assert!(p0["results"][0]["description"].is_string());
    let p1 = t.get("/v1/projects?page=1&size=25").json();
    assert_eq!(p1["results"].as_array().unwrap().len(), 5);
    assert_eq!(p1["page"], 1);
    assert_eq!(p1["size"], 25);
    assert_eq!(t.get("/v1/projects?size=101").status, 400);
    assert_eq!(t.get("/v1/projects?page=-1").status, 400);
    assert_eq!(t.get("/v1/projects?page=9").json()["results"], json!([]));
}

#[test]
fn environments_and_published_pipelines() {
    let t = T::start(world());
    let e = t.get(&format!("/v1/projects/{PID}/environments")).json();
    assert_eq!(e["total"], 2);
    assert_eq!(e["results"][0]["name"], "dev");
    assert!(e["results"][0]["defaultAgentId"].is_string());
    assert!(e["results"][0]["defaultAgentName"].is_string());
    let p = t
        .get(&format!(
            "/v1/projects/{PID}/published-pipelines?environmentName=dev&size=2&page=1"
        ))
        .json();
    assert_eq!(p["total"], 4);
    assert_eq!(p["results"][0]["name"], "broken-load");
    assert!(p["results"][0]["publishedTime"].is_string());
    assert_eq!(t.get("/v1/projects/nope/environments").status, 404);
}

#[test]
fn trigger_and_status_progression() {
    let t = T::start(world());
    let id = t.trigger(json!({
        "pipelineName": "nightly-load",
        "environmentName": "dev",
        "executionTag": "ci-1",
        "scalarVariables": {"run_date": "2026-11-22"},
        "gridVariables": {"g": [["a", "b"], ["c", "d"]]},
    }));
    assert_eq!(t.status(&id), "QUEUED");
    t.clock.advance(secs(3));
    assert_eq!(t.status(&id), "PENDING_AGENT");
    t.clock.advance(secs(2));
    assert_eq!(t.status(&id), "RUNNING");
    let d = t
        .get(&format!("/v1/projects/{PID}/pipeline-executions/{id}"))
        .json();
    assert_eq!(d["pipelineExecutionId"], id.as_str());
    assert_eq!(d["pipelineType"], "ORCHESTRATION");
    assert_eq!(d["projectId"], PID);
    assert_eq!(d["trigger"], "API");
    assert!(d.get("finishedAt").is_none());
    let started = d["startedAt"].as_str().unwrap();
    assert_eq!(started.len(), 24, "{started}");
    assert!(started.ends_with('Z'));

    t.clock.advance(secs(10));
    assert_eq!(t.status(&id), "SUCCESS");
    let d = t
        .get(&format!("/v1/projects/{PID}/pipeline-executions/{id}"))
        .json();
    assert_eq!(d["message"], "\"Step 4\": Success");
    let fin = rfc3339(d["finishedAt"].as_str().unwrap()).unwrap();
    let st = rfc3339(started).unwrap();
    assert_eq!(fin.duration_since(st).unwrap(), secs(10));

    let ex = t.sim.executions();
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0].status, "SUCCESS");
    assert_eq!(ex[0].execution_tag.as_deref(), Some("ci-1"));
    assert_eq!(ex[0].scalar_variables["run_date"], "2026-11-22");
    assert_eq!(ex[0].grid_variables["g"][1][0], "c");
    assert_eq!(ex[0].request_body["pipelineName"], "nightly-load");
}

#[test]
fn trigger_errors() {
    let t = T::start(world());
    let path = format!("/v1/projects/{PID}/pipeline-executions");
    let r = t.post(
        &path,
        &json!({"environmentName": "dev", "pipelineName": ""}),
    );
    assert_eq!(r.status, 400);
    assert!(r.ctype.starts_with("application/problem+json"));
    assert!(
        r.json()["violations"][0]
            .as_str()
            .unwrap()
            .contains("pipelineName")
    );
    let r = t.post(&path, &json!({"environmentName": "dev"}));
    assert_eq!(r.status, 400);
    let r = t.post(
        &path,
        &json!({"pipelineName": "old", "environmentName": "dev"}),
    );
    assert_eq!(r.status, 410);
    let r = t.post(
        &path,
        &json!({"pipelineName": "big", "environmentName": "prod"}),
    );
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["title"], "Pipelines not Found");
    assert_eq!(r.json()["instance"], format!("/dpc{path}"));
    let r = t.post(
        &path,
        &json!({"pipelineName": "big", "environmentName": "dev", "versionName": "9"}),
    );
    assert_eq!(r.status, 404);
    let r = t.post(
        &path,
        &json!({"pipelineName": "big", "environmentName": "dev", "versionName": "2.0.0"}),
    );
    assert_eq!(r.status, 201);
    let r = t.post(
        "/v1/projects/nope/pipeline-executions",
        &json!({"pipelineName": "big", "environmentName": "dev"}),
    );
    assert_eq!(r.status, 404);
    let r = t.post(
        &path,
        &json!({"pipelineName": "big", "environmentName": "dev", "scalarVariables": {"a": 1}}),
    );
    assert_eq!(r.status, 400);
    let raw = to_resp(
        t.agent
            .post(t.url(&path))
            .header("Authorization", "Bearer static-token")
            .send("{not json"),
    )
    .unwrap();
    assert_eq!(raw.status, 400);
    let r = t.get(&format!("{path}/not-a-uuid"));
    assert_eq!(r.status, 400);
    let r = t.get(&format!(
        "{path}/{}",
        "99999999-2222-4333-8444-555555555555"
    ));
    assert_eq!(r.status, 404);
    assert_eq!(t.get("/v1/nothing").status, 404);
    assert_eq!(t.sim.executions().len(), 1);
}

#[test]
fn steps_paging() {
    let t = T::start(world());
    let id = t.trigger(json!({"pipelineName": "big", "environmentName": "dev"}));
    let steps = |page: u32, size: u32| {
        t.get(&format!(
            "/v1/projects/{PID}/pipeline-executions/{id}/steps?page={page}&size={size}"
        ))
    };
    assert_eq!(steps(0, 100).json()["total"], 1);
    assert_eq!(
        steps(0, 100).json()["results"][0]["result"]["status"],
        "RUNNING"
    );
    t.clock.advance(secs(100));
    let mut ids = std::collections::HashSet::new();
    for (page, n) in [(0, 100), (1, 100), (2, 50), (3, 0)] {
        let p = steps(page, 100).json();
        assert_eq!(p["total"], 250);
        assert_eq!(p["page"], page);
        let results = p["results"].as_array().unwrap();
        assert_eq!(results.len(), n);
        for s in results {
            assert!(ids.insert(s["id"].as_str().unwrap().to_string()));
            assert_eq!(s["result"]["status"], "SUCCESS");
            assert!(s["result"]["startedAt"].is_string());
            assert!(s["result"]["finishedAt"].is_string());
        }
    }
    let p = steps(0, 5).json();
    assert_eq!(p["results"][3]["childPipeline"]["name"], "child-one");
    assert!(p["results"][3]["childPipeline"]["id"].is_string());
    assert!(p["results"][2].get("childPipeline").is_none());
    assert_eq!(steps(0, 0).status, 400);
    assert_eq!(steps(0, 101).status, 400);
}

#[test]
fn many_steps_are_cheap() {
    let cfg = world().project(
        Project::new("33333333-2222-4333-8444-555555555555", "Big").environment(
            Environment::new("dev").pipeline(PublishedPipeline::new(
                "huge",
                RunScript::new(secs(3600), 30_000),
            )),
        ),
    );
    let t = T::start(cfg);
    let r = t.post(
        "/v1/projects/33333333-2222-4333-8444-555555555555/pipeline-executions",
        &json!({"pipelineName": "huge", "environmentName": "dev"}),
    );
    let id = r.json()["pipelineExecutionId"]
        .as_str()
        .unwrap()
        .to_string();
    t.clock.advance(secs(3600));
    let started = std::time::Instant::now();
    let p = t
        .get(&format!(
            "/v1/projects/33333333-2222-4333-8444-555555555555/pipeline-executions/{id}/steps?page=299&size=100"
        ))
        .json();
    assert_eq!(p["total"], 30_000);
    assert_eq!(p["results"][99]["name"], "Step 30000");
    assert!(started.elapsed() < secs(2));
}

#[test]
fn failed_run_reports_message() {
    let t = T::start(world());
    let id = t.trigger(json!({"pipelineName": "broken-load", "environmentName": "dev"}));
    t.clock.advance(secs(5));
    assert_eq!(t.status(&id), "FAILED");
    let d = t
        .get(&format!("/v1/projects/{PID}/pipeline-executions/{id}"))
        .json();
    assert_eq!(d["message"], "\"Step 2\": boom\nstatus=SUCCESS");
    let s = t
        .get(&format!(
            "/v1/projects/{PID}/pipeline-executions/{id}/steps"
        ))
        .json();
    assert_eq!(s["results"][1]["result"]["status"], "FAILED");
    assert_eq!(s["results"][1]["result"]["message"], "boom\nstatus=SUCCESS");
}

#[test]
fn execution_tag_conflict() {
    let t = T::start(world());
    let seeded = t.sim.add_running_execution(
        SeedExecution::new("nightly-load", "dev")
            .tag("nightly")
            .running_for(secs(120))
            .script(RunScript::new(secs(600), 5)),
    );
    let info = t.sim.execution(&seeded).unwrap();
    assert_eq!(info.status, "RUNNING");
    assert_eq!(info.trigger, "SCHEDULE");
    let path = format!("/v1/projects/{PID}/pipeline-executions");
    let body = json!({"pipelineName": "nightly-load", "environmentName": "dev", "executionTag": "nightly"});
    let r = t.post(&path, &body);
    assert_eq!(r.status, 409);
    assert!(r.ctype.starts_with("application/problem+json"));
    // Same tag in another environment is fine; so is no tag.
    let r = t.post(
        &path,
        &json!({"pipelineName": "nightly-load", "environmentName": "prod", "executionTag": "nightly"}),
    );
    assert_eq!(r.status, 201);
    let r = t.post(
        &path,
        &json!({"pipelineName": "nightly-load", "environmentName": "dev"}),
    );
    assert_eq!(r.status, 201);
    // CANCELLING still holds the tag; CANCELLED frees it.
    let c = t.patch(
        &format!("{path}/{seeded}"),
        &json!({"status": "CANCELLED", "forceUpdate": false}),
    );
    assert_eq!(c.status, 200);
    assert_eq!(t.post(&path, &body).status, 409);
    t.clock.advance(secs(2));
    assert_eq!(t.post(&path, &body).status, 201);
    let d = t.get(&format!("{path}/{seeded}")).json();
    assert_eq!(d["trigger"], "SCHEDULE");
    assert!(d["scheduleId"].is_string());
    let started = rfc3339(d["startedAt"].as_str().unwrap()).unwrap();
    let wall = t.clock.wall();
    let ran = wall.duration_since(started).unwrap();
    assert!(
        ran >= secs(122) && ran < secs(122) + Duration::from_millis(1),
        "{ran:?}"
    );
}

#[test]
fn list_executions_filters() {
    let t = T::start(world());
    let a = t.trigger(json!({"pipelineName": "nightly-load", "environmentName": "dev"}));
    t.clock.advance(secs(1));
    let b = t.trigger(json!({"pipelineName": "broken-load", "environmentName": "dev"}));
    t.clock.advance(secs(1));
    let c = t.trigger(json!({"pipelineName": "nightly-load", "environmentName": "prod"}));
    t.clock.advance(secs(5));
    // Now: a RUNNING (7 s of 10), b FAILED, c RUNNING (5 of 10).
    let list = |q: &str| {
        let r = t.get(&format!("/v1/pipeline-executions?projectId={PID}&{q}"));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    };
    let ids = |v: &Value| -> Vec<String> {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["pipelineExecutionId"].as_str().unwrap().to_string())
            .collect()
    };
    let all = list("");
    assert_eq!(ids(&all), vec![c.clone(), b.clone(), a.clone()]);
    assert!(all.get("more").is_none());
    assert_eq!(all["results"][1]["status"], "FAILED");
    assert!(all["results"][1]["finishedAt"].is_string());
    assert!(all["results"][0].get("finishedAt").is_none());
    assert_eq!(all["results"][0]["trigger"], "API");
    assert_eq!(
        ids(&list("pipelineName=NIGHTLY")),
        vec![c.clone(), a.clone()]
    );
    assert_eq!(
        ids(&list("pipelineName=nightly&environmentName=dev")),
        vec![a.clone()]
    );
    assert_eq!(ids(&list("status=FAILED")), vec![b.clone()]);
    assert_eq!(ids(&list("status=FAILED,RUNNING")).len(), 3);
    assert_eq!(ids(&list("status=FAILED&status=SUCCESS")), vec![b.clone()]);
    let started_b = t.sim.execution(&b).unwrap().started_wall;
    let after = humantime::format_rfc3339_millis(started_b).to_string();
    assert_eq!(
        ids(&list(&format!("startedAfter={after}"))),
        vec![c.clone(), b.clone()]
    );
    assert_eq!(
        ids(&list(&format!(
            "startedBefore={}",
            after.replace(':', "%3A")
        ))),
        vec![b.clone(), a.clone()]
    );
    let p1 = list("limit=2");
    assert_eq!(ids(&p1), vec![c.clone(), b.clone()]);
    let more = p1["more"].as_str().unwrap().to_string();
    let p2 = list(&format!("limit=2&paginationToken={more}"));
    assert_eq!(ids(&p2), vec![a.clone()]);
    assert!(p2.get("more").is_none());
    assert_eq!(t.get("/v1/pipeline-executions?limit=101").status, 400);
    assert_eq!(
        t.get("/v1/pipeline-executions?startedAfter=yesterday")
            .status,
        400
    );
    assert_eq!(
        t.get("/v1/pipeline-executions?paginationToken=zz").status,
        400
    );
}

#[test]
fn cancel_flow() {
    let t = T::start(world().cancel_delay(secs(2)));
    let id = t.trigger(json!({"pipelineName": "nightly-load", "environmentName": "dev"}));
    t.clock.advance(secs(5));
    let path = format!("/v1/projects/{PID}/pipeline-executions/{id}");
    let r = t.patch(&path, &json!({"status": "CANCELLED", "forceUpdate": false}));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["pipelineExecutionId"], id.as_str());
    assert_eq!(t.status(&id), "CANCELLING");
    t.clock.advance(secs(1));
    assert_eq!(t.status(&id), "CANCELLING");
    t.clock.advance(secs(1));
    assert_eq!(t.status(&id), "CANCELLED");
    let d = t.get(&path).json();
    assert!(d["finishedAt"].is_string());
    let r = t.patch(&path, &json!({"status": "CANCELLED", "forceUpdate": false}));
    assert_eq!(r.status, 400);
    assert!(r.ctype.starts_with("application/problem+json"));
    assert_eq!(t.patch(&path, &json!({"status": "RUNNING"})).status, 400);

    let id2 = t.trigger(json!({"pipelineName": "nightly-load", "environmentName": "dev"}));
    let r = t.patch(
        &format!("/v1/projects/{PID}/pipeline-executions/{id2}"),
        &json!({"status": "CANCELLED", "forceUpdate": true}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(t.status(&id2), "CANCELLED");
    assert!(t.sim.execution(&id2).unwrap().force_cancel);
}

#[test]
fn demo_world_is_consistent() {
    for s in ["success", "failure", "slow", "hostile"] {
        let scenario: Scenario = s.parse().unwrap();
        let cfg = SimConfig::demo(scenario);
        assert_eq!(cfg.projects[0].name, DEMO_PROJECT_NAME);
        let t = T::start(cfg.static_token("static-token"));
        let base = format!("/v1/projects/{DEMO_PROJECT_ID}/pipeline-executions");
        let r = t.post(
            &base,
            &json!({"pipelineName": "nightly-load", "environmentName": "dev"}),
        );
        assert_eq!(r.status, 201);
        let id = r.json()["pipelineExecutionId"]
            .as_str()
            .unwrap()
            .to_string();
        t.clock.advance(secs(300));
        let st = t.get(&format!("{base}/{id}/status")).json()["status"].to_string();
        let st = st.trim_matches('"');
        assert!(["SUCCESS", "FAILED"].contains(&st), "{st}");
    }
    assert!("nope".parse::<Scenario>().is_err());
}

#[test]
fn a_run_started_as_its_schedule_would_follows_the_published_script() {
    let t = T::start(world());
    let id = t
        .sim
        .start_scheduled("dev", "broken-load")
        .expect("published");
    let info = t.sim.execution(&id).unwrap();
    assert_eq!(
        (
            info.pipeline.as_str(),
            info.environment.as_str(),
            info.trigger.as_str()
        ),
        ("broken-load", "dev", "SCHEDULE")
    );
    assert_eq!(info.status, "RUNNING");
    // The pipeline's own script: it fails at its second step after 5 s.
    t.clock.advance(secs(5));
    assert_eq!(t.status(&id), "FAILED");
    let d = t
        .get(&format!("/v1/projects/{PID}/pipeline-executions/{id}"))
        .json();
    assert_eq!(d["trigger"], "SCHEDULE");
    assert_eq!(d["message"], "\"Step 2\": boom\nstatus=SUCCESS");
    // Nothing published under that name there: no run.
    assert_eq!(t.sim.start_scheduled("prod", "broken-load"), None);
    assert_eq!(t.sim.executions().len(), 1);
    assert!(t.sim.requests_to(Route::Trigger).is_empty());
}
