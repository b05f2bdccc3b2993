//! Injected faults: rules that, for the next N matching requests, replace the normal
//! answer with an error response, garbage, a dropped connection, a delay, or a lost reply
//! (the request takes effect but the answer never arrives).

use std::time::Duration;

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
}

impl Matcher {
    /// Whether a request matches.
    pub fn matches(&self, method: &str, path: &str, route: Route) -> bool {
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
        }
    }
}

/// What a fault does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer with this status, headers, content type and body instead.
    Respond {
        /// The status code.
        status: u16,
        /// Extra headers (e.g. `Retry-After`).
        headers: Vec<(String, String)>,
        /// The `Content-Type`.
        content_type: String,
        /// The body.
        body: String,
    },
    /// Answer 200 `application/json` with a body that is not JSON.
    Garbage,
    /// Close the connection without answering.
    Reset,
    /// Wait this long (real time), then handle the request normally.
    Delay(Duration),
    /// Handle the request normally (it takes effect), then close the connection without
    /// sending the answer.
    LoseReply,
}

impl FaultAction {
    /// Answer with `status`, `content_type` and `body`.
    pub fn respond(status: u16, content_type: &str, body: &str) -> Self {
        FaultAction::Respond {
            status,
            headers: Vec::new(),
            content_type: content_type.into(),
            body: body.into(),
        }
    }

    /// `429 Too Many Requests` with `Retry-After: secs` and a problem+json body.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        FaultAction::Respond {
            status: 429,
            headers: vec![("Retry-After".into(), retry_after_secs.to_string())],
            content_type: "application/problem+json".into(),
            body: r#"{"type":"about:blank","title":"Too Many Requests","status":429,"detail":"Rate limit exceeded"}"#.into(),
        }
    }

    /// `502 Bad Gateway` with an HTML body, as a gateway sends.
    pub fn bad_gateway_html() -> Self {
        Self::respond(
            502,
            "text/html",
            "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>",
        )
    }

    /// `503 Service Unavailable` with a JSON body.
    pub fn unavailable_json() -> Self {
        Self::respond(
            503,
            "application/json",
            r#"{"status":503,"title":"Service Unavailable","detail":"Try again later"}"#,
        )
    }

    /// Add a header to a `Respond` action (no effect on other actions).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let FaultAction::Respond { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }

    /// A short name for logs and recorded requests.
    pub fn kind(&self) -> &'static str {
        match self {
            FaultAction::Respond { .. } => "respond",
            FaultAction::Garbage => "garbage",
            FaultAction::Reset => "reset",
            FaultAction::Delay(_) => "delay",
            FaultAction::LoseReply => "lose-reply",
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
        }
    }

    /// Fire on every request of `route`, forever.
    pub fn always(route: Route, action: FaultAction) -> Self {
        Self {
            matcher: Matcher::Route(route),
            action,
            remaining: None,
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
        }
    }

    /// Change how many times it fires.
    pub fn count(mut self, n: u32) -> Self {
        self.remaining = Some(n);
        self
    }
}

/// Take the first live fault matching a request, using one of its firings.
pub(crate) fn take(
    faults: &mut Vec<Fault>,
    method: &str,
    path: &str,
    route: Route,
) -> Option<FaultAction> {
    let i = faults
        .iter()
        .position(|f| f.remaining != Some(0) && f.matcher.matches(method, path, route))?;
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
