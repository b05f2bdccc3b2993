//! The HTTP layer: one retry policy for every request.
//!
//! - Retried, with exponential backoff and jitter, until the budget's deadline: connection
//!   errors, timeouts, 5xx (whatever the body), 429, and a 2xx whose body is not the JSON
//!   expected. `Retry-After` (seconds or HTTP-date) is honoured, with a floor: `0`, a
//!   negative value or a date already past is no hint (the backoff decides), and a hint is
//!   never shorter than the backoff's current step.
//! - A failure repeated is logged once when it starts and once when its streak ends, with
//!   its count ("… (37 times in 12s)"), not once per attempt.
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
//! - Every request of every clone of the client goes through one request budget, a token
//!   bucket ([`Bucket`], `http/bucket.rs`): `rate-limit` requests a minute, in bursts of at
//!   most 4, one after the other; a 429 lowers the rate for the whole process (and it
//!   recovers slowly), and its `Retry-After` holds back every request: several pipelines
//!   run side by side share one rate limit. A cancel, and the clean-up after a signal,
//!   never wait for a token.
//!
//! Here: the client ([`Http`]), its errors, its budget and its entry points. The decision
//! after a failed attempt is a pure function in `http/decide.rs`, the loop around it in
//! `http/retry.rs`, the streaks of failures in `http/streak.rs`, one attempt on the wire
//! in `http/attempt.rs`,
//! the agents and the TLS roots they trust in `http/agents.rs`, the request budget in
//! `http/bucket.rs`.

use crate::clock::{Clock, Signal};
use crate::secret::Secret;
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod agents;
mod attempt;
mod bucket;
mod decide;
mod encode;
mod problem;
pub(crate) mod proxy;
mod request;
mod retry;
mod streak;

pub(crate) use agents::read_pem_certs;
use agents::{Agents, LazyRoots};
pub(crate) use bucket::{Bucket, Limit};
pub(crate) use encode::{enc, upload_file_name};
pub(crate) use problem::{Problem, clean, excerpt};
pub(crate) use request::{Body, Method, Part, Request, Response, Upload};
pub(crate) use streak::Streaks;

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

/// The retry-policy HTTP client. Cheap to clone; one connection pool (keep-alive) and
/// one request budget ([`Bucket`]), shared by every clone.
#[derive(Clone)]
pub struct Http {
    /// Direct connections, and through the proxy when one is set.
    agents: Agents,
    /// The request budget of the whole process.
    bucket: Arc<Bucket>,
    /// The current streak of each request's failures (its own for each clock: each
    /// pipeline run beside others).
    streaks: Arc<Streaks>,
    /// Set: `https://` requests go through the agents built from these roots.
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
            bucket: Arc::default(),
            streaks: Arc::default(),
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
        self.roots = Some(Arc::new(LazyRoots::new(load)));
        self
    }

    /// The same client (connections, request budget, roots) on another clock: a pipeline run beside
    /// others sleeps on a clock of its own, which its supervisor can stop.
    pub(crate) fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            streaks: Arc::default(),
            ..self
        }
    }

    /// The clock.
    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Hold every request of every clone to `limit` (the same again changes nothing).
    pub(crate) fn limit_rate(&self, limit: Limit) {
        self.bucket.limit(limit);
    }

    /// How many requests the platform rejected with 429, over every clone.
    pub(crate) fn rejected_requests(&self) -> u64 {
        self.bucket.rejected_count()
    }

    /// The request budget's rate now, requests a minute (`rate-limit`, or what 429s
    /// lowered it to); `None` without a budget.
    pub(crate) fn rate_now(&self) -> Option<f64> {
        self.bucket.rate_now(self.clock.now())
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
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_bucket;
