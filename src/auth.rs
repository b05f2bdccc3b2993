//! Matillion authentication: a ready bearer token, or OAuth client credentials exchanged
//! for a token that is fetched again before it expires and after a 401. Tokens are
//! [`Secret`]s: they never reach a log line, an error or a report. Every token (and the
//! client secret) is also registered with [`crate::redact`], so that a server quoting it
//! back cannot put it in a message; and the token endpoint's replies are never quoted at
//! all. The token reply is read leniently: `access_token` or `accessToken`, `expires_in`
//! as a number or a numeric string, JSON or form-encoded.
//! Clones share one token (and fetch one at a time), so pipelines run side by side ask
//! for one token, not one each.

use crate::http::{Authorizer, Body, Budget, Http, HttpError, Method, Request};
use crate::secret::Secret;
use serde_json::Value;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Lifetime assumed when the token endpoint does not say (`expires_in` absent).
pub(crate) const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// A token is replaced this long before it expires (at most; a quarter of its life for
/// short-lived tokens).
pub(crate) const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// How long a fixed `access-token` usually lives: a `timeout` longer than this gets a
/// warning at the start.
pub(crate) const FIXED_TOKEN_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// What is said when a fixed `access-token` is refused (401), and, at the start, when the
/// timeout is longer than such a token usually lives.
pub(crate) const FIXED_TOKEN_NOTE: &str = "a fixed access-token usually lives 30 minutes and cannot be renewed by this program; give client-id and client-secret instead: tokens from client credentials are renewed before they expire";

/// What a refused (401) fixed `access-token` adds to the refusal.
pub(crate) const FIXED_TOKEN_REFUSED: &str = "the access-token was refused: it may have expired (a fixed access-token usually lives 30 minutes and cannot be renewed by this program; give client-id and client-secret instead: tokens from client credentials are renewed before they expire)";

/// Called with each newly fetched token (on GitHub: `::add-mask::`).
pub(crate) type TokenHook = Arc<dyn Fn(&Secret) + Send + Sync>;

/// A token reply, read leniently.
#[derive(Debug, PartialEq)]
struct TokenReply {
    access_token: String,
    expires_in: Option<f64>,
}

/// Read a token endpoint's 2xx body: JSON (`access_token` or `accessToken`; `expires_in`
/// or `expiresIn`, a number or a numeric string) or a form-encoded body with the same
/// fields. `None` when no token is in it. Nothing of the body goes into a message.
fn read_token_reply(body: &str) -> Option<TokenReply> {
    let body = body.trim();
    if let Ok(Value::Object(o)) = crate::lenient::parse::<Value>(body) {
        let field = |names: &[&str]| names.iter().find_map(|n| o.get(*n)).cloned();
        let token = field(&["access_token", "accessToken", "token"])?;
        let token = token.as_str()?.trim().to_string();
        let expires_in = field(&["expires_in", "expiresIn"])
            .as_ref()
            .and_then(crate::lenient::de::seconds);
        return (!token.is_empty()).then_some(TokenReply {
            access_token: token,
            expires_in,
        });
    }
    // application/x-www-form-urlencoded (as some OAuth servers answer)
    if body.starts_with('{') || !body.contains('=') {
        return None;
    }
    let mut token = None;
    let mut expires_in = None;
    for pair in body.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = form_decode(v);
        match k {
            "access_token" | "accessToken" => token = Some(v),
            "expires_in" | "expiresIn" => {
                expires_in = crate::lenient::de::seconds(&Value::String(v));
            }
            _ => {}
        }
    }
    token.filter(|t| !t.trim().is_empty()).map(|t| TokenReply {
        access_token: t.trim().to_string(),
        expires_in,
    })
}

/// `+` and `%XX` decoded (an invalid sequence is kept as it is).
fn form_decode(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = (b[i] == b'%')
            .then(|| b.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex) {
            (_, Some(x)) => {
                out.push(x);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Bearer tokens for Matillion. Cheap to clone; clones share the token.
#[derive(Clone)]
pub(crate) struct BearerAuth {
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
    pub(crate) fn token(token: Secret) -> Self {
        crate::redact::register(token.expose());
        Self {
            source: Source::Static(token),
            cached: Arc::default(),
            fetching: Arc::default(),
            on_new_token: Arc::new(|_| {}),
        }
    }

    /// Client credentials exchanged at `token_url`.
    pub(crate) fn client_credentials(
        client_id: Secret,
        client_secret: Secret,
        token_url: String,
    ) -> Self {
        crate::redact::register(client_secret.expose());
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
    pub(crate) fn with_hook(mut self, hook: TokenHook) -> Self {
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
            urgent: false,
            what: "the token endpoint".into(),
        };
        let reply = http
            .secret_reply(&req, budget, |r| {
                read_token_reply(&r.body).ok_or_else(|| {
                    // Never the body: it may hold a token in a shape not understood.
                    format!(
                        "the token endpoint answered {} with a body ({} bytes) that holds no access_token this program can read (its content is not shown: it may hold a secret)",
                        r.status,
                        r.body.len()
                    )
                })
            })
            .map_err(|e| match e {
            // OAuth answers bad client credentials with 400 (`invalid_client`) or 401.
            HttpError::Refused(p) if p.status == 400 || p.status == 401 => {
                HttpError::CredentialsRefused(p)
            }
            HttpError::Refused(p) if (300..400).contains(&p.status) => {
                HttpError::Refused(crate::http::Problem {
                    hint: Some(
                        "redirects are not followed, so that the client secret goes nowhere else; if the token endpoint has moved, set the input token-url to where it points",
                    ),
                    ..p
                })
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
        crate::redact::register(&reply.access_token);
        let token = Secret::new(reply.access_token);
        (self.on_new_token)(&token);
        let life = reply
            .expires_in
            .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
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

    fn refusal_hint(&self) -> Option<&'static str> {
        match self.source {
            Source::Static(_) => Some(FIXED_TOKEN_REFUSED),
            Source::Client { .. } => None,
        }
    }
}

fn bearer(t: &Secret) -> Secret {
    Secret::new(format!("Bearer {}", t.expose()))
}

/// Datalab's `X-API-Key`.
pub(crate) struct ApiKeyAuth(pub Secret);

impl Authorizer for ApiKeyAuth {
    fn header(&self, _: &Http, _: Budget) -> Result<Option<(String, Secret)>, HttpError> {
        crate::redact::register(self.0.expose());
        Ok(Some(("X-API-Key".into(), self.0.clone())))
    }
    fn invalidate(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_replies_of_other_shapes_are_read() {
        let t = |access_token: &str, expires_in: Option<f64>| {
            Some(TokenReply {
                access_token: access_token.into(),
                expires_in,
            })
        };
        assert_eq!(
            read_token_reply(r#"{"access_token":"abc","expires_in":1800}"#),
            t("abc", Some(1800.0))
        );
        assert_eq!(
            read_token_reply(r#"{"access_token":"abc","expires_in":"1800"}"#),
            t("abc", Some(1800.0))
        );
        assert_eq!(
            read_token_reply(r#"{"accessToken":"abc","tokenType":"Bearer","expiresIn":"60"}"#),
            t("abc", Some(60.0))
        );
        assert_eq!(
            read_token_reply("access_token=a%2Fb+c&token_type=Bearer&expires_in=1800"),
            t("a/b c", Some(1800.0))
        );
        assert_eq!(
            read_token_reply(r#"{"access_token":"abc","expires_in":"soon"}"#),
            t("abc", None)
        );
        assert_eq!(read_token_reply(r#"{"token_type":"Bearer"}"#), None);
        assert_eq!(read_token_reply("<html>login</html>"), None);
        assert_eq!(read_token_reply(r#"{"access_token":""}"#), None);
    }
}
