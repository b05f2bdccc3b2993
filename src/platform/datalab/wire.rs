//! The shapes Datalab's replies are read into: an execution with its steps, and a page of
//! a pipeline's executions.

use serde::Deserialize;

/// An execution, as `GET /api/v1/pipelines/executions/{id}` returns it.
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(default)]
pub(crate) struct Execution {
    /// `pex_...`.
    pub(crate) execution_id: String,
    /// `pl_...`.
    pub(crate) pipeline_id: Option<String>,
    /// Status.
    pub(crate) status: String,
    /// Steps.
    pub(crate) steps: Vec<ExecStep>,
    /// Started.
    pub(crate) started_at: Option<String>,
    /// Completed.
    pub(crate) completed_at: Option<String>,
    /// Created.
    pub(crate) created: Option<String>,
    /// Version that ran.
    pub(crate) pipeline_version: Option<i64>,
    /// What it was asked to process (`file_name` or `file_url`, and the options).
    pub(crate) input_config: Option<serde_json::Value>,
}

/// One step of an execution.
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(default)]
pub(crate) struct ExecStep {
    /// Index from 0.
    pub(crate) step_index: Option<i64>,
    /// Type (the step's name).
    pub(crate) step_type: String,
    /// Status.
    pub(crate) status: String,
    /// Where its result is.
    pub(crate) result_url: Option<String>,
    /// Started.
    pub(crate) started_at: Option<String>,
    /// Finished.
    pub(crate) finished_at: Option<String>,
    /// Error.
    pub(crate) error_message: Option<String>,
}

/// A page of a pipeline's executions.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ExecList {
    #[serde(deserialize_with = "crate::lenient::de::list")]
    pub(super) executions: Vec<Execution>,
    #[serde(deserialize_with = "crate::lenient::de::opt_count")]
    pub(super) total: Option<u64>,
}
