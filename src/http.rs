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
//! - A 429's `Retry-After` holds back every request of every clone of the client (one
//!   shared "not before" instant, [`Pace`]): several pipelines run side by side share one
//!   rate limit, so one told to wait makes the others wait with it.

use crate::clock::{Clock, Signal, Wake};
use crate::secret::Secret;
use backoff::backoff::Backoff;
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

mod encode;
mod pace;
mod problem;
mod request;

pub use encode::{enc, upload_file_name};
pub use pace::Pace;
pub use problem::{Problem, clean, excerpt};
pub use request::{Body, Method, Part, Request, Response};

/// `User-Agent` sent with every request.
pub const USER_AGENT: &str = concat!("pipeline-run/", env!("CARGO_PKG_VERSION"));
/// Connect timeout of one attempt.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest time one attempt may take from sending to the end of the body.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle connections kept alive per host: as many as requests go at once (the step pages).
pub const KEEP_ALIVE_PER_HOST: usize = 12;

/// Why a request did not produce a usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// A 4xx that is not retried (or a second 401).
    Refused(Problem),
    /// The token endpoint refused the client credentials (400 or 401): the request they
    /// were wanted for was never sent.
    CredentialsRefused(Problem),
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
            HttpError::CredentialsRefused(p) => {
                write!(f, "the token endpoint refused the credentials: {p}")
            }
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

/// Root certificates read when a TLS connection first needs them: the agent that trusts
/// them is built then, once, and shared by every clone of the client.
struct LazyRoots {
    load: Box<dyn Fn() -> Result<Vec<Vec<u8>>, String> + Send + Sync>,
    agent: OnceLock<Result<ureq::Agent, String>>,
}

/// The retry-policy HTTP client. Cheap to clone; one connection pool (keep-alive) and
/// one [`Pace`], shared by every clone.
#[derive(Clone)]
pub struct Http {
    agent: ureq::Agent,
    pace: Arc<Pace>,
    /// Set: `https://` requests go through the agent built from these roots.
    roots: Option<Arc<LazyRoots>>,
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
            pace: Arc::default(),
            roots: None,
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
        self.roots = None;
        self
    }

    /// Trust exactly the root certificates (DER) that `load` gives, instead of the bundled
    /// ones, for `https://` requests; `load` is called when the first of them is sent, and
    /// only then. When it fails, that request and every later `https://` one fail at once
    /// with [`HttpError::Untrusted`] carrying its message (nothing is sent).
    pub fn with_lazy_roots(
        mut self,
        load: impl Fn() -> Result<Vec<Vec<u8>>, String> + Send + Sync + 'static,
    ) -> Self {
        self.roots = Some(Arc::new(LazyRoots {
            load: Box::new(load),
            agent: OnceLock::new(),
        }));
        self
    }

    /// The agent for `url`: the one with the lazy roots for `https://`, built on first use.
    fn agent_for(&self, url: &str) -> Result<&ureq::Agent, String> {
        let tls = url
            .get(..8)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"));
        match &self.roots {
            Some(lazy) if tls => lazy
                .agent
                .get_or_init(|| {
                    let roots = (lazy.load)()?;
                    let certs: Vec<ureq::tls::Certificate<'static>> = roots
                        .iter()
                        .map(|der| ureq::tls::Certificate::from_der(der).to_owned())
                        .collect();
                    Ok(agent(Some(ureq::tls::RootCerts::new_with_certs(&certs))))
                })
                .as_ref()
                .map_err(String::clone),
            _ => Ok(&self.agent),
        }
    }

    /// The same client (connections, pace, roots) on another clock: a pipeline run beside
    /// others sleeps on a clock of its own, which its supervisor can stop.
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        Self { clock, ..self }
    }

    /// The shared pace.
    pub fn pace(&self) -> &Pace {
        &self.pace
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
            // A 429 told every request to wait: this one waits too, when that fits.
            if let Some(left) = self.pace.left(now).filter(|l| now + *l <= budget.deadline) {
                log::debug!(
                    "{}: waiting {} (the platform's Retry-After)",
                    req.what,
                    humantime::format_duration(round_ms(left))
                );
                let wake = if budget.interruptible {
                    self.clock.sleep(left)
                } else {
                    self.clock.pause(left);
                    Wake::Elapsed
                };
                if let Wake::Signal(s) = wake {
                    return Err(HttpError::Interrupted(s));
                }
                continue;
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
                            retry_after.inspect(|d| self.pace.hold_until(self.clock.now() + *d)),
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
        let agent = match self.agent_for(&req.url) {
            Ok(a) => a,
            Err(m) => return Attempt::Untrusted(m),
        };
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
            (Method::Get, _) => prepare!(agent.get(&req.url)).call(),
            (m, body) => {
                let b = match m {
                    Method::Post => prepare!(agent.post(&req.url)),
                    _ => prepare!(agent.patch(&req.url)),
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
        .max_idle_connections_per_host(KEEP_ALIVE_PER_HOST)
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
    let at = crate::timefmt::parse_http_date(v)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests;
