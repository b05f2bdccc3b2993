//! Where `pipeline-run cancel` and the post step find the executions to cancel: the
//! `execution-id` input (one a line), else the main step's `result-file` (schema v2's
//! `pipelines[].execution_id`, or v1's `execution_id`), else its `dotenv-file`
//! (`PIPELINE_RUN_EXECUTION_IDS`, or `PIPELINE_RUN_EXECUTION_ID`); the post step reads
//! `GITHUB_STATE` (one a line) with [`lines_of`].

use crate::config::Config;
use serde_json::Value;
use std::path::Path;

/// Where the id came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// The execution id.
    pub(crate) id: String,
    /// "input execution-id", "result-file x.json", ...
    pub(crate) source: String,
    /// The pipeline it ran, when the source says (the JSON result of several pipelines).
    pub(crate) pipeline: Option<String>,
}

/// Every id of `text`, one a line (blank lines skipped), from `source`.
pub(crate) fn lines_of(text: &str, source: &str) -> Vec<Target> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(crate::config::MAX_PIPELINES)
        .map(|id| Target {
            id: id.to_string(),
            source: source.to_string(),
            pipeline: None,
        })
        .collect()
}

/// Every execution to cancel (several after several pipelines); empty when there is none
/// (the run never started). The sources are read in this order: the input; the ids of
/// several pipelines in the result file, then in the dotenv file; one pipeline's id in
/// the result file, then in the dotenv file.
pub(crate) fn find_targets(cfg: &Config) -> Vec<Target> {
    if let Some(ids) = &cfg.execution_id {
        return lines_of(ids, "input 'execution-id'");
    }
    let result = cfg.files.result.as_deref().map(|p| {
        let text = std::fs::read_to_string(p).ok();
        (p, text.map(|t| serde_json::from_str::<Value>(&t)))
    });
    let dotenv = cfg
        .files
        .dotenv
        .as_deref()
        .map(|p| (p, std::fs::read_to_string(p).ok()));
    let mut found = several_in_result(result.as_ref());
    if found.is_empty() {
        found = several_in_dotenv(dotenv.as_ref());
    }
    if found.is_empty() {
        found = one_in_result(result.as_ref());
    }
    if found.is_empty() {
        found = one_in_dotenv(dotenv.as_ref());
    }
    found
}

/// The result file: its path, and its JSON when it could be read.
type ResultFile<'a> = Option<&'a (&'a Path, Option<Result<Value, serde_json::Error>>)>;
/// The dotenv file: its path, and its text when it could be read.
type DotenvFile<'a> = Option<&'a (&'a Path, Option<String>)>;

/// `pipelines[].execution_id` of a result file of schema v2.
fn several_in_result(file: ResultFile<'_>) -> Vec<Target> {
    let Some((path, Some(Ok(doc)))) = file else {
        return Vec::new();
    };
    let source = format!("result-file {}", path.display());
    let Some(entries) = doc.get("pipelines").and_then(Value::as_array) else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|e| {
            Some(Target {
                id: e.get("execution_id")?.as_str()?.to_string(),
                source: source.clone(),
                pipeline: e.get("pipeline").and_then(|p| p.as_str()).map(String::from),
            })
        })
        .take(crate::config::MAX_PIPELINES)
        .collect()
}

/// `PIPELINE_RUN_EXECUTION_IDS` (comma-separated) of a dotenv file.
fn several_in_dotenv(file: DotenvFile<'_>) -> Vec<Target> {
    let Some((path, Some(text))) = file else {
        return Vec::new();
    };
    let ids = text
        .lines()
        .find_map(|l| l.strip_prefix("PIPELINE_RUN_EXECUTION_IDS="))
        .map(|v| v.replace(',', "\n"))
        .unwrap_or_default();
    lines_of(&ids, &format!("dotenv-file {}", path.display()))
}

/// `execution_id` of a result file of schema v1. A file that is not JSON is not fatal:
/// the dotenv file may still hold the id, and a run left going is worse than a warning.
fn one_in_result(file: ResultFile<'_>) -> Vec<Target> {
    let doc = match file {
        Some((path, Some(Err(e)))) => {
            log::warn!(
                "result-file {} is not JSON ({e}); looking in dotenv-file",
                path.display()
            );
            return Vec::new();
        }
        Some((path, Some(Ok(doc)))) => (path, doc),
        _ => return Vec::new(),
    };
    let (path, doc) = doc;
    doc.get("execution_id")
        .and_then(Value::as_str)
        .map(|id| Target {
            id: id.to_string(),
            source: format!("result-file {}", path.display()),
            pipeline: None,
        })
        .into_iter()
        .collect()
}

/// `PIPELINE_RUN_EXECUTION_ID` of a dotenv file.
fn one_in_dotenv(file: DotenvFile<'_>) -> Vec<Target> {
    let Some((path, Some(text))) = file else {
        return Vec::new();
    };
    text.lines()
        .find_map(|l| l.strip_prefix("PIPELINE_RUN_EXECUTION_ID="))
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(|id| Target {
            id: id.to_string(),
            source: format!("dotenv-file {}", path.display()),
            pipeline: None,
        })
        .into_iter()
        .collect()
}
