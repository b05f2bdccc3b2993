//! Failure handling, end to end, around the trigger: a held execution tag (waited for, or
//! failed on), a trigger's reply lost after the run was created (adopted, not repeated,
//! with or without a tag) and a connection reset before the server acted (sent again
//! once). The real binary against the simulator on loopback; every claim is checked
//! against the executions the simulator holds.

use crate::common::*;
use crate::resilience_common::*;
use pipeline_run_sim::{Fault, FaultAction, Route, RunScript, SeedExecution};
use std::time::Duration;

#[test]
fn held_tag_waits_for_the_holder_then_triggers_once() {
    // The holder ends once the binary was seen waiting for it; the new run once triggered
    // (a clock the test moves: a busy machine cannot let the holder end first).
    let (sim, clock) = start_sim_held(sim_config());
    let holder = sim.add_running_execution(
        SeedExecution::new("load", ENV)
            .tag("nightly")
            .script(RunScript::new(Duration::from_millis(800), 2)),
    );
    let mut env = env_for(&sim, "load");
    set(&mut env, "MATILLION_EXECUTION_TAG", "nightly");
    let held = format!("execution tag 'nightly' is held by execution {holder}");
    let steps = [
        (held.as_str(), Duration::from_secs(1)),
        (TRIGGERED, Duration::from_secs(60)),
    ];
    let out = stepped(&clock, &env, &[], &steps);
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
    // The window opens after the first POST failed and before the first look goes out (the
    // look may reach the simulator late on a loaded machine): a whole window after the POST.
    let first = sim.requests_to(Route::Trigger)[0].elapsed;
    assert!(
        second - first >= Duration::from_millis(300),
        "the trigger was sent again {:?} after the first",
        second - first
    );
    assert!(
        out.stderr
            .contains("no execution was created; triggering again"),
        "{}",
        out.stderr
    );
}
