//! When to poll a running execution: a history-aware schedule, pure code (no I/O, no clock).
//!
//! [`Policy::new`] takes the durations of the pipeline's past executions (same pipeline and
//! environment, finished; successes and failures alike, since the wait cares when a run
//! ends, not how), the user's `poll-interval` and `max-poll-interval`, and a seed for the
//! jitter. [`Policy::next_gap`] then says how long to sleep after a poll made `elapsed`
//! after the trigger.
//!
//! # With history: poll where the run is likely to end
//!
//! With at least [`MIN_HISTORY`] past runs, the end time `T` of this run is modelled as
//!
//! - a kernel density on the log-durations of the past runs (Gaussian kernels, Silverman's
//!   robust bandwidth `b = 0.9 · min(sd, IQR/1.34) · n^(-1/5)` on `ln T`, at least
//!   [`MIN_BANDWIDTH`]): multi-modal histories (fast no-op runs, the odd early failure)
//!   keep their shape, and one huge outlier does not widen the bulk;
//! - mixed with a mass [`EARLY_MASS`] spread evenly over the first [`EARLY_WINDOW`]: a run
//!   can always fail early (bad input, missing credentials), history or not.
//!
//! Let `f` be its density, `S` its survival (`P(T > t)`) and `h = f/S` its hazard, the
//! chance that the run ends now given that it is still running. A poll schedule of local
//! rate `r(t)` (polls per second) has, when gaps are small against the changes of `f`,
//!
//! - mean detection latency `L = ∫ f(t) / (2 r(t)) dt` (the end falls uniformly in a gap of
//!   length `1/r`, half a gap on average), and
//! - mean number of polls `N = ∫ S(t) r(t) dt` (only a run still running is polled).
//!
//! Minimising `N` at a given `L` (Lagrange: `S r² ∝ f`) gives `r(t) = c · √h(t)`: the rate
//! follows the square root of the chance that the run ends now. Then `L · N = ½ (∫ √(f S))²`,
//! against `E[T] / 2` for a fixed poller; for a log-normal spread σ that is about
//! 0.1×, 0.19×, 0.36× and 0.63× the polls of a fixed poller of equal latency for σ = 0.05,
//! 0.1, 0.2 and 0.4.
//!
//! The rate is clamped to `[1/max-poll-interval, 1/`[`MIN_GAP`]`]`, so no gap exceeds
//! `max-poll-interval` (a hard bound; the cumulative rate `Λ(t) = ∫₀ᵗ r` grows by at least 1
//! in any window of that length) and none is shorter than `MIN_GAP`. The constant `c` is
//! solved for (bisection) so that the model's expected latency `L` equals
//! [`TARGET_RATIO`] × `poll-interval`: 2.25 s at the default 5 s, which is 0.45 of a fixed
//! poller's 2.5 s. The history is only a sample of the truth, so the realised latency runs a
//! little above the model's (2.33 s over the benchmark's corpus, `benches/polling.rs`);
//! 0.45 keeps that under the quickest peer's 2.5 s at 0.47× the requests of a fixed 5 s
//! poller (0.40 gives 2.08 s at 0.52×). Tying the target to `poll-interval` keeps one knob
//! for latency against requests, with or without history.
//!
//! Polls then fall where `Λ` crosses whole numbers: the next poll after one at `t` is at
//! `Λ⁻¹(Λ(t) + 1)`. The early mass is what keeps a floor rate of `c · √(EARLY_MASS /
//! EARLY_WINDOW)` in the first minute; the optimisation weighs it like any other end.
//!
//! The other constants: [`MIN_HISTORY`] is the "handful" (below it the spread is
//! noise); [`EARLY_MASS`] is the few percent of runs that fail at once; [`MIN_GAP`] keeps
//! the peak of a very steady short run from hammering the API (at 1 s the latency there is
//! 0.5 s, far below the goal); [`MIN_BANDWIDTH`] keeps a history of equal durations from
//! becoming a spike.
//!
//! Everything is computed once in [`Policy::new`] on a grid in log-time (at most
//! [`MAX_GRID`] points, a fraction of a bandwidth apart) from at most [`MAX_HISTORY`] runs;
//! [`Policy::next_gap`] is a binary search on that grid.
//!
//! # Without history, and past the longest past run: a backoff
//!
//! With fewer than [`MIN_HISTORY`] past runs, and once the elapsed time passes the longest
//! past run by two bandwidths (`longest · e^(2b)`, where the model's mass has run out), the
//! gaps come from the `backoff` crate's exponential backoff: from `poll-interval`, ×
//! [`FALLBACK_MULTIPLIER`] per poll, up to `poll-interval` × [`FALLBACK_MAX_FACTOR`] (and
//! never above `max-poll-interval`). Both are 1: when nothing says when a run ends, a fixed
//! poller is the best trade of latency against requests there is to make, and any growth that pays off on the
//! benchmark's 2-hour runs costs their latency beyond the goal (×1.01 per poll already
//! reaches 10 s gaps after 8 minutes). So a run is noticed within `poll-interval`, about
//! half of it on average, at the cost of a fixed poller (one request more, the history
//! lookup). Raising the constants turns this into a slow backoff for runs that overrun
//! their history by hours.
//!
//! # Jitter
//!
//! Every gap is multiplied by a factor drawn uniformly from `1 ± `[`JITTER`], so that jobs
//! started together do not poll in lockstep, and then clamped: history gaps to
//! `[MIN_GAP, max-poll-interval]`, backoff gaps to `[poll-interval, max-poll-interval]`.
//! The jitter never stretches a gap past `max-poll-interval`; the clamp at `poll-interval`
//! makes the backoff's mean gap 1.025 × `poll-interval`. The randomness is a
//! SplitMix64 generator seeded by the caller ([`Policy::new`]'s `seed`; [`seed_from_os`]
//! gives a fresh one in production), so tests and benchmarks are deterministic. The
//! backoff's own jitter (`randomization_factor`) is off: it draws from a thread-local
//! generator that cannot be seeded.

use backoff::ExponentialBackoff;
use backoff::backoff::Backoff;
use std::time::Duration;

/// Fewer past runs than this: no model, the backoff from the start.
pub(crate) const MIN_HISTORY: usize = 5;
/// At most this many past runs are used (the first ones given: pass the newest first).
pub(crate) const MAX_HISTORY: usize = 200;
/// The model's expected detection latency, as a fraction of `poll-interval`.
pub(crate) const TARGET_RATIO: f64 = 0.45;
/// The shortest gap between two polls of the history schedule.
pub(crate) const MIN_GAP: Duration = Duration::from_secs(1);
/// The prior chance that a run fails in its first [`EARLY_WINDOW`], history or not.
pub(crate) const EARLY_MASS: f64 = 0.03;
/// The window of an early failure.
pub(crate) const EARLY_WINDOW: Duration = Duration::from_secs(60);
/// The narrowest kernel, in log-time (2%: durations are whole seconds and runs vary).
pub(crate) const MIN_BANDWIDTH: f64 = 0.02;
/// Past runs shorter than this count as this long (the log of zero is not a number).
pub(crate) const MIN_DURATION: Duration = Duration::from_secs(1);
/// The schedule's grid size bound.
pub(crate) const MAX_GRID: usize = 4096;
/// The backoff's growth per poll.
pub(crate) const FALLBACK_MULTIPLIER: f64 = 1.0;
/// The backoff's largest gap, as a multiple of `poll-interval`.
pub(crate) const FALLBACK_MAX_FACTOR: f64 = 1.0;
/// The jitter: each gap is scaled by a factor in `1 ± JITTER`.
pub(crate) const JITTER: f64 = 0.1;

/// How far past the longest past run the model goes, in bandwidths.
const TAIL_BANDWIDTHS: f64 = 2.0;
/// The kernel bandwidth's factor: Silverman's rule of thumb, 0.9. On the benchmark 0.6 is
/// over-confident and 1.2 over-cautious, both within 3% of it at equal latency.
const BANDWIDTH_FACTOR: f64 = 0.9;
/// Kernels are cut off this many bandwidths from their centre.
const KERNEL_CUTOFF: f64 = 8.0;
/// Grid points per bandwidth (in log-time).
const POINTS_PER_BANDWIDTH: f64 = 8.0;
/// Bisection steps for the rate constant.
const BISECTION_STEPS: usize = 60;

/// The polling schedule of one run. See the module documentation.
#[derive(Debug, Clone)]
pub struct Policy {
    model: Option<Model>,
    /// Past runs given.
    runs: usize,
    floor: Duration,
    max: Duration,
    backoff: Option<ExponentialBackoff>,
    rng: SplitMix64,
}

impl Policy {
    /// The schedule for a run of which `history` holds the durations of past runs (newest
    /// first), polled at first every `poll_interval` and never less often than every
    /// `max_poll_interval`. `seed` seeds the jitter ([`seed_from_os`] in production).
    pub fn new(
        history: &[Duration],
        poll_interval: Duration,
        max_poll_interval: Duration,
        seed: u64,
    ) -> Policy {
        let max = max_poll_interval.max(Duration::from_millis(1));
        let floor = poll_interval.clamp(Duration::from_millis(1), max);
        let target = floor.as_secs_f64() * TARGET_RATIO;
        let model = (history.len() >= MIN_HISTORY).then(|| {
            let used = &history[..history.len().min(MAX_HISTORY)];
            Model::fit(used, target, floor.as_secs_f64(), max.as_secs_f64())
        });
        Policy {
            model,
            runs: history.len(),
            floor,
            max,
            backoff: None,
            rng: SplitMix64(seed),
        }
    }

    /// How long to wait after a poll made `elapsed` after the trigger. Never more than
    /// `max-poll-interval`.
    pub fn next_gap(&mut self, elapsed: Duration) -> Duration {
        let jitter = 1.0 + JITTER * (2.0 * self.rng.next_f64() - 1.0);
        if self.backoff.is_none() {
            if let Some(gap) = self
                .model
                .as_ref()
                .and_then(|m| m.gap(elapsed.as_secs_f64()))
            {
                let gap = Duration::from_secs_f64(gap * jitter);
                return gap.clamp(MIN_GAP.min(self.max), self.max);
            }
        }
        let (floor, max) = (self.floor, self.max);
        let backoff = self.backoff.get_or_insert_with(|| fallback(floor, max));
        let base = backoff.next_backoff().unwrap_or(backoff.max_interval);
        base.mul_f64(jitter).clamp(floor, max)
    }

    /// Whether the schedule follows the history (else it is the backoff from the start).
    pub(crate) fn uses_history(&self) -> bool {
        self.model.is_some()
    }

    /// The model's expected end (its median), if it has history.
    #[cfg(test)]
    pub(crate) fn expected_end(&self) -> Option<Duration> {
        self.model
            .as_ref()
            .map(|m| Duration::from_secs_f64(m.median))
    }

    /// The model's mean detection latency (what the rate constant was solved for), if it
    /// has history.
    #[cfg(test)]
    pub(crate) fn expected_latency(&self) -> Option<Duration> {
        self.model
            .as_ref()
            .map(|m| Duration::from_secs_f64(m.latency))
    }

    /// Past this elapsed time the backoff takes over, if there is history.
    #[cfg(test)]
    pub(crate) fn history_end(&self) -> Option<Duration> {
        self.model.as_ref().map(|m| Duration::from_secs_f64(m.end))
    }

    /// One line for the log, e.g. "polling around the expected end at ~34m (80% of past
    /// runs between 31m and 38m), from 20 past runs; every 5s after 41m".
    pub(crate) fn describe(&self) -> String {
        let every = fmt(self.floor);
        match &self.model {
            Some(m) => format!(
                "polling around the expected end at ~{} (80% of past runs between {} and {}), \
                 from {} past runs; every {every} after {}",
                fmt_secs(m.median),
                fmt_secs(m.p10),
                fmt_secs(m.p90),
                m.used,
                fmt_secs(m.end),
            ),
            None => format!(
                "polling every {every}: {} past run{} of this pipeline, {MIN_HISTORY} needed to \
                 poll around its expected end",
                self.runs,
                if self.runs == 1 { "" } else { "s" },
            ),
        }
    }
}

/// A seed from the operating system's randomness (through std's hasher keys), for
/// [`Policy::new`] in production.
pub(crate) fn seed_from_os() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// The backoff without history or past it: the `backoff` crate, its own jitter off.
fn fallback(floor: Duration, max: Duration) -> ExponentialBackoff {
    let cap = floor.mul_f64(FALLBACK_MAX_FACTOR).clamp(floor, max);
    ExponentialBackoff {
        initial_interval: floor,
        current_interval: floor,
        randomization_factor: 0.0,
        multiplier: FALLBACK_MULTIPLIER,
        max_interval: cap,
        max_elapsed_time: None,
        ..ExponentialBackoff::default()
    }
}

/// Whole seconds; under a second, whole milliseconds (a `poll-interval` of 50ms).
fn fmt(d: Duration) -> String {
    let shown = if d < Duration::from_secs(1) {
        Duration::from_millis(d.as_millis().max(1) as u64)
    } else {
        Duration::from_secs(d.as_secs())
    };
    humantime::format_duration(shown).to_string()
}

fn fmt_secs(s: f64) -> String {
    fmt(Duration::from_secs_f64(s.round()))
}

/// The fitted schedule: the cumulative rate `Λ` on a grid of times.
#[derive(Debug, Clone)]
struct Model {
    /// Grid times, seconds, increasing; `t[0] = 0`.
    t: Vec<f64>,
    /// `Λ(t)`, increasing.
    lambda: Vec<f64>,
    /// Past this time (seconds), the backoff.
    end: f64,
    /// The model's expected latency, seconds.
    #[cfg(test)]
    latency: f64,
    /// Past runs used, their median and 10th/90th percentiles (seconds).
    used: usize,
    median: f64,
    p10: f64,
    p90: f64,
}

impl Model {
    /// Fit the density to `history` (at least [`MIN_HISTORY`] runs) and solve for the rate
    /// giving a mean latency of `target` seconds.
    fn fit(history: &[Duration], target: f64, floor: f64, max: f64) -> Model {
        let min_gap = MIN_GAP.as_secs_f64().min(max);
        let mut u: Vec<f64> = history
            .iter()
            .map(|d| d.max(&MIN_DURATION).as_secs_f64().ln())
            .collect();
        u.sort_by(f64::total_cmp);
        let b = bandwidth(&u);
        let u_end = u[u.len() - 1] + TAIL_BANDWIDTHS * b;
        let t = grid(b, u_end);
        let (surv, hazard) = survival_and_hazard(&u, b, &t);

        // Solve c for the target latency: L(c) decreases with c. The bisection evaluates
        // L 60 times over the grid: the square roots and masses are taken once.
        let root: Vec<f64> = hazard.iter().map(|h| h.sqrt()).collect();
        let mass: Vec<f64> = surv.windows(2).map(|w| (w[0] - w[1]).max(0.0)).collect();
        let rate = |c: f64, root: f64| (c * root).clamp(1.0 / max, 1.0 / min_gap);
        let latency = |c: f64| {
            let (mut l, mut wait) = (0.0, 1.0 / rate(c, root[0]));
            for k in 0..mass.len() {
                let next = 1.0 / rate(c, root[k + 1]);
                l += mass[k] * (wait + next) / 4.0;
                wait = next;
            }
            l + surv[t.len() - 1] * floor / 2.0
        };
        let (mut lo, mut hi) = ((1e-9f64).ln(), (1e9f64).ln());
        for _ in 0..BISECTION_STEPS {
            let mid = 0.5 * (lo + hi);
            if latency(mid.exp()) > target {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let c = hi.exp();

        let mut lambda = Vec::with_capacity(t.len());
        lambda.push(0.0);
        for k in 1..t.len() {
            let r = 0.5 * (rate(c, root[k - 1]) + rate(c, root[k]));
            lambda.push(lambda[k - 1] + r * (t[k] - t[k - 1]));
        }
        Model {
            #[cfg(test)]
            latency: latency(c),
            t,
            lambda,
            end: u_end.exp(),
            used: u.len(),
            median: quantile(&u, 0.5).exp(),
            p10: quantile(&u, 0.1).exp(),
            p90: quantile(&u, 0.9).exp(),
        }
    }

    /// The rate (polls per second) at `t`, the slope of `Λ`, or `None` past the model.
    fn rate(&self, t: f64) -> Option<f64> {
        if t >= self.end {
            return None;
        }
        let i = self.t.partition_point(|&v| v <= t);
        if i == 0 || i == self.t.len() {
            return None;
        }
        let dt = self.t[i] - self.t[i - 1];
        (dt > 0.0).then(|| (self.lambda[i] - self.lambda[i - 1]) / dt)
    }

    /// The gap (seconds) to the next poll after one at `t`, or `None` past the model.
    fn gap(&self, t: f64) -> Option<f64> {
        if t >= self.end {
            return None;
        }
        let next = interpolate(&self.t, &self.lambda, t) + 1.0;
        if next > self.lambda[self.lambda.len() - 1] {
            return None;
        }
        Some(interpolate(&self.lambda, &self.t, next) - t)
    }
}

/// The kernel bandwidth on sorted log-durations `u`: Silverman's robust rule, at least
/// [`MIN_BANDWIDTH`].
fn bandwidth(u: &[f64]) -> f64 {
    let n = u.len() as f64;
    let mean = u.iter().sum::<f64>() / n;
    let sd = (u.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let iqr = quantile(u, 0.75) - quantile(u, 0.25);
    let spread = if iqr > 0.0 { sd.min(iqr / 1.34) } else { sd };
    (BANDWIDTH_FACTOR * spread * n.powf(-0.2)).max(MIN_BANDWIDTH)
}

/// The grid of times (seconds): 0, then log-spaced from 1 s to `e^u_end`, a fraction of a
/// bandwidth `b` apart (at most [`MAX_GRID`] points).
fn grid(b: f64, u_end: f64) -> Vec<f64> {
    let step = (b / POINTS_PER_BANDWIDTH).max(u_end / (MAX_GRID - 2) as f64);
    let points = (u_end / step).ceil() as usize + 1;
    let mut t = Vec::with_capacity(points + 1);
    t.push(0.0);
    for k in 0..points {
        t.push((k as f64 * step).min(u_end).exp());
    }
    t
}

/// The survival `S` and hazard `h = f/S` of the end time at each grid time `t`: the kernel
/// density on the log-durations `u` (bandwidth `b`) mixed with the early mass.
fn survival_and_hazard(u: &[f64], b: f64, t: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let n = u.len() as f64;
    let early = EARLY_WINDOW.as_secs_f64();
    let (mut surv, mut hazard) = (Vec::with_capacity(t.len()), Vec::with_capacity(t.len()));
    for &tk in t {
        let (mut dens, mut tail) = (0.0, 0.0);
        if tk > 0.0 {
            let lt = tk.ln();
            for &ui in u {
                let z = (lt - ui) / b;
                if z < -KERNEL_CUTOFF {
                    tail += 1.0;
                } else if z <= KERNEL_CUTOFF {
                    dens += (-0.5 * z * z).exp();
                    tail += upper_tail(z);
                }
            }
            dens /= n * b * tk * (2.0 * std::f64::consts::PI).sqrt();
        } else {
            tail = n;
        }
        let (ef, es) = if tk < early {
            (1.0 / early, 1.0 - tk / early)
        } else {
            (0.0, 0.0)
        };
        let f = (1.0 - EARLY_MASS) * dens + EARLY_MASS * ef;
        let s = (1.0 - EARLY_MASS) * tail / n + EARLY_MASS * es;
        surv.push(s);
        hazard.push(if s > 1e-300 { f / s } else { f / 1e-300 });
    }
    (surv, hazard)
}

/// `ys` at `x`, linear between the points of the increasing `xs` (clamped at its ends).
fn interpolate(xs: &[f64], ys: &[f64], x: f64) -> f64 {
    let i = xs.partition_point(|&v| v <= x);
    if i == 0 {
        return ys[0];
    }
    if i == xs.len() {
        return ys[xs.len() - 1];
    }
    let (x0, x1) = (xs[i - 1], xs[i]);
    let w = if x1 > x0 { (x - x0) / (x1 - x0) } else { 0.0 };
    ys[i - 1] + w * (ys[i] - ys[i - 1])
}

/// The `p`-quantile of sorted `v` (linear between order statistics).
fn quantile(v: &[f64], p: f64) -> f64 {
    let pos = p * (v.len() - 1) as f64;
    let i = pos.floor() as usize;
    let j = (i + 1).min(v.len() - 1);
    v[i] + (pos - i as f64) * (v[j] - v[i])
}

/// The coefficients `c1` to `c9` of the Chebyshev fit in [`upper_tail`].
const ERFC_SERIES: [f64; 9] = [
    1.000_023_68,
    0.374_091_96,
    0.096_784_18,
    -0.186_288_06,
    0.278_868_07,
    -1.135_203_98,
    1.488_515_87,
    -0.822_152_23,
    0.170_872_77,
];

/// `P(Z > z)` for a standard normal `Z` (erfc by Numerical Recipes' Chebyshev fit,
/// relative error below 1.2e-7).
fn upper_tail(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.5 * a);
    // Horner's rule, innermost coefficient first: the same operations as the nested form
    // `c1 + t * (c2 + t * (… + t * c9))`, which rustfmt took seconds to lay out.
    let series = ERFC_SERIES.iter().rev().fold(0.0, |acc, c| c + t * acc);
    let poly = -a * a - 1.265_512_23 + t * series;
    let erfc = t * poly.exp();
    0.5 * if x >= 0.0 { erfc } else { 2.0 - erfc }
}

/// SplitMix64: small, seedable, good enough for jitter (and for the benchmark's corpus).
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

mod shared;
pub(crate) use shared::shared_gap;

#[cfg(test)]
mod tests;
