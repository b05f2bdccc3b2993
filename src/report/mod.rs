//! Reporters: one module per output. Each reads a [`RunReport`] and writes one format.
//!
//! The renderers are pure (report in, text out) so that every format gets exact snapshot
//! tests; only `outputs::write*` touch the file system. Helpers shared by several formats
//! (durations, outcome names, truncation) live here; text cleaning is
//! [`crate::text`]'s so that the formats agree.

pub mod artifact;
pub(crate) mod dotenv;
pub mod fleet;
pub(crate) mod json;
pub(crate) mod junit;
pub mod outputs;
pub(crate) mod summary;
pub(crate) mod workflow;

pub use crate::model::{CancelResult, Outcome, PlatformKind, RunReport, Step};

use std::time::Duration;

/// A duration for people: `0s`, `<0.1s`, `0.4s`, `45s`, `1m 30s`, `2h 5m 0s`. Under a
/// second it shows tenths (cut, not rounded, so `0.95s` is `0.9s` and never `1.0s`), and
/// a step that took some time never reads as `0s`; from a second on, whole seconds. The
/// summary, the log and the terminal demo all use it.
pub(crate) fn humanize_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".to_string();
    }
    if d < Duration::from_millis(100) {
        return "<0.1s".to_string();
    }
    if d < Duration::from_secs(1) {
        return format!("0.{}s", d.subsec_millis() / 100);
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h}h {m}m {s}s")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

/// The short machine name of an outcome, shared by the step outputs, the dotenv report
/// and the annotations so that scripts can compare one vocabulary everywhere.
pub(crate) fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Succeeded => "succeeded",
        Outcome::Failed => "failed",
        Outcome::Triggered => "triggered",
        Outcome::TimedOut { .. } => "timed-out",
        Outcome::Interrupted { .. } => "interrupted",
        Outcome::Refused { .. } => "refused",
        Outcome::DryRun => "dry-run",
        Outcome::CancelRequested => "cancel-requested",
        Outcome::Stopped { .. } => "stopped",
        Outcome::Running => "running",
    }
}

/// What became of the execution when this program stopped waiting, as a sentence
/// fragment (used by the summary and the annotations).
pub(crate) fn describe_cancel(cancel: &CancelResult, platform: PlatformKind) -> String {
    match cancel {
        CancelResult::Cancelled => "the execution was cancelled".to_string(),
        CancelResult::Requested => {
            "cancel requested; the execution had not stopped yet".to_string()
        }
        CancelResult::NotAttempted => "the execution was not cancelled".to_string(),
        CancelResult::Unsupported => {
            format!("the execution continues on {}", platform.display_name())
        }
        CancelResult::Failed(why) => format!("the cancel request failed: {why}"),
    }
}

/// The longest prefix of `s` that is at most `max_bytes` long and ends on a char boundary.
pub(crate) fn truncate_bytes(s: &str, max_bytes: usize) -> &str {
    if s.len() <= max_bytes {
        return s;
    }
    let mut end = max_bytes;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `s` cut to at most `max_chars` characters, with `…` appended when something was cut.
pub(crate) fn truncate_chars(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        None => s.to_string(),
        Some((cut, _)) => {
            let mut out = String::with_capacity(cut + 3);
            out.push_str(&s[..cut]);
            out.push('…');
            out
        }
    }
}

/// This run against its past successful runs, for the summary's facts: "18% longer than
/// the median of the last 20 successful runs (29m 3s)", "about as long as …" within
/// ±[`ABOUT_AS_LONG_PERCENT`](crate::model::ABOUT_AS_LONG_PERCENT)%, or why it is not
/// compared. `None` when the run did not end or its history was not read.
pub(crate) fn against_history(r: &RunReport) -> Option<String> {
    let h = r.history.as_ref()?;
    let n = h.successful_runs;
    let runs = if n == 1 { "run" } else { "runs" };
    Some(match (h.median, h.change_percent) {
        (Some(median), Some(change)) => {
            let how = if change.abs() <= crate::model::ABOUT_AS_LONG_PERCENT {
                "about as long as".to_string()
            } else if change > 0 {
                format!("{change}% longer than")
            } else {
                format!("{}% shorter than", change.unsigned_abs())
            };
            format!(
                "{how} the median of the last {n} successful {runs} ({})",
                humanize_duration(median)
            )
        }
        (Some(_), None) => "not compared: this run's duration is unknown".to_string(),
        _ => format!(
            "not compared: {n} successful past {runs}, at least {} needed",
            crate::model::MIN_PAST_RUNS
        ),
    })
}

/// The log's line for [`against_history`]: "took 34m 12s — 18% longer than …".
pub(crate) fn history_line(r: &RunReport) -> Option<String> {
    let against = against_history(r)?;
    Some(match r.duration {
        Some(d) => format!("took {} — {against}", humanize_duration(d)),
        None => against,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::HistoryComparison;

    #[test]
    fn a_run_against_its_history() {
        let m = |s| Duration::from_secs(s);
        let mut r = crate::model::sample();
        assert_eq!(history_line(&r), None);
        let past = vec![m(1740); 20];
        for (took, want) in [
            (
                2052,
                "took 34m 12s — 18% longer than the median of the last 20 successful runs (29m 0s)",
            ),
            (
                1392,
                "took 23m 12s — 20% shorter than the median of the last 20 successful runs (29m 0s)",
            ),
            (
                1800,
                "took 30m 0s — about as long as the median of the last 20 successful runs (29m 0s)",
            ),
        ] {
            r.duration = Some(m(took));
            r.history = Some(HistoryComparison::of(r.duration, &past));
            assert_eq!(history_line(&r).as_deref(), Some(want));
        }
        r.history = Some(HistoryComparison::of(r.duration, &past[..3]));
        assert_eq!(
            history_line(&r).as_deref(),
            Some("took 30m 0s — not compared: 3 successful past runs, at least 5 needed")
        );
    }

    #[test]
    fn humanize() {
        assert_eq!(humanize_duration(Duration::ZERO), "0s");
        assert_eq!(humanize_duration(Duration::from_millis(999)), "0.9s");
        assert_eq!(humanize_duration(Duration::from_millis(99)), "<0.1s");
        assert_eq!(humanize_duration(Duration::from_millis(1)), "<0.1s");
        assert_eq!(humanize_duration(Duration::from_millis(100)), "0.1s");
        assert_eq!(humanize_duration(Duration::from_millis(950)), "0.9s");
        assert_eq!(humanize_duration(Duration::from_millis(1500)), "1s");
        assert_eq!(humanize_duration(Duration::from_secs(45)), "45s");
        assert_eq!(humanize_duration(Duration::from_secs(90)), "1m 30s");
        assert_eq!(humanize_duration(Duration::from_secs(3600)), "1h 0m 0s");
        assert_eq!(humanize_duration(Duration::from_secs(7500)), "2h 5m 0s");
        assert_eq!(humanize_duration(Duration::from_secs(90_061)), "25h 1m 1s");
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_bytes("Größe", 3), "Gr");
        assert_eq!(truncate_bytes("Größe", 4), "Grö");
        assert_eq!(truncate_bytes("abc", 10), "abc");
        assert_eq!(truncate_chars("Größe ✓", 3), "Grö…");
        assert_eq!(truncate_chars("abc", 3), "abc");
    }

    #[test]
    fn outcome_names() {
        let cancel = CancelResult::Cancelled;
        assert_eq!(outcome_name(&Outcome::TimedOut { cancel }), "timed-out");
        assert_eq!(outcome_name(&Outcome::CancelRequested), "cancel-requested");
        assert_eq!(
            describe_cancel(&CancelResult::Unsupported, PlatformKind::Datalab),
            "the execution continues on Datalab"
        );
    }
}
