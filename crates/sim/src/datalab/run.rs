//! `POST /api/v1/pipelines/{id}/run`: a multipart form with a file or a `file_url` and the
//! options, validated FastAPI-style (422 naming the field), stored as a new run.

use super::world::{DatalabRun, Upload};
use super::{detail, unprocessable};
use crate::State;
use crate::http::{Request, Response};
use crate::multipart;
use crate::util::random_u64;

pub(super) fn run(state: &State, req: &Request, pipeline_id: &str) -> Response {
    let Some(pipeline) = state
        .config
        .datalab_pipelines
        .iter()
        .find(|p| p.id == pipeline_id)
    else {
        return detail(404, &format!("Pipeline {pipeline_id} not found"));
    };
    let ctype = req.header("content-type").unwrap_or_default();
    let parts = match multipart::parse(ctype, &req.body) {
        Ok(p) => p,
        Err(e) => return unprocessable(&["body"], &e, "value_error"),
    };
    let mut file = None;
    let mut file_url = None;
    let mut fields = Vec::new();
    for p in parts {
        match p.name.as_str() {
            "file" => {
                file = Some(Upload {
                    filename: p.filename,
                    content_type: p.content_type,
                    bytes: p.data,
                })
            }
            "file_url" => file_url = Some(String::from_utf8_lossy(&p.data).into_owned()),
            _ => fields.push((p.name, String::from_utf8_lossy(&p.data).into_owned())),
        }
    }
    if file.is_some() == file_url.is_some() {
        return unprocessable(
            &["body"],
            "Provide exactly one of file or file_url",
            "value_error",
        );
    }
    let field = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if let Some(f) = field("output_format") {
        if !["json", "html", "markdown", "chunks"].contains(&f) {
            return unprocessable(
                &["body", "output_format"],
                "Input should be 'json', 'html', 'markdown' or 'chunks'",
                "enum",
            );
        }
    }
    for k in ["run_evals", "skip_cache"] {
        if let Some(v) = field(k) {
            if !["true", "false", "1", "0", "True", "False"].contains(&v) {
                return unprocessable(
                    &["body", k],
                    "Input should be a valid boolean",
                    "bool_parsing",
                );
            }
        }
    }
    let version = match field("version") {
        None | Some("") => pipeline.version,
        Some(v) => match v.parse::<u32>() {
            Ok(n) if n <= pipeline.version => n,
            Ok(n) => return detail(404, &format!("Pipeline version {n} not found")),
            Err(_) => {
                return unprocessable(
                    &["body", "version"],
                    "Input should be a valid integer",
                    "int_parsing",
                );
            }
        },
    };
    let run = DatalabRun {
        id: format!("pex_{:016x}", random_u64()),
        pipeline: pipeline.clone(),
        version,
        file,
        file_url,
        fields,
        started: state.clock.now(),
        started_wall: state.clock.wall(),
    };
    let body = run.object(state.clock.now(), &state.root());
    state.lock().datalab_runs.push(run);
    Response::json(200, &body)
}
