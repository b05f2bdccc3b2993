//! The HTTP layer: one retry policy for every request.
//!
//! - Retried, with exponential backoff and jitter, until the budget's deadline: connection
//!   errors, timeouts, 5xx (whatever the body), 429, and a 2xx whose body is not the JSON
//!   expected. `Retry-After` (seconds or HTTP-date) is honoured exactly.
//! - Not retried: other 4xx. A 401 gets one fresh token and one repeat; a second 401 is a
//!   refusal.
//! - A request that is not safe to repeat (the trigger) is never sent twice here: when its
//!   reply is lost after it was sent, or is a 5xx, the caller gets [`HttpError::Ambiguous`]
//!   and decides (it looks the run up before trying again).
//! - Every attempt has its own connect and response timeouts, so one stalled connection
//!   cannot eat the deadline.

use crate::clock::{Clock, Signal, Wake};
use crate::secret::Secret;
use backoff::backoff::Backoff;
use serde::de::DeserializeOwned;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// `User-Agent` sent with every request.
pub const USER_AGENT: &str = concat!("pipeline-run/", env!("CARGO_PKG_VERSION"));
/// Connect timeout of one attempt.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest time one attempt may take from sending to the end of the body.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// HTTP methods used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PATCH
    Patch,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
        })
    }
}

/// One part of a multipart body.
#[derive(Debug, Clone)]
pub enum Part {
    /// A text field.
    Text(String, String),
    /// A file field, read from disk.
    File(String, PathBuf),
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Body {
    /// No body.
    None,
    /// JSON.
    Json(serde_json::Value),
    /// `application/x-www-form-urlencoded`; values may be secrets.
    Form(Vec<(String, Secret)>),
    /// `multipart/form-data`.
    Multipart(Vec<Part>),
}

/// A request, described once and sent as many times as the policy allows.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Absolute URL without the query.
    pub url: String,
    /// Query pairs (encoded when sent).
    pub query: Vec<(String, String)>,
    /// Body.
    pub body: Body,
    /// Whether sending it twice is harmless (false for the trigger).
    pub repeatable: bool,
    /// What this request is, for messages ("the trigger", "the status poll").
    pub what: String,
}

impl Request {
    /// A repeatable GET.
    pub fn get(url: impl Into<String>, what: impl Into<String>) -> Self {
        Self {
            method: Method::Get,
            url: url.into(),
            query: Vec::new(),
            body: Body::None,
            repeatable: true,
            what: what.into(),
        }
    }

    /// Add a query pair.
    pub fn query(mut self, k: &str, v: impl Into<String>) -> Self {
        self.query.push((k.to_string(), v.into()));
        self
    }
}

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Body text.
    pub body: String,
}

/// An error body, read as problem+json (Matillion) or FastAPI `detail` (Datalab).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problem {
    /// HTTP status.
    pub status: u16,
    /// `title`.
    pub title: Option<String>,
    /// `detail` (or Datalab's `detail` text / validation messages joined).
    pub detail: Option<String>,
    /// `violations`.
    pub violations: Vec<String>,
    /// A short excerpt of a body that was not JSON.
    pub excerpt: Option<String>,
}

impl Problem {
    /// Read an error body.
    pub fn parse(status: u16, body: &str) -> Self {
        let mut p = Problem {
            status,
            ..Problem::default()
        };
        match serde_json::from_str::<serde_json::Value>(body) {
            Ok(serde_json::Value::Object(o)) => {
                let text = |k: &str| o.get(k).and_then(|v| v.as_str()).map(clean);
                p.title = text("title").or_else(|| text("error"));
                p.detail = text("detail")
                    .or_else(|| text("error_description"))
                    .or_else(|| text("message"));
                if let Some(serde_json::Value::Array(items)) = o.get("detail") {
                    // FastAPI validation errors: [{loc, msg, type}]
                    let msgs: Vec<String> = items
                        .iter()
                        .map(|i| {
                            let loc = i
                                .get("loc")
                                .and_then(|l| l.as_array())
                                .map(|l| {
                                    l.iter()
                                        .map(|x| match x {
                                            serde_json::Value::String(s) => s.clone(),
                                            other => other.to_string(),
                                        })
                                        .collect::<Vec<_>>()
                                        .join(".")
                                })
                                .unwrap_or_default();
                            let msg = i.get("msg").and_then(|m| m.as_str()).unwrap_or("invalid");
                            clean(&if loc.is_empty() {
                                msg.to_string()
                            } else {
                                format!("{loc}: {msg}")
                            })
                        })
                        .collect();
                    p.violations = msgs;
                }
                if let Some(serde_json::Value::Array(v)) = o.get("violations") {
                    p.violations.extend(v.iter().map(|x| match x {
                        serde_json::Value::String(s) => clean(s),
                        other => clean(&other.to_string()),
                    }));
                }
            }
            _ => p.excerpt = excerpt(body),
        }
        p
    }
}

impl fmt::Display for Problem {
    /// "404 Pipelines not Found: detail (violations: a; b)".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.status)?;
        match (&self.title, &self.detail) {
            (Some(t), Some(d)) if t != d => write!(f, " {t}: {d}")?,
            (Some(t), _) => write!(f, " {t}")?,
            (None, Some(d)) => write!(f, " {d}")?,
            (None, None) => {
                if let Some(r) = reason(self.status) {
                    write!(f, " {r}")?;
                }
            }
        }
        if !self.violations.is_empty() {
            write!(f, " (violations: {})", self.violations.join("; "))?;
        }
        if let Some(e) = &self.excerpt {
            write!(f, " (body: {e})")?;
        }
        Ok(())
    }
}

fn reason(status: u16) -> Option<&'static str> {
    Some(match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        410 => "Gone",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => return None,
    })
}

/// Remote text made safe for one log line: control characters become spaces, and the
/// legacy `##[` command marker is broken up.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .replace("##[", "# #[")
}

/// The first 200 characters of a body, on one line; `None` when empty.
pub fn excerpt(body: &str) -> Option<String> {
    let c = clean(body);
    if c.is_empty() {
        return None;
    }
    let mut out: String = c.chars().take(200).collect();
    if c.chars().count() > 200 {
        out.push('…');
    }
    Some(out)
}

/// Why a request did not produce a usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// A 4xx that is not retried (or a second 401).
    Refused(Problem),
    /// A request that is not safe to repeat may or may not have been processed.
    Ambiguous(String),
    /// The server's TLS certificate is not trusted: retrying cannot help.
    Untrusted(String),
    /// The deadline passed while retrying; the last error, as a sentence.
    Deadline(String),
    /// A signal arrived.
    Interrupted(Signal),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Refused(p) => write!(f, "{p}"),
            HttpError::Ambiguous(m) => write!(f, "no usable reply ({m})"),
            HttpError::Untrusted(m) => write!(f, "the TLS certificate is not trusted ({m})"),
            HttpError::Deadline(m) => write!(f, "gave up at the deadline; last error: {m}"),
            HttpError::Interrupted(Signal::Int) => f.write_str("interrupted by SIGINT"),
            HttpError::Interrupted(Signal::Term) => f.write_str("interrupted by SIGTERM"),
        }
    }
}

/// How long a series of attempts may go on.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Stop retrying at this instant.
    pub deadline: Instant,
    /// Stop at once when a signal arrives (false for the cancel that follows a signal).
    pub interruptible: bool,
}

impl Budget {
    /// A budget ending at `deadline`, stopped by signals.
    pub fn until(deadline: Instant) -> Self {
        Self {
            deadline,
            interruptible: true,
        }
    }
}

/// Supplies the authorization header, and a fresh one after a 401.
pub trait Authorizer: Send + Sync {
    /// The header to send (`None`: no auth).
    fn header(&self, http: &Http, budget: Budget) -> Result<Option<(String, Secret)>, HttpError>;
    /// Forget the current credential after a 401. Returns whether a new one can be had.
    fn invalidate(&self) -> bool;
}

/// No authorization (for the token endpoint itself).
pub struct NoAuth;

impl Authorizer for NoAuth {
    fn header(&self, _: &Http, _: Budget) -> Result<Option<(String, Secret)>, HttpError> {
        Ok(None)
    }
    fn invalidate(&self) -> bool {
        false
    }
}

/// What one attempt gave.
enum Attempt {
    Reply(Response, Option<Duration>),
    /// Failed before the request could have reached the server.
    NotSent(String),
    /// Failed after the request may have reached the server.
    Lost(String),
    /// The TLS handshake failed on the certificate: nothing was sent, and nothing will be.
    Untrusted(String),
}

/// The retry-policy HTTP client. Cheap to clone; one connection pool (keep-alive).
#[derive(Clone)]
pub struct Http {
    agent: ureq::Agent,
    clock: Arc<dyn Clock>,
    /// First retry delay.
    pub retry_initial: Duration,
    /// Largest retry delay (when the server does not say).
    pub retry_max: Duration,
    /// Longest time one attempt may take (never past the budget's deadline either).
    pub attempt_timeout: Duration,
}

impl Http {
    /// A client on `clock`. Honours `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`; TLS is rustls
    /// with bundled roots.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            agent: agent(None),
            clock,
            retry_initial: Duration::from_millis(500),
            retry_max: Duration::from_secs(30),
            attempt_timeout: ATTEMPT_TIMEOUT,
        }
    }

    /// Trust exactly these root certificates (DER) instead of the bundled ones: for
    /// corporate proxies that inspect TLS (`ca-bundle` / `SSL_CERT_FILE`).
    pub fn with_root_certs(mut self, roots: &[Vec<u8>]) -> Self {
        let certs: Vec<ureq::tls::Certificate<'static>> = roots
            .iter()
            .map(|der| ureq::tls::Certificate::from_der(der).to_owned())
            .collect();
        self.agent = agent(Some(ureq::tls::RootCerts::new_with_certs(&certs)));
        self
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    fn backoff(&self) -> backoff::ExponentialBackoff {
        backoff::ExponentialBackoff {
            initial_interval: self.retry_initial,
            current_interval: self.retry_initial,
            randomization_factor: 0.3,
            multiplier: 2.0,
            max_interval: self.retry_max,
            max_elapsed_time: None,
            ..backoff::ExponentialBackoff::default()
        }
    }

    /// Send with the retry policy and read a JSON body of type `T`.
    pub fn json<T: DeserializeOwned>(
        &self,
        req: &Request,
        auth: &dyn Authorizer,
        budget: Budget,
    ) -> Result<T, HttpError> {
        self.send_with(req, auth, budget, |r| {
            serde_json::from_str::<T>(&r.body).map_err(|e| {
                format!(
                    "{} answered {} with a body that is not the JSON expected ({e}){}",
                    req.what,
                    r.status,
                    excerpt(&r.body)
                        .map(|x| format!(": {x}"))
                        .unwrap_or_default()
                )
            })
        })
    }

    /// Send with the retry policy; any 2xx is accepted whatever its body.
    pub fn send(
        &self,
        req: &Request,
        auth: &dyn Authorizer,
        budget: Budget,
    ) -> Result<Response, HttpError> {
        self.send_with(req, auth, budget, |r| Ok(r.clone()))
    }

    /// The policy. `accept` turns a 2xx into a value, or says why the body is unusable.
    fn send_with<T>(
        &self,
        req: &Request,
        auth: &dyn Authorizer,
        budget: Budget,
        accept: impl Fn(&Response) -> Result<T, String>,
    ) -> Result<T, HttpError> {
        let mut backoff = self.backoff();
        let mut refreshed = false;
        let mut last = String::from("the deadline had passed before it could be sent");
        loop {
            if budget.interruptible {
                if let Some(s) = self.clock.pending_signal() {
                    return Err(HttpError::Interrupted(s));
                }
            }
            let now = self.clock.now();
            if now >= budget.deadline {
                return Err(HttpError::Deadline(last));
            }
            let header = auth.header(self, budget)?;
            let remaining = budget.deadline - now;
            let (retry_after, problem) =
                match self.attempt(req, header, remaining.min(self.attempt_timeout)) {
                    Attempt::Reply(r, retry_after) => match r.status {
                        200..=299 => match accept(&r) {
                            Ok(v) => return Ok(v),
                            Err(m) if req.repeatable => (None, m),
                            Err(m) => return Err(HttpError::Ambiguous(m)),
                        },
                        401 if !refreshed && auth.invalidate() => {
                            refreshed = true;
                            log::debug!(
                                "{}: 401; fetching a new token and trying once more",
                                req.what
                            );
                            continue;
                        }
                        429 => (
                            retry_after,
                            format!(
                                "{} answered {}",
                                req.what,
                                Problem::parse(r.status, &r.body)
                            ),
                        ),
                        500..=599 => {
                            let m = format!(
                                "{} answered {}",
                                req.what,
                                Problem::parse(r.status, &r.body)
                            );
                            if !req.repeatable {
                                return Err(HttpError::Ambiguous(m));
                            }
                            (retry_after, m)
                        }
                        s => return Err(HttpError::Refused(Problem::parse(s, &r.body))),
                    },
                    Attempt::NotSent(m) => (None, format!("{} failed: {m}", req.what)),
                    Attempt::Untrusted(m) => return Err(HttpError::Untrusted(m)),
                    Attempt::Lost(m) => {
                        let m = format!("{} failed: {m}", req.what);
                        if !req.repeatable {
                            return Err(HttpError::Ambiguous(m));
                        }
                        (None, m)
                    }
                };
            last = problem;
            let delay = match retry_after {
                Some(d) => d,
                None => backoff.next_backoff().unwrap_or(self.retry_max),
            };
            let now = self.clock.now();
            if now + delay > budget.deadline {
                // Waiting would pass the deadline: give up now with what kept failing.
                return Err(HttpError::Deadline(last));
            }
            log::warn!(
                "{last}; retrying in {}",
                humantime::format_duration(round_ms(delay))
            );
            let wake = if budget.interruptible {
                self.clock.sleep(delay)
            } else {
                self.clock.pause(delay);
                Wake::Elapsed
            };
            if let Wake::Signal(s) = wake {
                return Err(HttpError::Interrupted(s));
            }
        }
    }

    /// One attempt, with its own timeouts.
    fn attempt(&self, req: &Request, header: Option<(String, Secret)>, limit: Duration) -> Attempt {
        log::debug!("{} {}", req.method, req.url);
        let limit = limit.max(Duration::from_millis(100));
        macro_rules! prepare {
            ($b:expr) => {{
                let mut b = $b
                    .config()
                    .timeout_global(Some(limit))
                    .build()
                    .query_pairs(req.query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                if let Some((name, value)) = &header {
                    b = b.header(name.as_str(), value.expose());
                }
                b
            }};
        }
        let result = match (&req.method, &req.body) {
            (Method::Get, _) => prepare!(self.agent.get(&req.url)).call(),
            (m, body) => {
                let b = match m {
                    Method::Post => prepare!(self.agent.post(&req.url)),
                    _ => prepare!(self.agent.patch(&req.url)),
                };
                match body {
                    Body::None => b.send_empty(),
                    Body::Json(v) => b.send_json(v),
                    Body::Form(pairs) => {
                        b.send_form(pairs.iter().map(|(k, v)| (k.as_str(), v.expose())))
                    }
                    Body::Multipart(parts) => {
                        use ureq::unversioned::multipart;
                        let mut form = multipart::Form::new();
                        for p in parts {
                            form = match p {
                                Part::Text(k, v) => form.text(k, v),
                                Part::File(k, path) => match multipart::Part::file(path) {
                                    Ok(f) => form.part(k, f.file_name(&upload_file_name(path))),
                                    Err(e) => {
                                        return Attempt::NotSent(format!(
                                            "cannot read {}: {e}",
                                            path.display()
                                        ));
                                    }
                                },
                            };
                        }
                        b.send(form)
                    }
                }
            }
        };
        match result {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, self.clock.wall()));
                match resp
                    .body_mut()
                    .with_config()
                    .limit(64 << 20)
                    .read_to_string()
                {
                    Ok(body) => Attempt::Reply(Response { status, body }, retry_after),
                    Err(e) => Attempt::Lost(format!("reading the reply: {e}")),
                }
            }
            Err(e) => classify(e),
        }
    }
}

/// The `filename` sent for an upload: the path's last component, with `"`, CR, LF and
/// other control characters percent-encoded as browsers do, so that a file name can never
/// end the quoted parameter or start a header of its own.
pub fn upload_file_name(path: &std::path::Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "upload".into());
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c == '"' || c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The one agent configuration: statuses are read, not errors; no redirects (a token must
/// not follow one); a connect timeout; keep-alive; proxies from the environment (ureq's
/// default); rustls with the bundled Mozilla roots unless `roots` says otherwise.
fn agent(roots: Option<ureq::tls::RootCerts>) -> ureq::Agent {
    let mut tls = ureq::tls::TlsConfig::builder();
    if let Some(r) = roots {
        tls = tls.root_certs(r);
    }
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(USER_AGENT)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .max_redirects(0)
        .max_idle_connections_per_host(4)
        .tls_config(tls.build())
        .build()
        .into()
}

/// The certificates (DER) in a PEM file; an error names what is wrong.
pub fn read_pem_certs(pem: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => out.push(c.der().to_vec()),
            Ok(_) => {}
            Err(e) => return Err(format!("it is not valid PEM ({e})")),
        }
    }
    if out.is_empty() {
        return Err("it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    Ok(out)
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

fn classify(e: ureq::Error) -> Attempt {
    use ureq::Error as E;
    use ureq::Timeout as T;
    match &e {
        E::HostNotFound | E::ConnectionFailed | E::Timeout(T::Connect | T::Resolve) => {
            Attempt::NotSent(e.to_string())
        }
        E::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            Attempt::NotSent(e.to_string())
        }
        // rustls reports a rejected certificate as an I/O error of the handshake, before
        // any of the request is sent.
        _ if e.to_string().contains("invalid peer certificate") => {
            Attempt::Untrusted(e.to_string())
        }
        _ => Attempt::Lost(e.to_string()),
    }
}

/// `Retry-After`: delay-seconds or an HTTP-date (relative to `now`).
pub fn parse_retry_after(v: &str, now: SystemTime) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_http_date(v)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
fn parse_http_date(v: &str) -> Option<SystemTime> {
    let rest = v.split_once(", ")?.1;
    let parts: Vec<&str> = rest.split_whitespace().collect();
    if parts.len() != 5 || parts[4] != "GMT" {
        return None;
    }
    let day: u64 = parts[0].parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[1])? as u64
        + 1;
    let year: i64 = parts[2].parse().ok()?;
    let hms: Vec<u64> = parts[3]
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    if hms.len() != 3 || !(1..=31).contains(&day) || hms[0] > 23 || hms[1] > 59 || hms[2] > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day)?;
    let secs = days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2];
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Days since 1970-01-01 for a civil date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u64, d: u64) -> Option<u64> {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    u64::try_from(era * 146_097 + doe - 719_468).ok()
}

#[cfg(test)]
mod tests;
