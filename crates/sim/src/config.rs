//! [`SimConfig`]: everything the simulator knows at start (credentials, the world, faults,
//! and how the API's replicas and caches misbehave), with its builders.

use crate::datalab::DatalabPipeline;
use crate::fault::Fault;
use crate::limit::RateLimit;
use crate::matillion::Project;
use std::time::Duration;

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
    /// Replica lag: for this long (clock time) after an execution is created, its details,
    /// status and steps answer 404 as if it did not exist (zero = none).
    pub replica_lag: Duration,
    /// List lag: for this long (clock time) after an execution or Datalab run is created,
    /// the lists of executions leave it out (zero = none).
    pub list_lag: Duration,
    /// The order of the Datalab list of executions.
    pub datalab_list_order: ListOrder,
    /// A rate limit on the whole API (every route, the token endpoint too), in clock time:
    /// over it, `429` with `Retry-After` (`None`: no limit).
    pub rate_limit: Option<RateLimit>,
}

/// The order a list of executions comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListOrder {
    /// Newest first (the default, as the service does today).
    #[default]
    NewestFirst,
    /// Oldest first.
    OldestFirst,
    /// A fixed shuffle decided by this seed: the same on every request, so pages do not
    /// overlap, but in no time order.
    Shuffled(u64),
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
            replica_lag: Duration::ZERO,
            list_lag: Duration::ZERO,
            datalab_list_order: ListOrder::NewestFirst,
            rate_limit: None,
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

    /// Eventual consistency (issue 11, class 4): for `lag` (clock time) after an execution
    /// is created (by a trigger or seeded), `GET` of its details, status and steps answers
    /// 404 `Pipeline Execution not Found`, as a replica that has not caught up does. The
    /// trigger's 201, the list, and cancel (writes go to the primary) are not affected.
    pub fn replica_lag(mut self, lag: Duration) -> Self {
        self.replica_lag = lag;
        self
    }

    /// A lagging list (issue 11, class 5): for `lag` (clock time) after an execution or a
    /// Datalab run is created, the Matillion and Datalab lists of executions leave it out.
    /// The execution exists meanwhile: its tag is held, so a second trigger with the same
    /// tag gets 409 (with [`FaultAction::LoseReply`](crate::FaultAction) on the first).
    pub fn list_lag(mut self, lag: Duration) -> Self {
        self.list_lag = lag;
        self
    }

    /// The order of the Datalab list of executions (issue 11, class 12); paging with
    /// `limit`/`offset` follows it.
    pub fn datalab_list_order(mut self, order: ListOrder) -> Self {
        self.datalab_list_order = order;
        self
    }

    /// A rate limit on the whole API, as the platform enforces one (issue 20): at most
    /// `per_minute` requests a minute on average, in bursts of at most `burst`, in clock
    /// time (GCRA). A request over it, whatever its route (the token endpoint too), is
    /// answered `429 Too Many Requests` with `Retry-After` (whole seconds, at least 1) and
    /// counted ([`SimHandle::rejected_requests`](crate::SimHandle::rejected_requests));
    /// faults apply only to the requests within it.
    pub fn rate_limit(mut self, per_minute: u32, burst: u32) -> Self {
        self.rate_limit = Some(RateLimit { per_minute, burst });
        self
    }
}
