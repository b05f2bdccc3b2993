//! Polling policies on simulated time: detection latency against status requests.
//!
//! Run with `cargo bench --bench polling`. Every run goes through the production code of
//! each policy (`poll::Policy::next_gap`; the `backoff` crate for today's schedule) with
//! simulated time: the run is triggered at 0, polled at once, then after each gap, and its
//! end is noticed by the first poll at or after it.
//!
//! - The corpus: run lengths (medians) of 1, 5, 15, 30, 60 and 120 minutes × log-normal
//!   spreads σ of 0.05, 0.1, 0.2 and 0.4, [`RUNS_PER_CELL`] runs each; [`EARLY_FAIL`] of
//!   the runs fail early instead, at a uniform time in 5–60 s. Each run has its own
//!   history of [`HISTORY`] past runs drawn from the same distribution (early failures
//!   included), and a deterministic seed.
//! - Detection latency: the time from the run's end to the first poll at or after it.
//!   Requests per hour: all requests of all runs (the history lookup counts as one for the
//!   history-aware policy, with or without history, as in production) over all run-hours.
//! - Today's backoff is `wait::Waiter::intervals`: `backoff::ExponentialBackoff`
//!   from 5 s, ×1.5, ±20%, capped at 30 s, each gap clamped to 30 s. The crate draws its
//!   jitter from a thread-local generator that cannot be seeded, so here the crate runs with
//!   its randomization off and the same ±20% uniform draw (its formula) comes from the
//!   seeded generator.
//! - "At equal mean latency": the fixed interval, and today's backoff scaled (initial and
//!   cap × k), whose mean latency over the same runs equals the history-aware policy's.

use backoff::ExponentialBackoff;
use backoff::backoff::Backoff;
use pipeline_run::poll::{Policy, SplitMix64};
use std::time::{Duration, Instant};

/// Medians of the run lengths, seconds.
const LENGTHS: [f64; 6] = [60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0];
/// Log-normal spreads.
const SIGMAS: [f64; 4] = [0.05, 0.1, 0.2, 0.4];
/// Runs per (length, spread).
const RUNS_PER_CELL: usize = 100;
/// The share of runs that fail early.
const EARLY_FAIL: f64 = 0.03;
/// Past runs in the history.
const HISTORY: usize = 20;
/// The defaults of `poll-interval` and `max-poll-interval`.
const POLL: Duration = Duration::from_secs(5);
const MAX_POLL: Duration = Duration::from_secs(30);
/// A bound on the polls of one run.
const MAX_POLLS: usize = 1_000_000;
const SEED: u64 = 0x5eed_2024;

/// Goals from the issue.
const GOAL_HISTORY_LATENCY: f64 = 2.5;
const GOAL_HISTORY_RATIO: f64 = 0.5;
const GOAL_NONE_LATENCY: f64 = 3.0;
const GOAL_NONE_RATIO: f64 = 1.1;

struct Run {
    median: f64,
    sigma: f64,
    end: f64,
    early: bool,
    history: Vec<Duration>,
    seed: u64,
}

#[derive(Clone, Copy)]
struct Sample {
    latency: f64,
    requests: usize,
}

struct Stats {
    mean: f64,
    p95: f64,
    max: f64,
    per_hour: f64,
}

fn main() {
    let started = Instant::now();
    let runs = corpus();
    let all: Vec<&Run> = runs.iter().collect();

    let new_hist = simulate(&all, new_policy(true));
    let new_none = simulate(&all, new_policy(false));
    let fixed5 = simulate(&all, fixed(5.0));
    let fixed10 = simulate(&all, fixed(10.0));
    let today = simulate(&all, today_backoff(1.0));
    let s_hist = stats(&all, &new_hist);
    let s_none = stats(&all, &new_none);
    let s_fixed5 = stats(&all, &fixed5);

    let (g_hist, eq_fixed_hist) = equal_fixed(&all, s_hist.mean);
    let (k_hist, eq_today_hist) = equal_today(&all, s_hist.mean);
    let (g_none, eq_fixed_none) = equal_fixed(&all, s_none.mean);
    let (k_none, eq_today_none) = equal_today(&all, s_none.mean);

    println!("## Polling: detection latency and status requests (simulated time)\n");
    println!(
        "{} runs: medians 1, 5, 15, 30, 60 and 120 min × log-normal spread σ 0.05, 0.1, 0.2, 0.4; \
         {:.0}% fail early (5–60 s); history: {HISTORY} past runs of the same distribution. \
         `poll-interval` {}, `max-poll-interval` {}.\n",
        runs.len(),
        EARLY_FAIL * 100.0,
        humantime::format_duration(POLL),
        humantime::format_duration(MAX_POLL),
    );
    println!(
        "| policy | history | mean latency | p95 | max | requests/h | × fixed 5 s |\n|---|---|---|---|---|---|---|"
    );
    let base = s_fixed5.per_hour;
    let line = |name: &str, hist: &str, s: &Stats| {
        println!(
            "| {name} | {hist} | {:.2} s | {:.1} s | {:.1} s | {:.0} | {:.2} |",
            s.mean,
            s.p95,
            s.max,
            s.per_hour,
            s.per_hour / base
        );
    };
    line("history-aware (`poll::Policy`)", "20 past runs", &s_hist);
    line("history-aware (`poll::Policy`)", "none", &s_none);
    line("fixed 5 s", "–", &s_fixed5);
    line("fixed 10 s", "–", &stats(&all, &fixed10));
    line(
        "today's backoff (5 s ×1.5 ±20%, ≤ 30 s)",
        "–",
        &stats(&all, &today),
    );
    let at = |what: &str| format!("– (equal mean latency to {what})");
    line(
        &format!("fixed {g_hist:.2} s"),
        &at("20 past runs"),
        &eq_fixed_hist,
    );
    line(
        &format!(
            "today's backoff ×{k_hist:.3} ({:.2} s … {:.1} s)",
            5.0 * k_hist,
            30.0 * k_hist
        ),
        &at("20 past runs"),
        &eq_today_hist,
    );
    line(&format!("fixed {g_none:.2} s"), &at("none"), &eq_fixed_none);
    line(
        &format!(
            "today's backoff ×{k_none:.3} ({:.2} s … {:.1} s)",
            5.0 * k_none,
            30.0 * k_none
        ),
        &at("none"),
        &eq_today_none,
    );

    println!("\n### History-aware with 20 past runs, by spread\n");
    println!(
        "| σ | mean latency | p95 | max | requests/h | × fixed 5 s | fixed at equal latency: requests/h |\n|---|---|---|---|---|---|---|"
    );
    for sigma in SIGMAS {
        let pick = |r: &&Run| r.sigma == sigma;
        by_group(&all, &new_hist, &fixed5, pick, &format!("{sigma}"));
    }
    println!("\n### History-aware with 20 past runs, by run length\n");
    println!(
        "| median length | mean latency | p95 | max | requests/h | × fixed 5 s | fixed at equal latency: requests/h |\n|---|---|---|---|---|---|---|"
    );
    for median in LENGTHS {
        let pick = |r: &&Run| r.median == median;
        by_group(
            &all,
            &new_hist,
            &fixed5,
            pick,
            &format!("{} min", median / 60.0),
        );
    }

    let early: Vec<usize> = (0..all.len()).filter(|&i| all[i].early).collect();
    let early_mean =
        |s: &[Sample]| early.iter().map(|&i| s[i].latency).sum::<f64>() / early.len().max(1) as f64;
    println!(
        "\nEarly failures ({} runs): mean latency {:.2} s with 20 past runs, {:.2} s without, \
         {:.2} s fixed 5 s, {:.2} s today's backoff.",
        early.len(),
        early_mean(&new_hist),
        early_mean(&new_none),
        early_mean(&fixed5),
        early_mean(&today),
    );

    let ratio_hist = s_hist.per_hour / base;
    let ratio_none = s_none.per_hour / base;
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "\nGoal with ≥ 5 past runs: mean ≤ {GOAL_HISTORY_LATENCY} s at ≤ {GOAL_HISTORY_RATIO}× \
         fixed 5 s: {:.2} s at {:.2}× → {}.",
        s_hist.mean,
        ratio_hist,
        verdict(s_hist.mean <= GOAL_HISTORY_LATENCY && ratio_hist <= GOAL_HISTORY_RATIO)
    );
    println!(
        "Goal without history: mean ≤ {GOAL_NONE_LATENCY} s at ≤ {GOAL_NONE_RATIO}× fixed 5 s: \
         {:.2} s at {:.2}× → {}.",
        s_none.mean,
        ratio_none,
        verdict(s_none.mean <= GOAL_NONE_LATENCY && ratio_none <= GOAL_NONE_RATIO)
    );
    println!(
        "\nProduced by `cargo bench --bench polling` (seed {SEED:#x}, {:.1} s).",
        started.elapsed().as_secs_f64()
    );
}

/// One row of a breakdown: the history-aware policy on the runs `pick` selects.
fn by_group(
    all: &[&Run],
    new: &[Sample],
    fixed5: &[Sample],
    pick: impl Fn(&&Run) -> bool,
    label: &str,
) {
    let idx: Vec<usize> = (0..all.len()).filter(|&i| pick(&all[i])).collect();
    let runs: Vec<&Run> = idx.iter().map(|&i| all[i]).collect();
    let take = |s: &[Sample]| idx.iter().map(|&i| s[i]).collect::<Vec<_>>();
    let s = stats(&runs, &take(new));
    let f = stats(&runs, &take(fixed5));
    let (g, eq) = equal_fixed(&runs, s.mean);
    println!(
        "| {label} | {:.2} s | {:.1} s | {:.1} s | {:.0} | {:.2} | {:.0} (every {g:.2} s) |",
        s.mean,
        s.p95,
        s.max,
        s.per_hour,
        s.per_hour / f.per_hour,
        eq.per_hour,
    );
}

fn corpus() -> Vec<Run> {
    let mut rng = SplitMix64(SEED);
    let mut runs = Vec::new();
    for median in LENGTHS {
        for sigma in SIGMAS {
            for _ in 0..RUNS_PER_CELL {
                let (end, early) = draw(&mut rng, median, sigma);
                let history = (0..HISTORY)
                    .map(|_| Duration::from_secs_f64(draw(&mut rng, median, sigma).0))
                    .collect();
                runs.push(Run {
                    median,
                    sigma,
                    end,
                    early,
                    history,
                    seed: rng.next_u64(),
                });
            }
        }
    }
    runs
}

/// One run's length (seconds) and whether it failed early.
fn draw(rng: &mut Rng, median: f64, sigma: f64) -> (f64, bool) {
    if rng.next_f64() < EARLY_FAIL {
        (5.0 + 55.0 * rng.next_f64(), true)
    } else {
        (median * (sigma * rng.normal()).exp(), false)
    }
}

/// A policy: for one run, the function from elapsed seconds to the next gap (seconds), and
/// the requests made besides status polls.
type Make = Box<dyn Fn(&Run) -> (Box<dyn FnMut(f64) -> f64>, usize)>;

fn new_policy(with_history: bool) -> Make {
    Box::new(move |run| {
        let history: &[Duration] = if with_history { &run.history } else { &[] };
        let mut p = Policy::new(history, POLL, MAX_POLL, run.seed);
        let next = move |t: f64| p.next_gap(Duration::from_secs_f64(t)).as_secs_f64();
        (Box::new(next), 1)
    })
}

fn fixed(gap: f64) -> Make {
    Box::new(move |_| (Box::new(move |_| gap), 0))
}

/// `wait::Waiter::intervals` with `poll-interval` and `max-poll-interval` × `k`.
fn today_backoff(k: f64) -> Make {
    Box::new(move |run| {
        let (initial, max) = (POLL.mul_f64(k), MAX_POLL.mul_f64(k));
        let mut b = ExponentialBackoff {
            initial_interval: initial,
            current_interval: initial,
            randomization_factor: 0.0,
            multiplier: 1.5,
            max_interval: max,
            max_elapsed_time: None,
            ..ExponentialBackoff::default()
        };
        let mut rng = SplitMix64(run.seed);
        let next = move |_| {
            let current = b.next_backoff().unwrap_or(max).as_secs_f64() * 1e9;
            // backoff's get_random_value_from_interval, randomization factor 0.2, in nanos.
            let delta = 0.2 * current;
            let nanos = current - delta + rng.next_f64() * (2.0 * delta + 1.0);
            (nanos / 1e9).min(max.as_secs_f64())
        };
        (Box::new(next), 0)
    })
}

fn simulate(runs: &[&Run], make: Make) -> Vec<Sample> {
    runs.iter()
        .map(|run| {
            let (mut next, extra) = make(run);
            let mut t = 0.0;
            let mut requests = extra + 1;
            for _ in 0..MAX_POLLS {
                if t >= run.end {
                    break;
                }
                t += next(t);
                requests += 1;
            }
            Sample {
                latency: t - run.end,
                requests,
            }
        })
        .collect()
}

/// A fixed poller, in closed form: polls at 0, g, 2g, …
fn simulate_fixed(runs: &[&Run], g: f64) -> Vec<Sample> {
    runs.iter()
        .map(|run| {
            let k = (run.end / g).ceil();
            Sample {
                latency: k * g - run.end,
                requests: k as usize + 1,
            }
        })
        .collect()
}

fn stats(runs: &[&Run], samples: &[Sample]) -> Stats {
    let mut lat: Vec<f64> = samples.iter().map(|s| s.latency).collect();
    lat.sort_by(f64::total_cmp);
    let n = lat.len();
    let hours = runs.iter().map(|r| r.end).sum::<f64>() / 3600.0;
    Stats {
        mean: lat.iter().sum::<f64>() / n as f64,
        p95: lat[((0.95 * n as f64).ceil() as usize).clamp(1, n) - 1],
        max: lat[n - 1],
        per_hour: samples.iter().map(|s| s.requests).sum::<usize>() as f64 / hours,
    }
}

/// The fixed interval whose mean latency over `runs` is `target`, and its stats.
fn equal_fixed(runs: &[&Run], target: f64) -> (f64, Stats) {
    let (mut lo, mut hi) = (0.05, 120.0);
    for _ in 0..50 {
        let mid = 0.5 * (lo + hi);
        if stats(runs, &simulate_fixed(runs, mid)).mean > target {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let g = 0.5 * (lo + hi);
    (g, stats(runs, &simulate_fixed(runs, g)))
}

/// The scale of today's backoff whose mean latency over `runs` is `target`, and its stats.
fn equal_today(runs: &[&Run], target: f64) -> (f64, Stats) {
    let (mut lo, mut hi) = (0.01, 20.0);
    for _ in 0..30 {
        let mid = 0.5 * (lo + hi);
        if stats(runs, &simulate(runs, today_backoff(mid))).mean > target {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let k = 0.5 * (lo + hi);
    (k, stats(runs, &simulate(runs, today_backoff(k))))
}

/// The corpus's random numbers: the policy's own SplitMix64, plus a normal draw.
type Rng = SplitMix64;

trait Normal {
    fn normal(&mut self) -> f64;
}

impl Normal for Rng {
    /// A standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let (a, b) = (1.0 - self.next_f64(), self.next_f64());
        (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
    }
}
