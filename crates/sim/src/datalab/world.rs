//! The world the Datalab API serves: the pipelines (their steps, timing and final
//! status), the runs the simulator stores, seeded past runs, and the execution object
//! built from a run at a given instant.

use crate::State;
use crate::util::{iso_python, random_u64};
use serde_json::{Value, json};
use std::time::{Duration, Instant, SystemTime};

/// A Datalab pipeline and how its executions unfold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatalabPipeline {
    /// Its id (`pl_...`).
    pub id: String,
    /// The active published version (`version` absent runs this one).
    pub version: u32,
    /// How long an execution stays `pending` (clock time).
    pub pending_for: Duration,
    /// Clock time from start to the final status.
    pub duration: Duration,
    /// Its steps, in order.
    pub steps: Vec<DatalabStep>,
    /// The final status: `completed`, `completed_with_errors` or `failed`.
    pub final_status: String,
}

/// One step of a Datalab pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatalabStep {
    /// `step_type`, e.g. `convert`, `extract`.
    pub step_type: String,
    /// If set, the step ends `failed` with this `error_message`.
    pub error_message: Option<String>,
}

impl DatalabPipeline {
    /// A pipeline with steps `convert`, `extract` that completes after `duration`, pending
    /// for the first second.
    pub fn new(id: &str, duration: Duration) -> Self {
        Self {
            id: id.into(),
            version: 1,
            pending_for: Duration::from_secs(1).min(duration),
            duration,
            steps: vec![
                DatalabStep {
                    step_type: "convert".into(),
                    error_message: None,
                },
                DatalabStep {
                    step_type: "extract".into(),
                    error_message: None,
                },
            ],
            final_status: "completed".into(),
        }
    }

    /// Set the active version.
    pub fn version(mut self, v: u32) -> Self {
        self.version = v;
        self
    }

    /// Set how long it stays pending.
    pub fn pending_for(mut self, d: Duration) -> Self {
        self.pending_for = d;
        self
    }

    /// Replace the steps with these step types (all succeed).
    pub fn steps(mut self, types: &[&str]) -> Self {
        self.steps = types
            .iter()
            .map(|t| DatalabStep {
                step_type: t.to_string(),
                error_message: None,
            })
            .collect();
        self
    }

    /// Make step `index` fail with `message`.
    pub fn fail_step(mut self, index: usize, message: &str) -> Self {
        if let Some(s) = self.steps.get_mut(index) {
            s.error_message = Some(message.into());
        }
        self
    }

    /// Set the final status.
    pub fn final_status(mut self, status: &str) -> Self {
        self.final_status = status.into();
        self
    }

    fn step_window(&self, i: usize) -> (Duration, Duration) {
        let start = self.pending_for.min(self.duration);
        let span = self.duration.saturating_sub(start).as_nanos();
        let n = self.steps.len().max(1) as u128;
        let at = |k: usize| {
            let nanos = span * k as u128 / n;
            start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
        };
        (at(i), at(i + 1))
    }
}

/// An uploaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// The file name sent.
    pub filename: Option<String>,
    /// The part's content type, if sent.
    pub content_type: Option<String>,
    /// The exact bytes.
    pub bytes: Vec<u8>,
}

/// A Datalab run as tests see it.
#[derive(Debug, Clone)]
pub struct DatalabRunInfo {
    /// `execution_id` (`pex_...`).
    pub execution_id: String,
    /// `pipeline_id`.
    pub pipeline_id: String,
    /// The version run.
    pub pipeline_version: u32,
    /// The uploaded file, if any.
    pub file: Option<Upload>,
    /// `file_url`, if sent.
    pub file_url: Option<String>,
    /// Every other text field sent (`page_range`, `output_format`, ...).
    pub fields: Vec<(String, String)>,
    /// The status now.
    pub status: String,
    /// Clock instant it was created.
    pub started: Instant,
}

/// A stored run.
pub(crate) struct DatalabRun {
    pub(super) id: String,
    pub(super) pipeline: DatalabPipeline,
    pub(super) version: u32,
    pub(super) file: Option<Upload>,
    pub(super) file_url: Option<String>,
    pub(super) fields: Vec<(String, String)>,
    pub(super) started: Instant,
    pub(super) started_wall: SystemTime,
}

impl DatalabRun {
    fn elapsed(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.started)
    }

    fn status(&self, now: Instant) -> String {
        let t = self.elapsed(now);
        if t >= self.pipeline.duration {
            self.pipeline.final_status.clone()
        } else if t >= self.pipeline.pending_for {
            "running".into()
        } else {
            "pending".into()
        }
    }

    pub(crate) fn info(&self, now: Instant) -> DatalabRunInfo {
        DatalabRunInfo {
            execution_id: self.id.clone(),
            pipeline_id: self.pipeline.id.clone(),
            pipeline_version: self.version,
            file: self.file.clone(),
            file_url: self.file_url.clone(),
            fields: self.fields.clone(),
            status: self.status(now),
            started: self.started,
        }
    }

    fn wall(&self, offset: Duration) -> String {
        iso_python(self.started_wall + offset)
    }

    fn field(&self, k: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    /// The status of step `i` now, and when it started/finished.
    pub(super) fn step_state(
        &self,
        i: usize,
        now: Instant,
    ) -> (&'static str, Option<Duration>, Option<Duration>) {
        let e = self.elapsed(now);
        let (start, end) = self.pipeline.step_window(i);
        let failed = self.pipeline.steps[i].error_message.is_some();
        let done = if failed { "failed" } else { "completed" };
        if e < self.pipeline.pending_for {
            ("pending", None, None)
        } else if e >= self.pipeline.duration || end <= e {
            (done, Some(start), Some(end))
        } else if start <= e {
            ("running", Some(start), None)
        } else {
            ("pending", None, None)
        }
    }

    pub(super) fn object(&self, now: Instant, root: &str) -> Value {
        let steps: Vec<Value> = (0..self.pipeline.steps.len())
            .map(|i| {
                let step = &self.pipeline.steps[i];
                let (status, started, finished) = self.step_state(i, now);
                let done = status == "completed";
                json!({
                    "step_index": i,
                    "step_type": step.step_type,
                    "status": status,
                    "lookup_key": done.then(|| format!("{}/{i}", self.id)),
                    "result_url": done.then(|| format!(
                        "{root}/api/v1/pipelines/executions/{}/steps/{i}/result", self.id
                    )),
                    "started_at": started.map(|d| self.wall(d)),
                    "finished_at": finished.map(|d| self.wall(d)),
                    "error_message": if status == "failed" { step.error_message.clone() } else { None },
                    "source_step_type": null,
                    "checkpoint_id": null,
                })
            })
            .collect();
        let t = self.elapsed(now);
        let started =
            (t >= self.pipeline.pending_for).then(|| self.wall(self.pipeline.pending_for));
        let completed = (t >= self.pipeline.duration).then(|| self.wall(self.pipeline.duration));
        let mut input = serde_json::Map::new();
        if let Some(f) = &self.file {
            input.insert("file_name".into(), json!(f.filename));
        }
        if let Some(u) = &self.file_url {
            input.insert("file_url".into(), json!(u));
        }
        for (k, v) in &self.fields {
            input.insert(k.clone(), json!(v));
        }
        json!({
            "execution_id": self.id,
            "pipeline_id": self.pipeline.id,
            "pipeline_version": self.version,
            "status": self.status(now),
            "steps": steps,
            "started_at": started,
            "completed_at": completed,
            "created": self.wall(Duration::ZERO),
            "config_snapshot": {
                "steps": self.pipeline.steps.iter().map(|s| json!({"step_type": s.step_type})).collect::<Vec<_>>(),
                "output_format": self.field("output_format").unwrap_or("json"),
            },
            "input_config": input,
            "rate_breakdown": null,
        })
    }
}

/// A past run of `pipeline_id` that took `took` (its pending second included) and ended
/// `ago` before now, stored as if it had been run then with no input; its id, or `None`
/// when no such pipeline is configured.
pub(crate) fn seed_past(
    state: &State,
    pipeline_id: &str,
    took: Duration,
    ago: Duration,
) -> Option<String> {
    let mut pipeline = configured(state, pipeline_id)?;
    pipeline.duration = took;
    pipeline.pending_for = pipeline.pending_for.min(took);
    let back = took + ago;
    let now = state.clock.now();
    let run = DatalabRun {
        id: format!("pex_{:016x}", random_u64()),
        version: pipeline.version,
        pipeline,
        file: None,
        file_url: None,
        fields: Vec::new(),
        started: now.checked_sub(back).unwrap_or(now),
        started_wall: state.clock.wall() - back,
    };
    let id = run.id.clone();
    state.lock().datalab_runs.push(run);
    Some(id)
}

/// The configured pipeline `pipeline_id`.
fn configured(state: &State, pipeline_id: &str) -> Option<DatalabPipeline> {
    state
        .config
        .datalab_pipelines
        .iter()
        .find(|p| p.id == pipeline_id)
        .cloned()
}

/// Start a run of pipeline `pipeline_id` on `file_url` now, as another client would; its
/// id, or `None` when no such pipeline is configured.
pub(crate) fn start_now(state: &State, pipeline_id: &str, file_url: &str) -> Option<String> {
    let pipeline = configured(state, pipeline_id)?;
    let run = DatalabRun {
        id: format!("pex_{:016x}", random_u64()),
        version: pipeline.version,
        pipeline,
        file: None,
        file_url: Some(file_url.to_string()),
        fields: Vec::new(),
        started: state.clock.now(),
        started_wall: state.clock.wall(),
    };
    let id = run.id.clone();
    state.lock().datalab_runs.push(run);
    Some(id)
}

/// Add `n` finished runs of pipeline `pipeline_id` on `file_url`, started `age` ago (clock
/// time), oldest first; their ids. `None` when no such pipeline is configured.
pub(crate) fn seed_runs(
    state: &State,
    pipeline_id: &str,
    file_url: &str,
    n: usize,
    age: Duration,
) -> Option<Vec<String>> {
    let pipeline = configured(state, pipeline_id)?;
    let now = state.clock.now();
    let wall = state.clock.wall();
    let started = now.checked_sub(age).unwrap_or(now);
    let started_wall = wall.checked_sub(age).unwrap_or(wall);
    let mut ids = Vec::with_capacity(n);
    let mut inner = state.lock();
    for i in 0..n {
        // One second apart, oldest first, so that creation order and time agree.
        let back = Duration::from_secs((n - i) as u64);
        let run = DatalabRun {
            id: format!("pex_{:016x}", random_u64()),
            pipeline: pipeline.clone(),
            version: pipeline.version,
            file: None,
            file_url: Some(file_url.to_string()),
            fields: Vec::new(),
            started: started.checked_sub(back).unwrap_or(started),
            started_wall: started_wall.checked_sub(back).unwrap_or(started_wall),
        };
        ids.push(run.id.clone());
        inner.datalab_runs.push(run);
    }
    Some(ids)
}
