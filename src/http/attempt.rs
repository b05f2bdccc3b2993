//! One attempt of a request: the `ureq` call with its own timeouts, the reply read (at
//! most [`MAX_BODY`]) with its `Retry-After`, and a failure classified by whether the
//! request can have reached the server. What to do with it is decided in `retry`.

use super::{Body, Http, MAX_BODY, Method, Part, Request, Response, upload_file_name};
use crate::secret::Secret;
use std::time::{Duration, SystemTime};

/// What one attempt gave.
pub(super) enum Attempt {
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

impl Http {
    /// One attempt, with its own timeouts.
    pub(super) fn attempt(
        &self,
        req: &Request,
        header: Option<(String, Secret)>,
        limit: Duration,
    ) -> Attempt {
        log::debug!("{} {}", req.method, req.url);
        let agent = match self.agent_for(&req.url) {
            Ok(a) => a,
            Err(m) => return Attempt::Untrusted(m),
        };
        match call(agent, req, header, limit.max(Duration::from_millis(100))) {
            Ok(Ok(resp)) => self.read_reply(resp),
            Ok(Err(e)) => classify(e),
            Err(not_sent) => not_sent,
        }
    }

    /// The reply read whole (at most [`MAX_BODY`]), with its `Retry-After`.
    fn read_reply(&self, mut resp: ureq::http::Response<ureq::Body>) -> Attempt {
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
}

type Sent = Result<ureq::http::Response<ureq::Body>, ureq::Error>;

/// Send `req` on `agent` within `limit`: what `ureq` gave, or why nothing was sent (a file
/// of a multipart body that cannot be read).
fn call(
    agent: &ureq::Agent,
    req: &Request,
    header: Option<(String, Secret)>,
    limit: Duration,
) -> Result<Sent, Attempt> {
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
    let b = match req.method {
        Method::Get => return Ok(prepare!(agent.get(&req.url)).call()),
        Method::Post => prepare!(agent.post(&req.url)),
        Method::Patch => prepare!(agent.patch(&req.url)),
    };
    Ok(match &req.body {
        Body::None => b.send_empty(),
        Body::Json(v) => b.send_json(v),
        Body::Form(pairs) => b.send_form(pairs.iter().map(|(k, v)| (k.as_str(), v.expose()))),
        Body::Multipart(parts) => b.send(multipart(parts)?),
        Body::Upload(u) => send_upload(b, u),
    })
}

/// A multipart form of `parts`, files read from disk.
fn multipart(parts: &[Part]) -> Result<ureq::unversioned::multipart::Form<'_>, Attempt> {
    use ureq::unversioned::multipart;
    let mut form = multipart::Form::new();
    for p in parts {
        form = match p {
            Part::Text(k, v) => form.text(k, v),
            Part::File(k, path) => match multipart::Part::file(path) {
                Ok(f) => form.part(k, f.file_name(&upload_file_name(path))),
                Err(e) => {
                    return Err(Attempt::NotSent(format!(
                        "cannot read {}: {e}",
                        path.display()
                    )));
                }
            },
        };
    }
    Ok(form)
}

/// Send a body built beforehand, with its content type and headers.
fn send_upload(
    mut b: ureq::RequestBuilder<ureq::typestate::WithBody>,
    u: &super::Upload,
) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
    b = b.header("content-type", u.content_type.as_str());
    for (name, value) in &u.headers {
        b = b.header(name.as_str(), value.as_str());
    }
    b.send(u.bytes.as_slice())
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
