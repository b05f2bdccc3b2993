//! `fleet`: 20 pipelines of one minute at once, in one step, against the simulator on
//! real time sped up 10 times (`ScaledTime`), so a minute of the platform's time passes
//! in 6 s. The binary's intervals and request budget are scaled the same way
//! (`poll-interval` 500 ms, `max-poll-interval` 3 s, `rate-limit` 10,000: the defaults
//! ÷ 10, × 10), and no past runs are seeded, so its polls
//! per run are those of the defaults on a real minute. Measured: requests per pipeline
//! (beside one pipeline alone on the same settings), peak memory and peak threads of the
//! release binary, and the connections it opened.

use crate::common::{Res, Row, Scratch, inputs, mb, row, status_kib, stderr_tail};
use pipeline_run_sim::{
    Environment, Project, PublishedPipeline, Route, RunScript, ScaledTime, SimConfig, SimHandle,
    Simulator,
};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Pipelines run at once.
const PIPELINES: usize = 20;
/// Real time runs this much faster in the simulator.
const SPEED: f64 = 10.0;
/// Each run's length, in the platform's time.
const RUN: Duration = Duration::from_secs(60);

fn world() -> SimConfig {
    let mut env = Environment::new("prod");
    for i in 0..PIPELINES {
        env = env.pipeline(PublishedPipeline::new(
            &format!("load-{i:02}"),
            RunScript::new(RUN, 12),
        ));
    }
    SimConfig::new().project(Project::new("p-bench", "Bench").environment(env))
}

/// What one run of the binary gave.
struct Sampled {
    code: i32,
    wall: Duration,
    peak_kib: u64,
    peak_threads: u64,
}

/// Run `bin` with `env`, sampling its `VmHWM` and `Threads` every millisecond.
fn run_sampled(bin: &Path, env: &HashMap<String, String>, dir: &Scratch) -> Res<Sampled> {
    let started = Instant::now();
    let mut child = crate::common::quiet(&mut Command::new(bin), env, dir)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let path = format!("/proc/{}/status", child.id());
    let (mut peak_kib, mut peak_threads) = (0, 0);
    let code = loop {
        if let Ok(status) = std::fs::read_to_string(&path) {
            peak_kib = peak_kib.max(status_kib(&status, "VmHWM:").unwrap_or(0));
            let threads = status
                .lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0);
            peak_threads = peak_threads.max(threads);
        }
        match child.try_wait().map_err(|e| format!("wait: {e}"))? {
            Some(s) => break s.code().unwrap_or(-1),
            None => std::thread::sleep(Duration::from_millis(1)),
        }
    };
    Ok(Sampled {
        code,
        wall: started.elapsed(),
        peak_kib,
        peak_threads,
    })
}

/// The requests the simulator received, by route.
fn by_route(sim: &SimHandle) -> Vec<(Route, usize)> {
    let mut out: Vec<(Route, usize)> = Vec::new();
    for r in sim.requests() {
        match out.iter_mut().find(|(route, _)| *route == r.route) {
            Some((_, n)) => *n += 1,
            None => out.push((r.route, 1)),
        }
    }
    out
}

/// One step with `pipelines` (one name a line) on the sped-up simulator.
fn step(bin: &Path, pipelines: &str) -> Res<(Sampled, SimHandle)> {
    let sim = Simulator::start(world(), ScaledTime::new(SPEED))
        .map_err(|e| format!("cannot start the simulator: {e}"))?;
    let dir = Scratch::new("fleet")?;
    let env = inputs(
        &sim,
        &[
            ("MATILLION_PIPELINE", pipelines),
            ("MATILLION_MAX_PARALLEL", &PIPELINES.to_string()),
            ("MATILLION_POLL_INTERVAL", "500ms"),
            ("MATILLION_MAX_POLL_INTERVAL", "3s"),
            // The default request budget (1,000 a minute) on time sped up 10 times.
            ("MATILLION_RATE_LIMIT", "10000"),
            ("MATILLION_TIMEOUT", "2m"),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", &dir.path("summary.md")),
            ("GITHUB_OUTPUT", &dir.path("output")),
            ("MATILLION_JUNIT_FILE", &dir.path("junit.xml")),
            ("MATILLION_RESULT_FILE", &dir.path("result.json")),
        ],
    );
    let s = run_sampled(bin, &env, &dir)?;
    if s.code != 0 {
        return Err(format!("exit {}:\n{}", s.code, stderr_tail(&dir)));
    }
    Ok((s, sim))
}

pub fn fleet(rows: &mut Vec<Row>, bin: &Path) -> Res<()> {
    let names: Vec<String> = (0..PIPELINES).map(|i| format!("load-{i:02}")).collect();
    let (alone, alone_sim) = step(bin, &names[0])?;
    let alone_requests = alone_sim.requests().len();
    let (s, sim) = step(bin, &names.join("\n"))?;
    let total = sim.requests().len();
    let per = total as f64 / PIPELINES as f64;
    let routes: Vec<String> = by_route(&sim)
        .iter()
        .map(|(r, n)| format!("{r:?} {n}"))
        .collect();
    println!(
        "  {PIPELINES} pipelines of {}s (platform time, ×{SPEED} faster): {total} requests, {per:.1} per pipeline ({})",
        RUN.as_secs(),
        routes.join(", ")
    );
    println!(
        "  one pipeline alone: {alone_requests} requests; peak RSS {:.1} MB, {} threads",
        mb(alone.peak_kib),
        alone.peak_threads
    );
    println!(
        "  {PIPELINES} at once: wall {:.1} s, peak RSS {:.1} MB (sampled VmHWM), peak {} threads, {} connections",
        s.wall.as_secs_f64(),
        mb(s.peak_kib),
        s.peak_threads,
        sim.connections()
    );
    row(
        rows,
        "20 pipelines of 1 min at once: requests per pipeline (one alone)",
        format!("{per:.1} ({alone_requests})"),
        "≤ one alone".into(),
        per <= alone_requests as f64,
    );
    row(
        rows,
        "20 pipelines at once: token requests / project lookups",
        format!(
            "{} / {}",
            sim.requests_to(Route::Token).len(),
            sim.requests_to(Route::Projects).len()
        ),
        "1 / 1".into(),
        sim.requests_to(Route::Token).len() == 1 && sim.requests_to(Route::Projects).len() == 1,
    );
    row(
        rows,
        "20 pipelines at once: peak memory",
        format!("{:.1} MB", mb(s.peak_kib)),
        "< 30 MB".into(),
        s.peak_kib * 1024 < 30_000_000,
    );
    row(
        rows,
        "20 pipelines at once: peak threads",
        s.peak_threads.to_string(),
        format!(
            "≤ {} (a worker each, main, signals, and the HTTP library's short-lived name resolver, one per connection being opened)",
            2 * PIPELINES + 2
        ),
        s.peak_threads <= (2 * PIPELINES + 2) as u64,
    );
    Ok(())
}
