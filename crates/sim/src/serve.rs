//! Serving one request: classify it ([`Route`]), record it, apply the first live fault
//! that matches, and hand it to the Matillion or Datalab handlers.

use crate::fault::{self, FaultAction, ReplyParts, Route};
use crate::http::{Reply, Request, Response};
use crate::{RecordedRequest, State, datalab, matillion};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Where delayed requests and replies wait: each wait is bounded by its own duration (real
/// time) and ends early on [`Gate::release`] (which also ends every later wait once the
/// gate is closed).
#[derive(Default)]
pub(crate) struct Gate {
    /// (generation, closed): a release bumps the generation.
    state: Mutex<(u64, bool)>,
    cv: Condvar,
}

/// A place in the gate's queue, taken when a delayed request is recorded: a release from
/// then on ends its wait, even one that comes before the wait itself begins (a test that
/// sees the request recorded and releases it at once cannot miss it).
#[derive(Clone, Copy)]
pub(crate) struct Ticket(u64);

impl Gate {
    /// A ticket for a wait to come.
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket(self.state.lock().unwrap_or_else(|e| e.into_inner()).0)
    }

    /// Wait up to `d`, or until released after `ticket` was taken.
    pub(crate) fn wait(&self, ticket: Ticket, d: Duration) {
        let deadline = Instant::now() + d;
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let generation = ticket.0;
        while !g.1 && g.0 == generation {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            g = self
                .cv
                .wait_timeout(g, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// End every wait in progress; with `close`, every later one too.
    pub(crate) fn release(&self, close: bool) {
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        g.0 = g.0.wrapping_add(1);
        g.1 |= close;
        self.cv.notify_all();
    }
}

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
        ("POST", ["dpc", "v1", "projects", _, "artifacts"]) => Route::ArtifactCreate,
        ("GET", ["dpc", "v1", "projects", _, "artifacts", "details"]) => Route::ArtifactDetails,
        ("POST", ["dpc", "v1", "projects", _, "artifacts", "promotions"]) => {
            Route::ArtifactPromotion
        }
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
    let ticket;
    let (id, fault, recorded, limited) = {
        let mut inner = state.lock();
        let limited = over_the_limit(state, &mut inner, at);
        let fault = match limited {
            Some(_) => None,
            None => fault::take(&mut inner.faults, &req.method, &req.path, &req.query, route),
        };
        inner.request_count += 1;
        let id = inner.request_count;
        let recorded = RecordedRequest {
            id,
            connection: conn,
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            headers: req.headers.clone(),
            body: req.body.clone(),
            route,
            status: None,
            fault: match limited {
                Some(_) => Some("rate-limit"),
                None => fault.as_ref().map(FaultAction::kind),
            },
            at,
            elapsed: at.saturating_duration_since(state.start),
        };
        // Only an edit looks at the request again.
        let copy = matches!(fault, Some(FaultAction::Edit(_))).then(|| recorded.clone());
        // Before the request can be seen recorded: a release from then on frees it.
        ticket = state.gate.ticket();
        inner.requests.push(recorded);
        (id, fault, copy, limited)
    };
    if let Some(f) = &fault {
        log::debug!(
            "simulator: fault {} on {} {}",
            f.kind(),
            req.method,
            req.path
        );
    }
    if let Some(wait) = limited {
        return answered(state, id, Reply::Send(too_many(wait)));
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
            state.gate.wait(ticket, d);
            Reply::Send(dispatch(state, &req, route))
        }
        Some(FaultAction::LoseReply) => {
            let _ = dispatch(state, &req, route);
            Reply::Close
        }
        Some(FaultAction::Raw {
            status,
            headers,
            content_type,
            body,
        }) => {
            let mut resp = Response::new(status, &content_type, body);
            resp.headers.extend(headers);
            Reply::Send(resp)
        }
        Some(FaultAction::Edit(edit)) => {
            let mut parts = into_parts(dispatch(state, &req, route));
            if let Some(recorded) = &recorded {
                edit.apply(recorded, &mut parts);
            }
            Reply::Send(from_parts(parts))
        }
        Some(FaultAction::DelayReply(d)) => {
            let resp = dispatch(state, &req, route);
            state.gate.wait(ticket, d);
            Reply::Send(resp)
        }
        Some(FaultAction::TooManyRequestsBehind(behind)) => {
            let theirs = state.clock.wall() - behind;
            let mut resp = Response::new(
                429,
                "application/problem+json",
                r#"{"type":"about:blank","title":"Too Many Requests","status":429,"detail":"Rate limit exceeded"}"#,
            );
            resp.headers
                .push(("Date".into(), crate::util::http_date(theirs)));
            resp.headers.push((
                "Retry-After".into(),
                crate::util::http_date(theirs + Duration::from_secs(1)),
            ));
            Reply::Send(resp)
        }
        Some(FaultAction::CacheIgnoringPage) => {
            let mut parts = into_parts(dispatch(state, &without_paging(&req), route));
            if let Some(mut v) = parts.json() {
                if v.as_object_mut().and_then(|o| o.remove("total")).is_some() {
                    parts.set_json(&v);
                }
            }
            Reply::Send(from_parts(parts))
        }
    };
    answered(state, id, reply)
}

/// The reply to request `id`, its status recorded.
fn answered(state: &State, id: u64, reply: Reply) -> Reply {
    if let Reply::Send(resp) = &reply {
        let mut inner = state.lock();
        if let Some(r) = inner.requests.iter_mut().rev().find(|r| r.id == id) {
            r.status = Some(resp.status);
        }
    }
    reply
}

/// Whether a request at `at` goes over the configured rate limit: how long until it would
/// not have (it is counted), or `None` (it is let through and spends its share).
fn over_the_limit(state: &State, inner: &mut crate::Inner, at: Instant) -> Option<Duration> {
    let limit = state.config.rate_limit?;
    match crate::limit::admit(limit, inner.tat, at) {
        Ok(tat) => {
            inner.tat = Some(tat);
            None
        }
        Err(wait) => {
            inner.rejected += 1;
            Some(wait)
        }
    }
}

/// The rate limit's answer: 429 with how long to wait, in whole seconds.
fn too_many(wait: Duration) -> Response {
    let mut resp = Response::new(
        429,
        "application/problem+json",
        r#"{"type":"about:blank","title":"Too Many Requests","status":429,"detail":"Rate limit exceeded"}"#,
    );
    resp.headers.push((
        "Retry-After".into(),
        crate::limit::retry_after(wait).to_string(),
    ));
    resp
}

/// The request as a cache keyed on the path sees it: no `page`, `offset` or
/// `paginationToken` in the query.
fn without_paging(req: &Request) -> Request {
    let query = req
        .query
        .split('&')
        .filter(|p| {
            let name = p.split_once('=').map_or(*p, |(n, _)| n);
            !matches!(name, "page" | "offset" | "paginationToken")
        })
        .collect::<Vec<_>>()
        .join("&");
    Request {
        query,
        ..req.clone()
    }
}

fn into_parts(resp: Response) -> ReplyParts {
    let mut content_type = String::new();
    let mut headers = Vec::new();
    for (n, v) in resp.headers {
        if n.eq_ignore_ascii_case("content-type") && content_type.is_empty() {
            content_type = v;
        } else {
            headers.push((n, v));
        }
    }
    ReplyParts {
        status: resp.status,
        content_type,
        headers,
        body: resp.body,
    }
}

fn from_parts(p: ReplyParts) -> Response {
    let mut resp = Response::new(p.status, &p.content_type, p.body);
    resp.headers.extend(p.headers);
    resp
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
