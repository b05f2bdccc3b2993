//! Error bodies read as sentences: problem+json (Matillion) or FastAPI's `detail`
//! (Datalab), and remote text made safe for one log line (secrets removed by
//! [`crate::redact`], control characters and workflow-command markers defused).

use std::fmt;

/// An error body, read as problem+json (Matillion) or FastAPI `detail` (Datalab).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Problem {
    /// HTTP status.
    pub(crate) status: u16,
    /// `title`.
    pub(crate) title: Option<String>,
    /// `detail` (or Datalab's `detail` text / validation messages joined).
    pub(crate) detail: Option<String>,
    /// `violations`.
    pub(crate) violations: Vec<String>,
    /// A short excerpt of a body that was not JSON.
    pub(crate) excerpt: Option<String>,
    /// Advice of this program's own, said after the rest.
    pub(crate) hint: Option<&'static str>,
}

impl Problem {
    /// An OAuth token endpoint's error, whose body may hold a secret: the body is never
    /// quoted. Only the status and RFC 6749's two error fields are kept: `error` when it is
    /// a short ASCII code, and, for a refusal (4xx), `error_description` with secrets
    /// removed and cut to 200 characters.
    pub(crate) fn oauth(status: u16, body: &str) -> Self {
        let v = serde_json::from_str::<serde_json::Value>(body).ok();
        let field = |k: &str| {
            v.as_ref()
                .and_then(|v| v.get(k))
                .and_then(|e| e.as_str())
                .map(str::to_string)
        };
        let code = field("error").filter(|c| {
            !c.is_empty()
                && c.len() <= 64
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
        let description = field("error_description")
            .filter(|_| (400..500).contains(&status))
            .map(|d| clean(&d).chars().take(200).collect::<String>())
            .filter(|d| !d.is_empty());
        Problem {
            status,
            title: code,
            detail: description,
            ..Problem::default()
        }
    }

    /// A redirect (3xx): not followed, so that no token goes to another origin.
    pub(crate) fn redirect(status: u16, location: Option<&str>) -> Self {
        let to = location
            .map(|l| {
                let l = clean(l);
                let short: String = l.chars().take(200).collect();
                format!("a redirect to {short}")
            })
            .unwrap_or_else(|| "a redirect without a Location".into());
        Problem {
            status,
            title: Some(to),
            hint: Some(
                "redirects are not followed, so that no credential goes to another address; if the API has moved, set the input api-url to where it points",
            ),
            ..Problem::default()
        }
    }

    /// Read an error body.
    pub(crate) fn parse(status: u16, body: &str) -> Self {
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
        if let Some(h) = &self.hint {
            write!(f, " — {h}")?;
        }
        Ok(())
    }
}

/// The standard reason phrase of a status ("Not Found"), if it has one.
fn reason(status: u16) -> Option<&'static str> {
    ureq::http::StatusCode::from_u16(status)
        .ok()?
        .canonical_reason()
}

/// The text cleaner, kept here under its old name for the code of this module.
pub(crate) use crate::text::clean;

/// The first 200 characters of a body, on one line; `None` when empty.
pub(crate) fn excerpt(body: &str) -> Option<String> {
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
