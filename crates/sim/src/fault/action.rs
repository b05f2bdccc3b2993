//! [`FaultAction`]: what a fault does to the request it fires on, and its builders. The
//! answers a gateway or proxy sends of its own (a status, garbage, raw bytes, a redirect),
//! network trouble (a reset, a delay, a lost or late reply), and a cache that ignores the
//! query. Rewrites of the real reply ([`FaultAction::Edit`]) are in `edit.rs`.

use super::edit::ReplyEdit;
use std::time::Duration;

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
    /// Wait this long (real time), then handle the request normally. The wait ends early
    /// on [`SimHandle::release_delayed`](crate::SimHandle::release_delayed) or when the
    /// simulator stops.
    Delay(Duration),
    /// Handle the request normally (it takes effect), then close the connection without
    /// sending the answer.
    LoseReply,
    /// Answer with these exact bytes (which need not be UTF-8 or JSON) instead; see
    /// [`FaultAction::raw_body`].
    Raw {
        /// The status code.
        status: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// The `Content-Type`.
        content_type: String,
        /// The body, byte for byte.
        body: Vec<u8>,
    },
    /// Handle the request normally, then rewrite the reply (status, headers, body) before
    /// sending it; see [`FaultAction::edit`] and the named edits.
    Edit(ReplyEdit),
    /// Handle the request normally (it takes effect at once: a trigger creates its
    /// execution), then hold the reply this long (real time) before sending it. The wait
    /// ends early on [`SimHandle::release_delayed`](crate::SimHandle::release_delayed) or
    /// when the simulator stops.
    DelayReply(Duration),
    /// `429 Too Many Requests` from a server whose clock is `behind` ours: its `Date` is
    /// `behind` ago, and its `Retry-After` is an HTTP date one second after that, which is
    /// already past here; see [`FaultAction::too_many_requests_from_a_clock_behind`].
    TooManyRequestsBehind(Duration),
    /// A cache keyed on the path alone: the request is served as if it had no `page`,
    /// `offset` or `paginationToken` parameter (so every page is the first page, and its
    /// `more` token leads back to it), and `total` is removed from the JSON reply.
    CacheIgnoringPage,
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

    /// `429 Too Many Requests` with `Retry-After: secs` and a problem+json body. Any number
    /// of seconds (e.g. 3600, far beyond a client's timeout) is sent as given.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        FaultAction::Respond {
            status: 429,
            headers: vec![("Retry-After".into(), retry_after_secs.to_string())],
            content_type: "application/problem+json".into(),
            body: r#"{"type":"about:blank","title":"Too Many Requests","status":429,"detail":"Rate limit exceeded"}"#.into(),
        }
    }

    /// `429 Too Many Requests` from a server whose clock is `behind` ours: its
    /// `Retry-After` is an HTTP date already past ([`FaultAction::TooManyRequestsBehind`]).
    pub fn too_many_requests_from_a_clock_behind(behind: Duration) -> Self {
        FaultAction::TooManyRequestsBehind(behind)
    }

    /// `200 OK` with an HTML page: what a proxy or a sign-in portal in front of the API
    /// answers when it blocks a request.
    pub fn block_page() -> Self {
        Self::respond(
            200,
            "text/html",
            "<html><head><title>Access denied</title></head><body><h1>Access denied</h1><p>This request was blocked by the security proxy.</p></body></html>",
        )
    }

    /// `200 OK` `application/json` with a body of `len` bytes (a JSON string of spaces): over
    /// a client's read limit when `len` is.
    pub fn huge_body(len: usize) -> Self {
        let mut body = Vec::with_capacity(len);
        body.push(b'"');
        body.resize(len.saturating_sub(1), b' ');
        body.push(b'"');
        Self::raw_body(200, "application/json", body)
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

    /// `401 Unauthorized` with `WWW-Authenticate: Bearer` and a problem+json body, as the
    /// API answers an expired or revoked token (also a fixed `access-token` that lapsed).
    pub fn unauthorized() -> Self {
        Self::respond(
            401,
            "application/problem+json",
            r#"{"type":"about:blank","title":"Unauthorized","status":401,"detail":"Full authentication is required to access this resource"}"#,
        )
        .with_header("WWW-Authenticate", "Bearer")
    }

    /// A redirect: `status` (301, 302, 303, 307 or 308) with `Location: location` and a
    /// short HTML body, as a load balancer or a moved API sends. `location` is sent as
    /// given (absolute, or a path on the same origin).
    pub fn redirect(status: u16, location: &str) -> Self {
        Self::respond(
            status,
            "text/html",
            &format!("<html><body>Moved: <a href=\"{location}\">here</a></body></html>"),
        )
        .with_header("Location", location)
    }

    /// Answer `status` with exactly these bytes and this `Content-Type`: bytes that are not
    /// UTF-8, JSON with an invalid escape, an empty body, anything.
    pub fn raw_body(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        FaultAction::Raw {
            status,
            headers: Vec::new(),
            content_type: content_type.into(),
            body: body.into(),
        }
    }

    /// Handle the request at once, hold the reply `d` (real time), then send it: a trigger
    /// whose execution exists while its 201 is still on the way.
    pub fn delay_reply(d: Duration) -> Self {
        FaultAction::DelayReply(d)
    }

    /// A cache that ignores the page and drops `total` ([`FaultAction::CacheIgnoringPage`]).
    /// Use with [`Fault::always`](crate::Fault::always) on [`Route::Steps`](crate::Route).
    pub fn cache_ignoring_page() -> Self {
        FaultAction::CacheIgnoringPage
    }

    /// Add a header to a `Respond` or `Raw` action (no effect on other actions).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let FaultAction::Respond { headers, .. } | FaultAction::Raw { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }

    /// A short name for logs and recorded requests (an edit's own label for `Edit`).
    pub fn kind(&self) -> &'static str {
        match self {
            FaultAction::Respond { .. } => "respond",
            FaultAction::Garbage => "garbage",
            FaultAction::Reset => "reset",
            FaultAction::Delay(_) => "delay",
            FaultAction::LoseReply => "lose-reply",
            FaultAction::Raw { .. } => "raw",
            FaultAction::Edit(e) => e.label(),
            FaultAction::DelayReply(_) => "delay-reply",
            FaultAction::CacheIgnoringPage => "cache-ignoring-page",
            FaultAction::TooManyRequestsBehind(_) => "too-many-requests-behind",
        }
    }
}
