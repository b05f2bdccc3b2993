//! One execution (details, status, steps, cancel) and the list of executions, read from
//! the store as of the clock's now.

use super::world::Execution;
use super::{Query, page_range, paged, problem, problem_with};
use crate::http::{Request, Response, percent_encode};
use crate::script::Cancel;
use crate::util::{derived_uuid, parse_rfc3339};
use crate::{Route, State};
use serde_json::{Map, Value, json};
use std::time::{Duration, Instant, SystemTime};

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Details, status, steps and cancel of one execution.
pub(super) fn execution_route(
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
        // A replica that has not caught up yet knows nothing of a new execution; cancel is
        // a write and goes to the primary.
        .filter(|e| route == Route::Cancel || !e.younger_than(state.config.replica_lag, now))
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
pub(super) fn list_executions(state: &State, q: &Query, instance: &str) -> Response {
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
        .filter(|e| !e.younger_than(state.config.list_lag, now))
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
