//! Runs of the same failure, so that a failure repeated is said once with its count ("…
//! (37 times in 12s)") instead of once per attempt. Pure bookkeeping: the caller logs.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most this many requests' streaks are remembered (the oldest goes first).
const KEPT: usize = 32;

/// The current streak of failures of each request (by what it is: "the status poll").
#[derive(Debug, Default)]
pub(crate) struct Streaks(Mutex<Vec<Streak>>);

#[derive(Debug, Clone)]
struct Streak {
    what: String,
    kind: String,
    count: u32,
    since: Instant,
    at: Instant,
    last: String,
}

impl Streak {
    /// "the status poll answered 429 … (37 times in 12s)", when it repeated.
    fn summary(&self) -> Option<String> {
        (self.count > 1).then(|| {
            let took = self.at.saturating_duration_since(self.since);
            // Whole seconds, or milliseconds under ten seconds.
            let took = if took < Duration::from_secs(10) {
                Duration::from_millis(took.as_millis() as u64)
            } else {
                Duration::from_secs(took.as_secs())
            };
            format!(
                "{} ({} times in {})",
                self.last,
                self.count,
                humantime::format_duration(took)
            )
        })
    }
}

/// What a failure means for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Noted {
    /// Whether it starts a streak (say it in full; otherwise it is counted quietly).
    pub(crate) first: bool,
    /// The summary of the streak of another kind it ended, if that one repeated.
    pub(crate) ended: Option<String>,
}

impl Streaks {
    /// `what` failed at `at` with a failure of `kind`, said `line`.
    pub(crate) fn failed(&self, what: &str, kind: &str, line: &str, at: Instant) -> Noted {
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = all.iter_mut().find(|s| s.what == what && s.kind == kind) {
            s.count += 1;
            s.at = at;
            s.last = line.to_string();
            return Noted {
                first: false,
                ended: None,
            };
        }
        let ended = take(&mut all, what).and_then(|s| s.summary());
        if all.len() >= KEPT {
            all.remove(0);
        }
        all.push(Streak {
            what: what.to_string(),
            kind: kind.to_string(),
            count: 1,
            since: at,
            at,
            last: line.to_string(),
        });
        Noted { first: true, ended }
    }

    /// The summary of `what`'s streak so far, if it repeated; the streak goes on (a request
    /// that gave up at its deadline or on unusable bodies, whose next call continues it).
    pub(crate) fn so_far(&self, what: &str) -> Option<String> {
        let all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        all.iter()
            .find(|s| s.what == what)
            .and_then(Streak::summary)
    }

    /// `what` succeeded, or gave up: the summary of its streak, if it repeated.
    pub(crate) fn end(&self, what: &str) -> Option<String> {
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        take(&mut all, what).and_then(|s| s.summary())
    }
}

fn take(all: &mut Vec<Streak>, what: &str) -> Option<Streak> {
    let i = all.iter().position(|s| s.what == what)?;
    Some(all.remove(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_failure_is_said_once_then_summed_up() {
        let s = Streaks::default();
        let t0 = Instant::now();
        let at = |secs| t0 + Duration::from_secs(secs);
        let first = s.failed("the status poll", "status 429", "429 a", at(0));
        assert_eq!(
            first,
            Noted {
                first: true,
                ended: None
            }
        );
        for i in 1..37 {
            assert!(
                !s.failed("the status poll", "status 429", "429 b", at(i / 3))
                    .first
            );
        }
        // Another request's streak is its own.
        assert!(s.failed("the trigger", "status 429", "t", at(1)).first);
        assert_eq!(
            s.end("the status poll").as_deref(),
            Some("429 b (37 times in 12s)")
        );
        assert_eq!(s.end("the status poll"), None);
        // A single failure needs no summary.
        assert_eq!(s.end("the trigger"), None);
    }

    #[test]
    fn a_failure_of_another_kind_ends_the_streak() {
        let s = Streaks::default();
        let t0 = Instant::now();
        s.failed("p", "status 503", "503", t0);
        s.failed(
            "p",
            "status 503",
            "503 again",
            t0 + Duration::from_millis(2500),
        );
        let noted = s.failed("p", "lost", "reset", t0 + Duration::from_secs(3));
        assert!(noted.first);
        assert_eq!(
            noted.ended.as_deref(),
            Some("503 again (2 times in 2s 500ms)")
        );
        assert_eq!(s.end("p"), None);
    }
}
