//! Rewrites of the real reply ([`FaultAction::Edit`]): the request is handled as usual
//! (it takes effect), then the reply is changed before it is sent. A generic edit over
//! [`ReplyParts`], JSON and byte-level shortcuts, and the named edits for what real
//! servers were seen to send: token replies of another shape, `"results": null`, invalid
//! escapes and bytes in messages, a missing or negative `total`, an echoed token, a list
//! of executions that disagrees with the executions.

use super::action::FaultAction;
use crate::RecordedRequest;
use serde_json::{Value, json};
use std::fmt;
use std::sync::Arc;

/// The reply a [`FaultAction::Edit`] may rewrite: what the route answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyParts {
    /// The status code.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: String,
    /// Other headers (`Content-Length` and `Connection` are set when sending).
    pub headers: Vec<(String, String)>,
    /// The body, byte for byte.
    pub body: Vec<u8>,
}

impl ReplyParts {
    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// Replace the body with this JSON (the content type is kept).
    pub fn set_json(&mut self, v: &Value) {
        self.body = v.to_string().into_bytes();
    }
}

type EditFn = dyn Fn(&RecordedRequest, &mut ReplyParts) + Send + Sync;

/// A named rewrite of a reply (see [`FaultAction::edit`]). Two edits are equal when they
/// are clones of one another.
#[derive(Clone)]
pub struct ReplyEdit {
    label: &'static str,
    f: Arc<EditFn>,
}

impl ReplyEdit {
    /// The label it was made with (recorded as the request's `fault`).
    pub fn label(&self) -> &'static str {
        self.label
    }

    /// Apply it to a reply.
    pub(crate) fn apply(&self, req: &RecordedRequest, reply: &mut ReplyParts) {
        (self.f)(req, reply);
    }
}

impl fmt::Debug for ReplyEdit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplyEdit({})", self.label)
    }
}

impl PartialEq for ReplyEdit {
    fn eq(&self, other: &Self) -> bool {
        self.label == other.label && Arc::ptr_eq(&self.f, &other.f)
    }
}

impl Eq for ReplyEdit {}

/// Insert `insert` right after every `"message":"` in a compact JSON body.
fn after_message_quote(body: &[u8], insert: &[u8]) -> Vec<u8> {
    const KEY: &[u8] = br#""message":""#;
    let mut out = Vec::with_capacity(body.len() + insert.len() * 4);
    let mut i = 0;
    while i < body.len() {
        if body[i..].starts_with(KEY) {
            out.extend_from_slice(KEY);
            out.extend_from_slice(insert);
            i += KEY.len();
        } else {
            out.push(body[i]);
            i += 1;
        }
    }
    out
}

/// Edit the reply's JSON object if it is one that carries an `access_token`.
fn token_reply(label: &'static str, f: fn(&mut ReplyParts, &str, &Value)) -> FaultAction {
    FaultAction::edit(label, move |_, reply| {
        let Some(v) = reply.json() else { return };
        if let Some(token) = v.get("access_token").and_then(Value::as_str) {
            f(reply, token, &v);
        }
    })
}

impl FaultAction {
    /// Handle the request, then let `f` rewrite the reply; `label` names the fault in the
    /// recorded requests. `f` also sees the request (e.g. to echo a header). Edits apply to
    /// whatever the route answered (an error too); the named ones leave a reply without
    /// the field they change as it was.
    pub fn edit(
        label: &'static str,
        f: impl Fn(&RecordedRequest, &mut ReplyParts) + Send + Sync + 'static,
    ) -> Self {
        FaultAction::Edit(ReplyEdit {
            label,
            f: Arc::new(f),
        })
    }

    /// Rewrite the reply's JSON body with `f` (a body that is not JSON is left alone).
    pub fn mutate_json(f: impl Fn(&mut Value) + Send + Sync + 'static) -> Self {
        Self::edit("mutate-json", move |_, reply| {
            if let Some(mut v) = reply.json() {
                f(&mut v);
                reply.set_json(&v);
            }
        })
    }

    /// Rewrite the reply's body bytes with `f` (status and headers kept).
    pub fn map_body(f: impl Fn(&[u8]) -> Vec<u8> + Send + Sync + 'static) -> Self {
        Self::edit("map-body", move |_, reply| reply.body = f(&reply.body))
    }

    /// Token endpoint, class 1/2: a 200 whose `expires_in` is a string (`"1800"`). The
    /// token in it is real and valid.
    pub fn token_expires_in_as_string() -> Self {
        token_reply("token-expires-in-string", |reply, _, v| {
            let mut v = v.clone();
            v["expires_in"] = json!(v["expires_in"].to_string());
            reply.set_json(&v);
        })
    }

    /// Token endpoint, class 1: a 200 with other field names (`accessToken`, `tokenType`,
    /// `expiresIn`). The token in it is real and valid.
    pub fn token_fields_renamed() -> Self {
        token_reply("token-fields-renamed", |reply, token, v| {
            reply.set_json(&json!({
                "accessToken": token,
                "tokenType": v["token_type"],
                "expiresIn": v["expires_in"],
            }));
        })
    }

    /// Token endpoint, class 1: a 200 with a form-encoded body
    /// (`access_token=...&token_type=Bearer&expires_in=1800`, content type
    /// `application/x-www-form-urlencoded`). The token in it is real and valid.
    pub fn token_form_encoded() -> Self {
        token_reply("token-form-encoded", |reply, token, v| {
            reply.content_type = "application/x-www-form-urlencoded".into();
            let ttl = v["expires_in"].as_u64().unwrap_or_default();
            reply.body =
                format!("access_token={token}&token_type=Bearer&expires_in={ttl}").into_bytes();
        })
    }

    /// Class 2: `"results": null` in a page (steps, or any list with `results`).
    pub fn results_null() -> Self {
        Self::edit("results-null", |_, reply| {
            if let Some(mut v) = reply.json().filter(|v| v.get("results").is_some()) {
                v["results"] = Value::Null;
                reply.set_json(&v);
            }
        })
    }

    /// Class 2: every `message` string (details, and each step's result) starts with a
    /// lone surrogate escape, `\ud83d`: valid-looking JSON that strict parsers refuse.
    pub fn message_lone_surrogate() -> Self {
        Self::edit("message-lone-surrogate", |_, reply| {
            reply.body = after_message_quote(&reply.body, br"\ud83d");
        })
    }

    /// Class 2: every `message` string starts with bytes that are not UTF-8 (`0xE9 0xFF`,
    /// as from a Latin-1 source), so the body is not valid UTF-8.
    pub fn message_invalid_utf8() -> Self {
        Self::edit("message-invalid-utf8", |_, reply| {
            reply.body = after_message_quote(&reply.body, b"\xe9\xff");
        })
    }

    /// Classes 2/3: a page without its `total` field.
    pub fn without_total() -> Self {
        Self::edit("without-total", |_, reply| {
            if let Some(mut v) = reply.json() {
                if let Some(o) = v.as_object_mut().filter(|o| o.contains_key("total")) {
                    o.remove("total");
                    reply.set_json(&v);
                }
            }
        })
    }

    /// Class 2: a page whose `total` is `-1`.
    pub fn negative_total() -> Self {
        Self::edit("negative-total", |_, reply| {
            if let Some(mut v) = reply.json().filter(|v| v.get("total").is_some()) {
                v["total"] = json!(-1);
                reply.set_json(&v);
            }
        })
    }

    /// Class 1: answer `status` with a problem+json body whose `detail` quotes the
    /// request's `Authorization` header (the bearer token), as some gateways do, and a
    /// JWT-shaped string; the request itself is still handled.
    pub fn echo_authorization(status: u16) -> Self {
        Self::edit("echo-authorization", move |req, reply| {
            let auth = req.header("authorization").unwrap_or_default();
            reply.status = status;
            reply.content_type = "application/problem+json".into();
            reply.set_json(&json!({
                "type": "about:blank",
                "title": "Rejected by gateway",
                "status": status,
                "detail": format!(
                    "request with Authorization: {auth} rejected; upstream session eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzaW0ifQ.c2lnbmF0dXJl"
                ),
            }));
        })
    }

    /// Class 5: a list of executions that disagrees with the executions (a cache, or a
    /// replica ahead of the primary): every execution it shows has `status`, with a
    /// `finishedAt` (its start, when it has none) when `status` ends a run, whatever its
    /// own status says. Its details and status keep the truth.
    pub fn list_says(status: &str) -> Self {
        let status = status.to_string();
        Self::edit("list-says", move |_, reply| {
            let Some(mut v) = reply.json() else { return };
            let Some(results) = v.get_mut("results").and_then(Value::as_array_mut) else {
                return;
            };
            let ends = !matches!(status.as_str(), "RUNNING" | "QUEUED" | "CANCELLING");
            for e in results.iter_mut() {
                e["status"] = json!(status);
                match (ends, e.get("finishedAt").is_some()) {
                    (true, false) => e["finishedAt"] = e["startedAt"].clone(),
                    (false, true) => {
                        if let Some(o) = e.as_object_mut() {
                            o.remove("finishedAt");
                        }
                    }
                    _ => {}
                }
            }
            reply.set_json(&v);
        })
    }
}
