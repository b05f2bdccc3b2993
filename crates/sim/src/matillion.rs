//! The simulated Matillion DPC API: the OAuth token endpoint, projects, environments,
//! published pipelines, pipeline executions (trigger, details, status, steps, list,
//! cancel), and artifacts (create, details, promotions). Shapes follow `/work/shared/api` (camelCase fields, problem+json errors).
//!
//! This file routes a `/dpc/...` request (after the bearer-token check) and holds what the
//! handlers share: problem+json bodies, query parameters and page slicing. The world the
//! API serves is in [`world`]; each group of endpoints has its own file.

mod artifacts;
mod catalog;
mod executions;
mod token;
mod trigger;
mod world;

pub(crate) use artifacts::seeded as seeded_artifacts;
pub use artifacts::{ArtifactFile, ArtifactInfo, SeedArtifact};
pub(crate) use token::token;
pub use world::{Environment, ExecutionInfo, Project, PublishedPipeline, SeedExecution};
pub(crate) use world::{Execution, seed};

use crate::http::Request;
use crate::http::Response;
use crate::{Route, State};
use serde_json::{Value, json};

/// An `application/problem+json` response.
pub(super) fn problem(status: u16, title: &str, detail: &str, instance: &str) -> Response {
    problem_with(status, title, detail, instance, &[])
}

pub(super) fn problem_with(
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
        Route::Projects => catalog::projects(state, &q, &instance),
        Route::Environments => with_project(state, seg(3), &instance, |p| {
            catalog::environments(p, &q, &instance)
        }),
        Route::PublishedPipelines => with_project(state, seg(3), &instance, |p| {
            catalog::published(p, &q, &instance)
        }),
        Route::Trigger => with_project(state, seg(3), &instance, |p| {
            trigger::trigger(state, p, req, &instance)
        }),
        Route::Details | Route::Status | Route::Steps | Route::Cancel => {
            executions::execution_route(state, req, route, seg(3), seg(5), &q, &instance)
        }
        Route::ListExecutions => executions::list_executions(state, &q, &instance),
        Route::ArtifactCreate => with_project(state, seg(3), &instance, |p| {
            artifacts::create(state, p, req, &instance)
        }),
        Route::ArtifactDetails => with_project(state, seg(3), &instance, |p| {
            artifacts::details(state, p, &q, &instance)
        }),
        Route::ArtifactPromotion => with_project(state, seg(3), &instance, |p| {
            artifacts::promote(state, p, req, &instance)
        }),
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
    f: impl FnOnce(&Project) -> Response,
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
pub(super) struct Query(Vec<(String, String)>);

impl Query {
    pub(super) fn new(req: &Request) -> Self {
        Self(req.query_pairs())
    }

    pub(super) fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    pub(super) fn all(&self, k: &str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    /// `page` (0-indexed) and `size` (1..=100, default 25), or a 400.
    pub(super) fn paging(&self, instance: &str) -> Result<(usize, usize), Response> {
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

pub(super) fn paged(page: usize, size: usize, total: usize, results: Vec<Value>) -> Response {
    Response::json(
        200,
        &json!({"page": page, "size": size, "total": total, "results": results}),
    )
}

pub(super) fn page_range(page: usize, size: usize, total: usize) -> std::ops::Range<usize> {
    let start = page.saturating_mul(size).min(total);
    start..start.saturating_add(size).min(total)
}
