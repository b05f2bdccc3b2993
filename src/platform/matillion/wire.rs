//! The shapes of Matillion's JSON replies, as this client reads them: every field it does
//! not need is ignored, and every field it reads may be missing, `null` or of another type
//! (it then reads as unknown: [`crate::lenient::de`]). Numbers may come as strings; a
//! negative `total` is unknown; `"results": null` is an empty page; a list item that cannot
//! be read is left out. Free text (messages) has secrets removed ([`crate::redact`]).

use crate::lenient::de;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(bound(deserialize = "T: DeserializeOwned"))]
pub(super) struct Page<T> {
    #[serde(default, deserialize_with = "de::opt_count")]
    pub(super) total: Option<u64>,
    #[serde(default = "Vec::new", deserialize_with = "de::list")]
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
    #[serde(default, deserialize_with = "de::opt_string")]
    pub(super) status: Option<String>,
    #[serde(default, deserialize_with = "de::opt_object")]
    pub(super) result: Option<NestedStatus>,
}

#[derive(Deserialize)]
pub(super) struct NestedStatus {
    #[serde(default, deserialize_with = "de::opt_string")]
    pub(super) status: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct Details {
    #[serde(deserialize_with = "de::opt_string")]
    pub(super) status: Option<String>,
    #[serde(deserialize_with = "de::opt_text")]
    pub(super) message: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub(super) started_at: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub(super) finished_at: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub(super) trigger: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub(super) pipeline_name: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub(super) environment_name: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct StepItem {
    #[serde(deserialize_with = "de::opt_string")]
    pub(super) name: Option<String>,
    #[serde(deserialize_with = "de::opt_object")]
    pub(super) result: Option<StepResult>,
    #[serde(deserialize_with = "de::opt_object")]
    pub(super) child_pipeline: Option<ChildPipeline>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct StepResult {
    #[serde(deserialize_with = "de::opt_string")]
    pub(super) status: Option<String>,
    #[serde(deserialize_with = "de::opt_text")]
    pub(super) message: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub(super) started_at: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub(super) finished_at: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct ChildPipeline {
    #[serde(deserialize_with = "de::opt_string")]
    pub(super) name: Option<String>,
    #[serde(deserialize_with = "de::opt_string")]
    pub(super) id: Option<String>,
}

/// An execution in the list of executions.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Listed {
    /// Id.
    #[serde(deserialize_with = "de::string_or_empty")]
    pub pipeline_execution_id: String,
    /// Pipeline.
    #[serde(deserialize_with = "de::string_or_empty")]
    pub pipeline_name: String,
    /// Environment.
    #[serde(deserialize_with = "de::string_or_empty")]
    pub environment_name: String,
    /// Status.
    #[serde(deserialize_with = "de::string_or_empty")]
    pub status: String,
    /// Started.
    #[serde(deserialize_with = "de::opt_string")]
    pub started_at: Option<String>,
    /// Finished (absent while it runs).
    pub finished_at: Option<String>,
    /// Trigger.
    #[serde(deserialize_with = "de::opt_string")]
    pub trigger: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct ListReply {
    #[serde(default, deserialize_with = "de::list")]
    pub(super) results: Vec<Listed>,
    #[serde(default)]
    pub(super) more: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_with_null_results_bad_totals_and_bad_items_are_read() {
        let p: Page<StepItem> = crate::lenient::parse(r#"{"results":null,"total":-1}"#).unwrap();
        assert!(p.results.is_empty());
        assert_eq!(p.total, None);
        let p: Page<StepItem> = crate::lenient::parse(
            r#"{"total":"2","results":[{"name":7,"result":"odd"},{"name":"b","result":{"status":null,"message":"\ud83dx"}}]}"#,
        )
        .unwrap();
        assert_eq!(p.total, Some(2));
        assert_eq!(p.results.len(), 2);
        assert_eq!(p.results[0].name.as_deref(), Some("7"));
        assert!(p.results[0].result.is_none());
        let r = p.results[1].result.as_ref().unwrap();
        assert_eq!(r.status, None);
        assert_eq!(r.message.as_deref(), Some("\u{fffd}x"));
        let p: Page<ProjectItem> =
            crate::lenient::parse(r#"{"results":[{"id":"1","name":"a"},{"id":null}]}"#).unwrap();
        assert_eq!(p.results.len(), 1);
    }
}
