//! The `polling` and `e2e` sections: what the polling policy costs in requests and how
//! soon it sees a run end. `polling` runs the production code path on simulated time (an
//! hour-long run in milliseconds), with and without a history of past runs; `e2e` runs the
//! release binary end to end on the real clock, a handful of ~20 s runs side by side.

use crate::common::{Res, Row, inputs, real_sim, row, world};
use crate::sim_time;
use pipeline_run::ci::CiKind;
use pipeline_run::clock::{Clock, SimClock};
use pipeline_run::config;
use pipeline_run::http::Budget;
use pipeline_run::http::Http;
use pipeline_run::model::{Outcome, PlatformKind, RunReport, Step};
use pipeline_run::platform::build;
use pipeline_run::platform::{CancelAck, PastRun, Platform};
use pipeline_run::progress::StepPage;
use pipeline_run::run::worker;
use pipeline_run::timings::Timings;
use pipeline_run::wait::{Failure, RunState, Waiter};
use pipeline_run_sim::{Route, SeedExecution, Simulator};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The default `max-poll-interval`, which the budgets are stated for.
const MAX_POLL: Duration = Duration::from_secs(30);
/// The default `poll-interval`.
const POLL: Duration = Duration::from_secs(5);
/// Simulated runs per median length (each its own length, history and jitter).
const REPEATS: usize = 10;

/// The production platform client, with the wall-clock instant at which each status poll
/// returned noted down: the real work between the poll that sees the end and the end of
/// the run (details, steps) is part of the detection latency, and simulated time does not
/// see it.
struct Observed {
    inner: Arc<dyn Platform>,
    last_status: Mutex<Option<Instant>>,
}

impl Platform for Observed {
    fn kind(&self) -> PlatformKind {
        self.inner.kind()
    }
    fn prepare(&self, budget: Budget, report: &mut RunReport) -> Result<(), Failure> {
        self.inner.prepare(budget, report)
    }
    fn check(&self, budget: Budget) -> Result<Vec<String>, Failure> {
        self.inner.check(budget)
    }
    fn trigger(&self, w: &Waiter<'_>, report: &mut RunReport) -> Result<String, Failure> {
        self.inner.trigger(w, report)
    }
    fn status(&self, id: &str, budget: Budget) -> Result<RunState, Failure> {
        let r = self.inner.status(id, budget);
        *self.last_status.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        r
    }
    fn history(&self, budget: Budget) -> Vec<PastRun> {
        self.inner.history(budget)
    }
    fn collect(&self, id: &str, budget: Budget, report: &mut RunReport) -> Result<(), Failure> {
        self.inner.collect(id, budget, report)
    }
    fn step_page(
        &self,
        id: &str,
        page: usize,
        budget: Budget,
    ) -> Result<Option<StepPage>, Failure> {
        self.inner.step_page(id, page, budget)
    }
    fn steps_come_with_status(&self) -> bool {
        self.inner.steps_come_with_status()
    }
    fn collect_reusing(
        &self,
        id: &str,
        budget: Budget,
        report: &mut RunReport,
        complete: Vec<Vec<Step>>,
    ) -> Result<(), Failure> {
        self.inner.collect_reusing(id, budget, report, complete)
    }
    fn cancel(&self, id: &str, budget: Budget) -> Result<CancelAck, Failure> {
        self.inner.cancel(id, budget)
    }
}

/// What one simulated run cost.
pub(crate) struct Polled {
    pub(crate) status_requests: usize,
    /// Pages of steps read while the run went on (live progress), before the details.
    pub(crate) step_looks: usize,
    /// Lists of executions (the lookup of past runs).
    pub(crate) list_requests: usize,
    /// Simulated time from the run's end on the platform to the end of `worker::run`.
    pub(crate) latency: Duration,
    /// Wall time from the status poll that saw the end to the end of the run.
    tail: Duration,
    /// Every request of the run, by kind, in the order first seen.
    by_route: Vec<(String, usize)>,
}

/// A deterministic generator (SplitMix64) for the runs' durations.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    /// `median × e^(σ·z)`, z standard normal (Box–Muller).
    fn log_normal(&mut self, median: Duration, sigma: f64) -> Duration {
        let (u1, u2) = (self.next_f64().max(1e-12), self.next_f64());
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        median.mul_f64((sigma * z).exp())
    }
}

/// Past runs seeded in the history-aware runs, and their spread.
const PAST_RUNS: usize = 20;
const SPREAD: f64 = 0.1;

/// One run of `duration` through the production path on simulated time; with `history`,
/// the pipeline has [`PAST_RUNS`] past runs around `median` (log-normal, σ [`SPREAD`]).
pub(crate) fn simulated_run(
    duration: Duration,
    history: Option<Duration>,
    progress: bool,
    seed: u64,
) -> Res<Polled> {
    let clock = SimClock::new();
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let sim = Simulator::start(world(duration, 12), sim_time::for_sim(&clock))
        .map_err(|e| format!("cannot start the simulator: {e}"))?;
    if let Some(median) = history {
        let mut rng = Rng(seed ^ 0xa5a5);
        for i in 0..PAST_RUNS {
            let took = rng.log_normal(median, SPREAD);
            let ago = Duration::from_secs(86_400) * (i as u32 + 1);
            sim.add_running_execution(SeedExecution::new("load", "prod").finished(took, ago));
        }
    }
    // The defaults for poll-interval (5s) and max-poll-interval (30s); a timeout that the
    // longest run stays well inside.
    let env = inputs(
        &sim,
        &[
            ("MATILLION_TIMEOUT", "3h"),
            (
                "MATILLION_PROGRESS",
                if progress { "true" } else { "false" },
            ),
        ],
    );
    let lookup = |k: &str| env.get(k).cloned();
    let cfg = config::from_lookup(&lookup).map_err(|e| format!("bad inputs: {e:?}"))?;
    if cfg.max_poll_interval != MAX_POLL || cfg.poll_interval != POLL {
        return Err(format!(
            "the interval defaults are {:?} / {:?}, expected {POLL:?} / {MAX_POLL:?}",
            cfg.poll_interval, cfg.max_poll_interval
        ));
    }
    let platform = Observed {
        inner: build::client(
            &cfg,
            Http::new(dyn_clock.clone()),
            &Timings::DEFAULT,
            CiKind::Plain,
        ),
        last_status: Mutex::new(None),
    };
    // What the binary's worker thread runs (`run::supervise` adds the signal watch and
    // the progress lines, which would print here).
    let report = worker::run_seeded(
        &platform,
        &cfg,
        dyn_clock.as_ref(),
        &Timings::DEFAULT,
        &|_| {},
        seed,
    );
    let finished = Instant::now();
    let done = clock.now();
    if report.outcome != Outcome::Succeeded || report.steps.len() != 12 {
        return Err(format!(
            "the run did not succeed with 12 steps: {:?}",
            report.outcome
        ));
    }
    let exec = sim
        .executions()
        .into_iter()
        .find(|e| e.trigger == "API")
        .ok_or("no execution was triggered")?;
    let ended = exec.started + duration;
    let mut by_route: Vec<(String, usize)> = Vec::new();
    for r in sim.requests() {
        let kind = format!("{:?}", r.route).to_lowercase();
        match by_route.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => by_route.push((kind, 1)),
        }
    }
    let details = sim
        .requests_to(Route::Details)
        .first()
        .map(|r| r.id)
        .unwrap_or(u64::MAX);
    let step_looks = sim
        .requests_to(Route::Steps)
        .iter()
        .filter(|r| r.id < details)
        .count();
    Ok(Polled {
        step_looks,
        by_route,
        status_requests: sim.requests_to(Route::Status).len(),
        list_requests: sim.requests_to(Route::ListExecutions).len(),
        latency: done.saturating_duration_since(ended),
        tail: platform
            .last_status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map(|t| finished.saturating_duration_since(t))
            .ok_or("no status poll")?,
    })
}

/// Status requests a fixed-interval poller spends on a run of `d`: one at the start, then
/// one every `interval` until one sees the end.
pub(crate) fn fixed_requests(d: Duration, interval: Duration) -> f64 {
    1.0 + (d.as_secs_f64() / interval.as_secs_f64().max(0.001)).ceil()
}

pub(crate) fn polling(rows: &mut Vec<Row>) -> Res<()> {
    let durations = [60u64, 600, 3600].map(Duration::from_secs);
    println!(
        "  {REPEATS} runs per median length on simulated time, each of its own length (log-normal, σ {SPREAD});"
    );
    println!(
        "  with history: {PAST_RUNS} past runs of the same distribution; poll-interval 5s, max-poll-interval 30s"
    );
    println!(
        "  requests count the lookup, the status polls and the steps read while the run goes on (progress: true, the default); the same runs with progress: false for comparison"
    );
    println!(
        "  {:>6} | {:>7} | {:>12} | {:>12} | {:>20} | {:>20} | {:>6} | {:>12}",
        "median",
        "history",
        "requests/h",
        "step looks/h",
        "latency mean / max",
        "fixed 5 s: req/h",
        "ratio",
        "no progress"
    );
    let mut seed = 0x5eed_2024_u64;
    let mut summary: Vec<(bool, f64, Duration, Duration, Duration)> = Vec::new();
    for d in durations {
        for with in [true, false] {
            let mut rng = Rng(seed);
            let (mut requests, mut fixed, mut hours) = (0.0, 0.0, 0.0);
            let (mut looks, mut without) = (0.0, 0.0);
            let (mut lat_sum, mut lat_max, mut tail_max) =
                (Duration::ZERO, Duration::ZERO, Duration::ZERO);
            for r in 0..REPEATS {
                seed = seed.wrapping_add(1);
                let run_for = rng.log_normal(d, SPREAD);
                let p = simulated_run(run_for, with.then_some(d), true, seed)?;
                let off = simulated_run(run_for, with.then_some(d), false, seed)?;
                without += (off.status_requests + off.list_requests) as f64;
                looks += p.step_looks as f64;
                if with && r == 0 && d == durations[0] {
                    let total: usize = p.by_route.iter().map(|(_, n)| n).sum();
                    let parts: Vec<String> =
                        p.by_route.iter().map(|(k, n)| format!("{k} {n}")).collect();
                    println!(
                        "  every request of one {:.0} s run with history: {} = {total}",
                        run_for.as_secs_f64(),
                        parts.join(", ")
                    );
                }
                // Every request counts: the lookup of past runs, the status polls, and the
                // steps read while the run goes on.
                requests += (p.status_requests + p.list_requests + p.step_looks) as f64;
                fixed += fixed_requests(run_for, POLL);
                hours += run_for.as_secs_f64() / 3600.0;
                lat_sum += p.latency;
                lat_max = lat_max.max(p.latency);
                tail_max = tail_max.max(p.tail);
            }
            let mean = lat_sum / REPEATS as u32;
            println!(
                "  {:>6} | {:>7} | {:>12.0} | {:>12.0} | {:>8.2} s / {:>6.1} s | {:>20.0} | {:>6.2} | {:>12.2}",
                humantime::format_duration(d).to_string(),
                if with { "20 runs" } else { "none" },
                requests / hours,
                looks / hours,
                mean.as_secs_f64(),
                lat_max.as_secs_f64(),
                fixed / hours,
                requests / fixed,
                without / fixed,
            );
            summary.push((with, requests / fixed, mean, lat_max, tail_max));
        }
    }
    for with in [true, false] {
        let cells: Vec<_> = summary.iter().filter(|c| c.0 == with).collect();
        let ratio = cells.iter().map(|c| c.1).sum::<f64>() / cells.len() as f64;
        let mean = cells.iter().map(|c| c.2).sum::<Duration>() / cells.len() as u32;
        let max = cells.iter().map(|c| c.3).max().unwrap_or_default();
        let tail = cells.iter().map(|c| c.4).max().unwrap_or_default();
        let (what, want_ratio, want_mean) = if with {
            ("20 past runs", 0.5, Duration::from_millis(2500))
        } else {
            ("no history", 1.1, Duration::from_millis(3000))
        };
        row(
            rows,
            &format!(
                "{what}: requests (lookup + status + step looks) × a fixed 5 s poller's, mean of 1 min, 10 min, 1 h"
            ),
            format!("{ratio:.2}"),
            format!("≤ {want_ratio}"),
            ratio <= want_ratio,
        );
        row(
            rows,
            &format!("{what}: mean detection latency (simulated), mean of the three lengths"),
            format!("{:.2} s", mean.as_secs_f64()),
            format!("≤ {:.1} s", want_mean.as_secs_f64()),
            mean <= want_mean,
        );
        // No gap exceeds max-poll-interval; the tail is the real work after the last poll.
        let budget = MAX_POLL + Duration::from_secs(1);
        row(
            rows,
            &format!("{what}: worst run end → end of the run's work (poll gap + real tail)"),
            format!(
                "{:.1} s + {:.1} ms",
                max.as_secs_f64(),
                tail.as_secs_f64() * 1e3
            ),
            format!("≤ {} s", budget.as_secs()),
            max + tail <= budget,
        );
    }
    Ok(())
}

/// Real-clock runs per variant in `e2e`, and their median length.
const E2E_RUNS: usize = 6;
const E2E_MEDIAN: Duration = Duration::from_secs(20);

/// One real-clock run of the release binary (default intervals) against its own
/// simulator: run end → exit, and status + list requests.
fn e2e_run(bin: &Path, run_for: Duration, history: bool, seed: u64) -> Res<(Duration, usize)> {
    let sim = real_sim(world(run_for, 12))?;
    if history {
        let mut rng = Rng(seed);
        for i in 0..PAST_RUNS {
            let took = rng.log_normal(E2E_MEDIAN, SPREAD);
            let ago = Duration::from_secs(86_400) * (i as u32 + 1);
            sim.add_running_execution(SeedExecution::new("load", "prod").finished(took, ago));
        }
    }
    let env = inputs(&sim, &[("MATILLION_TIMEOUT", "5m")]);
    let status = Command::new(bin)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .envs(&env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let exited = Instant::now();
    if !status.success() {
        return Err(format!("exit {status}"));
    }
    let exec = sim
        .executions()
        .into_iter()
        .find(|e| e.trigger == "API")
        .ok_or("no execution was triggered")?;
    let latency = exited.saturating_duration_since(exec.started + run_for);
    let requests =
        sim.requests_to(Route::Status).len() + sim.requests_to(Route::ListExecutions).len();
    Ok((latency, requests))
}

/// The real binary end to end on the real clock, with and without history, side by side.
pub(crate) fn e2e(rows: &mut Vec<Row>, bin: &Path) -> Res<()> {
    let mut rng = Rng(0xe2e);
    let lengths: Vec<Duration> = (0..E2E_RUNS)
        .map(|_| rng.log_normal(E2E_MEDIAN, SPREAD))
        .collect();
    println!(
        "  {E2E_RUNS} runs of {} with {PAST_RUNS} past runs (σ {SPREAD}) and the same {E2E_RUNS} without, all at once; default intervals (5s, 30s)",
        lengths
            .iter()
            .map(|d| format!("{:.1} s", d.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let results: Vec<Res<(bool, Duration, Duration, usize)>> = std::thread::scope(|s| {
        let handles: Vec<_> = [true, false]
            .into_iter()
            .flat_map(|h| lengths.iter().enumerate().map(move |(i, d)| (h, i, *d)))
            .map(|(h, i, d)| {
                s.spawn(move || e2e_run(bin, d, h, 0xbeef + i as u64).map(|(l, r)| (h, d, l, r)))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a run panicked".into())))
            .collect()
    });
    let results = results.into_iter().collect::<Res<Vec<_>>>()?;
    let fixed: f64 = lengths.iter().map(|d| fixed_requests(*d, POLL)).sum();
    let mut means = Vec::new();
    for with in [true, false] {
        let mine: Vec<_> = results.iter().filter(|r| r.0 == with).collect();
        let mut lat: Vec<Duration> = mine.iter().map(|r| r.2).collect();
        lat.sort();
        let mean = lat.iter().sum::<Duration>() / lat.len() as u32;
        let requests: usize = mine.iter().map(|r| r.3).sum();
        println!(
            "  {:>16}: latency (run end → exit) mean {:.2} s, max {:.2} s; requests (status + lookup) {requests} = {:.2} × a fixed 5 s poller's {fixed:.0}",
            if with { "20 past runs" } else { "no history" },
            mean.as_secs_f64(),
            lat.last().copied().unwrap_or_default().as_secs_f64(),
            requests as f64 / fixed,
        );
        means.push((with, mean, requests as f64 / fixed));
    }
    if let (Some((_, mean, ratio)), Some((_, _, without))) =
        (means.iter().find(|m| m.0), means.iter().find(|m| !m.0))
    {
        row(
            rows,
            &format!(
                "real binary, real clock, {E2E_RUNS} runs of ~20 s with history: mean run end → exit"
            ),
            format!("{:.2} s", mean.as_secs_f64()),
            "≤ 2.5 s".into(),
            *mean <= Duration::from_millis(2500),
        );
        // Runs this short sit inside the first minute, where the floor for early failures
        // sets the rate: fewer requests than without history, not half (the corpus's goal).
        row(
            rows,
            "the same runs: requests × a fixed 5 s poller's (with / without history)",
            format!("{ratio:.2} / {without:.2}"),
            "with < without".into(),
            ratio < without,
        );
    }
    Ok(())
}
