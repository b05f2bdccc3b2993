//! The read-only catalogue: projects, a project's environments, and the pipelines
//! published to an environment, each a page of the documented shape.

use super::{Project, Query, page_range, paged, problem, problem_with};
use crate::State;
use crate::http::Response;
use serde_json::json;

pub(super) fn projects(state: &State, q: &Query, instance: &str) -> Response {
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

pub(super) fn environments(p: &Project, q: &Query, instance: &str) -> Response {
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

pub(super) fn published(p: &Project, q: &Query, instance: &str) -> Response {
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
