//! The GitLab dotenv report (`artifacts:reports:dotenv`): the run's result as variables for
//! later jobs.
//!
//! GitLab reads each line with `line.scan(/^(.*?)=(.*)$/)` and strips both sides: no
//! quoting, no escapes, no comments, one line per variable, and the whole file must stay
//! under 5,120 bytes or GitLab drops every variable. Values are also marked non-raw, so a
//! later job expands `$NAME` (and `%NAME%` on Windows) inside them. Hence the rule here:
//! values are cleaned, never quoted. Quotes, `#` and `=` are kept (GitLab keeps them
//! literally); control characters and line breaks become spaces; `$` and `%` become their
//! full-width forms `＄` and `％` so nothing is expanded; the ends are trimmed (as GitLab
//! would); and long values are cut on a character boundary. Empty values are left out.

use super::{RunReport, outcome_name, truncate_bytes};
use crate::model::Outcome;
use crate::text::one_line;

/// GitLab's limit on the size of a dotenv report.
pub(crate) const DOTENV_LIMIT: usize = 5_120;

/// The run's message is cut to this many bytes.
pub(crate) const MAX_MESSAGE_BYTES: usize = 500;

/// Other values from the platform are cut to this many bytes.
const MAX_VALUE_BYTES: usize = 200;

/// A value as GitLab will read it back, literally.
pub(crate) fn clean(value: &str, max_bytes: usize) -> String {
    let single = one_line(value).replace('$', "＄").replace('%', "％");
    truncate_bytes(&single, max_bytes).trim_end().to_string()
}

/// The dotenv report for `report`: `KEY=value` lines, every value cleaned (see the module
/// documentation), always under [`DOTENV_LIMIT`] bytes.
pub(crate) fn render(report: &RunReport) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let fields: [(&str, String, usize); 10] = [
        (
            "PIPELINE_RUN_EXECUTION_ID",
            opt(&report.execution_id),
            MAX_VALUE_BYTES,
        ),
        (
            "PIPELINE_RUN_EXECUTION_URL",
            crate::links::execution_url_of(report).unwrap_or_default(),
            MAX_VALUE_BYTES,
        ),
        ("PIPELINE_RUN_STATUS", opt(&report.status), MAX_VALUE_BYTES),
        (
            "PIPELINE_RUN_OUTCOME",
            outcome_name(&report.outcome).to_string(),
            MAX_VALUE_BYTES,
        ),
        (
            "PIPELINE_RUN_STARTED_AT",
            opt(&report.started_at),
            MAX_VALUE_BYTES,
        ),
        (
            "PIPELINE_RUN_FINISHED_AT",
            opt(&report.finished_at),
            MAX_VALUE_BYTES,
        ),
        (
            "PIPELINE_RUN_DURATION",
            report
                .duration_secs()
                .map(|s| s.to_string())
                .unwrap_or_default(),
            MAX_VALUE_BYTES,
        ),
        (
            "PIPELINE_RUN_STEPS_TOTAL",
            report.steps.len().to_string(),
            MAX_VALUE_BYTES,
        ),
        (
            "PIPELINE_RUN_STEPS_FAILED",
            report.steps_failed().to_string(),
            MAX_VALUE_BYTES,
        ),
        (
            "PIPELINE_RUN_PIPELINE",
            report.pipeline.clone(),
            MAX_VALUE_BYTES,
        ),
    ];
    let mut out = String::new();
    for (key, value, max) in fields {
        let value = clean(&value, max);
        if !value.is_empty() {
            out.push_str(&format!("{key}={value}\n"));
        }
    }
    // The message goes last and gets what room is left, so the file never exceeds the
    // limit whatever the other values hold (they are bounded: 10 × ~230 bytes).
    let message = match (&report.message, &report.outcome) {
        (Some(m), _) => m.clone(),
        (None, Outcome::Refused { reason }) => reason.clone(),
        (None, _) => String::new(),
    };
    let key = "PIPELINE_RUN_MESSAGE=";
    let room = (DOTENV_LIMIT - 1).saturating_sub(out.len() + key.len() + 1);
    let message = clean(&message, MAX_MESSAGE_BYTES.min(room));
    if !message.is_empty() {
        out.push_str(key);
        out.push_str(&message);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::sample;

    /// GitLab's reading of a dotenv file: every line `^(.*?)=(.*)$`, both sides stripped,
    /// keys `[A-Za-z0-9_]+`, no empty lines, size under the limit.
    fn parse(text: &str) -> Vec<(String, String)> {
        assert!(text.len() < DOTENV_LIMIT, "{} bytes", text.len());
        text.lines()
            .map(|line| {
                assert!(!line.contains('\r'));
                let (k, v) = line.split_once('=').expect("Invalid Format");
                let (k, v) = (k.trim(), v.trim());
                assert!(!k.is_empty());
                assert!(k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
                assert!(!v.contains('$') && !v.contains('%'), "would expand: {v}");
                assert!(!v.chars().any(char::is_control));
                (k.to_string(), v.to_string())
            })
            .collect()
    }

    #[test]
    fn sample_exact() {
        let text = render(&sample());
        assert_eq!(
            text,
            "PIPELINE_RUN_EXECUTION_ID=7c4c0f5e-0a1b-4a8e-9d3c-1f2e3d4c5b6a\n\
             PIPELINE_RUN_EXECUTION_URL=https://app.matillion.com/observability-dashboard/pipeline/7c4c0f5e-0a1b-4a8e-9d3c-1f2e3d4c5b6a\n\
             PIPELINE_RUN_STATUS=FAILED\n\
             PIPELINE_RUN_OUTCOME=failed\n\
             PIPELINE_RUN_STARTED_AT=2026-11-22T05:00:00Z\n\
             PIPELINE_RUN_FINISHED_AT=2026-11-22T05:01:30Z\n\
             PIPELINE_RUN_DURATION=90\n\
             PIPELINE_RUN_STEPS_TOTAL=2\n\
             PIPELINE_RUN_STEPS_FAILED=1\n\
             PIPELINE_RUN_PIPELINE=Load orders\n\
             PIPELINE_RUN_MESSAGE=\"Load\": table missing\n"
        );
        let parsed = parse(&text);
        assert_eq!(parsed.len(), 11);
        assert_eq!(parsed[10].1, "\"Load\": table missing");
    }

    #[test]
    fn unknown_values_are_left_out() {
        let r = RunReport::new(crate::report::PlatformKind::Datalab, "pl_1");
        assert_eq!(
            render(&r),
            "PIPELINE_RUN_OUTCOME=triggered\n\
             PIPELINE_RUN_STEPS_TOTAL=0\n\
             PIPELINE_RUN_STEPS_FAILED=0\n\
             PIPELINE_RUN_PIPELINE=pl_1\n"
        );
    }

    #[test]
    fn hostile_values_are_cleaned() {
        let mut r = sample();
        r.message = Some("  a\nEVIL=1\r\n# c $HOME ${X} %PATH% \u{0}\u{1b}[31m  ".into());
        r.pipeline = "p\nPIPELINE_RUN_STATUS=SUCCESS".into();
        r.status = Some("\n".into());
        let text = render(&r);
        let parsed = parse(&text);
        assert_eq!(parsed.len(), 10);
        let get = |n: &str| parsed.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(
            get("PIPELINE_RUN_MESSAGE"),
            Some("a EVIL=1 # c ＄HOME ＄{X} ％PATH％ [31m")
        );
        assert_eq!(
            get("PIPELINE_RUN_PIPELINE"),
            Some("p PIPELINE_RUN_STATUS=SUCCESS")
        );
        assert_eq!(get("PIPELINE_RUN_STATUS"), None);
        assert_eq!(get("EVIL"), None);
    }

    #[test]
    fn long_values_stay_under_the_limit() {
        let mut r = sample();
        r.message = Some("ü".repeat(10_000));
        r.pipeline = "✓".repeat(10_000);
        r.execution_id = Some("x".repeat(10_000));
        r.status = Some("y".repeat(10_000));
        r.started_at = Some("z".repeat(10_000));
        r.finished_at = Some("w".repeat(10_000));
        let text = render(&r);
        let parsed = parse(&text);
        let get = |n: &str| parsed.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        assert_eq!(get("PIPELINE_RUN_MESSAGE"), Some("ü".repeat(250)));
        assert_eq!(get("PIPELINE_RUN_PIPELINE"), Some("✓".repeat(66)));
        assert_eq!(get("PIPELINE_RUN_STATUS"), Some("y".repeat(200)));
    }
}
