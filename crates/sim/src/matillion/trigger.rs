//! `POST /v1/projects/{projectId}/pipeline-executions`: validate the body as the API does
//! (problem+json with violations), refuse a disabled pipeline (410) or a busy execution
//! tag (409), and store a new execution.

use super::world::Execution;
use super::{Project, problem, problem_with};
use crate::State;
use crate::http::{Request, Response};
use crate::util::{new_uuid, truncate_millis};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

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
pub(super) fn trigger(state: &State, project: &Project, req: &Request, instance: &str) -> Response {
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
        // An environment that holds artifacts runs only their versions (and the ones the
        // pipeline was configured with); otherwise an empty list accepts any version.
        let artifacts = super::artifacts::has_any(state, &project.id, &env_name);
        let known = pp.versions.contains(v)
            || super::artifacts::has_version(state, &project.id, &env_name, v);
        if (artifacts || !pp.versions.is_empty()) && !known {
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
        created: now,
        started_wall: truncate_millis(state.clock.wall()),
        script: Arc::new(pp.script.clone()),
        cancel: None,
        force: false,
        seq,
    });
    Response::json(201, &json!({"pipelineExecutionId": id}))
}
