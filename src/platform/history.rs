//! The durations of a pipeline's past executions (and whether each succeeded), as the platforms read them from their
//! lists of executions for the polling schedule ([`crate::poll::Policy`]): how many are
//! asked for (within `Timings::history`), and how a failed lookup is said (it never fails the run:
//! the schedule then polls at a fixed interval). A past execution counts when it ended
//! and both its start and end times are readable (`timefmt::between`).

use std::time::Duration;

/// One ended past execution. The schedule uses every ended run; the comparison of this
/// run with its history (`model::HistoryComparison`) only the successful ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PastRun {
    /// From its start to its end.
    pub(crate) took: Duration,
    /// Whether it ended successfully.
    pub(crate) succeeded: bool,
}

/// The durations of `runs`, all of them: what the polling schedule takes.
pub(crate) fn durations(runs: &[PastRun]) -> Vec<Duration> {
    runs.iter().map(|r| r.took).collect()
}

/// The durations of the successful ones.
pub(crate) fn successful(runs: &[PastRun]) -> Vec<Duration> {
    runs.iter()
        .filter(|r| r.succeeded)
        .map(|r| r.took)
        .collect()
}

/// Past executions asked for: one page, the most recent few dozen.
pub(crate) const LIMIT: usize = 30;

/// The lookup failed: said at info (the run goes on), with what failed.
pub(crate) fn unavailable(platform: &str, e: &dyn std::fmt::Display) {
    log::info!(
        "{platform}'s list of past executions could not be read ({e}); polling at a fixed interval"
    );
}
