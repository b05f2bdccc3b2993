//! The decision as a table: no clock, no server.

use super::*;

const S: Duration = Duration::from_secs(1);

fn status(code: u16, retry_after: Option<Duration>) -> Failed {
    let problem = Box::new(Problem {
        status: code,
        ..Problem::default()
    });
    Failed::Status {
        said: format!("the status poll answered {problem}"),
        problem,
        retry_after,
    }
}

/// Rules at `t0 + now` with `left` until the deadline and a backoff step of `step`.
fn rules(t0: Instant, now: Duration, left: Duration, step: Duration) -> Rules<'static> {
    Rules {
        repeatable: true,
        fresh_credential: false,
        reached: true,
        origin: "https://au1.api.matillion.com",
        connect_window: 120 * S,
        sent: t0 + now,
        now: t0 + now,
        deadline: t0 + now + left,
        step,
    }
}

fn retry_after(v: &Verdict) -> Option<Duration> {
    match v {
        Verdict::Retry { after, .. } => Some(*after),
        _ => None,
    }
}

#[test]
fn waits_after_429_and_503_have_a_floor() {
    let t0 = Instant::now();
    let step = Duration::from_millis(800);
    // (status, Retry-After, expected wait): zero is no hint; a short hint is stretched to
    // the step; a long one is kept.
    let table = [
        (429, None, step),
        (429, Some(Duration::ZERO), step),
        (429, Some(Duration::from_millis(300)), step),
        (429, Some(2 * S), 2 * S),
        (503, Some(Duration::ZERO), step),
        (503, Some(5 * S), 5 * S),
        (502, None, step),
    ];
    for (code, hint, want) in table {
        let v = decide(
            status(code, hint),
            &rules(t0, S, 60 * S, step),
            &mut Tally::default(),
        );
        assert_eq!(retry_after(&v), Some(want), "{code} {hint:?}: {v:?}");
    }
}

#[test]
fn only_a_429_that_says_how_long_holds_back_the_others() {
    let t0 = Instant::now();
    let r = rules(t0, S, 60 * S, S);
    let hold = |f| match decide(f, &r, &mut Tally::default()) {
        Verdict::Retry { hold, .. } => hold,
        v => panic!("{v:?}"),
    };
    assert_eq!(hold(status(429, Some(3 * S))), Some(3 * S));
    assert_eq!(hold(status(429, Some(Duration::ZERO))), None);
    assert_eq!(hold(status(503, Some(3 * S))), None);
}

#[test]
fn a_hint_longer_than_the_time_left_is_waited_out_a_zero_never_is() {
    let t0 = Instant::now();
    let v = decide(
        status(429, Some(3600 * S)),
        &rules(t0, S, 8 * S, S),
        &mut Tally::default(),
    );
    assert_eq!(
        v,
        Verdict::WaitOut {
            wait: 8 * S,
            why: "the status poll answered 429 Too Many Requests; the platform asked to wait 1h (Retry-After), longer than the time left".into(),
            hold: Some(3600 * S),
        }
    );
    // "Now" with less time left than the step: the deadline, saying what kept failing.
    let v = decide(
        status(429, Some(Duration::ZERO)),
        &rules(t0, S, Duration::from_millis(300), S),
        &mut Tally::default(),
    );
    assert_eq!(
        v,
        Verdict::GiveUp(HttpError::Deadline(
            "the status poll answered 429 Too Many Requests".into()
        ))
    );
}

#[test]
fn what_is_never_retried() {
    let t0 = Instant::now();
    let r = rules(t0, S, 60 * S, S);
    let trigger = Rules {
        repeatable: false,
        ..r
    };
    let give_up = |f, r: &Rules<'_>| match decide(f, r, &mut Tally::default()) {
        Verdict::GiveUp(e) => e,
        v => panic!("{v:?}"),
    };
    assert!(matches!(
        give_up(status(404, None), &r),
        HttpError::Refused(p) if p.status == 404
    ));
    assert!(matches!(
        give_up(status(302, None), &r),
        HttpError::Refused(_)
    ));
    assert!(matches!(
        give_up(status(401, None), &r),
        HttpError::Refused(_)
    ));
    assert!(matches!(
        give_up(status(502, None), &trigger),
        HttpError::Ambiguous(m) if m == "the status poll answered 502 Bad Gateway"
    ));
    assert!(matches!(
        give_up(Failed::Lost("reset".into()), &trigger),
        HttpError::Ambiguous(_)
    ));
    assert!(matches!(
        give_up(Failed::Unusable("html".into()), &trigger),
        HttpError::Ambiguous(_)
    ));
    assert!(matches!(
        give_up(Failed::Untrusted("cert".into()), &r),
        HttpError::Untrusted(_)
    ));
    // The trigger is retried on a 429 and when it was not sent.
    assert!(retry_after(&decide(status(429, None), &trigger, &mut Tally::default())).is_some());
    assert!(
        retry_after(&decide(
            Failed::NotSent("refused".into()),
            &trigger,
            &mut Tally::default()
        ))
        .is_some()
    );
    // A first 401 with a new credential to be had: once more at once.
    let fresh = Rules {
        fresh_credential: true,
        ..r
    };
    assert_eq!(
        decide(status(401, None), &fresh, &mut Tally::default()),
        Verdict::Refresh
    );
}

#[test]
fn an_unusable_body_is_tried_a_few_times() {
    let t0 = Instant::now();
    let r = rules(t0, S, 60 * S, S);
    let mut tally = Tally::default();
    for _ in 1..UNUSABLE_BODY_ATTEMPTS {
        let v = decide(Failed::Unusable("html".into()), &r, &mut tally);
        assert_eq!(retry_after(&v), Some(S), "{v:?}");
    }
    assert_eq!(
        decide(Failed::Unusable("html".into()), &r, &mut tally),
        Verdict::GiveUp(HttpError::Unusable(
            "html; 4 replies in a row could not be used".into()
        ))
    );
}

#[test]
fn a_host_that_never_answered_gets_its_window_and_one_last_attempt() {
    let t0 = Instant::now();
    let mut tally = Tally::default();
    let never = |now, step| Rules {
        reached: false,
        ..rules(t0, now, 7200 * S, step)
    };
    let v = decide(
        Failed::NotSent("dns".into()),
        &never(Duration::ZERO, S),
        &mut tally,
    );
    assert_eq!(retry_after(&v), Some(S));
    assert_eq!(tally.unreached_since, Some(t0));
    // Near the end of the window, the wait is cut to end with it.
    let v = decide(
        Failed::NotSent("dns".into()),
        &never(110 * S, 30 * S),
        &mut tally,
    );
    assert_eq!(retry_after(&v), Some(10 * S));
    match decide(
        Failed::NotSent("the project list could not reach au1.api.matillion.com: dns".into()),
        &never(120 * S, 30 * S),
        &mut tally,
    ) {
        Verdict::GiveUp(HttpError::Unreachable(m)) => assert!(
            m.starts_with(
                "could not connect to https://au1.api.matillion.com for 2m (the project list could not reach au1.api.matillion.com: dns)"
            ),
            "{m}"
        ),
        v => panic!("{v:?}"),
    }
}

#[test]
fn a_negative_or_past_retry_after_reads_as_no_wait_which_the_floor_ignores() {
    use super::super::attempt::parse_retry_after;
    let now = std::time::UNIX_EPOCH + Duration::from_secs(784_111_777);
    assert_eq!(parse_retry_after("-5", now), None);
    let past = parse_retry_after("Sun, 06 Nov 1994 07:49:37 GMT", now);
    assert_eq!(past, Some(Duration::ZERO));
    let t0 = Instant::now();
    let step = Duration::from_millis(700);
    for hint in [None, past, parse_retry_after("0", now)] {
        let v = decide(
            status(429, hint),
            &rules(t0, S, 60 * S, step),
            &mut Tally::default(),
        );
        assert_eq!(
            v,
            Verdict::Retry {
                after: step,
                why: "the status poll answered 429 Too Many Requests".into(),
                hold: None
            },
            "{hint:?}"
        );
    }
}
