//! [`SimHandle`]: a running simulator as a test sees it (URLs, recorded requests, the
//! executions and runs it holds, faults added while running), and [`RecordedRequest`].

use crate::datalab::DatalabRunInfo;
use crate::fault::{Fault, Route};
use crate::http::{self, Server};
use crate::matillion::{self, ArtifactInfo, ExecutionInfo, SeedExecution};
use crate::{SimConfig, State};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// A running simulator; stops on drop or [`SimHandle::stop`].
pub struct SimHandle {
    pub(crate) state: Arc<State>,
    pub(crate) server: Server,
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

    /// Every artifact version, in the order they were created (seeded ones first), each
    /// environment's copy of a promoted version on its own.
    pub fn artifacts(&self) -> Vec<ArtifactInfo> {
        self.state.lock().artifacts.clone()
    }

    /// One execution by id.
    pub fn execution(&self, id: &str) -> Option<ExecutionInfo> {
        self.executions().into_iter().find(|e| e.id == id)
    }

    /// Pre-seed an execution (e.g. a scheduled run holding an execution tag); returns its id.
    /// A seed that ran longer than its script is a past, finished execution (see
    /// [`SeedExecution::finished`]): the list of executions shows it with its `finishedAt`.
    pub fn add_running_execution(&self, seed: SeedExecution) -> String {
        matillion::seed(&self.state, seed)
    }

    /// Start an execution of the published pipeline `pipeline` in `environment` now, as its
    /// schedule would (trigger `SCHEDULE`, the pipeline's own script, no request): its id,
    /// or `None` when no project publishes such a pipeline there.
    pub fn start_scheduled(&self, environment: &str, pipeline: &str) -> Option<String> {
        let (project, published) = self.state.config.projects.iter().find_map(|p| {
            let e = p.environments.iter().find(|e| e.name == environment)?;
            let published = e.pipelines.iter().find(|x| x.name == pipeline)?;
            Some((p.id.clone(), published.script.clone()))
        })?;
        let seed = SeedExecution::new(pipeline, environment)
            .project(&project)
            .script(published);
        Some(matillion::seed(&self.state, seed))
    }

    /// Start a Datalab run of `pipeline_id` on `file_url` now, as another client would
    /// (no request): its id, or `None` when no such pipeline is configured.
    pub fn start_datalab_run(&self, pipeline_id: &str, file_url: &str) -> Option<String> {
        crate::datalab::start_now(&self.state, pipeline_id, file_url)
    }

    /// Pre-seed a past Datalab run of `pipeline_id` that took `took` and ended `ago` before
    /// now (listed with its `started_at` and `completed_at`); its id, or `None` when no such
    /// pipeline is configured. Seed past runs before triggering new ones (the list is in
    /// the order runs were stored).
    pub fn add_datalab_run(
        &self,
        pipeline_id: &str,
        took: Duration,
        ago: Duration,
    ) -> Option<String> {
        crate::datalab::seed_past(&self.state, pipeline_id, took, ago)
    }

    /// How many requests the rate limit ([`SimConfig::rate_limit`]) answered 429.
    pub fn rejected_requests(&self) -> u64 {
        self.state.lock().rejected
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

    /// Pre-seed `n` Datalab runs of `pipeline_id` on `file_url`, started `age` ago (clock
    /// time, one second apart, oldest first): a long history for the list to page through.
    /// Their ids; empty when no such pipeline is configured.
    pub fn add_datalab_runs(
        &self,
        pipeline_id: &str,
        file_url: &str,
        n: usize,
        age: Duration,
    ) -> Vec<String> {
        crate::datalab::seed_runs(&self.state, pipeline_id, file_url, n, age).unwrap_or_default()
    }

    /// Every Datalab run, oldest first, with its status now.
    pub fn datalab_runs(&self) -> Vec<DatalabRunInfo> {
        let now = self.state.clock.now();
        let inner = self.state.lock();
        inner.datalab_runs.iter().map(|r| r.info(now)).collect()
    }

    /// End every [`FaultAction::Delay`](crate::FaultAction::Delay) and
    /// [`FaultAction::DelayReply`](crate::FaultAction::DelayReply) wait in progress now: the
    /// delayed requests are handled and the held replies sent.
    pub fn release_delayed(&self) {
        self.state.gate.release(false);
    }

    /// Stop the server and close every connection.
    pub fn stop(mut self) {
        self.state.gate.release(true);
        self.server.stop();
    }
}

impl Drop for SimHandle {
    /// No delayed request outlives the simulator.
    fn drop(&mut self) {
        self.state.gate.release(true);
    }
}
