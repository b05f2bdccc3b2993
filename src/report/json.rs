//! The whole result as JSON, for scripts and cron wrappers.
//!
//! Shape (`"schema": "pipeline-run/result/v1"`; fields marked ? are left out when
//! unknown, durations are seconds as numbers with millisecond precision):
//!
//! ```text
//! { "schema", "platform" ("matillion"|"datalab"), "pipeline", "project"?, "project_id"?,
//!   "environment"?,
//!   "version"?, "execution_tag"?, "overridden_variables" [names], "execution_id"?,
//!   "outcome" { "kind": "succeeded"|"failed"|"triggered"|"timed-out"|"interrupted"|
//!               "refused"|"dry-run"|"cancel-requested"|"stopped"|"running", "cancel"?, "signal"?,
//!               "reason"? },
//!   "status"?, "message"?, "trigger"?, "started_at"?, "finished_at"?, "duration_seconds"?,
//!   "steps" [{ "name", "status", "failed", "message"?, "started_at"?, "finished_at"?,
//!              "duration_seconds"?, "child_pipeline"? }],
//!   "notes" [strings], "history"? { "successful_runs", "median_seconds"?,
//!   "change_percent"? }, "execution_url"?, "rejected_requests" }
//! ```
//!
//! `cancel` is `"cancelled"`, `"requested"`, `"not-attempted"`, `"unsupported"` or
//! `{"failed": "why"}`; it comes with `timed-out`, `interrupted` and `stopped`. `stopped`
//! (fail-fast stopped this pipeline because another one failed) only appears inside a
//! `pipeline-run/result/v2` document, as the outcome of one of its `pipelines`
//! (`report/aggregate.rs`). New fields may be added in v1; removing or changing one needs
//! v2. `docs/outputs.md` ("The JSON result") documents each field;
//! `tests/it/result_json.rs` holds the output to that table.

use super::RunReport;
use serde::Serialize;

/// The schema identifier written first in every document.
pub(crate) const SCHEMA: &str = "pipeline-run/result/v1";

#[derive(Serialize)]
struct Document<'a> {
    schema: &'static str,
    #[serde(flatten)]
    report: &'a RunReport,
    /// The execution's page in the platform's web app ([`crate::links`]); Matillion only.
    #[serde(skip_serializing_if = "Option::is_none")]
    execution_url: Option<String>,
    /// How many requests the platform rejected with 429.
    rejected_requests: u64,
}

/// The result as pretty-printed JSON (no trailing newline); `rejected_requests`: how many
/// requests the platform rejected with 429.
pub(crate) fn render(report: &RunReport, rejected_requests: u64) -> String {
    let doc = Document {
        schema: SCHEMA,
        report,
        execution_url: crate::links::execution_url_of(report),
        rejected_requests,
    };
    // Serialising plain strings, numbers and enums into a String cannot fail; the fallback
    // keeps the promise of valid JSON all the same.
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| {
        format!(
            "{{\"schema\": \"{SCHEMA}\", \"error\": {:?}}}",
            e.to_string()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CancelResult, Outcome, sample};
    use serde_json::json;

    #[test]
    fn sample_shape() {
        let text = render(&sample(), 3);
        assert!(text.starts_with(
            "{\n  \"schema\": \"pipeline-run/result/v1\",\n  \"platform\": \"matillion\","
        ));
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value,
            json!({
                "schema": "pipeline-run/result/v1",
                "platform": "matillion",
                "pipeline": "Load orders",
                "project": "Analytics",
                "environment": "prod",
                "overridden_variables": ["region"],
                "execution_id": "7c4c0f5e-0a1b-4a8e-9d3c-1f2e3d4c5b6a",
                "outcome": {"kind": "failed"},
                "status": "FAILED",
                "message": "\"Load\": table missing",
                "trigger": "API",
                "started_at": "2026-11-22T05:00:00Z",
                "finished_at": "2026-11-22T05:01:30Z",
                "duration_seconds": 90.0,
                "steps": [
                    {"name": "Start", "status": "SUCCESS", "failed": false, "duration_seconds": 1.0},
                    {
                        "name": "Load",
                        "status": "FAILED",
                        "failed": true,
                        "message": "table missing",
                        "duration_seconds": 89.0,
                        "child_pipeline": "load-child"
                    }
                ],
                "notes": [],
                "execution_url": "https://app.matillion.com/observability-dashboard/pipeline/7c4c0f5e-0a1b-4a8e-9d3c-1f2e3d4c5b6a",
                "rejected_requests": 3
            })
        );
    }

    #[test]
    fn outcome_shapes() {
        let mut r = sample();
        let shape = |r: &RunReport| {
            let v: serde_json::Value = serde_json::from_str(&render(r, 0)).unwrap();
            v["outcome"].clone()
        };
        r.outcome = Outcome::TimedOut {
            cancel: CancelResult::Unsupported,
        };
        assert_eq!(
            shape(&r),
            json!({"kind": "timed-out", "cancel": "unsupported"})
        );
        r.outcome = Outcome::Interrupted {
            signal: crate::clock::Signal::Term,
            cancel: CancelResult::Failed("HTTP 500".into()),
        };
        assert_eq!(
            shape(&r),
            json!({"kind": "interrupted", "signal": "SIGTERM", "cancel": {"failed": "HTTP 500"}})
        );
        r.outcome = Outcome::Refused {
            reason: "no".into(),
        };
        assert_eq!(shape(&r), json!({"kind": "refused", "reason": "no"}));
        r.outcome = Outcome::DryRun;
        assert_eq!(shape(&r), json!({"kind": "dry-run"}));
    }
}
