//! The world the Matillion API serves: projects, environments, published pipelines (with
//! the run script each execution follows), seeded executions, and the executions the
//! simulator stores, with the JSON objects (list summary, details) built from them.

use crate::State;
use crate::script::{Cancel, Progress, RunScript};
use crate::util::{derived_uuid, new_uuid, rfc3339_millis, truncate_millis};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// A project.
#[derive(Debug, Clone)]
pub struct Project {
    /// Its id (a UUID in the real API).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Its environments.
    pub environments: Vec<Environment>,
}

impl Project {
    /// A project with no environments.
    pub fn new(id: &str, name: &str) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            description: String::new(),
            environments: Vec::new(),
        }
    }

    /// Set the description.
    pub fn description(mut self, d: &str) -> Self {
        self.description = d.into();
        self
    }

    /// Add an environment.
    pub fn environment(mut self, env: Environment) -> Self {
        self.environments.push(env);
        self
    }
}

/// An environment, with the pipelines published to it.
#[derive(Debug, Clone)]
pub struct Environment {
    /// Its name.
    pub name: String,
    /// The default agent's id.
    pub default_agent_id: String,
    /// The default agent's name.
    pub default_agent_name: String,
    /// Pipelines published to it.
    pub pipelines: Vec<PublishedPipeline>,
    /// Artifact versions in it from the start.
    pub artifacts: Vec<super::artifacts::SeedArtifact>,
}

impl Environment {
    /// An environment with a default agent and no pipelines.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            default_agent_id: derived_uuid(name, 0),
            default_agent_name: format!("{name}-agent"),
            pipelines: Vec::new(),
            artifacts: Vec::new(),
        }
    }

    /// An artifact version in it from the start, with this commit (or none).
    pub fn artifact(mut self, version: &str, commit_hash: Option<&str>) -> Self {
        self.artifacts.push(super::artifacts::SeedArtifact {
            version: version.into(),
            commit_hash: commit_hash.map(str::to_string),
        });
        self
    }

    /// Publish a pipeline to it.
    pub fn pipeline(mut self, p: PublishedPipeline) -> Self {
        self.pipelines.push(p);
        self
    }
}

/// A pipeline published to an environment.
#[derive(Debug, Clone)]
pub struct PublishedPipeline {
    /// Its name.
    pub name: String,
    /// `publishedTime` as sent.
    pub published_time: String,
    /// Known artifact version names (`versionName` must be one of them when given; an
    /// empty list accepts any version name).
    pub versions: Vec<String>,
    /// Disabled pipelines answer 410 on trigger.
    pub disabled: bool,
    /// How an execution of it unfolds.
    pub script: RunScript,
}

impl PublishedPipeline {
    /// A published, enabled pipeline with one version `1.0.0`.
    pub fn new(name: &str, script: RunScript) -> Self {
        Self {
            name: name.into(),
            published_time: "2026-11-01T09:00:00.000Z".into(),
            versions: vec!["1.0.0".into()],
            disabled: false,
            script,
        }
    }

    /// Set the known version names.
    pub fn versions(mut self, v: &[&str]) -> Self {
        self.versions = v.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Mark it disabled.
    pub fn disabled(mut self) -> Self {
        self.disabled = true;
        self
    }
}

/// An execution to pre-seed with [`SimHandle::add_running_execution`](crate::SimHandle).
#[derive(Debug, Clone)]
pub struct SeedExecution {
    /// Project id (`None` = the first configured project).
    pub project_id: Option<String>,
    /// Pipeline name.
    pub pipeline: String,
    /// Environment name.
    pub environment: String,
    /// Execution tag it holds.
    pub execution_tag: Option<String>,
    /// Trigger (`SCHEDULE` by default).
    pub trigger: String,
    /// How long it has been running already (clock time).
    pub running_for: Duration,
    /// How it unfolds (default: one hour, 10 steps, success).
    pub script: RunScript,
}

impl SeedExecution {
    /// A scheduled execution of `pipeline` in `environment`, just started.
    pub fn new(pipeline: &str, environment: &str) -> Self {
        Self {
            project_id: None,
            pipeline: pipeline.into(),
            environment: environment.into(),
            execution_tag: None,
            trigger: "SCHEDULE".into(),
            running_for: Duration::ZERO,
            script: RunScript::new(Duration::from_secs(3600), 10),
        }
    }

    /// In this project.
    pub fn project(mut self, id: &str) -> Self {
        self.project_id = Some(id.into());
        self
    }

    /// Holding this execution tag.
    pub fn tag(mut self, tag: &str) -> Self {
        self.execution_tag = Some(tag.into());
        self
    }

    /// With this trigger.
    pub fn trigger(mut self, trigger: &str) -> Self {
        self.trigger = trigger.into();
        self
    }

    /// Started this long ago.
    pub fn running_for(mut self, d: Duration) -> Self {
        self.running_for = d;
        self
    }

    /// With this script.
    pub fn script(mut self, s: RunScript) -> Self {
        self.script = s;
        self
    }

    /// A past execution: it took `took` (a success with 3 steps) and ended `ago` before now.
    pub fn finished(mut self, took: Duration, ago: Duration) -> Self {
        self.running_for = took + ago;
        self.script = RunScript::new(took, 3);
        self
    }
}

/// A created execution as tests see it.
#[derive(Debug, Clone)]
pub struct ExecutionInfo {
    /// `pipelineExecutionId`.
    pub id: String,
    /// Project id.
    pub project_id: String,
    /// Pipeline name.
    pub pipeline: String,
    /// Environment name.
    pub environment: String,
    /// `versionName` sent, if any.
    pub version_name: Option<String>,
    /// `agentId` sent, if any.
    pub agent_id: Option<String>,
    /// `executionTag` sent, if any.
    pub execution_tag: Option<String>,
    /// `scalarVariables` sent.
    pub scalar_variables: BTreeMap<String, String>,
    /// `gridVariables` sent.
    pub grid_variables: BTreeMap<String, Vec<Vec<String>>>,
    /// The whole trigger request body (`Null` for seeded executions).
    pub request_body: Value,
    /// `API`, `SCHEDULE`, ...
    pub trigger: String,
    /// The status now.
    pub status: String,
    /// Clock instant it started.
    pub started: Instant,
    /// Wall time it started.
    pub started_wall: SystemTime,
    /// Whether a cancel was accepted.
    pub cancel_requested: bool,
    /// Whether that cancel was forceful.
    pub force_cancel: bool,
}

/// A stored execution.
pub(crate) struct Execution {
    pub(super) id: String,
    pub(super) project_id: String,
    pub(super) pipeline: String,
    pub(super) environment: String,
    pub(super) version_name: Option<String>,
    pub(super) agent_id: Option<String>,
    pub(super) tag: Option<String>,
    pub(super) scalar: BTreeMap<String, String>,
    pub(super) grid: BTreeMap<String, Vec<Vec<String>>>,
    pub(super) body: Value,
    pub(super) trigger: String,
    pub(super) user: Option<String>,
    pub(super) schedule_id: Option<String>,
    pub(super) started: Instant,
    /// Clock instant it was stored (a seeded run's start is earlier): replica and list lag
    /// count from here.
    pub(super) created: Instant,
    pub(super) started_wall: SystemTime,
    pub(super) script: Arc<RunScript>,
    pub(super) cancel: Option<Cancel>,
    pub(super) force: bool,
    pub(super) seq: usize,
}

impl Execution {
    /// Whether it is younger than `lag` (clock time) at `now`.
    pub(super) fn younger_than(&self, lag: Duration, now: Instant) -> bool {
        now.saturating_duration_since(self.created) < lag
    }

    pub(super) fn elapsed(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.started)
    }

    pub(super) fn progress(&self, now: Instant) -> Progress {
        self.script.progress(self.elapsed(now), self.cancel)
    }

    pub(super) fn wall(&self, offset: Duration) -> String {
        rfc3339_millis(self.started_wall + offset)
    }

    pub(crate) fn info(&self, now: Instant) -> ExecutionInfo {
        ExecutionInfo {
            id: self.id.clone(),
            project_id: self.project_id.clone(),
            pipeline: self.pipeline.clone(),
            environment: self.environment.clone(),
            version_name: self.version_name.clone(),
            agent_id: self.agent_id.clone(),
            execution_tag: self.tag.clone(),
            scalar_variables: self.scalar.clone(),
            grid_variables: self.grid.clone(),
            request_body: self.body.clone(),
            trigger: self.trigger.clone(),
            status: self.progress(now).status,
            started: self.started,
            started_wall: self.started_wall,
            cancel_requested: self.cancel.is_some(),
            force_cancel: self.force,
        }
    }

    /// The summary object of the list endpoint.
    pub(super) fn summary(&self, now: Instant) -> Value {
        let p = self.progress(now);
        let mut o = json!({
            "pipelineExecutionId": self.id,
            "pipelineName": self.pipeline,
            "environmentName": self.environment,
            "status": p.status,
            "startedAt": self.wall(Duration::ZERO),
            "trigger": self.trigger,
        });
        if let Some(f) = p.finished {
            o["finishedAt"] = json!(self.wall(f));
        }
        if let Some(u) = &self.user {
            o["user"] = json!(u);
        }
        o
    }

    /// The details object: the list's summary and what only the details carry.
    pub(super) fn details(&self, now: Instant) -> Value {
        let mut o = self.summary(now);
        o["pipelineType"] = json!("ORCHESTRATION");
        o["projectId"] = json!(self.project_id);
        o["message"] = json!(self.progress(now).message);
        if let Some(s) = &self.schedule_id {
            o["scheduleId"] = json!(s);
        }
        o
    }
}

/// Add a pre-seeded execution; returns its id.
pub(crate) fn seed(state: &State, s: SeedExecution) -> String {
    let project_id = s
        .project_id
        .or_else(|| state.config.projects.first().map(|p| p.id.clone()))
        .unwrap_or_default();
    let now = state.clock.now();
    let started = now.checked_sub(s.running_for).unwrap_or(now);
    let started_wall = truncate_millis(state.clock.wall() - now.duration_since(started));
    let id = new_uuid();
    let schedule_id = (s.trigger == "SCHEDULE").then(|| derived_uuid(&s.pipeline, 7));
    let user =
        matches!(s.trigger.as_str(), "DESIGNER" | "SCHEDULE_RUN_NOW").then(|| "A User".into());
    let mut inner = state.lock();
    let seq = inner.executions.len();
    inner.executions.push(Execution {
        id: id.clone(),
        project_id,
        pipeline: s.pipeline,
        environment: s.environment,
        version_name: None,
        agent_id: None,
        tag: s.execution_tag,
        scalar: BTreeMap::new(),
        grid: BTreeMap::new(),
        body: Value::Null,
        trigger: s.trigger,
        user,
        schedule_id,
        started,
        created: now,
        started_wall,
        script: Arc::new(s.script),
        cancel: None,
        force: false,
        seq,
    });
    id
}
