//! Datalab pipelines end to end: the real binary against the simulator's Datalab mode.
//! Each test builds its own pipeline (short timings, 50 ms polls) and asserts on what the
//! simulator received and on every report the binary wrote.

use crate::common::*;
use pipeline_run_sim::{DatalabPipeline, Fault, FaultAction, Route, SimConfig, SimHandle};
use std::time::Duration;

const KEY: &str = "dlk_live_7f3a9cSECRETb21e";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Three steps, pending for 100 ms, done after 600 ms.
fn pipeline(id: &str) -> DatalabPipeline {
    DatalabPipeline::new(id, ms(600))
        .pending_for(ms(100))
        .steps(&["convert", "segment", "extract"])
}

fn sim_with(p: DatalabPipeline) -> SimHandle {
    start_sim(SimConfig::new().datalab_key(KEY).datalab_pipeline(p))
}

/// A Datalab run of `pipeline` on `file_url` (tests that upload replace it with `file`).
fn datalab_env(sim: &SimHandle, pipeline: &str) -> Vec<(String, String)> {
    vec![
        ("INPUT_PLATFORM".into(), "datalab".into()),
        ("INPUT_API-URL".into(), sim.datalab_url()),
        ("DATALAB_API_KEY".into(), KEY.into()),
        ("INPUT_PIPELINE".into(), pipeline.into()),
        (
            "INPUT_FILE-URL".into(),
            "https://docs.example.com/invoices/sample.pdf".into(),
        ),
        ("INPUT_POLL-INTERVAL".into(), "50ms".into()),
        ("INPUT_MAX-POLL-INTERVAL".into(), "200ms".into()),
        ("INPUT_TIMEOUT".into(), "30s".into()),
    ]
}

/// GitHub Actions files in `dir`: summary, outputs, state, plus the three report files.
fn github(env: &mut Vec<(String, String)>, dir: &Scratch) {
    for f in ["summary.md", "output.txt", "state.txt"] {
        std::fs::write(dir.path(f), "").unwrap();
    }
    set(env, "GITHUB_ACTIONS", "true");
    set(
        env,
        "GITHUB_STEP_SUMMARY",
        dir.path("summary.md").to_str().unwrap(),
    );
    set(
        env,
        "GITHUB_OUTPUT",
        dir.path("output.txt").to_str().unwrap(),
    );
    set(env, "GITHUB_STATE", dir.path("state.txt").to_str().unwrap());
    set(
        env,
        "INPUT_RESULT-FILE",
        dir.path("result.json").to_str().unwrap(),
    );
    set(
        env,
        "INPUT_JUNIT-FILE",
        dir.path("junit.xml").to_str().unwrap(),
    );
    set(
        env,
        "INPUT_DOTENV-FILE",
        dir.path("run.env").to_str().unwrap(),
    );
}

fn json(dir: &Scratch) -> serde_json::Value {
    serde_json::from_str(&dir.read("result.json")).expect("result.json is JSON")
}

/// Every request the simulator saw, as `METHOD route`.
fn routes(sim: &SimHandle) -> Vec<(String, Route)> {
    sim.requests()
        .into_iter()
        .map(|r| (r.method, r.route))
        .collect()
}

#[test]
fn success_reports_every_step_in_summary_outputs_junit_and_json() {
    let sim = sim_with(pipeline("pl_invoices").version(3));
    let dir = Scratch::new("dl-ok");
    let mut env = datalab_env(&sim, "pl_invoices");
    github(&mut env, &dir);
    let out = run(&env, &[]);
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
        summary.starts_with("## ✅ pl\\_invoices succeeded\n"),
        "{summary}"
    );
    assert!(summary.contains("**Datalab** · version **3**"), "{summary}");
    assert!(summary.contains(&format!("| Execution id | {} |", id.replace('_', "\\_"))));
    for row in ["0\\. convert", "1\\. segment", "2\\. extract"] {
        assert!(
            summary.contains(&format!("| {row} | ✅ completed |")),
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
fn a_failed_step_fails_the_job_and_shows_its_error_message() {
    let sim = sim_with(
        pipeline("pl_ocr")
            .fail_step(1, "Segmentation failed: page 3 is unreadable")
            .final_status("failed"),
    );
    let dir = Scratch::new("dl-fail");
    let mut env = datalab_env(&sim, "pl_ocr");
    github(&mut env, &dir);
    let out = run(&env, &[]);
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
    assert!(summary.starts_with("## ❌ pl\\_ocr failed\n"), "{summary}");
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

    let sim = sim_with(p.clone());
    let dir = Scratch::new("dl-cwe");
    let mut env = datalab_env(&sim, "pl_mixed");
    github(&mut env, &dir);
    let out = run(&env, &[]);
    assert_eq!(out.code, 1, "{out:?}");
    let o = parse_outputs(&dir.read("output.txt"));
    assert_eq!(
        output(&o, "status").as_deref(),
        Some("completed_with_errors")
    );
    assert_eq!(output(&o, "outcome").as_deref(), Some("failed"));
    assert!(
        dir.read("summary.md")
            .starts_with("## ❌ pl\\_mixed failed\n")
    );

    let sim = sim_with(p);
    let dir = Scratch::new("dl-cwe-ok");
    let mut env = datalab_env(&sim, "pl_mixed");
    github(&mut env, &dir);
    set(&mut env, "INPUT_ALLOW-COMPLETED-WITH-ERRORS", "true");
    let out = run(&env, &[]);
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
        summary.contains("allow\\-completed\\-with\\-errors"),
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
        out.stderr.contains(&format!(
            "pipeline-run: error: result: refused: {sentence}\n"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.matches(sentence).count(), 1, "{}", out.stderr);
    let summary = dir.read("summary.md");
    assert!(
        summary.contains(
            r"| Reason | Datalab refused the run request as invalid \(422\)\: page\_range\: Invalid page range\: 9\-2 \(input &#39;page\-range&#39;\)\. |"
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
    let env = datalab_env(&sim, "pl_busy");
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
fn uploads_the_exact_bytes_and_file_name_with_every_field() {
    let sim = sim_with(pipeline("pl_upload").version(4));
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
    let out = run(&env, &[]);
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
    let sim = sim_with(pipeline("pl_upload"));
    let dir = Scratch::new("dl-upload-name");
    let path = dir.path("a\"b\r\nX-Evil: 1.txt");
    std::fs::write(&path, b"hello").unwrap();
    let mut env = datalab_env(&sim, "pl_upload");
    unset(&mut env, "INPUT_FILE-URL");
    set(&mut env, "INPUT_FILE", path.to_str().unwrap());
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    let runs = sim.datalab_runs();
    let upload = runs[0].file.clone().unwrap();
    assert_eq!(upload.bytes, b"hello");
    assert_eq!(upload.filename.as_deref(), Some("a%22b%0D%0AX-Evil: 1.txt"));
    assert!(runs[0].fields.is_empty(), "{:?}", runs[0].fields);
}

#[test]
fn file_url_is_sent_instead_of_a_file() {
    let sim = sim_with(pipeline("pl_url"));
    let env = datalab_env(&sim, "pl_url");
    let out = run(&env, &[]);
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
fn file_and_file_url_together_or_neither_are_input_errors() {
    let sim = sim_with(pipeline("pl_url"));
    let dir = Scratch::new("dl-both");
    std::fs::write(dir.path("doc.pdf"), b"x").unwrap();
    let mut env = datalab_env(&sim, "pl_url");
    set(
        &mut env,
        "INPUT_FILE",
        dir.path("doc.pdf").to_str().unwrap(),
    );
    let out = run(&env, &[]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains(
            "pipeline-run: error: input 'file-url': is given together with `file`; give exactly one.\n"
        ),
        "{}",
        out.stderr
    );
    unset(&mut env, "INPUT_FILE");
    unset(&mut env, "INPUT_FILE-URL");
    let out = run(&env, &[]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains(
            "pipeline-run: error: input 'file': is required: give `file` (a path) or `file-url`.\n"
        ),
        "{}",
        out.stderr
    );
    assert!(sim.requests().is_empty());
}

#[test]
fn result_dir_gets_each_completed_steps_result() {
    let sim = sim_with(
        pipeline("pl_results")
            .fail_step(1, "no tables found")
            .final_status("completed_with_errors"),
    );
    let dir = Scratch::new("dl-results");
    let results = dir.path("out/results");
    let mut env = datalab_env(&sim, "pl_results");
    set(&mut env, "INPUT_RESULT-DIR", results.to_str().unwrap());
    let out = run(&env, &[]);
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
            ("POST", Route::DatalabRun) | ("GET", Route::DatalabExecution) => {}
            other => panic!("unexpected request {other:?}"),
        }
    }
    assert_eq!(sim.requests_to(Route::DatalabRun).len(), 1);
}

#[test]
fn matillion_only_inputs_with_platform_datalab_are_exit_2_before_any_request() {
    let sim = sim_with(pipeline("pl_x"));
    let mut env = datalab_env(&sim, "pl_x");
    set(&mut env, "INPUT_PROJECT", "Demo");
    set(
        &mut env,
        "MATILLION_CLIENT_SECRET",
        "matillion-secret-value",
    );
    set(&mut env, "INPUT_EXECUTION-TAG", "nightly");
    // Not even with its default value: the runner passes no defaults.
    set(&mut env, "INPUT_ON-CONFLICT", "wait");
    let out = run(&env, &[]);
    assert_eq!(out.code, 2, "{out:?}");
    for line in [
        "pipeline-run: error: input 'client-secret': does not apply to platform 'datalab' (set by MATILLION_CLIENT_SECRET); remove it or choose another platform.\n",
        "pipeline-run: error: input 'project': does not apply to platform 'datalab' (set by INPUT_PROJECT); remove it or choose another platform.\n",
        "pipeline-run: error: input 'execution-tag': does not apply to platform 'datalab' (set by INPUT_EXECUTION-TAG); remove it or choose another platform.\n",
        "pipeline-run: error: input 'on-conflict': does not apply to platform 'datalab' (set by INPUT_ON-CONFLICT); remove it or choose another platform.\n",
        "pipeline-run: error: nothing was triggered: fix the input(s) above.\n",
    ] {
        assert!(out.stderr.contains(line), "{line}{}", out.stderr);
    }
    assert!(!out.stderr.contains("matillion-secret-value"));
    assert!(sim.requests().is_empty(), "{:?}", routes(&sim));
}

#[test]
fn datalab_only_inputs_with_platform_matillion_are_exit_2() {
    let mut env = vec![
        (
            "MATILLION_API_URL".to_string(),
            "http://127.0.0.1:9/dpc".to_string(),
        ),
        ("MATILLION_ACCESS_TOKEN".into(), "t".into()),
        ("MATILLION_PROJECT".into(), "Demo".into()),
        ("MATILLION_ENVIRONMENT".into(), "dev".into()),
        ("MATILLION_PIPELINE".into(), "nightly-load".into()),
    ];
    set(&mut env, "INPUT_RESULT-DIR", "out");
    set(&mut env, "DATALAB_API_KEY", KEY);
    let out = run(&env, &[]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains(
        "pipeline-run: error: input 'result-dir': does not apply to platform 'matillion' (set by INPUT_RESULT-DIR); remove it or choose another platform.\n"
    ), "{}", out.stderr);
    assert!(out.stderr.contains(
        "pipeline-run: error: input 'api-key': does not apply to platform 'matillion' (set by DATALAB_API_KEY); remove it or choose another platform.\n"
    ), "{}", out.stderr);
    assert!(!out.stderr.contains(KEY));
}

#[test]
fn a_lost_run_reply_adopts_the_execution_instead_of_running_twice() {
    let sim = sim_with(pipeline("pl_lost"));
    sim.add_fault(Fault::once(Route::DatalabRun, FaultAction::LoseReply));
    let dir = Scratch::new("dl-lost");
    let mut env = datalab_env(&sim, "pl_lost");
    github(&mut env, &dir);
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    let runs = sim.datalab_runs();
    assert_eq!(runs.len(), 1, "ran once");
    assert_eq!(sim.requests_to(Route::DatalabRun).len(), 1);
    assert_eq!(sim.requests_to(Route::DatalabList).len(), 1);
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
fn the_api_key_never_appears_in_any_output() {
    let sim = sim_with(
        pipeline("pl_secret")
            .fail_step(0, "bad")
            .final_status("failed"),
    );
    let dir = Scratch::new("dl-secret");
    let mut env = datalab_env(&sim, "pl_secret");
    github(&mut env, &dir);
    set(
        &mut env,
        "INPUT_RESULT-DIR",
        dir.path("results").to_str().unwrap(),
    );
    set(&mut env, "RUST_LOG", "trace");
    set(&mut env, "RUNNER_DEBUG", "1");
    sim.add_fault(Fault::once(
        Route::DatalabExecution,
        FaultAction::bad_gateway_html(),
    ));
    let out = run(&env, &[]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("pipeline-run: debug: "),
        "debug logging on"
    );

    // A wrong key, refused: the message names the input, not the value.
    let mut bad = datalab_env(&sim, "pl_secret");
    let wrong = "dlk_wrong_9q8w7eSECRETx";
    set(&mut bad, "INPUT_API-KEY", wrong);
    set(&mut bad, "RUST_LOG", "trace");
    let refused = run(&bad, &[]);
    assert_eq!(refused.code, 4, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("Datalab refused the run request: 401"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("check the api-key"),
        "{}",
        refused.stderr
    );

    let mut texts = vec![out.stdout, out.stderr, refused.stdout, refused.stderr];
    for f in [
        "summary.md",
        "output.txt",
        "state.txt",
        "result.json",
        "junit.xml",
        "run.env",
    ] {
        texts.push(dir.read(f));
    }
    for e in std::fs::read_dir(dir.path("results")).unwrap() {
        texts.push(std::fs::read_to_string(e.unwrap().path()).unwrap());
    }
    for t in &texts {
        for secret in [KEY, wrong, "SECRET"] {
            assert!(!t.contains(secret), "{secret} leaked in: {t}");
        }
    }
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
            "pipeline-run: error: result: refused: Datalab has no way to cancel execution pex_0123456789abcdef: the execution continues on Datalab\n"
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
