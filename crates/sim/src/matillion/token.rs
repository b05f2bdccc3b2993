//! `POST /oauth/dpc/token`: client credentials (form or JSON body) for a bearer token, and
//! OAuth-style error bodies.

use crate::State;
use crate::http::{Request, Response, parse_urlencoded};
use crate::util::random_token;
use serde_json::{Map, Value, json};

/// `POST /oauth/dpc/token`.
pub(crate) fn token(state: &State, req: &Request) -> Response {
    let ctype = req
        .header("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    let fields: Vec<(String, String)> = if ctype.starts_with("application/json") {
        match serde_json::from_slice::<Map<String, Value>>(&req.body) {
            Ok(m) => m
                .into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
                .collect(),
            Err(_) => return oauth_error(400, "invalid_request", "Malformed JSON body"),
        }
    } else {
        parse_urlencoded(&String::from_utf8_lossy(&req.body))
    };
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    match get("grant_type") {
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(400, "unsupported_grant_type", "Unsupported grant type");
        }
        None => return oauth_error(400, "invalid_request", "Missing grant_type"),
    }
    let cfg = &state.config;
    if get("client_id") != Some(cfg.client_id.as_str())
        || get("client_secret") != Some(cfg.client_secret.as_str())
    {
        return oauth_error(401, "access_denied", "Unauthorized");
    }
    if let Some(aud) = get("audience") {
        if aud != "https://api.matillion.com" {
            return oauth_error(
                403,
                "access_denied",
                &format!("Service not enabled within domain: {aud}"),
            );
        }
    }
    let token = random_token("sim_");
    let expires = state.clock.now() + cfg.token_ttl;
    {
        let mut inner = state.lock();
        inner.tokens.insert(token.clone(), expires);
        inner.issued.push(token.clone());
    }
    Response::json(
        200,
        &json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": cfg.token_ttl.as_secs(),
        }),
    )
}

fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    Response::json(
        status,
        &json!({"error": error, "error_description": description}),
    )
}
