//! Live progress while waiting, as pure bookkeeping: when a look at the steps is due
//! ([`Cadence`]), which pages of steps a look reads, and which steps ended since the last
//! look ([`Tracker`]). The worker (`run::worker`) does the requests and sends the steps
//! that ended to the supervisor; the pages already complete are handed to the final
//! report, so that the tail after the run's end reads only the rest.
//!
//! The cadence keeps the request budget of the polling schedule: a look happens only at a
//! status poll (never an extra wake-up), at most once every [`EVERY_POLLS`] ×
//! `poll-interval` (a minute at the default 5 s), plus once at the poll right after the
//! status changed (e.g. `QUEUED` → `RUNNING`). A look reads only the pages that are not
//! complete (a page is complete when it is full and every step in it has ended), at most
//! [`MAX_PAGES_PER_LOOK`] of them. Whether the API lists the steps of a running execution
//! is not documented: no steps until the end, an empty list or a refused page are all
//! normal, and only ever mean that nothing is shown until the end.
//!
//! Imports only the run model.

use crate::model::Step;
use std::time::Duration;

/// A look at the steps at most once every this many `poll-interval`s.
pub const EVERY_POLLS: u32 = 12;

/// A look reads at most this many pages (from the first that is not complete); the rest
/// wait for the next look, or for the end.
pub(crate) const MAX_PAGES_PER_LOOK: usize = 5;

/// One page of the steps of an execution, as a platform read it while the run went on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StepPage {
    /// The steps on the page, in the platform's order.
    pub(crate) steps: Vec<Step>,
    /// How many steps the execution lists in all, when the platform says.
    pub(crate) total: Option<u64>,
    /// How many steps a full page holds (`usize::MAX`: every step comes on one page).
    pub(crate) size: usize,
}

/// Whether a step has ended: it has an end time, it failed, or its status is one that
/// ends a step on either platform.
pub(crate) fn ended(s: &Step) -> bool {
    const ENDED: &[&str] = &[
        "SUCCESS",
        "FAILED",
        "CANCELLED",
        "SKIPPED",
        "COMPLETED",
        "COMPLETED_WITH_ERRORS",
    ];
    s.finished_at.is_some()
        || s.failed
        || ENDED
            .iter()
            .any(|e| e.eq_ignore_ascii_case(s.status.trim()))
}

/// When the next look at the steps is due.
#[derive(Debug, Clone)]
pub(crate) struct Cadence {
    every: Duration,
    last_look: Duration,
    last_status: Option<String>,
    changed: bool,
}

impl Cadence {
    /// Looks at most once every [`EVERY_POLLS`] × `poll_interval` (the first that long
    /// after the trigger), and at the poll after a status change.
    pub(crate) fn new(poll_interval: Duration) -> Self {
        Self {
            every: poll_interval.saturating_mul(EVERY_POLLS),
            last_look: Duration::ZERO,
            last_status: None,
            changed: false,
        }
    }

    /// At a status poll that saw the run still going with `status`, `elapsed` after the
    /// trigger: whether to look at the steps now (if so, the look is counted as done).
    pub(crate) fn due(&mut self, elapsed: Duration, status: &str) -> bool {
        let after_change = std::mem::take(&mut self.changed);
        if self.last_status.as_deref().is_some_and(|s| s != status) {
            // Said by the status line at this poll; the look follows at the next one.
            self.changed = true;
        }
        self.last_status = Some(status.to_string());
        let due = after_change || elapsed.saturating_sub(self.last_look) >= self.every;
        if due {
            self.last_look = elapsed;
        }
        due
    }
}

/// One page as last read, with which of its steps were already said to have ended.
#[derive(Debug, Clone, Default)]
struct Seen {
    steps: Vec<Step>,
    told: Vec<bool>,
}

/// The steps read so far, page by page.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tracker {
    pages: Vec<Seen>,
    total: Option<u64>,
    size: Option<usize>,
}

impl Tracker {
    /// Nothing read yet.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn complete(&self, p: &Seen) -> bool {
        self.size.is_some_and(|size| p.steps.len() >= size) && p.steps.iter().all(ended)
    }

    /// How many pages from the first are complete: they need not be read again.
    pub(crate) fn complete_pages(&self) -> usize {
        self.pages
            .iter()
            .position(|p| !self.complete(p))
            .unwrap_or(self.pages.len())
    }

    /// The pages the next look reads: from the first that is not complete to the last the
    /// total says there is (at least one page), at most [`MAX_PAGES_PER_LOOK`].
    pub(crate) fn pages_to_read(&self) -> std::ops::Range<usize> {
        let first = self.complete_pages();
        let listed = match (self.total, self.size) {
            (Some(t), Some(size)) if size > 0 => {
                usize::try_from(t.div_ceil(size as u64)).unwrap_or(usize::MAX)
            }
            _ => 0,
        };
        let end = listed.max(self.pages.len()).max(first + 1);
        first..end.min(first.saturating_add(MAX_PAGES_PER_LOOK))
    }

    /// Take in page `index` as just read: the steps on it that ended since the last look,
    /// in order. A page past the ones read so far is kept only when it follows them and
    /// has steps.
    pub(crate) fn absorb(&mut self, index: usize, page: StepPage) -> Vec<Step> {
        if page.size > 0 {
            self.size = Some(page.size);
        }
        if page.total.is_some() {
            self.total = page.total;
        }
        if index > self.pages.len() || (index == self.pages.len() && page.steps.is_empty()) {
            return Vec::new();
        }
        if index == self.pages.len() {
            self.pages.push(Seen::default());
        }
        let Some(old) = self.pages.get_mut(index) else {
            return Vec::new();
        };
        let mut newly = Vec::new();
        let mut told = Vec::with_capacity(page.steps.len());
        for (i, s) in page.steps.iter().enumerate() {
            // The same step at the same place, already said: not again.
            let before = old.told.get(i).copied().unwrap_or(false)
                && old.steps.get(i).is_some_and(|o| o.name == s.name);
            let now = ended(s);
            if now && !before {
                newly.push(s.clone());
            }
            told.push(before || now);
        }
        *old = Seen {
            steps: page.steps,
            told,
        };
        newly
    }

    /// The complete pages from the first, in order, for the final report to reuse.
    pub(crate) fn into_complete_pages(self) -> Vec<Vec<Step>> {
        let n = self.complete_pages();
        self.pages.into_iter().take(n).map(|p| p.steps).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str, status: &str) -> Step {
        Step {
            name: name.into(),
            status: status.into(),
            failed: status == "FAILED",
            finished_at: (status != "RUNNING").then(|| "2026-11-22T05:00:00Z".into()),
            ..Step::default()
        }
    }

    fn page(steps: &[(&str, &str)], total: u64, size: usize) -> StepPage {
        StepPage {
            steps: steps.iter().map(|(n, s)| step(n, s)).collect(),
            total: Some(total),
            size,
        }
    }

    fn names(steps: &[Step]) -> Vec<&str> {
        steps.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn a_look_is_due_every_n_poll_intervals_and_after_a_status_change() {
        let s = Duration::from_secs;
        let mut c = Cadence::new(s(5));
        assert!(!c.due(s(0), "QUEUED"));
        assert!(!c.due(s(10), "RUNNING"), "the change is said first");
        assert!(c.due(s(15), "RUNNING"), "the poll after the change");
        assert!(!c.due(s(40), "RUNNING"));
        assert!(!c.due(s(74), "RUNNING"));
        assert!(c.due(s(75), "RUNNING"), "a minute after the last look");
        assert!(!c.due(s(80), "RUNNING"));
        // Without any change, the first look comes a minute after the trigger.
        let mut c = Cadence::new(s(5));
        assert!(!c.due(s(0), "RUNNING"));
        assert!(!c.due(s(59), "RUNNING"));
        assert!(c.due(s(61), "RUNNING"));
    }

    #[test]
    fn ended_steps_are_told_once_in_order_and_a_failure_at_once() {
        let mut t = Tracker::new();
        assert_eq!(t.pages_to_read(), 0..1, "the first page, whatever is known");
        let got = t.absorb(0, page(&[("a", "SUCCESS"), ("b", "RUNNING")], 2, 100));
        assert_eq!(names(&got), ["a"]);
        let got = t.absorb(
            0,
            page(
                &[("a", "SUCCESS"), ("b", "FAILED"), ("c", "RUNNING")],
                3,
                100,
            ),
        );
        assert_eq!(names(&got), ["b"]);
        assert!(got[0].failed);
        assert!(t.absorb(0, page(&[("a", "SUCCESS")], 3, 100)).is_empty());
        // Another step at the same place is news.
        let got = t.absorb(0, page(&[("x", "SKIPPED")], 1, 100));
        assert_eq!(names(&got), ["x"]);
    }

    #[test]
    fn complete_pages_are_not_read_again_and_are_reused() {
        let mut t = Tracker::new();
        let full = |status: &str| -> Vec<(String, String)> {
            (0..3)
                .map(|i| (format!("s{i}"), status.to_string()))
                .collect()
        };
        let as_page = |v: &[(String, String)], total| StepPage {
            steps: v.iter().map(|(n, s)| step(n, s)).collect(),
            total: Some(total),
            size: 3,
        };
        assert_eq!(t.absorb(0, as_page(&full("SUCCESS"), 7)).len(), 3);
        assert_eq!(t.pages_to_read(), 1..3, "pages 1 and 2 of 7 steps by 3");
        let mut running = full("SUCCESS");
        running[2].1 = "RUNNING".into();
        assert_eq!(t.absorb(1, as_page(&running, 7)).len(), 2);
        assert_eq!(t.absorb(2, StepPage::default()).len(), 0);
        assert_eq!(t.pages_to_read(), 1..3);
        assert_eq!(t.complete_pages(), 1);
        let reused = t.clone().into_complete_pages();
        assert_eq!(reused.len(), 1);
        assert_eq!(names(&reused[0]), ["s0", "s1", "s2"]);
        // No total: a full, complete last page means the next may exist.
        let mut t = Tracker::new();
        t.absorb(
            0,
            StepPage {
                total: None,
                ..as_page(&full("SUCCESS"), 0)
            },
        );
        assert_eq!(t.pages_to_read(), 1..2);
    }

    #[test]
    fn nothing_listed_while_running_is_normal_and_a_look_is_bounded() {
        let mut t = Tracker::new();
        assert!(t.absorb(0, StepPage::default()).is_empty());
        assert!(
            t.absorb(3, page(&[("far", "SUCCESS")], 1000, 100))
                .is_empty()
        );
        assert_eq!(t.pages_to_read(), 0..MAX_PAGES_PER_LOOK);
        assert!(t.into_complete_pages().is_empty());
        // One page holding everything (Datalab) is never complete.
        let mut t = Tracker::new();
        t.absorb(0, page(&[("1. convert", "completed")], 1, usize::MAX));
        assert_eq!(t.complete_pages(), 0);
        assert_eq!(t.pages_to_read(), 0..1);
    }
}
