//! Tests of the simulator over real HTTP on loopback, with `ureq` as the client and a
//! shared `ManualTime` so that minutes of run time pass instantly.

use super::*;
use crate::time::ManualTime;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const PID: &str = "11111111-2222-4333-8444-555555555555";

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn world() -> SimConfig {
    let dev = Environment::new("dev")
        .pipeline(PublishedPipeline::new(
            "nightly-load",
            RunScript::new(secs(10), 4)
                .phase(secs(2), "QUEUED")
                .phase(secs(4), "PENDING_AGENT"),
        ))
        .pipeline(
            PublishedPipeline::new(
                "big",
                RunScript::new(secs(100), 250).child_pipeline(3, "child-one"),
            )
            .versions(&["1.0.0", "2.0.0"]),
        )
        .pipeline(PublishedPipeline::new(
            "broken-load",
            RunScript::failure(secs(5), 3, 1, "boom\nstatus=SUCCESS"),
        ))
        .pipeline(PublishedPipeline::new("old", RunScript::new(secs(1), 1)).disabled());
    let prod = Environment::new("prod").pipeline(PublishedPipeline::new(
        "nightly-load",
        RunScript::new(secs(10), 4),
    ));
    SimConfig::new()
        .credentials("id", "secret")
        .static_token("static-token")
        .token_ttl(secs(1800))
        .project(Project::new(PID, "Demo").environment(dev).environment(prod))
        .datalab_key("dl-key")
        .datalab_pipeline(DatalabPipeline::new("pl_x", secs(10)).pending_for(secs(2)))
}

struct T {
    sim: SimHandle,
    clock: Arc<ManualTime>,
    agent: ureq::Agent,
    token: String,
}

struct Resp {
    status: u16,
    ctype: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .new_agent()
}

fn to_resp(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Resp, ureq::Error> {
    let r = r?;
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect::<Vec<_>>();
    let ctype = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = r.into_body().read_to_string()?;
    Ok(Resp {
        status,
        ctype,
        headers,
        body,
    })
}

impl T {
    fn start(config: SimConfig) -> T {
        let clock = ManualTime::new();
        let sim = Simulator::start(config, clock.clone()).unwrap();
        T {
            sim,
            clock,
            agent: agent(),
            token: "static-token".into(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url())
    }

    fn try_get(&self, path: &str) -> Result<Resp, ureq::Error> {
        to_resp(
            self.agent
                .get(self.url(path))
                .header("Authorization", format!("Bearer {}", self.token))
                .call(),
        )
    }

    fn get(&self, path: &str) -> Resp {
        self.try_get(path).unwrap()
    }

    fn try_post(&self, path: &str, body: &Value) -> Result<Resp, ureq::Error> {
        to_resp(
            self.agent
                .post(self.url(path))
                .header("Authorization", format!("Bearer {}", self.token))
                .send_json(body),
        )
    }

    fn post(&self, path: &str, body: &Value) -> Resp {
        self.try_post(path, body).unwrap()
    }

    fn patch(&self, path: &str, body: &Value) -> Resp {
        to_resp(
            self.agent
                .patch(self.url(path))
                .header("Authorization", format!("Bearer {}", self.token))
                .send_json(body),
        )
        .unwrap()
    }

    fn trigger(&self, body: Value) -> String {
        let r = self.post(&format!("/v1/projects/{PID}/pipeline-executions"), &body);
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()["pipelineExecutionId"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn status(&self, id: &str) -> String {
        let r = self.get(&format!(
            "/v1/projects/{PID}/pipeline-executions/{id}/status"
        ));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["status"].as_str().unwrap().to_string()
    }
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
    let fin = util::parse_rfc3339(d["finishedAt"].as_str().unwrap()).unwrap();
    let st = util::parse_rfc3339(started).unwrap();
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
    let r = t.get(&format!("{path}/{}", util::new_uuid()));
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
    let started = util::parse_rfc3339(d["startedAt"].as_str().unwrap()).unwrap();
    let wall = crate::SimTime::wall(&*t.clock);
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
    let after = util::rfc3339_millis(started_b);
    assert_eq!(
        ids(&list(&format!("startedAfter={after}"))),
        vec![c.clone(), b.clone()]
    );
    assert_eq!(
        ids(&list(&format!(
            "startedBefore={}",
            http::percent_encode(&after)
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

#[test]
fn keep_alive_reuses_one_connection() {
    let t = T::start(world());
    for _ in 0..5 {
        assert_eq!(t.get("/v1/projects").status, 200);
    }
    t.trigger(json!({"pipelineName": "nightly-load", "environmentName": "dev"}));
    assert_eq!(t.sim.connections(), 1);
    assert!(t.sim.requests().iter().all(|r| r.connection == 1));
}

fn raw(sim: &SimHandle, request: &[u8]) -> String {
    let mut s = TcpStream::connect(sim.addr()).unwrap();
    s.set_read_timeout(Some(secs(5))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn malformed_requests_get_400_and_server_survives() {
    let t = T::start(world());
    for req in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
        b"POST /oauth/dpc/token HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        b"POST /oauth/dpc/token HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET /dpc/v1/projects HTTP/9.9\r\n\r\n",
    ] {
        let out = raw(&t.sim, req);
        assert!(
            out.starts_with("HTTP/1.1 4") || out.starts_with("HTTP/1.1 5"),
            "{out}"
        );
    }
    // Chunked body, then a second request on the same connection (pipelined).
    let body = "grant_type=client_credentials&client_id=id&client_secret=secret";
    let (a, b) = body.split_at(10);
    let req = format!(
        "POST /oauth/dpc/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x};ext=1\r\n{b}\r\n0\r\n\r\nGET /dpc/v1/projects?size=%31 HTTP/1.1\r\nAuthorization: Bearer static-token\r\nConnection: close\r\n\r\n",
        a.len(),
        b.len()
    );
    let out = raw(&t.sim, req.as_bytes());
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 2, "{out}");
    assert!(out.contains("access_token"));
    assert!(out.contains("\"size\":1"));
    assert_eq!(t.get("/v1/projects").status, 200);
}

fn multipart_body(boundary: &str, parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    for (name, filename, data) in parts {
        b.extend(format!("--{boundary}\r\n").bytes());
        match filename {
            Some(f) => b.extend(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/pdf\r\n\r\n"
                )
                .bytes(),
            ),
            None => b.extend(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").bytes()),
        }
        b.extend_from_slice(data);
        b.extend(b"\r\n");
    }
    b.extend(format!("--{boundary}--\r\n").bytes());
    b
}

#[test]
fn datalab_upload_and_progress() {
    let t = T::start(world());
    let url = |p: &str| format!("{}{p}", t.sim.datalab_url());
    let file: Vec<u8> = b"%PDF-1.7\r\n--not-a-boundary\r\n\x00\x01\xff binary"
        .iter()
        .copied()
        .chain((0..=255u8).cycle().take(5000))
        .collect();
    let form = ureq::unversioned::multipart::Form::new()
        .part(
            "file",
            ureq::unversioned::multipart::Part::bytes(&file).file_name("report q3.pdf"),
        )
        .text("page_range", "0,2-4")
        .text("output_format", "markdown");
    let r = to_resp(
        t.agent
            .post(url("/api/v1/pipelines/pl_x/run"))
            .header("X-API-Key", "dl-key")
            .send(form),
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let o = r.json();
    assert_eq!(o["status"], "pending");
    assert_eq!(o["pipeline_id"], "pl_x");
    assert_eq!(o["pipeline_version"], 1);
    assert!(o["started_at"].is_null());
    assert!(o["created"].is_string());
    assert_eq!(o["steps"].as_array().unwrap().len(), 2);
    let id = o["execution_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("pex_"));

    let runs = t.sim.datalab_runs();
    assert_eq!(runs.len(), 1);
    let up = runs[0].file.as_ref().unwrap();
    assert_eq!(up.bytes, file);
    assert_eq!(up.filename.as_deref(), Some("report q3.pdf"));
    assert!(
        runs[0]
            .fields
            .contains(&("page_range".into(), "0,2-4".into()))
    );

    let get = || {
        let r = to_resp(
            t.agent
                .get(url(&format!("/api/v1/pipelines/executions/{id}")))
                .header("X-API-Key", "dl-key")
                .call(),
        )
        .unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    };
    t.clock.advance(secs(3));
    let o = get();
    assert_eq!(o["status"], "running");
    assert_eq!(o["steps"][0]["status"], "running");
    assert_eq!(o["steps"][1]["status"], "pending");
    assert!(o["steps"][0]["result_url"].is_null());
    t.clock.advance(secs(7));
    let o = get();
    assert_eq!(o["status"], "completed");
    assert!(o["completed_at"].is_string());
    let step = &o["steps"][1];
    assert_eq!(step["status"], "completed");
    assert_eq!(step["step_index"], 1);
    assert_eq!(step["step_type"], "extract");
    assert!(step["finished_at"].is_string());
    let result_url = step["result_url"].as_str().unwrap();
    let res = to_resp(t.agent.get(result_url).header("X-API-Key", "dl-key").call()).unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["step_index"], 1);

    let r = to_resp(
        t.agent
            .get(url(&format!("/api/v1/pipelines/executions/{id}")))
            .header("X-API-Key", "wrong")
            .call(),
    )
    .unwrap();
    assert_eq!(r.status, 401);
    assert!(r.json()["detail"].is_string());
}

#[test]
fn datalab_validation() {
    let t = T::start(world());
    let post = |pipeline: &str, body: Vec<u8>| {
        to_resp(
            t.agent
                .post(format!(
                    "{}/api/v1/pipelines/{pipeline}/run",
                    t.sim.datalab_url()
                ))
                .header("X-API-Key", "dl-key")
                .header("Content-Type", "multipart/form-data; boundary=BND")
                .send(&body[..]),
        )
        .unwrap()
    };
    let both = multipart_body(
        "BND",
        &[
            ("file", Some("a.pdf"), b"abc"),
            ("file_url", None, b"https://example.com/a.pdf"),
        ],
    );
    let r = post("pl_x", both.clone());
    assert_eq!(r.status, 422);
    let d = &r.json()["detail"][0];
    assert!(d["loc"].is_array() && d["msg"].is_string() && d["type"].is_string());
    assert_eq!(
        post("pl_x", multipart_body("BND", &[("page_range", None, b"1")])).status,
        422
    );
    let r = post("pl_nope", both);
    assert_eq!(r.status, 404);
    assert!(r.json()["detail"].is_string());
    let url_only = multipart_body(
        "BND",
        &[
            ("file_url", None, b"https://example.com/a.pdf"),
            ("version", None, b"0"),
        ],
    );
    let r = post("pl_x", url_only);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["pipeline_version"], 0);
    assert_eq!(
        t.sim.datalab_runs()[0].file_url.as_deref(),
        Some("https://example.com/a.pdf")
    );
    assert_eq!(post("pl_x", b"not multipart".to_vec()).status, 422);

    t.sim.add_fault(Fault::once(
        Route::DatalabRun,
        FaultAction::too_many_requests(1),
    ));
    let url_only = multipart_body("BND", &[("file_url", None, b"https://example.com/a.pdf")]);
    assert_eq!(post("pl_x", url_only).status, 429);
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
