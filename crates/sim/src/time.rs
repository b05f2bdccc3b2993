//! The simulator's own clock seam: where its time comes from. Real time for the demo and
//! the integration tests; [`ManualTime`] (or any caller's clock behind [`SimTime`]) for
//! runs on simulated time, where an hour-long execution takes milliseconds.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// Where the simulator reads the time.
pub trait SimTime: Send + Sync {
    /// Monotonic now: execution progress, token lifetimes, fault windows.
    fn now(&self) -> Instant;
    /// Wall-clock now: the timestamps the API reports.
    fn wall(&self) -> SystemTime;
}

/// Real time.
#[derive(Debug, Default, Clone, Copy)]
pub struct WallTime;

impl SimTime for WallTime {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Time that moves only when told to ([`ManualTime::advance`]).
#[derive(Debug)]
pub struct ManualTime {
    base: Instant,
    wall_base: SystemTime,
    offset: Mutex<Duration>,
}

impl Default for ManualTime {
    fn default() -> Self {
        Self {
            base: Instant::now(),
            wall_base: SystemTime::now(),
            offset: Mutex::new(Duration::ZERO),
        }
    }
}

impl ManualTime {
    /// A manual clock starting now.
    pub fn new() -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self::default())
    }

    /// Move time forward by `d`.
    pub fn advance(&self, d: Duration) {
        *self.offset.lock().unwrap_or_else(|e| e.into_inner()) += d;
    }

    fn offset(&self) -> Duration {
        *self.offset.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SimTime for ManualTime {
    fn now(&self) -> Instant {
        self.base + self.offset()
    }
    fn wall(&self) -> SystemTime {
        self.wall_base + self.offset()
    }
}

/// Real time, sped up: `factor` seconds of simulated time pass in each real second (from
/// the moment it is made), so the demo world's runs of several seconds end in a fraction
/// of one in tests that drive the real binary, which keeps polling on its own real clock.
#[derive(Debug)]
pub struct ScaledTime {
    base: Instant,
    wall_base: SystemTime,
    factor: f64,
}

impl ScaledTime {
    /// Time that runs `factor` times faster than real time (`factor` ≥ 1; smaller is 1).
    pub fn new(factor: f64) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self {
            base: Instant::now(),
            wall_base: SystemTime::now(),
            factor: if factor.is_finite() {
                factor.max(1.0)
            } else {
                1.0
            },
        })
    }

    fn elapsed(&self) -> Duration {
        self.base.elapsed().mul_f64(self.factor)
    }
}

impl SimTime for ScaledTime {
    fn now(&self) -> Instant {
        self.base + self.elapsed()
    }
    fn wall(&self) -> SystemTime {
        self.wall_base + self.elapsed()
    }
}
