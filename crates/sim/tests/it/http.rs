//! The HTTP server itself: keep-alive, pipelining, chunked bodies, and malformed requests.

use crate::common::*;

#[test]
fn keep_alive_reuses_one_connection() {
    let t = T::start(world());
    for _ in 0..5 {
        assert_eq!(t.get("/v1/projects").status, 200);
    }
    t.trigger(json!({"pipelineName": "nightly-load", "environmentName": "dev"}));
    assert_eq!(t.sim.connections(), 1);
    assert!(t.sim.requests().iter().all(|r| r.connection == 1));
}

#[test]
fn malformed_requests_get_400_and_server_survives() {
    let t = T::start(world());
    for req in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
        b"POST /oauth/dpc/token HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        b"POST /oauth/dpc/token HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET /dpc/v1/projects HTTP/9.9\r\n\r\n",
    ] {
        let out = raw(&t.sim, req);
        assert!(
            out.starts_with("HTTP/1.1 4") || out.starts_with("HTTP/1.1 5"),
            "{out}"
        );
    }
    // Chunked body, then a second request on the same connection (pipelined).
    let body = "grant_type=client_credentials&client_id=id&client_secret=secret";
    let (a, b) = body.split_at(10);
    let req = format!(
        "POST /oauth/dpc/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x};ext=1\r\n{b}\r\n0\r\n\r\nGET /dpc/v1/projects?size=%31 HTTP/1.1\r\nAuthorization: Bearer static-token\r\nConnection: close\r\n\r\n",
        a.len(),
        b.len()
    );
    let out = raw(&t.sim, req.as_bytes());
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 2, "{out}");
    assert!(out.contains("access_token"));
    assert!(out.contains("\"size\":1"));
    assert_eq!(t.get("/v1/projects").status, 200);
}
