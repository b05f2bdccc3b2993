//! The performance budgets, measured against the bundled simulator and printed as a table
//! with PASS/FAIL per budget (exit 1 when one is missed). Run it with `scripts/bench.sh`
//! (release build first) or `cargo bench --bench budgets`.
//!
//! - Polling cost and detection latency (`polling`) come from runs on simulated time: one
//!   `SimClock` is shared by the simulator and the production code path
//!   (`config::from_lookup` → `wiring::platform_for` → `orchestrate::run_seeded`), so an
//!   hour-long run takes milliseconds of wall time and every request is a real HTTP request
//!   on loopback; with and without a history of past runs seeded in the simulator. The
//!   policy's own corpus benchmark, with today's backoff and fixed pollers at equal mean
//!   latency, is `cargo bench --bench polling`.
//! - `e2e`: the release binary end to end on the real clock, a handful of ~20 s runs with
//!   and without history at the default intervals, side by side.
//! - Step-list scale (`steps`; `tail`: with 50 ms of server latency per step page),
//!   start-up, peak memory and size are measured on the release binary, run as a child
//!   process against the simulator on the real clock.
//!
//! - `fleet`: 20 pipelines of one minute in one step, on sped-up time (`budgets/fleet.rs`).
//!
//! Arguments (after `--`) pick sections: `polling`, `e2e`, `steps`, `tail`, `startup`,
//! `memory`, `size`, `fleet` (default: all). `PIPELINE_RUN_BIN` names the binary to measure
//! (default: the one cargo built for this bench).

use pipeline_run::ci::CiKind;
use pipeline_run::clock::{Clock, SimClock};
use pipeline_run::config;
use pipeline_run::http::Budget;
use pipeline_run::http::Http;
use pipeline_run::model::{Outcome, PlatformKind, RunReport, Step};
use pipeline_run::orchestrate;
use pipeline_run::platform::pages::IN_FLIGHT;
use pipeline_run::platform::{CancelAck, PastRun, Platform};
use pipeline_run::progress::StepPage;
use pipeline_run::timings::Timings;
use pipeline_run::wait::{Failure, RunState, Waiter};
use pipeline_run::wiring;
#[path = "budgets/fleet.rs"]
mod fleet;
#[path = "../tests/it/sim_time.rs"]
mod sim_time;

use pipeline_run_sim::{
    Environment, Fault, FaultAction, Project, PublishedPipeline, Route, RunScript, SeedExecution,
    SimConfig, SimHandle, Simulator, WallTime,
};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The default `max-poll-interval`, which the budgets are stated for.
const MAX_POLL: Duration = Duration::from_secs(30);
/// The default `poll-interval`.
const POLL: Duration = Duration::from_secs(5);
/// Simulated runs per median length (each its own length, history and jitter).
const REPEATS: usize = 10;
/// Start-up samples.
const STARTUP_RUNS: usize = 201;
/// Steps in the scale run (300 pages of 100).
const BIG_STEPS: usize = 30_000;

type Res<T> = Result<T, String>;

/// One line of the final table.
struct Row {
    figure: String,
    measured: String,
    budget: String,
    pass: bool,
}

fn row(rows: &mut Vec<Row>, figure: &str, measured: String, budget: String, pass: bool) {
    println!(
        "  -> {figure}: {measured} (budget {budget}) {}",
        if pass { "PASS" } else { "FAIL" }
    );
    rows.push(Row {
        figure: figure.into(),
        measured,
        budget,
        pass,
    });
}

fn main() {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let on = |s: &str| wanted.is_empty() || wanted.iter().any(|w| w == s);
    let bin = PathBuf::from(
        std::env::var("PIPELINE_RUN_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_pipeline-run").to_string()),
    );
    println!("binary: {}", bin.display());

    let mut rows = Vec::new();
    let mut failed_to_measure = Vec::new();
    let mut section = |name: &str, f: &dyn Fn(&mut Vec<Row>) -> Res<()>| {
        if on(name) {
            println!("\n== {name}");
            if let Err(e) = f(&mut rows) {
                println!("  !! {name}: {e}");
                failed_to_measure.push(format!("{name}: {e}"));
            }
        }
    };
    section("polling", &polling);
    section("e2e", &|rows| e2e(rows, &bin));
    section("steps", &|rows| steps(rows, &bin));
    section("tail", &|rows| tail(rows, &bin));
    section("startup", &|rows| startup(rows, &bin));
    section("memory", &|rows| memory(rows, &bin));
    section("hostile-memory", &|rows| hostile_memory(rows, &bin));
    section("size", &|rows| size(rows, &bin));
    section("fleet", &|rows| fleet::fleet(rows, &bin));

    println!("\n| figure | measured | budget | result |\n|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} |",
            r.figure,
            r.measured,
            r.budget,
            if r.pass { "PASS" } else { "FAIL" }
        );
    }
    for e in &failed_to_measure {
        println!("| {e} | not measured | | FAIL |");
    }
    if !failed_to_measure.is_empty() || rows.iter().any(|r| !r.pass) {
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------------
// Polling: request count and detection latency, on simulated time.

/// A simulator world with one pipeline whose run takes `duration` and has `steps` steps.
fn world(duration: Duration, steps: usize) -> SimConfig {
    SimConfig::new().project(Project::new("p-bench", "Bench").environment(
        Environment::new("prod").pipeline(PublishedPipeline::new(
            "load",
            RunScript::new(duration, steps),
        )),
    ))
}

/// The inputs a CI job would give for `sim`, plus `extra`.
fn inputs(sim: &SimHandle, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let c = sim.config();
    let mut env: HashMap<String, String> = [
        ("MATILLION_API_URL", sim.base_url()),
        ("MATILLION_TOKEN_URL", sim.token_url()),
        ("MATILLION_CLIENT_ID", c.client_id.clone()),
        ("MATILLION_CLIENT_SECRET", c.client_secret.clone()),
        ("MATILLION_PROJECT", "Bench".into()),
        ("MATILLION_ENVIRONMENT", "prod".into()),
        ("MATILLION_PIPELINE", "load".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    env
}

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
struct Polled {
    status_requests: usize,
    /// Pages of steps read while the run went on (live progress), before the details.
    step_looks: usize,
    /// Lists of executions (the lookup of past runs).
    list_requests: usize,
    /// Simulated time from the run's end on the platform to the end of `orchestrate::run`.
    latency: Duration,
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
fn simulated_run(
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
        inner: wiring::platform_for(
            &cfg,
            Http::new(dyn_clock.clone()),
            &Timings::DEFAULT,
            CiKind::Plain,
        ),
        last_status: Mutex::new(None),
    };
    // What the binary's worker thread runs (`supervise::run_with` adds the signal watch and
    // the progress lines, which would print here).
    let report = orchestrate::run_seeded(
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
fn fixed_requests(d: Duration, interval: Duration) -> f64 {
    1.0 + (d.as_secs_f64() / interval.as_secs_f64().max(0.001)).ceil()
}

fn polling(rows: &mut Vec<Row>) -> Res<()> {
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

// ---------------------------------------------------------------------------------------
// The release binary against the simulator on the real clock.

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Res<Self> {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "pipeline-run-bench-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).map_err(|e| format!("cannot create {}: {e}", p.display()))?;
        Ok(Scratch(p))
    }
    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The real-clock simulator.
fn real_sim(cfg: SimConfig) -> Res<SimHandle> {
    Simulator::start(cfg, Arc::new(WallTime))
        .map_err(|e| format!("cannot start the simulator: {e}"))
}

/// A GitHub Actions job's environment with every report turned on, fast polling.
fn github_job(sim: &SimHandle, dir: &Scratch) -> HashMap<String, String> {
    inputs(
        sim,
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", &dir.path("summary.md")),
            ("GITHUB_OUTPUT", &dir.path("output")),
            ("GITHUB_STATE", &dir.path("state")),
            ("MATILLION_JUNIT_FILE", &dir.path("junit.xml")),
            ("MATILLION_RESULT_FILE", &dir.path("result.json")),
            ("MATILLION_DOTENV_FILE", &dir.path("run.env")),
            ("MATILLION_POLL_INTERVAL", "20ms"),
            ("MATILLION_MAX_POLL_INTERVAL", "20ms"),
            ("MATILLION_TIMEOUT", "2m"),
        ],
    )
}

/// `/usr/bin/time` (GNU) when it works here: it reports the child's exact peak RSS.
fn gnu_time() -> Option<&'static str> {
    let t = "/usr/bin/time";
    let ok = Command::new(t)
        .args(["-f", "%M", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(t)
}

/// What a finished child run gave.
struct Finished {
    code: i32,
    /// When `wait` returned.
    exited: Instant,
    /// Peak resident set, KiB.
    peak_kib: u64,
    /// User + system CPU time (with GNU time only).
    cpu: Option<Duration>,
    /// How the peak was measured.
    peak_how: &'static str,
}

/// Run `bin` with exactly `env` (plus PATH), measuring its peak memory.
fn run_measured(bin: &Path, env: &HashMap<String, String>, dir: &Scratch) -> Res<Finished> {
    let time = gnu_time();
    let rss_file = dir.path("maxrss");
    let mut cmd = match time {
        Some(t) => {
            let mut c = Command::new(t);
            c.args(["-f", "%M %U %S", "-o", &rss_file]).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(
            std::fs::File::create(dir.path("stderr"))
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null()),
        );
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    // Without GNU time, sample the high-water mark while it runs (a lower bound: a peak in
    // the last moments before exit can be missed).
    let pid = child.id();
    let stop = Arc::new(AtomicBool::new(false));
    let sampled = Arc::new(AtomicU64::new(0));
    let sampler = (time.is_none()).then(|| {
        let (stop, sampled) = (stop.clone(), sampled.clone());
        std::thread::spawn(move || {
            let path = format!("/proc/{pid}/status");
            while !stop.load(Ordering::SeqCst) {
                if let Some(kib) = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|s| status_kib(&s, "VmHWM:"))
                {
                    sampled.fetch_max(kib, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_micros(200));
            }
        })
    });
    let status = child.wait().map_err(|e| format!("wait: {e}"))?;
    let exited = Instant::now();
    stop.store(true, Ordering::SeqCst);
    if let Some(s) = sampler {
        let _ = s.join();
    }
    let (peak_kib, cpu, peak_how) = match time {
        Some(_) => {
            // The last line is "maxrss-KiB user-s system-s" (earlier ones would be a
            // note that the child was signalled).
            let text = std::fs::read_to_string(&rss_file).unwrap_or_default();
            let fields: Vec<&str> = text
                .trim()
                .lines()
                .last()
                .unwrap_or_default()
                .split_whitespace()
                .collect();
            let kib = fields
                .first()
                .and_then(|k| k.parse().ok())
                .ok_or("GNU time wrote no peak RSS")?;
            let cpu = fields
                .get(1..3)
                .and_then(|f| Some(f[0].parse::<f64>().ok()? + f[1].parse::<f64>().ok()?))
                .map(Duration::from_secs_f64);
            (kib, cpu, "GNU time")
        }
        None => (sampled.load(Ordering::SeqCst), None, "sampled VmHWM"),
    };
    Ok(Finished {
        code: status.code().unwrap_or(-1),
        exited,
        peak_kib,
        cpu,
        peak_how,
    })
}

fn status_kib(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

fn stderr_tail(dir: &Scratch) -> String {
    let s = std::fs::read_to_string(dir.path("stderr")).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

/// KiB → MB (10^6 bytes, as the budgets are stated).
fn mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
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
fn e2e(rows: &mut Vec<Row>, bin: &Path) -> Res<()> {
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
    let env = github_job(&sim, &dir);
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

fn steps(rows: &mut Vec<Row>, bin: &Path) -> Res<()> {
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
fn tail(rows: &mut Vec<Row>, bin: &Path) -> Res<()> {
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

fn startup(rows: &mut Vec<Row>, bin: &Path) -> Res<()> {
    let mut times = Vec::with_capacity(STARTUP_RUNS);
    for _ in 0..STARTUP_RUNS {
        let t = Instant::now();
        let status = Command::new(bin)
            .env_clear()
            .env("MATILLION_TIMEOUT", "90")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
        times.push(t.elapsed());
        if status.code() != Some(2) {
            return Err(format!("expected exit 2, got {status}"));
        }
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "  {STARTUP_RUNS} runs with MATILLION_TIMEOUT=90 (bad input): min {:.2} ms, median {:.2} ms, p90 {:.2} ms",
        times[0].as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3,
        times[times.len() * 9 / 10].as_secs_f64() * 1e3
    );
    row(
        rows,
        "start-up: spawn → exit 2 on a bad input (median)",
        format!("{:.2} ms", median.as_secs_f64() * 1e3),
        "< 5 ms".into(),
        median < Duration::from_millis(5),
    );
    Ok(())
}

fn memory(rows: &mut Vec<Row>, bin: &Path) -> Res<()> {
    let run = Duration::from_millis(300);
    let sim = real_sim(world(run, 12))?;
    let dir = Scratch::new("normal")?;
    let env = github_job(&sim, &dir);
    let f = run_measured(bin, &env, &dir)?;
    if f.code != 0 {
        return Err(format!("exit {}:\n{}", f.code, stderr_tail(&dir)));
    }
    let tail = sim
        .requests_to(Route::Status)
        .last()
        .map(|r| f.exited.saturating_duration_since(r.at))
        .unwrap_or_default();
    println!(
        "  12 steps, every report on: peak RSS {:.1} MB ({}); last status poll → exit {:.1} ms",
        mb(f.peak_kib),
        f.peak_how,
        tail.as_secs_f64() * 1e3
    );
    row(
        rows,
        "normal run: last status poll → exit, release binary (all reports)",
        format!("{:.1} ms", tail.as_secs_f64() * 1e3),
        "≤ 1 s (the + 1 s of the latency budget)".into(),
        tail <= Duration::from_secs(1),
    );
    row(
        rows,
        "peak memory, normal run (12 steps, all reports)",
        format!("{:.1} MB", mb(f.peak_kib)),
        "< 15 MB".into(),
        f.peak_kib * 1024 < 15_000_000,
    );
    Ok(())
}

/// Peak memory whatever a server sends: 30,000 steps whose messages make the list far
/// larger than what is read (2 KB each: 60 MB, cut at the list cap), or make every page
/// larger than a reply is read (150 KB each: 15 MB pages).
fn hostile_memory(rows: &mut Vec<Row>, bin: &Path) -> Res<()> {
    for message_bytes in [2_000, 150_000] {
        let run = Duration::from_millis(300);
        let message = "x".repeat(message_bytes);
        let mut script = RunScript::new(run, BIG_STEPS);
        for i in 0..BIG_STEPS {
            script = script.step_message(i, &message);
        }
        let sim = real_sim(SimConfig::new().project(
            Project::new("p-bench", "Bench").environment(
                Environment::new("prod").pipeline(PublishedPipeline::new("load", script)),
            ),
        ))?;
        let dir = Scratch::new("hostile")?;
        let env = github_job(&sim, &dir);
        let f = run_measured(bin, &env, &dir)?;
        if f.code != 0 {
            return Err(format!("exit {}:\n{}", f.code, stderr_tail(&dir)));
        }
        println!(
            "  30,000 steps with {message_bytes}-byte messages: {} step requests, peak RSS {:.1} MB ({})",
            sim.requests_to(Route::Steps).len(),
            mb(f.peak_kib),
            f.peak_how
        );
        row(
            rows,
            &format!(
                "peak memory, 30,000 steps with {} KB messages",
                message_bytes / 1000
            ),
            format!("{:.1} MB", mb(f.peak_kib)),
            "< 100 MB".into(),
            f.peak_kib * 1024 < 100_000_000,
        );
    }
    Ok(())
}

fn size(rows: &mut Vec<Row>, bin: &Path) -> Res<()> {
    let len = std::fs::metadata(bin)
        .map_err(|e| format!("{}: {e}", bin.display()))?
        .len();
    // `strip = true` in the release profile; check that nothing is left to strip.
    let symtab = std::fs::read(bin)
        .map(|b| b.windows(7).any(|w| w == b".symtab"))
        .unwrap_or(false);
    println!(
        "  {} bytes; symbol table {}",
        len,
        if symtab { "present" } else { "stripped" }
    );
    row(
        rows,
        "release binary size",
        format!(
            "{:.2} MB{}",
            len as f64 / 1e6,
            if symtab {
                " (not stripped)"
            } else {
                " (stripped)"
            }
        ),
        "< 5 MB".into(),
        len < 5_000_000,
    );
    Ok(())
}
