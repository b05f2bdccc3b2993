//! Live progress and this run against its history, with the real binary against the
//! simulator: steps that end are logged while the run goes on (a failed one with its
//! message, before the run's end), a run that lists no steps until its end is normal,
//! `progress: false` reads no steps while waiting, the looks stay within their cadence,
//! and the run is compared with its past successful runs in the log, summary and JSON.

use crate::common::*;
use pipeline_run::progress::EVERY_POLLS;
use pipeline_run_sim::{
    Environment, Project, PublishedPipeline, Route, RunScript, SeedExecution, SimConfig, SimHandle,
};
use std::time::Duration;

fn world(script: RunScript) -> SimConfig {
    SimConfig::new().project(
        Project::new("5d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6", "Analytics")
            .environment(Environment::new("prod").pipeline(PublishedPipeline::new("load", script))),
    )
}

fn env_for(sim: &SimHandle) -> Vec<(String, String)> {
    matillion_env(sim, "Analytics", "prod", "load")
}

/// Where `needle` first starts in `log`, or a failure that shows the log.
fn at(log: &str, needle: &str) -> usize {
    log.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the log:\n{log}"))
}

/// Step requests sent before the details (which the final report reads first): the looks
/// while the run went on.
fn looks_while_running(sim: &SimHandle) -> usize {
    let details = sim
        .requests_to(Route::Details)
        .first()
        .map(|r| r.id)
        .unwrap_or(u64::MAX);
    sim.requests_to(Route::Steps)
        .iter()
        .filter(|r| r.id < details)
        .count()
}

#[test]
fn steps_are_logged_as_they_end_and_a_failed_one_with_its_message_at_once() {
    // 10 steps of 250 ms; the third fails. At 50 ms polls, a look every 600 ms.
    let script = RunScript::failure(Duration::from_millis(2500), 10, 2, "table\nmissing")
        .step_name(0, "::error::pwned\n::warning::x");
    let sim = start_sim(world(script));
    let out = run(&env_for(&sim), &[]);
    assert_eq!(out.code, 1, "{out:?}");
    let log = &out.stderr;
    let end = at(log, "pipeline-run: status: FAILED\n");
    let first = at(
        log,
        "pipeline-run: step '::error::pwned ::warning::x' ended SUCCESS in 0.2s\n",
    );
    let failed = at(
        log,
        "pipeline-run: warning: step 'Step 3' ended FAILED in 0.2s: table missing\n",
    );
    assert!(first < failed && failed < end, "{log}");
    // Seen while running, so said before the end; once each.
    assert_eq!(log.matches("step 'Step 3' ended").count(), 1, "{log}");
    assert!(
        log.matches(" ended SUCCESS").count() >= 3,
        "several steps seen while running: {log}"
    );
    // Remote text stays on the log's own lines: nothing starts a workflow command.
    assert!(log.lines().all(|l| !l.starts_with("::")), "{log}");
    // The final list still has every step.
    assert!(
        out.stdout.contains("Steps (10, 1 failed)"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_run_that_lists_no_steps_until_its_end_is_normal() {
    let sim = start_sim(world(
        RunScript::new(Duration::from_millis(1500), 4).steps_only_at_end(),
    ));
    let out = run(&env_for(&sim), &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(looks_while_running(&sim) >= 1, "it looked while running");
    assert!(!out.stderr.contains("ended SUCCESS"), "{}", out.stderr);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    assert!(out.stdout.contains("Steps (4, 0 failed)"), "{}", out.stdout);
}

#[test]
fn progress_false_reads_no_steps_while_waiting_and_looks_keep_their_cadence() {
    let script = || RunScript::new(Duration::from_millis(2000), 250);
    let on = start_sim(world(script()));
    let off = start_sim(world(script()));
    let mut off_env = env_for(&off);
    set(&mut off_env, "MATILLION_PROGRESS", "false");
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| run(&env_for(&on), &[]));
        let b = s.spawn(|| run(&off_env, &[]));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!((a.code, b.code), (0, 0), "{a:?}\n{b:?}");
    assert_eq!(looks_while_running(&off), 0);
    assert!(!b.stderr.contains(" ended SUCCESS"), "{}", b.stderr);

    // With progress: at most a look every EVERY_POLLS status polls (plus one), each
    // reading the pages not complete yet (3 pages of 100 steps at most).
    let polls = on.requests_to(Route::Status).len();
    let looks = looks_while_running(&on);
    assert!(looks >= 1, "{}", a.stderr);
    let budget = (polls / EVERY_POLLS as usize + 1) * 3;
    assert!(looks <= budget, "{looks} step pages for {polls} polls");
    // Complete pages read while running are not read again at the end: the tail reads
    // fewer pages than the three the list has.
    let tail = on.requests_to(Route::Steps).len() - looks;
    let total_off = off.requests_to(Route::Steps).len();
    assert_eq!(total_off, 3);
    assert!(tail < 3, "tail of {tail} pages:\n{}", a.stderr);
    println!(
        "requests with progress: {} ({polls} status, {looks} step pages while running, {tail} after); without: {} ({} status, {total_off} step pages)",
        on.requests().len(),
        off.requests().len(),
        off.requests_to(Route::Status).len()
    );
}

#[test]
fn the_run_is_compared_with_its_past_successful_runs() {
    let scratch = Scratch::new("history");
    let sim = start_sim(world(RunScript::new(Duration::from_millis(500), 2)));
    let hour = Duration::from_secs(3600);
    for i in 1..=6 {
        sim.add_running_execution(
            SeedExecution::new("load", "prod").finished(Duration::from_secs(1), hour * i),
        );
    }
    // A failed past run does not count.
    sim.add_running_execution(
        SeedExecution::new("load", "prod")
            .script(RunScript::failure(Duration::from_millis(100), 2, 0, "x"))
            .running_for(hour * 10),
    );
    let mut env = env_for(&sim);
    set(&mut env, "GITHUB_ACTIONS", "true");
    set(
        &mut env,
        "GITHUB_STEP_SUMMARY",
        scratch.path("summary.md").display().to_string(),
    );
    set(
        &mut env,
        "MATILLION_RESULT_FILE",
        scratch.path("result.json").display().to_string(),
    );
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    let against = "50% shorter than the median of the last 6 successful runs (1s)";
    assert!(
        out.stderr
            .contains(&format!("pipeline-run: took 0.5s — {against}\n")),
        "{}",
        out.stderr
    );
    let summary = scratch.read("summary.md");
    assert!(
        summary.contains(&format!("| Against past runs | {against} |")),
        "{summary}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&scratch.read("result.json")).expect("result JSON");
    assert_eq!(
        doc["history"],
        serde_json::json!({"successful_runs": 6, "median_seconds": 1.0, "change_percent": -50})
    );

    // Too few to compare: said, and nothing made up.
    let sim = start_sim(world(RunScript::new(Duration::from_millis(300), 2)));
    for i in 1..=3 {
        sim.add_running_execution(
            SeedExecution::new("load", "prod").finished(Duration::from_secs(1), hour * i),
        );
    }
    let out = run(&env_for(&sim), &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains(
            "pipeline-run: took 0.3s — not compared: 3 successful past runs, at least 5 needed\n"
        ),
        "{}",
        out.stderr
    );
}
