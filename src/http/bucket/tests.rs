//! The bucket's decisions as tables, without a clock: instants are a fixed base plus
//! offsets.

use super::*;

const S: fn(f64) -> Duration = Duration::from_secs_f64;

fn limit(per_minute: u32) -> Limit {
    Limit {
        per_minute,
        floor: Duration::from_secs(10),
        recovery: Duration::from_secs(120),
        platform: "Matillion",
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn the_burst_is_a_quarter_minute_of_the_rate_from_1_to_4() {
    for (rate, want) in [
        (1000.0, 4.0),
        (400.0, 4.0),
        (60.0, 4.0),
        (30.0, 2.0),
        (15.0, 1.0),
        (6.0, 1.0),
        (1.0, 1.0),
    ] {
        assert!(close(burst(rate), want), "{rate}: {}", burst(rate));
    }
}

#[test]
fn refill_earns_tokens_at_the_rate_up_to_a_burst() {
    let t0 = Instant::now();
    // (tokens, counted at, now, rate a minute) → tokens
    let table = [
        (0.0, 0.0, 1.0, 60.0, 1.0),
        (0.0, 0.0, 0.5, 60.0, 0.5),
        (0.0, 0.0, 100.0, 60.0, 4.0),
        (-3.0, 0.0, 2.0, 60.0, -1.0),
        (0.0, 0.0, 0.06, 1000.0, 1.0),
        (1.0, 0.0, 10.0, 6.0, 1.0),
        (0.0, 0.0, 30.0, 6.0, 1.0),
        // Held until 5 s: nothing earned before.
        (0.0, 5.0, 3.0, 60.0, 0.0),
    ];
    for (tokens, at, now, rate, want) in table {
        let (got, from) = refill(tokens, t0 + S(at), t0 + S(now), rate);
        assert!(close(got, want), "{tokens} {at} {now} {rate}: {got}");
        assert_eq!(from, t0 + S(at.max(now)));
    }
}

#[test]
fn a_turn_waits_for_the_missing_part_of_a_token() {
    let t0 = Instant::now();
    // (tokens, counted at, now, rate a minute) → wait (seconds)
    let table = [
        (1.0, 0.0, 0.0, 60.0, 0.0),
        (3.5, 0.0, 0.0, 60.0, 0.0),
        (0.0, 0.0, 0.0, 60.0, 1.0),
        (0.5, 0.0, 0.0, 60.0, 0.5),
        (-2.0, 0.0, 0.0, 60.0, 3.0),
        (0.0, 0.0, 0.0, 30.0, 2.0),
        (0.0, 0.0, 0.0, 1000.0, 0.06),
        // Held until 4 s: the wait starts there.
        (0.0, 4.0, 1.0, 60.0, 4.0),
        (1.0, 4.0, 1.0, 60.0, 3.0),
    ];
    for (tokens, at, now, rate, want) in table {
        let got = turn(tokens, t0 + S(at), t0 + S(now), rate);
        assert!(
            (got.as_secs_f64() - want).abs() < 1e-6,
            "{tokens} {at} {now} {rate}: {got:?}"
        );
    }
}

#[test]
fn a_429_halves_the_rate_down_to_the_floor() {
    // (rate, floor) → rate
    for (rate, floor, want) in [
        (1000.0, 6.0, 500.0),
        (60.0, 6.0, 30.0),
        (10.0, 6.0, 6.0),
        (6.0, 6.0, 6.0),
        // A configured rate under the floor stays.
        (4.0, 6.0, 4.0),
    ] {
        assert!(close(lowered(rate, floor), want), "{rate} {floor}");
    }
}

#[test]
fn the_rate_doubles_back_every_recovery_up_to_the_ceiling() {
    let every = Duration::from_secs(120);
    // (low, ceiling, since) → rate
    for (low, ceiling, since, want) in [
        (30.0, 1000.0, 0.0, 30.0),
        (30.0, 1000.0, 119.0, 30.0),
        (30.0, 1000.0, 120.0, 60.0),
        (30.0, 1000.0, 300.0, 120.0),
        (30.0, 60.0, 600.0, 60.0),
        (6.0, 1000.0, 1e9, 1000.0),
    ] {
        let got = recovered(low, ceiling, S(since), every);
        assert!(close(got, want), "{low} {ceiling} {since}: {got}");
    }
    assert!(close(recovered(6.0, 60.0, S(1.0), Duration::ZERO), 60.0));
}

#[test]
fn without_a_budget_every_request_goes() {
    let b = Bucket::seeded(1);
    let t0 = Instant::now();
    for _ in 0..100 {
        assert_eq!(b.turn(t0, t0, false), Turn::Go);
    }
    // A 429 still holds every request back for its Retry-After, and is counted.
    assert_eq!(b.rejected(t0, t0, Some(S(2.0))), None);
    assert_eq!(b.held(t0), Some(S(2.0)));
    assert_eq!(b.held(t0 + S(2.0)), None);
    assert_eq!(b.rejected_count(), 1);
}

#[test]
fn a_burst_then_one_turn_after_the_other_at_the_rate() {
    let b = Bucket::seeded(1);
    b.limit(limit(60));
    let t0 = Instant::now();
    let far = t0 + S(3600.0);
    let turns: Vec<Turn> = (0..7).map(|_| b.turn(t0, far, false)).collect();
    let waits: Vec<f64> = turns
        .iter()
        .map(|t| match t {
            Turn::Go => 0.0,
            Turn::Wait { wait, epoch: 0 } => wait.as_secs_f64(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(waits, [0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0]);
    // A turn that would come after the deadline is not reserved.
    assert_eq!(
        b.turn(t0, t0 + S(2.0), false),
        Turn::TooLate {
            left: S(2.0),
            per_minute: 60
        }
    );
    assert!(matches!(b.turn(t0, far, false), Turn::Wait { wait, .. } if wait == S(4.0)));
}

#[test]
fn an_urgent_request_never_waits_and_the_others_wait_the_longer() {
    let b = Bucket::seeded(1);
    b.limit(limit(60));
    let t0 = Instant::now();
    let far = t0 + S(3600.0);
    for _ in 0..4 {
        assert_eq!(b.turn(t0, far, false), Turn::Go);
    }
    for _ in 0..3 {
        assert_eq!(b.turn(t0, t0, true), Turn::Go);
    }
    assert!(matches!(b.turn(t0, far, false), Turn::Wait { wait, .. } if wait == S(4.0)));
    // Even while the bucket restarts after a 429.
    b.rejected(t0, t0, Some(S(30.0)));
    assert_eq!(b.turn(t0, t0 + S(1.0), true), Turn::Go);
}

#[test]
fn a_429_lowers_the_rate_once_for_what_was_sent_before_it() {
    let b = Bucket::seeded(7);
    b.limit(limit(60));
    let t0 = Instant::now();
    let far = t0 + S(3600.0);
    let reserved = (0..6)
        .map(|_| b.turn(t0, far, false))
        .filter_map(|t| match t {
            Turn::Wait { epoch, .. } => Some(epoch),
            _ => None,
        })
        .collect::<Vec<_>>();
    assert_eq!(reserved, [0, 0]);
    let first = b.rejected(t0 + S(1.0), t0, Some(S(2.0)));
    assert_eq!(
        first,
        Some(Lowered {
            per_minute: 30,
            first: true,
            platform: "Matillion"
        })
    );
    // The turns reserved before it are void; nothing goes before the Retry-After.
    assert!(!b.still_valid(0));
    assert_eq!(b.held(t0 + S(1.0)), Some(S(2.0)));
    // The others already on their way when it was lowered say nothing new...
    assert_eq!(b.rejected(t0 + S(1.1), t0 + S(0.5), None), None);
    // ...one sent after it lowers it again, quietly.
    let again = b.rejected(t0 + S(5.0), t0 + S(4.0), None);
    assert_eq!(
        again,
        Some(Lowered {
            per_minute: 15,
            first: false,
            platform: "Matillion"
        })
    );
    assert_eq!(b.rejected_count(), 3);
    // Down to the floor (one every 10 s), never below.
    for i in 0..10 {
        let at = t0 + S(10.0 + f64::from(i));
        b.rejected(at, at, None);
    }
    assert!((spacing(&b, t0 + S(30.0)) - 10.0).abs() < 1e-6);
}

/// How far apart two turns come at `at` once the bucket is spent.
fn spacing(b: &Bucket, at: Instant) -> f64 {
    let far = at + S(3600.0);
    while b.turn(at, far, false) == Turn::Go {}
    match (b.turn(at, far, false), b.turn(at, far, false)) {
        (Turn::Wait { wait: a, .. }, Turn::Wait { wait: c, .. }) => (c - a).as_secs_f64(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn after_a_429_the_bucket_restarts_past_the_retry_after_within_one_interval() {
    for seed in 0..20 {
        let b = Bucket::seeded(seed);
        b.limit(limit(60));
        let t0 = Instant::now();
        b.rejected(t0, t0, Some(S(3.0)));
        // Now 30 a minute: the first turn after the hold, within one interval (2 s) of
        // its end, plus the token's own interval.
        let Turn::Wait { wait, epoch: 1 } = b.turn(t0, t0 + S(60.0), false) else {
            panic!("no wait");
        };
        assert!(wait >= S(5.0) && wait < S(7.0), "{wait:?}");
    }
    // Different offsets for different draws: no herd.
    let waits: std::collections::BTreeSet<u128> = (0..20)
        .map(|seed| {
            let b = Bucket::seeded(seed);
            b.limit(limit(60));
            let t0 = Instant::now();
            b.rejected(t0, t0, Some(S(3.0)));
            match b.turn(t0, t0 + S(60.0), false) {
                Turn::Wait { wait, .. } => wait.as_millis(),
                other => panic!("{other:?}"),
            }
        })
        .collect();
    assert!(waits.len() > 10, "{waits:?}");
}

#[test]
fn the_rate_recovers_after_two_minutes_without_a_429() {
    let t0 = Instant::now();
    let lowered_twice = || {
        let b = Bucket::seeded(3);
        b.limit(limit(60));
        b.rejected(t0, t0, None);
        b.rejected(t0 + S(1.0), t0 + S(1.0), None);
        b
    };
    // 15 a minute: 4 s apart, for two minutes after the last lowering...
    assert!((spacing(&lowered_twice(), t0 + S(60.0)) - 4.0).abs() < 1e-6);
    assert!((spacing(&lowered_twice(), t0 + S(120.0)) - 4.0).abs() < 1e-6);
    // ...then 30, then 60 (the rate configured), and no more.
    assert!((spacing(&lowered_twice(), t0 + S(121.0)) - 2.0).abs() < 1e-6);
    assert!((spacing(&lowered_twice(), t0 + S(241.0)) - 1.0).abs() < 1e-6);
    assert!((spacing(&lowered_twice(), t0 + S(3600.0)) - 1.0).abs() < 1e-6);
}

#[test]
fn the_same_budget_again_changes_nothing() {
    let b = Bucket::seeded(1);
    b.limit(limit(60));
    let t0 = Instant::now();
    for _ in 0..4 {
        assert_eq!(b.turn(t0, t0, false), Turn::Go);
    }
    b.limit(limit(60));
    assert!(matches!(b.turn(t0, t0 + S(9.0), false), Turn::Wait { .. }));
}
