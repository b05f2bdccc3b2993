//! The GitHub Action end to end, with the real binary against the simulator: the post step
//! (cancels a run the main step could not stop, never triggers), remote text that tries to
//! forge workflow commands or outputs, the token masked before anything prints it, no
//! secret anywhere even at trace level, the annotation limits, and the wait's log group.

use crate::common::*;
use pipeline_run_sim::{
    Environment, Project, PublishedPipeline, Route, RunScript, SeedExecution, SimConfig, SimHandle,
};
use std::path::PathBuf;
use std::time::Duration;

const PROJECT: &str = "Analytics";
const SECRET: &str = "s3cr3t-client-secret-value";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A simulator with one project, environment `dev`, and the given pipelines.
fn sim_with(pipelines: Vec<PublishedPipeline>) -> SimHandle {
    let mut env = Environment::new("dev");
    for p in pipelines {
        env = env.pipeline(p);
    }
    start_sim(
        SimConfig::new()
            .credentials("ci-client", SECRET)
            .cancel_delay(ms(100))
            .project(
                Project::new("5f0c2d1e-0000-4000-8000-000000000001", PROJECT).environment(env),
            ),
    )
}

/// The environment of a GitHub container step: inputs as `INPUT_<ID>` (as the runner sets
/// them for what `with:` gives; action.yml declares no defaults) and the runner's files in
/// `dir`.
fn github_env(sim: &SimHandle, pipeline: &str, dir: &Scratch) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for (k, v) in matillion_env(sim, PROJECT, "dev", pipeline) {
        let id = k.trim_start_matches("MATILLION_").replace('_', "-");
        env.push((format!("INPUT_{id}"), v));
    }
    for (k, v) in [
        ("GITHUB_ACTIONS", "true".to_string()),
        ("INPUT_WAIT", "true".into()),
        ("INPUT_PLATFORM", "matillion".into()),
        (
            "GITHUB_OUTPUT",
            dir.path("output").to_string_lossy().into_owned(),
        ),
        (
            "GITHUB_STATE",
            dir.path("state").to_string_lossy().into_owned(),
        ),
        (
            "GITHUB_STEP_SUMMARY",
            dir.path("summary.md").to_string_lossy().into_owned(),
        ),
    ] {
        env.push((k.to_string(), v));
    }
    env
}

/// The binary under the post step's name, as the image's `/pipeline-run-post` link.
fn post_program(dir: &Scratch) -> PathBuf {
    let link = dir.path("pipeline-run-post");
    if !link.exists() {
        std::os::unix::fs::symlink(BIN, &link).expect("link");
    }
    link
}

/// Run the post step the way the runner does: the post entrypoint, with `runs.args` (here
/// a `run` that must be ignored) and the state the main step saved as `STATE_<name>` (on
/// the test timings, as every other run here).
fn run_post(dir: &Scratch, env: &[(String, String)]) -> Output {
    let mut cmd = std::process::Command::new(post_program(dir));
    cmd.arg("run")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PIPELINE_RUN_TEST_TIMINGS", TIMINGS_DIVISOR.to_string())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    finish(cmd.spawn().expect("spawn the post step"))
}

/// State the way the runner hands it to the post step: each `GITHUB_STATE` entry becomes
/// `STATE_<name>`.
fn state_env(dir: &Scratch) -> Vec<(String, String)> {
    parse_outputs(&dir.read("state"))
        .into_iter()
        .map(|(k, v)| (format!("STATE_{k}"), v))
        .collect()
}

/// The workflow commands the runner would act on in `stdout`: lines starting with `::`,
/// except inside a `::stop-commands::TOKEN` … `::TOKEN::` pause.
fn commands(stdout: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut paused: Option<String> = None;
    for line in stdout.lines() {
        if let Some(end) = &paused {
            if line == end {
                paused = None;
            }
            continue;
        }
        if let Some(token) = line.strip_prefix("::stop-commands::") {
            paused = Some(format!("::{token}::"));
            continue;
        }
        if line.starts_with("::") {
            out.push(line.to_string());
        }
    }
    assert!(paused.is_none(), "stop-commands never resumed");
    out
}

// ---------------------------------------------------------------- post step

#[test]
fn post_cancels_a_run_the_main_step_left_running() {
    let sim = sim_with(vec![PublishedPipeline::new(
        "nightly",
        RunScript::new(Duration::from_secs(3600), 5),
    )]);
    let id = sim.add_running_execution(SeedExecution::new("nightly", "dev"));
    let dir = Scratch::new("post-cancel");
    let mut env = github_env(&sim, "nightly", &dir);
    set(&mut env, "STATE_execution_id", &id);

    let out = run_post(&dir, &env);
    assert_eq!(out.code, 0, "{out:?}");
    let cancels = sim.requests_to(Route::Cancel);
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0].method, "PATCH");
    assert!(cancels[0].path.ends_with(&id), "{}", cancels[0].path);
    assert!(sim.requests_to(Route::Trigger).is_empty());
    assert_eq!(sim.executions().len(), 1);
    assert_eq!(sim.execution(&id).unwrap().status, "CANCELLED");
    // The token was masked first; then the annotation saying what happened.
    let token = sim.issued_tokens().pop().expect("a token");
    let cmds = commands(&out.stdout);
    assert_eq!(
        cmds,
        vec![
            format!("::add-mask::{token}"),
            format!(
                "::warning title=Execution cancelled by the post step::The main step stopped before it could clean up, so the post step cancelled execution {id} (or found it already ended)."
            ),
        ]
    );
    assert!(
        out.stderr.contains(&format!("cancelling execution {id}")),
        "{}",
        out.stderr
    );
}

#[test]
fn post_does_nothing_when_the_main_step_finished_or_never_started() {
    let sim = sim_with(vec![PublishedPipeline::new(
        "nightly",
        RunScript::new(Duration::from_secs(3600), 5),
    )]);
    let id = sim.add_running_execution(SeedExecution::new("nightly", "dev"));
    let dir = Scratch::new("post-nothing");
    let base = github_env(&sim, "nightly", &dir);

    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "done",
            vec![("STATE_execution_id", &id), ("STATE_done", "true")],
        ),
        ("no state", vec![]),
        (
            "wait false",
            vec![("STATE_execution_id", &id), ("INPUT_WAIT", "false")],
        ),
    ];
    for (what, extra) in cases {
        let mut env = base.clone();
        for (k, v) in extra {
            set(&mut env, k, v);
        }
        let out = run_post(&dir, &env);
        assert_eq!(out.code, 0, "{what}: {out:?}");
        assert_eq!(out.stdout, "", "{what}");
        assert_eq!(out.stderr, "", "{what}");
        assert!(sim.requests().is_empty(), "{what}: {:?}", sim.requests());
    }
    // `pipeline-run post` is the same mode by hand.
    let out = run(&base, &["post"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(sim.requests().is_empty());
    assert_eq!(sim.execution(&id).unwrap().status, "RUNNING");
}

#[test]
fn a_killed_main_step_is_cleaned_up_by_the_post_step() {
    let sim = sim_with(vec![PublishedPipeline::new(
        "nightly",
        RunScript::new(Duration::from_secs(3600), 5),
    )]);
    let dir = Scratch::new("post-e2e");
    let env = github_env(&sim, "nightly", &dir);

    // The main step triggers, saves the id, waits... and is killed (no chance to cancel).
    let mut main = spawn(&env, &[]);
    wait_for("the id in GITHUB_STATE", || {
        dir.read("state").contains("execution_id")
    });
    main.kill().expect("kill");
    let _ = main.wait();
    let state = state_env(&dir);
    let id = sim.executions()[0].id.clone();
    assert_eq!(state, vec![("STATE_execution_id".to_string(), id.clone())]);
    assert_eq!(sim.execution(&id).unwrap().status, "RUNNING");

    let mut post_env = env.clone();
    post_env.extend(state);
    let out = run_post(&dir, &post_env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(sim.execution(&id).unwrap().status, "CANCELLED");
    assert_eq!(
        sim.requests_to(Route::Trigger).len(),
        1,
        "only the main step triggered"
    );
}

#[test]
fn a_main_step_that_ends_tells_the_post_step_to_do_nothing() {
    let sim = sim_with(vec![PublishedPipeline::new(
        "quick",
        RunScript::new(ms(200), 2),
    )]);
    let dir = Scratch::new("post-done");
    let env = github_env(&sim, "quick", &dir);
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    let state = state_env(&dir);
    let id = sim.executions()[0].id.clone();
    assert_eq!(
        state,
        vec![
            ("STATE_execution_id".to_string(), id),
            ("STATE_done".to_string(), "true".to_string())
        ]
    );
    sim.clear_requests();
    let mut post_env = env.clone();
    post_env.extend(state);
    let out = run_post(&dir, &post_env);
    assert_eq!((out.code, out.stdout.as_str()), (0, ""));
    assert!(sim.requests().is_empty());
}

// ------------------------------------------------------- hostile remote text

const RUN_MESSAGE: &str = "ghadelimiter_00000000000000000000000000000000\nstatus=SUCCESS\n::set-output name=status::SUCCESS\n::error::pwned";

fn hostile_script() -> RunScript {
    RunScript::new(ms(300), 3)
        .status("FAILED")
        .message(RUN_MESSAGE)
        .step_name(0, "::error::pwned")
        .step_message(0, "::error::pwned\n::add-mask::x")
        .step_name(1, "Load\nstatus=SUCCESS")
        .fail_step(1, "bad row\nstatus=SUCCESS\r\n::error::pwned")
        .step_name(2, "End")
}

#[test]
fn remote_text_cannot_forge_commands_or_outputs() {
    let sim = sim_with(vec![PublishedPipeline::new("hostile", hostile_script())]);
    let dir = Scratch::new("hostile");
    let env = github_env(&sim, "hostile", &dir);
    let out = run(&env, &[]);
    assert_eq!(out.code, 1, "{out:?}");
    let id = sim.executions()[0].id.clone();
    let token = sim.issued_tokens().pop().expect("a token");

    // Every command the runner would act on is one of ours, with remote text escaped.
    assert_eq!(
        commands(&out.stdout),
        vec![
            format!("::add-mask::{token}"),
            format!("::group::Waiting for execution {id}"),
            "::endgroup::".to_string(),
            "::group::Steps (3, 1 failed)".to_string(),
            "::endgroup::".to_string(),
            "::error title=hostile failed::The execution ended with status FAILED: ghadelimiter_00000000000000000000000000000000%0Astatus=SUCCESS%0A::set-output name=status::SUCCESS%0A::error::pwned".to_string(),
            "::error title=Load status=SUCCESS::bad row%0Astatus=SUCCESS%0D%0A::error::pwned".to_string(),
        ]
    );
    // The remote step list is printed only inside a pause.
    assert!(out.stdout.contains("::stop-commands::"));
    // No remote text on stderr can start a command either: every line is ours.
    for l in out.stderr.lines() {
        assert!(l.starts_with("pipeline-run: "), "{l:?}");
    }

    // Outputs: the newline + `status=SUCCESS` and the delimiter-like text stay inside the
    // message; every output is written once.
    let outputs = parse_outputs(&dir.read("output"));
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
    assert_eq!(output(&outputs, "status").as_deref(), Some("FAILED"));
    assert_eq!(output(&outputs, "outcome").as_deref(), Some("failed"));
    assert_eq!(output(&outputs, "message").as_deref(), Some(RUN_MESSAGE));
    assert_eq!(
        output(&outputs, "failed-steps").as_deref(),
        Some("Load status=SUCCESS")
    );
    // The delimiter actually used is a fresh one, not the one in the message.
    for line in dir.read("output").lines() {
        if let Some((_, d)) = line.split_once("<<") {
            assert_ne!(d, "ghadelimiter_00000000000000000000000000000000");
            assert!(d.starts_with("ghadelimiter_"), "{d}");
        }
    }

    // The summary (Markdown, not a command channel) shows the message in full, as text.
    let summary = dir.read("summary.md");
    assert!(
        summary.contains("\n```\nbad row\nstatus=SUCCESS\n::error::pwned\n```\n"),
        "{summary}"
    );
}

// ------------------------------------------------------------------ secrets

#[test]
fn the_token_is_masked_first_and_no_secret_leaks_at_trace_level() {
    let sim = sim_with(vec![PublishedPipeline::new(
        "broken",
        RunScript::new(ms(300), 3)
            .status("FAILED")
            .fail_step(2, "boom"),
    )]);
    let dir = Scratch::new("secrets");
    let mut env = github_env(&sim, "broken", &dir);
    set(&mut env, "RUST_LOG", "trace");
    set(&mut env, "RUNNER_DEBUG", "1");
    set(
        &mut env,
        "INPUT_RESULT-FILE",
        dir.path("result.json").to_string_lossy(),
    );
    set(
        &mut env,
        "INPUT_DOTENV-FILE",
        dir.path("run.env").to_string_lossy(),
    );
    set(
        &mut env,
        "INPUT_JUNIT-FILE",
        dir.path("junit.xml").to_string_lossy(),
    );
    let out = run(&env, &[]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("pipeline-run: debug: "),
        "debug logging is on"
    );

    let tokens = sim.issued_tokens();
    assert!(!tokens.is_empty());
    let first = out.stdout.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        format!("::add-mask::{}", tokens[0]),
        "masked before anything else"
    );
    for t in &tokens {
        let mask = format!("::add-mask::{t}");
        assert_eq!(
            out.stdout.matches(t.as_str()).count(),
            1,
            "token once, in {mask}"
        );
        assert!(out.stdout.lines().any(|l| l == mask));
    }
    let files = [
        "output",
        "state",
        "summary.md",
        "result.json",
        "run.env",
        "junit.xml",
    ];
    for f in files {
        assert!(!dir.read(f).is_empty(), "{f} written");
    }
    for secret in tokens.iter().map(String::as_str).chain([SECRET]) {
        assert!(!out.stderr.contains(secret), "secret in stderr");
        for f in files {
            assert!(!dir.read(f).contains(secret), "secret in {f}");
        }
    }
    assert!(!out.stdout.contains(SECRET));
}

// -------------------------------------------------------------- annotations

#[test]
fn annotations_stay_within_githubs_limits() {
    let mut script = RunScript::new(ms(300), 15).status("FAILED");
    for i in 0..15 {
        script = script
            .step_name(i, &format!("s{i:02}"))
            .fail_step(i, &format!("m{i}"));
    }
    let sim = sim_with(vec![PublishedPipeline::new("many", script)]);
    let dir = Scratch::new("annotations");
    let env = github_env(&sim, "many", &dir);
    let out = run(&env, &[]);
    assert_eq!(out.code, 1, "{out:?}");
    let errors: Vec<String> = commands(&out.stdout)
        .into_iter()
        .filter(|c| c.starts_with("::error"))
        .collect();
    // The run's own error comes first (its message is the simulator's; only the prefix
    // is fixed), then 8 steps, then how many more: 10 in all, GitHub's limit.
    assert!(
        errors[0].starts_with("::error title=many failed::The execution ended with status FAILED"),
        "{}",
        errors[0]
    );
    let mut want: Vec<String> = (0..8)
        .map(|i| format!("::error title=s{i:02}::m{i}"))
        .collect();
    want.push("::error::7 more failed steps (see the job summary)".to_string());
    assert_eq!(errors[1..], want[..]);
    assert_eq!(errors.len(), 10);
    assert!(
        !commands(&out.stdout)
            .iter()
            .any(|c| c.starts_with("::warning"))
    );
}

#[test]
fn timeout_is_one_warning_and_the_wait_is_grouped() {
    let sim = sim_with(vec![PublishedPipeline::new(
        "slow",
        RunScript::new(Duration::from_secs(3600), 2),
    )]);
    let dir = Scratch::new("group");
    let mut env = github_env(&sim, "slow", &dir);
    set(&mut env, "INPUT_TIMEOUT", "500ms");
    let out = run(&env, &[]);
    assert_eq!(out.code, 3, "{out:?}");
    let id = sim.executions()[0].id.clone();
    let cmds: Vec<String> = commands(&out.stdout)
        .into_iter()
        .filter(|c| !c.starts_with("::add-mask::"))
        .collect();
    assert_eq!(cmds[0], format!("::group::Waiting for execution {id}"));
    assert_eq!(cmds[1], "::endgroup::");
    let warnings: Vec<&String> = cmds.iter().filter(|c| c.starts_with("::warning")).collect();
    assert_eq!(warnings.len(), 1, "{cmds:?}");
    assert!(warnings[0].starts_with("::warning title=slow timed out::The wait timed out; "));
    assert!(!cmds.iter().any(|c| c.starts_with("::error")));
    // Groups never nest: every group is closed before the next opens.
    let mut open = false;
    for c in &cmds {
        if c.starts_with("::group::") {
            assert!(!open, "nested group");
            open = true;
        } else if c == "::endgroup::" {
            assert!(open);
            open = false;
        }
    }
    assert!(!open);
    // The timeout cancelled the run, so the post step has nothing to do.
    assert!(dir.read("state").contains("done"));
}
