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
