//! The simulated Matillion DPC API: the OAuth token endpoint, projects, environments,
//! published pipelines, and pipeline executions (trigger, details, status, steps, list,
//! cancel). Shapes follow `/work/shared/api` (camelCase fields, problem+json errors).

use super::http::{Request, Response, parse_urlencoded, percent_encode};
use super::script::{Cancel, RunScript};
use super::util::{
    derived_uuid, new_uuid, parse_rfc3339, random_token, rfc3339_millis, truncate_millis,
};
use super::{Route, State};
use serde_json::{Map, Value, json};
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
}

impl Environment {
    /// An environment with a default agent and no pipelines.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            default_agent_id: derived_uuid(name, 0),
            default_agent_name: format!("{name}-agent"),
            pipelines: Vec::new(),
        }
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

/// An execution to pre-seed with [`SimHandle::add_running_execution`](super::SimHandle).
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
    id: String,
    project_id: String,
    pipeline: String,
    environment: String,
    version_name: Option<String>,
    agent_id: Option<String>,
    tag: Option<String>,
    scalar: BTreeMap<String, String>,
    grid: BTreeMap<String, Vec<Vec<String>>>,
    body: Value,
    trigger: String,
    user: Option<String>,
    schedule_id: Option<String>,
    started: Instant,
    started_wall: SystemTime,
    script: Arc<RunScript>,
    cancel: Option<Cancel>,
    force: bool,
    seq: usize,
}

impl Execution {
    fn elapsed(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.started)
    }

    fn progress(&self, now: Instant) -> super::script::Progress {
        self.script.progress(self.elapsed(now), self.cancel)
    }

    fn wall(&self, offset: Duration) -> String {
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
    fn summary(&self, now: Instant) -> Value {
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
    fn details(&self, now: Instant) -> Value {
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

/// An `application/problem+json` response.
fn problem(status: u16, title: &str, detail: &str, instance: &str) -> Response {
    problem_with(status, title, detail, instance, &[])
}

fn problem_with(
    status: u16,
    title: &str,
    detail: &str,
    instance: &str,
    violations: &[String],
) -> Response {
    let mut body = json!({
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    });
    if !violations.is_empty() {
        body["violations"] = json!(violations);
    }
    Response::new(status, "application/problem+json", body.to_string())
}

/// `POST /oauth/dpc/token`.
pub(crate) fn token(state: &State, req: &Request) -> Response {
    let ctype = req
        .header("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    let fields: Vec<(String, String)> = if ctype.starts_with("application/json") {
        match serde_json::from_slice::<Map<String, Value>>(&req.body) {
            Ok(m) => m
                .into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
                .collect(),
            Err(_) => return oauth_error(400, "invalid_request", "Malformed JSON body"),
        }
    } else {
        parse_urlencoded(&String::from_utf8_lossy(&req.body))
    };
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    match get("grant_type") {
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(400, "unsupported_grant_type", "Unsupported grant type");
        }
        None => return oauth_error(400, "invalid_request", "Missing grant_type"),
    }
    let cfg = &state.config;
    if get("client_id") != Some(cfg.client_id.as_str())
        || get("client_secret") != Some(cfg.client_secret.as_str())
    {
        return oauth_error(401, "access_denied", "Unauthorized");
    }
    if let Some(aud) = get("audience") {
        if aud != "https://api.matillion.com" {
            return oauth_error(
                403,
                "access_denied",
                &format!("Service not enabled within domain: {aud}"),
            );
        }
    }
    let token = random_token("sim_");
    let expires = state.clock.now() + cfg.token_ttl;
    {
        let mut inner = state.lock();
        inner.tokens.insert(token.clone(), expires);
        inner.issued.push(token.clone());
    }
    Response::json(
        200,
        &json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": cfg.token_ttl.as_secs(),
        }),
    )
}

fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    Response::json(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

/// Whether the request carries a valid, unexpired bearer token.
fn authorized(state: &State, req: &Request) -> bool {
    let Some(h) = req.header("authorization") else {
        return false;
    };
    let Some((scheme, token)) = h.split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return false;
    }
    let token = token.trim();
    if state.config.static_tokens.iter().any(|t| t == token) {
        return true;
    }
    let now = state.clock.now();
    state.lock().tokens.get(token).is_some_and(|exp| now < *exp)
}

/// Route a `/dpc/...` request.
pub(crate) fn handle(state: &State, req: &Request, route: Route) -> Response {
    let instance = req.path.clone();
    if route == Route::Unknown {
        return unknown_route(req, &instance);
    }
    if !authorized(state, req) {
        let mut resp = problem(
            401,
            "Unauthorized",
            "Full authentication is required to access this resource",
            &instance,
        );
        resp.headers
            .push(("WWW-Authenticate".into(), "Bearer".into()));
        return resp;
    }
    let segs = req.segments();
    let seg = |i: usize| segs.get(i).map(String::as_str).unwrap_or_default();
    let q = Query::new(req);
    match route {
        Route::Projects => projects(state, &q, &instance),
        Route::Environments => {
            with_project(state, seg(3), &instance, |p| environments(p, &q, &instance))
        }
        Route::PublishedPipelines => {
            with_project(state, seg(3), &instance, |p| published(p, &q, &instance))
        }
        Route::Trigger => with_project(state, seg(3), &instance, |p| {
            trigger(state, p, req, &instance)
        }),
        Route::Details | Route::Status | Route::Steps | Route::Cancel => {
            execution_route(state, req, route, seg(3), seg(5), &q, &instance)
        }
        Route::ListExecutions => list_executions(state, &q, &instance),
        _ => unknown_route(req, &instance),
    }
}

fn unknown_route(req: &Request, instance: &str) -> Response {
    // A known path with the wrong method gets 405; anything else 404.
    let segs = req.segments();
    let known = matches!(segs.get(1).map(String::as_str), Some("v1"))
        && matches!(
            segs.get(2).map(String::as_str),
            Some("projects") | Some("pipeline-executions")
        )
        && segs.len() <= 7;
    if known {
        problem(405, "Method Not Allowed", "Method not supported", instance)
    } else {
        problem(404, "Not Found", "No such endpoint", instance)
    }
}

fn with_project(
    state: &State,
    id: &str,
    instance: &str,
    f: impl FnOnce(&super::Project) -> Response,
) -> Response {
    match state.config.projects.iter().find(|p| p.id == id) {
        Some(p) => f(p),
        None => problem(
            404,
            "Project not Found",
            &format!("Project with id {id} not found"),
            instance,
        ),
    }
}

/// Decoded query parameters.
struct Query(Vec<(String, String)>);

impl Query {
    fn new(req: &Request) -> Self {
        Self(req.query_pairs())
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    fn all(&self, k: &str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    /// `page` (0-indexed) and `size` (1..=100, default 25), or a 400.
    fn paging(&self, instance: &str) -> Result<(usize, usize), Response> {
        let page = match self.get("page") {
            None | Some("") => 0,
            Some(p) => p.parse::<usize>().map_err(|_| {
                problem(
                    400,
                    "Bad Request",
                    "page must be a non-negative integer",
                    instance,
                )
            })?,
        };
        let size = match self.get("size") {
            None | Some("") => 25,
            Some(s) => match s.parse::<usize>() {
                Ok(n) if (1..=100).contains(&n) => n,
                _ => {
                    return Err(problem(
                        400,
                        "Bad Request",
                        "size must be between 1 and 100",
                        instance,
                    ));
                }
            },
        };
        Ok((page, size))
    }
}

fn paged(page: usize, size: usize, total: usize, results: Vec<Value>) -> Response {
    Response::json(
        200,
        &json!({"page": page, "size": size, "total": total, "results": results}),
    )
}

fn page_range(page: usize, size: usize, total: usize) -> std::ops::Range<usize> {
    let start = page.saturating_mul(size).min(total);
    start..start.saturating_add(size).min(total)
}

fn projects(state: &State, q: &Query, instance: &str) -> Response {
    let (page, size) = match q.paging(instance) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let all = &state.config.projects;
    let results = all[page_range(page, size, all.len())]
        .iter()
        .map(|p| json!({"id": p.id, "name": p.name, "description": p.description}))
        .collect();
    paged(page, size, all.len(), results)
}

fn environments(p: &super::Project, q: &Query, instance: &str) -> Response {
    let (page, size) = match q.paging(instance) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let all = &p.environments;
    let results = all[page_range(page, size, all.len())]
        .iter()
        .map(|e| {
            json!({
                "name": e.name,
                "defaultAgentId": e.default_agent_id,
                "defaultAgentName": e.default_agent_name,
            })
        })
        .collect();
    paged(page, size, all.len(), results)
}

fn published(p: &super::Project, q: &Query, instance: &str) -> Response {
    let (page, size) = match q.paging(instance) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let env_name = q.get("environmentName").unwrap_or_default();
    if env_name.is_empty() {
        return problem_with(
            400,
            "Bad Request",
            "environmentName is required",
            instance,
            &["environmentName: must not be blank".into()],
        );
    }
    let Some(env) = p.environments.iter().find(|e| e.name == env_name) else {
        return problem(
            404,
            "Environment not Found",
            &format!("Environment {env_name} not found"),
            instance,
        );
    };
    let all = &env.pipelines;
    let results = all[page_range(page, size, all.len())]
        .iter()
        .map(|pp| json!({"name": pp.name, "publishedTime": pp.published_time}))
        .collect();
    paged(page, size, all.len(), results)
}

/// Read a `{String: String}` object, or say what is wrong.
fn string_map(v: Option<&Value>, field: &str) -> Result<BTreeMap<String, String>, String> {
    match v {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(format!("{field}.{k}: must be a string")),
            })
            .collect(),
        Some(_) => Err(format!("{field}: must be an object")),
    }
}

type Grid = BTreeMap<String, Vec<Vec<String>>>;

fn grid_map(v: Option<&Value>) -> Result<Grid, String> {
    let err = |k: &str| format!("gridVariables.{k}: must be an array of arrays of strings");
    match v {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                let rows = v.as_array().ok_or_else(|| err(k))?;
                let rows = rows
                    .iter()
                    .map(|r| {
                        r.as_array()
                            .ok_or_else(|| err(k))?
                            .iter()
                            .map(|c| c.as_str().map(str::to_string).ok_or_else(|| err(k)))
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((k.clone(), rows))
            })
            .collect(),
        Some(_) => Err("gridVariables: must be an object".into()),
    }
}

fn opt_string(body: &Map<String, Value>, k: &str) -> Result<Option<String>, String> {
    match body.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{k}: must be a string")),
    }
}

/// `POST /v1/projects/{projectId}/pipeline-executions`.
fn trigger(state: &State, project: &super::Project, req: &Request, instance: &str) -> Response {
    let body: Map<String, Value> = match serde_json::from_slice(&req.body) {
        Ok(Value::Object(m)) => m,
        _ => return problem(400, "Bad Request", "Malformed JSON request body", instance),
    };
    let mut violations = Vec::new();
    let mut field = |k: &str| match opt_string(&body, k) {
        Ok(v) => v,
        Err(e) => {
            violations.push(e);
            None
        }
    };
    let pipeline = field("pipelineName");
    let env_name = field("environmentName");
    let version = field("versionName");
    let agent = field("agentId");
    let tag = field("executionTag");
    if pipeline.as_deref().is_none_or(|p| p.trim().is_empty()) {
        violations.push("pipelineName: must not be blank".into());
    }
    if env_name.is_none() {
        violations.push("environmentName: must not be null".into());
    }
    let scalar = string_map(body.get("scalarVariables"), "scalarVariables")
        .map_err(|e| violations.push(e))
        .unwrap_or_default();
    let grid = grid_map(body.get("gridVariables"))
        .map_err(|e| violations.push(e))
        .unwrap_or_default();
    let (Some(pipeline), Some(env_name)) = (pipeline, env_name) else {
        return problem_with(400, "Bad Request", "Invalid request", instance, &violations);
    };
    if !violations.is_empty() {
        return problem_with(400, "Bad Request", "Invalid request", instance, &violations);
    }
    let Some(env) = project.environments.iter().find(|e| e.name == env_name) else {
        return problem(
            404,
            "Pipelines not Found",
            &format!("Environment {env_name} not found"),
            instance,
        );
    };
    let Some(pp) = env.pipelines.iter().find(|p| p.name == pipeline) else {
        return problem(
            404,
            "Pipelines not Found",
            &format!("Pipeline {pipeline} is not published to environment {env_name}"),
            instance,
        );
    };
    if let Some(v) = &version {
        if !pp.versions.is_empty() && !pp.versions.contains(v) {
            return problem(
                404,
                "Pipelines not Found",
                &format!("Version {v} of pipeline {pipeline} not found"),
                instance,
            );
        }
    }
    if pp.disabled {
        return problem(
            410,
            "Pipeline Disabled",
            &format!("Pipeline {pipeline} has been disabled"),
            instance,
        );
    }
    let now = state.clock.now();
    let mut inner = state.lock();
    if let Some(t) = &tag {
        let busy = inner.executions.iter().any(|e| {
            e.project_id == project.id
                && e.environment == env_name
                && e.tag.as_deref() == Some(t.as_str())
                && e.progress(now).finished.is_none()
        });
        if busy {
            return problem(
                409,
                "Conflict",
                &format!("A pipeline execution with execution tag {t} is already running"),
                instance,
            );
        }
    }
    let id = new_uuid();
    let seq = inner.executions.len();
    inner.executions.push(Execution {
        id: id.clone(),
        project_id: project.id.clone(),
        pipeline,
        environment: env_name,
        version_name: version,
        agent_id: agent,
        tag,
        scalar,
        grid,
        body: Value::Object(body),
        trigger: "API".into(),
        user: None,
        schedule_id: None,
        started: now,
        started_wall: truncate_millis(state.clock.wall()),
        script: Arc::new(pp.script.clone()),
        cancel: None,
        force: false,
        seq,
    });
    Response::json(201, &json!({"pipelineExecutionId": id}))
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
        started_wall,
        script: Arc::new(s.script),
        cancel: None,
        force: false,
        seq,
    });
    id
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Details, status, steps and cancel of one execution.
fn execution_route(
    state: &State,
    req: &Request,
    route: Route,
    project_id: &str,
    exec_id: &str,
    q: &Query,
    instance: &str,
) -> Response {
    if !state.config.projects.iter().any(|p| p.id == project_id) {
        return problem(
            404,
            "Project not Found",
            &format!("Project with id {project_id} not found"),
            instance,
        );
    }
    if !is_uuid(exec_id) {
        return problem(
            400,
            "Bad Request",
            "pipelineExecutionId must be a UUID",
            instance,
        );
    }
    let now = state.clock.now();
    let mut inner = state.lock();
    let Some(e) = inner
        .executions
        .iter_mut()
        .find(|e| e.id == exec_id && e.project_id == project_id)
    else {
        return problem(
            404,
            "Pipeline Execution not Found",
            &format!("Pipeline execution {exec_id} not found"),
            instance,
        );
    };
    match route {
        Route::Details => Response::json(200, &e.details(now)),
        Route::Status => Response::json(200, &json!({"status": e.progress(now).status})),
        Route::Steps => steps(e, now, q, instance),
        Route::Cancel => cancel(e, now, state.config.cancel_delay, req, instance),
        _ => problem(404, "Not Found", "No such endpoint", instance),
    }
}

fn steps(e: &Execution, now: Instant, q: &Query, instance: &str) -> Response {
    let (page, size) = match q.paging(instance) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let elapsed = e.elapsed(now);
    let total = e.script.visible_steps(elapsed, e.cancel);
    let results = page_range(page, size, total)
        .map(|i| {
            let v = e.script.step_view(i, elapsed, e.cancel);
            let mut result = json!({
                "status": v.status,
                "message": v.message,
                "startedAt": e.wall(v.started),
            });
            if let Some(f) = v.finished {
                result["finishedAt"] = json!(e.wall(f));
            }
            let mut o = json!({
                "id": derived_uuid(&e.id, i as u64),
                "name": v.name,
                "result": result,
            });
            if let Some(child) = v.child_pipeline {
                o["childPipeline"] = json!({
                    "id": derived_uuid(&e.id, (i as u64) | (1 << 63)),
                    "name": child,
                });
            }
            o
        })
        .collect();
    paged(page, size, total, results)
}

fn cancel(
    e: &mut Execution,
    now: Instant,
    delay: Duration,
    req: &Request,
    instance: &str,
) -> Response {
    let body: Map<String, Value> = match serde_json::from_slice(&req.body) {
        Ok(Value::Object(m)) => m,
        _ => return problem(400, "Bad Request", "Malformed JSON request body", instance),
    };
    if body.get("status").and_then(Value::as_str) != Some("CANCELLED") {
        return problem_with(
            400,
            "Bad Request",
            "Invalid request",
            instance,
            &["status: must be CANCELLED".into()],
        );
    }
    let force = match body.get("forceUpdate") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return problem_with(
                400,
                "Bad Request",
                "Invalid request",
                instance,
                &["forceUpdate: must be a boolean".into()],
            );
        }
    };
    let p = e.progress(now);
    if p.finished.is_some() {
        return problem(
            400,
            "Bad Request",
            &format!(
                "Pipeline execution {} has already finished with status {}",
                e.id, p.status
            ),
            instance,
        );
    }
    if e.cancel.is_none() {
        e.cancel = Some(Cancel {
            requested_at: e.elapsed(now),
            delay: if force { Duration::ZERO } else { delay },
        });
        e.force = force;
    }
    Response::json(200, &json!({"pipelineExecutionId": e.id}))
}

/// `GET /v1/pipeline-executions`.
fn list_executions(state: &State, q: &Query, instance: &str) -> Response {
    let bad = |d: &str| problem(400, "Bad Request", d, instance);
    let time = |k: &str| -> Result<Option<SystemTime>, Response> {
        match q.get(k) {
            None | Some("") => Ok(None),
            Some(s) => parse_rfc3339(s)
                .map(Some)
                .ok_or_else(|| bad(&format!("{k} must be an ISO-8601 date-time"))),
        }
    };
    let after = match time("startedAfter") {
        Ok(t) => t,
        Err(r) => return r,
    };
    let before = match time("startedBefore") {
        Ok(t) => t,
        Err(r) => return r,
    };
    let limit = match q.get("limit") {
        None | Some("") => 25,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => return bad("limit must be between 1 and 100"),
        },
    };
    let offset = match q.get("paginationToken") {
        None | Some("") => 0,
        Some(t) => match t.strip_prefix("pt").and_then(|n| n.parse::<usize>().ok()) {
            Some(n) => n,
            None => return bad("invalid paginationToken"),
        },
    };
    let statuses: Vec<String> = q
        .all("status")
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let project = q.get("projectId").filter(|s| !s.is_empty());
    let name = q
        .get("pipelineName")
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase);
    let env = q.get("environmentName").filter(|s| !s.is_empty());

    let now = state.clock.now();
    let inner = state.lock();
    let mut matching: Vec<&Execution> = inner
        .executions
        .iter()
        .filter(|e| project.is_none_or(|p| e.project_id == p))
        .filter(|e| env.is_none_or(|n| e.environment == n))
        .filter(|e| {
            name.as_deref()
                .is_none_or(|n| e.pipeline.to_lowercase().contains(n))
        })
        .filter(|e| after.is_none_or(|t| e.started_wall >= t))
        .filter(|e| before.is_none_or(|t| e.started_wall <= t))
        .filter(|e| {
            statuses.is_empty() || {
                let st = e.progress(now).status;
                statuses.iter().any(|s| s.eq_ignore_ascii_case(&st))
            }
        })
        .collect();
    matching.sort_by(|a, b| b.started_wall.cmp(&a.started_wall).then(b.seq.cmp(&a.seq)));
    let end = offset.saturating_add(limit).min(matching.len());
    let start = offset.min(end);
    let results: Vec<Value> = matching[start..end]
        .iter()
        .map(|e| e.summary(now))
        .collect();
    let mut body = json!({"results": results});
    if end < matching.len() {
        body["more"] = json!(percent_encode(&format!("pt{end}")));
    }
    Response::json(200, &body)
}
