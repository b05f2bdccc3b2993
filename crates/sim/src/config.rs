//! [`SimConfig`]: everything the simulator knows at start (credentials, the world, faults,
//! and how the API's replicas and caches misbehave), with its builders.

use crate::datalab::DatalabPipeline;
use crate::fault::Fault;
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
