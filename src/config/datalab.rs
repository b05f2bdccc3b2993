//! Datalab's inputs: the API key, the pipeline id, the document (a file or a URL), and
//! the run's options.

use super::DEFAULT_DATALAB_URL;
use super::reader::{Reader, show};
use crate::secret::Secret;
use std::path::PathBuf;

/// The document a Datalab run processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DatalabInput {
    /// A local file, uploaded.
    File(PathBuf),
    /// A URL Datalab fetches.
    Url(String),
    /// None: `wait` and `status` follow an execution that exists, and upload nothing.
    Attached,
}

/// Datalab-specific configuration.
#[derive(Debug, Clone)]
pub(crate) struct DatalabConfig {
    /// API base URL, without a trailing slash.
    pub(crate) base_url: String,
    /// `X-API-Key`.
    pub(crate) api_key: Secret,
    /// Pipeline id (`pl_...`).
    pub(crate) pipeline: String,
    /// The document.
    pub(crate) input: DatalabInput,
    /// `version`.
    pub(crate) version: Option<String>,
    /// `output_format`.
    pub(crate) output_format: Option<String>,
    /// `page_range`.
    pub(crate) page_range: Option<String>,
    /// `skip_cache`.
    pub(crate) skip_cache: Option<bool>,
    /// `run_evals`.
    pub(crate) run_evals: Option<bool>,
    /// `webhook_url`.
    pub(crate) webhook_url: Option<String>,
    /// Where to download step results.
    pub(crate) result_dir: Option<PathBuf>,
    /// Exit 0 on `completed_with_errors`.
    pub(crate) allow_completed_with_errors: bool,
}

/// Datalab's config. `attached`: `wait` or `status`, which follow an execution by id:
/// no pipeline or document is needed.
pub(super) fn datalab(r: &mut Reader<'_>, attached: bool) -> Option<DatalabConfig> {
    let base_url = match r.get("api-url") {
        Some(u) => r.url("api-url", &u),
        None => Some(DEFAULT_DATALAB_URL.to_string()),
    };
    let api_key = r.secret("api-key");
    if api_key.is_none() {
        r.err(
            "api-key",
            "is required with platform 'datalab' (or set DATALAB_API_KEY).",
        );
    }
    let pipeline = pipeline_id(r, attached);
    let input = match attached {
        true => document_if_given(r),
        false => document(r),
    };
    let (version, output_format, page_range) = run_options(r);
    let skip_cache = r.boolean("skip-cache");
    let run_evals = r.boolean("run-evals");
    let webhook_url = match r.get("webhook-url") {
        Some(u) => r.url("webhook-url", &u),
        None => None,
    };
    let result_dir = r.path("result-dir");
    let allow_completed_with_errors = r.boolean("allow-completed-with-errors").unwrap_or(false);
    Some(DatalabConfig {
        base_url: base_url?,
        api_key: api_key?,
        pipeline,
        input: input?,
        version,
        output_format,
        page_range,
        skip_cache,
        run_evals,
        webhook_url,
        result_dir,
        allow_completed_with_errors,
    })
}

/// `pipeline`: one Datalab pipeline id, `pl_...` (not needed when `attached`).
fn pipeline_id(r: &mut Reader<'_>, attached: bool) -> String {
    let pipeline = match attached {
        true => r.get("pipeline").unwrap_or_default(),
        false => r.required("pipeline", "the Datalab pipeline id, `pl_...`"),
    };
    if pipeline.contains('\n') {
        r.err(
            "pipeline",
            "lists several pipelines, one a line: that is for Matillion only. A Datalab step runs one pipeline on one document; give one `pl_...` id (and one step per pipeline).",
        );
    }
    if !pipeline.is_empty() && !pipeline.starts_with("pl_") {
        r.err(
            "pipeline",
            format!(
                "got {}; a Datalab pipeline id starts with `pl_`.",
                show(&pipeline)
            ),
        );
    }
    pipeline
}

/// `wait` and `status` upload nothing: a document given is checked, none is needed.
fn document_if_given(r: &mut Reader<'_>) -> Option<DatalabInput> {
    match (r.get("file"), r.get("file-url")) {
        (None, None) => Some(DatalabInput::Attached),
        _ => document(r),
    }
}

/// The document: `file` (a regular file) or `file-url`, exactly one.
fn document(r: &mut Reader<'_>) -> Option<DatalabInput> {
    match (r.get("file"), r.get("file-url")) {
        (Some(_), Some(_)) => {
            r.err(
                "file-url",
                "is given together with `file`; give exactly one.",
            );
            None
        }
        (Some(f), None) => {
            let p = PathBuf::from(&f);
            match std::fs::metadata(&p) {
                Ok(m) if m.is_file() => Some(DatalabInput::File(p)),
                Ok(_) => {
                    r.err(
                        "file",
                        format!("got {}; it is not a regular file.", show(&f)),
                    );
                    None
                }
                Err(e) => {
                    r.err("file", format!("got {}; cannot read it ({e}).", show(&f)));
                    None
                }
            }
        }
        (None, Some(u)) => r.url("file-url", &u).map(DatalabInput::Url),
        (None, None) => {
            r.err("file", "is required: give `file` (a path) or `file-url`.");
            None
        }
    }
}

/// `pipeline-version`, `output-format` and `page-range`, each checked.
fn run_options(r: &mut Reader<'_>) -> (Option<String>, Option<String>, Option<String>) {
    let version = r.string("pipeline-version");
    if let Some(v) = &version {
        if v.parse::<u32>().is_err() {
            r.err(
                "pipeline-version",
                format!("got {}; expected a whole number (`0` = draft).", show(v)),
            );
        }
    }
    let output_format = r.string("output-format");
    if let Some(f) = &output_format {
        if !["json", "html", "markdown", "chunks"].contains(&f.as_str()) {
            r.err(
                "output-format",
                format!(
                    "got {}; expected `json`, `html`, `markdown` or `chunks`.",
                    show(f)
                ),
            );
        }
    }
    let page_range = r.string("page-range");
    if let Some(p) = &page_range {
        let ok = p.split(',').all(|part| {
            let mut it = part.trim().splitn(2, '-');
            let a = it
                .next()
                .map(|s| s.trim().parse::<u32>().is_ok())
                .unwrap_or(false);
            let b = it
                .next()
                .map(|s| s.trim().parse::<u32>().is_ok())
                .unwrap_or(true);
            a && b
        });
        if !ok {
            r.err(
                "page-range",
                format!(
                    "got {}; expected page numbers and ranges such as `0,2-4`.",
                    show(p)
                ),
            );
        }
    }
    (version, output_format, page_range)
}
