//! Reporters: one module per output. Each reads a [`RunReport`] and writes one format.
//!
//! The renderers are pure (report in, text out) so that every format gets exact snapshot
//! tests; only `outputs::write*` touch the file system. Helpers shared by several formats
//! (durations, outcome names, truncation) live here; text cleaning is
//! [`crate::text`]'s so that the formats agree.

pub mod aggregate;
pub mod dotenv;
pub mod json;
pub mod junit;
pub mod outputs;
pub mod summary;
pub mod workflow;

pub use crate::model::{CancelResult, Outcome, PlatformKind, RunReport, Step};

use std::time::Duration;

/// A duration for people: `0s`, `<0.1s`, `0.4s`, `45s`, `1m 30s`, `2h 5m 0s`. Under a
/// second it shows tenths (cut, not rounded, so `0.95s` is `0.9s` and never `1.0s`), and
/// a step that took some time never reads as `0s`; from a second on, whole seconds. The
/// summary, the log and the terminal demo all use it.
pub fn humanize_duration(d: Duration) -> String {
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
pub fn outcome_name(outcome: &Outcome) -> &'static str {
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
    }
}

/// What became of the execution when this program stopped waiting, as a sentence
/// fragment (used by the summary and the annotations).
pub fn describe_cancel(cancel: &CancelResult, platform: PlatformKind) -> String {
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
pub fn truncate_bytes(s: &str, max_bytes: usize) -> &str {
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
pub fn truncate_chars(s: &str, max_chars: usize) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
