//! Matillion authentication: a ready bearer token, or OAuth client credentials exchanged
//! for a token that is fetched again before it expires and after a 401. Tokens are
//! [`Secret`]s: they never reach a log line, an error or a report. Clones share one token
//! (and fetch one at a time), so pipelines run side by side ask for one token, not one each.

use crate::http::{Authorizer, Body, Budget, Http, HttpError, Method, NoAuth, Request};
use crate::secret::Secret;
use serde::Deserialize;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Lifetime assumed when the token endpoint does not say (`expires_in` absent).
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// A token is replaced this long before it expires (at most; a quarter of its life for
/// short-lived tokens).
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Called with each newly fetched token (on GitHub: `::add-mask::`).
pub type TokenHook = Arc<dyn Fn(&Secret) + Send + Sync>;

#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    #[serde(default)]
    expires_in: Option<f64>,
}

/// Bearer tokens for Matillion. Cheap to clone; clones share the token.
#[derive(Clone)]
pub struct BearerAuth {
    source: Source,
    cached: Arc<Mutex<Option<(Secret, Instant)>>>,
    /// Whether a token is being fetched: the others wait for it rather than fetch their own.
    fetching: Arc<(Mutex<bool>, Condvar)>,
    on_new_token: TokenHook,
}

/// While a clone waits for another's fetch, how often it looks at its budget and signals.
const FETCH_WAIT_STEP: Duration = Duration::from_millis(50);

/// This clone's turn to fetch a token; the next waiting clone gets it on drop.
struct Turn<'a>(Option<&'a (Mutex<bool>, Condvar)>);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if let Some((busy, cond)) = self.0 {
            *busy.lock().unwrap_or_else(|e| e.into_inner()) = false;
            cond.notify_all();
        }
    }
}

#[derive(Clone)]
enum Source {
    Static(Secret),
    Client {
        client_id: Secret,
        client_secret: Secret,
        token_url: String,
    },
}

impl BearerAuth {
    /// A ready token.
    pub fn token(token: Secret) -> Self {
        Self {
            source: Source::Static(token),
            cached: Arc::default(),
            fetching: Arc::default(),
            on_new_token: Arc::new(|_| {}),
        }
    }

    /// Client credentials exchanged at `token_url`.
    pub fn client_credentials(client_id: Secret, client_secret: Secret, token_url: String) -> Self {
        Self {
            source: Source::Client {
                client_id,
                client_secret,
                token_url,
            },
            cached: Arc::default(),
            fetching: Arc::default(),
            on_new_token: Arc::new(|_| {}),
        }
    }

    /// Call `hook` with every token fetched.
    pub fn with_hook(mut self, hook: TokenHook) -> Self {
        self.on_new_token = hook;
        self
    }

    /// Wait while another clone fetches a token (within `budget`; past it, or on a signal,
    /// this one fetches its own), then take the turn.
    fn turn(&self, http: &Http, budget: Budget) -> Turn<'_> {
        let (busy, cond) = &*self.fetching;
        let mut fetching = busy.lock().unwrap_or_else(|e| e.into_inner());
        while *fetching {
            let clock = http.clock();
            if clock.now() >= budget.deadline
                || (budget.interruptible && clock.pending_signal().is_some())
            {
                return Turn(None);
            }
            fetching = cond
                .wait_timeout(fetching, FETCH_WAIT_STEP)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *fetching = true;
        Turn(Some(&self.fetching))
    }

    /// The cached token while it is fresh.
    fn fresh(&self, http: &Http) -> Option<Secret> {
        let cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        cached
            .as_ref()
            .filter(|(_, refresh_at)| http.clock().now() < *refresh_at)
            .map(|(t, _)| bearer(t))
    }

    fn fetch(
        &self,
        http: &Http,
        budget: Budget,
        client_id: &Secret,
        client_secret: &Secret,
        token_url: &str,
    ) -> Result<(Secret, Instant), HttpError> {
        let req = Request {
            method: Method::Post,
            url: token_url.to_string(),
            query: Vec::new(),
            body: Body::Form(vec![
                ("grant_type".into(), Secret::new("client_credentials")),
                ("client_id".into(), client_id.clone()),
                ("client_secret".into(), client_secret.clone()),
                ("audience".into(), Secret::new("https://api.matillion.com")),
            ]),
            // Asking for a token twice is harmless.
            repeatable: true,
            what: "the token endpoint".into(),
        };
        let reply: TokenReply = http.json(&req, &NoAuth, budget).map_err(|e| match e {
            // OAuth answers bad client credentials with 400 (`invalid_client`) or 401.
            HttpError::Refused(p) if p.status == 400 || p.status == 401 => {
                HttpError::CredentialsRefused(p)
            }
            HttpError::Refused(p) => HttpError::Refused(crate::http::Problem {
                title: Some(format!(
                    "authentication failed: the token endpoint refused the token request{}",
                    p.title
                        .as_ref()
                        .map(|t| format!(" ({t})"))
                        .unwrap_or_default()
                )),
                detail: p.detail,
                ..p
            }),
            other => other,
        })?;
        let token = Secret::new(reply.access_token);
        (self.on_new_token)(&token);
        let life = reply
            .expires_in
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(DEFAULT_TOKEN_LIFETIME);
        let margin = REFRESH_MARGIN.min(life / 4);
        let refresh_at = http.clock().now() + (life - margin);
        log::debug!(
            "fetched a token valid for {}; it will be replaced after {}",
            humantime::format_duration(life),
            humantime::format_duration(life - margin)
        );
        Ok((token, refresh_at))
    }
}

impl Authorizer for BearerAuth {
    fn header(&self, http: &Http, budget: Budget) -> Result<Option<(String, Secret)>, HttpError> {
        let (client_id, client_secret, token_url) = match &self.source {
            Source::Static(t) => {
                return Ok(Some(("Authorization".into(), bearer(t))));
            }
            Source::Client {
                client_id,
                client_secret,
                token_url,
            } => (client_id, client_secret, token_url),
        };
        if let Some(t) = self.fresh(http) {
            return Ok(Some(("Authorization".into(), t)));
        }
        // One fetch at a time: a clone that waited uses the token just fetched. The cache
        // is not locked meanwhile, and a wait for another's fetch is bounded by the budget.
        let _turn = self.turn(http, budget);
        if let Some(t) = self.fresh(http) {
            return Ok(Some(("Authorization".into(), t)));
        }
        let fresh = self.fetch(http, budget, client_id, client_secret, token_url)?;
        let header = bearer(&fresh.0);
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = Some(fresh);
        Ok(Some(("Authorization".into(), header)))
    }

    fn invalidate(&self) -> bool {
        match self.source {
            Source::Static(_) => false,
            Source::Client { .. } => {
                *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = None;
                true
            }
        }
    }
}

fn bearer(t: &Secret) -> Secret {
    Secret::new(format!("Bearer {}", t.expose()))
}

/// Datalab's `X-API-Key`.
pub struct ApiKeyAuth(pub Secret);

impl Authorizer for ApiKeyAuth {
    fn header(&self, _: &Http, _: Budget) -> Result<Option<(String, Secret)>, HttpError> {
        Ok(Some(("X-API-Key".into(), self.0.clone())))
    }
    fn invalidate(&self) -> bool {
        false
    }
}
