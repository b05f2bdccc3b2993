//! Failure handling, end to end: the real binary against the simulator on loopback, with
//! faults injected (rate limits, gateway errors, garbage, resets, lost replies, held
//! execution tags, bad credentials) and signals sent to it. Every claim is checked against
//! what the simulator recorded (requests, their times, the executions it holds).

use crate::common::*;
use pipeline_run_sim::{
    Environment, Fault, FaultAction, Project, PublishedPipeline, RecordedRequest, Route, RunScript,
    SeedExecution, SimConfig, SimHandle,
};
use std::process::Child;
use std::time::{Duration, Instant};

const PROJECT_ID: &str = "5d0e7a2c-1111-4222-8333-944455556666";
const PROJECT: &str = "Warehouse";
const ENV: &str = "dev";

/// `load` ends in well under a second; `long` runs for two minutes (it is cancelled);
/// `load-extra` shares a prefix with `load` (the list filter is a partial match).
fn project() -> Project {
    Project::new(PROJECT_ID, PROJECT).environment(
        Environment::new(ENV)
            .pipeline(PublishedPipeline::new(
                "load",
                RunScript::new(Duration::from_millis(300), 3),
            ))
            .pipeline(PublishedPipeline::new(
                "long",
                RunScript::new(Duration::from_secs(120), 3),
            ))
            .pipeline(PublishedPipeline::new(
                "load-extra",
                RunScript::new(Duration::from_secs(120), 3),
            )),
    )
}

/// The platform takes this long to move a cancelled run to CANCELLED: well inside the
/// binary's follow after a signal (1.5 s, divided by [`TIMINGS_DIVISOR`] here).
fn cancel_delay() -> Duration {
    Duration::from_millis(200) / TIMINGS_DIVISOR
}

fn sim_config() -> SimConfig {
    SimConfig::new()
        .project(project())
        .cancel_delay(cancel_delay())
}

fn sim(faults: Vec<Fault>) -> SimHandle {
    let mut c = sim_config();
    for f in faults {
        c = c.fault(f);
    }
    start_sim(c)
}

fn env_for(sim: &SimHandle, pipeline: &str) -> Vec<(String, String)> {
    matillion_env(sim, PROJECT, ENV, pipeline)
}

/// Everything the binary printed, for "is it anywhere" checks.
fn all_text(out: &Output) -> String {
    format!("{}\n{}", out.stdout, out.stderr)
}

fn statuses(reqs: &[RecordedRequest]) -> Vec<Option<u16>> {
    reqs.iter().map(|r| r.status).collect()
}

/// GitHub-style files for outputs and summary.
struct GithubFiles {
    scratch: Scratch,
}

impl GithubFiles {
    fn new(tag: &str, env: &mut Vec<(String, String)>) -> Self {
        let scratch = Scratch::new(tag);
        set(env, "GITHUB_ACTIONS", "true");
        set(
            env,
            "GITHUB_OUTPUT",
            scratch.path("output").to_string_lossy(),
        );
        set(
            env,
            "GITHUB_STEP_SUMMARY",
            scratch.path("summary.md").to_string_lossy(),
        );
        set(env, "GITHUB_STATE", scratch.path("state").to_string_lossy());
        Self { scratch }
    }
    fn outputs(&self) -> Vec<(String, String)> {
        parse_outputs(&self.scratch.read("output"))
    }
    fn summary(&self) -> String {
        self.scratch.read("summary.md")
    }
}

#[test]
fn rate_limit_waits_as_long_as_retry_after_says() {
    let sim = sim(vec![Fault::once(
        Route::Status,
        FaultAction::too_many_requests(2),
    )]);
    let out = run(&env_for(&sim, "load"), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let reqs = sim.requests();
    let i = reqs
        .iter()
        .position(|r| r.status == Some(429))
        .expect("a 429 was sent");
    let next = &reqs[i + 1];
    let gap = next.at - reqs[i].at;
    assert!(
        gap >= Duration::from_secs(2),
        "the next request came {gap:?} after the 429"
    );
    assert_eq!(next.route, Route::Status);
    assert!(
        out.stderr.contains(
            "warning: the status poll answered 429 Too Many Requests: Rate limit exceeded; retrying in 2s"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn gateway_html_three_times_then_success() {
    let sim = sim(vec![Fault::times(
        Route::Status,
        3,
        FaultAction::bad_gateway_html(),
    )]);
    let out = run(&env_for(&sim, "load"), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let polls = statuses(&sim.requests_to(Route::Status));
    assert_eq!(polls[..4], [Some(502), Some(502), Some(502), Some(200)]);
    assert_eq!(
        out.stderr
            .matches("the status poll answered 502 Bad Gateway (body: <html>")
            .count(),
        3,
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("result: SUCCESS"), "{}", out.stderr);
    assert_eq!(sim.executions().len(), 1);
}

#[test]
fn garbage_json_then_success() {
    let sim = sim(vec![Fault::once(Route::Status, FaultAction::Garbage)]);
    let out = run(&env_for(&sim, "load"), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let polls = sim.requests_to(Route::Status);
    assert_eq!(polls[0].fault, Some("garbage"));
    assert_eq!(polls[1].status, Some(200));
    assert!(
        out.stderr
            .contains("the status poll answered 200 with a body that is not the JSON expected"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("result: SUCCESS"), "{}", out.stderr);
}

#[test]
fn connection_reset_then_success() {
    let sim = sim(vec![
        Fault::once(Route::Token, FaultAction::Reset),
        Fault::once(Route::Status, FaultAction::Reset),
    ]);
    let out = run(&env_for(&sim, "load"), &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for route in [Route::Token, Route::Status] {
        let reqs = sim.requests_to(route);
        assert_eq!(reqs[0].status, None, "{route:?}: the first got no reply");
        assert_eq!(
            reqs[1].status,
            Some(200),
            "{route:?}: the retry was answered"
        );
    }
    assert_eq!(sim.executions().len(), 1);
    assert!(out.stderr.contains("result: SUCCESS"), "{}", out.stderr);
}

#[test]
fn bad_credentials_exit_4_without_the_secret() {
    let sim = sim(vec![]);
    let mut env = env_for(&sim, "load");
    let secret = "wr0ng-S3cret-value-4242";
    set(&mut env, "MATILLION_CLIENT_SECRET", secret);
    let gh = GithubFiles::new("badcreds", &mut env);
    let out = run(&env, &[]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    // Said once, as what it is: the credentials were refused (not "the project list").
    let line = "pipeline-run: error: result: refused: Matillion refused the credentials: the token endpoint answered 401 access_denied: Unauthorized — check client-id and client-secret.\n";
    assert_eq!(
        out.stderr.lines().filter(|l| l.contains("refused")).count(),
        1,
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(line), "{}", out.stderr);
    assert!(!out.stderr.contains("project list"), "{}", out.stderr);
    // Asked once: a refusal is not retried.
    assert_eq!(statuses(&sim.requests_to(Route::Token)), [Some(401)]);
    assert!(sim.requests_to(Route::Trigger).is_empty());
    for (what, text) in [
        ("output", all_text(&out)),
        ("summary", gh.summary()),
        ("outputs file", gh.scratch.read("output")),
    ] {
        assert!(!text.contains(secret), "the secret is in the {what}");
        assert!(
            !text.contains("S3cret"),
            "part of the secret is in the {what}"
        );
    }
    assert_eq!(output(&gh.outputs(), "outcome").as_deref(), Some("refused"));
}

#[test]
fn expired_token_mid_run_is_replaced_once() {
    // A 401 on a poll: one fresh token, the same poll again, and the run followed to its end.
    let sim = start_sim(sim_config());
    let mut env = env_for(&sim, "load");
    set(&mut env, "MATILLION_POLL_INTERVAL", "150ms");
    let child = spawn(&env, &[]);
    wait_for("the first status poll", || {
        !sim.requests_to(Route::Status).is_empty()
    });
    sim.expire_tokens();
    let out = finish(child);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(sim.issued_tokens().len(), 2, "{}", out.stderr);
    let polls = statuses(&sim.requests_to(Route::Status));
    assert!(polls.contains(&Some(401)), "{polls:?}");
    assert_eq!(polls.last(), Some(&Some(200)));
}

#[test]
fn held_tag_waits_for_the_holder_then_triggers_once() {
    let sim = sim(vec![]);
    let holder = sim.add_running_execution(
        SeedExecution::new("load", ENV)
            .tag("nightly")
            .script(RunScript::new(Duration::from_millis(800), 2)),
    );
    let mut env = env_for(&sim, "load");
    set(&mut env, "MATILLION_EXECUTION_TAG", "nightly");
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let execs = sim.executions();
    assert_eq!(execs.len(), 2, "the holder and exactly one new execution");
    assert_eq!(execs[0].id, holder);
    assert_eq!(execs[1].trigger, "API");
    assert_eq!(execs[1].execution_tag.as_deref(), Some("nightly"));
    assert_eq!(execs[1].status, "SUCCESS");
    assert_eq!(
        statuses(&sim.requests_to(Route::Trigger)),
        [Some(409), Some(201)]
    );
    let said = format!(
        "pipeline-run: execution tag 'nightly' is held by execution {holder} (pipeline load, started "
    );
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with(&said))
        .unwrap_or_else(|| panic!("no holder line in:\n{}", out.stderr));
    assert!(line.ends_with(", by SCHEDULE); waiting for it"), "{line}");
    assert!(
        out.stderr.contains(&format!(
            "triggered Matillion 'load': execution {}",
            execs[1].id
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn held_tag_with_on_conflict_fail_exits_4_naming_the_holder() {
    let sim = sim(vec![]);
    let holder = sim.add_running_execution(SeedExecution::new("load", ENV).tag("nightly"));
    let mut env = env_for(&sim, "load");
    set(&mut env, "MATILLION_EXECUTION_TAG", "nightly");
    set(&mut env, "MATILLION_ON_CONFLICT", "fail");
    let out = run(&env, &[]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "Matillion refused the trigger: 409 Conflict: A pipeline execution with execution tag nightly is already running — execution tag 'nightly' is held by execution {holder} (pipeline load, started "
        )),
        "{}",
        out.stderr
    );
    assert_eq!(statuses(&sim.requests_to(Route::Trigger)), [Some(409)]);
    assert_eq!(sim.executions().len(), 1);
    // It did not wait for the holder.
    assert!(sim.requests_to(Route::Status).is_empty());
}

/// The trigger's reply is lost after the run was created: exactly one execution, adopted,
/// even with other runs around that a loose match would take (an API run of the same
/// pipeline started a minute earlier; a run of `load-extra`, which the platform's partial
/// name filter returns, started just before).
fn lost_reply_adopts(tag: Option<&str>) {
    let sim = sim(vec![Fault::once(Route::Trigger, FaultAction::LoseReply)]);
    let earlier = sim.add_running_execution(
        SeedExecution::new("load", ENV)
            .trigger("API")
            .running_for(Duration::from_secs(60)),
    );
    let other = sim.add_running_execution(SeedExecution::new("load-extra", ENV).trigger("API"));
    let mut env = env_for(&sim, "load");
    if let Some(t) = tag {
        set(&mut env, "MATILLION_EXECUTION_TAG", t);
    }
    let gh = GithubFiles::new("lost", &mut env);
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let created: Vec<_> = sim
        .executions()
        .into_iter()
        .filter(|e| e.id != earlier && e.id != other)
        .collect();
    assert_eq!(created.len(), 1, "exactly one execution was created");
    let id = &created[0].id;
    assert_eq!(created[0].execution_tag.as_deref(), tag);
    assert_eq!(statuses(&sim.requests_to(Route::Trigger)), [None]);
    assert!(
        out.stderr.contains(&format!(
            "The trigger's reply was lost; adopted execution {id} (started "
        )),
        "{}",
        out.stderr
    );
    // Said once, when it happened (not again at the end).
    assert_eq!(
        out.stderr.matches("adopted execution").count(),
        1,
        "{}",
        out.stderr
    );
    assert_eq!(
        output(&gh.outputs(), "execution-id").as_deref(),
        Some(id.as_str())
    );
    assert_eq!(output(&gh.outputs(), "status").as_deref(), Some("SUCCESS"));
    // The lookup asked for this pipeline in this environment, since just before the trigger.
    let list = sim.requests_to(Route::ListExecutions);
    let q = list[0].query_pairs();
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("pipelineName").as_deref(), Some("load"));
    assert_eq!(get("environmentName").as_deref(), Some(ENV));
    assert_eq!(get("projectId").as_deref(), Some(PROJECT_ID));
    assert!(get("startedAfter").is_some());
}

#[test]
fn lost_trigger_reply_is_adopted_not_repeated() {
    lost_reply_adopts(None);
}

#[test]
fn lost_trigger_reply_with_tag_is_adopted_not_repeated() {
    lost_reply_adopts(Some("nightly"));
}

#[test]
fn trigger_reset_before_the_server_acted_is_sent_again_once() {
    // A reset closes the connection before the request is handled: no run exists, so after
    // looking, the trigger is sent again, and there is still exactly one execution.
    let sim = sim(vec![Fault::once(Route::Trigger, FaultAction::Reset)]);
    let mut env = env_for(&sim, "load");
    // The 30-second lookup window, divided by 100.
    set(&mut env, "PIPELINE_RUN_TEST_TIMINGS", "100");
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        statuses(&sim.requests_to(Route::Trigger)),
        [None, Some(201)]
    );
    assert_eq!(sim.executions().len(), 1);
    // The list was searched for the whole lookup window (it can lag), a bounded number of
    // times, before the second POST; after the trigger, the past runs for the schedule.
    let lists = sim.requests_to(Route::ListExecutions);
    let (looks, history): (Vec<_>, Vec<_>) = lists
        .iter()
        .partition(|l| l.query.contains("startedAfter="));
    assert_eq!(history.len(), 1, "{lists:?}");
    assert!((2..=30).contains(&looks.len()), "{} looks", looks.len());
    let second = sim.requests_to(Route::Trigger)[1].elapsed;
    assert!(looks.iter().all(|l| l.elapsed < second));
    assert!(history[0].elapsed > second);
    assert!(
        second - looks[0].elapsed >= Duration::from_millis(290),
        "the trigger was sent again {:?} after the first look",
        second - looks[0].elapsed
    );
    assert!(
        out.stderr
            .contains("no execution was created; triggering again"),
        "{}",
        out.stderr
    );
}

#[test]
fn timeout_cancels_the_run_and_exits_3() {
    let sim = sim(vec![]);
    let mut env = env_for(&sim, "long");
    set(&mut env, "MATILLION_TIMEOUT", "500ms");
    let gh = GithubFiles::new("timeout", &mut env);
    let out = run(&env, &[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    let cancels = sim.requests_to(Route::Cancel);
    assert_eq!(cancels.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&cancels[0].body).expect("JSON body");
    assert_eq!(
        body,
        serde_json::json!({"status": "CANCELLED", "forceUpdate": false})
    );
    let e = &sim.executions()[0];
    assert!(e.cancel_requested && !e.force_cancel);
    assert_eq!(e.status, "CANCELLED");
    assert!(
        out.stderr
            .contains("result: timed out; the execution was cancelled"),
        "{}",
        out.stderr
    );
    assert_eq!(
        output(&gh.outputs(), "outcome").as_deref(),
        Some("timed-out")
    );
    assert_eq!(
        output(&gh.outputs(), "status").as_deref(),
        Some("CANCELLED")
    );
}

#[test]
fn timeout_with_cancel_on_timeout_false_leaves_the_run() {
    let sim = sim(vec![]);
    let mut env = env_for(&sim, "long");
    set(&mut env, "MATILLION_TIMEOUT", "500ms");
    set(&mut env, "MATILLION_CANCEL_ON_TIMEOUT", "false");
    let out = run(&env, &[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(sim.requests_to(Route::Cancel).is_empty());
    assert_eq!(sim.executions()[0].status, "RUNNING");
}

#[test]
fn stalled_status_reply_cannot_eat_the_deadline() {
    // The only status poll stalls far past the timeout: the attempt is cut at the deadline,
    // the run is cancelled, exit 3.
    let sim = sim(vec![Fault::once(
        Route::Status,
        FaultAction::Delay(Duration::from_secs(20)),
    )]);
    let mut env = env_for(&sim, "long");
    set(&mut env, "MATILLION_TIMEOUT", "500ms");
    let out = run(&env, &[]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(sim.requests_to(Route::Cancel).len(), 1);
    assert!(sim.executions()[0].cancel_requested);
}

/// Start a run of `long`, wait until it is being polled, send `sig`; the child and the
/// instant of the signal.
fn signal_while_waiting(sim: &SimHandle, env: &[(String, String)], sig: &str) -> (Child, Instant) {
    let child = spawn(env, &[]);
    wait_for("the first status poll", || {
        !sim.requests_to(Route::Status).is_empty()
    });
    let at = Instant::now();
    signal(&child, sig);
    (child, at)
}

fn assert_cancelled_after_signal(sim: &SimHandle, at: Instant, out: &Output) {
    let cancels = sim.requests_to(Route::Cancel);
    assert_eq!(cancels.len(), 1, "one cancel request: {}", out.stderr);
    let lag = cancels[0].at.saturating_duration_since(at);
    assert!(
        lag < Duration::from_secs(5),
        "cancel sent {lag:?} after the signal"
    );
    let body: serde_json::Value = serde_json::from_slice(&cancels[0].body).expect("JSON body");
    assert_eq!(
        body,
        serde_json::json!({"status": "CANCELLED", "forceUpdate": false})
    );
    let e = &sim.executions()[0];
    assert!(e.cancel_requested && !e.force_cancel);
}

fn signal_cancels(sig: &str, name: &str, code: i32) {
    let sim = sim(vec![]);
    let mut env = env_for(&sim, "long");
    let gh = GithubFiles::new("signal", &mut env);
    let (child, at) = signal_while_waiting(&sim, &env, sig);
    let out = finish(child);
    assert_eq!(out.code, code, "{}", out.stderr);
    assert_cancelled_after_signal(&sim, at, &out);
    let id = sim.executions()[0].id.clone();
    assert!(
        out.stderr.contains(&format!("received {name}: stopping")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!(
            "pipeline-run: warning: cancelling execution {id}\n"
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!(
            "result: interrupted by {name}; the execution was cancelled"
        )),
        "{}",
        out.stderr
    );
    let outputs = gh.outputs();
    assert_eq!(output(&outputs, "outcome").as_deref(), Some("interrupted"));
    assert_eq!(output(&outputs, "execution-id"), Some(id.clone()));
    assert_eq!(output(&outputs, "status").as_deref(), Some("CANCELLED"));
    let summary = gh.summary();
    assert!(
        summary.starts_with("## ⏹ long was interrupted"),
        "{summary}"
    );
}

#[test]
fn sigterm_and_sigint_while_waiting_cancel_the_run_and_exit_143_and_130() {
    // Two independent runs side by side (each has its own simulator), to keep the file fast.
    std::thread::scope(|s| {
        s.spawn(|| signal_cancels("TERM", "SIGTERM", 143));
        s.spawn(|| signal_cancels("INT", "SIGINT", 130));
    });
}

#[test]
fn signal_while_a_poll_is_stuck_still_cancels() {
    // The worker is blocked in a status poll that takes 20 s; the signal handler does not
    // wait for it: it cancels from its own connection.
    let sim = sim(vec![Fault::once(
        Route::Status,
        FaultAction::Delay(Duration::from_secs(20)),
    )]);
    let env = env_for(&sim, "long");
    let (child, at) = signal_while_waiting(&sim, &env, "INT");
    let out = finish(child);
    assert_eq!(out.code, 130, "{}", out.stderr);
    assert_cancelled_after_signal(&sim, at, &out);
}

#[test]
fn second_signal_exits_at_once() {
    // The cancel request stalls; a second signal ends the process without waiting for it.
    let sim = sim(vec![Fault::once(
        Route::Cancel,
        FaultAction::Delay(Duration::from_secs(20)),
    )]);
    let env = env_for(&sim, "long");
    let (child, _) = signal_while_waiting(&sim, &env, "INT");
    wait_for("the cancel request", || {
        !sim.requests_to(Route::Cancel).is_empty()
    });
    signal(&child, "TERM");
    let out = finish(child);
    // 143 is the second signal's code: the first one's clean-up (exit 130) never finished.
    assert_eq!(out.code, 143, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("pipeline-run: second signal (SIGTERM): exiting now"),
        "{}",
        out.stderr
    );
}

/// A signal while the trigger's reply is slow to come (the platform creates the run after
/// 1.8 s, divided as the binary's timings are: past the settle window, within the wait
/// for the trigger's reply). Returns the output, and whether a cancel was sent and taken.
fn signal_during_trigger(wait: bool) -> (Output, bool) {
    let sim = sim(vec![Fault::once(
        Route::Trigger,
        FaultAction::Delay(Duration::from_millis(1800) / TIMINGS_DIVISOR),
    )]);
    let mut env = env_for(&sim, "long");
    set(&mut env, "MATILLION_WAIT", wait.to_string());
    let child = spawn(&env, &[]);
    wait_for("the trigger", || {
        !sim.requests_to(Route::Trigger).is_empty()
    });
    signal(&child, "INT");
    let out = finish(child);
    wait_for("the execution", || sim.executions().len() == 1);
    let cancelled = !sim.requests_to(Route::Cancel).is_empty();
    assert_eq!(cancelled, sim.executions()[0].cancel_requested);
    (out, cancelled)
}

#[test]
fn signal_during_the_trigger_cancels_the_run_it_creates_unless_wait_is_false() {
    std::thread::scope(|s| {
        s.spawn(|| {
            // Waiting: the run the trigger creates is known in time, and cancelled.
            let (out, cancelled) = signal_during_trigger(true);
            assert_eq!(out.code, 130, "{}", out.stderr);
            assert!(cancelled, "{}", out.stderr);
            assert!(
                out.stderr
                    .contains("result: interrupted by SIGINT; the execution was cancelled"),
                "{}",
                out.stderr
            );
        });
        s.spawn(|| {
            // `wait: false`: nothing is ever cancelled.
            let (out, cancelled) = signal_during_trigger(false);
            assert_eq!(out.code, 130, "{}", out.stderr);
            assert!(!cancelled, "{}", out.stderr);
            assert!(
                out.stderr
                    .contains("result: interrupted by SIGINT; the execution was not cancelled"),
                "{}",
                out.stderr
            );
        });
    });
}
