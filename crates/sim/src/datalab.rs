//! The simulated Datalab pipelines API: run a pipeline on an uploaded file (multipart) or
//! a file URL, poll the execution (pending → running → completed / completed_with_errors /
//! failed on the pipeline's timing), and fetch a step's result. FastAPI-style errors.
//!
//! This file routes an `/api/...` request (after the API key check) and holds the error
//! bodies the handlers share. The world the API serves is in [`world`]; the run request
//! is in [`run`], the reads of runs in [`executions`].

mod executions;
mod run;
mod world;

pub use world::{DatalabPipeline, DatalabRunInfo, DatalabStep, Upload};
pub(crate) use world::{DatalabRun, seed_past, seed_runs, start_now};

use crate::http::{Request, Response};
use crate::{Route, State};
use serde_json::json;

fn detail(status: u16, msg: &str) -> Response {
    Response::json(status, &json!({"detail": msg}))
}

fn unprocessable(loc: &[&str], msg: &str, kind: &str) -> Response {
    Response::json(
        422,
        &json!({"detail": [{"loc": loc, "msg": msg, "type": kind}]}),
    )
}

/// Route an `/api/...` request.
pub(crate) fn handle(state: &State, req: &Request, route: Route) -> Response {
    if route == Route::Unknown {
        return detail(404, "Not Found");
    }
    match req.header("x-api-key") {
        None => return detail(401, "Not authenticated"),
        Some(k) if k != state.config.datalab_api_key => return detail(401, "Invalid API key"),
        Some(_) => {}
    }
    let segs = req.segments();
    let seg = |i: usize| segs.get(i).map(String::as_str).unwrap_or_default();
    match route {
        Route::DatalabRun => run::run(state, req, seg(3)),
        Route::DatalabExecution => executions::get_execution(state, seg(4)),
        Route::DatalabResult => executions::step_result(state, seg(4), seg(6)),
        Route::DatalabList => executions::list(state, req, seg(3)),
        _ => detail(404, "Not Found"),
    }
}
