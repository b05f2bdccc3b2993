//! GitHub step outputs (`GITHUB_OUTPUT`) and saved state (`GITHUB_STATE`) in the runner's
//! file-command format. Every value is written in the multi-line form
//! `name<<DELIM` / value / `DELIM` with a fresh random delimiter, so a value holding a
//! newline followed by `status=SUCCESS` stays part of its value; a value that contains the
//! delimiter is refused rather than written (the same rule as `@actions/core`).

use super::{RunReport, outcome_name, truncate_bytes};
use crate::model::Outcome;
use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

/// At most this many names in the `failed-steps` output (the rest are in the summary).
pub(crate) const MAX_FAILED_STEP_NAMES: usize = 50;

/// The `message` output is cut to this many bytes: outputs share a 1 MB budget per job.
pub(crate) const MAX_MESSAGE_BYTES: usize = 65_536;

/// Why one output could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OutputError {
    /// The name is empty or holds a character the runner would misread (`=`, `<`, a
    /// newline).
    InvalidName(String),
    /// The delimiter is empty or holds a line break.
    InvalidDelimiter,
    /// The name or value contains the delimiter; writing it could forge other outputs.
    DelimiterInValue(String),
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputError::InvalidName(name) => write!(f, "invalid output name {name:?}"),
            OutputError::InvalidDelimiter => write!(f, "invalid output delimiter"),
            OutputError::DelimiterInValue(name) => write!(
                f,
                "the value of output {name:?} contains the delimiter; it was not written"
            ),
        }
    }
}

impl std::error::Error for OutputError {}

/// One `name<<DELIM\nvalue\nDELIM\n` entry, or an error when it cannot be written safely.
pub(crate) fn format_entry(name: &str, value: &str, delim: &str) -> Result<String, OutputError> {
    if delim.is_empty() || delim.contains(['\n', '\r']) {
        return Err(OutputError::InvalidDelimiter);
    }
    if name.is_empty() || name.contains(['=', '<', '\n', '\r']) {
        return Err(OutputError::InvalidName(name.to_string()));
    }
    if name.contains(delim) || value.contains(delim) {
        return Err(OutputError::DelimiterInValue(name.to_string()));
    }
    Ok(format!("{name}<<{delim}\n{value}\n{delim}\n"))
}

/// A fresh delimiter in the toolkit's style: `ghadelimiter_` and 32 random hex digits.
pub(crate) fn random_delimiter() -> String {
    format!("ghadelimiter_{}", crate::token::random_token())
}

/// The outputs for a report, as (name, value) pairs in the order they are written.
///
/// `execution-url` is the execution's page in the platform's web app ([`crate::links`]),
/// empty where there is none (Datalab).
///
/// Unknown values are written as the empty string rather than omitted, so that later steps
/// can test `steps.<id>.outputs.execution-id != ''` without telling "unset" from "empty".
/// `message` is the run's message (or the refusal reason), cut to [`MAX_MESSAGE_BYTES`];
/// `failed-steps` is one failed step name a line (line breaks inside a name become spaces),
/// at most [`MAX_FAILED_STEP_NAMES`].
pub fn values(report: &RunReport) -> Vec<(&'static str, String)> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let message = match (&report.message, &report.outcome) {
        (Some(m), _) => m.clone(),
        (None, Outcome::Refused { reason }) => reason.clone(),
        (None, _) => String::new(),
    };
    let failed_steps: Vec<String> = report
        .failed_steps()
        .take(MAX_FAILED_STEP_NAMES)
        .map(|s| crate::text::one_line(&s.name))
        .collect();
    vec![
        ("execution-id", opt(&report.execution_id)),
        (
            "execution-url",
            crate::links::execution_url_of(report).unwrap_or_default(),
        ),
        ("status", opt(&report.status)),
        (
            "message",
            truncate_bytes(&message, MAX_MESSAGE_BYTES).to_string(),
        ),
        ("started-at", opt(&report.started_at)),
        ("finished-at", opt(&report.finished_at)),
        (
            "duration",
            report
                .duration_secs()
                .map(|s| s.to_string())
                .unwrap_or_default(),
        ),
        ("steps-total", report.steps.len().to_string()),
        ("steps-failed", report.steps_failed().to_string()),
        ("failed-steps", failed_steps.join("\n")),
        ("outcome", outcome_name(&report.outcome).to_string()),
    ]
}

/// The text to append to `GITHUB_OUTPUT`, and the outputs that were refused (each is left
/// out entirely; the others are still written).
#[cfg(test)]
pub(crate) fn render(report: &RunReport, delimiter: &str) -> (String, Vec<OutputError>) {
    render_pairs(values(report), delimiter)
}

/// [`render`] for any outputs (those of several pipelines).
pub(crate) fn render_pairs(
    pairs: Vec<(&'static str, String)>,
    delimiter: &str,
) -> (String, Vec<OutputError>) {
    let mut text = String::new();
    let mut refused = Vec::new();
    for (name, value) in pairs {
        match format_entry(name, &value, delimiter) {
            Ok(entry) => text.push_str(&entry),
            Err(e) => refused.push(e),
        }
    }
    (text, refused)
}

fn append(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    file.write_all(text.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

/// Appends the outputs to the file at `path` (the value of `GITHUB_OUTPUT`) with a fresh
/// random delimiter, in one write. Refused outputs are logged and returned.
pub(crate) fn write(path: &Path, report: &RunReport) -> anyhow::Result<Vec<OutputError>> {
    write_pairs(path, values(report))
}

/// [`write`] for any outputs (those of several pipelines).
pub(crate) fn write_pairs(
    path: &Path,
    pairs: Vec<(&'static str, String)>,
) -> anyhow::Result<Vec<OutputError>> {
    let (text, refused) = render_pairs(pairs, &random_delimiter());
    for e in &refused {
        log::error!("{e}");
    }
    append(path, &text)?;
    Ok(refused)
}

/// Appends one `name`/`value` pair to the file at `path` (the value of `GITHUB_STATE`);
/// it comes back to the post step as `STATE_<name>`.
pub(crate) fn write_state(path: &Path, name: &str, value: &str) -> anyhow::Result<()> {
    let entry = format_entry(name, value, &random_delimiter())?;
    append(path, &entry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CancelResult, Step, sample};

    /// Reads a file-command file back the way the runner does (`FileCommandManager`):
    /// line by line; `name=value`, or `name<<DELIM` followed by lines up to a line that is
    /// exactly `DELIM`. Panics on what the runner would reject.
    fn parse(text: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut lines = text.split_inclusive('\n');
        while let Some(raw) = lines.next() {
            let line = raw.trim_end_matches('\n').trim_end_matches('\r');
            if line.is_empty() {
                continue;
            }
            let eq = line.find('=');
            let heredoc = line.find("<<");
            match (eq, heredoc) {
                (Some(e), h) if h.is_none_or(|h| e < h) => {
                    out.push((line[..e].to_string(), line[e + 1..].to_string()));
                }
                (_, Some(h)) => {
                    let (name, delim) = (&line[..h], &line[h + 2..]);
                    assert!(!name.is_empty() && !delim.is_empty(), "invalid heredoc");
                    let mut value = String::new();
                    loop {
                        let raw = lines.next().expect("matching delimiter not found");
                        assert!(raw.ends_with('\n'), "EOF marker missing new line");
                        let l = raw.trim_end_matches('\n').trim_end_matches('\r');
                        if l == delim {
                            break;
                        }
                        value.push_str(raw);
                    }
                    let value = value
                        .strip_suffix('\n')
                        .map(|v| v.strip_suffix('\r').unwrap_or(v))
                        .unwrap_or(&value);
                    out.push((name.to_string(), value.to_string()));
                }
                _ => panic!("invalid format {line:?}"),
            }
        }
        out
    }

    const D: &str = "ghadelimiter_0123456789abcdef0123456789abcdef";

    #[test]
    fn sample_outputs_exact() {
        let (text, refused) = render(&sample(), D);
        assert!(refused.is_empty());
        let expected = [
            ("execution-id", "7c4c0f5e-0a1b-4a8e-9d3c-1f2e3d4c5b6a"),
            (
                "execution-url",
                "https://app.matillion.com/observability-dashboard/pipeline/7c4c0f5e-0a1b-4a8e-9d3c-1f2e3d4c5b6a",
            ),
            ("status", "FAILED"),
            ("message", "\"Load\": table missing"),
            ("started-at", "2026-11-22T05:00:00Z"),
            ("finished-at", "2026-11-22T05:01:30Z"),
            ("duration", "90"),
            ("steps-total", "2"),
            ("steps-failed", "1"),
            ("failed-steps", "Load"),
            ("outcome", "failed"),
        ];
        let expected_text: String = expected
            .iter()
            .map(|(n, v)| format!("{n}<<{D}\n{v}\n{D}\n"))
            .collect();
        assert_eq!(text, expected_text);
        let parsed = parse(&text);
        let want: Vec<(String, String)> = expected
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        assert_eq!(parsed, want);
    }

    #[test]
    fn unknown_values_are_empty() {
        let r = RunReport::new(crate::report::PlatformKind::Datalab, "pl_1");
        let parsed = parse(&render(&r, D).0);
        assert_eq!(parsed[0], ("execution-id".into(), String::new()));
        assert_eq!(parsed[1], ("execution-url".into(), String::new()));
        assert_eq!(parsed[6], ("duration".into(), String::new()));
        assert_eq!(parsed[9], ("failed-steps".into(), String::new()));
        assert_eq!(parsed[10], ("outcome".into(), "triggered".into()));
    }

    #[test]
    fn hostile_values_round_trip() {
        let mut r = sample();
        r.message = Some("line\nstatus=SUCCESS\n::error::x\r\nend<<EOF\n".into());
        r.steps[1].name = "Load\noutcome=succeeded".into();
        r.outcome = Outcome::TimedOut {
            cancel: CancelResult::Cancelled,
        };
        let parsed = parse(&render(&r, D).0);
        let get = |n: &str| parsed.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        assert_eq!(parsed.len(), 11);
        assert_eq!(
            get("message").as_deref(),
            Some("line\nstatus=SUCCESS\n::error::x\r\nend<<EOF\n")
        );
        assert_eq!(get("status").as_deref(), Some("FAILED"));
        assert_eq!(get("outcome").as_deref(), Some("timed-out"));
        assert_eq!(
            get("failed-steps").as_deref(),
            Some("Load outcome=succeeded")
        );
    }

    #[test]
    fn value_with_delimiter_is_refused() {
        let mut r = sample();
        r.message = Some(format!("a\n{D}\nstatus=SUCCESS"));
        let (text, refused) = render(&r, D);
        assert_eq!(
            refused,
            vec![OutputError::DelimiterInValue("message".into())]
        );
        assert!(!text.contains("status=SUCCESS"));
        assert!(!text.contains("message"));
        let parsed = parse(&text);
        assert_eq!(parsed.len(), 10);
        assert!(parsed.iter().all(|(k, _)| k != "message"));
        assert_eq!(parsed[2], ("status".into(), "FAILED".into()));
    }

    #[test]
    fn entry_validation() {
        assert_eq!(format_entry("a", "b", "D").as_deref(), Ok("a<<D\nb\nD\n"));
        assert_eq!(
            format_entry("a", "b", ""),
            Err(OutputError::InvalidDelimiter)
        );
        assert_eq!(
            format_entry("a", "b", "x\ny"),
            Err(OutputError::InvalidDelimiter)
        );
        assert_eq!(
            format_entry("a=b", "c", "D"),
            Err(OutputError::InvalidName("a=b".into()))
        );
        assert_eq!(
            format_entry("xDx", "c", "D"),
            Err(OutputError::DelimiterInValue("xDx".into()))
        );
    }

    #[test]
    fn failed_steps_capped() {
        let mut r = sample();
        r.steps = (0..60)
            .map(|i| Step {
                name: format!("s{i}"),
                failed: true,
                ..Step::default()
            })
            .collect();
        let parsed = parse(&render(&r, D).0);
        let names = &parsed[9].1;
        assert_eq!(names.lines().count(), MAX_FAILED_STEP_NAMES);
        assert_eq!(parsed[8].1, "60");
    }

    #[test]
    fn write_appends_with_random_delimiter() {
        let dir = std::env::temp_dir().join(format!("pr-outputs-{}", crate::token::random_token()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out");
        std::fs::write(&path, "earlier=1\n").unwrap();
        let refused = write(&path, &sample()).unwrap();
        assert!(refused.is_empty());
        write_state(&path, "execution_id", "abc\ndef").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("<<ghadelimiter_"));
        let parsed = parse(&text);
        assert_eq!(parsed[0], ("earlier".into(), "1".into()));
        assert_eq!(parsed[1].1, "7c4c0f5e-0a1b-4a8e-9d3c-1f2e3d4c5b6a");
        assert_eq!(parsed[12], ("execution_id".into(), "abc\ndef".into()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
