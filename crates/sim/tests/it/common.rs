//! Shared by the simulator's tests: a small world, a `ureq` client that reads every status
//! as a reply, and a shared `ManualTime`, so minutes of run time pass instantly.

pub use pipeline_run_sim::*;
pub use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
pub use std::sync::Arc;
pub use std::time::Duration;

pub const PID: &str = "11111111-2222-4333-8444-555555555555";

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub fn world() -> SimConfig {
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

pub struct T {
    pub sim: SimHandle,
    pub clock: Arc<ManualTime>,
    pub agent: ureq::Agent,
    pub token: String,
}

pub struct Resp {
    pub status: u16,
    pub ctype: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .new_agent()
}

pub fn to_resp(
    r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Resp, ureq::Error> {
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
    pub fn start(config: SimConfig) -> T {
        let clock = ManualTime::new();
        let sim = Simulator::start(config, clock.clone()).unwrap();
        T {
            sim,
            clock,
            agent: agent(),
            token: "static-token".into(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url())
    }

    pub fn try_get(&self, path: &str) -> Result<Resp, ureq::Error> {
        to_resp(
            self.agent
                .get(self.url(path))
                .header("Authorization", format!("Bearer {}", self.token))
                .call(),
        )
    }

    pub fn get(&self, path: &str) -> Resp {
        self.try_get(path).unwrap()
    }

    pub fn try_post(&self, path: &str, body: &Value) -> Result<Resp, ureq::Error> {
        to_resp(
            self.agent
                .post(self.url(path))
                .header("Authorization", format!("Bearer {}", self.token))
                .send_json(body),
        )
    }

    pub fn post(&self, path: &str, body: &Value) -> Resp {
        self.try_post(path, body).unwrap()
    }

    pub fn patch(&self, path: &str, body: &Value) -> Resp {
        to_resp(
            self.agent
                .patch(self.url(path))
                .header("Authorization", format!("Bearer {}", self.token))
                .send_json(body),
        )
        .unwrap()
    }

    pub fn trigger(&self, body: Value) -> String {
        let r = self.post(&format!("/v1/projects/{PID}/pipeline-executions"), &body);
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()["pipelineExecutionId"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// GET with the token; the status, content type and body bytes as sent (not
    /// necessarily UTF-8).
    pub fn get_bytes(&self, path: &str) -> (u16, String, Vec<u8>) {
        let r = self
            .agent
            .get(self.url(path))
            .header("Authorization", format!("Bearer {}", self.token))
            .call()
            .unwrap();
        let status = r.status().as_u16();
        let ctype = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        (status, ctype, r.into_body().read_to_vec().unwrap())
    }

    /// The token endpoint with these client credentials.
    pub fn token_request(&self, client_id: &str) -> Resp {
        to_resp(self.agent.post(self.sim.token_url()).send_form([
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", "secret"),
        ]))
        .unwrap()
    }

    /// Run Datalab pipeline `pl_x` on a file URL; the new execution's id.
    pub fn datalab_run(&self) -> String {
        let body = multipart_body("BND", &[("file_url", None, b"https://example.com/a.pdf")]);
        let r = to_resp(
            self.agent
                .post(format!(
                    "{}/api/v1/pipelines/pl_x/run",
                    self.sim.datalab_url()
                ))
                .header("X-API-Key", "dl-key")
                .header("Content-Type", "multipart/form-data; boundary=BND")
                .send(&body[..]),
        )
        .unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["execution_id"].as_str().unwrap().to_string()
    }

    /// The Datalab list of `pl_x`'s executions with this query.
    pub fn datalab_list(&self, query: &str) -> Value {
        let r = to_resp(
            self.agent
                .get(format!(
                    "{}/api/v1/pipelines/pl_x/executions?{query}",
                    self.sim.datalab_url()
                ))
                .header("X-API-Key", "dl-key")
                .call(),
        )
        .unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    pub fn status(&self, id: &str) -> String {
        let r = self.get(&format!(
            "/v1/projects/{PID}/pipeline-executions/{id}/status"
        ));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["status"].as_str().unwrap().to_string()
    }
}

pub fn raw(sim: &SimHandle, request: &[u8]) -> String {
    let mut s = TcpStream::connect(sim.addr()).unwrap();
    s.set_read_timeout(Some(secs(5))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

pub fn multipart_body(boundary: &str, parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
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

/// Wait (bounded, real time) until `cond` holds: for what another thread makes happen.
pub fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + secs(10);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The ids in a list of Matillion executions.
pub fn execution_ids(v: &Value) -> Vec<String> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pipelineExecutionId"].as_str().unwrap().to_string())
        .collect()
}

/// The ids in a Datalab list.
pub fn datalab_ids(v: &Value) -> Vec<String> {
    v["executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["execution_id"].as_str().unwrap().to_string())
        .collect()
}
