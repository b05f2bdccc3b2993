//! The bundled simulator: a loopback HTTP server that imitates the Matillion Data
//! Productivity Cloud API (and a small Datalab API), for the demo, for integration tests
//! over real HTTP, and for benchmarks on simulated time.
//!
//! All progress is computed from an injected clock ([`SimTime`]): real time for the demo,
//! or a clock shared with the client under test (behind [`SimTime`]), so an hour-long run
//! takes milliseconds. It depends on nothing of the product: it is an independent reading
//! of the API.
//!
//! ```no_run
//! use pipeline_run_sim::*;
//! use std::time::Duration;
//!
//! let clock = ManualTime::new();
//! let config = SimConfig::new()
//!     .credentials("id", "secret")
//!     .project(Project::new("p-1", "Demo").environment(
//!         Environment::new("dev").pipeline(PublishedPipeline::new(
//!             "nightly-load",
//!             RunScript::new(Duration::from_secs(60), 12).phase(Duration::from_secs(2), "QUEUED"),
//!         )),
//!     ))
//!     .fault(Fault::once(Route::Status, FaultAction::too_many_requests(2)));
//! let sim = Simulator::start(config, clock.clone()).unwrap();
//! println!("{} {}", sim.base_url(), sim.token_url());
//! ```

mod datalab;
mod demo;
mod fault;
mod http;
mod matillion;
mod multipart;
mod script;
mod time;
mod util;

#[cfg(test)]
mod tests;

pub use datalab::{DatalabPipeline, DatalabRunInfo, DatalabStep, Upload};
pub use demo::{
    DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_DATALAB_KEY, DEMO_DATALAB_PIPELINE, DEMO_PROJECT_ID,
    DEMO_PROJECT_NAME, Scenario,
};
pub use fault::{Fault, FaultAction, Matcher, Route};
pub use matillion::{Environment, ExecutionInfo, Project, PublishedPipeline, SeedExecution};
pub use script::{Phase, RunScript, StepSpec};
pub use time::{ManualTime, SimTime, WallTime};

use http::{Reply, Request, Response, Server};
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Everything the simulator knows at start.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Port to bind on 127.0.0.1 (0 = ephemeral).
    pub port: u16,
    /// OAuth client id accepted by the token endpoint.
    pub client_id: String,
    /// OAuth client secret accepted by the token endpoint.
    pub client_secret: String,
    /// Bearer tokens that are always valid (for the `access-token` input).
    pub static_tokens: Vec<String>,
    /// Lifetime of issued tokens, in clock time (`expires_in`).
    pub token_ttl: Duration,
    /// The projects, with their environments and published pipelines.
    pub projects: Vec<Project>,
    /// How long a cancelled execution stays `CANCELLING` (clock time).
    pub cancel_delay: Duration,
    /// Faults active from the start.
    pub faults: Vec<Fault>,
    /// The `X-API-Key` the Datalab endpoints accept.
    pub datalab_api_key: String,
    /// The Datalab pipelines.
    pub datalab_pipelines: Vec<DatalabPipeline>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            port: 0,
            client_id: "sim-client".into(),
            client_secret: "sim-secret".into(),
            static_tokens: Vec::new(),
            token_ttl: Duration::from_secs(30 * 60),
            projects: Vec::new(),
            cancel_delay: Duration::from_secs(2),
            faults: Vec::new(),
            datalab_api_key: "sim-datalab-key".into(),
            datalab_pipelines: Vec::new(),
        }
    }
}

impl SimConfig {
    /// The defaults: ephemeral port, `sim-client`/`sim-secret`, 30 min tokens, 2 s cancel.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bind this port (0 = ephemeral).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Accept these client credentials.
    pub fn credentials(mut self, client_id: &str, client_secret: &str) -> Self {
        self.client_id = client_id.into();
        self.client_secret = client_secret.into();
        self
    }

    /// Accept this bearer token forever.
    pub fn static_token(mut self, token: &str) -> Self {
        self.static_tokens.push(token.into());
        self
    }

    /// Issued tokens live this long.
    pub fn token_ttl(mut self, ttl: Duration) -> Self {
        self.token_ttl = ttl;
        self
    }

    /// Add a project.
    pub fn project(mut self, project: Project) -> Self {
        self.projects.push(project);
        self
    }

    /// Set how long CANCELLING lasts.
    pub fn cancel_delay(mut self, d: Duration) -> Self {
        self.cancel_delay = d;
        self
    }

    /// Add a fault active from the start.
    pub fn fault(mut self, fault: Fault) -> Self {
        self.faults.push(fault);
        self
    }

    /// Set the Datalab API key.
    pub fn datalab_key(mut self, key: &str) -> Self {
        self.datalab_api_key = key.into();
        self
    }

    /// Add a Datalab pipeline.
    pub fn datalab_pipeline(mut self, p: DatalabPipeline) -> Self {
        self.datalab_pipelines.push(p);
        self
    }
}

/// One request as the simulator received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Sequence number, from 1, in order of arrival.
    pub id: u64,
    /// Which TCP connection it came on (numbered from 1).
    pub connection: u64,
    /// Method.
    pub method: String,
    /// Path, as sent (percent-encoded), without the query.
    pub path: String,
    /// Raw query string.
    pub query: String,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// The route kind.
    pub route: Route,
    /// The status sent, or `None` if no answer was sent (reset, lost reply).
    pub status: Option<u16>,
    /// The fault that fired on it, if any (`FaultAction::kind`).
    pub fault: Option<&'static str>,
    /// Clock instant when it arrived.
    pub at: Instant,
    /// Clock time since the simulator started.
    pub elapsed: Duration,
}

impl RecordedRequest {
    /// The first header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        http::find_header(&self.headers, name)
    }

    /// The decoded query parameters.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        http::parse_urlencoded(&self.query)
    }
}

/// Shared state behind the server.
pub(crate) struct State {
    config: SimConfig,
    clock: Arc<dyn SimTime>,
    start: Instant,
    addr: SocketAddr,
    inner: Mutex<Inner>,
}

#[derive(Default)]
pub(crate) struct Inner {
    faults: Vec<Fault>,
    tokens: HashMap<String, Instant>,
    issued: Vec<String>,
    executions: Vec<matillion::Execution>,
    datalab_runs: Vec<datalab::DatalabRun>,
    requests: Vec<RecordedRequest>,
    request_count: u64,
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The root URL, `http://127.0.0.1:PORT`.
    fn root(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Starts simulators.
pub struct Simulator;

impl Simulator {
    /// Bind 127.0.0.1 on the configured port and serve until the handle is dropped.
    pub fn start(config: SimConfig, clock: Arc<dyn SimTime>) -> std::io::Result<SimHandle> {
        let listener = TcpListener::bind(("127.0.0.1", config.port))?;
        let addr = listener.local_addr()?;
        let inner = Inner {
            faults: config.faults.clone(),
            ..Inner::default()
        };
        let state = Arc::new(State {
            start: clock.now(),
            config,
            clock,
            addr,
            inner: Mutex::new(inner),
        });
        let st = state.clone();
        let handler: Arc<http::Handler> = Arc::new(move |req, conn| handle(&st, req, conn));
        let server = Server::start(listener, handler)?;
        Ok(SimHandle { state, server })
    }
}

/// A running simulator; stops on drop or [`SimHandle::stop`].
pub struct SimHandle {
    state: Arc<State>,
    server: Server,
}

impl SimHandle {
    /// The Matillion base URL, `http://127.0.0.1:PORT/dpc`.
    pub fn base_url(&self) -> String {
        format!("{}/dpc", self.state.root())
    }

    /// The token URL, `http://127.0.0.1:PORT/oauth/dpc/token`.
    pub fn token_url(&self) -> String {
        format!("{}/oauth/dpc/token", self.state.root())
    }

    /// The Datalab base URL, `http://127.0.0.1:PORT`.
    pub fn datalab_url(&self) -> String {
        self.state.root()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.state.addr
    }

    /// The configuration it started with (faults as configured, not as now).
    pub fn config(&self) -> &SimConfig {
        &self.state.config
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.lock().requests.clone()
    }

    /// The recorded requests of one route kind.
    pub fn requests_to(&self, route: Route) -> Vec<RecordedRequest> {
        let inner = self.state.lock();
        inner
            .requests
            .iter()
            .filter(|r| r.route == route)
            .cloned()
            .collect()
    }

    /// Forget the recorded requests.
    pub fn clear_requests(&self) {
        self.state.lock().requests.clear();
    }

    /// Every Matillion execution (created or seeded), oldest first, with its status now.
    pub fn executions(&self) -> Vec<ExecutionInfo> {
        let now = self.state.clock.now();
        let inner = self.state.lock();
        inner.executions.iter().map(|e| e.info(now)).collect()
    }

    /// One execution by id.
    pub fn execution(&self, id: &str) -> Option<ExecutionInfo> {
        self.executions().into_iter().find(|e| e.id == id)
    }

    /// Pre-seed an execution (e.g. a scheduled run holding an execution tag); returns its id.
    pub fn add_running_execution(&self, seed: SeedExecution) -> String {
        matillion::seed(&self.state, seed)
    }

    /// How many TCP connections were accepted.
    pub fn connections(&self) -> u64 {
        self.server.connections()
    }

    /// Every token issued by the token endpoint, in order.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.state.lock().issued.clone()
    }

    /// Make every issued token invalid at once (as if they had expired).
    pub fn expire_tokens(&self) {
        self.state.lock().tokens.clear();
    }

    /// Add a fault while running.
    pub fn add_fault(&self, fault: Fault) {
        self.state.lock().faults.push(fault);
    }

    /// Remove every fault.
    pub fn clear_faults(&self) {
        self.state.lock().faults.clear();
    }

    /// The faults not yet used up.
    pub fn faults(&self) -> Vec<Fault> {
        self.state.lock().faults.clone()
    }

    /// Every Datalab run, oldest first, with its status now.
    pub fn datalab_runs(&self) -> Vec<DatalabRunInfo> {
        let now = self.state.clock.now();
        let inner = self.state.lock();
        inner.datalab_runs.iter().map(|r| r.info(now)).collect()
    }

    /// Stop the server and close every connection.
    pub fn stop(mut self) {
        self.server.stop();
    }
}

/// Classify a request by path and method.
fn route_of(req: &Request) -> Route {
    let segs = req.segments();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = req.method.as_str();
    match (m, s.as_slice()) {
        ("POST", ["oauth", "dpc", "token"]) => Route::Token,
        ("GET", ["dpc", "v1", "projects"]) => Route::Projects,
        ("GET", ["dpc", "v1", "projects", _, "environments"]) => Route::Environments,
        ("GET", ["dpc", "v1", "projects", _, "published-pipelines"]) => Route::PublishedPipelines,
        ("POST", ["dpc", "v1", "projects", _, "pipeline-executions"]) => Route::Trigger,
        ("GET", ["dpc", "v1", "projects", _, "pipeline-executions", _]) => Route::Details,
        ("PATCH", ["dpc", "v1", "projects", _, "pipeline-executions", _]) => Route::Cancel,
        (
            "GET",
            [
                "dpc",
                "v1",
                "projects",
                _,
                "pipeline-executions",
                _,
                "status",
            ],
        ) => Route::Status,
        (
            "GET",
            [
                "dpc",
                "v1",
                "projects",
                _,
                "pipeline-executions",
                _,
                "steps",
            ],
        ) => Route::Steps,
        ("GET", ["dpc", "v1", "pipeline-executions"]) => Route::ListExecutions,
        ("GET", ["api", "v1", "pipelines", "executions", _]) => Route::DatalabExecution,
        (
            "GET",
            [
                "api",
                "v1",
                "pipelines",
                "executions",
                _,
                "steps",
                _,
                "result",
            ],
        ) => Route::DatalabResult,
        ("POST", ["api", "v1", "pipelines", _, "run"]) => Route::DatalabRun,
        ("GET", ["api", "v1", "pipelines", _, "executions"]) => Route::DatalabList,
        _ => Route::Unknown,
    }
}

/// Record, apply faults, route.
fn handle(state: &Arc<State>, req: Request, conn: u64) -> Reply {
    let route = route_of(&req);
    let at = state.clock.now();
    let (id, fault) = {
        let mut inner = state.lock();
        let fault = fault::take(&mut inner.faults, &req.method, &req.path, route);
        inner.request_count += 1;
        let id = inner.request_count;
        inner.requests.push(RecordedRequest {
            id,
            connection: conn,
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            headers: req.headers.clone(),
            body: req.body.clone(),
            route,
            status: None,
            fault: fault.as_ref().map(FaultAction::kind),
            at,
            elapsed: at.saturating_duration_since(state.start),
        });
        (id, fault)
    };
    if let Some(f) = &fault {
        log::debug!(
            "simulator: fault {} on {} {}",
            f.kind(),
            req.method,
            req.path
        );
    }
    let reply = match fault {
        None => Reply::Send(dispatch(state, &req, route)),
        Some(FaultAction::Respond {
            status,
            headers,
            content_type,
            body,
        }) => {
            let mut resp = Response::new(status, &content_type, body);
            resp.headers.extend(headers);
            Reply::Send(resp)
        }
        Some(FaultAction::Garbage) => Reply::Send(Response::new(
            200,
            "application/json",
            "<<garbage>> {not json",
        )),
        Some(FaultAction::Reset) => Reply::Close,
        Some(FaultAction::Delay(d)) => {
            std::thread::sleep(d);
            Reply::Send(dispatch(state, &req, route))
        }
        Some(FaultAction::LoseReply) => {
            let _ = dispatch(state, &req, route);
            Reply::Close
        }
    };
    if let Reply::Send(resp) = &reply {
        let mut inner = state.lock();
        if let Some(r) = inner.requests.iter_mut().rev().find(|r| r.id == id) {
            r.status = Some(resp.status);
        }
    }
    reply
}

fn dispatch(state: &State, req: &Request, route: Route) -> Response {
    let segs = req.segments();
    match segs.first().map(String::as_str) {
        Some("oauth") if route == Route::Token => matillion::token(state, req),
        Some("oauth") => not_found_json(),
        Some("dpc") => matillion::handle(state, req, route),
        Some("api") => datalab::handle(state, req, route),
        _ => not_found_json(),
    }
}

fn not_found_json() -> Response {
    Response::json(404, &serde_json::json!({"detail": "Not Found"}))
}
