//! Datalab inputs, end to end: a file and a file URL together (or neither), the inputs of
//! one platform given with the other (exit 2 before any request), and the API key, which
//! never appears in any output. The real binary against the simulator's Datalab mode.

use crate::common::*;
use crate::datalab_common::*;
use pipeline_run_sim::{Fault, FaultAction, Route};

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
fn the_api_key_never_appears_in_any_output() {
    let (sim, clock) = held_with(
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
    let out = ended_once(&clock, &env, &[], TRIGGERED_DATALAB);
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
