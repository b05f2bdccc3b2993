use super::*;
use crate::clock::SimClock;
use crate::model::{PlatformKind, RunReport};
use crate::platform::CancelAck;
use crate::wait::Waiter;

/// One answer of the list.
type Answer = Result<Vec<(String, RunState)>, Failure>;

/// A platform whose list answers what the test says (the last answer again when there
/// is no other), noting each look (and the simulated time it was made at, with a clock).
#[derive(Default)]
struct Listing {
    answer: Mutex<Vec<Answer>>,
    looks: Mutex<Vec<(SystemTime, Option<String>)>>,
    clock: Option<Arc<SimClock>>,
    at: Mutex<Vec<Duration>>,
}

impl Listing {
    fn then(&self, answer: Answer) {
        self.answer.lock().unwrap().push(answer);
    }
}

impl Platform for Listing {
    fn kind(&self) -> PlatformKind {
        PlatformKind::Matillion
    }
    fn prepare(&self, _: Budget, _: &mut RunReport) -> Result<(), Failure> {
        Ok(())
    }
    fn check(&self, _: Budget) -> Result<Vec<String>, Failure> {
        Ok(Vec::new())
    }
    fn trigger(&self, _: &Waiter<'_>, _: &mut RunReport) -> Result<String, Failure> {
        Err(Failure::Refused("no".into()))
    }
    fn status(&self, _: &str, _: Budget) -> Result<RunState, Failure> {
        Err(Failure::Refused("the board never reads a status".into()))
    }
    fn list_states(
        &self,
        since: SystemTime,
        environment: Option<&str>,
        _: Budget,
    ) -> Result<Vec<(String, RunState)>, Failure> {
        self.looks
            .lock()
            .unwrap()
            .push((since, environment.map(str::to_string)));
        if let Some(c) = &self.clock {
            self.at.lock().unwrap().push(c.elapsed());
        }
        let mut a = self.answer.lock().unwrap();
        match a.len() {
            0 => Ok(Vec::new()),
            1 => a[0].clone(),
            _ => a.remove(0),
        }
    }
    fn collect(&self, _: &str, _: Budget, _: &mut RunReport) -> Result<(), Failure> {
        Ok(())
    }
    fn cancel(&self, _: &str, _: Budget) -> Result<CancelAck, Failure> {
        Ok(CancelAck::Accepted)
    }
}

const POLL: Duration = Duration::from_secs(5);
const MAX: Duration = Duration::from_secs(30);

fn running(status: &str) -> RunState {
    RunState {
        status: status.into(),
        phase: Phase::Running,
    }
}

fn ended(status: &str) -> RunState {
    RunState {
        status: status.into(),
        phase: if status == "SUCCESS" {
            Phase::Succeeded
        } else {
            Phase::Failed
        },
    }
}

fn board(listing: &Arc<Listing>) -> Board {
    let deadline = Instant::now() + Duration::from_secs(3600);
    Board::new(
        listing.clone(),
        (POLL, MAX),
        Duration::from_secs(6),
        deadline,
        7,
    )
}

fn joining(id: &str, env: &str, since: SystemTime, started: Instant) -> Joining {
    Joining {
        id: id.into(),
        environment: Some(env.into()),
        since,
        started,
        policy: Policy::new(&[], POLL, MAX, 1),
    }
}

/// A status read that must not happen.
fn no_read() -> Result<RunState, Failure> {
    panic!("a status read where the list's state should do")
}

#[test]
fn only_a_listed_running_state_is_used_as_is() {
    assert_eq!(
        look(Some(&Sighting::Listed(running("QUEUED")))),
        Look::Use(running("QUEUED"))
    );
    for other in [
        Some(Sighting::Listed(ended("SUCCESS"))),
        Some(Sighting::Listed(ended("FAILED"))),
        Some(Sighting::Missing),
        Some(Sighting::Unlisted),
        None,
    ] {
        assert_eq!(look(other.as_ref()), Look::Read, "{other:?}");
    }
}

#[test]
fn one_look_tells_every_run_and_an_end_is_confirmed_by_its_own_read() {
    let listing = Arc::new(Listing::default());
    let b = board(&listing);
    let clock = SimClock::new();
    let (now, wall) = (clock.now(), clock.wall());
    let early = wall - Duration::from_secs(9);
    let a = b.join(joining("a", "prod", wall, now), now).unwrap();
    let c = b.join(joining("c", "prod", early, now), now).unwrap();
    let d = b.join(joining("d", "prod", wall, now), now).unwrap();
    listing.then(Ok(vec![
        ("a".into(), running("RUNNING")),
        ("x".into(), ended("SUCCESS")),
        ("c".into(), ended("SUCCESS")),
    ]));
    b.tick(clock.as_ref());
    // One look for the three, from the earliest trigger, in their one environment.
    assert_eq!(
        *listing.looks.lock().unwrap(),
        [(early, Some("prod".to_string()))]
    );
    assert_eq!(a.read(no_read), Ok(running("RUNNING")));
    // Shown ended: its own read decides (here: still running, so it goes on).
    let mut reads = 0;
    let confirm = || {
        reads += 1;
        Ok(running("RUNNING"))
    };
    assert_eq!(c.read(confirm), Ok(running("RUNNING")));
    assert_eq!(reads, 1);
    // Missing from the list: read directly.
    assert_eq!(d.read(|| Ok(ended("FAILED"))), Ok(ended("FAILED")));
    // News is used once: no new look, a look reads the run itself.
    assert_eq!(a.read(|| Ok(running("X"))), Ok(running("X")));
}

#[test]
fn a_list_that_fails_sends_every_run_to_its_own_read_then_turns_the_board_off() {
    let listing = Arc::new(Listing::default());
    let b = board(&listing);
    let clock = SimClock::new();
    let now = clock.now();
    let seat = b
        .join(joining("a", "prod", clock.wall(), now), now)
        .unwrap();
    for n in 1..=FAILURES_TO_STOP {
        listing.then(Err(Failure::Unreachable("down".into())));
        b.tick(clock.as_ref());
        assert_eq!(seat.read(|| Ok(running("RUNNING"))), Ok(running("RUNNING")));
        assert_eq!(b.off(), n == FAILURES_TO_STOP, "after {n} failures");
    }
    // Off: the seat polls on its own schedule, and no one else can join.
    let mut pace = &seat;
    let gap = pace.next_gap(Duration::from_secs(10));
    assert!(gap >= POLL && gap <= POLL.mul_f64(1.1), "{gap:?}");
    assert!(!pace.rests_first());
    assert_eq!(pace.rest(clock.as_ref(), gap), Ok(false));
    assert!(
        b.join(joining("b", "prod", clock.wall(), now), now)
            .is_none()
    );
}

#[test]
fn a_refused_list_turns_the_board_off_at_once() {
    let listing = Arc::new(Listing::default());
    let b = board(&listing);
    let clock = SimClock::new();
    let now = clock.now();
    let seat = b
        .join(joining("a", "prod", clock.wall(), now), now)
        .unwrap();
    listing.then(Err(Failure::Refused("403".into())));
    b.tick(clock.as_ref());
    assert!(b.off());
    assert_eq!(seat.read(|| Ok(running("R"))), Ok(running("R")));
}

#[test]
fn runs_in_several_environments_are_listed_without_the_filter() {
    let listing = Arc::new(Listing::default());
    let b = board(&listing);
    let clock = SimClock::new();
    let (now, wall) = (clock.now(), clock.wall());
    let _a = b.join(joining("a", "prod", wall, now), now).unwrap();
    let _c = b.join(joining("c", "dev", wall, now), now).unwrap();
    b.tick(clock.as_ref());
    assert_eq!(*listing.looks.lock().unwrap(), [(wall, None)]);
}

#[test]
fn a_run_that_joins_brings_the_next_look_forward_and_leaving_empties_the_plan() {
    let listing = Arc::new(Listing::default());
    let b = board(&listing);
    let clock = SimClock::new();
    let now = clock.now();
    // Runs of about ten minutes with history, two minutes in: looks far apart.
    let history: Vec<Duration> = (0..20).map(|i| Duration::from_secs(590 + i)).collect();
    let mut far = joining("a", "prod", clock.wall(), now);
    far.policy = Policy::new(&history, POLL, MAX, 1);
    let later = now + Duration::from_secs(120);
    let a = b
        .join(
            Joining {
                started: now,
                ..far
            },
            later,
        )
        .unwrap();
    let first = b.lock().due.unwrap();
    assert!(
        first > later + Duration::from_secs(10),
        "{:?}",
        first - later
    );
    // A new run without history asks for a look within poll-interval.
    let c = b
        .join(joining("c", "prod", clock.wall(), later), later)
        .unwrap();
    let second = b.lock().due.unwrap();
    assert!(second <= later + POLL.mul_f64(1.1), "{:?}", second - later);
    drop(a);
    drop(c);
    assert_eq!(b.lock().due, None);
    assert!(b.lock().entries.is_empty());
}

#[test]
fn the_thread_looks_when_due_and_the_seat_hears_it_then_a_close_ends_it() {
    let clock = SimClock::new();
    let listing = Arc::new(Listing {
        clock: Some(clock.clone()),
        ..Listing::default()
    });
    let b = Arc::new(board(&listing));
    let now = clock.now();
    let seat = b
        .join(joining("a", "prod", clock.wall(), now), now)
        .unwrap();
    listing.then(Ok(vec![("a".into(), running("RUNNING"))]));
    std::thread::scope(|s| {
        let (b2, c2) = (b.clone(), clock.clone());
        let thread = s.spawn(move || b2.run(c2.as_ref(), Duration::from_millis(100)));
        let mut pace = &seat;
        assert!(pace.rests_first());
        // Wait for the news (real time: the thread's sleeps are simulated).
        let mut heard = false;
        for _ in 0..200 {
            if pace.rest(clock.as_ref(), Duration::from_millis(50)) == Ok(true) {
                heard = true;
                break;
            }
        }
        assert!(heard, "no news from the board's thread");
        assert_eq!(seat.read(no_read), Ok(running("RUNNING")));
        b.close();
        thread.join().unwrap();
    });
    // The first look came when due: a poll-interval (±10%) after the run joined, and the
    // next ones as often (the thread's sleeps are simulated, so it may have made several).
    let at = listing.at.lock().unwrap().clone();
    assert!(!at.is_empty());
    assert!(
        at[0] >= POLL.mul_f64(0.9) && at[0] <= POLL.mul_f64(1.1) + Duration::from_millis(100),
        "{at:?}"
    );
    for w in at.windows(2) {
        assert!(w[1] - w[0] >= POLL.mul_f64(0.9), "{at:?}");
    }
}

#[test]
fn the_looks_take_at_most_a_quarter_of_the_request_budget() {
    // 60 a minute: a look every 4 s at most; 1,000: every 0.24 s (the schedule decides).
    assert_eq!(budget_gap(Some(60.0), MAX), Duration::from_secs(4));
    assert_eq!(budget_gap(Some(1000.0), MAX), Duration::from_millis(240));
    // Lowered to 6 a minute by 429s: still never past max-poll-interval.
    assert_eq!(budget_gap(Some(6.0), MAX), MAX);
    assert_eq!(budget_gap(None, MAX), Duration::ZERO);
    assert_eq!(budget_gap(Some(0.0), MAX), Duration::ZERO);
}
