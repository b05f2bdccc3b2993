//! The `steps` and `tail` sections: the release binary as a GitHub job against a run of
//! 30,000 steps (300 pages of 100), with every report on: run end → exit, peak memory, the
//! step pages fetched and the connections they used; `tail` adds 50 ms of server latency
//! to every step page. Both with `rate-limit: 60000`, so that the request budget does not
//! pace the pages (at the default 1,000 a minute, 300 pages take 18 s).

use crate::common::{
    Finished, Res, Row, Scratch, github_job, mb, real_sim, row, run_measured, stderr_tail, world,
};
use pipeline_run::platform::pages::IN_FLIGHT;
use pipeline_run_sim::{Fault, FaultAction, Route};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// Steps in the scale run (300 pages of 100).
pub(crate) const BIG_STEPS: usize = 30_000;

/// What the 30,000-step run gave.
struct StepRun {
    /// Run end on the platform → exit.
    since_end: Duration,
    finished: Finished,
    requests: usize,
    distinct_pages: usize,
    connections: usize,
}

/// The release binary as a GitHub job against a run of [`BIG_STEPS`] steps, each step page
/// answered after `latency` (a delay fault on the simulator).
fn step_run(bin: &Path, latency: Duration) -> Res<StepRun> {
    let run = Duration::from_millis(300);
    let mut cfg = world(run, BIG_STEPS);
    if !latency.is_zero() {
        cfg = cfg.fault(Fault::always(Route::Steps, FaultAction::Delay(latency)));
    }
    let sim = real_sim(cfg)?;
    let dir = Scratch::new("steps")?;
    let mut env = github_job(&sim, &dir);
    // The machinery of the pages (several at a time, memory, connections), not the
    // request budget: at the default 1,000 requests a minute, 300 pages take 18 s.
    env.insert("MATILLION_RATE_LIMIT".into(), "60000".into());
    let f = run_measured(bin, &env, &dir)?;
    if f.code != 0 {
        return Err(format!("exit {}:\n{}", f.code, stderr_tail(&dir)));
    }
    let exec = sim
        .executions()
        .into_iter()
        .next()
        .ok_or("no execution was triggered")?;
    let ended = exec.started + run;
    let last_poll = sim
        .requests_to(Route::Status)
        .last()
        .map(|r| r.at)
        .ok_or("no status poll")?;
    let step_reqs = sim.requests_to(Route::Steps);
    let pages: Vec<String> = step_reqs
        .iter()
        .map(|r| {
            r.query_pairs()
                .into_iter()
                .find(|(k, _)| k == "page")
                .map(|(_, v)| v)
                .unwrap_or_default()
        })
        .collect();
    let distinct_pages: BTreeSet<&String> = pages.iter().collect();
    let step_conns: BTreeSet<u64> = step_reqs.iter().map(|r| r.connection).collect();
    let all = sim.requests();
    let junit = std::fs::read_to_string(dir.0.join("junit.xml")).unwrap_or_default();
    let testcases = junit.matches("<testcase").count();
    println!(
        "  {} step requests, {} distinct pages, on {} connection(s); {} connection(s) for all {} requests; JUnit has {testcases} testcases",
        step_reqs.len(),
        distinct_pages.len(),
        step_conns.len(),
        sim.connections(),
        all.len(),
    );
    let since_end = f.exited.saturating_duration_since(ended);
    let since_poll = f.exited.saturating_duration_since(last_poll);
    println!(
        "  run end → exit {:.0} ms (polling every 20 ms, {} ms per step page); last status poll → exit {:.0} ms; peak RSS {:.1} MB ({}){}",
        since_end.as_secs_f64() * 1e3,
        latency.as_millis(),
        since_poll.as_secs_f64() * 1e3,
        mb(f.peak_kib),
        f.peak_how,
        f.cpu
            .map(|c| format!(
                "; CPU (user + system) {:.0} ms for the whole run",
                c.as_secs_f64() * 1e3
            ))
            .unwrap_or_default()
    );
    if testcases != BIG_STEPS {
        return Err(format!(
            "the JUnit report has {testcases} testcases, not {BIG_STEPS}"
        ));
    }
    Ok(StepRun {
        since_end,
        finished: f,
        requests: step_reqs.len(),
        distinct_pages: distinct_pages.len(),
        connections: step_conns.len(),
    })
}

pub(crate) fn steps(rows: &mut Vec<Row>, bin: &Path) -> Res<()> {
    let r = step_run(bin, Duration::ZERO)?;
    row(
        rows,
        "30,000 steps: run end → exit, release binary, loopback",
        format!("{:.0} ms", r.since_end.as_secs_f64() * 1e3),
        "< 2 s".into(),
        r.since_end < Duration::from_secs(2),
    );
    row(
        rows,
        "30,000 steps: peak memory",
        format!("{:.1} MB", mb(r.finished.peak_kib)),
        "< 50 MB".into(),
        r.finished.peak_kib * 1024 < 50_000_000,
    );
    let want_pages = BIG_STEPS.div_ceil(100);
    row(
        rows,
        "30,000 steps: step pages fetched / distinct / connections used",
        format!("{} / {} / {}", r.requests, r.distinct_pages, r.connections),
        format!("{want_pages} / {want_pages} / ≤ {IN_FLIGHT}"),
        r.requests == want_pages && r.distinct_pages == want_pages && r.connections <= IN_FLIGHT,
    );
    Ok(())
}

/// The step tail with server latency: 30,000 steps, each page answered after 50 ms.
pub(crate) fn tail(rows: &mut Vec<Row>, bin: &Path) -> Res<()> {
    let latency = Duration::from_millis(50);
    let r = step_run(bin, latency)?;
    let one_by_one = latency * BIG_STEPS.div_ceil(100) as u32;
    println!(
        "  one page at a time, the pages alone would take {:.1} s; {IN_FLIGHT} in flight: {:.1} s",
        one_by_one.as_secs_f64(),
        (latency * BIG_STEPS.div_ceil(100 * IN_FLIGHT) as u32).as_secs_f64()
    );
    row(
        rows,
        "30,000 steps, 50 ms per step page: run end → exit",
        format!("{:.2} s", r.since_end.as_secs_f64()),
        "< 2 s".into(),
        r.since_end < Duration::from_secs(2),
    );
    Ok(())
}
