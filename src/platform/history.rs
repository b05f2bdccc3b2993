//! The durations of a pipeline's past executions, as the platforms read them from their
//! lists of executions for the polling schedule ([`crate::poll::Policy`]): how many are
//! asked for (within `Timings::history`), and how a failed lookup is said (it never fails the run:
//! the schedule then polls at a fixed interval). A past execution counts when it ended
//! and both its start and end times are readable (`timefmt::between`).

/// Past executions asked for: one page, the most recent few dozen.
pub const LIMIT: usize = 30;

/// The lookup failed: said at info (the run goes on), with what failed.
pub fn unavailable(platform: &str, e: &dyn std::fmt::Display) {
    log::info!(
        "{platform}'s list of past executions could not be read ({e}); polling at a fixed interval"
    );
}
