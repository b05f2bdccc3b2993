//! Serving one request: classify it ([`Route`]), record it, apply the first live fault
//! that matches, and hand it to the Matillion or Datalab handlers.

use crate::fault::{self, FaultAction, Route};
use crate::http::{Reply, Request, Response};
use crate::{RecordedRequest, State, datalab, matillion};
use std::sync::Arc;

/// Classify a request by path and method.
fn route_of(req: &Request) -> Route {
    let segs = req.segments();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = req.method.as_str();
    match (m, s.as_slice()) {
        ("POST", ["oauth", "dpc", "token"]) => Route::Token,
        ("GET", ["dpc", "v1", "projects"]) => Route::Projects,
        ("GET", ["dpc", "v1", "projects", _, "environments"]) => Route::Environments,
        ("GET", ["dpc", "v1", "projects", _, "published-pipelines"]) => Route::PublishedPipelines,
        ("POST", ["dpc", "v1", "projects", _, "pipeline-executions"]) => Route::Trigger,
        ("GET", ["dpc", "v1", "projects", _, "pipeline-executions", _]) => Route::Details,
        ("PATCH", ["dpc", "v1", "projects", _, "pipeline-executions", _]) => Route::Cancel,
        (
            "GET",
            [
                "dpc",
                "v1",
                "projects",
                _,
                "pipeline-executions",
                _,
                "status",
            ],
        ) => Route::Status,
        (
            "GET",
            [
                "dpc",
                "v1",
                "projects",
                _,
                "pipeline-executions",
                _,
                "steps",
            ],
        ) => Route::Steps,
        ("GET", ["dpc", "v1", "pipeline-executions"]) => Route::ListExecutions,
        ("GET", ["api", "v1", "pipelines", "executions", _]) => Route::DatalabExecution,
        (
            "GET",
            [
                "api",
                "v1",
                "pipelines",
                "executions",
                _,
                "steps",
                _,
                "result",
            ],
        ) => Route::DatalabResult,
        ("POST", ["api", "v1", "pipelines", _, "run"]) => Route::DatalabRun,
        ("GET", ["api", "v1", "pipelines", _, "executions"]) => Route::DatalabList,
        _ => Route::Unknown,
    }
}

/// Record, apply faults, route.
pub(crate) fn handle(state: &Arc<State>, req: Request, conn: u64) -> Reply {
    let route = route_of(&req);
    let at = state.clock.now();
    let (id, fault) = {
        let mut inner = state.lock();
        let fault = fault::take(&mut inner.faults, &req.method, &req.path, route);
        inner.request_count += 1;
        let id = inner.request_count;
        inner.requests.push(RecordedRequest {
            id,
            connection: conn,
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            headers: req.headers.clone(),
            body: req.body.clone(),
            route,
            status: None,
            fault: fault.as_ref().map(FaultAction::kind),
            at,
            elapsed: at.saturating_duration_since(state.start),
        });
        (id, fault)
    };
    if let Some(f) = &fault {
        log::debug!(
            "simulator: fault {} on {} {}",
            f.kind(),
            req.method,
            req.path
        );
    }
    let reply = match fault {
        None => Reply::Send(dispatch(state, &req, route)),
        Some(FaultAction::Respond {
            status,
            headers,
            content_type,
            body,
        }) => {
            let mut resp = Response::new(status, &content_type, body);
            resp.headers.extend(headers);
            Reply::Send(resp)
        }
        Some(FaultAction::Garbage) => Reply::Send(Response::new(
            200,
            "application/json",
            "<<garbage>> {not json",
        )),
        Some(FaultAction::Reset) => Reply::Close,
        Some(FaultAction::Delay(d)) => {
            std::thread::sleep(d);
            Reply::Send(dispatch(state, &req, route))
        }
        Some(FaultAction::LoseReply) => {
            let _ = dispatch(state, &req, route);
            Reply::Close
        }
    };
    if let Reply::Send(resp) = &reply {
        let mut inner = state.lock();
        if let Some(r) = inner.requests.iter_mut().rev().find(|r| r.id == id) {
            r.status = Some(resp.status);
        }
    }
    reply
}

fn dispatch(state: &State, req: &Request, route: Route) -> Response {
    let segs = req.segments();
    match segs.first().map(String::as_str) {
        Some("oauth") if route == Route::Token => matillion::token(state, req),
        Some("oauth") => not_found_json(),
        Some("dpc") => matillion::handle(state, req, route),
        Some("api") => datalab::handle(state, req, route),
        _ => not_found_json(),
    }
}

fn not_found_json() -> Response {
    Response::json(404, &serde_json::json!({"detail": "Not Found"}))
}
