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
//! - A 2xx whose body is still not the JSON expected after a lenient reading
//!   ([`crate::lenient`]) is retried [`UNUSABLE_BODY_ATTEMPTS`] times at most, not until the
//!   deadline.
//! - A `Retry-After` longer than the time left is waited out until the deadline (never a
//!   reason to stop sooner); a computed backoff never exceeds [`Http::retry_max`].
//! - Connection failures to a host that has never answered (a typo in a URL, no network)
//!   are retried for [`CONNECT_WINDOW`] only, then [`HttpError::Unreachable`] names the host.
//! - A redirect is not followed (a token must not go to another origin): it is a refusal
//!   that says where it points.
//! - No reply text is echoed without [`crate::redact`]; the token endpoint's replies are
//!   never echoed at all ([`Http::secret_reply`]).
//! - A 429's `Retry-After` holds back every request of every clone of the client (one
//!   shared "not before" instant, [`Pace`]): several pipelines run side by side share one
//!   rate limit, so one told to wait makes the others wait with it.

use crate::clock::{Clock, Signal, Wake};
use crate::secret::Secret;
use backoff::backoff::Backoff;
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

mod encode;
mod pace;
mod problem;
pub(crate) mod proxy;
mod request;

pub(crate) use encode::{enc, upload_file_name};
pub(crate) use pace::Pace;
pub(crate) use problem::{Problem, clean, excerpt};
pub(crate) use request::{Body, Method, Part, Request, Response};

/// `User-Agent` sent with every request.
pub(crate) const USER_AGENT: &str = concat!("pipeline-run/", env!("CARGO_PKG_VERSION"));
/// Connect timeout of one attempt.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest time one attempt may take from sending to the end of the body.
pub(crate) const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle connections kept alive per host: as many as requests go at once (the step pages).
pub(crate) const KEEP_ALIVE_PER_HOST: usize = 12;
/// How many 2xx replies in a row whose body cannot be used a request gets before it gives
/// up ([`HttpError::Unusable`]): the same bytes will not read differently in an hour.
pub(crate) const UNUSABLE_BODY_ATTEMPTS: u32 = 4;
/// How long connection failures (refused, DNS, connect timeout) to a host that has not
/// answered once are retried before [`HttpError::Unreachable`]: a typo in a URL or a
/// missing network does not heal, and nothing can have been triggered there yet. (The
/// binary takes it from `Timings::connect_window`, the same value.)
pub(crate) const CONNECT_WINDOW: Duration = Duration::from_secs(120);
/// The largest reply body read; a longer one is a lost reply.
pub(crate) const MAX_BODY: u64 = 8 << 20;

/// Why a request did not produce a usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HttpError {
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
    /// A 2xx whose body could not be used, [`UNUSABLE_BODY_ATTEMPTS`] times in a row.
    Unusable(String),
    /// A host that never answered could not be connected to for [`CONNECT_WINDOW`]: a
    /// sentence naming it.
    Unreachable(String),
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
            HttpError::Unusable(m) => write!(f, "no usable reply ({m})"),
            HttpError::Unreachable(m) => f.write_str(m),
        }
    }
}

/// How long a series of attempts may go on.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Stop retrying at this instant.
    pub(crate) deadline: Instant,
    /// Stop at once when a signal arrives (false for the cancel that follows a signal).
    pub(crate) interruptible: bool,
}

impl Budget {
    /// A budget ending at `deadline`, stopped by signals.
    pub(crate) fn until(deadline: Instant) -> Self {
        Self {
            deadline,
            interruptible: true,
        }
    }
}

/// Supplies the authorization header, and a fresh one after a 401.
pub(crate) trait Authorizer: Send + Sync {
    /// The header to send (`None`: no auth).
    fn header(&self, http: &Http, budget: Budget) -> Result<Option<(String, Secret)>, HttpError>;
    /// Forget the current credential after a 401. Returns whether a new one can be had.
    fn invalidate(&self) -> bool;
    /// What to say when a request is refused with 401 and no new credential can be had.
    fn refusal_hint(&self) -> Option<&'static str> {
        None
    }
}

/// No authorization (for the token endpoint itself).
pub(crate) struct NoAuth;

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
    /// The reply's body is longer than [`MAX_BODY`]: the same reply will be as long again,
    /// so it counts as an unusable body (retried a few times, not until the deadline).
    TooLarge(String),
}

/// Root certificates read when a TLS connection first needs them: the agent that trusts
/// them is built then, once, and shared by every clone of the client.
struct LazyRoots {
    load: Box<dyn Fn() -> Result<Vec<Vec<u8>>, String> + Send + Sync>,
    agents: OnceLock<Result<Agents, String>>,
}

/// The agents of one trust store: direct, and through the proxy when one is set.
#[derive(Clone)]
struct Agents {
    direct: ureq::Agent,
    proxied: Option<ureq::Agent>,
}

impl Agents {
    fn new(roots: Option<ureq::tls::RootCerts>, proxy: &proxy::ProxyEnv) -> Self {
        Self {
            direct: agent(roots.clone(), None),
            proxied: proxied_agent(proxy, roots),
        }
    }

    /// The agent for `url`: through the proxy unless `NO_PROXY` (or no proxy) says not.
    fn pick(&self, proxy: &proxy::ProxyEnv, url: &str) -> &ureq::Agent {
        match &self.proxied {
            Some(p) if proxy.proxied(url) => p,
            _ => &self.direct,
        }
    }
}

/// Root certificates (DER) as the TLS layer takes them.
fn root_certs(roots: &[Vec<u8>]) -> ureq::tls::RootCerts {
    let certs: Vec<ureq::tls::Certificate<'static>> = roots
        .iter()
        .map(|der| ureq::tls::Certificate::from_der(der).to_owned())
        .collect();
    ureq::tls::RootCerts::new_with_certs(&certs)
}

/// The retry-policy HTTP client. Cheap to clone; one connection pool (keep-alive) and
/// one [`Pace`], shared by every clone.
#[derive(Clone)]
pub struct Http {
    /// Direct connections, and through the proxy when one is set.
    agents: Agents,
    /// Set: `https://` requests go through the agents built from these roots.
    pace: Arc<Pace>,
    roots: Option<Arc<LazyRoots>>,
    proxy: Arc<proxy::ProxyEnv>,
    /// Origins (`scheme://host:port`) that have answered at least once.
    reached: Arc<Mutex<Vec<String>>>,
    clock: Arc<dyn Clock>,
    /// First retry delay.
    pub(crate) retry_initial: Duration,
    /// Largest retry delay (when the server does not say).
    pub(crate) retry_max: Duration,
    /// Longest time one attempt may take (never past the budget's deadline either).
    pub attempt_timeout: Duration,
    /// How long connection failures to a host that never answered are retried.
    pub(crate) connect_window: Duration,
}

impl Http {
    /// A client on `clock`. Honours `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`; TLS is rustls
    /// with bundled roots.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_proxy_env(
            clock,
            proxy::ProxyEnv::from_lookup(&|k| std::env::var(k).ok()),
        )
    }

    /// A client on `clock` with these proxy settings.
    pub(crate) fn with_proxy_env(clock: Arc<dyn Clock>, proxy_env: proxy::ProxyEnv) -> Self {
        let proxy = Arc::new(proxy_env);
        Self {
            agents: Agents::new(None, &proxy),
            pace: Arc::default(),
            roots: None,
            proxy,
            reached: Arc::new(Mutex::new(Vec::new())),
            clock,
            retry_initial: Duration::from_millis(500),
            retry_max: Duration::from_secs(30),
            attempt_timeout: ATTEMPT_TIMEOUT,
            connect_window: CONNECT_WINDOW,
        }
    }

    /// Trust exactly the root certificates (DER) that `load` gives, instead of the bundled
    /// ones, for `https://` requests; `load` is called when the first of them is sent, and
    /// only then. When it fails, that request and every later `https://` one fail at once
    /// with [`HttpError::Untrusted`] carrying its message (nothing is sent).
    pub(crate) fn with_lazy_roots(
        mut self,
        load: impl Fn() -> Result<Vec<Vec<u8>>, String> + Send + Sync + 'static,
    ) -> Self {
        self.roots = Some(Arc::new(LazyRoots {
            load: Box::new(load),
            agents: OnceLock::new(),
        }));
        self
    }

    /// The agent for `url`: the ones with the lazy roots for `https://` (built on first
    /// use), direct or through the proxy as `NO_PROXY` says.
    fn agent_for(&self, url: &str) -> Result<&ureq::Agent, String> {
        let tls = url
            .get(..8)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"));
        let agents = match &self.roots {
            Some(lazy) if tls => lazy
                .agents
                .get_or_init(|| {
                    let roots = (lazy.load)()?;
                    Ok(Agents::new(Some(root_certs(&roots)), &self.proxy))
                })
                .as_ref()
                .map_err(String::clone)?,
            _ => &self.agents,
        };
        Ok(agents.pick(&self.proxy, url))
    }

    /// The same client (connections, pace, roots) on another clock: a pipeline run beside
    /// others sleeps on a clock of its own, which its supervisor can stop.
    pub(crate) fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        Self { clock, ..self }
    }

    /// The clock.
    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
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
    pub(crate) fn json<T: DeserializeOwned>(
        &self,
        req: &Request,
        auth: &dyn Authorizer,
        budget: Budget,
    ) -> Result<T, HttpError> {
        self.send_with(req, auth, budget, false, |r| {
            crate::lenient::parse::<T>(&r.body).map_err(|e| {
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

    /// [`Http::json`], with a fingerprint of the body and its length: for paging, to see
    /// a page that repeats an earlier one and to bound what a list may cost.
    pub(crate) fn json_page<T: DeserializeOwned>(
        &self,
        req: &Request,
        auth: &dyn Authorizer,
        budget: Budget,
    ) -> Result<(T, u64, usize), HttpError> {
        self.send_with(req, auth, budget, false, |r| {
            let v = crate::lenient::parse::<T>(&r.body).map_err(|e| {
                format!(
                    "{} answered {} with a body that is not the JSON expected ({e}){}",
                    req.what,
                    r.status,
                    excerpt(&r.body)
                        .map(|x| format!(": {x}"))
                        .unwrap_or_default()
                )
            })?;
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            r.body.hash(&mut h);
            Ok((v, h.finish(), r.body.len()))
        })
    }

    /// Send with the retry policy; any 2xx is accepted whatever its body.
    pub(crate) fn send(
        &self,
        req: &Request,
        auth: &dyn Authorizer,
        budget: Budget,
    ) -> Result<Response, HttpError> {
        self.send_with(req, auth, budget, false, |r| Ok(r.clone()))
    }

    /// Send `req` (without authorization) when its reply holds a secret (the token
    /// endpoint): no part of a reply body is ever put in a message, only the status (and
    /// an OAuth `error` code). `accept` reads a 2xx; its error must not quote the body.
    pub(crate) fn secret_reply<T>(
        &self,
        req: &Request,
        budget: Budget,
        accept: impl Fn(&Response) -> Result<T, String>,
    ) -> Result<T, HttpError> {
        self.send_with(req, &NoAuth, budget, true, accept)
    }

    fn mark_reached(&self, origin: &str) {
        let mut r = self.reached.lock().unwrap_or_else(|e| e.into_inner());
        if !r.iter().any(|o| o == origin) && r.len() < 64 {
            r.push(origin.to_string());
        }
    }

    fn has_reached(&self, origin: &str) -> bool {
        let r = self.reached.lock().unwrap_or_else(|e| e.into_inner());
        r.iter().any(|o| o == origin)
    }

    /// The policy. `accept` turns a 2xx into a value, or says why the body is unusable.
    /// With `secret_reply`, no reply body is quoted in any message.
    fn send_with<T>(
        &self,
        req: &Request,
        auth: &dyn Authorizer,
        budget: Budget,
        secret_reply: bool,
        accept: impl Fn(&Response) -> Result<T, String>,
    ) -> Result<T, HttpError> {
        let mut backoff = self.backoff();
        let mut refreshed = false;
        let mut unusable = 0u32;
        // Since when connecting to a host that never answered has been failing.
        let mut unreached_since: Option<Instant> = None;
        let origin = origin(&req.url);
        let describe = |r: &Response| -> String {
            if secret_reply {
                Problem::oauth(r.status, &r.body).to_string()
            } else {
                Problem::parse(r.status, &r.body).to_string()
            }
        };
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
            // Fetching a token takes time: a signal that came meanwhile stops this request
            // before it is sent (nothing new starts after a signal).
            if budget.interruptible {
                if let Some(s) = self.clock.pending_signal() {
                    return Err(HttpError::Interrupted(s));
                }
            }
            let now = self.clock.now();
            if now >= budget.deadline {
                return Err(HttpError::Deadline(last));
            }
            let remaining = budget.deadline - now;
            let (retry_after, problem) = match self.attempt(
                req,
                header,
                remaining.min(self.attempt_timeout),
            ) {
                Attempt::Reply(r, retry_after) => {
                    self.mark_reached(&origin);
                    match r.status {
                        200..=299 => match accept(&r) {
                            Ok(v) => return Ok(v),
                            Err(m) if req.repeatable => {
                                unusable += 1;
                                if unusable >= UNUSABLE_BODY_ATTEMPTS {
                                    return Err(HttpError::Unusable(format!(
                                        "{m}; {unusable} replies in a row could not be used"
                                    )));
                                }
                                (None, m)
                            }
                            Err(m) => return Err(HttpError::Ambiguous(m)),
                        },
                        300..=399 => {
                            return Err(HttpError::Refused(Problem::redirect(
                                r.status,
                                r.location.as_deref(),
                            )));
                        }
                        401 if !refreshed && auth.invalidate() => {
                            refreshed = true;
                            log::debug!(
                                "{}: 401; fetching a new token and trying once more",
                                req.what
                            );
                            continue;
                        }
                        401 if !secret_reply => {
                            let mut p = Problem::parse(401, &r.body);
                            p.hint = auth.refusal_hint();
                            return Err(HttpError::Refused(p));
                        }
                        429 => (
                            retry_after.inspect(|d| self.pace.hold_until(self.clock.now() + *d)),
                            format!("{} answered {}", req.what, describe(&r)),
                        ),
                        500..=599 => {
                            let m = format!("{} answered {}", req.what, describe(&r));
                            if !req.repeatable {
                                return Err(HttpError::Ambiguous(m));
                            }
                            (retry_after, m)
                        }
                        s if secret_reply => {
                            return Err(HttpError::Refused(Problem::oauth(s, &r.body)));
                        }
                        s => return Err(HttpError::Refused(Problem::parse(s, &r.body))),
                    }
                }
                Attempt::NotSent(m) => {
                    let m = format!("{} failed: {m}", req.what);
                    if !self.has_reached(&origin) {
                        let since = *unreached_since.get_or_insert(now);
                        let tried = self.clock.now().saturating_duration_since(since);
                        if tried >= self.connect_window {
                            return Err(HttpError::Unreachable(format!(
                                "could not connect to {} for {} ({m}); it has not answered once, so this does not look like something that heals by waiting: check the URL and the network",
                                clean(&origin),
                                humantime::format_duration(round_s(tried))
                            )));
                        }
                    }
                    (None, m)
                }
                Attempt::Untrusted(m) => return Err(HttpError::Untrusted(m)),
                Attempt::Lost(m) => {
                    let m = format!("{} failed: {m}", req.what);
                    if !req.repeatable {
                        return Err(HttpError::Ambiguous(m));
                    }
                    (None, m)
                }
                Attempt::TooLarge(m) => {
                    self.mark_reached(&origin);
                    let m = format!("{}: {m}", req.what);
                    if !req.repeatable {
                        return Err(HttpError::Ambiguous(m));
                    }
                    unusable += 1;
                    if unusable >= UNUSABLE_BODY_ATTEMPTS {
                        return Err(HttpError::Unusable(format!(
                            "{m}; {unusable} replies in a row could not be used"
                        )));
                    }
                    (None, m)
                }
            };
            last = problem;
            let now = self.clock.now();
            let delay = match retry_after {
                Some(asked) => {
                    if now + asked > budget.deadline {
                        // The platform asked to wait longer than the time left. A rate
                        // limit is no reason to stop before the deadline: wait until it,
                        // then stop there, saying what was asked.
                        let m = format!(
                            "{last}; the platform asked to wait {} (Retry-After), longer than the time left",
                            humantime::format_duration(round_ms(asked))
                        );
                        log::warn!(
                            "{m}: waiting until the deadline, {} from now",
                            humantime::format_duration(round_ms(budget.deadline - now))
                        );
                        if let Wake::Signal(s) = self.wait(budget, budget.deadline - now) {
                            return Err(HttpError::Interrupted(s));
                        }
                        return Err(HttpError::Deadline(m));
                    }
                    asked
                }
                // The jitter never stretches a wait past the documented maximum.
                None => backoff
                    .next_backoff()
                    .unwrap_or(self.retry_max)
                    .min(self.retry_max),
            };
            // A host that never answered gets one last attempt at the end of its window.
            let delay = match unreached_since {
                Some(since) if !self.has_reached(&origin) => {
                    let window_end = since + self.connect_window;
                    delay.min(window_end.saturating_duration_since(now))
                }
                _ => delay,
            };
            if now + delay > budget.deadline {
                // Waiting would pass the deadline: give up now with what kept failing.
                return Err(HttpError::Deadline(last));
            }
            log::warn!(
                "{last}; retrying in {}",
                humantime::format_duration(round_ms(delay))
            );
            if let Wake::Signal(s) = self.wait(budget, delay) {
                return Err(HttpError::Interrupted(s));
            }
        }
    }

    /// Sleep `d`: woken by a signal when the budget is interruptible.
    fn wait(&self, budget: Budget, d: Duration) -> Wake {
        if budget.interruptible {
            self.clock.sleep(d)
        } else {
            self.clock.pause(d);
            Wake::Elapsed
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
                let location = resp
                    .headers()
                    .get("location")
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
                match resp.body_mut().with_config().limit(MAX_BODY).read_to_vec() {
                    Ok(bytes) => Attempt::Reply(
                        Response {
                            status,
                            body: crate::lenient::text(bytes),
                            location,
                        },
                        retry_after,
                    ),
                    Err(ureq::Error::BodyExceedsLimit(_)) => Attempt::TooLarge(format!(
                        "the reply ({status}) is longer than {} MB, the most read",
                        MAX_BODY >> 20
                    )),
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
fn agent(roots: Option<ureq::tls::RootCerts>, proxy: Option<ureq::Proxy>) -> ureq::Agent {
    let mut tls = ureq::tls::TlsConfig::builder();
    if let Some(r) = roots {
        tls = tls.root_certs(r);
    }
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(USER_AGENT)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .max_redirects(0)
        .max_idle_connections(KEEP_ALIVE_PER_HOST)
        .max_idle_connections_per_host(KEEP_ALIVE_PER_HOST)
        .tls_config(tls.build())
        .proxy(proxy)
        .build()
        .into()
}

/// The agent for proxied requests, when a proxy is set (`NO_PROXY` is decided per
/// request, by [`proxy::ProxyEnv::proxied`]).
fn proxied_agent(p: &proxy::ProxyEnv, roots: Option<ureq::tls::RootCerts>) -> Option<ureq::Agent> {
    let proxy = ureq::Proxy::new(p.proxy.as_deref()?).ok()?;
    Some(agent(roots, Some(proxy)))
}

/// `scheme://host[:port]` of a URL, lower-cased: what "the same origin" compares.
pub(crate) fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    format!("{scheme}://{authority}").to_ascii_lowercase()
}

/// The certificates (DER) in a PEM file; an error names what is wrong.
pub(crate) fn read_pem_certs(pem: &[u8]) -> Result<Vec<Vec<u8>>, String> {
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

fn round_s(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
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
pub(crate) fn parse_retry_after(v: &str, now: SystemTime) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = crate::timefmt::parse_http_date(v)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests;
