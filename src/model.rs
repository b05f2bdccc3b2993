//! The run model: the result of a run, as every reporter sees it. Platform clients and the
//! wait loop fill it in; reporters (summary, outputs, annotations, dotenv, JUnit, JSON) only
//! read it. It sits below both, and imports only the clock's [`Signal`] (the report a
//! config asks for, `RunReport::for_config`, is made where the config is). Every string
//! in here that came from the platform is untrusted data.

use crate::clock::Signal;
use serde::Serialize;
use std::time::Duration;

/// Which platform ran the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PlatformKind {
    /// Matillion Data Productivity Cloud.
    Matillion,
    /// Datalab pipelines.
    Datalab,
}

impl PlatformKind {
    /// The name shown to people.
    pub(crate) fn display_name(self) -> &'static str {
        match self {
            PlatformKind::Matillion => "Matillion",
            PlatformKind::Datalab => "Datalab",
        }
    }
}

/// How the run ended, from this program's point of view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Outcome {
    /// The execution ended successfully.
    Succeeded,
    /// The execution ended in another terminal status (see `RunReport::status`).
    Failed,
    /// Triggered with `wait: false`; not followed.
    Triggered,
    /// The wait timed out.
    TimedOut {
        /// What became of the execution.
        cancel: CancelResult,
    },
    /// Interrupted by a signal.
    Interrupted {
        /// Which signal (serialized as "SIGINT" or "SIGTERM").
        signal: Signal,
        /// What became of the execution.
        cancel: CancelResult,
    },
    /// The platform refused, or could not be reached (the message says which).
    Refused {
        /// A sentence saying what went wrong.
        reason: String,
    },
    /// A dry run: every check passed, nothing was triggered.
    DryRun,
    /// Cancel mode: the cancel request was accepted.
    CancelRequested,
    /// `status`: the execution was still running when it was looked at.
    Running,
    /// Several pipelines with `fail-fast`: stopped (and cancelled) because another one
    /// ended in failure; also one that never started for that reason.
    Stopped {
        /// What became of the execution.
        cancel: CancelResult,
    },
}

/// What happened to a running execution when this program stopped waiting for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CancelResult {
    /// Cancelled; the platform confirmed CANCELLED.
    Cancelled,
    /// The cancel request was accepted; the execution had not reached CANCELLED yet.
    Requested,
    /// Not cancelled because `cancel-on-timeout` is false, or nothing was running.
    NotAttempted,
    /// The platform has no way to cancel; the execution goes on there.
    Unsupported,
    /// The cancel request failed (the message says why).
    Failed(String),
}

/// One step of an execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Step {
    /// The step's name (remote text).
    pub(crate) name: String,
    /// The platform's status for the step, as sent (e.g. SUCCESS, FAILED, completed).
    pub(crate) status: String,
    /// Whether the step failed (Matillion: result status FAILED; Datalab: `failed`).
    pub(crate) failed: bool,
    /// The step's message, if any (remote text, may be long and multi-line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) message: Option<String>,
    /// When it started (RFC 3339, as sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) started_at: Option<String>,
    /// When it finished (RFC 3339, as sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) finished_at: Option<String>,
    /// finished - started, when both parse.
    #[serde(
        skip_serializing_if = "Option::is_none",
        rename = "duration_seconds",
        serialize_with = "ser_secs"
    )]
    pub(crate) duration: Option<Duration>,
    /// The child pipeline this step ran, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) child_pipeline: Option<String>,
}

/// Everything known about the run when the program ends. Fields are filled as they
/// become known, so an interrupted run still reports what it knew.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// The platform.
    pub(crate) platform: PlatformKind,
    /// The pipeline asked for (name, or Datalab `pl_...` id).
    pub(crate) pipeline: String,
    /// Matillion project (as given: id or name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) project: Option<String>,
    /// Matillion project id, once resolved (scripts should not have to parse `project`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) project_id: Option<String>,
    /// Matillion environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) environment: Option<String>,
    /// The version asked for, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) version: Option<String>,
    /// The execution tag, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) execution_tag: Option<String>,
    /// Names of the variables overridden (never their values).
    pub(crate) overridden_variables: Vec<String>,
    /// The execution id, once triggered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    /// How the run ended.
    pub outcome: Outcome,
    /// The platform's last known status for the execution (e.g. SUCCESS, RUNNING).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The platform's message for the execution (remote text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) message: Option<String>,
    /// What triggered it (API, SCHEDULE, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) trigger: Option<String>,
    /// When it started (RFC 3339, as sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) started_at: Option<String>,
    /// When it finished (RFC 3339, as sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) finished_at: Option<String>,
    /// finished - started when both are known; else the time this program waited.
    #[serde(
        skip_serializing_if = "Option::is_none",
        rename = "duration_seconds",
        serialize_with = "ser_secs"
    )]
    pub(crate) duration: Option<Duration>,
    /// All steps, in the platform's order.
    pub steps: Vec<Step>,
    /// Things worth saying in the summary and log (adopted a run, waited for a tag, ...).
    pub notes: Vec<String>,
    /// This run against the pipeline's past successful runs (once the run ended and its
    /// past runs were read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) history: Option<HistoryComparison>,
}

/// Past successful runs needed before a run is compared with them.
pub(crate) const MIN_PAST_RUNS: usize = 5;
/// Within this many percent of the median, a run took "about as long".
pub(crate) const ABOUT_AS_LONG_PERCENT: i64 = 5;

/// How long this run took against the median of the pipeline's past successful runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct HistoryComparison {
    /// How many past successful runs were read (the lookup reads the last few dozen ended
    /// runs).
    pub(crate) successful_runs: usize,
    /// Their median duration; only with at least [`MIN_PAST_RUNS`] of them.
    #[serde(
        skip_serializing_if = "Option::is_none",
        rename = "median_seconds",
        serialize_with = "ser_secs"
    )]
    pub(crate) median: Option<Duration>,
    /// This run's duration against that median, in whole percent (positive: longer);
    /// only with a median and this run's duration known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) change_percent: Option<i64>,
}

impl HistoryComparison {
    /// `took` (when known) against `successful`, the durations of past successful runs.
    pub(crate) fn of(took: Option<Duration>, successful: &[Duration]) -> Self {
        let median = (successful.len() >= MIN_PAST_RUNS).then(|| {
            let mut d = successful.to_vec();
            d.sort_unstable();
            let mid = d.len() / 2;
            if d.len() % 2 == 1 {
                d[mid]
            } else {
                (d[mid - 1] + d[mid]) / 2
            }
        });
        let change_percent = match (took, median) {
            (Some(t), Some(m)) if !m.is_zero() => {
                let change = (t.as_secs_f64() - m.as_secs_f64()) / m.as_secs_f64() * 100.0;
                Some(change.round() as i64)
            }
            _ => None,
        };
        Self {
            successful_runs: successful.len(),
            median,
            change_percent,
        }
    }
}

fn ser_secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_f64((d.as_millis() as f64) / 1000.0),
        None => s.serialize_none(),
    }
}

impl RunReport {
    /// A report for `pipeline` on `platform` with nothing known yet.
    pub fn new(platform: PlatformKind, pipeline: impl Into<String>) -> Self {
        Self {
            platform,
            pipeline: pipeline.into(),
            project: None,
            project_id: None,
            environment: None,
            version: None,
            execution_tag: None,
            overridden_variables: Vec::new(),
            execution_id: None,
            outcome: Outcome::Triggered,
            status: None,
            message: None,
            trigger: None,
            started_at: None,
            finished_at: None,
            duration: None,
            steps: Vec::new(),
            notes: Vec::new(),
            history: None,
        }
    }

    /// The failed steps, in order.
    pub(crate) fn failed_steps(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.failed)
    }

    /// How many steps failed.
    pub(crate) fn steps_failed(&self) -> usize {
        self.failed_steps().count()
    }

    /// Whole seconds of `duration`, for outputs.
    pub(crate) fn duration_secs(&self) -> Option<u64> {
        self.duration.map(|d| d.as_secs())
    }
}

/// A small report with steps, for reporters' tests.
#[cfg(test)]
pub(crate) fn sample() -> RunReport {
    let mut r = RunReport::new(PlatformKind::Matillion, "Load orders");
    r.project = Some("Analytics".into());
    r.environment = Some("prod".into());
    r.execution_id = Some("7c4c0f5e-0a1b-4a8e-9d3c-1f2e3d4c5b6a".into());
    r.outcome = Outcome::Failed;
    r.status = Some("FAILED".into());
    r.message = Some("\"Load\": table missing".into());
    r.trigger = Some("API".into());
    r.started_at = Some("2026-11-22T05:00:00Z".into());
    r.finished_at = Some("2026-11-22T05:01:30Z".into());
    r.duration = Some(Duration::from_secs(90));
    r.overridden_variables = vec!["region".into()];
    r.steps = vec![
        Step {
            name: "Start".into(),
            status: "SUCCESS".into(),
            duration: Some(Duration::from_secs(1)),
            ..Step::default()
        },
        Step {
            name: "Load".into(),
            status: "FAILED".into(),
            failed: true,
            message: Some("table missing".into()),
            duration: Some(Duration::from_secs(89)),
            child_pipeline: Some("load-child".into()),
            ..Step::default()
        },
    ];
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_against_the_median_of_past_successful_runs() {
        let m = Duration::from_secs;
        let past: Vec<Duration> = [100, 90, 110, 95, 105].map(m).to_vec();
        let c = HistoryComparison::of(Some(m(118)), &past);
        assert_eq!(c.successful_runs, 5);
        assert_eq!(c.median, Some(m(100)));
        assert_eq!(c.change_percent, Some(18));
        let even =
            HistoryComparison::of(Some(m(50)), &[m(100), m(100), m(90), m(110), m(80), m(120)]);
        assert_eq!(even.median, Some(m(100)));
        assert_eq!(even.change_percent, Some(-50));
        // Too few, or no duration: nothing to compare.
        let few = HistoryComparison::of(Some(m(50)), &past[..4]);
        assert_eq!(
            (few.successful_runs, few.median, few.change_percent),
            (4, None, None)
        );
        let unknown = HistoryComparison::of(None, &past);
        assert_eq!(
            (unknown.median, unknown.change_percent),
            (Some(m(100)), None)
        );
    }
}
