//! The request budget in the client, against loopback servers on the simulated clock:
//! requests paced at the rate, a 429 that holds back every clone and lowers the rate,
//! urgent requests that never wait, and a turn that would come after the deadline.

use super::*;
use crate::clock::SimClock;

const SECOND: Duration = Duration::from_secs(1);

fn limited(per_minute: u32) -> (Http, Arc<SimClock>) {
    let clock = SimClock::new();
    let http = Http::new(clock.clone());
    http.limit_rate(Limit {
        per_minute,
        floor: Duration::from_secs(10),
        recovery: Duration::from_secs(120),
        platform: "Matillion",
    });
    (http, clock)
}

fn get(server: &mockito::Server, path: &str) -> Request {
    Request::get(format!("{}{path}", server.url()), "the status poll")
}

fn within(clock: &SimClock, secs: u64) -> Budget {
    Budget::until(clock.now() + Duration::from_secs(secs))
}

#[test]
fn a_429_holds_back_every_clone_of_the_client() {
    let mut server = mockito::Server::new();
    let limited = server
        .mock("GET", "/a")
        .with_status(429)
        .with_header("Retry-After", "30")
        .expect(1)
        .create();
    let other = server.mock("GET", "/b").with_body("{}").expect(1).create();
    let clock = SimClock::new();
    let http = Http::new(clock.clone());
    let twin = http.clone().with_clock(clock.clone());
    // Told to wait longer than its budget: it waits to its deadline and gives up...
    let got = http.send(&get(&server, "/a"), &NoAuth, within(&clock, 10));
    assert!(matches!(got, Err(HttpError::Deadline(_))), "{got:?}");
    assert_eq!(clock.sleeps(), [10 * SECOND]);
    // ...and the other pipeline's next request waits out the rest of the Retry-After.
    let got = twin.send(&get(&server, "/b"), &NoAuth, within(&clock, 60));
    assert!(got.is_ok(), "{got:?}");
    assert_eq!(clock.sleeps(), [10 * SECOND, 20 * SECOND]);
    assert_eq!(twin.rejected_requests(), 1);
    limited.assert();
    other.assert();
}

#[test]
fn requests_go_in_a_burst_then_at_the_rate_whichever_clone_sends_them() {
    let mut server = mockito::Server::new();
    let ok = server.mock("GET", "/s").with_body("{}").expect(7).create();
    let (http, clock) = limited(60);
    let twin = http.clone().with_clock(clock.clone());
    for i in 0..7 {
        let client = if i % 2 == 0 { &http } else { &twin };
        client
            .send(&get(&server, "/s"), &NoAuth, within(&clock, 60))
            .unwrap();
    }
    // A burst of 4, then one a second: on one clock, each waits one interval.
    assert_eq!(clock.sleeps(), [SECOND, SECOND, SECOND]);
    ok.assert();
}

#[test]
fn a_cancel_and_the_clean_up_after_a_signal_never_wait_for_a_token() {
    let mut server = mockito::Server::new();
    let ok = server.mock("GET", "/s").with_body("{}").expect(8).create();
    let (http, clock) = limited(6);
    // Six a minute: a burst of one, then ten seconds a token.
    http.send(&get(&server, "/s"), &NoAuth, within(&clock, 60))
        .unwrap();
    let mut cancel = get(&server, "/s");
    cancel.urgent = true;
    let after_signal = Budget {
        deadline: clock.now() + SECOND,
        interruptible: false,
    };
    for _ in 0..3 {
        http.send(&cancel, &NoAuth, within(&clock, 1)).unwrap();
        http.send(&get(&server, "/s"), &NoAuth, after_signal)
            .unwrap();
    }
    assert!(clock.sleeps().is_empty(), "{:?}", clock.sleeps());
    // The next ordinary request waits the longer: behind the seven tokens taken.
    http.send(&get(&server, "/s"), &NoAuth, within(&clock, 3600))
        .unwrap();
    assert_eq!(clock.sleeps(), [70 * SECOND]);
    ok.assert();
}

#[test]
fn a_429_lowers_the_rate_for_every_clone_and_the_next_requests_are_spread() {
    let mut server = mockito::Server::new();
    let rejected = server
        .mock("GET", "/s")
        .with_status(429)
        .with_header("Retry-After", "2")
        .expect(1)
        .create();
    let ok = server.mock("GET", "/s").with_body("{}").expect(5).create();
    let (http, clock) = limited(60);
    let twin = http.clone().with_clock(clock.clone());
    for _ in 0..3 {
        twin.send(&get(&server, "/s"), &NoAuth, within(&clock, 60))
            .unwrap();
    }
    // The 429's own Retry-After (2 s); then the bucket restarts at a random offset within
    // one interval of the new rate (30 a minute: 2 s), and the retry waits one interval;
    // then one interval each.
    let sleeps = clock.sleeps();
    assert_eq!(sleeps[0], 2 * SECOND, "{sleeps:?}");
    assert!(
        sleeps[1] >= 2 * SECOND && sleeps[1] < 4 * SECOND,
        "{sleeps:?}"
    );
    assert_eq!(sleeps[2..], [2 * SECOND, 2 * SECOND]);
    assert_eq!(http.rejected_requests(), 1);
    rejected.assert();
    // The others, on another clone, at 30 a minute.
    let before = clock.sleeps().len();
    http.send(&get(&server, "/s"), &NoAuth, within(&clock, 60))
        .unwrap();
    http.send(&get(&server, "/s"), &NoAuth, within(&clock, 60))
        .unwrap();
    assert_eq!(clock.sleeps()[before..], [2 * SECOND, 2 * SECOND]);
    ok.assert();
}

#[test]
fn a_turn_after_the_deadline_is_waited_to_the_deadline_and_not_sent() {
    let mut server = mockito::Server::new();
    let ok = server.mock("GET", "/s").with_body("{}").expect(1).create();
    let (http, clock) = limited(6);
    http.send(&get(&server, "/s"), &NoAuth, within(&clock, 60))
        .unwrap();
    let got = http.send(&get(&server, "/s"), &NoAuth, within(&clock, 4));
    assert_eq!(
        got.err(),
        Some(HttpError::Deadline(
            "the status poll: its turn in the request budget (6 requests a minute) would have come after its deadline".into()
        ))
    );
    assert_eq!(clock.sleeps(), [4 * SECOND]);
    ok.assert();
}

#[test]
fn a_signal_ends_the_wait_for_a_turn() {
    let mut server = mockito::Server::new();
    let ok = server.mock("GET", "/s").with_body("{}").expect(1).create();
    let (http, clock) = limited(6);
    http.send(&get(&server, "/s"), &NoAuth, within(&clock, 60))
        .unwrap();
    clock.signal_at(clock.elapsed() + 3 * SECOND, crate::clock::Signal::Int);
    let got = http.send(&get(&server, "/s"), &NoAuth, within(&clock, 60));
    assert_eq!(
        got.err(),
        Some(HttpError::Interrupted(crate::clock::Signal::Int))
    );
    ok.assert();
}
