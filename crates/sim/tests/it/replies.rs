//! Faults that change what a reply says (issue 11): token replies of another shape, bodies
//! a strict reader refuses, a cache that ignores the page, redirects, an echoed token, and
//! the generic raw, JSON and byte edits with `Fault::after` and `Matcher::Query`.

use crate::common::*;

/// A token reply's token, whatever its shape.
fn token_in(r: &Resp) -> String {
    if r.ctype.starts_with("application/x-www-form-urlencoded") {
        let pair = r.body.split('&').find(|p| p.starts_with("access_token="));
        return pair.unwrap()["access_token=".len()..].to_string();
    }
    let v = r.json();
    let t = v.get("access_token").or_else(|| v.get("accessToken"));
    t.and_then(Value::as_str).unwrap().to_string()
}

#[test]
fn token_replies_of_another_shape_carry_a_valid_token() {
    let mut t = T::start(world());
    let shapes = [
        FaultAction::token_expires_in_as_string(),
        FaultAction::token_fields_renamed(),
        FaultAction::token_form_encoded(),
    ];
    for (i, shape) in shapes.into_iter().enumerate() {
        t.sim.add_fault(Fault::once(Route::Token, shape));
        let r = t.token_request("id");
        assert_eq!(r.status, 200, "{}", r.body);
        match i {
            0 => {
                assert_eq!(r.json()["expires_in"], "1800");
                assert!(r.json()["access_token"].is_string());
            }
            1 => {
                assert_eq!(r.json()["expiresIn"], 1800);
                assert_eq!(r.json()["tokenType"], "Bearer");
                assert!(r.json().get("access_token").is_none());
            }
            _ => {
                assert!(r.ctype.starts_with("application/x-www-form-urlencoded"));
                assert!(r.body.ends_with("&token_type=Bearer&expires_in=1800"));
            }
        }
        // The token in it is real: issued, and accepted.
        t.token = token_in(&r);
        assert_eq!(t.sim.issued_tokens().last(), Some(&t.token));
        assert_eq!(t.get("/v1/projects").status, 200);
    }
    let kinds: Vec<_> = t
        .sim
        .requests_to(Route::Token)
        .iter()
        .map(|r| r.fault)
        .collect();
    assert_eq!(
        kinds,
        [
            Some("token-expires-in-string"),
            Some("token-fields-renamed"),
            Some("token-form-encoded")
        ]
    );
    // A refusal is left as it was.
    t.sim
        .add_fault(Fault::once(Route::Token, FaultAction::token_form_encoded()));
    let r = t.token_request("wrong");
    assert_eq!(r.status, 401);
    assert!(r.json()["error"].is_string());
}

#[test]
fn a_gateway_can_echo_the_bearer_token() {
    let t = T::start(world());
    let id = t.trigger(json!({"pipelineName": "nightly-load", "environmentName": "dev"}));
    t.sim.add_fault(Fault::once(
        Route::Status,
        FaultAction::echo_authorization(400),
    ));
    let r = t.get(&format!(
        "/v1/projects/{PID}/pipeline-executions/{id}/status"
    ));
    assert_eq!(r.status, 400);
    assert!(r.ctype.starts_with("application/problem+json"));
    let detail = r.json()["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("Bearer static-token"), "{detail}");
    assert!(detail.contains("eyJhbGciOiJIUzI1NiJ9."), "{detail}");

    t.sim
        .add_fault(Fault::once(Route::Status, FaultAction::unauthorized()));
    let r = t.get(&format!(
        "/v1/projects/{PID}/pipeline-executions/{id}/status"
    ));
    assert_eq!(r.status, 401);
    assert!(
        r.headers
            .iter()
            .any(|(k, v)| k == "www-authenticate" && v == "Bearer")
    );
}

#[test]
fn bodies_a_strict_reader_refuses() {
    let t = T::start(world());
    let id = t.trigger(json!({"pipelineName": "broken-load", "environmentName": "dev"}));
    t.clock.advance(secs(5));
    let steps = format!("/v1/projects/{PID}/pipeline-executions/{id}/steps");
    let details = format!("/v1/projects/{PID}/pipeline-executions/{id}");

    t.sim
        .add_fault(Fault::once(Route::Steps, FaultAction::results_null()));
    let v = t.get(&steps).json();
    assert!(v["results"].is_null());
    assert_eq!(v["total"], 3);

    for route in [Route::Details, Route::Steps] {
        t.sim
            .add_fault(Fault::once(route, FaultAction::message_lone_surrogate()));
    }
    for path in [&details, &steps] {
        let (status, _, body) = t.get_bytes(path);
        assert_eq!(status, 200);
        let text = String::from_utf8(body).unwrap();
        assert!(text.contains(r#""message":"\ud83d"#), "{text}");
        assert!(serde_json::from_str::<Value>(&text).is_err());
    }

    t.sim.add_fault(Fault::once(
        Route::Steps,
        FaultAction::message_invalid_utf8(),
    ));
    let (_, _, body) = t.get_bytes(&steps);
    assert!(std::str::from_utf8(&body).is_err());
    assert!(body.windows(2).any(|w| w == b"\xe9\xff"));

    t.sim
        .add_fault(Fault::once(Route::Steps, FaultAction::without_total()));
    let v = t.get(&steps).json();
    assert!(v.get("total").is_none());
    assert_eq!(v["results"].as_array().unwrap().len(), 3);
    t.sim
        .add_fault(Fault::once(Route::Steps, FaultAction::negative_total()));
    assert_eq!(t.get(&steps).json()["total"], -1);
    // Each fired once.
    assert_eq!(t.get(&steps).json()["total"], 3);
    assert!(t.sim.faults().is_empty());
}

#[test]
fn raw_bytes_json_and_byte_edits_on_the_nth_reply() {
    let t = T::start(world());
    let id = t.trigger(json!({"pipelineName": "nightly-load", "environmentName": "dev"}));
    let status = format!("/v1/projects/{PID}/pipeline-executions/{id}/status");

    let bytes = b"{\"status\":\"RUN\xffNING\"}".to_vec();
    t.sim.add_fault(
        Fault::once(
            Route::Status,
            FaultAction::raw_body(200, "application/json", bytes.clone()),
        )
        .after(2),
    );
    for _ in 0..2 {
        assert_eq!(t.get(&status).json()["status"], "QUEUED");
    }
    let (code, ctype, body) = t.get_bytes(&status);
    assert_eq!(
        (code, ctype.as_str(), body),
        (200, "application/json", bytes)
    );
    assert_eq!(t.get(&status).json()["status"], "QUEUED");

    t.sim.add_fault(Fault::once(
        Route::Status,
        FaultAction::mutate_json(|v| v["status"] = json!(42)),
    ));
    assert_eq!(t.get(&status).json()["status"], 42);
    t.sim.add_fault(Fault::once(
        Route::Status,
        FaultAction::map_body(|b| b.to_ascii_lowercase()),
    ));
    assert_eq!(t.get(&status).json()["status"], "queued");

    // Only page 1 of the steps.
    let cfg_steps = |page: u32| {
        t.get(&format!(
            "/v1/projects/{PID}/pipeline-executions/{id}/steps?page={page}&size=2"
        ))
        .json()
    };
    t.clock.advance(secs(10));
    t.sim.add_fault(
        Fault::matching(
            Matcher::Query {
                route: Route::Steps,
                contains: "page=1".into(),
            },
            FaultAction::results_null(),
        )
        .forever(),
    );
    for _ in 0..2 {
        assert_eq!(cfg_steps(0)["results"].as_array().unwrap().len(), 2);
        assert!(cfg_steps(1)["results"].is_null());
    }
    let kinds: Vec<_> = t.sim.requests().iter().filter_map(|r| r.fault).collect();
    assert_eq!(
        kinds,
        [
            "raw",
            "mutate-json",
            "map-body",
            "results-null",
            "results-null"
        ]
    );
}

#[test]
fn a_cache_that_ignores_the_page_and_drops_the_total() {
    let t = T::start(world());
    let id = t.trigger(json!({"pipelineName": "big", "environmentName": "dev"}));
    t.clock.advance(secs(100));
    t.sim.add_fault(Fault::always(
        Route::Steps,
        FaultAction::cache_ignoring_page(),
    ));
    let page = |n: u32| {
        t.get(&format!(
            "/v1/projects/{PID}/pipeline-executions/{id}/steps?size=100&page={n}"
        ))
        .json()
    };
    let first = page(0);
    assert!(first.get("total").is_none());
    assert_eq!(first["results"].as_array().unwrap().len(), 100);
    for n in [1, 2, 7] {
        let p = page(n);
        assert_eq!(p, first, "page {n} is the first page again");
        assert_eq!(p["page"], 0);
    }
    // The request is recorded as sent.
    assert!(t.sim.requests_to(Route::Steps)[1].query.contains("page=1"));

    // On the list: the `more` token leads back to the first page.
    for _ in 0..2 {
        t.trigger(json!({"pipelineName": "nightly-load", "environmentName": "dev"}));
    }
    t.sim.add_fault(Fault::always(
        Route::ListExecutions,
        FaultAction::cache_ignoring_page(),
    ));
    let first = t.get("/v1/pipeline-executions?limit=2").json();
    let more = first["more"].as_str().unwrap().to_string();
    let again = t
        .get(&format!(
            "/v1/pipeline-executions?limit=2&paginationToken={more}"
        ))
        .json();
    assert_eq!(execution_ids(&again), execution_ids(&first));
}

#[test]
fn redirects_on_any_route() {
    let t = T::start(world());
    for (status, reason) in [
        (301, "Moved Permanently"),
        (302, "Found"),
        (307, "Temporary Redirect"),
        (308, "Permanent Redirect"),
    ] {
        let to = format!("http://127.0.0.1:9/elsewhere/{status}");
        t.sim.add_fault(Fault::once(
            Route::Projects,
            FaultAction::redirect(status, &to),
        ));
        let out = raw(
            &t.sim,
            b"GET /dpc/v1/projects HTTP/1.1\r\nAuthorization: Bearer static-token\r\nConnection: close\r\n\r\n",
        );
        assert!(
            out.starts_with(&format!("HTTP/1.1 {status} {reason}\r\n")),
            "{out}"
        );
        assert!(out.contains(&format!("\r\nLocation: {to}\r\n")), "{out}");
    }
    t.sim.add_fault(Fault::once(
        Route::Token,
        FaultAction::redirect(302, "/oauth/v2/token"),
    ));
    let out = raw(
        &t.sim,
        b"POST /oauth/dpc/token HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert!(out.starts_with("HTTP/1.1 302 Found\r\n"), "{out}");
    assert!(out.contains("\r\nLocation: /oauth/v2/token\r\n"), "{out}");
}
