//! `dry-run: true` against the simulator: it authenticates and checks the project, the
//! environment and the published pipeline, prints what would be sent (never a variable's
//! value), and triggers nothing: the simulator records no POST but the token request (and
//! none at all with a ready token). Each missing thing exits 4 and lists what exists.

use crate::common::*;
use pipeline_run_sim::{
    Environment, Project, PublishedPipeline, Route, RunScript, SimConfig, SimHandle,
};
use std::time::Duration;

const ANALYTICS: &str = "6d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const MARKETING: &str = "7e2d3c4b-5f60-4b7c-9d8e-0f1a2b3c4d5e";
const TOKEN: &str = "ready-token-0123456789";

fn sim() -> SimHandle {
    let script = || RunScript::new(Duration::from_millis(200), 2);
    start_sim(
        SimConfig::new()
            .static_token(TOKEN)
            .project(
                Project::new(ANALYTICS, "Analytics")
                    .environment(
                        Environment::new("dev")
                            .pipeline(PublishedPipeline::new("dev-only", script())),
                    )
                    .environment(
                        Environment::new("prod")
                            .pipeline(PublishedPipeline::new("load", script()))
                            .pipeline(PublishedPipeline::new("quick", script())),
                    ),
            )
            .project(Project::new(MARKETING, "Marketing")),
    )
}

fn dry_env(
    sim: &SimHandle,
    project: &str,
    environment: &str,
    pipeline: &str,
) -> Vec<(String, String)> {
    let mut env = matillion_env(sim, project, environment, pipeline);
    set(&mut env, "MATILLION_DRY_RUN", "true");
    env
}

/// Nothing was triggered: no POST but the token request, no execution.
fn assert_nothing_sent(sim: &SimHandle) {
    for r in sim.requests() {
        assert!(
            r.method == "GET" || r.route == Route::Token,
            "a dry run sent {} {}",
            r.method,
            r.path
        );
    }
    assert!(sim.requests_to(Route::Trigger).is_empty());
    assert!(sim.executions().is_empty());
}

#[test]
fn all_good_prints_what_would_be_sent_without_values_and_sends_nothing() {
    let sim = sim();
    let dir = Scratch::new("dry-ok");
    let mut env = dry_env(&sim, "Analytics", "prod", "load");
    set(&mut env, "MATILLION_EXECUTION_TAG", "nightly");
    set(
        &mut env,
        "MATILLION_VARIABLES",
        "{\"load_mode\": \"full-s3cr3t\", \"password\": \"hunter2\"}",
    );
    set(
        &mut env,
        "MATILLION_GRID_VARIABLES",
        "{\"regions\": [[\"grid-s3cr3t\", \"x\"]]}",
    );
    set(
        &mut env,
        "MATILLION_RESULT_FILE",
        dir.path("result.json").display().to_string(),
    );
    set(
        &mut env,
        "MATILLION_DOTENV_FILE",
        dir.path("run.env").display().to_string(),
    );
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    has_line(
        &out.stderr,
        "pipeline-run: dry run: project 'Analytics', environment 'prod' and pipeline 'load' exist",
    );
    has_line(
        &out.stderr,
        &format!(
            "pipeline-run: dry run: would send POST {}/v1/projects/{ANALYTICS}/pipeline-executions with \
             {{\"environmentName\":\"prod\",\"executionTag\":\"nightly\",\"gridVariables\":{{\"regions\":\"***\"}},\
             \"pipelineName\":\"load\",\"scalarVariables\":{{\"load_mode\":\"***\",\"password\":\"***\"}}}}",
            sim.base_url()
        ),
    );
    has_line(
        &out.stderr,
        "pipeline-run: result: dry run passed; nothing was triggered",
    );
    let written = format!(
        "{}{}{}{}",
        out.stdout,
        out.stderr,
        dir.read("result.json"),
        dir.read("run.env")
    );
    for value in ["s3cr3t", "hunter2"] {
        assert!(
            !written.contains(value),
            "a variable's value was printed or written"
        );
    }
    let result: serde_json::Value = serde_json::from_str(&dir.read("result.json")).unwrap();
    assert_eq!(result["outcome"], serde_json::json!({"kind": "dry-run"}));
    assert_eq!(
        result["overridden_variables"],
        serde_json::json!(["load_mode", "password", "regions"])
    );
    assert!(result.get("execution_id").is_none());
    assert!(
        dir.read("run.env")
            .contains("PIPELINE_RUN_OUTCOME=dry-run\n")
    );
    assert_nothing_sent(&sim);
    // It did check: the environments and the published pipelines were read.
    assert_eq!(sim.requests_to(Route::Environments).len(), 1);
    assert_eq!(sim.requests_to(Route::PublishedPipelines).len(), 1);
    assert_eq!(
        sim.requests_to(Route::PublishedPipelines)[0]
            .query_pairs()
            .iter()
            .find(|(k, _)| k == "environmentName")
            .map(|(_, v)| v.as_str()),
        Some("prod")
    );
}

#[test]
fn with_a_ready_token_not_a_single_post() {
    let sim = sim();
    let mut env = dry_env(&sim, ANALYTICS, "prod", "quick");
    unset(&mut env, "MATILLION_CLIENT_ID");
    unset(&mut env, "MATILLION_CLIENT_SECRET");
    set(&mut env, "MATILLION_ACCESS_TOKEN", TOKEN);
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stderr.contains(TOKEN));
    let methods: Vec<String> = sim.requests().iter().map(|r| r.method.clone()).collect();
    assert!(!methods.is_empty());
    assert!(methods.iter().all(|m| m == "GET"), "{methods:?}");
}

#[test]
fn unknown_project_name_lists_the_projects() {
    let sim = sim();
    let out = run(&dry_env(&sim, "Nope", "prod", "load"), &[]);
    assert_eq!(out.code, 4, "{out:?}");
    has_line(
        &out.stderr,
        "pipeline-run: error: no project is named 'Nope'. Projects these credentials can see: 'Analytics', 'Marketing'.",
    );
    assert_nothing_sent(&sim);
}

#[test]
fn unknown_project_id_lists_the_projects_with_their_ids() {
    let sim = sim();
    let id = "00000000-0000-4000-8000-000000000000";
    let out = run(&dry_env(&sim, id, "prod", "load"), &[]);
    assert_eq!(out.code, 4, "{out:?}");
    has_line(
        &out.stderr,
        &format!(
            "pipeline-run: error: project id '{id}' does not exist (or these credentials cannot see it). \
             Projects these credentials can see: 'Analytics (id {ANALYTICS})', 'Marketing (id {MARKETING})'."
        ),
    );
    assert_nothing_sent(&sim);
}

#[test]
fn unknown_environment_lists_the_projects_environments() {
    let sim = sim();
    let out = run(&dry_env(&sim, "Analytics", "stage", "load"), &[]);
    assert_eq!(out.code, 4, "{out:?}");
    has_line(
        &out.stderr,
        "pipeline-run: error: environment 'stage' does not exist in project 'Analytics'. Its environments: 'dev', 'prod'.",
    );
    assert_nothing_sent(&sim);
}

#[test]
fn unpublished_pipeline_lists_what_is_published_there() {
    let sim = sim();
    let out = run(&dry_env(&sim, "Analytics", "prod", "dev-only"), &[]);
    assert_eq!(out.code, 4, "{out:?}");
    has_line(
        &out.stderr,
        "pipeline-run: error: pipeline 'dev-only' is not published to environment 'prod'. Pipelines published there: 'load', 'quick'.",
    );
    assert_nothing_sent(&sim);
}

#[test]
fn a_version_cannot_be_checked_and_it_says_so() {
    let sim = sim();
    let mut env = dry_env(&sim, "Analytics", "prod", "load");
    set(&mut env, "MATILLION_VERSION", "9.9.9");
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    has_line(
        &out.stderr,
        "pipeline-run: warning: dry run: version '9.9.9' was NOT checked: Matillion's API does not list the versions of a published pipeline, so an unknown version only shows when the run is triggered (404)",
    );
    has_line(
        &out.stderr,
        &format!(
            "pipeline-run: dry run: would send POST {}/v1/projects/{ANALYTICS}/pipeline-executions with \
             {{\"environmentName\":\"prod\",\"pipelineName\":\"load\",\"versionName\":\"9.9.9\"}}",
            sim.base_url()
        ),
    );
    assert_nothing_sent(&sim);
}
