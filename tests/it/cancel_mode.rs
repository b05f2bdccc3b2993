//! `pipeline-run cancel` against the simulator: the execution id comes from the
//! `execution-id` input, else the result file, else the dotenv file; the cancel request is
//! the documented PATCH; no id means nothing to cancel (exit 0, no request at all). And the
//! GitLab `after_script` case end to end: a main job killed without warning still leaves
//! the id behind, and the cancel mode finds it.

use crate::common::*;
use pipeline_run_sim::{
    Environment, Project, PublishedPipeline, Route, RunScript, SeedExecution, SimConfig, SimHandle,
};
use serde_json::json;
use std::time::Duration;

const PROJECT_ID: &str = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f";

fn sim() -> SimHandle {
    start_sim(
        SimConfig::new()
            .cancel_delay(Duration::from_millis(100))
            .project(Project::new(PROJECT_ID, "Analytics").environment(
                Environment::new("prod").pipeline(PublishedPipeline::new(
                    "slow",
                    RunScript::new(Duration::from_secs(600), 5),
                )),
            )),
    )
}

fn seed(sim: &SimHandle) -> String {
    sim.add_running_execution(SeedExecution::new("slow", "prod"))
}

/// The job's environment: the same inputs as the main step, report files in `dir`.
fn job_env(sim: &SimHandle, dir: &Scratch) -> Vec<(String, String)> {
    let mut env = matillion_env(sim, "Analytics", "prod", "slow");
    set(&mut env, "GITLAB_CI", "true");
    set(
        &mut env,
        "MATILLION_RESULT_FILE",
        dir.path("pipeline-run.json").display().to_string(),
    );
    set(
        &mut env,
        "MATILLION_DOTENV_FILE",
        dir.path("pipeline-run.env").display().to_string(),
    );
    env
}

/// Exactly one cancel request was sent, for `id`, with the documented body.
fn assert_cancelled_once(sim: &SimHandle, id: &str) {
    let patches = sim.requests_to(Route::Cancel);
    assert_eq!(patches.len(), 1, "{patches:?}");
    let p = &patches[0];
    assert_eq!(p.method, "PATCH");
    assert!(
        p.path.ends_with(&format!(
            "/v1/projects/{PROJECT_ID}/pipeline-executions/{id}"
        )),
        "{}",
        p.path
    );
    let body: serde_json::Value = serde_json::from_slice(&p.body).unwrap();
    assert_eq!(body, json!({"status": "CANCELLED", "forceUpdate": false}));
    assert!(sim.execution(id).unwrap().cancel_requested);
}

#[test]
fn id_from_the_result_file() {
    let sim = sim();
    let dir = Scratch::new("cancel-json");
    let id = seed(&sim);
    let path = dir.path("pipeline-run.json");
    std::fs::write(
        &path,
        json!({"schema": "pipeline-run/result/v1", "execution_id": id}).to_string(),
    )
    .unwrap();
    let out = run(&job_env(&sim, &dir), &["cancel"]);
    assert_eq!(out.code, 0, "{out:?}");
    has_line(
        &out.stderr,
        &format!(
            "pipeline-run: cancelling execution {id} (from result-file {})",
            path.display()
        ),
    );
    has_line(
        &out.stderr,
        &format!("pipeline-run: execution {id} is now CANCELLED"),
    );
    assert_cancelled_once(&sim, &id);
    assert!(sim.requests_to(Route::Trigger).is_empty());
}

#[test]
fn id_from_the_dotenv_file_when_the_result_file_is_cut_short() {
    let sim = sim();
    let dir = Scratch::new("cancel-dotenv");
    let id = seed(&sim);
    std::fs::write(
        dir.path("pipeline-run.json"),
        "{\"schema\": \"pipeline-run/res",
    )
    .unwrap();
    let path = dir.path("pipeline-run.env");
    std::fs::write(
        &path,
        format!("PIPELINE_RUN_OUTCOME=triggered\nPIPELINE_RUN_EXECUTION_ID={id}\nPIPELINE_RUN_PIPELINE=slow\n"),
    )
    .unwrap();
    let out = run(&job_env(&sim, &dir), &["cancel"]);
    assert_eq!(out.code, 0, "{out:?}");
    has_line(
        &out.stderr,
        &format!(
            "pipeline-run: cancelling execution {id} (from dotenv-file {})",
            path.display()
        ),
    );
    assert_cancelled_once(&sim, &id);
}

#[test]
fn the_input_comes_first() {
    let sim = sim();
    let dir = Scratch::new("cancel-input");
    let id = seed(&sim);
    let other = seed(&sim);
    std::fs::write(
        dir.path("pipeline-run.json"),
        json!({"execution_id": other}).to_string(),
    )
    .unwrap();
    let mut env = job_env(&sim, &dir);
    set(&mut env, "MATILLION_EXECUTION_ID", id.clone());
    let out = run(&env, &["cancel"]);
    assert_eq!(out.code, 0, "{out:?}");
    has_line(
        &out.stderr,
        &format!("pipeline-run: cancelling execution {id} (from input 'execution-id')"),
    );
    assert_cancelled_once(&sim, &id);
    assert!(!sim.execution(&other).unwrap().cancel_requested);
}

#[test]
fn no_id_means_nothing_to_cancel_and_no_request() {
    let sim = sim();
    let dir = Scratch::new("cancel-none");
    let out = run(&job_env(&sim, &dir), &["cancel"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("nothing to cancel"), "{}", out.stderr);
    assert!(sim.requests().is_empty(), "{:?}", sim.requests());
}

#[test]
fn an_execution_that_already_ended_is_fine() {
    let sim = sim();
    let dir = Scratch::new("cancel-ended");
    let id = sim.add_running_execution(
        SeedExecution::new("slow", "prod")
            .script(RunScript::new(Duration::from_millis(100), 1))
            .running_for(Duration::from_secs(5)),
    );
    let mut env = job_env(&sim, &dir);
    set(&mut env, "MATILLION_EXECUTION_ID", id.clone());
    let out = run(&env, &["cancel"]);
    assert_eq!(out.code, 0, "{out:?}");
    has_line(
        &out.stderr,
        &format!("pipeline-run: execution {id} had already ended"),
    );
}

/// GitLab cancels a job by killing it: no signal handler runs and no final report is
/// written. The `after_script` then runs `pipeline-run cancel` with the same variables.
#[test]
fn a_killed_gitlab_job_leaves_the_id_for_after_script() {
    let sim = sim();
    let dir = Scratch::new("cancel-after-script");
    let env = job_env(&sim, &dir);
    let mut main = spawn(&env, &[]);
    let mut id = String::new();
    wait_for("the id in the result file", || {
        if let Some(e) = sim.executions().first() {
            if dir.read("pipeline-run.json").contains(&e.id) {
                id = e.id.clone();
            }
        }
        !id.is_empty()
    });
    main.kill().unwrap();
    let _ = main.wait();
    assert!(!sim.execution(&id).unwrap().cancel_requested);

    // What the killed job left behind: the id, outcome "triggered".
    assert_eq!(
        dir.read("pipeline-run.env"),
        format!(
            "PIPELINE_RUN_EXECUTION_ID={id}\n\
             PIPELINE_RUN_EXECUTION_URL=https://app.matillion.com/observability-dashboard/pipeline/{id}\n\
             PIPELINE_RUN_OUTCOME=triggered\n\
             PIPELINE_RUN_STEPS_TOTAL=0\nPIPELINE_RUN_STEPS_FAILED=0\nPIPELINE_RUN_PIPELINE=slow\n"
        )
    );
    let left: serde_json::Value = serde_json::from_str(&dir.read("pipeline-run.json")).unwrap();
    assert_eq!(left["execution_id"], id.as_str());
    assert_eq!(left["outcome"], json!({"kind": "triggered"}));

    let mut after = env.clone();
    set(&mut after, "CI_JOB_STATUS", "canceled");
    let out = run(&after, &["cancel"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_cancelled_once(&sim, &id);
    assert_eq!(sim.execution(&id).unwrap().status, "CANCELLED");

    // The reports now say what the clean-up did, and still hold the id.
    assert_eq!(
        dir.read("pipeline-run.env"),
        format!(
            "PIPELINE_RUN_EXECUTION_ID={id}\n\
             PIPELINE_RUN_EXECUTION_URL=https://app.matillion.com/observability-dashboard/pipeline/{id}\n\
             PIPELINE_RUN_OUTCOME=cancel-requested\n\
             PIPELINE_RUN_STEPS_TOTAL=0\nPIPELINE_RUN_STEPS_FAILED=0\nPIPELINE_RUN_PIPELINE=slow\n"
        )
    );
    let after: serde_json::Value = serde_json::from_str(&dir.read("pipeline-run.json")).unwrap();
    assert_eq!(after["execution_id"], id.as_str());
    assert_eq!(after["outcome"], json!({"kind": "cancel-requested"}));
    assert_eq!(
        after["notes"],
        json!([format!(
            "Cancel mode: execution {id}: the execution was cancelled."
        )])
    );
}

#[test]
fn cancel_mode_reports_its_outcome_on_github() {
    let sim = sim();
    let dir = Scratch::new("cancel-github");
    let id = seed(&sim);
    let mut env = matillion_env(&sim, "Analytics", "prod", "slow");
    set(&mut env, "GITHUB_ACTIONS", "true");
    set(&mut env, "INPUT_EXECUTION-ID", id.clone());
    for f in ["GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"] {
        std::fs::write(dir.path(f), "").unwrap();
        set(&mut env, f, dir.path(f).display().to_string());
    }
    let out = run(&env, &["cancel"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_cancelled_once(&sim, &id);
    let outputs = parse_outputs(&dir.read("GITHUB_OUTPUT"));
    assert_eq!(output(&outputs, "execution-id"), Some(id.clone()));
    assert_eq!(
        output(&outputs, "outcome").as_deref(),
        Some("cancel-requested")
    );
    let summary = dir.read("GITHUB_STEP_SUMMARY");
    assert!(
        summary.starts_with(&format!(
            "## ⏹ Cancel requested for slow · [open in Matillion](https://app.matillion.com/observability-dashboard/pipeline/{id})\n"
        )),
        "{summary}"
    );
    has_line(&out.stderr, "pipeline-run: result: cancel requested");
}
