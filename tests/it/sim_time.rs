//! One simulated clock for the program and the simulator: the product's [`SimClock`],
//! seen by the simulator through its own clock seam. Shared by the integration tests and
//! the benchmarks (`#[path]`), so an hour-long run takes milliseconds in both.

use pipeline_run::clock::{Clock, SimClock};
use pipeline_run_sim::SimTime;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

struct Shared(Arc<SimClock>);

impl SimTime for Shared {
    fn now(&self) -> Instant {
        Clock::now(&*self.0)
    }
    fn wall(&self) -> SystemTime {
        Clock::wall(&*self.0)
    }
}

/// `clock`, as the simulator's time source.
pub fn for_sim(clock: &Arc<SimClock>) -> Arc<dyn SimTime> {
    Arc::new(Shared(clock.clone()))
}
