//! Time at the edges: the clock and the sleeper are injected so that backoff, deadlines
//! and the simulator can run on simulated time in tests and benchmarks, with the same code
//! path as production.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// A signal that asks the program to stop. Serialized (in the JSON result) by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Signal {
    /// SIGINT (Ctrl-C; the first signal a cancelled GitHub job sends).
    #[serde(rename = "SIGINT")]
    Int,
    /// SIGTERM.
    #[serde(rename = "SIGTERM")]
    Term,
}

impl Signal {
    /// "SIGINT" / "SIGTERM".
    pub(crate) fn name(self) -> &'static str {
        match self {
            Signal::Int => "SIGINT",
            Signal::Term => "SIGTERM",
        }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a sleep ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The whole duration passed.
    Elapsed,
    /// A signal arrived; the sleep ended early.
    Signal(Signal),
}

impl Wake {
    /// `Err` with the signal that ended the sleep early, `Ok` when it ran its course.
    pub(crate) fn or_signal(self) -> Result<(), Signal> {
        match self {
            Wake::Elapsed => Ok(()),
            Wake::Signal(s) => Err(s),
        }
    }
}

/// Where time comes from, and how to wait.
pub trait Clock: Send + Sync {
    /// Monotonic now, for deadlines and intervals.
    fn now(&self) -> Instant;
    /// Wall-clock now, for timestamps sent to the platform.
    fn wall(&self) -> SystemTime;
    /// Sleep for `d`, waking early if a signal arrives.
    fn sleep(&self, d: Duration) -> Wake;
    /// The signal received so far, if any (does not wait).
    fn pending_signal(&self) -> Option<Signal>;
    /// Sleep for `d` whatever happens (for the short waits of the clean-up that follows a
    /// signal; a second signal ends the process from the signal thread).
    fn pause(&self, d: Duration);
}

/// Signals received so far, shared between the signal thread and sleepers.
#[derive(Debug, Default)]
pub(crate) struct SignalState {
    /// 0 = none, 1 = SIGINT, 2 = SIGTERM (the first one received wins).
    first: AtomicU8,
    /// How many signals arrived in all.
    count: Mutex<u32>,
    cond: Condvar,
}

impl SignalState {
    /// A fresh state with no signal received.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Record a signal and wake every sleeper. Returns how many signals arrived in all.
    pub(crate) fn raise(&self, sig: Signal) -> u32 {
        let code = match sig {
            Signal::Int => 1,
            Signal::Term => 2,
        };
        let _ = self
            .first
            .compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst);
        let mut n = self.count.lock().unwrap_or_else(|e| e.into_inner());
        *n += 1;
        self.cond.notify_all();
        *n
    }

    /// The first signal received, if any.
    pub(crate) fn first(&self) -> Option<Signal> {
        match self.first.load(Ordering::SeqCst) {
            1 => Some(Signal::Int),
            2 => Some(Signal::Term),
            _ => None,
        }
    }

    /// Wait up to `d` for a signal (returns at once if one already arrived).
    pub(crate) fn wait(&self, d: Duration) -> Wake {
        let deadline = Instant::now() + d;
        let mut n = self.count.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(s) = self.first() {
                return Wake::Signal(s);
            }
            let now = Instant::now();
            if now >= deadline {
                return Wake::Elapsed;
            }
            let (guard, _) = self
                .cond
                .wait_timeout(n, deadline - now)
                .unwrap_or_else(|e| e.into_inner());
            n = guard;
        }
    }
}

/// The real clock: real time, sleeps that wake on signals.
pub(crate) struct RealClock {
    signals: Arc<SignalState>,
}

impl RealClock {
    /// A real clock whose sleeps wake when `signals` is raised.
    pub(crate) fn new(signals: Arc<SignalState>) -> Self {
        Self { signals }
    }
}

impl Clock for RealClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
    fn sleep(&self, d: Duration) -> Wake {
        self.signals.wait(d)
    }
    fn pending_signal(&self) -> Option<Signal> {
        self.signals.first()
    }
    fn pause(&self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// Simulated time: `sleep` advances the clock at once instead of waiting. Shared (via
/// `Arc`) between the program under test and the simulator, so an hour-long run takes
/// milliseconds. Signals can be scheduled at a simulated instant.
#[derive(Debug)]
pub struct SimClock {
    base: Instant,
    wall_base: SystemTime,
    state: Mutex<SimState>,
    signals: Arc<SignalState>,
}

#[derive(Debug, Default)]
struct SimState {
    offset: Duration,
    slept: Vec<Duration>,
    signal_at: Option<(Duration, Signal)>,
}

impl SimClock {
    /// A simulated clock starting now.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            base: Instant::now(),
            wall_base: SystemTime::now(),
            state: Mutex::new(SimState::default()),
            signals: SignalState::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Time simulated since the start.
    pub fn elapsed(&self) -> Duration {
        self.lock().offset
    }

    /// Every sleep requested so far, in order.
    #[cfg(test)]
    pub(crate) fn sleeps(&self) -> Vec<Duration> {
        self.lock().slept.clone()
    }

    /// Deliver `sig` once simulated time reaches `at` (a sleep crossing it stops there).
    pub fn signal_at(&self, at: Duration, sig: Signal) {
        self.lock().signal_at = Some((at, sig));
    }
}

impl Clock for SimClock {
    fn now(&self) -> Instant {
        self.base + self.lock().offset
    }
    fn wall(&self) -> SystemTime {
        self.wall_base + self.lock().offset
    }
    fn sleep(&self, d: Duration) -> Wake {
        if let Some(s) = self.signals.first() {
            return Wake::Signal(s);
        }
        let mut st = self.lock();
        st.slept.push(d);
        let target = st.offset + d;
        if let Some((at, sig)) = st.signal_at {
            if at <= target {
                st.offset = st.offset.max(at);
                st.signal_at = None;
                drop(st);
                self.signals.raise(sig);
                return Wake::Signal(sig);
            }
        }
        st.offset = target;
        Wake::Elapsed
    }
    fn pending_signal(&self) -> Option<Signal> {
        self.signals.first()
    }
    fn pause(&self, d: Duration) {
        let mut st = self.lock();
        st.slept.push(d);
        st.offset += d;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_clock_advances_without_waiting() {
        let c = SimClock::new();
        let t0 = c.now();
        let started = Instant::now();
        assert_eq!(c.sleep(Duration::from_secs(3600)), Wake::Elapsed);
        assert_eq!(c.now() - t0, Duration::from_secs(3600));
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(c.sleeps(), vec![Duration::from_secs(3600)]);
    }

    #[test]
    fn sim_clock_delivers_scheduled_signal_mid_sleep() {
        let c = SimClock::new();
        c.signal_at(Duration::from_secs(10), Signal::Term);
        assert_eq!(c.sleep(Duration::from_secs(4)), Wake::Elapsed);
        assert_eq!(c.sleep(Duration::from_secs(30)), Wake::Signal(Signal::Term));
        assert_eq!(c.elapsed(), Duration::from_secs(10));
        assert_eq!(c.pending_signal(), Some(Signal::Term));
        assert_eq!(c.sleep(Duration::from_secs(1)), Wake::Signal(Signal::Term));
    }

    #[test]
    fn real_sleep_wakes_on_signal() {
        let s = SignalState::new();
        let s2 = s.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            s2.raise(Signal::Int);
        });
        let clock = RealClock::new(s.clone());
        let started = Instant::now();
        assert_eq!(
            clock.sleep(Duration::from_secs(30)),
            Wake::Signal(Signal::Int)
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        t.join().ok();
        // The first signal wins.
        assert_eq!(s.raise(Signal::Term), 2);
        assert_eq!(s.first(), Some(Signal::Int));
    }
}
