//! Tests of the HTTP layer against loopback servers on the simulated clock: retries and
//! their timing, `Retry-After`, error bodies as sentences, the trigger never sent twice,
//! 401 handling, lost connections, signals, and what a server receives.

use super::attempt::parse_retry_after;
use super::*;
use crate::clock::SimClock;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::UNIX_EPOCH;

fn client() -> (Http, Arc<SimClock>) {
    let clock = SimClock::new();
    (Http::new(clock.clone()), clock)
}

fn budget(clock: &SimClock, secs: u64) -> Budget {
    Budget::until(clock.now() + Duration::from_secs(secs))
}

#[derive(serde::Deserialize, Debug, PartialEq)]
struct Status {
    status: String,
}

/// One status poll of `server`'s `/s` with no auth and `secs` of budget, retried as the
/// policy says.
fn poll_status(
    http: &Http,
    server: &mockito::Server,
    clock: &SimClock,
    secs: u64,
) -> Result<Status, HttpError> {
    http.json(
        &Request::get(format!("{}/s", server.url()), "the status poll"),
        &NoAuth,
        budget(clock, secs),
    )
}

#[test]
fn retry_after_seconds_is_honoured_exactly() {
    let mut server = mockito::Server::new();
    let limited = server
        .mock("GET", "/s")
        .with_status(429)
        .with_header("Retry-After", "2")
        .expect(1)
        .create();
    let ok = server
        .mock("GET", "/s")
        .with_body(r#"{"status":"RUNNING"}"#)
        .create();
    let (http, clock) = client();
    let got: Status = poll_status(&http, &server, &clock, 60).unwrap();
    assert_eq!(got.status, "RUNNING");
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(2)]);
    limited.assert();
    ok.assert();
}

#[test]
fn retry_after_http_date() {
    let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:49:40 GMT", now),
        Some(Duration::from_secs(3))
    );
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
        Some(Duration::ZERO)
    );
    assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
    assert_eq!(parse_retry_after("soon", now), None);
    assert_eq!(
        parse_retry_after("Sun, 06 Nov 1994 25:49:00 GMT", now),
        None
    );
}

#[test]
fn html_502s_then_success() {
    let mut server = mockito::Server::new();
    let bad = server
        .mock("GET", "/s")
        .with_status(502)
        .with_header("content-type", "text/html")
        .with_body("<html><body><h1>502 Bad Gateway</h1></body></html>")
        .expect(3)
        .create();
    server
        .mock("GET", "/s")
        .with_body(r#"{"status":"SUCCESS"}"#)
        .create();
    let (http, clock) = client();
    let got: Status = poll_status(&http, &server, &clock, 600).unwrap();
    assert_eq!(got.status, "SUCCESS");
    bad.assert();
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 3);
    // Exponential with ±30% jitter around 0.5s, 1s, 2s.
    assert!(sleeps[0] >= Duration::from_millis(350) && sleeps[0] <= Duration::from_millis(650));
    assert!(sleeps[2] >= Duration::from_millis(1400) && sleeps[2] <= Duration::from_millis(2600));
}

#[test]
fn garbage_json_is_retried_when_repeatable() {
    let mut server = mockito::Server::new();
    server
        .mock("GET", "/s")
        .with_body("{\"stat")
        .expect(1)
        .create();
    server
        .mock("GET", "/s")
        .with_body(r#"{"status":"FAILED"}"#)
        .create();
    let (http, clock) = client();
    let got: Status = poll_status(&http, &server, &clock, 600).unwrap();
    assert_eq!(got.status, "FAILED");
    assert_eq!(clock.sleeps().len(), 1);
}

fn post(url: String) -> Request {
    Request {
        method: Method::Post,
        url,
        query: vec![],
        body: Body::Json(serde_json::json!({"a": 1})),
        repeatable: false,
        urgent: false,
        what: "the trigger".into(),
    }
}

#[test]
fn non_repeatable_request_is_never_sent_twice() {
    let mut server = mockito::Server::new();
    let m = server
        .mock("POST", "/t")
        .with_status(502)
        .with_body("<html>bad gateway</html>")
        .expect(1)
        .create();
    let (http, clock) = client();
    let err = http
        .send(
            &post(format!("{}/t", server.url())),
            &NoAuth,
            budget(&clock, 600),
        )
        .unwrap_err();
    assert_eq!(
        err,
        HttpError::Ambiguous(
            "the trigger answered 502 Bad Gateway (body: <html>bad gateway</html>)".into()
        )
    );
    m.assert();
    assert!(clock.sleeps().is_empty());
}

#[test]
fn non_repeatable_request_is_retried_on_429() {
    let mut server = mockito::Server::new();
    server
        .mock("POST", "/t")
        .with_status(429)
        .with_header("retry-after", "1")
        .expect(1)
        .create();
    let ok = server
        .mock("POST", "/t")
        .with_status(201)
        .with_body("{}")
        .expect(1)
        .create();
    let (http, clock) = client();
    http.send(
        &post(format!("{}/t", server.url())),
        &NoAuth,
        budget(&clock, 600),
    )
    .unwrap();
    ok.assert();
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(1)]);
}

#[test]
fn problem_json_becomes_a_sentence() {
    let mut server = mockito::Server::new();
    server
        .mock("POST", "/t")
        .with_status(400)
        .with_header("content-type", "application/problem+json")
        .with_body(r#"{"type":"about:blank","title":"Bad Request","status":400,"detail":"Invalid request","violations":["pipelineName: must not be blank","environmentName:\nmissing"]}"#)
        .create();
    let (http, clock) = client();
    let err = http
        .send(
            &post(format!("{}/t", server.url())),
            &NoAuth,
            budget(&clock, 600),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "400 Bad Request: Invalid request (violations: pipelineName: must not be blank; environmentName: missing)"
    );
}

#[test]
fn datalab_validation_errors_are_read() {
    let p = Problem::parse(
        422,
        r#"{"detail":[{"loc":["body","file"],"msg":"Provide either file or file_url","type":"value_error"}]}"#,
    );
    assert_eq!(
        p.to_string(),
        "422 Unprocessable Entity (violations: body.file: Provide either file or file_url)"
    );
    let p = Problem::parse(404, r#"{"detail":"Pipeline not found"}"#);
    assert_eq!(p.to_string(), "404 Pipeline not found");
}

#[test]
fn bodiless_errors_read_as_their_reason_phrase() {
    for (status, text) in [
        (401, "401 Unauthorized"),
        (422, "422 Unprocessable Entity"),
        (429, "429 Too Many Requests"),
        (504, "504 Gateway Timeout"),
        (405, "405 Method Not Allowed"),
        (599, "599"),
    ] {
        assert_eq!(Problem::parse(status, "").to_string(), text);
    }
}

#[test]
fn deadline_while_503_reports_the_last_error() {
    let mut server = mockito::Server::new();
    server
        .mock("GET", "/s")
        .with_status(503)
        .with_body(r#"{"title":"Service Unavailable","status":503,"detail":"maintenance"}"#)
        .expect_at_least(2)
        .create();
    let (http, clock) = client();
    let err = poll_status(&http, &server, &clock, 20).unwrap_err();
    // The last error, with the count of its streak (the jitter makes it 5 or 6).
    let HttpError::Deadline(m) = err else {
        panic!("expected Deadline, got {err:?}");
    };
    let (said, count) = m.split_once(" (").unwrap_or((&m, ""));
    assert_eq!(
        said,
        "the status poll answered 503 Service Unavailable: maintenance"
    );
    assert!(
        count.starts_with("5 times in ") || count.starts_with("6 times in "),
        "{m}"
    );
    assert!(clock.elapsed() <= Duration::from_secs(20));
}

struct CountingAuth {
    fetched: std::sync::Mutex<u32>,
}

impl Authorizer for CountingAuth {
    fn header(&self, _: &Http, _: Budget) -> Result<Option<(String, Secret)>, HttpError> {
        let n = *self.fetched.lock().unwrap();
        Ok(Some((
            "Authorization".into(),
            Secret::new(format!("Bearer t{n}")),
        )))
    }
    fn invalidate(&self) -> bool {
        *self.fetched.lock().unwrap() += 1;
        true
    }
}

#[test]
fn one_401_gets_a_new_token_a_second_is_a_refusal() {
    let mut server = mockito::Server::new();
    server
        .mock("GET", "/s")
        .match_header("authorization", "Bearer t0")
        .with_status(401)
        .create();
    server
        .mock("GET", "/s")
        .match_header("authorization", "Bearer t1")
        .with_body(r#"{"status":"RUNNING"}"#)
        .create();
    let (http, clock) = client();
    let auth = CountingAuth {
        fetched: std::sync::Mutex::new(0),
    };
    let req = Request::get(format!("{}/s", server.url()), "the status poll");
    let got: Status = http.json(&req, &auth, budget(&clock, 60)).unwrap();
    assert_eq!(got.status, "RUNNING");

    let mut server = mockito::Server::new();
    server.mock("GET", "/s").with_status(401).expect(2).create();
    let req = Request::get(format!("{}/s", server.url()), "the status poll");
    let err = http
        .json::<Status>(&req, &auth, budget(&clock, 60))
        .unwrap_err();
    assert!(
        matches!(err, HttpError::Refused(Problem { status: 401, .. })),
        "{err:?}"
    );
}

/// A server that resets the first connection after reading the request, then answers.
fn resetting_server(body: &'static str) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        for (i, conn) in listener.incoming().take(2).enumerate() {
            let mut conn = conn.unwrap();
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            if i == 0 {
                // Close with unread data → RST; either way the reply is lost.
                drop(conn);
                continue;
            }
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, h)
}

#[test]
fn connection_reset_then_success() {
    let (url, h) = resetting_server(r#"{"status":"SUCCESS"}"#);
    let (http, clock) = client();
    let got: Status = http
        .json(
            &Request::get(format!("{url}/s"), "the status poll"),
            &NoAuth,
            budget(&clock, 60),
        )
        .unwrap();
    assert_eq!(got.status, "SUCCESS");
    assert_eq!(clock.sleeps().len(), 1);
    h.join().unwrap();
}

#[test]
fn connection_refused_is_retried_even_for_the_trigger() {
    // Bind then drop to get a port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (http, clock) = client();
    let err = http
        .send(
            &post(format!("http://127.0.0.1:{port}/t")),
            &NoAuth,
            budget(&clock, 5),
        )
        .unwrap_err();
    match err {
        HttpError::Deadline(m) => assert!(
            m.starts_with("the trigger could not reach 127.0.0.1:"),
            "{m}"
        ),
        other => panic!("expected Deadline, got {other:?}"),
    }
    assert!(clock.sleeps().len() >= 2);
}

#[test]
fn signal_stops_retries() {
    let mut server = mockito::Server::new();
    server.mock("GET", "/s").with_status(503).create();
    let (http, clock) = client();
    clock.signal_at(Duration::from_millis(100), crate::clock::Signal::Term);
    let err = poll_status(&http, &server, &clock, 600).unwrap_err();
    assert_eq!(err, HttpError::Interrupted(crate::clock::Signal::Term));
}

/// A server that answers one request and hands back the request's head as received.
fn recording_server(body: &'static str) -> (String, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.ends_with(b"\r\n\r\n") {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let _ = write!(
            conn,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        String::from_utf8_lossy(&head).into_owned()
    });
    (url, h)
}

#[test]
fn the_server_sees_this_programs_user_agent_once() {
    let (url, h) = recording_server(r#"{"status":"RUNNING"}"#);
    let (http, clock) = client();
    http.json::<Status>(
        &Request::get(format!("{url}/s"), "x"),
        &NoAuth,
        budget(&clock, 5),
    )
    .unwrap();
    let head = h.join().unwrap();
    let agents: Vec<&str> = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| name.eq_ignore_ascii_case("user-agent"))
        .map(|(_, value)| value.trim())
        .collect();
    let expected = format!("pipeline-run/{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(agents, [expected.as_str()], "{head}");
}

#[test]
fn the_jitter_never_stretches_a_wait_past_retry_max() {
    let mut server = mockito::Server::new();
    let _failing = server
        .mock("GET", "/s")
        .with_status(503)
        .expect(14)
        .create();
    let ok = server
        .mock("GET", "/s")
        .with_body(r#"{"status":"RUNNING"}"#)
        .create();
    let (http, clock) = client();
    let got: Status = poll_status(&http, &server, &clock, 3600).unwrap();
    assert_eq!(got.status, "RUNNING");
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 14);
    assert!(
        sleeps.iter().all(|d| *d <= Duration::from_secs(30)),
        "{sleeps:?}"
    );
    // Past the growth, the waits sit at the maximum, less the jitter.
    assert!(sleeps[10..].iter().all(|d| *d >= Duration::from_secs(21)));
    ok.assert();
}

#[test]
fn a_retry_after_past_the_deadline_is_waited_out_to_the_deadline() {
    let mut server = mockito::Server::new();
    let _limited = server
        .mock("GET", "/s")
        .with_status(429)
        .with_header("Retry-After", "3600")
        .create();
    let (http, clock) = client();
    let err = poll_status(&http, &server, &clock, 8).unwrap_err();
    // Not given up at once: the whole time left was waited.
    assert_eq!(clock.elapsed(), Duration::from_secs(8));
    match err {
        HttpError::Deadline(m) => assert!(
            m.ends_with("the platform asked to wait 1h (Retry-After), longer than the time left"),
            "{m}"
        ),
        other => panic!("expected Deadline, got {other:?}"),
    }
}

#[test]
fn a_host_that_never_answered_gets_the_connect_window_not_the_deadline() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (http, clock) = client();
    let err = http
        .send(
            &Request::get(format!("http://127.0.0.1:{port}/p"), "the project list"),
            &NoAuth,
            budget(&clock, 7200),
        )
        .unwrap_err();
    assert_eq!(clock.elapsed(), CONNECT_WINDOW);
    match err {
        HttpError::Unreachable(m) => assert!(
            m.starts_with(&format!(
                "could not connect to http://127.0.0.1:{port} for 2m (the project list could not reach 127.0.0.1:{port}: "
            )),
            "{m}"
        ),
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

#[test]
fn the_token_endpoint_reply_is_never_quoted() {
    let mut server = mockito::Server::new();
    let _m = server
        .mock("POST", "/token")
        .with_status(503)
        .with_body(r#"{"access_token":"leaked-in-an-error","error":"temporarily_unavailable"}"#)
        .create();
    let (http, clock) = client();
    let err = http
        .secret_reply(
            &post(format!("{}/token", server.url())),
            budget(&clock, 2),
            |_| Ok(()),
        )
        .unwrap_err();
    let said = err.to_string();
    assert!(
        said.contains("answered 503 temporarily_unavailable"),
        "{said}"
    );
    assert!(!said.contains("leaked"), "{said}");
}
