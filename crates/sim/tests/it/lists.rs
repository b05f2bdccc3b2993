//! The list of executions as a client following several runs reads it: filtered by
//! project, environment and `startedAfter`, paged with `more`; a list that lags behind
//! new executions, one that errors, and one that says a run ended when it has not. In each
//! case the run's own status keeps the truth.

use crate::common::*;

const OTHER: &str = "99999999-2222-4333-8444-555555555555";

fn two_projects() -> SimConfig {
    world().project(
        Project::new(OTHER, "Other").environment(Environment::new("dev").pipeline(
            PublishedPipeline::new("nightly-load", RunScript::new(secs(10), 2)),
        )),
    )
}

fn since(t: &T) -> String {
    humantime::format_rfc3339_millis(t.clock.wall())
        .to_string()
        .replace(':', "%3A")
}

#[test]
fn the_list_filters_by_project_environment_and_start_and_pages_with_more() {
    let t = T::start(two_projects());
    // Before the step: past runs in dev, runs of another project and of prod.
    for i in 0..5 {
        t.sim.add_running_execution(
            SeedExecution::new("nightly-load", "dev").finished(secs(60), secs(600 + i)),
        );
    }
    t.sim
        .add_running_execution(SeedExecution::new("nightly-load", "dev").project(OTHER));
    t.clock.advance(secs(1));
    let after = since(&t);
    t.clock.advance(secs(1));
    let mine: Vec<String> = (0..130)
        .map(|i| {
            let env = if i % 10 == 9 { "prod" } else { "dev" };
            t.sim
                .add_running_execution(SeedExecution::new("nightly-load", env).project(PID))
        })
        .collect();
    t.sim
        .add_running_execution(SeedExecution::new("nightly-load", "dev").project(OTHER));
    let list = |q: &str| {
        let r = t.get(&format!(
            "/v1/pipeline-executions?projectId={PID}&environmentName=dev&startedAfter={after}&limit=100{q}"
        ));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    };
    let first = list("");
    assert_eq!(execution_ids(&first).len(), 100);
    let more = first["more"].as_str().expect("a second page").to_string();
    let second = list(&format!("&paginationToken={more}"));
    assert!(second.get("more").is_none(), "{second}");
    let mut got: Vec<String> = execution_ids(&first);
    got.extend(execution_ids(&second));
    // Exactly the 117 runs of this project in dev started after `after`, each once.
    let mut want: Vec<String> = mine
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 10 != 9)
        .map(|(_, id)| id.clone())
        .collect();
    assert_eq!(got.len(), want.len());
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn a_lagging_list_leaves_out_a_new_run_whose_status_answers() {
    let t = T::start(world().list_lag(secs(5)));
    let after = since(&t);
    let id = t.trigger(json!({"pipelineName": "nightly-load", "environmentName": "dev"}));
    let list = || {
        execution_ids(
            &t.get(&format!(
                "/v1/pipeline-executions?projectId={PID}&startedAfter={after}"
            ))
            .json(),
        )
    };
    assert!(list().is_empty());
    assert_eq!(t.status(&id), "QUEUED");
    t.clock.advance(Duration::from_millis(4999));
    assert!(list().is_empty());
    t.clock.advance(Duration::from_millis(1));
    assert_eq!(list(), [id]);
}

#[test]
fn a_list_that_errors_leaves_the_status_and_the_other_lists_alone() {
    let t = T::start(world());
    t.sim.add_fault(
        Fault::matching(
            Matcher::Query {
                route: Route::ListExecutions,
                contains: "startedAfter".into(),
            },
            FaultAction::unavailable_json(),
        )
        .forever(),
    );
    let after = since(&t);
    let id = t.trigger(json!({"pipelineName": "nightly-load", "environmentName": "dev"}));
    for _ in 0..3 {
        let r = t.get(&format!(
            "/v1/pipeline-executions?projectId={PID}&startedAfter={after}"
        ));
        assert_eq!(r.status, 503, "{}", r.body);
    }
    assert_eq!(t.status(&id), "QUEUED");
    let r = t.get(&format!("/v1/pipeline-executions?projectId={PID}"));
    assert_eq!(execution_ids(&r.json()), [id]);
}

#[test]
fn a_list_that_says_a_run_ended_leaves_the_truth_to_its_status() {
    let t = T::start(world());
    t.sim.add_fault(Fault::always(
        Route::ListExecutions,
        FaultAction::list_says("SUCCESS"),
    ));
    let id = t.trigger(json!({"pipelineName": "broken-load", "environmentName": "dev"}));
    t.clock.advance(secs(1));
    let list = t
        .get(&format!("/v1/pipeline-executions?projectId={PID}"))
        .json();
    assert_eq!(list["results"][0]["status"], "SUCCESS");
    assert!(list["results"][0]["finishedAt"].is_string(), "{list}");
    assert_eq!(t.status(&id), "RUNNING");
    t.clock.advance(secs(5));
    assert_eq!(t.status(&id), "FAILED");
    // And the other way: a list that says it still runs.
    t.sim.clear_faults();
    t.sim.add_fault(Fault::always(
        Route::ListExecutions,
        FaultAction::list_says("RUNNING"),
    ));
    let list = t
        .get(&format!("/v1/pipeline-executions?projectId={PID}"))
        .json();
    assert_eq!(list["results"][0]["status"], "RUNNING");
    assert!(list["results"][0].get("finishedAt").is_none(), "{list}");
}
