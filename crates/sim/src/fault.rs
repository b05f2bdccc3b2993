//! Injected faults: rules that, for the next N matching requests (optionally after letting
//! some through), replace or rewrite the normal answer: an error response, garbage, raw
//! bytes, a redirect, a dropped connection, a delay, a lost or late reply, a cache that
//! ignores the page, or an edit of the real reply. This file holds the routes, matchers
//! and rules; the actions are in `fault/action.rs` and `fault/edit.rs`.

mod action;
mod edit;

pub use action::FaultAction;
pub use edit::{ReplyEdit, ReplyParts};

/// What kind of request a route is (used to match faults and in recorded requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `POST /oauth/dpc/token`.
    Token,
    /// `GET /dpc/v1/projects`.
    Projects,
    /// `GET /dpc/v1/projects/{id}/environments`.
    Environments,
    /// `GET /dpc/v1/projects/{id}/published-pipelines`.
    PublishedPipelines,
    /// `POST /dpc/v1/projects/{id}/pipeline-executions`.
    Trigger,
    /// `GET /dpc/v1/projects/{id}/pipeline-executions/{eid}`.
    Details,
    /// `GET .../pipeline-executions/{eid}/status`.
    Status,
    /// `GET .../pipeline-executions/{eid}/steps`.
    Steps,
    /// `GET /dpc/v1/pipeline-executions`.
    ListExecutions,
    /// `PATCH /dpc/v1/projects/{id}/pipeline-executions/{eid}`.
    Cancel,
    /// `POST /dpc/v1/projects/{id}/artifacts`.
    ArtifactCreate,
    /// `GET /dpc/v1/projects/{id}/artifacts/details`.
    ArtifactDetails,
    /// `POST /dpc/v1/projects/{id}/artifacts/promotions`.
    ArtifactPromotion,
    /// Datalab `POST /api/v1/pipelines/{id}/run`.
    DatalabRun,
    /// Datalab `GET /api/v1/pipelines/executions/{id}`.
    DatalabExecution,
    /// Datalab `GET /api/v1/pipelines/executions/{id}/steps/{i}/result`.
    DatalabResult,
    /// Datalab `GET /api/v1/pipelines/{id}/executions`.
    DatalabList,
    /// Anything else (answered 404/405).
    Unknown,
}

/// Which requests a fault applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    /// Every request.
    Any,
    /// Requests of this route kind.
    Route(Route),
    /// Requests whose method equals `method` (any if `None`, case-insensitive) and whose path
    /// contains `contains`.
    Path {
        /// The method, or `None` for any.
        method: Option<String>,
        /// A substring of the (raw) path.
        contains: String,
    },
    /// Requests of this route kind whose raw query string contains `contains` (e.g.
    /// `page=1` on [`Route::Steps`]).
    Query {
        /// The route kind.
        route: Route,
        /// A substring of the raw query string.
        contains: String,
    },
}

impl Matcher {
    /// Whether a request matches (a [`Matcher::Query`] sees an empty query here; see
    /// [`Matcher::matches_request`]).
    pub fn matches(&self, method: &str, path: &str, route: Route) -> bool {
        self.matches_request(method, path, "", route)
    }

    /// Whether a request with this raw query string matches.
    pub fn matches_request(&self, method: &str, path: &str, query: &str, route: Route) -> bool {
        match self {
            Matcher::Any => true,
            Matcher::Route(r) => *r == route,
            Matcher::Path {
                method: m,
                contains,
            } => {
                m.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
                    && path.contains(contains.as_str())
            }
            Matcher::Query { route: r, contains } => {
                *r == route && query.contains(contains.as_str())
            }
        }
    }
}

/// A fault rule: for the next `remaining` requests matching `matcher`, do `action`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// Which requests.
    pub matcher: Matcher,
    /// What to do.
    pub action: FaultAction,
    /// How many more times it fires (`None` = forever).
    pub remaining: Option<u32>,
    /// How many matching requests still pass untouched before it starts firing.
    pub skip: u32,
}

impl Fault {
    /// Fire once on requests of `route`.
    pub fn once(route: Route, action: FaultAction) -> Self {
        Self::times(route, 1, action)
    }

    /// Fire `n` times on requests of `route`.
    pub fn times(route: Route, n: u32, action: FaultAction) -> Self {
        Self {
            matcher: Matcher::Route(route),
            action,
            remaining: Some(n),
            skip: 0,
        }
    }

    /// Fire on every request of `route`, forever.
    pub fn always(route: Route, action: FaultAction) -> Self {
        Self {
            matcher: Matcher::Route(route),
            action,
            remaining: None,
            skip: 0,
        }
    }

    /// Fire once on requests with `method` (or any, if empty) whose path contains `contains`.
    pub fn on_path(method: &str, contains: &str, action: FaultAction) -> Self {
        Self {
            matcher: Matcher::Path {
                method: (!method.is_empty()).then(|| method.to_string()),
                contains: contains.into(),
            },
            action,
            remaining: Some(1),
            skip: 0,
        }
    }

    /// Fire once on requests `matcher` matches.
    pub fn matching(matcher: Matcher, action: FaultAction) -> Self {
        Self {
            matcher,
            action,
            remaining: Some(1),
            skip: 0,
        }
    }

    /// Let the first `n` matching requests through untouched, then fire: with `n = 2`,
    /// [`Fault::once`] acts on the third reply of its route.
    pub fn after(mut self, n: u32) -> Self {
        self.skip = n;
        self
    }

    /// Fire on every matching request, forever.
    pub fn forever(mut self) -> Self {
        self.remaining = None;
        self
    }

    /// Change how many times it fires.
    pub fn count(mut self, n: u32) -> Self {
        self.remaining = Some(n);
        self
    }
}

/// Take the first live fault matching a request, using one of its firings. A fault still
/// skipping uses one skip and lets the later faults have a look.
pub(crate) fn take(
    faults: &mut Vec<Fault>,
    method: &str,
    path: &str,
    query: &str,
    route: Route,
) -> Option<FaultAction> {
    let mut found = None;
    for (i, f) in faults.iter_mut().enumerate() {
        if f.remaining == Some(0) || !f.matcher.matches_request(method, path, query, route) {
            continue;
        }
        if f.skip > 0 {
            f.skip -= 1;
            continue;
        }
        found = Some(i);
        break;
    }
    let i = found?;
    let f = &mut faults[i];
    let action = f.action.clone();
    if let Some(n) = &mut f.remaining {
        *n -= 1;
        if *n == 0 {
            faults.remove(i);
        }
    }
    Some(action)
}
