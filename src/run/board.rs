//! The poll board: while several runs go, one request to the list of executions tells
//! every run's status at once ([`Platform::list_states`]), instead of one status poll per
//! run. Each worker takes a [`Seat`] with the id of the run it follows; one thread
//! ([`Board::run`]) looks at the list at each tick and publishes what it says of every
//! run; a worker waits on its seat instead of polling on its own schedule.
//!
//! - **Only a run's own status read ends it.** A run the list shows running is taken as
//!   running, with no request of its own. A run the list shows ended is read with its own
//!   status at once (ahead of the next tick, so it is noticed as soon as it would be on its
//!   own), and that read decides. A run missing from the list (a new execution the list
//!   has not caught up with, or one beyond its last page) is read directly, as is every run
//!   when the list could not be read.
//! - **When.** The tick follows the runs' combined chance of ending: the square root of
//!   their hazards summed over the runs still going ([`crate::poll::shared_gap`]), each
//!   run's from its own history. A new run brings the next tick forward when its schedule
//!   asks for it sooner. The looks take at most [`LOOK_SHARE`] of the request budget
//!   (`rate-limit`, or what 429s lowered it to: [`budget_gap`]). No gap is longer than `max-poll-interval`; a seat that hears
//!   nothing for longer than that and a few seconds (a look held by a `429`) reads its run
//!   itself.
//! - **Off.** The list failing [`FAILURES_TO_STOP`] times in a row, a refusal, or a
//!   signal turns the board off for good: every run polls its own status on its own
//!   schedule from then on, as it does alone.
//!
//! One pipeline alone never takes a seat: its wait is the one it always was. Nor does a
//! step that runs one pipeline at a time (`max-parallel: 1`), a run `wait` follows, or a
//! platform without such a list (Datalab runs one pipeline per step). The internal
//! variable [`PER_RUN_KNOB`] (`1`) keeps every run on its own polls and its own lookup of
//! past runs, as before the board, for the benchmark's side-by-side comparison; it is not
//! an input.

use crate::clock::{Clock, Signal, Wake};
use crate::http::Budget;
use crate::platform::Platform;
use crate::poll::{Policy, SplitMix64, shared_gap};
use crate::wait::{Failure, Pace, Phase, RunState};
use std::cell::{Cell, RefCell};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

/// The list failing this many times in a row turns the board off.
pub(crate) const FAILURES_TO_STOP: u32 = 3;
/// Internal, for the benchmark only: `1` keeps every run on its own status polls and its
/// own lookup of past runs.
pub(crate) const PER_RUN_KNOB: &str = "PIPELINE_RUN_PER_RUN_POLLS";
/// A seat waits for news in slices this long (real time), looking for a signal between.
const SLICE: Duration = Duration::from_millis(50);

/// What the last look at the list said of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sighting {
    /// The list shows it, with this state.
    Listed(RunState),
    /// The list does not show it.
    Missing,
    /// The list could not be read.
    Unlisted,
}

/// What a seat does at a look: use the list's state as is, or read the run's own status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Look {
    /// The list shows it running.
    Use(RunState),
    /// Anything else: shown ended (confirm it), missing, the list failed, or no news.
    Read,
}

/// The share of the request budget the looks take at most: the rest is the runs' own
/// (triggers, confirming reads, details and steps, live progress) and other jobs' on the
/// same account.
pub(crate) const LOOK_SHARE: f64 = 0.25;

/// The shortest gap between two looks that keeps them within [`LOOK_SHARE`] of the
/// request budget's rate now (`rate`, requests a minute; `None`: no budget), at most
/// `max-poll-interval`.
pub(crate) fn budget_gap(rate: Option<f64>, max: Duration) -> Duration {
    match rate.filter(|r| *r > 0.0 && r.is_finite()) {
        Some(r) => Duration::from_secs_f64(60.0 / (r * LOOK_SHARE)).min(max),
        None => Duration::ZERO,
    }
}

/// The decision of a look, from the news for a run (`None`: no news since the last look).
pub(crate) fn look(news: Option<&Sighting>) -> Look {
    match news {
        Some(Sighting::Listed(s)) if s.phase == Phase::Running => Look::Use(s.clone()),
        _ => Look::Read,
    }
}

/// One run on the board.
struct Entry {
    ticket: u64,
    id: String,
    environment: Option<String>,
    /// When its trigger was sent (wall clock): the list is asked from the earliest.
    since: SystemTime,
    /// When it started (for its schedule).
    started: Instant,
    /// Its own schedule, for its rate.
    policy: Policy,
    /// The last tick's news for it, with the tick's number.
    news: Option<(u64, Sighting)>,
}

/// What the board holds.
struct State {
    entries: Vec<Entry>,
    ticks: u64,
    tickets: u64,
    /// When the next tick is due (`None`: no run to look at).
    due: Option<Instant>,
    failures: u32,
    off: bool,
    closed: bool,
    said: bool,
    rng: SplitMix64,
}

impl State {
    /// The news for `ticket` newer than tick `seen`.
    fn news_after(&self, ticket: u64, seen: u64) -> Option<&(u64, Sighting)> {
        self.entries
            .iter()
            .find(|e| e.ticket == ticket)
            .and_then(|e| e.news.as_ref())
            .filter(|(tick, _)| *tick > seen)
    }
}

/// The runs going, the list's news of them, and when to look again. See the module
/// documentation.
pub(crate) struct Board {
    state: Mutex<State>,
    news: Condvar,
    platform: Arc<dyn Platform>,
    poll_interval: Duration,
    max_poll_interval: Duration,
    /// A seat that hears nothing for this long reads its run itself.
    backstop: Duration,
    /// The step's deadline: a look may last until it (a `429` is waited out; any other
    /// error is answered at once).
    deadline: Instant,
}

impl Board {
    /// A board looking with `platform` (any client of the step: they share the project),
    /// on the step's `poll-interval` and `max-poll-interval`, until `deadline`; a seat
    /// that hears nothing for `max-poll-interval` and `slack` reads its run itself; `seed`
    /// seeds the ticks' jitter.
    pub(crate) fn new(
        platform: Arc<dyn Platform>,
        intervals: (Duration, Duration),
        slack: Duration,
        deadline: Instant,
        seed: u64,
    ) -> Self {
        let (poll_interval, max_poll_interval) = intervals;
        Self {
            state: Mutex::new(State {
                entries: Vec::new(),
                ticks: 0,
                tickets: 0,
                due: None,
                failures: 0,
                off: false,
                closed: false,
                said: false,
                rng: SplitMix64(seed),
            }),
            news: Condvar::new(),
            platform,
            poll_interval,
            max_poll_interval,
            backstop: max_poll_interval + slack,
            deadline,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A seat for run `id` (in `environment`, triggered at `since`, started at `started`),
    /// waiting on the board with `policy`'s rate and polling on a copy of it if the board
    /// goes off; `None` when the board is off already.
    pub(crate) fn join(&self, run: Joining, now: Instant) -> Option<Seat<'_>> {
        let mut st = self.lock();
        if st.off || st.closed {
            return None;
        }
        st.tickets += 1;
        let ticket = st.tickets;
        let own = run.policy.clone();
        st.entries.push(Entry {
            ticket,
            id: run.id,
            environment: run.environment,
            since: run.since,
            started: run.started,
            policy: run.policy,
            news: None,
        });
        // The new run's schedule may ask for a look sooner than the one planned.
        let soon = now + self.gap(&mut st, now);
        st.due = Some(st.due.map_or(soon, |d| d.min(soon)));
        drop(st);
        Some(Seat {
            board: self,
            ticket,
            seen: Cell::new(0),
            own: RefCell::new(own),
        })
    }

    /// The gap to the next tick after one at `now`, for the runs on the board: their
    /// shared schedule, no shorter than the request budget's share allows
    /// ([`budget_gap`]).
    fn gap(&self, st: &mut State, now: Instant) -> Duration {
        let runs: Vec<(&Policy, Duration)> = st
            .entries
            .iter()
            .map(|e| (&e.policy, now.saturating_duration_since(e.started)))
            .collect();
        let draw = st.rng.next_f64();
        let gap = shared_gap(&runs, self.poll_interval, self.max_poll_interval, draw);
        let rate = self.platform.request_rate();
        gap.max(budget_gap(rate, self.max_poll_interval))
    }

    fn leave(&self, ticket: u64) {
        let mut st = self.lock();
        st.entries.retain(|e| e.ticket != ticket);
        if st.entries.is_empty() {
            st.due = None;
        }
    }

    /// Stop the board (every run has ended, or a signal came): seats fall back to their
    /// own polls.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.news.notify_all();
    }

    /// The board's thread: a look at the list whenever one is due, until the board is
    /// closed or turned off. Sleeps on `clock` at most `slice` at a time, so that a run
    /// that joins brings the next look forward.
    pub(crate) fn run(&self, clock: &dyn Clock, slice: Duration) {
        loop {
            let due = {
                let st = self.lock();
                if st.closed || st.off {
                    return;
                }
                st.due
            };
            let now = clock.now();
            match due {
                Some(at) if at <= now => self.tick(clock),
                _ => {
                    let left = due.map_or(slice, |at| at.saturating_duration_since(now));
                    if let Wake::Signal(s) = clock.sleep(left.min(slice)) {
                        self.turn_off(&format!("interrupted by {s}"));
                        return;
                    }
                }
            }
        }
    }

    /// One look at the list, published to every seat on the board when it was made.
    fn tick(&self, clock: &dyn Clock) {
        let (tickets, since, environment) = {
            let st = self.lock();
            let since = st.entries.iter().map(|e| e.since).min();
            let first = st.entries.first().and_then(|e| e.environment.clone());
            let same = st.entries.iter().all(|e| e.environment == first);
            let tickets: Vec<u64> = st.entries.iter().map(|e| e.ticket).collect();
            (tickets, since, first.filter(|_| same))
        };
        let Some(since) = since else {
            self.lock().due = None;
            return;
        };
        let budget = Budget::until(self.deadline);
        let listed = self
            .platform
            .list_states(since, environment.as_deref(), budget);
        self.publish(&tickets, listed, clock.now());
    }

    /// Publish a look made for the runs `tickets`: each one's news, the next tick.
    fn publish(
        &self,
        tickets: &[u64],
        listed: Result<Vec<(String, RunState)>, Failure>,
        now: Instant,
    ) {
        let mut st = self.lock();
        st.ticks += 1;
        let tick = st.ticks;
        let news_of = |id: &str| -> Sighting {
            match &listed {
                Ok(l) => l
                    .iter()
                    .find(|(i, _)| i == id)
                    .map_or(Sighting::Missing, |(_, s)| Sighting::Listed(s.clone())),
                Err(_) => Sighting::Unlisted,
            }
        };
        for e in st
            .entries
            .iter_mut()
            .filter(|e| tickets.contains(&e.ticket))
        {
            e.news = Some((tick, news_of(&e.id)));
        }
        let stop = match &listed {
            Ok(_) => {
                st.failures = 0;
                if !st.said {
                    st.said = true;
                    log::info!(
                        "one look at the list of executions follows every run going; a run it shows ended is confirmed by its own status"
                    );
                }
                None
            }
            Err(f) => {
                st.failures += 1;
                log::debug!("the list of executions could not be read: {f}");
                match f {
                    Failure::Refused(_) | Failure::Interrupted(_) => Some(f.to_string()),
                    _ if st.failures >= FAILURES_TO_STOP => {
                        Some(format!("{f}; {} times in a row", st.failures))
                    }
                    _ => None,
                }
            }
        };
        st.due = (!st.entries.is_empty()).then(|| now + self.gap(&mut st, now));
        drop(st);
        if let Some(why) = stop {
            self.turn_off(&why);
        }
        self.news.notify_all();
    }

    /// Off for good: said once, every seat told.
    fn turn_off(&self, why: &str) {
        let mut st = self.lock();
        let was = st.off;
        st.off = true;
        drop(st);
        if !was && !why.starts_with("interrupted") {
            log::warn!(
                "the list of executions cannot follow the runs ({why}); each run polls its own status from now on"
            );
        }
        self.news.notify_all();
    }

    /// Whether the board is off (or closed).
    fn off(&self) -> bool {
        let st = self.lock();
        st.off || st.closed
    }

    /// The news for `ticket` newer than tick `seen`: the tick and what it said.
    fn news_after(&self, ticket: u64, seen: u64) -> Option<(u64, Sighting)> {
        self.lock().news_after(ticket, seen).cloned()
    }

    /// Wait up to `d` (real time) for news for `ticket` newer than `seen`, or for the
    /// board to go off: whether either came.
    fn wait_news(&self, ticket: u64, seen: u64, d: Duration) -> bool {
        let end = Instant::now() + d;
        let mut st = self.lock();
        loop {
            if st.news_after(ticket, seen).is_some() || st.off || st.closed {
                return true;
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = self
                .news
                .wait_timeout(st, left)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }
}

/// A run taking a seat.
pub(crate) struct Joining {
    /// Its execution id.
    pub(crate) id: String,
    /// Its environment, when the platform has them.
    pub(crate) environment: Option<String>,
    /// When its trigger was first sent (wall clock).
    pub(crate) since: SystemTime,
    /// When it started (the clock's instant).
    pub(crate) started: Instant,
    /// Its schedule: its rate on the board, and (a copy in the seat) what it polls on if
    /// the board goes off.
    pub(crate) policy: Policy,
}

/// A run's place on the board, for its worker: what to do at a look ([`Seat::read`]) and
/// how to wait for the next ([`Pace`]). Leaves the board when dropped.
pub(crate) struct Seat<'a> {
    board: &'a Board,
    ticket: u64,
    /// The last tick whose news was used.
    seen: Cell<u64>,
    own: RefCell<Policy>,
}

impl Seat<'_> {
    /// The run's state at this look: the list's, when it shows the run running; else its
    /// own status read (`status`).
    pub(crate) fn read(
        &self,
        status: impl FnOnce() -> Result<RunState, Failure>,
    ) -> Result<RunState, Failure> {
        let news = self.board.news_after(self.ticket, self.seen.get());
        if let Some((tick, _)) = &news {
            self.seen.set(*tick);
        }
        match look(news.as_ref().map(|(_, s)| s)) {
            Look::Use(state) if !self.board.off() => Ok(state),
            _ => status(),
        }
    }
}

impl Pace for &Seat<'_> {
    fn next_gap(&mut self, elapsed: Duration) -> Duration {
        if self.board.off() {
            self.own.borrow_mut().next_gap(elapsed)
        } else {
            self.board.backstop
        }
    }

    fn rest(&mut self, clock: &dyn Clock, d: Duration) -> Result<bool, Signal> {
        if self.board.off() {
            return clock.sleep(d).or_signal().map(|()| false);
        }
        let end = Instant::now() + d;
        loop {
            if let Some(s) = clock.pending_signal() {
                return Err(s);
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            if self
                .board
                .wait_news(self.ticket, self.seen.get(), left.min(SLICE))
            {
                return Ok(true);
            }
        }
    }

    fn rests_first(&self) -> bool {
        !self.board.off()
    }
}

impl Drop for Seat<'_> {
    fn drop(&mut self) {
        self.board.leave(self.ticket);
    }
}

#[cfg(test)]
mod tests;
