//! Issue 11: the promises hold when the API and the network misbehave the way real
//! infrastructure does. Each test runs the real binary against the simulator with one
//! fault class injected, and checks the exit code, the key lines, and what was (not) sent.
//! Classes 1, 2, 6, 8, 9, 11 (the HTTP, auth and reading layers); the wait and platform
//! classes are in `hostile_wait.rs`.

use crate::common::*;
use pipeline_run_sim::{
    Environment, Fault, FaultAction, Project, PublishedPipeline, Route, RunScript, SimConfig,
    SimHandle,
};
use std::net::TcpListener;
use std::time::{Duration, Instant};

const PROJECT_ID: &str = "5d0e7a2c-1111-4222-8333-944455556666";
const PROJECT: &str = "Warehouse";
const ENV: &str = "dev";

/// `load` ends in a moment with a failing step message; `long` runs for two minutes.
fn sim_with(cfg: SimConfig, faults: Vec<Fault>) -> SimHandle {
    let mut c = cfg.cancel_delay(Duration::from_millis(100)).project(
        Project::new(PROJECT_ID, PROJECT).environment(
            Environment::new(ENV)
                .pipeline(PublishedPipeline::new(
                    "load",
                    RunScript::new(Duration::from_millis(200), 3).step_message(1, "loaded 42 rows"),
                ))
                .pipeline(PublishedPipeline::new(
                    "long",
                    RunScript::new(Duration::from_secs(120), 3),
                )),
        ),
    );
    for f in faults {
        c = c.fault(f);
    }
    start_sim(c)
}

fn sim(faults: Vec<Fault>) -> SimHandle {
    sim_with(SimConfig::new(), faults)
}

/// Every report file, the GitHub files, and the most verbose log there is.
struct Files {
    scratch: Scratch,
}

impl Files {
    fn new(tag: &str, env: &mut Vec<(String, String)>) -> Self {
        let scratch = Scratch::new(tag);
        let p = |n: &str| scratch.path(n).to_string_lossy().into_owned();
        set(env, "GITHUB_ACTIONS", "true");
        set(env, "RUNNER_DEBUG", "1");
        set(env, "RUST_LOG", "trace");
        set(env, "GITHUB_OUTPUT", p("output"));
        set(env, "GITHUB_STEP_SUMMARY", p("summary.md"));
        set(env, "GITHUB_STATE", p("state"));
        set(env, "MATILLION_RESULT_FILE", p("result.json"));
        set(env, "MATILLION_DOTENV_FILE", p("run.env"));
        set(env, "MATILLION_JUNIT_FILE", p("junit.xml"));
        Self { scratch }
    }

    /// Everything the run wrote or printed, by name.
    fn everything(&self, out: &Output) -> Vec<(&'static str, String)> {
        let mut all = vec![
            ("stdout", out.stdout.clone()),
            ("stderr", out.stderr.clone()),
        ];
        for name in [
            "output",
            "summary.md",
            "state",
            "result.json",
            "run.env",
            "junit.xml",
        ] {
            all.push((name, self.scratch.read(name)));
        }
        all
    }

    /// `secret` is nowhere, but in the one line that tells the runner to mask it
    /// (`::add-mask::`, which the runner consumes and never shows).
    fn assert_nowhere(&self, out: &Output, secret: &str) {
        assert!(secret.len() >= 8, "a real secret: {secret:?}");
        for (what, text) in self.everything(out) {
            for line in text.lines() {
                if what == "stdout" && line == format!("::add-mask::{secret}") {
                    continue;
                }
                assert!(!line.contains(secret), "the secret is in {what}:\n{text}");
            }
        }
    }
}

fn env_for(sim: &SimHandle, pipeline: &str) -> Vec<(String, String)> {
    matillion_env(sim, PROJECT, ENV, pipeline)
}

/// A loopback port nothing listens on, and no other test can take while this lives: the
/// local port of a connection the test holds open (a port bound and let go at once could be
/// taken by another test's simulator in between, on a busy machine).
struct ClosedPort {
    port: u16,
    _held: (TcpListener, std::net::TcpStream, std::net::TcpStream),
}

impl ClosedPort {
    fn new() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let client =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        let port = client.local_addr().expect("local addr").port();
        Self {
            port,
            _held: (listener, client, server),
        }
    }
}

// ---- class 1: a response body can hold a secret ----------------------------------------

#[test]
fn token_replies_of_other_shapes_are_read_and_the_token_is_never_shown() {
    // The three shapes side by side.
    std::thread::scope(|s| {
        for (name, fault) in [
            (
                "expires_in as a string",
                FaultAction::token_expires_in_as_string(),
            ),
            ("renamed fields", FaultAction::token_fields_renamed()),
            ("form-encoded", FaultAction::token_form_encoded()),
        ] {
            s.spawn(move || {
                let sim = sim(vec![Fault::always(Route::Token, fault)]);
                let mut env = env_for(&sim, "load");
                let files = Files::new("token-shape", &mut env);
                let out = run(&env, &[]);
                assert_eq!(out.code, 0, "{name}: {}", out.stderr);
                assert_eq!(sim.requests_to(Route::Token).len(), 1, "{name}");
                assert_eq!(sim.requests_to(Route::Trigger).len(), 1, "{name}");
                let tokens = sim.issued_tokens();
                assert_eq!(tokens.len(), 1);
                files.assert_nowhere(&out, &tokens[0]);
            });
        }
    });
}

#[test]
fn a_token_reply_that_cannot_be_read_is_never_echoed() {
    // A 200 holding a token in a shape nobody reads: retried a few times, then exit 4,
    // and not a byte of the body anywhere (it is not a token this program knows).
    let hidden = "tok_Zq8HIDDENsecret41";
    let body = format!(r#"{{"data":{{"jwt":"{hidden}","session":"s3ss10nSECRET"}}}}"#);
    let sim = sim(vec![Fault::always(
        Route::Token,
        FaultAction::raw_body(200, "application/json", body.into_bytes()),
    )]);
    let mut env = env_for(&sim, "load");
    let files = Files::new("token-unreadable", &mut env);
    let out = run(&env, &[]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "the token endpoint answered 200 with a body (66 bytes) that holds no access_token this program can read (its content is not shown: it may hold a secret); 4 replies in a row could not be used"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(sim.requests_to(Route::Token).len(), 4);
    assert!(sim.requests_to(Route::Trigger).is_empty());
    files.assert_nowhere(&out, hidden);
    files.assert_nowhere(&out, "s3ss10nSECRET");
}

#[test]
fn a_gateway_quoting_the_bearer_token_is_redacted_everywhere() {
    // The status poll is answered 403 with a body that quotes the Authorization header
    // and a JWT: the refusal is reported (exit 4), without either.
    let sim = sim(vec![Fault::always(
        Route::Status,
        FaultAction::echo_authorization(403),
    )]);
    let mut env = env_for(&sim, "long");
    let files = Files::new("echo-auth", &mut env);
    let out = run(&env, &[]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "Matillion refused the status poll: 403 Rejected by gateway: request with Authorization: Bearer *** rejected; upstream session *** — the credentials lack access"
        ),
        "{}",
        out.stderr
    );
    let tokens = sim.issued_tokens();
    assert_eq!(tokens.len(), 1);
    files.assert_nowhere(&out, &tokens[0]);
    files.assert_nowhere(&out, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzaW0ifQ.c2lnbmF0dXJl");
}

#[test]
fn a_fixed_access_token_quoted_back_is_redacted() {
    let token = "fixed-Access-Token-0123456789";
    let sim = sim_with(
        SimConfig::new().static_token(token),
        vec![Fault::always(
            Route::Projects,
            FaultAction::echo_authorization(400),
        )],
    );
    let mut env = env_for(&sim, "load");
    unset(&mut env, "MATILLION_CLIENT_ID");
    unset(&mut env, "MATILLION_CLIENT_SECRET");
    set(&mut env, "MATILLION_ACCESS_TOKEN", token);
    let files = Files::new("echo-fixed", &mut env);
    let out = run(&env, &[]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(out.stderr.contains("Bearer ***"), "{}", out.stderr);
    files.assert_nowhere(&out, token);
}

// ---- class 2: read leniently, never retry the same bytes for hours ---------------------

#[test]
fn odd_but_usable_bodies_are_used_at_once() {
    let sim = sim(vec![
        Fault::always(Route::Details, FaultAction::message_lone_surrogate()),
        Fault::always(Route::Steps, FaultAction::message_lone_surrogate()),
    ]);
    let mut env = env_for(&sim, "load");
    let files = Files::new("lenient", &mut env);
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Each read once: nothing was retried.
    assert_eq!(sim.requests_to(Route::Details).len(), 1);
    assert_eq!(sim.requests_to(Route::Steps).len(), 1);
    let result = files.scratch.read("result.json");
    assert!(
        result.contains("\"message\": \"\u{fffd}loaded 42 rows\""),
        "{result}"
    );
    assert!(
        result.contains("\"message\": \"\u{fffd}\\\"Step 3\\\": Success\""),
        "{result}"
    );
}

#[test]
fn a_missing_or_negative_total_is_unknown_not_an_error() {
    for fault in [FaultAction::negative_total(), FaultAction::without_total()] {
        let sim = sim(vec![Fault::always(Route::Steps, fault)]);
        let mut env = env_for(&sim, "load");
        let files = Files::new("total", &mut env);
        let out = run(&env, &[]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(sim.requests_to(Route::Steps).len(), 1);
        let result = files.scratch.read("result.json");
        assert_eq!(result.matches("\"name\": \"Step ").count(), 3, "{result}");
    }
}

#[test]
fn bytes_that_are_not_utf8_become_replacement_characters() {
    let sim = sim(vec![
        Fault::always(Route::Steps, FaultAction::message_invalid_utf8()),
        Fault::always(Route::Steps, FaultAction::without_total()),
    ]);
    let mut env = env_for(&sim, "load");
    let files = Files::new("utf8", &mut env);
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(sim.requests_to(Route::Steps).len(), 1);
    let result = files.scratch.read("result.json");
    assert!(
        result.contains("\"message\": \"\u{fffd}\u{fffd}loaded 42 rows\""),
        "{result}"
    );
}

#[test]
fn null_results_are_an_empty_page_not_an_error() {
    let sim = sim(vec![Fault::always(
        Route::Steps,
        FaultAction::results_null(),
    )]);
    let mut env = env_for(&sim, "load");
    let files = Files::new("null-results", &mut env);
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(sim.requests_to(Route::Steps).len(), 1);
    let result = files.scratch.read("result.json");
    assert!(result.contains("\"steps\": []"), "{result}");
}

#[test]
fn a_body_that_cannot_be_used_is_retried_a_few_times_then_the_run_decides() {
    // The steps answer garbage forever: 4 attempts, then the run's own status decides
    // (exit 0), and the report says the steps could not be read.
    let sim = sim(vec![Fault::always(Route::Steps, FaultAction::Garbage)]);
    let mut env = env_for(&sim, "load");
    let files = Files::new("garbage-steps", &mut env);
    let started = Instant::now();
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(sim.requests_to(Route::Steps).len(), 4);
    assert!(
        out.stderr.contains(
            "warning: the run ended SUCCESS, but its details could not be read: Matillion gave no usable reply to the step list:"
        ),
        "{}",
        out.stderr
    );
    assert!(
        files
            .scratch
            .read("result.json")
            .contains("Details and steps could not be read")
    );
}

#[test]
fn a_reply_longer_than_the_cap_is_given_up_after_a_few_tries() {
    // A steps page of 9 MB (over the 8 MB read at most): never read whole, tried 4
    // times like any unusable body, then the run's own status decides.
    let huge = format!("{{\"results\":[{{\"name\":\"{}\"}}]}}", "x".repeat(9 << 20));
    let sim = sim(vec![Fault::always(
        Route::Steps,
        FaultAction::raw_body(200, "application/json", huge),
    )]);
    let env = env_for(&sim, "load");
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(sim.requests_to(Route::Steps).len(), 4);
    assert!(
        out.stderr.contains(
            "the step list: the reply (200) is longer than 8 MB, the most read; 4 replies in a row could not be used"
        ),
        "{}",
        out.stderr
    );
}

// ---- class 6: rate limits and the deadline ---------------------------------------------

#[test]
fn a_rate_limit_longer_than_the_time_left_waits_until_the_deadline() {
    let sim = sim(vec![Fault::once(
        Route::Status,
        FaultAction::too_many_requests(3600),
    )]);
    let mut env = env_for(&sim, "long");
    set(&mut env, "MATILLION_TIMEOUT", "1s");
    set(&mut env, "PIPELINE_RUN_TEST_TIMINGS", "100");
    let started = Instant::now();
    let out = run(&env, &[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    // Not cancelled before the user's timeout: the cancel comes at the deadline, 1 s after
    // the binary started (which was after `started`; the simulator keeps real time).
    let cancel = sim.requests_to(Route::Cancel);
    assert_eq!(cancel.len(), 1, "{}", out.stderr);
    assert!(
        cancel[0].at - started >= Duration::from_secs(1),
        "cancelled {:?} after the start",
        cancel[0].at - started
    );
    // One status poll before the cancel: the 429 was waited out, not retried.
    let polls_before_cancel = sim
        .requests_to(Route::Status)
        .iter()
        .filter(|r| r.elapsed < cancel[0].elapsed)
        .count();
    assert_eq!(polls_before_cancel, 1);
    assert!(
        out.stderr.contains(
            "the status poll answered 429 Too Many Requests: Rate limit exceeded; the platform asked to wait 1h (Retry-After), longer than the time left: waiting until the deadline"
        ),
        "{}",
        out.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

// ---- class 8: before the trigger, fail fast on what will not heal ----------------------

#[test]
fn an_unreachable_host_before_the_trigger_exits_4_naming_it_after_the_window() {
    // A run and a dry run, side by side.
    std::thread::scope(|s| {
        for dry_run in [false, true] {
            s.spawn(move || unreachable_before_the_trigger(dry_run));
        }
    });
}

/// A run (or a dry run) whose API host never answers: exit 4 at the end of the window.
fn unreachable_before_the_trigger(dry_run: bool) {
    let sim = sim(vec![]);
    let closed = ClosedPort::new();
    let port = closed.port;
    let mut env = env_for(&sim, "load");
    set(
        &mut env,
        "MATILLION_API_URL",
        format!("http://127.0.0.1:{port}/dpc"),
    );
    set(&mut env, "MATILLION_TIMEOUT", "1h");
    set(&mut env, "MATILLION_DRY_RUN", dry_run.to_string());
    // The 2-minute window, divided by 100: 1.2 s.
    set(&mut env, "PIPELINE_RUN_TEST_TIMINGS", "100");
    let started = Instant::now();
    let out = run(&env, &[]);
    assert_eq!(out.code, 4, "dry run {dry_run}: {}", out.stderr);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        out.stderr.contains(&format!(
            "Matillion could not be reached for the project list: could not connect to http://127.0.0.1:{port} for 1s"
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("check the URL and the network"),
        "{}",
        out.stderr
    );
    assert!(sim.requests_to(Route::Trigger).is_empty());
}

// ---- class 9: network edges ------------------------------------------------------------

#[test]
fn no_proxy_entries_with_spaces_are_honoured() {
    let sim = sim(vec![]);
    let closed = ClosedPort::new();
    let dead_proxy = format!("http://127.0.0.1:{}", closed.port);
    let mut env = env_for(&sim, "load");
    set(&mut env, "HTTPS_PROXY", dead_proxy.clone());
    set(&mut env, "HTTP_PROXY", dead_proxy);
    set(&mut env, "NO_PROXY", "example.com, localhost, 127.0.0.1");
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(sim.requests_to(Route::Trigger).len(), 1);
}

#[test]
fn a_redirect_is_reported_with_where_it_points_and_no_token_follows() {
    let elsewhere = sim(vec![]);
    let target = format!("{}/v1/projects", elsewhere.base_url());
    let sim = sim(vec![Fault::always(
        Route::Projects,
        FaultAction::redirect(307, &target),
    )]);
    let out = run(&env_for(&sim, "load"), &[]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "Matillion refused the project list: 307 a redirect to {target} — redirects are not followed, so that no credential goes to another address; if the API has moved, set the input api-url to where it points"
        )),
        "{}",
        out.stderr
    );
    assert!(elsewhere.requests().is_empty(), "the redirect was followed");
    assert!(sim.requests_to(Route::Trigger).is_empty());
}

#[test]
fn a_redirected_token_endpoint_names_token_url_and_sends_the_secret_nowhere_else() {
    let elsewhere = sim(vec![]);
    let sim = sim(vec![Fault::always(
        Route::Token,
        FaultAction::redirect(308, &elsewhere.token_url()),
    )]);
    let out = run(&env_for(&sim, "load"), &[]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "if the token endpoint has moved, set the input token-url to where it points"
        ),
        "{}",
        out.stderr
    );
    assert!(elsewhere.requests().is_empty(), "the redirect was followed");
}

// ---- class 11: a fixed access-token expires --------------------------------------------

fn fixed_token_env(sim: &SimHandle, pipeline: &str, token: &str) -> Vec<(String, String)> {
    let mut env = env_for(sim, pipeline);
    unset(&mut env, "MATILLION_CLIENT_ID");
    unset(&mut env, "MATILLION_CLIENT_SECRET");
    set(&mut env, "MATILLION_ACCESS_TOKEN", token);
    env
}

#[test]
fn a_fixed_access_token_with_a_long_timeout_is_warned_about_at_the_start() {
    let token = "fixed-token-for-a-long-run";
    let sim = sim_with(SimConfig::new().static_token(token), vec![]);
    let mut env = fixed_token_env(&sim, "load", token);
    set(&mut env, "MATILLION_TIMEOUT", "2h");
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        lines[..2],
        [
            "pipeline-run: timeout 2h (input 'timeout')",
            "pipeline-run: warning: the timeout is 2h but a fixed access-token usually lives 30 minutes and cannot be renewed by this program; give client-id and client-secret instead: tokens from client credentials are renewed before they expire",
        ],
        "{}",
        out.stderr
    );
    // Not with 30 minutes or less, nor with client credentials.
    set(&mut env, "MATILLION_TIMEOUT", "30m");
    let out = run(&env, &[]);
    assert!(!out.stderr.contains("usually lives"), "{}", out.stderr);
    let mut env = env_for(&sim, "load");
    set(&mut env, "MATILLION_TIMEOUT", "2h");
    let out = run(&env, &[]);
    assert!(!out.stderr.contains("usually lives"), "{}", out.stderr);
}

#[test]
fn a_fixed_access_token_refused_mid_wait_says_it_may_have_expired() {
    let token = "fixed-token-that-lapses";
    let sim = sim_with(
        SimConfig::new().static_token(token),
        vec![Fault::always(Route::Status, FaultAction::unauthorized()).after(1)],
    );
    let out = run(&fixed_token_env(&sim, "long", token), &[]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "Matillion refused the status poll: 401 Unauthorized: Full authentication is required to access this resource — the access-token was refused: it may have expired (a fixed access-token usually lives 30 minutes"
        ),
        "{}",
        out.stderr
    );
    // One 401, not retried: a fixed token cannot be renewed.
    let statuses: Vec<_> = sim
        .requests_to(Route::Status)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [Some(200), Some(401)]);
    assert!(sim.requests_to(Route::Token).is_empty());
}

// ---- the failure table (docs/failure-handling.md) -----------------------------------------

#[test]
fn every_row_of_the_failure_table_names_a_test_that_exists() {
    const SOURCES: [&str; 8] = [
        include_str!("hostile_api.rs"),
        include_str!("hostile_wait.rs"),
        include_str!("rate_limits.rs"),
        include_str!("missed_polls.rs"),
        include_str!("../../src/http/tests.rs"),
        include_str!("../../src/http/tests_bucket.rs"),
        include_str!("../../src/http/bucket/tests.rs"),
        include_str!("../../src/platform/pager.rs"),
    ];
    let rows = assert_failure_table_names_tests("Misbehaving APIs and networks", &SOURCES);
    assert_eq!(rows, 18, "one row per class");
}
