//! Datalab pipelines end to end, when something goes wrong: a failed step, a run completed
//! with errors, a 422 and a 429 from the API, a lost reply to the run request, a timeout
//! and a signal (Datalab cannot cancel: nothing is sent, and the reports say the execution
//! continues). The real binary against the simulator's Datalab mode.

use crate::common::*;
use crate::datalab_common::*;
use pipeline_run_sim::{DatalabPipeline, Fault, FaultAction, Route, SimHandle};
use std::time::Duration;

#[test]
fn a_failed_step_fails_the_job_and_shows_its_error_message() {
    let (sim, clock) = held_with(
        pipeline("pl_ocr")
            .fail_step(1, "Segmentation failed: page 3 is unreadable")
            .final_status("failed"),
    );
    let dir = Scratch::new("dl-fail");
    let mut env = datalab_env(&sim, "pl_ocr");
    github(&mut env, &dir);
    let out = ended_once(&clock, &env, &[], TRIGGERED_DATALAB);
    assert_eq!(out.code, 1, "{out:?}");
    let msg = "Segmentation failed: page 3 is unreadable";

    assert!(
        out.stderr.contains(&format!(
            "pipeline-run: error: result: failed in 0.5s (3 steps, 1 failed): 1. segment: {msg}\n"
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains(&format!(
            "::error title=pl_ocr failed::The execution ended with status failed: 1. segment: {msg}\n"
        )) && out
            .stdout
            .contains(&format!("::error title=1. segment::{msg}\n")),
        "{}",
        out.stdout
    );

    let o = parse_outputs(&dir.read("output.txt"));
    assert_eq!(output(&o, "status").as_deref(), Some("failed"));
    assert_eq!(output(&o, "outcome").as_deref(), Some("failed"));
    assert_eq!(output(&o, "steps-failed").as_deref(), Some("1"));
    assert_eq!(output(&o, "failed-steps").as_deref(), Some("1. segment"));
    assert_eq!(
        output(&o, "message").as_deref(),
        Some(format!("1. segment: {msg}").as_str())
    );

    let summary = dir.read("summary.md");
    assert!(summary.starts_with("## ❌ pl_ocr failed\n"), "{summary}");
    assert!(
        summary.contains("Segmentation failed: page 3 is unreadable"),
        "{summary}"
    );

    let junit = dir.read("junit.xml");
    assert!(junit.contains(r#"tests="3" failures="1""#), "{junit}");
    assert!(junit.contains(msg), "{junit}");

    let j = json(&dir);
    assert_eq!(j["outcome"]["kind"], "failed");
    assert_eq!(j["steps"][1]["status"], "failed");
    assert_eq!(j["steps"][1]["failed"], true);
    assert_eq!(j["steps"][1]["message"], msg);
    assert_eq!(j["steps"][0]["failed"], false);
}

#[test]
fn completed_with_errors_fails_unless_allowed() {
    let p = pipeline("pl_mixed")
        .fail_step(2, "Extraction schema mismatch")
        .final_status("completed_with_errors");

    let (sim, clock) = held_with(p.clone());
    let dir = Scratch::new("dl-cwe");
    let mut env = datalab_env(&sim, "pl_mixed");
    github(&mut env, &dir);
    let out = ended_once(&clock, &env, &[], TRIGGERED_DATALAB);
    assert_eq!(out.code, 1, "{out:?}");
    let o = parse_outputs(&dir.read("output.txt"));
    assert_eq!(
        output(&o, "status").as_deref(),
        Some("completed_with_errors")
    );
    assert_eq!(output(&o, "outcome").as_deref(), Some("failed"));
    assert!(
        dir.read("summary.md")
            .starts_with("## ❌ pl_mixed failed\n")
    );

    let (sim, clock) = held_with(p);
    let dir = Scratch::new("dl-cwe-ok");
    let mut env = datalab_env(&sim, "pl_mixed");
    github(&mut env, &dir);
    set(&mut env, "INPUT_ALLOW-COMPLETED-WITH-ERRORS", "true");
    let out = ended_once(&clock, &env, &[], TRIGGERED_DATALAB);
    assert_eq!(out.code, 0, "{out:?}");
    let o = parse_outputs(&dir.read("output.txt"));
    assert_eq!(
        output(&o, "status").as_deref(),
        Some("completed_with_errors")
    );
    assert_eq!(output(&o, "outcome").as_deref(), Some("succeeded"));
    assert_eq!(output(&o, "steps-failed").as_deref(), Some("1"));
    let summary = dir.read("summary.md");
    assert!(
        summary.contains("allow-completed-with-errors"),
        "the summary says why a run with errors passed: {summary}"
    );
    assert!(summary.contains("Extraction schema mismatch"), "{summary}");
}

#[test]
fn a_422_validation_error_is_exit_4_with_the_message_as_a_sentence() {
    let sim = sim_with(pipeline("pl_val"));
    sim.add_fault(Fault::once(
        Route::DatalabRun,
        FaultAction::respond(
            422,
            "application/json",
            r#"{"detail":[{"loc":["body","page_range"],"msg":"Invalid page range: 9-2","type":"value_error"}]}"#,
        ),
    ));
    let dir = Scratch::new("dl-422");
    let mut env = datalab_env(&sim, "pl_val");
    github(&mut env, &dir);
    let out = run(&env, &[]);
    assert_eq!(out.code, 4, "{out:?}");
    let sentence = "Datalab refused the run request as invalid (422): page_range: Invalid page range: 9-2 (input 'page-range').";
    assert!(
        out.stderr
            .contains(&format!("pipeline-run: error: {sentence}\n")),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.matches(sentence).count(), 1, "{}", out.stderr);
    let summary = dir.read("summary.md");
    assert!(
        summary.contains(
            r"| Reason | Datalab refused the run request as invalid (422): page_range: Invalid page range: 9-2 (input 'page-range'). |"
        ),
        "{summary}"
    );
    let o = parse_outputs(&dir.read("output.txt"));
    assert_eq!(output(&o, "outcome").as_deref(), Some("refused"));
    assert_eq!(output(&o, "message").as_deref(), Some(sentence));
    // Refused: not retried, nothing created.
    assert_eq!(sim.requests_to(Route::DatalabRun).len(), 1);
    assert!(sim.datalab_runs().is_empty());
}

#[test]
fn a_429_is_retried_honouring_retry_after_and_runs_once() {
    let sim = sim_with(pipeline("pl_busy"));
    sim.add_fault(Fault::once(
        Route::DatalabRun,
        FaultAction::too_many_requests(1),
    ));
    // Without Retry-After (not documented for Datalab): the shared backoff applies.
    sim.add_fault(Fault::times(
        Route::DatalabExecution,
        2,
        FaultAction::respond(
            429,
            "application/json",
            r#"{"detail":"Rate limit exceeded"}"#,
        ),
    ));
    let mut env = datalab_env(&sim, "pl_busy");
    // Each 429 halves the request budget: from 6000 a minute, the three leave 750, so the
    // steps are read without waiting on it (from the default 400, a second a request).
    set(&mut env, "INPUT_RATE-LIMIT", "6000");
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(sim.datalab_runs().len(), 1, "one execution, not two");
    let posts = sim.requests_to(Route::DatalabRun);
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0].status, Some(429));
    assert_eq!(posts[1].status, Some(200));
    assert!(
        posts[1].at - posts[0].at >= Duration::from_secs(1),
        "Retry-After: 1 was not honoured: {:?}",
        posts[1].at - posts[0].at
    );
    assert!(
        out.stderr.contains(
            "pipeline-run: warning: the run request answered 429 Too Many Requests: Rate limit exceeded; retrying in 1s\n"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "pipeline-run: warning: the execution poll answered 429 Rate limit exceeded; retrying in"
        ),
        "{}",
        out.stderr
    );
    let polls = sim.requests_to(Route::DatalabExecution);
    assert_eq!(
        polls.iter().filter(|r| r.status == Some(429)).count(),
        2,
        "{polls:?}"
    );
}

#[test]
fn a_timeout_makes_no_cancel_request_and_says_the_execution_continues() {
    let sim =
        sim_with(DatalabPipeline::new("pl_long", Duration::from_secs(600)).pending_for(ms(100)));
    let dir = Scratch::new("dl-timeout");
    let mut env = datalab_env(&sim, "pl_long");
    github(&mut env, &dir);
    set(&mut env, "INPUT_TIMEOUT", "1s");
    let out = run(&env, &[]);
    assert_eq!(out.code, 3, "{out:?}");
    assert_no_cancel(&sim);
    assert!(
        out.stderr.contains(
            &format!(
                "pipeline-run: warning: timed out after 1s while the run was running; Datalab has no way to cancel execution {}: the execution continues on Datalab\n",
                sim.datalab_runs()[0].execution_id
            )
        ),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("cancelling"), "{}", out.stderr);
    let summary = dir.read("summary.md");
    assert!(
        summary.contains("| After the timeout | The execution continues on Datalab |"),
        "{summary}"
    );
    assert!(!summary.to_lowercase().contains("cancel"), "{summary}");
    let o = parse_outputs(&dir.read("output.txt"));
    assert_eq!(output(&o, "outcome").as_deref(), Some("timed-out"));
    assert_eq!(json(&dir)["outcome"]["cancel"], "unsupported");
    assert_eq!(sim.datalab_runs()[0].status, "running");
}

#[test]
fn a_signal_makes_no_cancel_request_and_says_the_execution_continues() {
    let sim =
        sim_with(DatalabPipeline::new("pl_long", Duration::from_secs(600)).pending_for(ms(100)));
    let dir = Scratch::new("dl-signal");
    let mut env = datalab_env(&sim, "pl_long");
    github(&mut env, &dir);
    let child = spawn(&env, &[]);
    wait_for("a poll of the running execution", || {
        !sim.requests_to(Route::DatalabExecution).is_empty()
            && sim.datalab_runs()[0].status == "running"
    });
    signal(&child, "TERM");
    let out = finish(child);
    assert_eq!(out.code, 143, "{out:?}");
    assert_no_cancel(&sim);
    assert!(
        out.stderr.contains(
            &format!(
                "pipeline-run: warning: Datalab has no way to cancel execution {}: the execution continues on Datalab\n",
                sim.datalab_runs()[0].execution_id
            )
        ),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("cancelling"), "{}", out.stderr);
    let summary = dir.read("summary.md");
    assert!(
        summary.contains("| After the interruption | The execution continues on Datalab |"),
        "{summary}"
    );
    assert!(!summary.to_lowercase().contains("cancel"), "{summary}");
    assert_eq!(json(&dir)["outcome"]["cancel"], "unsupported");
    assert_eq!(sim.datalab_runs()[0].status, "running");
}

/// Only the run request and reads: nothing that could be a cancel.
fn assert_no_cancel(sim: &SimHandle) {
    for (method, route) in routes(sim) {
        match (method.as_str(), route) {
            ("POST", Route::DatalabRun)
            | ("GET", Route::DatalabExecution)
            | ("GET", Route::DatalabList) => {}
            other => panic!("unexpected request {other:?}"),
        }
    }
    assert_eq!(sim.requests_to(Route::DatalabRun).len(), 1);
}

#[test]
fn a_lost_run_reply_adopts_the_execution_instead_of_running_twice() {
    let (sim, clock) = held_with(pipeline("pl_lost"));
    sim.add_fault(Fault::once(Route::DatalabRun, FaultAction::LoseReply));
    let dir = Scratch::new("dl-lost");
    let mut env = datalab_env(&sim, "pl_lost");
    github(&mut env, &dir);
    let out = ended_once(&clock, &env, &[], "adopted execution ");
    assert_eq!(out.code, 0, "{out:?}");
    let runs = sim.datalab_runs();
    assert_eq!(runs.len(), 1, "ran once");
    assert_eq!(sim.requests_to(Route::DatalabRun).len(), 1);
    // The lookup, then (once the run is known) its past runs for the polling schedule.
    assert_eq!(sim.requests_to(Route::DatalabList).len(), 2);
    let note = format!(
        "The run request's reply was lost; adopted execution {}, which it created.",
        runs[0].execution_id
    );
    assert!(out.stderr.contains(&note), "{}", out.stderr);
    assert_eq!(
        out.stderr.matches(&note).count(),
        1,
        "logged once: {}",
        out.stderr
    );
    assert_eq!(json(&dir)["notes"][0], note.as_str());
}

#[test]
fn cancel_mode_says_datalab_cannot_cancel_and_sends_nothing() {
    let sim = sim_with(pipeline("pl_cancel"));
    let mut env = datalab_env(&sim, "pl_cancel");
    set(&mut env, "INPUT_EXECUTION-ID", "pex_0123456789abcdef");
    let out = run(&env, &["cancel"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(
        out.stderr.contains(
            "pipeline-run: error: Datalab has no way to cancel execution pex_0123456789abcdef: the execution continues on Datalab\n"
        ),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("cancelling execution"),
        "{}",
        out.stderr
    );
    assert!(sim.requests().is_empty());
}
