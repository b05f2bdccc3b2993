//! The JSON result (`result-file`) of real runs against the simulator, held to the table
//! that documents it in docs/outputs.md ("The JSON result"): every field written is in the
//! table with the documented type, every field the table says is always there is there,
//! and every documented field shows up in at least one of the runs. One run is also
//! checked value by value.

use crate::common::*;
use pipeline_run_sim::{
    Environment, Project, PublishedPipeline, RunScript, SeedExecution, SimConfig,
};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

const PROJECT_ID: &str = "5a1e2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b";

/// One documented field: its path (`steps[].name`), type, and whether it is always there.
#[derive(Debug)]
struct Field {
    path: String,
    ty: String,
    always: bool,
}

/// The field table of the JSON result section of docs/outputs.md (up to the next section,
/// the result of several pipelines).
fn documented() -> Vec<Field> {
    let page = include_str!("../../docs/outputs.md");
    let start = page
        .find("\n## The JSON result (`result-file`)\n")
        .expect("docs/outputs.md has a JSON result section");
    let section = &page[start + 1..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let fields: Vec<Field> = section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            assert_eq!(cells.len(), 4, "row {l:?}");
            Field {
                path: cells[0].trim_matches('`').to_string(),
                ty: cells[1].to_string(),
                always: cells[2] == "always",
            }
        })
        .collect();
    assert!(fields.len() > 20, "table not found: {fields:?}");
    fields
}

fn has_type(v: &Value, ty: &str) -> bool {
    let all = |pred: fn(&Value) -> bool| v.as_array().is_some_and(|a| a.iter().all(pred));
    match ty {
        "string" => v.is_string(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "string or object" => v.is_string() || v.is_object(),
        "array of strings" => all(Value::is_string),
        "array of objects" => all(Value::is_object),
        other => panic!("undocumented type {other:?} in docs/outputs.md"),
    }
}

/// Holds `doc` to the table; returns the paths it has.
fn check_against_table(doc: &Value, table: &[Field], what: &str) -> BTreeSet<String> {
    let obj = doc
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not an object"));
    let mut seen = BTreeSet::new();
    let mut check = |path: String, v: &Value| {
        let f = table
            .iter()
            .find(|f| f.path == path)
            .unwrap_or_else(|| panic!("{what}: field {path} is not documented"));
        assert!(has_type(v, &f.ty), "{what}: {path} is not a {}: {v}", f.ty);
        seen.insert(path);
    };
    for (k, v) in obj {
        check(k.clone(), v);
        if k == "outcome" || k == "history" {
            for (k2, v2) in v.as_object().unwrap() {
                check(format!("{k}.{k2}"), v2);
            }
        }
        if k == "steps" {
            for step in v.as_array().unwrap() {
                for (k2, v2) in step.as_object().unwrap() {
                    check(format!("steps[].{k2}"), v2);
                }
                for f in table.iter().filter(|f| f.always) {
                    if let Some(k2) = f.path.strip_prefix("steps[].") {
                        assert!(step.get(k2).is_some(), "{what}: a step has no {k2}");
                    }
                }
            }
        }
    }
    for f in table.iter().filter(|f| f.always && !f.path.contains("[].")) {
        let present = match f.path.split_once('.') {
            Some((a, b)) => doc.get(a).and_then(|x| x.get(b)).is_some(),
            None => doc.get(&f.path).is_some(),
        };
        assert!(present, "{what}: {} is always there, but missing", f.path);
    }
    seen
}

fn sim() -> pipeline_run_sim::SimHandle {
    let env = Environment::new("prod")
        .pipeline(
            PublishedPipeline::new(
                "load",
                RunScript::failure(Duration::from_millis(600), 3, 1, "table missing")
                    .child_pipeline(1, "load-child")
                    .step_status(2, "SKIPPED"),
            )
            .versions(&["1.0.0", "2.0.0"]),
        )
        .pipeline(PublishedPipeline::new(
            "quick",
            RunScript::new(Duration::from_millis(300), 2),
        ))
        .pipeline(PublishedPipeline::new(
            "slow",
            RunScript::new(Duration::from_secs(600), 5),
        ));
    let sim = start_sim(
        SimConfig::new()
            .cancel_delay(Duration::from_millis(100))
            .project(Project::new(PROJECT_ID, "Analytics").environment(env)),
    );
    // Enough past successful runs of "quick" to compare it with them.
    for i in 1..=5 {
        sim.add_running_execution(
            SeedExecution::new("quick", "prod")
                .finished(Duration::from_millis(400), Duration::from_secs(3600 * i)),
        );
    }
    sim
}

/// The execution the binary triggered (not a seeded past run).
fn triggered(sim: &pipeline_run_sim::SimHandle) -> Option<pipeline_run_sim::ExecutionInfo> {
    sim.executions().into_iter().find(|e| e.trigger == "API")
}

/// Runs the binary with `pipeline` and `extra` inputs; returns the exit code and the
/// result file's text. `interrupt`: send SIGTERM once the execution exists.
fn result_of(pipeline: &str, extra: &[(&str, &str)], interrupt: bool) -> (i32, String, String) {
    let sim = sim();
    let dir = Scratch::new("result-json");
    let mut env = matillion_env(&sim, "Analytics", "prod", pipeline);
    set(
        &mut env,
        "MATILLION_RESULT_FILE",
        dir.path("result.json").display().to_string(),
    );
    for (k, v) in extra {
        set(&mut env, k, *v);
    }
    let child = spawn(&env, &[]);
    if interrupt {
        // The binary knows the id once it has written it to the result file (before it
        // starts waiting): a signal from then on must cancel the run.
        wait_for("the execution id in the result file", || {
            triggered(&sim).is_some_and(|e| dir.read("result.json").contains(&e.id))
        });
        signal(&child, "TERM");
    }
    let out = finish(child);
    let id = triggered(&sim).map(|e| e.id).unwrap_or_default();
    (out.code, dir.read("result.json"), id)
}

/// A run: what it is, pipeline, extra inputs, SIGTERM or not, exit code, outcome kind.
type Case = (
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str)>,
    bool,
    i32,
    &'static str,
);

#[test]
fn every_result_matches_the_documented_shape() {
    let table = documented();
    let cases: Vec<Case> = vec![
        (
            "failed",
            "load",
            vec![
                ("MATILLION_VERSION", "2.0.0"),
                ("MATILLION_EXECUTION_TAG", "t-1"),
                ("MATILLION_VARIABLES", "load_mode=full"),
            ],
            false,
            1,
            "failed",
        ),
        (
            "succeeded",
            "quick",
            vec![("MATILLION_PROJECT", PROJECT_ID)],
            false,
            0,
            "succeeded",
        ),
        (
            "dry run",
            "quick",
            vec![("MATILLION_DRY_RUN", "true")],
            false,
            0,
            "dry-run",
        ),
        ("refused", "missing", vec![], false, 4, "refused"),
        (
            "timed out",
            "slow",
            vec![("MATILLION_TIMEOUT", "400ms")],
            false,
            3,
            "timed-out",
        ),
        (
            "not waiting",
            "slow",
            vec![("MATILLION_WAIT", "false")],
            false,
            0,
            "triggered",
        ),
        ("interrupted", "slow", vec![], true, 143, "interrupted"),
    ];
    let results: Vec<(i32, String, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .iter()
            .map(|(_, p, extra, interrupt, _, _)| s.spawn(move || result_of(p, extra, *interrupt)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let mut seen = BTreeSet::new();
    for ((what, _, _, _, code, kind), (got_code, text, id)) in cases.iter().zip(&results) {
        assert_eq!(got_code, code, "{what}: exit code; result {text}");
        assert!(
            text.starts_with("{\n  \"schema\": \"pipeline-run/result/v1\",\n"),
            "{what}: schema first: {text}"
        );
        let doc: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(doc["outcome"]["kind"], *kind, "{what}");
        if *kind != "dry-run" && *kind != "refused" {
            assert_eq!(doc["execution_id"], id.as_str(), "{what}");
        }
        seen.extend(check_against_table(&doc, &table, what));
    }
    // Every documented field was exercised.
    for f in &table {
        assert!(seen.contains(&f.path), "no run wrote {}", f.path);
    }

    let interrupted: Value = serde_json::from_str(&results[6].1).unwrap();
    assert_eq!(
        interrupted["outcome"],
        json!({"kind": "interrupted", "signal": "SIGTERM", "cancel": "cancelled"})
    );
    let timed_out: Value = serde_json::from_str(&results[4].1).unwrap();
    assert_eq!(
        timed_out["outcome"],
        json!({"kind": "timed-out", "cancel": "cancelled"})
    );
    let refused: Value = serde_json::from_str(&results[3].1).unwrap();
    assert_eq!(
        refused["outcome"]["reason"]
            .as_str()
            .map(|r| r.contains("'missing'")),
        Some(true)
    );
}

#[test]
fn a_failed_run_value_by_value() {
    let (code, text, id) = result_of(
        "load",
        &[
            ("MATILLION_VERSION", "2.0.0"),
            ("MATILLION_EXECUTION_TAG", "t-1"),
            (
                "MATILLION_VARIABLES",
                "{\"load_mode\": \"full\", \"secret\": \"s3cr3t\"}",
            ),
        ],
        false,
    );
    assert_eq!(code, 1);
    assert!(!text.contains("s3cr3t"), "a variable's value in the result");
    let doc: Value = serde_json::from_str(&text).unwrap();
    // Times are the platform's, RFC 3339 with milliseconds; take them as sent.
    let time = |v: &Value| {
        let s = v.as_str().expect("a time").to_string();
        assert!(
            s.len() == 24 && s.ends_with('Z') && s.as_bytes()[10] == b'T',
            "{s}"
        );
        s
    };
    let step = |i: usize, name: &str, status: &str| {
        json!({
            "name": name,
            "status": status,
            "failed": status == "FAILED",
            "started_at": time(&doc["steps"][i]["started_at"]),
            "finished_at": time(&doc["steps"][i]["finished_at"]),
            "duration_seconds": 0.2,
        })
    };
    let mut failed = step(1, "Step 2", "FAILED");
    failed["message"] = json!("table missing");
    failed["child_pipeline"] = json!("load-child");
    assert_eq!(
        doc,
        json!({
            "schema": "pipeline-run/result/v1",
            "platform": "matillion",
            "pipeline": "load",
            "project": format!("Analytics ({PROJECT_ID})"),
            "project_id": PROJECT_ID,
            "environment": "prod",
            "version": "2.0.0",
            "execution_tag": "t-1",
            "overridden_variables": ["load_mode", "secret"],
            "execution_id": id,
            "execution_url": format!(
                "https://app.matillion.com/observability-dashboard/pipeline/{id}"
            ),
            "outcome": {"kind": "failed"},
            "status": "FAILED",
            "message": "\"Step 2\": table missing",
            "trigger": "API",
            "started_at": time(&doc["started_at"]),
            "finished_at": time(&doc["finished_at"]),
            "duration_seconds": 0.6,
            "steps": [step(0, "Step 1", "SUCCESS"), failed, step(2, "Step 3", "SKIPPED")],
            "notes": [],
            // The past runs seeded are of another pipeline.
            "history": {"successful_runs": 0},
            "rejected_requests": 0
        })
    );
}
