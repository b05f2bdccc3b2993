//! Reading runs: one execution, one step's result, and a pipeline's list of executions
//! (paged by `limit`/`offset`, in the configured order, runs younger than the list lag
//! left out).

use super::world::DatalabRun;
use super::{detail, unprocessable};
use crate::http::{Request, Response};
use crate::util::derived_uuid;
use crate::{ListOrder, State};
use serde_json::{Value, json};

pub(super) fn get_execution(state: &State, id: &str) -> Response {
    let now = state.clock.now();
    let inner = state.lock();
    match inner.datalab_runs.iter().find(|r| r.id == id) {
        Some(r) => Response::json(200, &r.object(now, &state.root())),
        None => detail(404, &format!("Execution {id} not found")),
    }
}

pub(super) fn step_result(state: &State, id: &str, index: &str) -> Response {
    let now = state.clock.now();
    let inner = state.lock();
    let Some(r) = inner.datalab_runs.iter().find(|r| r.id == id) else {
        return detail(404, &format!("Execution {id} not found"));
    };
    let Some(i) = index
        .parse::<usize>()
        .ok()
        .filter(|i| *i < r.pipeline.steps.len())
    else {
        return detail(404, &format!("Step {index} not found"));
    };
    match r.step_state(i, now).0 {
        "completed" => Response::json(
            200,
            &json!({
                "execution_id": r.id,
                "step_index": i,
                "step_type": r.pipeline.steps[i].step_type,
                "output": {
                    "markdown": format!("# Result of step {i}\n\nSimulated output."),
                    "page_count": 1,
                },
            }),
        ),
        "failed" => detail(404, "Step failed; no result"),
        _ => detail(404, "Step result not ready"),
    }
}

pub(super) fn list(state: &State, req: &Request, pipeline_id: &str) -> Response {
    if !state
        .config
        .datalab_pipelines
        .iter()
        .any(|p| p.id == pipeline_id)
    {
        return detail(404, &format!("Pipeline {pipeline_id} not found"));
    }
    let q = req.query_pairs();
    let num = |k: &str, default: usize| -> Result<usize, Response> {
        match q.iter().find(|(n, _)| n == k) {
            None => Ok(default),
            Some((_, v)) => v.parse().map_err(|_| {
                unprocessable(
                    &["query", k],
                    "Input should be a valid integer",
                    "int_parsing",
                )
            }),
        }
    };
    let (limit, offset) = match (num("limit", 20), num("offset", 0)) {
        (Ok(l), Ok(o)) => (l, o),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let now = state.clock.now();
    let inner = state.lock();
    let lag = state.config.list_lag;
    let mut all: Vec<&DatalabRun> = inner
        .datalab_runs
        .iter()
        .rev()
        .filter(|r| r.pipeline.id == pipeline_id)
        .filter(|r| now.saturating_duration_since(r.started) >= lag)
        .collect();
    match state.config.datalab_list_order {
        ListOrder::NewestFirst => {}
        ListOrder::OldestFirst => all.reverse(),
        ListOrder::Shuffled(seed) => {
            // Keyed by position in creation order: the same permutation on every request.
            let mut keyed: Vec<(String, &DatalabRun)> = all
                .iter()
                .rev()
                .enumerate()
                .map(|(i, r)| (derived_uuid(&format!("order-{seed}"), i as u64), *r))
                .collect();
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            all = keyed.into_iter().map(|(_, r)| r).collect();
        }
    }
    let executions: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(limit)
        .map(|r| r.object(now, &state.root()))
        .collect();
    Response::json(200, &json!({"executions": executions, "total": all.len()}))
}
