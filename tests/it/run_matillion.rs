//! The main job, end to end: the real binary against the simulator over loopback HTTP.
//! Input validation, the trigger body, polling to each terminal status and its exit code,
//! project resolution across pages, step pagination, outputs, the summary, `wait: false`.

use crate::common::*;
use pipeline_run_sim::{Environment, Project, PublishedPipeline, Route, RunScript, SimConfig};
use std::time::Duration;

const PID: &str = "4a8a6162-702b-4efc-b2ec-c986e0bc95e4";

fn world(script: RunScript) -> SimConfig {
    SimConfig::new().project(
        Project::new(PID, "Analytics").environment(
            Environment::new("prod")
                .pipeline(PublishedPipeline::new("Load orders", script).versions(&["1.2.3"])),
        ),
    )
}

fn quick(steps: usize) -> RunScript {
    RunScript::new(Duration::from_millis(300), steps)
}

fn env_for(sim: &pipeline_run_sim::SimHandle) -> Vec<(String, String)> {
    matillion_env(sim, "Analytics", "prod", "Load orders")
}

#[test]
fn bad_inputs_exit_2_and_send_nothing() {
    let sim = start_sim(world(quick(1)));
    let cases: &[(&str, &str, &str)] = &[
        (
            "MATILLION_TIMEOUT",
            "90",
            "input 'timeout': got '90'; expected a duration with a unit, such as `30s`, `90m` or `2h`.",
        ),
        (
            "MATILLION_WAIT",
            "yes",
            "input 'wait': got 'yes'; expected `true` or `false`.",
        ),
        ("MATILLION_REGION", "ap1", ""),
        (
            "MATILLION_API_URL",
            "ftp://x",
            "input 'api-url': got 'ftp://x'; expected an http:// or https:// URL with a host.",
        ),
        (
            "MATILLION_VARIABLES",
            "a=1\nbroken",
            "input 'variables': line 2 has no `=`; expected name=value lines (or a JSON object).",
        ),
        (
            "MATILLION_GRID_VARIABLES",
            "[1]",
            "input 'grid-variables': is not a valid JSON object",
        ),
        (
            "MATILLION_ON_CONFLICT",
            "later",
            "input 'on-conflict': got 'later'; expected `wait` or `fail`.",
        ),
        (
            "MATILLION_POLL_INTERVAL",
            "1h",
            "input 'max-poll-interval': is 200ms but poll-interval is 1h; it must be at least poll-interval.",
        ),
    ];
    for (k, v, want) in cases {
        let mut env = env_for(&sim);
        set(&mut env, k, *v);
        if *k == "MATILLION_REGION" {
            unset(&mut env, "MATILLION_API_URL");
        }
        let out = run(&env, &[]);
        assert_eq!(out.code, 2, "{k}={v}: {out:?}");
        let want = if want.is_empty() {
            "input 'region': got 'ap1'; expected `eu1`, `us1` or `au1` (or give `api-url`)."
        } else {
            want
        };
        assert!(
            out.stderr.contains(want),
            "{k}={v}: stderr was:\n{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("nothing was triggered"),
            "{}",
            out.stderr
        );
    }
    // A missing required input, and a secret with a bad character: named, never shown.
    let mut env = env_for(&sim);
    unset(&mut env, "MATILLION_PIPELINE");
    set(&mut env, "MATILLION_CLIENT_SECRET", "very secret");
    let out = run(&env, &[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("input 'pipeline': is required"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("input 'client-secret': contains white space"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("very secret") && !out.stdout.contains("very secret"));
    assert!(
        sim.requests().is_empty(),
        "requests were made: {:?}",
        sim.requests().len()
    );
}

#[test]
fn trigger_body_has_exactly_the_fields_given() {
    let sim = start_sim(world(quick(1)));
    let mut env = env_for(&sim);
    set(&mut env, "INPUT_VERSION", "1.2.3");
    set(&mut env, "INPUT_AGENT-ID", "agent-7");
    set(&mut env, "INPUT_EXECUTION-TAG", "main");
    set(
        &mut env,
        "INPUT_VARIABLES",
        "run_date=2026-11-22\nfilter=a=b",
    );
    set(
        &mut env,
        "INPUT_GRID-VARIABLES",
        r#"{"regions": [["eu", "1"], ["us", "2"]]}"#,
    );
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    let ex = sim.executions();
    assert_eq!(ex.len(), 1);
    assert_eq!(
        ex[0].request_body,
        serde_json::json!({
            "pipelineName": "Load orders",
            "environmentName": "prod",
            "versionName": "1.2.3",
            "agentId": "agent-7",
            "executionTag": "main",
            "scalarVariables": {"run_date": "2026-11-22", "filter": "a=b"},
            "gridVariables": {"regions": [["eu", "1"], ["us", "2"]]}
        })
    );

    // Optional inputs absent: absent from the body (not null).
    let sim = start_sim(world(quick(1)));
    let out = run(&env_for(&sim), &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        sim.executions()[0].request_body,
        serde_json::json!({"pipelineName": "Load orders", "environmentName": "prod"})
    );
    let trigger = &sim.requests_to(Route::Trigger)[0];
    assert_eq!(
        trigger.path,
        format!("/dpc/v1/projects/{PID}/pipeline-executions")
    );
    assert!(
        trigger
            .header("user-agent")
            .unwrap_or_default()
            .starts_with("pipeline-run/"),
        "{:?}",
        trigger.header("user-agent")
    );
}

#[test]
fn polls_through_unknown_statuses_to_each_terminal_status() {
    // One run per terminal status, side by side (each has its own simulator).
    std::thread::scope(|s| {
        for (status, code) in [
            ("SUCCESS", 0),
            ("FAILED", 1),
            ("CANCELLED", 1),
            ("SKIPPED", 1),
            ("FORBIDDEN", 1),
        ] {
            s.spawn(move || polls_through_to(status, code));
        }
    });
}

fn polls_through_to(status: &str, code: i32) {
    let script = RunScript::new(Duration::from_millis(900), 2)
        .phase(Duration::from_millis(300), "QUEUED")
        .phase(Duration::from_millis(600), "PENDING_AGENT")
        .status(status);
    let (sim, clock) = start_sim_held(world(script));
    let scratch = Scratch::new("status");
    let mut env = env_for(&sim);
    set(
        &mut env,
        "GITHUB_OUTPUT",
        scratch.path("out").to_string_lossy(),
    );
    // Each phase lasts until the binary has seen it.
    let phase = Duration::from_millis(300);
    let steps = ["status: QUEUED", "status: PENDING_AGENT", "status: RUNNING"].map(|s| (s, phase));
    let out = stepped(&clock, &env, &[], &steps);
    assert_eq!(out.code, code, "{status}: {out:?}");
    for s in [
        "status: QUEUED",
        "status: PENDING_AGENT",
        "status: RUNNING",
        &format!("status: {status}"),
    ] {
        assert!(
            out.stderr.contains(s),
            "{status}: missing {s:?} in\n{}",
            out.stderr
        );
    }
    let outputs = parse_outputs(&scratch.read("out"));
    assert_eq!(output(&outputs, "status").as_deref(), Some(status));
    // Details are read once, after the end.
    assert_eq!(sim.requests_to(Route::Details).len(), 1, "{status}");
}

#[test]
fn project_name_is_resolved_across_pages() {
    let mut cfg = SimConfig::new();
    for i in 0..250 {
        cfg = cfg.project(Project::new(
            &format!("00000000-0000-4000-8000-{i:012}"),
            &format!("Project {i}"),
        ));
    }
    cfg = cfg.project(Project::new(PID, "Analytics").environment(
        Environment::new("prod").pipeline(PublishedPipeline::new("Load orders", quick(1))),
    ));
    let sim = start_sim(cfg);
    let out = run(&env_for(&sim), &[]);
    assert_eq!(out.code, 0, "{out:?}");
    // Pages 1 and 2 go at once, so they may arrive in either order.
    let mut pages: Vec<String> = sim
        .requests_to(Route::Projects)
        .iter()
        .map(|r| r.query.clone())
        .collect();
    pages.sort();
    assert_eq!(
        pages,
        ["page=0&size=100", "page=1&size=100", "page=2&size=100"]
    );
    assert!(
        out.stderr
            .contains(&format!("project 'Analytics' is {PID}")),
        "{}",
        out.stderr
    );

    // No match: the candidates are named.
    let mut env = env_for(&sim);
    set(&mut env, "MATILLION_PROJECT", "Analytic");
    let out = run(&env, &[]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(
        out.stderr.contains("no project is named 'Analytic'. Projects these credentials can see: 'Project 0', 'Project 1'"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("and 231 more."), "{}", out.stderr);
}

#[test]
fn several_projects_with_one_name_is_an_error() {
    let cfg = SimConfig::new()
        .project(Project::new(PID, "Twin"))
        .project(Project::new("11111111-2222-4333-8444-555555555555", "Twin"));
    let sim = start_sim(cfg);
    let mut env = env_for(&sim);
    set(&mut env, "MATILLION_PROJECT", "Twin");
    let out = run(&env, &[]);
    assert_eq!(out.code, 4);
    assert!(
        out.stderr.contains(&format!(
            "2 projects are named 'Twin' (ids {PID}, 11111111-2222-4333-8444-555555555555); give the project's id instead."
        )),
        "{}",
        out.stderr
    );
    assert!(sim.requests_to(Route::Trigger).is_empty());
}

#[test]
fn steps_are_paged_by_100_and_reported() {
    let script = RunScript::new(Duration::from_millis(300), 250)
        .fail_step(120, "Table | missing\nsecond line");
    let sim = start_sim(world(script.status("FAILED")));
    let scratch = Scratch::new("steps");
    let mut env = env_for(&sim);
    set(
        &mut env,
        "GITHUB_OUTPUT",
        scratch.path("out").to_string_lossy(),
    );
    set(
        &mut env,
        "GITHUB_STEP_SUMMARY",
        scratch.path("summary").to_string_lossy(),
    );
    let out = run(&env, &[]);
    assert_eq!(out.code, 1, "{out:?}");
    // Pages 1 and 2 go at once, so they may arrive in either order.
    let mut pages: Vec<String> = sim
        .requests_to(Route::Steps)
        .iter()
        .map(|r| r.query.clone())
        .collect();
    pages.sort();
    assert_eq!(
        pages,
        ["page=0&size=100", "page=1&size=100", "page=2&size=100"]
    );

    let outputs = parse_outputs(&scratch.read("out"));
    assert_eq!(output(&outputs, "steps-total").as_deref(), Some("250"));
    assert_eq!(output(&outputs, "steps-failed").as_deref(), Some("1"));
    assert_eq!(
        output(&outputs, "failed-steps").as_deref(),
        Some("Step 121")
    );
    assert_eq!(output(&outputs, "outcome").as_deref(), Some("failed"));
    let id = output(&outputs, "execution-id").unwrap_or_default();
    assert_eq!(
        Some(id.as_str()),
        sim.executions().first().map(|e| e.id.as_str())
    );
    assert!(output(&outputs, "duration").is_some_and(|d| d.parse::<u64>().is_ok()));

    let summary = scratch.read("summary");
    assert!(
        summary.contains("| Step | Status | Duration |\n"),
        "{summary}"
    );
    assert!(
        summary.contains("| Step 1 | ✅\u{a0}SUCCESS |"),
        "{summary}"
    );
    // The failed step's message is in its block; its row points there.
    assert!(
        summary.contains("\n```\nTable | missing\nsecond line\n```\n"),
        "{summary}"
    );
    assert!(summary.contains(" | ❌\u{a0}FAILED | "), "{summary}");
    let rows = summary
        .lines()
        .filter(|l| {
            l.strip_prefix("| Step ")
                .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        })
        .count();
    assert_eq!(rows, 250, "every step has a row");
}

#[test]
fn outputs_round_trip_exactly() {
    let script = RunScript::new(Duration::from_millis(300), 3)
        .status("FAILED")
        .message("line one\nstatus=SUCCESS\n::error::x");
    let sim = start_sim(world(script));
    let scratch = Scratch::new("outputs");
    let mut env = env_for(&sim);
    set(
        &mut env,
        "GITHUB_OUTPUT",
        scratch.path("out").to_string_lossy(),
    );
    let out = run(&env, &[]);
    assert_eq!(out.code, 1, "{out:?}");
    let outputs = parse_outputs(&scratch.read("out"));
    let names: Vec<&str> = outputs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "execution-id",
            "execution-url",
            "status",
            "message",
            "started-at",
            "finished-at",
            "duration",
            "steps-total",
            "steps-failed",
            "failed-steps",
            "outcome"
        ]
    );
    assert_eq!(
        output(&outputs, "message").as_deref(),
        Some("line one\nstatus=SUCCESS\n::error::x")
    );
    assert_eq!(output(&outputs, "status").as_deref(), Some("FAILED"));
    assert_eq!(output(&outputs, "steps-total").as_deref(), Some("3"));
    // The remote message never starts a line of the log.
    for line in out.stderr.lines().chain(out.stdout.lines()) {
        assert!(
            !line.starts_with("::error::x") && !line.starts_with("status=SUCCESS"),
            "{line}"
        );
    }
}

#[test]
fn wait_false_triggers_and_exits() {
    let sim = start_sim(world(RunScript::new(Duration::from_secs(600), 3)));
    let scratch = Scratch::new("nowait");
    let mut env = env_for(&sim);
    set(&mut env, "INPUT_WAIT", "false");
    set(
        &mut env,
        "GITHUB_OUTPUT",
        scratch.path("out").to_string_lossy(),
    );
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    let id = sim.executions()[0].id.clone();
    assert!(
        out.stderr.contains(&format!("execution {id}")),
        "{}",
        out.stderr
    );
    // For scripts: `id=$(pipeline-run)`.
    assert_eq!(out.stdout, format!("{id}\n"));
    assert!(sim.requests_to(Route::Status).is_empty());
    assert!(sim.requests_to(Route::Cancel).is_empty());
    let outputs = parse_outputs(&scratch.read("out"));
    assert_eq!(output(&outputs, "execution-id"), Some(id));
    assert_eq!(output(&outputs, "outcome").as_deref(), Some("triggered"));
}

#[test]
fn refusals_are_sentences_with_hints() {
    let sim = start_sim(world(quick(1)));
    let mut env = env_for(&sim);
    set(&mut env, "MATILLION_PIPELINE", "Load ordres");
    let out = run(&env, &[]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(
        out.stderr.contains("Matillion refused the trigger: 404 Pipelines not Found")
            && out.stderr.contains("— is pipeline 'Load ordres' published to environment 'prod' in project 'Analytics'?"),
        "{}",
        out.stderr
    );
}

#[test]
fn access_token_input_and_heartbeat_free_short_run() {
    let cfg = world(quick(2)).static_token("ready-token");
    let sim = start_sim(cfg);
    let mut env = env_for(&sim);
    unset(&mut env, "MATILLION_CLIENT_ID");
    unset(&mut env, "MATILLION_CLIENT_SECRET");
    set(&mut env, "MATILLION_ACCESS_TOKEN", "ready-token");
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(sim.requests_to(Route::Token).is_empty());
    assert!(
        sim.requests_to(Route::Trigger)
            .iter()
            .all(|r| r.header("authorization") == Some("Bearer ready-token"))
    );
    assert!(!out.stderr.contains("ready-token") && !out.stdout.contains("ready-token"));
}
