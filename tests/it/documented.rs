//! Every documented value is reachable: each `outcome` the outputs table lists
//! (docs/outputs.md), and each code of the README's exit-code table, is produced by the real binary against the
//! simulator in one scenario below. A value documented but never produced (or produced
//! but not documented) fails here.

use crate::common::*;
use pipeline_run_sim::{Environment, Project, PublishedPipeline, RunScript, SimConfig, SimHandle};
use std::collections::BTreeSet;
use std::time::Duration;

const README: &str = include_str!("../../README.md");
const OUTPUTS: &str = include_str!("../../docs/outputs.md");

/// The outcomes the outputs table lists (row `| \`outcome\` | ... |`).
fn documented_outcomes() -> BTreeSet<String> {
    let row = OUTPUTS
        .lines()
        .find(|l| l.starts_with("| `outcome` |"))
        .expect("docs/outputs.md documents the outcome output");
    let values = row.split('|').nth(2).expect("a values column");
    values
        .split('`')
        .skip(1)
        .step_by(2)
        .map(String::from)
        .collect()
}

/// The codes of the README's exit-code table.
fn documented_exit_codes() -> BTreeSet<i32> {
    let section = README
        .split("## Exit codes")
        .nth(1)
        .expect("README has an exit-code section");
    section
        .lines()
        .skip_while(|l| !l.starts_with("|---"))
        .skip(1)
        .map_while(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(' ').next()?.parse().ok())
        .collect()
}

/// A cancelled run stops 100 ms after the request (within every follow of it).
fn sim() -> SimHandle {
    start_sim(
        SimConfig::new()
            .cancel_delay(Duration::from_millis(100))
            .project(
                Project::new("4d5e6f70-8192-4a3b-9c4d-5e6f70819203", "Analytics").environment(
                    Environment::new("prod")
                        .pipeline(PublishedPipeline::new(
                            "quick",
                            RunScript::new(Duration::from_millis(200), 2),
                        ))
                        .pipeline(PublishedPipeline::new(
                            "broken",
                            RunScript::failure(Duration::from_millis(200), 2, 1, "boom"),
                        ))
                        .pipeline(PublishedPipeline::new(
                            "slow",
                            RunScript::new(Duration::from_secs(600), 2),
                        )),
                ),
            ),
    )
}

/// A GitHub job's environment for `pipeline`, with its outputs file in `dir`.
fn job(sim: &SimHandle, dir: &Scratch, pipeline: &str) -> Vec<(String, String)> {
    let mut env = matillion_env(sim, "Analytics", "prod", pipeline);
    set(&mut env, "GITHUB_ACTIONS", "true");
    std::fs::write(dir.path("out"), "").expect("outputs file");
    set(
        &mut env,
        "GITHUB_OUTPUT",
        dir.path("out").display().to_string(),
    );
    env
}

/// The `outcome` output of the finished step, and its exit code.
fn reached(dir: &Scratch, out: &Output) -> (Option<String>, i32) {
    (
        output(&parse_outputs(&dir.read("out")), "outcome"),
        out.code,
    )
}

/// Run the binary once for `pipeline` with `extra` inputs; what it concluded.
fn scenario(
    sim: &SimHandle,
    pipeline: &str,
    extra: &[(&str, &str)],
    args: &[&str],
) -> (Option<String>, i32) {
    let dir = Scratch::new("documented");
    let mut env = job(sim, &dir, pipeline);
    for (k, v) in extra {
        set(&mut env, k, *v);
    }
    let out = run(&env, args);
    reached(&dir, &out)
}

/// Interrupt a run of 'slow' with `sig` once it is waiting; what it concluded.
fn interrupted(sim: &SimHandle, sig: &str) -> (Option<String>, i32) {
    let dir = Scratch::new("documented-signal");
    let mut env = job(sim, &dir, "slow");
    std::fs::write(dir.path("state"), "").expect("state file");
    set(
        &mut env,
        "GITHUB_STATE",
        dir.path("state").display().to_string(),
    );
    let child = spawn(&env, &[]);
    wait_for("the run to be triggered", || {
        dir.read("state").contains("execution_id")
    });
    signal(&child, sig);
    let out = finish(child);
    reached(&dir, &out)
}

#[test]
fn every_documented_outcome_and_exit_code_is_reached() {
    let sim = sim();
    // First the run left going (`wait: false`), which cancel mode then cancels; the others
    // are independent and run side by side.
    let triggered = scenario(&sim, "slow", &[("MATILLION_WAIT", "false")], &[]);
    let left_running = sim.executions().last().map(|e| e.id.clone());
    let left_running = left_running.expect("the `wait: false` run");
    let scheduled = sim.start_scheduled("prod", "slow").expect("published");
    let sim = &sim;
    let seen: Vec<(Option<String>, i32)> = std::thread::scope(|s| {
        let runs = [
            s.spawn(|| scenario(sim, "quick", &[], &[])),
            s.spawn(|| scenario(sim, "broken", &[], &[])),
            s.spawn(|| scenario(sim, "quick", &[("MATILLION_TIMEOUT", "nonsense")], &[])),
            s.spawn(|| scenario(sim, "slow", &[("MATILLION_TIMEOUT", "1s")], &[])),
            s.spawn(|| scenario(sim, "missing", &[], &[])),
            s.spawn(move || triggered),
            s.spawn(|| scenario(sim, "quick", &[("MATILLION_DRY_RUN", "true")], &[])),
            s.spawn(|| {
                let id = [("MATILLION_EXECUTION_ID", left_running.as_str())];
                scenario(sim, "slow", &id, &["cancel"])
            }),
            s.spawn(|| interrupted(sim, "INT")),
            s.spawn(|| interrupted(sim, "TERM")),
            s.spawn(|| {
                let id = [("MATILLION_EXECUTION_ID", scheduled.as_str())];
                scenario(sim, "slow", &id, &["status"])
            }),
        ];
        runs.into_iter()
            .map(|h| h.join().expect("scenario thread"))
            .collect()
    });

    assert_eq!(
        seen,
        [
            (Some("succeeded".into()), 0),
            (Some("failed".into()), 1),
            (None, 2),
            (Some("timed-out".into()), 3),
            (Some("refused".into()), 4),
            (Some("triggered".into()), 0),
            (Some("dry-run".into()), 0),
            (Some("cancel-requested".into()), 0),
            (Some("interrupted".into()), 130),
            (Some("interrupted".into()), 143),
            (Some("running".into()), 5),
        ]
        .to_vec()
    );
    let outcomes: BTreeSet<String> = seen.iter().filter_map(|(o, _)| o.clone()).collect();
    assert_eq!(outcomes, documented_outcomes());
    let codes: BTreeSet<i32> = seen.iter().map(|(_, c)| *c).collect();
    assert_eq!(codes, documented_exit_codes());
}
