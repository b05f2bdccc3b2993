//! Secrets out of remote text. A server may quote what it was sent (a gateway that echoes
//! the `Authorization` header, a token endpoint whose reply is printed as "unexpected"):
//! every response text that can be echoed — an error body, a message, a log line — goes
//! through [`redact`] first. It removes
//!
//! - every secret this process holds ([`register`]ed: the current and past tokens, the
//!   fixed `access-token`, the client secret, the API key);
//! - anything shaped like a bearer credential: `Bearer <token>`;
//! - anything shaped like a JWT: `eyJ…` `.` `…` `.` `…` (base64url segments);
//! - the value of an `access_token` / `refresh_token` / `id_token` field (JSON or form).
//!
//! Each is replaced by `***`. A leaf module: it depends on nothing else in the crate.

use std::borrow::Cow;
use std::sync::Mutex;

/// What replaces a removed secret.
pub(crate) const MASK: &str = "***";
/// Secrets shorter than this are not registered: removing every occurrence of a short,
/// common string would garble text without protecting anything a reader could use.
pub(crate) const MIN_SECRET_LEN: usize = 6;
/// At most this many secrets are remembered (the oldest are forgotten first); a run holds
/// a handful (a token every 25 minutes, the client secret).
pub(crate) const MAX_SECRETS: usize = 64;

static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Remember `secret` so that [`redact`] removes it from any text from now on.
pub(crate) fn register(secret: &str) {
    if secret.len() < MIN_SECRET_LEN {
        return;
    }
    let mut s = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
    if s.iter().any(|x| x == secret) {
        return;
    }
    if s.len() >= MAX_SECRETS {
        s.remove(0);
    }
    s.push(secret.to_string());
}

/// `text` with every registered secret, bearer credential, JWT and token field value
/// replaced by [`MASK`].
pub(crate) fn redact(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    {
        let secrets = SECRETS.lock().unwrap_or_else(|e| e.into_inner());
        for s in secrets.iter() {
            if out.contains(s.as_str()) {
                out = Cow::Owned(out.replace(s.as_str(), MASK));
            }
        }
    }
    if let Some(r) = bearer(&out) {
        out = Cow::Owned(r);
    }
    if let Some(r) = jwt(&out) {
        out = Cow::Owned(r);
    }
    if let Some(r) = token_fields(&out) {
        out = Cow::Owned(r);
    }
    out
}

/// Characters of an RFC 6750 `token68` (and of base64url), before its trailing `=`s.
fn token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

fn b64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

/// `Bearer <token>` → `Bearer ***` (any case; the word must stand alone).
fn bearer(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let lower = text.to_ascii_lowercase();
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(pos) = lower[from..].find("bearer") {
        let start = from + pos;
        let word_end = start + "bearer".len();
        from = word_end;
        if start > 0 && bytes[start - 1].is_ascii_alphanumeric() {
            continue;
        }
        let mut i = word_end;
        while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
            i += 1;
        }
        if i == word_end {
            continue;
        }
        let tok_start = i;
        while i < bytes.len() && token_char(bytes[i]) {
            i += 1;
        }
        while i < bytes.len() && bytes[i] == b'=' {
            i += 1;
        }
        // A short word after "bearer" ("bearer token", "Bearer realm") is prose.
        if i - tok_start < 8 || bytes[tok_start..i].iter().all(u8::is_ascii_alphabetic) {
            continue;
        }
        spans.push((tok_start, i));
        from = i;
    }
    mask_spans(text, spans)
}

/// `eyJ<b64url>.<b64url>.<b64url>` → `***`.
fn jwt(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(pos) = text[from..].find("eyJ") {
        let start = from + pos;
        from = start + 3;
        if start > 0 && b64url(bytes[start - 1]) {
            continue;
        }
        let mut i = start;
        let mut dots = 0;
        loop {
            while i < bytes.len() && b64url(bytes[i]) {
                i += 1;
            }
            if dots < 2 && i + 1 < bytes.len() && bytes[i] == b'.' && b64url(bytes[i + 1]) {
                dots += 1;
                i += 1;
            } else {
                break;
            }
        }
        if dots < 2 {
            continue;
        }
        spans.push((start, i));
        from = i;
    }
    mask_spans(text, spans)
}

/// The value of a token field: `"access_token": "v"`, `access_token=v` (also
/// `accessToken`, `refresh_token`, `id_token`).
fn token_fields(text: &str) -> Option<String> {
    const NAMES: [&str; 5] = [
        "access_token",
        "accesstoken",
        "refresh_token",
        "refreshtoken",
        "id_token",
    ];
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for name in NAMES {
        let mut from = 0;
        while let Some(pos) = lower[from..].find(name) {
            let mut i = from + pos + name.len();
            from = i;
            // `"` closing the key, then `:` or `=`, then an optional opening quote.
            if i < bytes.len() && bytes[i] == b'"' {
                i += 1;
            }
            while i < bytes.len() && bytes[i] == b' ' {
                i += 1;
            }
            if i >= bytes.len() || !(bytes[i] == b':' || bytes[i] == b'=') {
                continue;
            }
            i += 1;
            while i < bytes.len() && bytes[i] == b' ' {
                i += 1;
            }
            let quoted = i < bytes.len() && bytes[i] == b'"';
            if quoted {
                i += 1;
            }
            let start = i;
            while i < bytes.len() {
                let c = bytes[i];
                let stop = if quoted {
                    c == b'"' || c == b'\\'
                } else {
                    c == b'&' || c == b',' || c == b'}' || c.is_ascii_whitespace() || c == b'"'
                };
                if stop {
                    break;
                }
                i += 1;
            }
            if i > start {
                spans.push((start, i));
            }
            from = i.max(from);
        }
    }
    mask_spans(text, spans)
}

/// `text` with each byte span `[start, end)` replaced by [`MASK`] (a span that overlaps
/// an earlier one is skipped); `None` when there is none.
fn mask_spans(text: &str, mut spans: Vec<(usize, usize)>) -> Option<String> {
    if spans.is_empty() {
        return None;
    }
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (s, e) in spans {
        if s < copied {
            continue;
        }
        out.push_str(&text[copied..s]);
        out.push_str(MASK);
        copied = e;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_are_removed() {
        register("sim_registered_9f8e7d");
        register("abc"); // too short: not registered
        assert_eq!(
            redact("token sim_registered_9f8e7d here; abc stays"),
            "token *** here; abc stays"
        );
    }

    #[test]
    fn bearer_credentials_are_removed_but_prose_stays() {
        assert_eq!(
            redact("Authorization: Bearer sim_AbC123-xyz_456 rejected"),
            "Authorization: Bearer *** rejected"
        );
        assert_eq!(
            redact("bearer\tQWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
            "bearer\t***"
        );
        assert_eq!(
            redact("WWW-Authenticate: Bearer realm=api; a bearer token expired"),
            "WWW-Authenticate: Bearer realm=api; a bearer token expired"
        );
    }

    #[test]
    fn jwts_are_removed() {
        assert_eq!(
            redact("session eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzaW0ifQ.c2lnbmF0dXJl rejected"),
            "session *** rejected"
        );
        assert_eq!(redact("eyJ alone, eyJa.b"), "eyJ alone, eyJa.b");
    }

    #[test]
    fn token_field_values_are_removed() {
        assert_eq!(
            redact(r#"{"access_token":"s3cr3t-value","expires_in":"1800"}"#),
            r#"{"access_token":"***","expires_in":"1800"}"#
        );
        assert_eq!(
            redact(r#"{"accessToken": "s3cr3t-value"}"#),
            r#"{"accessToken": "***"}"#
        );
        assert_eq!(
            redact("access_token=s3cr3t-value&token_type=Bearer&expires_in=1800"),
            "access_token=***&token_type=Bearer&expires_in=1800"
        );
    }

    #[test]
    fn plain_text_is_untouched() {
        assert!(matches!(
            redact("Pipeline Execution not Found"),
            Cow::Borrowed(_)
        ));
    }
}
