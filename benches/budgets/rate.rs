//! `rate`: several pipelines within the platform's rate limit. The release binary runs N
//! pipelines at once against the simulator enforcing a limit, with the shared poll (one
//! look at the list of executions for every run going, `run::board`) and, side by side on
//! a simulator of its own, with today's per-run polling (the internal
//! `PIPELINE_RUN_PER_RUN_POLLS=1`: every run polls its own status and reads its own past
//! runs). Measured from the simulator's log: requests, rejected requests (`429`), requests
//! a minute, the detection latency of every run (from its end on the platform to the first
//! status read that saw it), and the step's exit after the last run ended.
//!
//! - 12 pipelines of 60–100 s against a limit of 60 a minute (bursts of 5), with
//!   `rate-limit: 60` and without it (the default), on the real clock: the limit's
//!   `Retry-After` is in the platform's seconds, which the binary waits in its own.
//! - 50 pipelines of 2–10 minutes at the default limit, on time sped up 10 times
//!   (`ScaledTime`; the binary's intervals and fixed durations divided by 10), beside one
//!   pipeline of 6 minutes alone.
//! - One pipeline alone, a first run (no history) of 45–62 s: the production path on
//!   simulated time (`polling::simulated_run`), against a fixed 5 s poller.
//!
//! Latencies and delays are in the platform's time; on sped-up time, the binary's own
//! work between two requests counts 10 times. `RATE_BENCH_KEEP=<dir>` keeps each step's
//! log there (`<pipelines>-<rate-limit>-<per run>.log`).

use crate::common::{Res, Row, Scratch, inputs, row, stderr_tail};
use crate::polling::{fixed_requests, simulated_run};
use pipeline_run_sim::{
    Environment, Project, PublishedPipeline, Route, RunScript, ScaledTime, SimConfig, SimHandle,
    SimTime, Simulator,
};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The default `poll-interval` and `max-poll-interval`, in the platform's time.
const POLL: Duration = Duration::from_secs(5);
const MAX_POLL: Duration = Duration::from_secs(30);

/// Matillion's documented limit, the default `rate-limit`.
const DEFAULT_RATE_LIMIT: u32 = 1000;

/// First runs measured alone, of lengths evenly from 45 to 62 s.
const FIRST_RUNS: usize = 40;

/// One step to measure.
#[derive(Clone)]
struct Spec {
    /// Each pipeline's run, in the platform's time.
    lengths: Vec<Duration>,
    /// Real time runs this much faster in the simulator.
    speed: f64,
    /// The limit the simulator enforces: requests a minute and the burst.
    limit: Option<(u32, u32)>,
    /// The `rate-limit` input (requests a minute of the platform's time).
    rate_limit: Option<u32>,
    /// Today's per-run polling.
    per_run: bool,
}

/// What one step gave.
struct Measured {
    code: i32,
    requests: usize,
    rejected: usize,
    per_min: f64,
    mean: Duration,
    max: Duration,
    exit_delay: Duration,
    routes: String,
}

/// `n` lengths evenly from `lo` to `hi`.
fn spread(n: usize, lo: u64, hi: u64) -> Vec<Duration> {
    (0..n)
        .map(|i| {
            let f = if n > 1 {
                i as f64 / (n - 1) as f64
            } else {
                0.5
            };
            Duration::from_secs_f64(lo as f64 + f * (hi - lo) as f64)
        })
        .collect()
}

fn name(i: usize) -> String {
    format!("load-{i:02}")
}

fn world(spec: &Spec) -> SimConfig {
    let mut env = Environment::new("prod");
    for (i, d) in spec.lengths.iter().enumerate() {
        env = env.pipeline(PublishedPipeline::new(&name(i), RunScript::new(*d, 12)));
    }
    let cfg = SimConfig::new().project(Project::new("p-bench", "Bench").environment(env));
    match spec.limit {
        Some((per_minute, burst)) => with_limit(cfg, per_minute, burst),
        None => cfg,
    }
}

/// The simulator's rate limit.
fn with_limit(cfg: SimConfig, per_minute: u32, burst: u32) -> SimConfig {
    cfg.rate_limit(per_minute, burst)
}

/// A duration in the binary's time: the platform's divided by the speed.
fn scaled(d: Duration, speed: f64) -> String {
    format!(
        "{}ms",
        (d.as_secs_f64() * 1000.0 / speed).round().max(1.0) as u64
    )
}

/// Run the step `spec` describes; what the simulator saw.
fn step(bin: &Path, spec: &Spec) -> Res<Measured> {
    let clock = ScaledTime::new(spec.speed);
    let time: Arc<dyn SimTime> = clock.clone();
    let sim = Simulator::start(world(spec), time)
        .map_err(|e| format!("cannot start the simulator: {e}"))?;
    let dir = Scratch::new("rate")?;
    let names: Vec<String> = (0..spec.lengths.len()).map(name).collect();
    let longest = spec.lengths.iter().max().copied().unwrap_or_default();
    let mut extra: Vec<(String, String)> = vec![
        ("MATILLION_PIPELINE".into(), names.join("\n")),
        (
            "MATILLION_MAX_PARALLEL".into(),
            names.len().min(50).to_string(),
        ),
        ("MATILLION_POLL_INTERVAL".into(), scaled(POLL, spec.speed)),
        (
            "MATILLION_MAX_POLL_INTERVAL".into(),
            scaled(MAX_POLL, spec.speed),
        ),
        ("MATILLION_TIMEOUT".into(), scaled(longest * 3, spec.speed)),
        ("MATILLION_RESULT_FILE".into(), dir.path("result.json")),
    ];
    if spec.speed >= 2.0 {
        extra.push((
            "PIPELINE_RUN_TEST_TIMINGS".into(),
            format!("{}", spec.speed as u32),
        ));
    }
    // On sped-up time, the budget too: the default (1,000 a minute) or the one given.
    if spec.rate_limit.is_some() || spec.speed > 1.0 {
        let r = spec.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT);
        let per_min = (f64::from(r) * spec.speed).round() as u64;
        extra.push(("MATILLION_RATE_LIMIT".into(), per_min.to_string()));
    }
    if spec.per_run {
        extra.push(("PIPELINE_RUN_PER_RUN_POLLS".into(), "1".into()));
    }
    let pairs: Vec<(&str, &str)> = extra
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let env = inputs(&sim, &pairs);
    let code = run(bin, &env, &dir)?;
    let exited = clock.now();
    if let Ok(keep) = std::env::var("RATE_BENCH_KEEP") {
        let tag = format!(
            "{}-{}-{}",
            spec.lengths.len(),
            spec.rate_limit.unwrap_or(0),
            spec.per_run
        );
        let _ = std::fs::copy(dir.path("stderr"), format!("{keep}/{tag}.log"));
    }
    if code != 0 {
        return Err(format!("exit {code}:\n{}", stderr_tail(&dir)));
    }
    measure(&sim, spec, exited, code)
}

/// Run `bin` with exactly `env` (plus PATH); its exit code.
fn run(bin: &Path, env: &HashMap<String, String>, dir: &Scratch) -> Res<i32> {
    let status = crate::common::quiet(&mut Command::new(bin), env, dir)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    Ok(status.code().unwrap_or(-1))
}

/// The figures of a step from the simulator's log; `exited` is the platform's time when
/// the binary exited.
fn measure(sim: &SimHandle, spec: &Spec, exited: Instant, code: i32) -> Res<Measured> {
    let reqs = sim.requests();
    let status = sim.requests_to(Route::Status);
    let mut latencies = Vec::new();
    let mut last_end: Option<Instant> = None;
    for e in sim.executions().iter().filter(|e| e.trigger == "API") {
        let i: usize = e
            .pipeline
            .strip_prefix("load-")
            .and_then(|n| n.parse().ok())
            .ok_or("an execution of an unknown pipeline")?;
        let end = e.started + spec.lengths[i];
        last_end = Some(last_end.map_or(end, |l| l.max(end)));
        let seen = status
            .iter()
            .filter(|r| r.path.contains(&e.id) && r.status == Some(200) && r.at >= end)
            .map(|r| r.at)
            .min()
            .ok_or_else(|| format!("no status read saw {} end", e.pipeline))?;
        latencies.push(seen - end);
    }
    if latencies.len() != spec.lengths.len() {
        return Err(format!(
            "{} runs of {}",
            latencies.len(),
            spec.lengths.len()
        ));
    }
    let span = match (reqs.first(), reqs.last()) {
        (Some(a), Some(b)) => (b.at - a.at).as_secs_f64() / 60.0,
        _ => 0.0,
    };
    let mut routes: Vec<(Route, usize)> = Vec::new();
    for r in &reqs {
        match routes.iter_mut().find(|(route, _)| *route == r.route) {
            Some((_, n)) => *n += 1,
            None => routes.push((r.route, 1)),
        }
    }
    Ok(Measured {
        code,
        requests: reqs.len(),
        rejected: reqs.iter().filter(|r| r.status == Some(429)).count(),
        per_min: reqs.len() as f64 / span.max(1e-9),
        mean: latencies.iter().sum::<Duration>() / latencies.len() as u32,
        max: latencies.iter().max().copied().unwrap_or_default(),
        exit_delay: last_end
            .map(|l| exited.saturating_duration_since(l))
            .unwrap_or_default(),
        routes: routes
            .iter()
            .map(|(r, n)| format!("{r:?} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
    })
}

fn print(label: &str, m: &Measured) {
    println!(
        "  {label:<34} | {:>5} | {:>5} ({:>4.1}%) | {:>7.1} | {:>6.2} s / {:>5.1} s | {:>6.1} s | exit {}",
        m.requests,
        m.rejected,
        100.0 * m.rejected as f64 / m.requests.max(1) as f64,
        m.per_min,
        m.mean.as_secs_f64(),
        m.max.as_secs_f64(),
        m.exit_delay.as_secs_f64(),
        m.code
    );
    println!("  {:<34}   {}", "", m.routes);
}

/// Every step of the section, all at once (each on its own simulator).
fn all(bin: &Path) -> Res<Vec<(String, Measured)>> {
    let twelve = spread(12, 60, 100);
    let fifty = spread(50, 120, 600);
    let mut specs: Vec<(String, Spec)> = Vec::new();
    for (limited, rate) in [("rate-limit: 60", Some(60)), ("default rate-limit", None)] {
        for per_run in [false, true] {
            let how = if per_run { "per run" } else { "shared" };
            specs.push((
                format!("12 × 60–100 s, 60/min, {limited}, {how}"),
                Spec {
                    lengths: twelve.clone(),
                    speed: 1.0,
                    limit: Some((60, 5)),
                    rate_limit: rate,
                    per_run,
                },
            ));
        }
    }
    for per_run in [false, true] {
        let how = if per_run { "per run" } else { "shared" };
        specs.push((
            format!("50 × 2–10 min, 1000/min, {how}"),
            Spec {
                lengths: fifty.clone(),
                speed: 10.0,
                limit: Some((1000, 20)),
                rate_limit: None,
                per_run,
            },
        ));
    }
    specs.push((
        "1 × 6 min alone, 1000/min".into(),
        Spec {
            lengths: vec![Duration::from_secs(360)],
            speed: 10.0,
            limit: Some((1000, 20)),
            rate_limit: None,
            per_run: false,
        },
    ));
    let results: Vec<Res<(String, Measured)>> = std::thread::scope(|s| {
        let handles: Vec<_> = specs
            .iter()
            .map(|(label, spec)| s.spawn(move || step(bin, spec).map(|m| (label.clone(), m))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a step panicked".into())))
            .collect()
    });
    results.into_iter().collect()
}

pub(crate) fn rate(rows: &mut Vec<Row>, bin: &Path) -> Res<()> {
    println!(
        "  {:<34} | {:>5} | {:>13} | {:>7} | {:>17} | {:>8} |",
        "step", "requests", "rejected", "req/min", "latency mean / max", "exit after last end"
    );
    let measured = all(bin)?;
    for (label, m) in &measured {
        print(label, m);
    }
    let get = |prefix: &str| -> Res<&Measured> {
        measured
            .iter()
            .find(|(l, _)| l.starts_with(prefix))
            .map(|(_, m)| m)
            .ok_or_else(|| format!("no step {prefix}"))
    };
    let limited = get("12 × 60–100 s, 60/min, rate-limit: 60, shared")?;
    row(
        rows,
        "12 pipelines of 60–100 s, limit 60/min, rate-limit: 60: rejected / mean latency",
        format!("{} / {:.2} s", limited.rejected, limited.mean.as_secs_f64()),
        "0 / ≤ 5 s".into(),
        limited.rejected == 0 && limited.mean <= Duration::from_secs(5),
    );
    let default = get("12 × 60–100 s, 60/min, default rate-limit, shared")?;
    let share = default.rejected as f64 / default.requests.max(1) as f64;
    row(
        rows,
        "the same without rate-limit: rejected share, exit",
        format!("{:.1}%, exit {}", 100.0 * share, default.code),
        "≤ 10%, exit 0".into(),
        share <= 0.10 && default.code == 0,
    );
    let fifty = get("50 × 2–10 min, 1000/min, shared")?;
    let alone = get("1 × 6 min alone")?;
    let ratio = fifty.requests as f64 / 50.0 / alone.requests.max(1) as f64;
    row(
        rows,
        "50 pipelines of 2–10 min, default limit: rejected / requests per pipeline × one alone / mean latency",
        format!(
            "{} / {ratio:.2} ({:.1} vs {}) / {:.2} s",
            fifty.rejected,
            fifty.requests as f64 / 50.0,
            alone.requests,
            fifty.mean.as_secs_f64()
        ),
        "0 / ≤ 0.3 / ≤ 2.5 s".into(),
        fifty.rejected == 0 && ratio <= 0.3 && fifty.mean <= Duration::from_millis(2500),
    );
    first_run(rows)
}

/// One pipeline alone, a first run (no history) of 45–62 s, on simulated time: its mean
/// detection latency, and its requests against a fixed 5 s poller's.
fn first_run(rows: &mut Vec<Row>) -> Res<()> {
    let lengths = spread(FIRST_RUNS, 45, 62);
    let (mut requests, mut fixed, mut latency) = (0.0, 0.0, Duration::ZERO);
    for (i, d) in lengths.iter().enumerate() {
        let p = simulated_run(*d, None, true, 0xf1_257 + i as u64)?;
        requests += (p.status_requests + p.list_requests + p.step_looks) as f64;
        fixed += fixed_requests(*d, POLL);
        latency += p.latency;
    }
    let mean = latency / lengths.len() as u32;
    println!(
        "  one pipeline alone, first runs of 45–62 s ({FIRST_RUNS}, simulated time): mean latency {:.2} s, requests {requests:.0} (lookup + status + step looks) against a fixed 5 s poller's {fixed:.0}",
        mean.as_secs_f64()
    );
    row(
        rows,
        "one pipeline alone, a first run of 45–62 s: mean latency / requests × a fixed 5 s poller's",
        format!("{:.2} s / {:.2}", mean.as_secs_f64(), requests / fixed),
        "≤ 3.0 s / ≤ 1.15".into(),
        mean <= Duration::from_secs(3) && requests / fixed <= 1.15,
    );
    Ok(())
}
