//! The platforms behind one small trait. The wait loop, retry policy, signals and
//! reporters are shared; a platform only knows its own endpoints. Platforms sit above the
//! run model ([`crate::model`]) and the wait primitive ([`crate::wait`]), below the wait
//! loop (`run::worker`).

pub mod build;
pub(crate) mod datalab;
pub(crate) mod history;
pub mod matillion;
pub(crate) mod once;
pub(crate) mod pager;
pub mod pages;

use crate::http::Budget;
use crate::model::{PlatformKind, RunReport};
use crate::progress::StepPage;
use crate::wait::{Failure, RunState, Waiter};
pub use history::PastRun;
use std::time::SystemTime;

/// Whether a cancel request was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelAck {
    /// The platform accepted it.
    Accepted,
    /// The execution had already ended.
    AlreadyEnded,
    /// The platform has no way to cancel.
    Unsupported,
}

/// An execution of the pipeline, as a list of its executions shows it (for `wait` and
/// `status` by pipeline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The execution id.
    pub id: String,
    /// Its status in the list.
    pub status: String,
    /// When it started (RFC 3339, as sent).
    pub started_at: Option<String>,
    /// What started it (SCHEDULE, API, ...).
    pub trigger: Option<String>,
}

/// One platform's API, as the wait loop uses it. Implementations are shared between the
/// worker thread and the signal handler's clean-up, hence `Send + Sync` and `&self`.
pub trait Platform: Send + Sync {
    /// Which platform.
    fn kind(&self) -> PlatformKind;
    /// Authenticate and resolve names (e.g. the project) before anything is triggered.
    fn prepare(&self, budget: Budget, report: &mut RunReport) -> Result<(), Failure>;
    /// Dry run: check that what would be triggered exists; lines saying what would be sent.
    fn check(&self, budget: Budget) -> Result<Vec<String>, Failure>;
    /// Trigger at most once (handling conflicts and lost replies); the execution id.
    fn trigger(&self, ctx: &Waiter<'_>, report: &mut RunReport) -> Result<String, Failure>;
    /// The execution's current state.
    fn status(&self, id: &str, budget: Budget) -> Result<RunState, Failure>;
    /// `wait` and `status`: `id`, an execution this program did not start, as the platform
    /// describes it now: its state, and its pipeline, environment, trigger and start into
    /// `report`. An id the platform does not know is refused, naming it, after the
    /// replica-lag grace a new run gets. By default, its status alone.
    fn attach(
        &self,
        id: &str,
        budget: Budget,
        _report: &mut RunReport,
    ) -> Result<RunState, Failure> {
        self.status(id, budget)
    }
    /// `wait` and `status` by pipeline: the executions of the configured pipeline in its
    /// environment (exact names), newest first, only those running when `running`; a
    /// bounded number of pages within `budget`.
    fn executions_of_pipeline(
        &self,
        _running: bool,
        _budget: Budget,
    ) -> Result<Vec<Found>, Failure> {
        Err(Failure::Refused(format!(
            "{} cannot list the executions of a pipeline: give `execution-id`",
            self.kind().display_name()
        )))
    }
    /// Several runs at once (the poll board, `run::board`): every execution of this
    /// client's project started at or after `since` (by this machine's clock; the
    /// platform allows for its own clock being behind), in `environment` when given, as
    /// its id and state, from one request to the list of executions (a bounded number of
    /// pages) within `budget`. The list may lag: a run missing from it, or shown ended, is
    /// read with [`Platform::status`] before anything is said of it. By default the
    /// platform has no such list, and each run polls its own status.
    fn list_states(
        &self,
        _since: SystemTime,
        _environment: Option<&str>,
        _budget: Budget,
    ) -> Result<Vec<(String, RunState)>, Failure> {
        Err(Failure::Refused(format!(
            "{} cannot list the states of several executions at once",
            self.kind().display_name()
        )))
    }
    /// After it ended (or when giving up): details and steps into `report`.
    fn collect(&self, id: &str, budget: Budget, report: &mut RunReport) -> Result<(), Failure>;
    /// Ask the platform to cancel.
    fn cancel(&self, id: &str, budget: Budget) -> Result<CancelAck, Failure>;
    /// How long the pipeline's recent finished executions took, and whether each
    /// succeeded (newest first, at most [`history::LIMIT`]), from one request within
    /// `budget`, for the polling schedule ([`crate::poll::Policy`]) and the comparison of
    /// this run with them. An optimisation: a platform that cannot list them, or a request
    /// that fails, gives none (and the schedule polls at a fixed interval).
    fn history(&self, _budget: Budget) -> Vec<PastRun> {
        Vec::new()
    }
    /// Live progress: page `page` of the steps of `id` while it runs, within `budget`
    /// (see [`crate::progress`]). `Ok(None)`: the platform reads no steps while running.
    /// Whether a running execution lists its steps is not documented: an empty page or an
    /// error only means nothing is shown until the end.
    fn step_page(
        &self,
        _id: &str,
        _page: usize,
        _budget: Budget,
    ) -> Result<Option<StepPage>, Failure> {
        Ok(None)
    }
    /// Whether the steps come with every status poll at no cost (then every poll may look
    /// at them, and [`Platform::step_page`] sends no request).
    fn steps_come_with_status(&self) -> bool {
        false
    }
    /// [`Platform::collect`], reusing `complete`: the first pages of steps, read while the
    /// run went on, each full and every step on it ended (none of them can change). The
    /// steps are read from the page after them.
    fn collect_reusing(
        &self,
        id: &str,
        budget: Budget,
        report: &mut RunReport,
        _complete: Vec<Vec<crate::model::Step>>,
    ) -> Result<(), Failure> {
        self.collect(id, budget, report)
    }
    /// After a signal, when the trigger's reply has not come: the execution a trigger first
    /// sent at `first_attempt` created, if the platform's list shows it (so that it can be
    /// cancelled rather than left running). `None` when it cannot tell.
    fn find_triggered(&self, _first_attempt: SystemTime, _budget: Budget) -> Option<String> {
        None
    }
    /// Whether the platform can cancel at all. When it cannot, a timeout or a signal says
    /// that the execution goes on instead of announcing a cancel.
    fn can_cancel(&self) -> bool {
        true
    }
    /// The request budget's rate now, requests a minute, shared by every client of the
    /// process (`rate-limit`, or what 429s lowered it to); `None` when it has none.
    fn request_rate(&self) -> Option<f64> {
        None
    }
    /// How many requests the platform rejected with 429 so far, over every client sharing
    /// this one's request budget (the whole process).
    fn rejected_requests(&self) -> u64 {
        0
    }
}
