//! A signal while waiting cancels the Matillion execution: the worker wakes at once and
//! stops, and the clean-up must still send the cancel (regression test).

use crate::common::*;
use pipeline_run_sim::{Route, Scenario, SimConfig};
use std::time::{Duration, Instant};

#[test]
fn sigterm_while_waiting_cancels_the_execution() {
    let sim = start_sim(SimConfig::demo(Scenario::Success).cancel_delay(Duration::ZERO));
    let env = matillion_env(&sim, "Demo", "dev", "slow-load");
    let child = spawn(&env, &[]);
    let start = Instant::now();
    while sim.requests_to(Route::Status).is_empty() && sim.requests_to(Route::Details).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(20), "never polled");
        std::thread::sleep(Duration::from_millis(10));
    }
    signal(&child, "TERM");
    let out = finish(child);
    assert_eq!(out.code, 143, "{out:?}");
    assert_eq!(sim.requests_to(Route::Cancel).len(), 1, "{}", out.stderr);
    let id = sim.executions()[0].id.clone();
    assert!(sim.execution(&id).unwrap().cancel_requested);
    assert!(
        out.stderr.contains(&format!(
            "pipeline-run: warning: cancelling execution {id}\n"
        )),
        "{}",
        out.stderr
    );
}
