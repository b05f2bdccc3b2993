//! The pipelines of one step, as one result: [`FleetReport`] (every pipeline's own
//! [`RunReport`], in the order given; one pipeline is a fleet of one, whose reports keep
//! their own shape, schema v1) and what is derived from it for several: the outputs, the
//! dotenv report and the JSON result (`pipeline-run/result/v2`). Their job summary is
//! `summary::render_fleet`, their JUnit report `junit::render_fleet`.
//!
//! One pipeline *decides* the step: the one whose outcome maps to the worst exit code, in
//! the order of [`Exit::rank`] (the first such pipeline in the order given; a failure
//! before a pipeline that fail-fast stopped). Its outcome
//! and status are the step's `outcome` and `status`; the exit code is its exit code.
//!
//! ```text
//! { "schema": "pipeline-run/result/v2", "platform", "project"?, "project_id"?,
//!   "outcome" {…, as in v1: the deciding pipeline's}, "status"?,
//!   "pipelines_total", "pipelines_succeeded", "steps_total", "steps_failed",
//!   "max_parallel", "fail_fast", "rejected_requests",
//!   "pipelines" [ v1 objects without "schema" ] }
//! ```

use super::{RunReport, outcome_name, truncate_bytes};
use crate::exit::Exit;
use crate::model::Outcome;
use crate::text::one_line;
use serde::Serialize;

/// The schema of the JSON result of several pipelines.
pub(crate) const SCHEMA_V2: &str = "pipeline-run/result/v2";
/// At most this many `pipeline: step` lines in the `failed-steps` output.
pub(crate) const MAX_FAILED_STEP_LINES: usize = 50;
/// Bytes of one pipeline's message in the `results` output and the `message` output.
pub(crate) const RESULT_MESSAGE_BYTES: usize = 1_000;

/// Every pipeline of the step, as it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetReport {
    /// One report per pipeline, in the order given.
    pub runs: Vec<RunReport>,
    /// `max-parallel`.
    pub max_parallel: usize,
    /// `fail-fast`.
    pub fail_fast: bool,
    /// How many requests the platform rejected with 429 (the whole process).
    pub rejected_requests: u64,
}

/// Whether an outcome counts as a success of its pipeline.
pub(crate) fn succeeded(o: &Outcome) -> bool {
    matches!(
        o,
        Outcome::Succeeded | Outcome::Triggered | Outcome::DryRun | Outcome::CancelRequested
    )
}

impl FleetReport {
    /// The pipeline whose outcome decides the step (see the module documentation).
    pub(crate) fn deciding(&self) -> Option<&RunReport> {
        // A pipeline stopped by fail-fast exits as a failure, but the failure that stopped
        // it decides, wherever it is in the list.
        let key = |r: &RunReport| {
            let stopped = matches!(r.outcome, Outcome::Stopped { .. });
            (Exit::from(&r.outcome).rank(), u8::from(!stopped))
        };
        let mut worst: Option<&RunReport> = None;
        for r in &self.runs {
            if worst.is_none_or(|w| key(w) < key(r)) {
                worst = Some(r);
            }
        }
        worst
    }

    /// The only pipeline, when there is one: its reports keep their own shape (schema v1).
    pub(crate) fn single(&self) -> Option<&RunReport> {
        match self.runs.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    /// The step's exit code: the deciding pipeline's.
    pub(crate) fn exit(&self) -> Exit {
        self.deciding()
            .map(|r| Exit::from(&r.outcome))
            .unwrap_or(Exit::Success)
    }

    /// The step's outcome: the deciding pipeline's.
    pub(crate) fn outcome(&self) -> Outcome {
        self.deciding()
            .map(|r| r.outcome.clone())
            .unwrap_or(Outcome::Succeeded)
    }

    /// How many pipelines succeeded.
    pub(crate) fn succeeded(&self) -> usize {
        self.runs.iter().filter(|r| succeeded(&r.outcome)).count()
    }

    /// Steps of every pipeline.
    pub(crate) fn steps_total(&self) -> usize {
        self.runs.iter().map(|r| r.steps.len()).sum()
    }

    /// Failed steps of every pipeline.
    pub(crate) fn steps_failed(&self) -> usize {
        self.runs.iter().map(RunReport::steps_failed).sum()
    }

    /// The execution ids known, in order.
    pub(crate) fn execution_ids(&self) -> Vec<&str> {
        self.runs
            .iter()
            .filter_map(|r| r.execution_id.as_deref())
            .collect()
    }
}

/// What a pipeline's line says besides its outcome: its message, or why it was refused.
pub(crate) fn message_of(r: &RunReport) -> Option<String> {
    match (&r.message, &r.outcome) {
        (Some(m), _) if !m.trim().is_empty() => Some(m.clone()),
        (_, Outcome::Refused { reason }) => Some(reason.clone()),
        _ => r.notes.first().cloned(),
    }
}

/// One object of the `results` output.
#[derive(Serialize)]
struct ResultLine<'a> {
    pipeline: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    environment: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    execution_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    execution_url: Option<String>,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_seconds: Option<u64>,
    steps_total: usize,
    steps_failed: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

/// The `results` output: a JSON array, one object per pipeline (`pipeline`,
/// `environment`, `execution_id`, `execution_url`, `outcome`, `status`,
/// `duration_seconds`, `steps_total`, `steps_failed`, `message`; unknown ones left out).
pub(crate) fn results(f: &FleetReport) -> String {
    let lines: Vec<ResultLine<'_>> = f
        .runs
        .iter()
        .map(|r| ResultLine {
            pipeline: &r.pipeline,
            environment: r.environment.as_deref(),
            execution_id: r.execution_id.as_deref(),
            execution_url: crate::links::execution_url_of(r),
            outcome: outcome_name(&r.outcome),
            status: r.status.as_deref(),
            duration_seconds: r.duration_secs(),
            steps_total: r.steps.len(),
            steps_failed: r.steps_failed(),
            message: message_of(r).map(|m| truncate_bytes(&m, RESULT_MESSAGE_BYTES).to_string()),
        })
        .collect();
    serde_json::to_string(&lines).unwrap_or_else(|_| "[]".into())
}

/// The step outputs of several pipelines, as (name, value) pairs in the order written:
/// the names of one pipeline's outputs, with values over all (see docs/several-pipelines.md), then
/// `results`.
pub fn output_values(f: &FleetReport) -> Vec<(&'static str, String)> {
    let lines = |v: Vec<String>| v.join("\n");
    let started = f
        .runs
        .iter()
        .filter_map(|r| r.started_at.as_deref())
        .filter_map(|s| crate::timefmt::parse_rfc3339(s).map(|t| (t, s)))
        .min()
        .map(|(_, s)| s.to_string());
    let finished = f
        .runs
        .iter()
        .filter_map(|r| r.finished_at.as_deref())
        .filter_map(|s| crate::timefmt::parse_rfc3339(s).map(|t| (t, s)))
        .max()
        .map(|(_, s)| s.to_string());
    let all_finished = f.runs.iter().all(|r| r.finished_at.is_some());
    let duration = crate::timefmt::between(started.as_deref(), finished.as_deref())
        .filter(|_| all_finished)
        .map(|d| d.as_secs().to_string())
        .unwrap_or_default();
    let mut message = String::new();
    for r in f.runs.iter().filter(|r| !succeeded(&r.outcome)) {
        if let Some(m) = message_of(r) {
            let line = format!(
                "{}: {}\n",
                one_line(&r.pipeline),
                truncate_bytes(&one_line(&m), RESULT_MESSAGE_BYTES)
            );
            if message.len() + line.len() > super::outputs::MAX_MESSAGE_BYTES {
                break;
            }
            message.push_str(&line);
        }
    }
    let failed_steps: Vec<String> = f
        .runs
        .iter()
        .flat_map(|r| {
            r.failed_steps()
                .map(move |s| format!("{}: {}", one_line(&r.pipeline), one_line(&s.name)))
        })
        .take(MAX_FAILED_STEP_LINES)
        .collect();
    let deciding = f.deciding();
    vec![
        (
            "execution-id",
            lines(f.execution_ids().iter().map(|s| s.to_string()).collect()),
        ),
        (
            "execution-url",
            lines(
                f.runs
                    .iter()
                    .filter_map(crate::links::execution_url_of)
                    .collect(),
            ),
        ),
        (
            "status",
            deciding.and_then(|r| r.status.clone()).unwrap_or_default(),
        ),
        ("message", message.trim_end().to_string()),
        ("started-at", started.unwrap_or_default()),
        (
            "finished-at",
            finished.filter(|_| all_finished).unwrap_or_default(),
        ),
        ("duration", duration),
        ("steps-total", f.steps_total().to_string()),
        ("steps-failed", f.steps_failed().to_string()),
        ("failed-steps", lines(failed_steps)),
        ("outcome", outcome_name(&f.outcome()).to_string()),
        ("results", results(f)),
    ]
}

/// The dotenv report of several pipelines (the same rules as `dotenv::render`: cleaned
/// values, under GitLab's limit): `PIPELINE_RUN_EXECUTION_IDS` (comma-separated), the
/// step's `STATUS`, `OUTCOME`, `STEPS_TOTAL`, `STEPS_FAILED`, `PIPELINES_TOTAL`,
/// `PIPELINES_SUCCEEDED`, then `MESSAGE`.
pub(crate) fn dotenv(f: &FleetReport) -> String {
    let mut ids = String::new();
    for id in f.execution_ids() {
        let id = super::dotenv::clean(id, 100);
        if ids.len() + id.len() + 1 > 2_500 {
            break;
        }
        if !ids.is_empty() {
            ids.push(',');
        }
        ids.push_str(&id);
    }
    let deciding = f.deciding();
    let fields = [
        ("PIPELINE_RUN_EXECUTION_IDS", ids),
        (
            "PIPELINE_RUN_STATUS",
            deciding.and_then(|r| r.status.clone()).unwrap_or_default(),
        ),
        (
            "PIPELINE_RUN_OUTCOME",
            outcome_name(&f.outcome()).to_string(),
        ),
        ("PIPELINE_RUN_STEPS_TOTAL", f.steps_total().to_string()),
        ("PIPELINE_RUN_STEPS_FAILED", f.steps_failed().to_string()),
        ("PIPELINE_RUN_PIPELINES_TOTAL", f.runs.len().to_string()),
        (
            "PIPELINE_RUN_PIPELINES_SUCCEEDED",
            f.succeeded().to_string(),
        ),
    ];
    let mut out = String::new();
    for (key, value) in fields {
        let value = super::dotenv::clean(&value, 2_500);
        if !value.is_empty() {
            out.push_str(&format!("{key}={value}\n"));
        }
    }
    let message = deciding
        .filter(|r| !succeeded(&r.outcome))
        .and_then(|r| message_of(r).map(|m| format!("{}: {m}", r.pipeline)))
        .unwrap_or_default();
    let key = "PIPELINE_RUN_MESSAGE=";
    let room = (super::dotenv::DOTENV_LIMIT - 1).saturating_sub(out.len() + key.len() + 1);
    let message = super::dotenv::clean(&message, super::dotenv::MAX_MESSAGE_BYTES.min(room));
    if !message.is_empty() {
        out.push_str(key);
        out.push_str(&message);
        out.push('\n');
    }
    out
}

/// The JUnit report of several pipelines: one test suite each; a pipeline that did not
/// succeed says why (its message, or its outcome).
pub(crate) fn junit(f: &FleetReport) -> String {
    let why = |r: &RunReport| {
        (!succeeded(&r.outcome))
            .then(|| message_of(r).unwrap_or_else(|| outcome_name(&r.outcome).to_string()))
    };
    super::junit::render_fleet(&f.runs, why)
}

#[derive(Serialize)]
struct Entry<'a> {
    #[serde(flatten)]
    report: &'a RunReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    execution_url: Option<String>,
}

#[derive(Serialize)]
struct Document<'a> {
    schema: &'static str,
    platform: crate::model::PlatformKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    project: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    project_id: Option<&'a str>,
    outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a str>,
    pipelines_total: usize,
    pipelines_succeeded: usize,
    steps_total: usize,
    steps_failed: usize,
    max_parallel: usize,
    fail_fast: bool,
    rejected_requests: u64,
    pipelines: Vec<Entry<'a>>,
}

/// The JSON result of several pipelines (`pipeline-run/result/v2`), pretty-printed.
pub(crate) fn json(f: &FleetReport) -> String {
    let first = f.runs.first();
    let with_id = f.runs.iter().find(|r| r.project_id.is_some()).or(first);
    let doc = Document {
        schema: SCHEMA_V2,
        platform: first
            .map(|r| r.platform)
            .unwrap_or(crate::model::PlatformKind::Matillion),
        project: with_id.and_then(|r| r.project.as_deref()),
        project_id: with_id.and_then(|r| r.project_id.as_deref()),
        outcome: f.outcome(),
        status: f.deciding().and_then(|r| r.status.as_deref()),
        pipelines_total: f.runs.len(),
        pipelines_succeeded: f.succeeded(),
        steps_total: f.steps_total(),
        steps_failed: f.steps_failed(),
        max_parallel: f.max_parallel,
        fail_fast: f.fail_fast,
        rejected_requests: f.rejected_requests,
        pipelines: f
            .runs
            .iter()
            .map(|r| Entry {
                report: r,
                execution_url: crate::links::execution_url_of(r),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| {
        format!(
            "{{\"schema\": \"{SCHEMA_V2}\", \"error\": {:?}}}",
            e.to_string()
        )
    })
}

#[cfg(test)]
mod tests;
