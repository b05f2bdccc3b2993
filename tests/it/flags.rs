//! Nothing typed is ignored: flags, precedence, unknown names, and the log a person reads
//! later. Each case runs the real binary against the simulator. What used to be ignored
//! without a word now either works as asked, warns, or exits 2 before any request (the
//! simulator's request log stays empty, or holds no POST but the token request).

use crate::common::*;
use pipeline_run_sim::{
    DatalabPipeline, Environment, Project, PublishedPipeline, Route, RunScript, SeedExecution,
    SimConfig, SimHandle,
};
use std::time::Duration;

const PROJECT_ID: &str = "2b3c4d5e-6f70-4a8b-9c0d-1e2f3a4b5c6d";

fn sim() -> SimHandle {
    start_sim(
        SimConfig::new()
            .cancel_delay(Duration::from_millis(100))
            .project(
                Project::new(PROJECT_ID, "Analytics").environment(
                    Environment::new("prod")
                        .pipeline(PublishedPipeline::new(
                            "load",
                            RunScript::new(Duration::from_millis(200), 2),
                        ))
                        .pipeline(PublishedPipeline::new(
                            "wide",
                            RunScript::new(Duration::from_millis(200), 205),
                        ))
                        .pipeline(PublishedPipeline::new(
                            "slow",
                            RunScript::new(Duration::from_secs(600), 3),
                        )),
                ),
            ),
    )
}

fn env_for(sim: &SimHandle) -> Vec<(String, String)> {
    matillion_env(sim, "Analytics", "prod", "load")
}

/// Not a single request.
fn assert_no_request(sim: &SimHandle) {
    let sent: Vec<String> = sim
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(sent.is_empty(), "requests were sent: {sent:?}");
}

/// Nothing triggered: reads and the token request only.
fn assert_nothing_triggered(sim: &SimHandle) {
    for r in sim.requests() {
        assert!(
            r.method == "GET" || r.route == Route::Token,
            "sent {} {}",
            r.method,
            r.path
        );
    }
    assert!(sim.executions().is_empty());
}

/// A refused command line: exit 2, exactly these error lines, nothing on stdout.
fn refused(out: &Output, errors: &[&str]) {
    assert_eq!(out.code, 2, "{out:?}");
    let mut want: String = errors
        .iter()
        .map(|e| format!("pipeline-run: error: {e}\n"))
        .collect();
    want.push_str(
        "pipeline-run: error: nothing was triggered: fix the command line (see pipeline-run --help).\n",
    );
    assert_eq!(out.stderr, want);
    assert_eq!(out.stdout, "");
}

#[test]
fn run_dry_run_as_a_flag_triggers_nothing() {
    let sim = sim();
    let out = run(&env_for(&sim), &["run", "--dry-run"]);
    assert_eq!(out.code, 0, "{out:?}");
    has_line(
        &out.stderr,
        "pipeline-run: result: dry run passed; nothing was triggered",
    );
    assert_nothing_triggered(&sim);
    assert!(!sim.requests_to(Route::PublishedPipelines).is_empty());
}

#[test]
fn every_flag_form_reaches_its_input() {
    let sim = sim();
    for args in [
        &["run", "--timeout", "5m", "--dry-run", "true"][..],
        &["--timeout=5m", "--dry-run=TRUE"],
        &["run", "--no-wait", "--dry-run", "--timeout", "5m"],
    ] {
        let out = run(&env_for(&sim), args);
        assert_eq!(out.code, 0, "{args:?}: {out:?}");
        has_line(&out.stderr, "pipeline-run: timeout 5m (input 'timeout')");
        has_line(
            &out.stderr,
            "pipeline-run: result: dry run passed; nothing was triggered",
        );
    }
    assert_nothing_triggered(&sim);
}

#[test]
fn a_bad_flag_value_is_a_bad_input_named_as_such() {
    let sim = sim();
    let out = run(&env_for(&sim), &["--dry-run=yes", "--timeout", "90"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(
        out.stderr,
        "pipeline-run: error: input 'dry-run': got 'yes'; expected `true` or `false`.\n\
         pipeline-run: error: input 'timeout': got '90'; expected a duration with a unit, such as `30s`, `90m` or `2h`.\n\
         pipeline-run: error: nothing was triggered: fix the input(s) above.\n"
    );
    assert_no_request(&sim);
}

#[test]
fn flag_beats_input_variable_beats_platform_variable_beats_default() {
    let sim = sim();
    let mut env = env_for(&sim);
    set(&mut env, "MATILLION_DRY_RUN", "true");
    set(&mut env, "MATILLION_TIMEOUT", "3m");
    let line = |out: &Output| {
        out.stderr
            .lines()
            .find(|l| l.starts_with("pipeline-run: timeout "))
            .unwrap_or_default()
            .to_string()
    };
    // MATILLION_* over the default: on GitHub no INPUT_TIMEOUT is passed any more (action.yml
    // declares no default), so an `env:` MATILLION_TIMEOUT is what applies.
    set(&mut env, "GITHUB_ACTIONS", "true");
    assert_eq!(
        line(&run(&env, &[])),
        "pipeline-run: timeout 3m (input 'timeout')"
    );
    unset(&mut env, "GITHUB_ACTIONS");
    set(&mut env, "INPUT_TIMEOUT", "2m");
    assert_eq!(
        line(&run(&env, &[])),
        "pipeline-run: timeout 2m (input 'timeout')"
    );
    assert_eq!(
        line(&run(&env, &["--timeout", "1m"])),
        "pipeline-run: timeout 1m (input 'timeout')"
    );
    // And the flag turns off what a variable turned on.
    let out = run(&env, &["--no-dry-run", "--no-wait"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(sim.executions().len(), 1, "--no-dry-run triggered");
    unset(&mut env, "MATILLION_TIMEOUT");
    unset(&mut env, "INPUT_TIMEOUT");
    assert_eq!(
        line(&run(&env, &[])),
        "pipeline-run: timeout 2h (the default)"
    );
}

#[test]
fn cancel_uses_the_execution_id_flag() {
    let sim = sim();
    let id = sim.add_running_execution(SeedExecution::new("slow", "prod"));
    let mut env = matillion_env(&sim, "Analytics", "prod", "slow");
    // A stale id in the environment loses to the flag.
    set(&mut env, "MATILLION_EXECUTION_ID", "not-this-one");
    let out = run(&env, &["cancel", "--execution-id", &id]);
    assert_eq!(out.code, 0, "{out:?}");
    has_line(
        &out.stderr,
        &format!("pipeline-run: cancelling execution {id} (from input 'execution-id')"),
    );
    let patches = sim.requests_to(Route::Cancel);
    assert_eq!(patches.len(), 1, "{patches:?}");
    assert!(patches[0].path.ends_with(&id), "{}", patches[0].path);
    assert!(sim.execution(&id).unwrap().cancel_requested);
}

#[test]
fn unknown_words_flags_and_values_exit_2_before_any_request() {
    let sim = sim();
    let env = env_for(&sim);
    refused(
        &run(&env, &["rnu"]),
        &["unexpected argument 'rnu'. Did you mean 'run'?"],
    );
    refused(
        &run(&env, &["run", "--dryrun"]),
        &["unknown flag '--dryrun'. Did you mean '--dry-run'?"],
    );
    refused(
        &run(&env, &["run", "--dry-run", "true", "extra"]),
        &["unexpected argument 'extra'."],
    );
    refused(
        &run(&env, &["cancel", "01HEXEC"]),
        &["unexpected argument '01HEXEC'. Give the execution to cancel as '--execution-id <id>'."],
    );
    refused(
        &run(&env, &["--timeout"]),
        &["flag '--timeout' needs a value: '--timeout <value>' or '--timeout=<value>'."],
    );
    refused(
        &run(&env, &["--timeout", "5m", "--timeout=6m"]),
        &[
            "input 'timeout' is given twice on the command line ('--timeout' and '--timeout'); give it once.",
        ],
    );
    refused(
        &run(&env, &["dry-run", "--pipelne=x"]),
        &[
            "unexpected argument 'dry-run'. Inputs are flags: did you mean '--dry-run'?",
            "unknown flag '--pipelne'. Did you mean '--pipeline'?",
        ],
    );
    // A value after an unknown flag may be a secret: it is never shown.
    let out = run(&env, &["--client-secrt", "hunter2-S3CRET"]);
    refused(
        &out,
        &[
            "unknown flag '--client-secrt'. Did you mean '--client-secret'? (Its value is not shown.)",
        ],
    );
    assert_no_request(&sim);
}

#[test]
fn unknown_input_names_are_warned_about_with_the_closest_input() {
    let sim = sim();
    let mut env = env_for(&sim);
    set(&mut env, "MATILLION_DRY_RUN", "true");
    set(&mut env, "MATILLION_VARIABLE", "load_mode=full");
    set(&mut env, "MATILLION_EXECUTON_TAG", "nightly");
    set(&mut env, "MATILLION_HOME", "/opt/matillion");
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("pipeline-run: warning: "))
        .collect();
    assert_eq!(
        warnings,
        [
            "pipeline-run: warning: MATILLION_EXECUTON_TAG is set, but no input is read from it: it is ignored. Did you mean MATILLION_EXECUTION_TAG (input 'execution-tag')?",
            "pipeline-run: warning: MATILLION_HOME is set, but no input is read from it: it is ignored. (See pipeline-run --help for the inputs.)",
            "pipeline-run: warning: MATILLION_VARIABLE is set, but no input is read from it: it is ignored. Did you mean MATILLION_VARIABLES (input 'variables')?",
        ]
    );
    assert_nothing_triggered(&sim);
}

#[test]
fn a_misspelt_required_input_is_named_beside_the_error() {
    let sim = sim();
    let mut env = env_for(&sim);
    unset(&mut env, "MATILLION_PIPELINE");
    set(&mut env, "INPUT_PIPELNE", "load");
    let out = run(&env, &[]);
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(
        out.stderr,
        "pipeline-run: warning: INPUT_PIPELNE is set, but no input is read from it: it is ignored. Did you mean INPUT_PIPELINE (input 'pipeline')?\n\
         pipeline-run: error: input 'pipeline': is required: the published pipeline's name.\n\
         pipeline-run: error: nothing was triggered: fix the input(s) above.\n"
    );
    assert_no_request(&sim);
}

#[test]
fn a_secret_given_as_a_flag_works_with_one_warning_and_is_never_shown() {
    let sim = sim();
    let mut env = env_for(&sim);
    let secret = sim.config().client_secret.clone();
    unset(&mut env, "MATILLION_CLIENT_SECRET");
    let out = run(&env, &["--dry-run", "--client-secret", &secret]);
    assert_eq!(out.code, 0, "{out:?}");
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("warning"))
        .collect();
    assert_eq!(
        warnings,
        [
            "pipeline-run: warning: the secret 'client-secret' was given as a flag: it shows in `ps` and in the shell's history; set MATILLION_CLIENT_SECRET instead."
        ]
    );
    assert!(!out.stderr.contains(&secret) && !out.stdout.contains(&secret));
    assert_nothing_triggered(&sim);
}

#[test]
fn help_lists_subcommands_and_inputs_in_100_columns() {
    let out = run(&[], &["--help"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, pipeline_run::args::help());
    assert!(out.stdout.lines().all(|l| l.chars().count() <= 100));
    for c in ["run", "cancel", "post", "help", "version"] {
        assert!(out.stdout.contains(&format!("\n  {c} ")), "{c}");
    }
    for i in pipeline_run::inputs::INPUTS {
        assert!(out.stdout.contains(&format!("  --{}", i.id)), "{}", i.id);
    }
    assert_eq!(run(&[], &["cancel", "-h"]).stdout, out.stdout);
    let v = run(&[], &["--version"]);
    assert_eq!(
        v.stdout,
        format!("pipeline-run {}\n", env!("CARGO_PKG_VERSION"))
    );
}

/// `2026-11-22T02:15:00Z pipeline-run: …`
fn stamped(line: &str) -> bool {
    let b = line.as_bytes();
    line.len() > 21
        && line.is_char_boundary(21)
        && b[4] == b'-'
        && b[10] == b'T'
        && b[19] == b'Z'
        && line[..4].bytes().all(|c| c.is_ascii_digit())
        && line[20..].starts_with(" pipeline-run: ")
}

#[test]
fn outside_ci_every_log_line_starts_with_the_time_unless_turned_off() {
    let sim = sim();
    let mut env = env_for(&sim);
    set(&mut env, "MATILLION_DRY_RUN", "true");
    let mut cmd = command(&env, &[]);
    cmd.env_remove("MATILLION_LOG_TIMESTAMPS");
    let out = finish(cmd.spawn().expect("spawn"));
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.lines().count() > 3);
    for l in out.stderr.lines() {
        assert!(stamped(l), "no time at the start of {l:?}");
    }
    // A refused command line too.
    let mut cmd = command(&env, &["--dryrun"]);
    cmd.env_remove("MATILLION_LOG_TIMESTAMPS");
    let out = finish(cmd.spawn().expect("spawn"));
    assert_eq!(out.code, 2);
    assert!(out.stderr.lines().all(stamped), "{}", out.stderr);

    // Off by flag; off by default on GitLab, which stamps lines itself.
    let mut cmd = command(&env, &["--no-log-timestamps"]);
    cmd.env_remove("MATILLION_LOG_TIMESTAMPS");
    let out = finish(cmd.spawn().expect("spawn"));
    assert!(out.stderr.lines().all(|l| l.starts_with("pipeline-run: ")));
    set(&mut env, "GITLAB_CI", "true");
    let mut cmd = command(&env, &[]);
    cmd.env_remove("MATILLION_LOG_TIMESTAMPS");
    let out = finish(cmd.spawn().expect("spawn"));
    assert!(out.stderr.lines().all(|l| l.starts_with("pipeline-run: ")));
    assert_nothing_triggered(&sim);
}

#[test]
fn the_plain_step_list_points_only_at_reports_that_were_asked_for() {
    let sim = sim();
    let mut env = matillion_env(&sim, "Analytics", "prod", "wide");
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    has_line(
        &out.stdout,
        "… and 5 more (not listed; `result-file` or `junit-file` would hold every step)",
    );
    assert!(!out.stdout.contains("job summary"), "{}", out.stdout);
    let dir = Scratch::new("flags-junit");
    let junit = dir.path("steps.xml");
    set(
        &mut env,
        "MATILLION_JUNIT_FILE",
        junit.display().to_string(),
    );
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    has_line(
        &out.stdout,
        &format!("… and 5 more (see the JUnit report {})", junit.display()),
    );
}

#[test]
fn the_datalab_post_step_does_not_announce_a_cancel_it_cannot_make() {
    const KEY: &str = "dlk_test_post_0123456789";
    let sim = start_sim(
        SimConfig::new()
            .datalab_key(KEY)
            .datalab_pipeline(DatalabPipeline::new("pl_post", Duration::from_secs(600))),
    );
    let env: Vec<(String, String)> = [
        ("INPUT_PLATFORM", "datalab".to_string()),
        ("INPUT_API-URL", sim.datalab_url()),
        ("DATALAB_API_KEY", KEY.into()),
        ("INPUT_PIPELINE", "pl_post".into()),
        ("INPUT_FILE-URL", "https://docs.example.com/a.pdf".into()),
        ("STATE_execution_id", "exec-left-running".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let out = run(&env, &["post"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert_eq!(
        out.stderr,
        "pipeline-run: warning: the main step stopped before it could clean up; execution exec-left-running may still be running\n\
         pipeline-run: error: Datalab has no way to cancel execution exec-left-running: the execution continues on Datalab\n"
    );
    assert_no_request(&sim);
}
