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

mod config;
mod datalab;
mod demo;
mod fault;
mod handle;
mod http;
mod limit;
mod matillion;
mod multipart;
mod script;
mod serve;
mod time;
mod util;

pub use config::{ListOrder, SimConfig};
pub use datalab::{DatalabPipeline, DatalabRunInfo, DatalabStep, Upload};
pub use demo::{
    DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_DATALAB_KEY, DEMO_DATALAB_PIPELINE, DEMO_PROJECT_ID,
    DEMO_PROJECT_NAME, Scenario, demo_past_runs,
};
pub use fault::{Fault, FaultAction, Matcher, ReplyEdit, ReplyParts, Route};
pub use handle::{RecordedRequest, SimHandle};
pub use limit::RateLimit;
pub use matillion::{
    ArtifactFile, ArtifactInfo, Environment, ExecutionInfo, Project, PublishedPipeline,
    SeedArtifact, SeedExecution,
};
pub use script::{Phase, RunScript, StepSpec};
pub use time::{ManualTime, ScaledTime, SimTime, WallTime};

use http::Server;
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// Shared state behind the server.
pub(crate) struct State {
    config: SimConfig,
    clock: Arc<dyn SimTime>,
    start: Instant,
    addr: SocketAddr,
    inner: Mutex<Inner>,
    /// Where delayed requests and replies wait.
    gate: serve::Gate,
}

#[derive(Default)]
pub(crate) struct Inner {
    faults: Vec<Fault>,
    tokens: HashMap<String, Instant>,
    issued: Vec<String>,
    executions: Vec<matillion::Execution>,
    datalab_runs: Vec<datalab::DatalabRun>,
    artifacts: Vec<matillion::ArtifactInfo>,
    requests: Vec<RecordedRequest>,
    request_count: u64,
    /// The rate limit's theoretical arrival time of the next request.
    tat: Option<Instant>,
    /// Requests answered 429 by the rate limit.
    rejected: u64,
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
            artifacts: matillion::seeded_artifacts(&config.projects, clock.wall()),
            ..Inner::default()
        };
        let state = Arc::new(State {
            start: clock.now(),
            config,
            clock,
            addr,
            inner: Mutex::new(inner),
            gate: serve::Gate::default(),
        });
        let st = state.clone();
        let handler: Arc<http::Handler> = Arc::new(move |req, conn| serve::handle(&st, req, conn));
        let server = Server::start(listener, handler)?;
        Ok(SimHandle { state, server })
    }
}
