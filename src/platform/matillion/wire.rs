//! The shapes of Matillion's JSON replies, as this client reads them: every field it does
//! not need is ignored, and every field it reads may be missing.

use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
pub(super) struct Page<T> {
    #[serde(default)]
    pub(super) total: Option<u64>,
    #[serde(default = "Vec::new")]
    pub(super) results: Vec<T>,
}

#[derive(Deserialize)]
pub(super) struct ProjectItem {
    pub(super) id: String,
    pub(super) name: String,
}

#[derive(Deserialize)]
pub(super) struct NameItem {
    pub(super) name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TriggerReply {
    pub(super) pipeline_execution_id: String,
}

#[derive(Deserialize)]
pub(super) struct StatusReply {
    #[serde(default)]
    pub(super) status: Option<String>,
    #[serde(default)]
    pub(super) result: Option<NestedStatus>,
}

#[derive(Deserialize)]
pub(super) struct NestedStatus {
    #[serde(default)]
    pub(super) status: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct Details {
    pub(super) status: Option<String>,
    pub(super) message: Option<String>,
    pub(super) started_at: Option<String>,
    pub(super) finished_at: Option<String>,
    pub(super) trigger: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct StepItem {
    pub(super) name: Option<String>,
    pub(super) result: Option<StepResult>,
    pub(super) child_pipeline: Option<ChildPipeline>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct StepResult {
    pub(super) status: Option<String>,
    pub(super) message: Option<String>,
    pub(super) started_at: Option<String>,
    pub(super) finished_at: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ChildPipeline {
    pub(super) name: Option<String>,
    pub(super) id: Option<String>,
}

/// An execution in the list of executions.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Listed {
    /// Id.
    pub pipeline_execution_id: String,
    /// Pipeline.
    pub pipeline_name: String,
    /// Environment.
    pub environment_name: String,
    /// Status.
    pub status: String,
    /// Started.
    pub started_at: Option<String>,
    /// Finished (absent while it runs).
    pub finished_at: Option<String>,
    /// Trigger.
    pub trigger: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct ListReply {
    #[serde(default)]
    pub(super) results: Vec<Listed>,
    #[serde(default)]
    pub(super) more: Option<Value>,
}
