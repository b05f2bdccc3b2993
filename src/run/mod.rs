//! The run path: one pipeline or several, as N slots (one pipeline is N = 1). Each
//! pipeline runs on a worker thread ([`worker`]: start, wait, finish), at most
//! `max-parallel` at once ([`crew`]); one supervisor ([`supervisor`]) hears every worker's
//! events, owns every line of progress and saves the execution ids as soon as they are
//! known; one clean-up ([`cleanup`]) answers a signal or a timeout. What comes out is a
//! [`FleetReport`] with one report per pipeline, for the one writer of every report
//! ([`crate::emit`]).
//!
//! The pipelines share one HTTP client (one connection pool, one request budget: the
//! `rate-limit`, lowered by a 429, whose `Retry-After` holds them all back), one token,
//! one lookup of the project and one look at each environment's past runs
//! ([`crate::platform::build`]). While several go at once, one look at the list of
//! executions follows them all ([`board`]).
//! With `fail-fast`, the first pipeline to end in failure stops the others: their
//! workers cancel their own runs, and pipelines not started yet are not started.

mod board;
pub(crate) mod cleanup;
mod crew;
mod supervisor;
pub mod worker;

use crate::ci::CiKind;
use crate::clock::{Clock, Signal};
use crate::config::Config;
use crate::http::Http;
use crate::platform::Platform;
use crate::report::fleet::FleetReport;
use crate::timings::Timings;
use crew::{Crew, StopClock};
use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;
use supervisor::Supervisor;

pub use worker::Event;

/// The pipelines to run, each with its config and client, and the clock they run on.
pub struct Workers {
    runs: Vec<Config>,
    platforms: Vec<Arc<dyn Platform>>,
    clock: Arc<dyn Clock>,
    stop: Arc<AtomicBool>,
    /// Whether the runs may share their polls and their look at past runs (not with the
    /// internal [`board::PER_RUN_KNOB`]).
    shared: bool,
}

impl Workers {
    /// Every pipeline of `cfg` ([`Config::runs`]) on clients sharing `http`; `clock` is the
    /// program's clock (with `fail-fast`, the workers run on a [`StopClock`] over it).
    /// `env` may hold the internal [`board::PER_RUN_KNOB`].
    pub fn build(
        cfg: &Config,
        http: Http,
        clock: Arc<dyn Clock>,
        (timings, ci): (&Timings, CiKind),
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Self {
        let shared = env(board::PER_RUN_KNOB).is_none_or(|v| v.trim() != "1");
        let runs = cfg.runs();
        let stop = Arc::new(AtomicBool::new(false));
        let clock: Arc<dyn Clock> = match cfg.fleet.as_ref().is_some_and(|f| f.fail_fast) {
            true => Arc::new(StopClock::new(clock, stop.clone())),
            false => clock,
        };
        let http = http.with_clock(clock.clone());
        let platforms = crate::platform::build::clients_sharing(&runs, http, timings, ci, shared);
        Self {
            runs,
            platforms,
            clock,
            stop,
            shared,
        }
    }

    /// One pipeline, `cfg`, on a client already built (tests and benchmarks).
    pub fn one(cfg: &Config, platform: Arc<dyn Platform>, clock: Arc<dyn Clock>) -> Self {
        Self {
            runs: vec![cfg.clone()],
            platforms: vec![platform],
            clock,
            stop: Arc::new(AtomicBool::new(false)),
            shared: false,
        }
    }
}

/// Run every pipeline of `workers` and report them all. `clock` is the program's clock;
/// `signals` the signals heard (the clock's own are looked at too).
pub fn supervise(
    cfg: &Config,
    workers: Workers,
    clock: Arc<dyn Clock>,
    timings: &Timings,
    signals: mpsc::Receiver<Signal>,
    env: &dyn Fn(&str) -> Option<String>,
    ci: CiKind,
) -> FleetReport {
    let fleet = cfg.fleet.as_ref();
    let deadline = clock.now() + cfg.timeout;
    let board = board_for(cfg, &workers, (timings, deadline));
    let crew = Arc::new(Crew {
        queue: Mutex::new((0..workers.runs.len()).collect::<VecDeque<usize>>()),
        runs: workers.runs,
        platforms: workers.platforms,
        clock: workers.clock,
        outer: clock.clone(),
        stop: workers.stop,
        fail_fast: fleet.is_some_and(|f| f.fail_fast),
        max_parallel: fleet.map_or(1, |f| f.max_parallel),
        deadline,
        timings: *timings,
        board: board.clone(),
    });
    if let Some(b) = &board {
        watch_board(b, crew.clock.clone(), timings.tick);
    }
    let (tx, events) = mpsc::channel();
    let started = crew::start(&crew, &tx);
    drop(tx);
    if crew.runs.len() > 1 {
        log::info!(
            "running {} pipelines, at most {} at a time{}",
            crew.runs.len(),
            crew.max_parallel.min(crew.runs.len()),
            if crew.fail_fast { " (fail-fast)" } else { "" }
        );
    }
    let ids = crate::emit::IdSaver::new(cfg, ci, env);
    let mut sup = Supervisor::new(cfg, crew, events, ids);
    if started == 0 {
        sup.hear(Duration::ZERO);
    }
    let report = supervisor::watch(&mut sup, clock.as_ref(), timings, &signals);
    if let Some(b) = &board {
        b.close();
    }
    report
}

/// The step's poll board, when several runs this step triggers may go at once on a
/// platform whose list can follow them (see [`board`]).
fn board_for(
    cfg: &Config,
    workers: &Workers,
    (timings, deadline): (&Timings, std::time::Instant),
) -> Option<Arc<board::Board>> {
    let several = workers.runs.len() > 1 && cfg.fleet.as_ref().is_some_and(|f| f.max_parallel > 1);
    let first = workers.platforms.first()?;
    let lists = first.kind() == crate::model::PlatformKind::Matillion;
    let follows = cfg.wait && cfg.attach.is_none() && !cfg.dry_run;
    (workers.shared && several && lists && follows).then(|| {
        Arc::new(board::Board::new(
            first.clone(),
            (cfg.poll_interval, cfg.max_poll_interval),
            timings.history + Duration::from_secs(1),
            deadline,
            crate::poll::seed_from_os(),
        ))
    })
}

/// The board's thread: it looks at the list whenever a look is due, until closed.
fn watch_board(board: &Arc<board::Board>, clock: Arc<dyn Clock>, slice: Duration) {
    let b = board.clone();
    let spawned = std::thread::Builder::new()
        .name("board".into())
        .spawn(move || b.run(clock.as_ref(), slice));
    if let Err(e) = spawned {
        log::warn!(
            "could not start the thread that looks at the list of executions ({e}); each run polls its own status"
        );
        board.close();
    }
}
