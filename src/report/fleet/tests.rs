//! The report of three pipelines: who decides, the outputs, the dotenv report and the
//! JSON result v2, exactly.

use super::*;
use crate::model::{CancelResult, PlatformKind, sample};

fn three() -> FleetReport {
    let mut ok = sample();
    ok.pipeline = "load-a".into();
    ok.outcome = Outcome::Succeeded;
    ok.status = Some("SUCCESS".into());
    ok.message = None;
    ok.execution_id = Some("a1".into());
    ok.steps.truncate(1);
    let mut failed = sample();
    failed.pipeline = "load-b".into();
    failed.execution_id = Some("b2".into());
    failed.started_at = Some("2026-11-22T04:59:00Z".into());
    let mut stopped = RunReport::new(PlatformKind::Matillion, "load-c");
    stopped.outcome = Outcome::Stopped {
        cancel: CancelResult::NotAttempted,
    };
    stopped.notes.push("Not started: fail-fast.".into());
    FleetReport {
        runs: vec![ok, failed, stopped],
        max_parallel: 4,
        fail_fast: true,
        rejected_requests: 7,
    }
}

#[test]
fn the_worst_outcome_decides_and_the_first_of_equals() {
    let mut f = three();
    assert_eq!(f.deciding().map(|r| r.pipeline.as_str()), Some("load-b"));
    assert_eq!(f.exit(), Exit::RunFailed);
    assert_eq!(f.succeeded(), 1);
    // The failure decides, not the pipeline it stopped, even when that one comes first.
    f.runs.swap(1, 2);
    assert_eq!(f.deciding().map(|r| r.pipeline.as_str()), Some("load-b"));
    f.runs.swap(1, 2);
    f.runs[2].outcome = Outcome::TimedOut {
        cancel: CancelResult::Cancelled,
    };
    assert_eq!(f.exit(), Exit::TimedOut);
    f.runs[0].outcome = Outcome::Refused {
        reason: "no".into(),
    };
    assert_eq!(f.exit(), Exit::Refused);
    f.runs[1].outcome = Outcome::Interrupted {
        signal: crate::clock::Signal::Term,
        cancel: CancelResult::Cancelled,
    };
    assert_eq!(f.exit(), Exit::Terminated);
    let all_ok = FleetReport {
        runs: vec![three().runs[0].clone()],
        max_parallel: 1,
        fail_fast: false,
        rejected_requests: 0,
    };
    assert_eq!(all_ok.exit(), Exit::Success);
}

#[test]
fn outputs_cover_every_pipeline() {
    let v = output_values(&three());
    let get = |n: &str| v.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str());
    let names: Vec<&str> = v.iter().map(|(n, _)| *n).collect();
    let mut single: Vec<&str> = crate::report::outputs::values(&sample())
        .iter()
        .map(|(n, _)| *n)
        .collect();
    single.push("results");
    assert_eq!(names, single);
    assert_eq!(get("execution-id"), Some("a1\nb2"));
    assert_eq!(get("status"), Some("FAILED"));
    assert_eq!(get("outcome"), Some("failed"));
    assert_eq!(get("steps-total"), Some("3"));
    assert_eq!(get("steps-failed"), Some("1"));
    assert_eq!(get("failed-steps"), Some("load-b: Load"));
    assert_eq!(
        get("message"),
        Some("load-b: \"Load\": table missing\nload-c: Not started: fail-fast.")
    );
    assert_eq!(get("started-at"), Some("2026-11-22T04:59:00Z"));
    // load-c never started: the step has no end.
    assert_eq!(get("finished-at"), Some(""));
    assert_eq!(get("duration"), Some(""));
    let results: serde_json::Value = serde_json::from_str(get("results").unwrap()).unwrap();
    assert_eq!(
        results[1],
        serde_json::json!({
            "pipeline": "load-b", "environment": "prod", "execution_id": "b2",
            "execution_url": "https://app.matillion.com/observability-dashboard/pipeline/b2",
            "outcome": "failed", "status": "FAILED", "duration_seconds": 90,
            "steps_total": 2, "steps_failed": 1, "message": "\"Load\": table missing"
        })
    );
    assert_eq!(
        results[2],
        serde_json::json!({
            "pipeline": "load-c", "outcome": "stopped", "steps_total": 0, "steps_failed": 0,
            "message": "Not started: fail-fast."
        })
    );
}

#[test]
fn dotenv_has_every_id() {
    assert_eq!(
        dotenv(&three()),
        "PIPELINE_RUN_EXECUTION_IDS=a1,b2\n\
         PIPELINE_RUN_STATUS=FAILED\n\
         PIPELINE_RUN_OUTCOME=failed\n\
         PIPELINE_RUN_STEPS_TOTAL=3\n\
         PIPELINE_RUN_STEPS_FAILED=1\n\
         PIPELINE_RUN_PIPELINES_TOTAL=3\n\
         PIPELINE_RUN_PIPELINES_SUCCEEDED=1\n\
         PIPELINE_RUN_MESSAGE=load-b: \"Load\": table missing\n"
    );
}

#[test]
fn json_v2_holds_one_v1_object_per_pipeline() {
    let v: serde_json::Value = serde_json::from_str(&json(&three())).unwrap();
    assert_eq!(v["schema"], "pipeline-run/result/v2");
    assert_eq!(v["outcome"], serde_json::json!({"kind": "failed"}));
    assert_eq!(v["status"], "FAILED");
    assert_eq!(v["pipelines_total"], 3);
    assert_eq!(v["pipelines_succeeded"], 1);
    assert_eq!(v["steps_failed"], 1);
    assert_eq!(v["fail_fast"], true);
    assert_eq!(v["max_parallel"], 4);
    assert_eq!(v["rejected_requests"], 7);
    let p = v["pipelines"].as_array().unwrap();
    assert_eq!(p.len(), 3);
    assert_eq!(p[1]["execution_id"], "b2");
    assert!(p[1].get("schema").is_none());
    assert_eq!(
        p[2]["outcome"],
        serde_json::json!({"kind": "stopped", "cancel": "not-attempted"})
    );
    // The same fields as a v1 document, less the schema and the count of rejected requests
    // (the step's, at the top).
    let v1: serde_json::Value =
        serde_json::from_str(&crate::report::json::render(&three().runs[1], 7)).unwrap();
    let mut v1 = v1.as_object().unwrap().clone();
    v1.remove("schema");
    assert_eq!(v1.remove("rejected_requests"), Some(7.into()));
    assert_eq!(&serde_json::Value::Object(v1), &p[1]);
}
