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

#[cfg(test)]
mod tests {
    //! The order of the sources, each read once: the input, the ids of several pipelines
    //! (result file, then dotenv file), one pipeline's id (result file, then dotenv file).
    use super::*;
    use crate::testing::env;

    /// A config whose report files are `result` and `dotenv` (written when `Some`) in a
    /// directory of this test's own.
    fn config(name: &str, result: Option<&str>, dotenv: Option<&str>, input: &str) -> Config {
        let dir = std::env::temp_dir().join(format!(
            "pipeline-run-targets-{name}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let (r, d) = (dir.join("result.json"), dir.join("run.env"));
        for (path, text) in [(&r, result), (&d, dotenv)] {
            let _ = std::fs::remove_file(path);
            if let Some(text) = text {
                std::fs::write(path, text).expect("write");
            }
        }
        let (r, d) = (r.display().to_string(), d.display().to_string());
        let mut pairs = vec![
            ("MATILLION_ACCESS_TOKEN", "t"),
            ("MATILLION_PROJECT", "p"),
            ("MATILLION_ENVIRONMENT", "e"),
            ("MATILLION_PIPELINE", "x"),
            ("MATILLION_REGION", "eu1"),
            ("INPUT_RESULT-FILE", r.as_str()),
            ("INPUT_DOTENV-FILE", d.as_str()),
        ];
        if !input.is_empty() {
            pairs.push(("INPUT_EXECUTION-ID", input));
        }
        crate::config::from_lookup(&env(&pairs)).expect("valid inputs")
    }

    fn ids(cfg: &Config) -> Vec<(String, Option<String>)> {
        find_targets(cfg)
            .into_iter()
            .map(|t| (t.id, t.pipeline))
            .collect()
    }

    const V2: &str = r#"{"pipelines": [{"pipeline": "a", "execution_id": "e-a"},
        {"pipeline": "b"}, {"pipeline": "c", "execution_id": "e-c"}]}"#;
    const V1: &str = r#"{"execution_id": "e-1"}"#;
    const DOTENV: &str = "PIPELINE_RUN_EXECUTION_IDS=d-1,d-2\nPIPELINE_RUN_EXECUTION_ID=d-0\n";

    #[test]
    fn the_input_comes_first_one_id_a_line() {
        let cfg = config("input", Some(V2), Some(DOTENV), "i-1\n\n i-2 \n");
        let found = find_targets(&cfg);
        assert_eq!(
            found.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
            ["i-1", "i-2"]
        );
        assert_eq!(found[0].source, "input 'execution-id'");
    }

    #[test]
    fn several_in_the_result_file_then_in_the_dotenv_file() {
        let named = |p: &str| Some(p.to_string());
        let cfg = config("v2", Some(V2), Some(DOTENV), "");
        assert_eq!(
            ids(&cfg),
            [("e-a".into(), named("a")), ("e-c".into(), named("c"))]
        );
        let cfg = config("v1-and-ids", Some(V1), Some(DOTENV), "");
        assert_eq!(ids(&cfg), [("d-1".into(), None), ("d-2".into(), None)]);
    }

    #[test]
    fn one_in_the_result_file_then_in_the_dotenv_file() {
        let cfg = config("v1", Some(V1), Some("PIPELINE_RUN_EXECUTION_ID=d-0\n"), "");
        assert_eq!(ids(&cfg), [("e-1".into(), None)]);
        let cfg = config("cut", Some("{\"execution_id\": \"e-"), Some(DOTENV), "");
        assert_eq!(ids(&cfg), [("d-1".into(), None), ("d-2".into(), None)]);
        let cut = config(
            "cut-one",
            Some("{\"execution_id\": \"e-"),
            Some("PIPELINE_RUN_EXECUTION_ID= d-0 \n"),
            "",
        );
        assert_eq!(ids(&cut), [("d-0".into(), None)]);
        assert!(find_targets(&cut)[0].source.starts_with("dotenv-file "));
    }

    #[test]
    fn no_file_no_target() {
        assert!(find_targets(&config("none", None, None, "")).is_empty());
        let empty = config(
            "empty",
            Some("{}"),
            Some("PIPELINE_RUN_EXECUTION_ID=\n"),
            "",
        );
        assert!(find_targets(&empty).is_empty());
    }
}
