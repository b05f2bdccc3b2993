use super::*;

const FLOOR: Duration = Duration::from_secs(5);
const MAX: Duration = Duration::from_secs(30);

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// `n` durations drawn from a log-normal of median `median` seconds and spread `sigma`.
fn lognormal(n: usize, median: f64, sigma: f64, seed: u64) -> Vec<Duration> {
    let mut rng = SplitMix64(seed);
    (0..n)
        .map(|_| {
            let (a, b) = (1.0 - rng.next_f64(), rng.next_f64());
            let z = (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos();
            secs(median * (sigma * z).exp())
        })
        .collect()
}

/// The gaps of a whole wait, from the trigger until `until`, checked against the bounds.
fn walk(p: &mut Policy, until: Duration, max: Duration) -> Vec<(Duration, Duration)> {
    let mut t = Duration::ZERO;
    let mut out = Vec::new();
    for _ in 0..1_000_000 {
        if t >= until {
            return out;
        }
        let g = p.next_gap(t);
        assert!(g <= max, "gap {g:?} at {t:?} exceeds {max:?}");
        assert!(
            g >= MIN_GAP.min(max),
            "gap {g:?} at {t:?} below the minimum"
        );
        out.push((t, g));
        t += g;
    }
    panic!("more than a million polls");
}

#[test]
fn fewer_runs_than_needed_is_the_backoff_from_the_start() {
    let history = vec![secs(600.0); MIN_HISTORY - 1];
    let mut p = Policy::new(&history, FLOOR, MAX, 1);
    assert!(!p.uses_history());
    assert_eq!(p.expected_end(), None);
    let hi = FLOOR.mul_f64(FALLBACK_MAX_FACTOR * (1.0 + JITTER)).min(MAX);
    for (t, g) in walk(&mut p, secs(7200.0), MAX) {
        assert!(g >= FLOOR && g <= hi, "gap {g:?} at {t:?}");
    }
    assert_eq!(
        p.describe(),
        "polling every 5s: 4 past runs of this pipeline, 5 needed to poll around its expected end"
    );
    let p = Policy::new(&[secs(9.0)], FLOOR, MAX, 1);
    assert!(p.describe().contains(": 1 past run of"));
}

#[test]
fn no_gap_exceeds_max_poll_interval_nor_falls_below_the_minimum() {
    let histories = [
        lognormal(20, 60.0, 0.05, 1),
        lognormal(20, 3600.0, 0.1, 2),
        lognormal(20, 7200.0, 0.4, 3),
        lognormal(5, 300.0, 0.2, 4),
        vec![secs(1800.0); 7],
    ];
    for (i, h) in histories.iter().enumerate() {
        for max in [secs(0.5), secs(2.0), secs(7.0), MAX, secs(300.0)] {
            let floor = FLOOR.min(max);
            let mut p = Policy::new(h, floor, max, i as u64);
            let end = p.history_end().unwrap();
            let gaps = walk(&mut p, end + end / 4, max);
            assert!(gaps.len() > 3, "history {i}, max {max:?}");
        }
    }
}

#[test]
fn sparse_early_dense_around_the_expected_end() {
    let h = lognormal(20, 3600.0, 0.1, 7);
    let mut p = Policy::new(&h, FLOOR, MAX, 7);
    assert!(p.uses_history());
    let median = p.expected_end().unwrap();
    // Between the early window and the bulk of the history nothing ends: the slowest rate.
    assert!(p.next_gap(secs(900.0)) >= MAX.mul_f64(1.0 - JITTER));
    assert!(p.next_gap(median) <= secs(6.0), "{:?}", p.next_gap(median));
    // The early failure mass keeps a floor rate in the first minute.
    assert!(p.next_gap(secs(10.0)) < MAX.mul_f64(1.0 - JITTER));
}

#[test]
fn past_the_longest_run_is_the_backoff() {
    let h = lognormal(20, 600.0, 0.2, 3);
    let longest = *h.iter().max().unwrap();
    let mut p = Policy::new(&h, FLOOR, MAX, 3);
    let end = p.history_end().unwrap();
    assert!(
        end > longest && end < longest.mul_f64(1.5),
        "{end:?} {longest:?}"
    );
    let hi = FLOOR.mul_f64(FALLBACK_MAX_FACTOR * (1.0 + JITTER)).min(MAX);
    for (t, g) in walk(&mut p, end * 4, MAX) {
        if t >= end {
            assert!(g >= FLOOR && g <= hi, "gap {g:?} at {t:?}");
        }
    }
    // Once past, it stays the backoff even if asked about an earlier time.
    let g = p.next_gap(longest / 2);
    assert!(g >= FLOOR && g <= hi);
}

#[test]
fn the_rate_is_solved_for_the_target_latency() {
    for (median, sigma) in [(60.0, 0.05), (3600.0, 0.1), (7200.0, 0.4)] {
        let p = Policy::new(&lognormal(20, median, sigma, 5), FLOOR, MAX, 5);
        let l = p.expected_latency().unwrap().as_secs_f64();
        assert!((l - 2.25).abs() < 1e-3, "{median} {sigma}: {l}");
    }
    // The target follows poll-interval.
    let p = Policy::new(&lognormal(20, 3600.0, 0.1, 5), secs(10.0), MAX, 5);
    let l = p.expected_latency().unwrap().as_secs_f64();
    assert!((l - 4.5).abs() < 1e-3, "{l}");
}

#[test]
fn all_equal_durations() {
    let mut p = Policy::new(&[secs(600.0); 12], FLOOR, MAX, 9);
    assert_eq!(p.expected_end(), Some(secs(600.0)));
    // The narrowest kernel: two bandwidths of margin past the longest run.
    let end = p.history_end().unwrap().as_secs_f64();
    assert!(
        (end - 600.0 * (2.0 * MIN_BANDWIDTH).exp()).abs() < 1e-6,
        "{end}"
    );
    let g = p.next_gap(secs(598.0));
    assert!(g <= secs(4.0), "{g:?}");
    walk(&mut p, secs(1200.0), MAX);
}

#[test]
fn zero_durations_count_as_one_second() {
    let mut p = Policy::new(&[Duration::ZERO; 8], FLOOR, MAX, 2);
    assert!(p.uses_history());
    assert_eq!(p.expected_end(), Some(MIN_DURATION));
    let gaps = walk(&mut p, secs(60.0), MAX);
    // Past 1 s (and its margin) nothing is left of the model: the backoff.
    assert!(gaps.iter().skip(2).all(|&(_, g)| g >= FLOOR));
}

#[test]
fn a_huge_outlier_neither_widens_the_bulk_nor_grows_the_grid() {
    let mut h = lognormal(19, 3600.0, 0.05, 4);
    h.push(secs(1e8));
    let mut p = Policy::new(&h, FLOOR, MAX, 4);
    let m = p.model.as_ref().unwrap();
    assert!(m.t.len() <= MAX_GRID + 1);
    assert!(p.history_end().unwrap() > secs(1e8));
    assert!(p.next_gap(secs(3600.0)) <= secs(6.0));
    assert!(p.next_gap(secs(1e6)) >= MAX.mul_f64(1.0 - JITTER));
}

#[test]
fn thousands_of_runs_use_the_newest_few() {
    let mut h = lognormal(MAX_HISTORY, 300.0, 0.1, 6);
    h.extend(vec![secs(5000.0); 5000]);
    let mut p = Policy::new(&h, FLOOR, MAX, 6);
    let m = p.model.as_ref().unwrap();
    assert_eq!(m.used, MAX_HISTORY);
    assert!(m.t.len() <= MAX_GRID + 1);
    // The older 5000-second runs were not used.
    assert!(p.history_end().unwrap() < secs(1000.0));
    walk(&mut p, secs(1000.0), MAX);
}

#[test]
fn the_seed_makes_the_jitter_repeatable() {
    let h = lognormal(20, 900.0, 0.2, 8);
    let run = |seed| walk(&mut Policy::new(&h, FLOOR, MAX, seed), secs(1500.0), MAX);
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
    let none = |seed| walk(&mut Policy::new(&[], FLOOR, MAX, seed), secs(60.0), MAX);
    assert_eq!(none(3), none(3));
}

#[test]
fn describe_names_the_expected_end() {
    let h: Vec<Duration> = (0..20).map(|i| secs(2000.0 + 10.0 * i as f64)).collect();
    let p = Policy::new(&h, FLOOR, MAX, 0);
    assert_eq!(
        p.describe(),
        "polling around the expected end at ~34m 55s (80% of past runs between 33m 39s and \
         36m 11s), from 20 past runs; every 5s after 37m 59s"
    );
}

/// A steady pipeline's runs, drawn from the distribution of its history, meet the goal:
/// mean detection latency ≤ 2.5 s at ≤ half the polls of a fixed 5 s poller.
#[test]
fn a_steady_pipeline_is_noticed_fast_at_half_the_polls() {
    let h = lognormal(20, 1800.0, 0.1, 10);
    let ends = lognormal(200, 1800.0, 0.1, 11);
    let (mut latency, mut polls, mut fixed) = (0.0, 0usize, 0usize);
    for (i, end) in ends.iter().enumerate() {
        let mut p = Policy::new(&h, FLOOR, MAX, i as u64);
        let gaps = walk(&mut p, *end, MAX);
        let last = gaps.last().map_or(Duration::ZERO, |&(t, g)| t + g);
        latency += (last - *end).as_secs_f64();
        polls += gaps.len() + 1;
        fixed += (end.as_secs_f64() / 5.0).ceil() as usize + 1;
    }
    let mean = latency / ends.len() as f64;
    let ratio = polls as f64 / fixed as f64;
    assert!(mean <= 2.5, "mean latency {mean}");
    assert!(ratio <= 0.5, "polls {ratio} of a fixed 5 s poller");
}

#[test]
fn upper_tail_matches_known_values() {
    assert!((upper_tail(0.0) - 0.5).abs() < 1e-7);
    assert!((upper_tail(1.959_964) - 0.025).abs() < 1e-7);
    assert!((upper_tail(-1.959_964) - 0.975).abs() < 1e-7);
    assert!(upper_tail(9.0) < 1e-18);
}

#[test]
fn interpolation_and_quantiles() {
    let xs = [0.0, 1.0, 3.0];
    let ys = [0.0, 10.0, 30.0];
    assert_eq!(interpolate(&xs, &ys, 2.0), 20.0);
    assert_eq!(interpolate(&xs, &ys, -1.0), 0.0);
    assert_eq!(interpolate(&xs, &ys, 9.0), 30.0);
    assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.5), 3.0);
    assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.1), 1.4);
}

#[test]
fn jitter_never_stretches_a_gap_past_max() {
    // poll-interval = max-poll-interval: every backoff gap is exactly the bound.
    let mut p = Policy::new(&[], MAX, MAX, 4);
    for (_, g) in walk(&mut p, secs(3600.0), MAX) {
        assert_eq!(g, MAX);
    }
    // A poll-interval above max-poll-interval is taken as max-poll-interval.
    let mut p = Policy::new(&[], secs(60.0), MAX, 4);
    assert_eq!(p.next_gap(Duration::ZERO), MAX);
}

#[test]
fn os_seeds_differ() {
    assert_ne!(seed_from_os(), seed_from_os());
}
