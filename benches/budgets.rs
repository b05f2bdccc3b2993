//! The performance budgets, measured against the bundled simulator and printed as a table
//! with PASS/FAIL per budget (exit 1 when one is missed). Run it with `scripts/bench.sh`
//! (release build first) or `cargo bench --bench budgets`.
//!
//! - Polling cost and detection latency come from runs on simulated time: one `SimClock`
//!   is shared by the simulator and the production code path (`config::from_lookup` →
//!   `wiring::platform_for` → `orchestrate::run`), so an hour-long run takes milliseconds of wall
//!   time and every poll is a real HTTP request on loopback.
//! - Step-list scale, start-up, peak memory and size are measured on the release binary,
//!   run as a child process against the simulator on the real clock.
//!
//! Arguments (after `--`) pick sections: `polling`, `steps`, `startup`, `memory`, `size`
//! (default: all). `PIPELINE_RUN_BIN` names the binary to measure (default: the one cargo
//! built for this bench).

use pipeline_run::ci::CiKind;
use pipeline_run::clock::{Clock, SimClock};
use pipeline_run::config;
use pipeline_run::http::Budget;
use pipeline_run::http::Http;
use pipeline_run::model::{Outcome, PlatformKind, RunReport};
use pipeline_run::orchestrate;
use pipeline_run::platform::{CancelAck, Platform};
use pipeline_run::timings::Timings;
use pipeline_run::wait::{Failure, RunState, Waiter};
use pipeline_run::wiring;
#[path = "../tests/it/sim_time.rs"]
mod sim_time;

use pipeline_run_sim::{
    Environment, Project, PublishedPipeline, Route, RunScript, SimConfig, SimHandle, Simulator,
    WallTime,
};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The default `max-poll-interval`, which the budgets are stated for.
const MAX_POLL: Duration = Duration::from_secs(30);
/// Simulated runs per duration (the backoff's jitter differs from run to run).
const REPEATS: usize = 40;
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
    section("steps", &|rows| steps(rows, &bin));
    section("startup", &|rows| startup(rows, &bin));
    section("memory", &|rows| memory(rows, &bin));
    section("size", &|rows| size(rows, &bin));

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
    fn collect(&self, id: &str, budget: Budget, report: &mut RunReport) -> Result<(), Failure> {
        self.inner.collect(id, budget, report)
    }
    fn cancel(&self, id: &str, budget: Budget) -> Result<CancelAck, Failure> {
        self.inner.cancel(id, budget)
    }
}

/// What one simulated run cost.
struct Polled {
    status_requests: usize,
    /// Simulated time from the run's end on the platform to the end of `orchestrate::run`.
    latency: Duration,
    /// Wall time from the status poll that saw the end to the end of the run.
    tail: Duration,
    /// Every request of the run, by kind, in the order first seen.
    by_route: Vec<(String, usize)>,
}

fn simulated_run(duration: Duration) -> Res<Polled> {
    let clock = SimClock::new();
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let sim = Simulator::start(world(duration, 12), sim_time::for_sim(&clock))
        .map_err(|e| format!("cannot start the simulator: {e}"))?;
    // The defaults for poll-interval (5s) and max-poll-interval (30s); a timeout that the
    // longest run stays well inside.
    let env = inputs(&sim, &[("MATILLION_TIMEOUT", "3h")]);
    let lookup = |k: &str| env.get(k).cloned();
    let cfg = config::from_lookup(&lookup).map_err(|e| format!("bad inputs: {e:?}"))?;
    if cfg.max_poll_interval != MAX_POLL {
        return Err(format!(
            "max-poll-interval default is {:?}, expected {MAX_POLL:?}",
            cfg.max_poll_interval
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
    let report = orchestrate::run(
        &platform,
        &cfg,
        dyn_clock.as_ref(),
        &Timings::DEFAULT,
        &|_| {},
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
        .next()
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
    Ok(Polled {
        by_route,
        status_requests: sim.requests_to(Route::Status).len(),
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
fn fixed_requests(d: Duration, interval: Duration) -> u64 {
    1 + (d.as_secs_f64() / interval.as_secs_f64().max(0.001)).ceil() as u64
}

fn polling(rows: &mut Vec<Row>) -> Res<()> {
    let hour = Duration::from_secs(3600);
    let durations = [15u64, 30, 60, 120, 600, 3600].map(Duration::from_secs);
    let mut all: Vec<(Duration, Vec<Polled>)> = Vec::new();
    for d in durations {
        let runs = (0..REPEATS)
            .map(|_| simulated_run(d))
            .collect::<Res<Vec<_>>>()?;
        all.push((d, runs));
    }
    if let Some((_, runs)) = all.iter().find(|(d, _)| *d == Duration::from_secs(60)) {
        if let Some(first) = runs.first() {
            let total: usize = first.by_route.iter().map(|(_, n)| n).sum();
            let parts: Vec<String> = first
                .by_route
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            println!(
                "  every request of a 60 s run (the first of {REPEATS}): {} = {total}",
                parts.join(", ")
            );
        }
    }
    let every: Vec<&Polled> = all.iter().flat_map(|(_, r)| r).collect();
    let mean_latency = every.iter().map(|r| r.latency).sum::<Duration>() / every.len() as u32;
    // A fixed-interval poller's latency is, on average over where the end falls between
    // two polls, half its interval: the one with our mean latency polls every 2 × that.
    let same_mean = mean_latency * 2;

    println!(
        "  {REPEATS} runs per duration on simulated time; poll-interval 5s, max-poll-interval 30s"
    );
    println!(
        "  {:>5} | {:>17} | {:>15} | {:>6} | fixed poller: every 30s | every {:.1}s",
        "run",
        "status requests",
        "latency",
        "tail",
        same_mean.as_secs_f64()
    );
    println!(
        "  {:>5} | {:>17} | {:>15} | {:>6} |",
        "", "min / mean / max", "mean / max", "max"
    );
    let mut worst_latency = Duration::ZERO;
    let mut worst_tail = Duration::ZERO;
    let mut hour_requests = 0;
    let mut hour_mean = 0.0;
    for (d, runs) in &all {
        let reqs: Vec<usize> = runs.iter().map(|r| r.status_requests).collect();
        let max_req = reqs.iter().copied().max().unwrap_or(0);
        let min_req = reqs.iter().copied().min().unwrap_or(0);
        let mean_req = reqs.iter().sum::<usize>() as f64 / reqs.len() as f64;
        let max_lat = runs.iter().map(|r| r.latency).max().unwrap_or_default();
        let mean_lat = runs.iter().map(|r| r.latency).sum::<Duration>() / runs.len() as u32;
        let max_tail = runs.iter().map(|r| r.tail).max().unwrap_or_default();
        println!(
            "  {:>5} | {:>4} / {:>5.1} / {:>4} | {:>5.1}s / {:>5.1}s | {:>4.1}ms | {:>23} | {:>5}",
            humantime::format_duration(*d).to_string(),
            min_req,
            mean_req,
            max_req,
            mean_lat.as_secs_f64(),
            max_lat.as_secs_f64(),
            max_tail.as_secs_f64() * 1e3,
            fixed_requests(*d, MAX_POLL),
            fixed_requests(*d, same_mean),
        );
        worst_latency = worst_latency.max(max_lat);
        worst_tail = worst_tail.max(max_tail);
        if *d == hour {
            hour_requests = max_req;
            hour_mean = mean_req;
        }
    }
    println!(
        "  over all {} runs: mean latency {:.1}s. For a 1 h run this poller spends {hour_mean:.1} requests;",
        every.len(),
        mean_latency.as_secs_f64()
    );
    println!(
        "  a fixed poller with the same worst case (every 30s, mean latency 15s) {}; one with the same mean latency (every {:.1}s) {}.",
        fixed_requests(hour, MAX_POLL),
        same_mean.as_secs_f64(),
        fixed_requests(hour, same_mean),
    );
    let budget_requests = 1.1 * (3600.0 / MAX_POLL.as_secs_f64()) + 10.0;
    row(
        rows,
        &format!("status requests, 1 h run, max-poll-interval 30s (worst of {REPEATS})"),
        format!("{hour_requests}"),
        format!("≤ {budget_requests:.0}"),
        hour_requests as f64 <= budget_requests,
    );
    // The simulated latency is the wait from the run's end to the poll that sees it; the
    // tail is the real work after that poll (details, steps). The reports and the process
    // exit are timed on the binary (`memory`).
    let budget_latency = MAX_POLL + Duration::from_secs(1);
    row(
        rows,
        &format!(
            "run end → end of the run's work (simulated poll gap + real tail, worst of {})",
            every.len()
        ),
        format!(
            "{:.1} s + {:.1} ms",
            worst_latency.as_secs_f64(),
            worst_tail.as_secs_f64() * 1e3
        ),
        format!("≤ {} s", budget_latency.as_secs()),
        worst_latency + worst_tail <= budget_latency,
    );
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

fn steps(rows: &mut Vec<Row>, bin: &Path) -> Res<()> {
    let run = Duration::from_millis(300);
    let sim = real_sim(world(run, BIG_STEPS))?;
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
        "  run end → exit {:.0} ms (polling every 20 ms); last status poll → exit {:.0} ms; peak RSS {:.1} MB ({}){}",
        since_end.as_secs_f64() * 1e3,
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
    row(
        rows,
        "30,000 steps: run end → exit, release binary, loopback",
        format!("{:.0} ms", since_end.as_secs_f64() * 1e3),
        "< 2 s".into(),
        since_end < Duration::from_secs(2),
    );
    row(
        rows,
        "30,000 steps: peak memory",
        format!("{:.1} MB", mb(f.peak_kib)),
        "< 50 MB".into(),
        f.peak_kib * 1024 < 50_000_000,
    );
    let want_pages = BIG_STEPS.div_ceil(100);
    row(
        rows,
        "30,000 steps: step pages fetched / distinct / connections used",
        format!(
            "{} / {} / {}",
            step_reqs.len(),
            distinct_pages.len(),
            step_conns.len()
        ),
        format!("{want_pages} / {want_pages} / 1"),
        step_reqs.len() == want_pages
            && distinct_pages.len() == want_pages
            && step_conns.len() == 1,
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
