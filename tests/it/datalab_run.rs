//! Datalab pipelines end to end, when they run: the real binary against the simulator's
//! Datalab mode. What it sends (the uploaded file's exact bytes and name, or a file URL),
//! every report it writes on success (summary, outputs, JUnit, JSON, each step's result),
//! and the schedule the pipeline's past runs set. Each test builds its own pipeline (short
//! timings, 50 ms polls) and asserts on what the simulator received and on the reports.

use crate::common::*;
use crate::datalab_common::*;
use pipeline_run_sim::Route;
use std::time::Duration;

#[test]
fn success_reports_every_step_in_summary_outputs_junit_and_json() {
    // Pending until the binary has seen it so, then done.
    let (sim, clock) = start_sim_held(sim_config(pipeline("pl_invoices").version(3)));
    let dir = Scratch::new("dl-ok");
    let mut env = datalab_env(&sim, "pl_invoices");
    github(&mut env, &dir);
    let steps = [("pipeline-run: status: pending\n", ms(600))];
    let out = stepped(&clock, &env, &[], &steps);
    assert_eq!(out.code, 0, "{out:?}");

    let runs = sim.datalab_runs();
    assert_eq!(runs.len(), 1);
    let id = runs[0].execution_id.clone();
    assert_eq!(runs[0].status, "completed");
    for r in sim.requests() {
        assert_eq!(r.header("x-api-key"), Some(KEY), "{} {}", r.method, r.path);
    }

    assert!(
        out.stderr.contains(&format!(
            "pipeline-run: triggered Datalab 'pl_invoices': execution {id}\n"
        )),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("pipeline-run: status: pending\n"));
    assert!(out.stderr.contains("pipeline-run: status: completed\n"));
    assert!(
        out.stderr
            .contains("pipeline-run: result: completed in 0.5s (3 steps, 0 failed)\n"),
        "{}",
        out.stderr
    );

    let o = parse_outputs(&dir.read("output.txt"));
    assert_eq!(output(&o, "execution-id"), Some(id.clone()));
    assert_eq!(output(&o, "status").as_deref(), Some("completed"));
    assert_eq!(output(&o, "outcome").as_deref(), Some("succeeded"));
    assert_eq!(output(&o, "steps-total").as_deref(), Some("3"));
    assert_eq!(output(&o, "steps-failed").as_deref(), Some("0"));
    assert_eq!(output(&o, "failed-steps").as_deref(), Some(""));

    let summary = dir.read("summary.md");
    assert!(
        summary.starts_with("## ✅ pl_invoices succeeded\n"),
        "{summary}"
    );
    assert!(summary.contains("**Datalab** · version **3**"), "{summary}");
    assert!(summary.contains(&format!("| Execution id | {id} |")));
    for row in ["0. convert", "1. segment", "2. extract"] {
        assert!(
            summary.contains(&format!("| {row} | ✅\u{a0}completed |")),
            "{row}: {summary}"
        );
    }

    let junit = dir.read("junit.xml");
    assert!(
        junit.contains(r#"<testsuite name="pl_invoices" tests="3" failures="0""#),
        "{junit}"
    );
    for name in ["0. convert", "1. segment", "2. extract"] {
        assert!(
            junit.contains(&format!(
                r#"<testcase name="{name}" classname="pl_invoices""#
            )),
            "{name}: {junit}"
        );
    }

    let j = json(&dir);
    assert_eq!(j["platform"], "datalab");
    assert_eq!(j["pipeline"], "pl_invoices");
    assert_eq!(j["version"], "3");
    assert_eq!(j["execution_id"], id.as_str());
    assert_eq!(j["outcome"]["kind"], "succeeded");
    assert_eq!(j["status"], "completed");
    let steps = j["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["0. convert", "1. segment", "2. extract"]);
    for s in steps {
        assert_eq!(s["status"], "completed");
        assert_eq!(s["failed"], false);
        // The simulator's Python-style timestamps (`.123456+00:00`) parse: durations exist.
        assert!(s["duration_seconds"].as_f64().unwrap() > 0.1, "{s}");
    }
    assert!(j["duration_seconds"].as_f64().unwrap() >= 0.4, "{j}");

    let dotenv = dir.read("run.env");
    assert!(
        dotenv.contains(&format!("PIPELINE_RUN_EXECUTION_ID={id}\n")),
        "{dotenv}"
    );
    assert!(
        dotenv.contains("PIPELINE_RUN_STATUS=completed\n"),
        "{dotenv}"
    );
}

#[test]
fn uploads_the_exact_bytes_and_file_name_with_every_field() {
    let (sim, clock) = held_with(pipeline("pl_upload").version(4));
    let dir = Scratch::new("dl-upload");
    // Bytes that would break a careless encoder: CRLF, a boundary-like line, NUL, high bytes.
    let mut bytes = b"%PDF-1.7\r\n--boundary\r\n\x00\xff\xfe".to_vec();
    bytes.extend((0..=255u8).cycle().take(70_000));
    let path = dir.path("sample invoice.pdf");
    std::fs::write(&path, &bytes).unwrap();

    let mut env = datalab_env(&sim, "pl_upload");
    unset(&mut env, "INPUT_FILE-URL");
    set(&mut env, "INPUT_FILE", path.to_str().unwrap());
    set(&mut env, "INPUT_PIPELINE-VERSION", "2");
    set(&mut env, "INPUT_OUTPUT-FORMAT", "markdown");
    set(&mut env, "INPUT_PAGE-RANGE", "0,2-4");
    set(&mut env, "INPUT_SKIP-CACHE", "true");
    set(&mut env, "INPUT_RUN-EVALS", "false");
    set(
        &mut env,
        "INPUT_WEBHOOK-URL",
        "https://hooks.example.com/datalab",
    );
    let out = ended_once(&clock, &env, &[], TRIGGERED_DATALAB);
    assert_eq!(out.code, 0, "{out:?}");

    let runs = sim.datalab_runs();
    assert_eq!(runs.len(), 1);
    let upload = runs[0].file.clone().expect("a file was uploaded");
    assert_eq!(upload.filename.as_deref(), Some("sample invoice.pdf"));
    assert_eq!(upload.content_type.as_deref(), Some("application/pdf"));
    assert!(upload.bytes == bytes, "the bytes differ");
    assert_eq!(runs[0].file_url, None);
    assert_eq!(runs[0].pipeline_version, 2);
    let mut fields = runs[0].fields.clone();
    fields.sort();
    assert_eq!(
        fields,
        [
            ("output_format", "markdown"),
            ("page_range", "0,2-4"),
            ("run_evals", "false"),
            ("skip_cache", "true"),
            ("version", "2"),
            ("webhook_url", "https://hooks.example.com/datalab"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    );
}

#[test]
fn a_file_name_cannot_break_the_multipart_headers() {
    let (sim, clock) = held_with(pipeline("pl_upload"));
    let dir = Scratch::new("dl-upload-name");
    let path = dir.path("a\"b\r\nX-Evil: 1.txt");
    std::fs::write(&path, b"hello").unwrap();
    let mut env = datalab_env(&sim, "pl_upload");
    unset(&mut env, "INPUT_FILE-URL");
    set(&mut env, "INPUT_FILE", path.to_str().unwrap());
    let out = ended_once(&clock, &env, &[], TRIGGERED_DATALAB);
    assert_eq!(out.code, 0, "{out:?}");
    let runs = sim.datalab_runs();
    let upload = runs[0].file.clone().unwrap();
    assert_eq!(upload.bytes, b"hello");
    assert_eq!(upload.filename.as_deref(), Some("a%22b%0D%0AX-Evil: 1.txt"));
    assert!(runs[0].fields.is_empty(), "{:?}", runs[0].fields);
}

#[test]
fn file_url_is_sent_instead_of_a_file() {
    let (sim, clock) = held_with(pipeline("pl_url"));
    let env = datalab_env(&sim, "pl_url");
    let out = ended_once(&clock, &env, &[], TRIGGERED_DATALAB);
    assert_eq!(out.code, 0, "{out:?}");
    let runs = sim.datalab_runs();
    assert_eq!(runs.len(), 1);
    assert!(runs[0].file.is_none());
    assert_eq!(
        runs[0].file_url.as_deref(),
        Some("https://docs.example.com/invoices/sample.pdf")
    );
    assert!(runs[0].fields.is_empty(), "{:?}", runs[0].fields);
}

#[test]
fn result_dir_gets_each_completed_steps_result() {
    let (sim, clock) = held_with(
        pipeline("pl_results")
            .fail_step(1, "no tables found")
            .final_status("completed_with_errors"),
    );
    let dir = Scratch::new("dl-results");
    let results = dir.path("out/results");
    let mut env = datalab_env(&sim, "pl_results");
    set(&mut env, "INPUT_RESULT-DIR", results.to_str().unwrap());
    let out = ended_once(&clock, &env, &[], TRIGGERED_DATALAB);
    assert_eq!(out.code, 1, "{out:?}");

    let mut files: Vec<String> = std::fs::read_dir(&results)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["00-convert.json", "02-extract.json"]);

    // Each file holds exactly what the result URL serves.
    let id = sim.datalab_runs()[0].execution_id.clone();
    for (i, name) in [(0, "00-convert.json"), (2, "02-extract.json")] {
        let got = std::fs::read_to_string(results.join(name)).unwrap();
        let served = sim
            .requests_to(Route::DatalabResult)
            .into_iter()
            .find(|r| r.path.ends_with(&format!("/{id}/steps/{i}/result")))
            .expect("result fetched");
        assert_eq!(served.status, Some(200));
        let v: serde_json::Value = serde_json::from_str(&got).unwrap();
        assert_eq!(v["step_index"], i);
        assert_eq!(v["execution_id"], id.as_str());
        assert!(
            v["output"]["markdown"]
                .as_str()
                .unwrap()
                .contains("Result of step")
        );
    }
    assert_eq!(sim.requests_to(Route::DatalabResult).len(), 2);
    assert!(
        out.stderr.contains(&format!(
            "pipeline-run: saved 2 step result(s) in {}\n",
            results.display()
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn the_pipelines_past_runs_set_the_schedule() {
    let (sim, clock) = held_with(pipeline("pl_hist"));
    let hour = Duration::from_secs(3600);
    for i in 1..=6u32 {
        sim.add_datalab_run("pl_hist", Duration::from_secs(40 + u64::from(i)), hour * i)
            .expect("seeded");
    }
    let out = ended_once(
        &clock,
        &datalab_env(&sim, "pl_hist"),
        &[],
        TRIGGERED_DATALAB,
    );
    assert_eq!(out.code, 0, "{out:?}");
    // Started after the pending 100 ms: 40.9 s to 45.9 s, the median about 43 s.
    assert!(
        out.stderr
            .contains("pipeline-run: polling around the expected end at ~43s")
            && out.stderr.contains("from 6 past runs"),
        "{}",
        out.stderr
    );
    // One lookup (no reply was lost).
    assert_eq!(sim.requests_to(Route::DatalabList).len(), 1);
}
