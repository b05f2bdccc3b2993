//! The GitHub workflow commands the reporters write (`::error ...::`, `::warning ...::`,
//! `::add-mask::`): the annotations that point at failed steps, and the masks. The log's
//! `::group::` and `::stop-commands::` are written by the log decoration (`ci`).
//!
//! Everything from the platform goes through [`escape_data`] or [`escape_property`], so a
//! message can never end its line and start a command of its own.

use super::{RunReport, describe_cancel};
use crate::model::Outcome;
use crate::text::{escape_data, escape_property, one_line};

/// GitHub shows at most this many error annotations per step; more are dropped silently.
const MAX_ERROR_ANNOTATIONS: usize = 10;

fn error(title: &str, message: &str) -> String {
    format!(
        "::error title={}::{}",
        escape_property(title),
        escape_data(message)
    )
}

fn warning(title: &str, message: &str) -> String {
    format!(
        "::warning title={}::{}",
        escape_property(title),
        escape_data(message)
    )
}

/// The annotations for a run, one command a line (no newlines inside any of them):
/// - failed or refused: one `::error` for the run, first, so it is always shown;
/// - timed out or interrupted: one `::warning` saying what became of the execution;
/// - one `::error` per failed step (title = the step name, message = its message), but
///   since GitHub shows only 10 errors per step, when they would not all fit the last
///   slot says how many more failed steps there are;
/// - nothing on success, trigger-only, dry run or cancel request.
pub(crate) fn annotations(report: &RunReport) -> Vec<String> {
    let pipeline = one_line(&report.pipeline);
    let mut out = Vec::new();
    match &report.outcome {
        Outcome::Failed => {
            let status = report.status.as_deref().unwrap_or("unknown");
            let mut msg = format!("The execution ended with status {status}");
            if let Some(m) = report.message.as_deref().filter(|m| !m.trim().is_empty()) {
                msg.push_str(": ");
                msg.push_str(m);
            }
            out.push(error(&format!("{pipeline} failed"), &msg));
        }
        Outcome::Refused { reason } => {
            out.push(error(&format!("{pipeline} was refused"), reason));
        }
        Outcome::TimedOut { cancel } => {
            let msg = format!(
                "The wait timed out; {}.",
                describe_cancel(cancel, report.platform)
            );
            out.push(warning(&format!("{pipeline} timed out"), &msg));
        }
        Outcome::Interrupted { signal, cancel } => {
            let msg = format!(
                "Interrupted by {signal}; {}.",
                describe_cancel(cancel, report.platform)
            );
            out.push(warning(&format!("{pipeline} interrupted"), &msg));
        }
        Outcome::Stopped { cancel } => {
            let msg = format!(
                "Another pipeline failed (fail-fast); {}.",
                describe_cancel(cancel, report.platform)
            );
            out.push(warning(&format!("{pipeline} stopped"), &msg));
        }
        Outcome::Succeeded
        | Outcome::Triggered
        | Outcome::DryRun
        | Outcome::CancelRequested
        | Outcome::Running => {}
    }

    let run_errors = usize::from(matches!(
        report.outcome,
        Outcome::Failed | Outcome::Refused { .. }
    ));
    let slots = MAX_ERROR_ANNOTATIONS - run_errors;
    let failed = report.steps_failed();
    let shown = if failed <= slots { failed } else { slots - 1 };
    for step in report.failed_steps().take(shown) {
        let message = match step.message.as_deref().filter(|m| !m.trim().is_empty()) {
            Some(m) => m.to_string(),
            None => format!("The step ended with status {}", step.status),
        };
        out.push(error(&one_line(&step.name), &message));
    }
    if failed > shown {
        let more = failed - shown;
        let noun = if more == 1 { "step" } else { "steps" };
        out.push(format!(
            "::error::{more} more failed {noun} (see the job summary)"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CancelResult, PlatformKind, Step, sample};

    #[test]
    fn sample_annotations() {
        assert_eq!(
            annotations(&sample()),
            vec![
                "::error title=Load orders failed::The execution ended with status FAILED: \"Load\": table missing",
                "::error title=Load::table missing",
            ]
        );
    }

    #[test]
    fn hostile_text_stays_on_one_line() {
        let mut r = sample();
        r.steps[1].name = "a,b:c".into();
        r.steps[1].message = Some("x\n::error::pwned".into());
        let lines = annotations(&r);
        assert_eq!(lines[1], "::error title=a%2Cb%3Ac::x%0A::error::pwned");
        for l in &lines {
            assert!(!l.contains('\n') && !l.contains('\r'));
        }
    }

    #[test]
    fn nothing_on_success() {
        let mut r = sample();
        r.outcome = Outcome::Succeeded;
        r.steps[1].failed = false;
        assert!(annotations(&r).is_empty());
    }

    #[test]
    fn timeout_is_a_warning() {
        let mut r = RunReport::new(PlatformKind::Datalab, "pl_1");
        r.outcome = Outcome::TimedOut {
            cancel: CancelResult::Unsupported,
        };
        assert_eq!(
            annotations(&r),
            vec![
                "::warning title=pl_1 timed out::The wait timed out; the execution continues on Datalab."
            ]
        );
        r.outcome = Outcome::Interrupted {
            signal: crate::clock::Signal::Term,
            cancel: CancelResult::Requested,
        };
        assert_eq!(
            annotations(&r),
            vec![
                "::warning title=pl_1 interrupted::Interrupted by SIGTERM; cancel requested; the execution had not stopped yet."
            ]
        );
    }

    #[test]
    fn refused() {
        let mut r = RunReport::new(PlatformKind::Matillion, "p");
        r.outcome = Outcome::Refused {
            reason: "HTTP 403: forbidden".into(),
        };
        assert_eq!(
            annotations(&r),
            vec!["::error title=p was refused::HTTP 403: forbidden"]
        );
    }

    #[test]
    fn at_most_ten_errors() {
        let mut r = sample();
        r.steps = (0..15)
            .map(|i| Step {
                name: format!("s{i}"),
                status: "FAILED".into(),
                failed: true,
                ..Step::default()
            })
            .collect();
        let lines = annotations(&r);
        assert_eq!(lines.len(), 10);
        assert_eq!(
            lines[1],
            "::error title=s0::The step ended with status FAILED"
        );
        assert_eq!(
            lines[8],
            "::error title=s7::The step ended with status FAILED"
        );
        assert_eq!(
            lines[9],
            "::error::7 more failed steps (see the job summary)"
        );

        // Exactly as many failed steps as slots: all shown, no "more" line.
        r.steps.truncate(9);
        let lines = annotations(&r);
        assert_eq!(lines.len(), 10);
        assert_eq!(
            lines[9],
            "::error title=s8::The step ended with status FAILED"
        );
    }
}
