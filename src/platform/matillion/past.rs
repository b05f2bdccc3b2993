//! The pipeline's past runs, for the polling schedule and the comparison with history:
//! one pipeline's from one request (`pipelineName` is a partial match, so the exact name
//! is checked here), or, for a step that runs several pipelines, every pipeline's from one
//! look at its environment's list shared by them all ([`HistoryBook`]).
//!
//! The shared look reads at most [`SHARED_PAGES`] pages of the environment's executions,
//! newest first, without a name filter. It serves a pipeline when it holds at least
//! [`history::LIMIT`] of its executions, or when it was read to its end: then it says as
//! much as the pipeline's own request would. A pipeline it does not serve (a busy
//! environment, where the pipeline's runs are further back) gets its own request, as
//! when it runs alone. A shared look that fails is not made again: the pipelines of that
//! environment poll at a fixed interval, as after a failed lookup of their own.

use super::lists::ListLook;
use super::wire::Listed;
use super::{Matillion, phase_of};
use crate::http::{Budget, HttpError, Request};
use crate::platform::{PastRun, history};
use crate::timefmt;
use crate::wait::Phase;
use std::collections::HashMap;
use std::sync::Mutex;

/// Pages of an environment's list of executions read by the shared look at most.
pub(crate) const SHARED_PAGES: usize = 3;

/// One environment's executions as the shared look read them, and whether that is all of
/// them (the list was read to its end).
type Shelf = (Vec<Listed>, bool);

/// The environments' lists of executions, read once for every pipeline of a step.
#[derive(Debug, Default)]
pub(crate) struct HistoryBook {
    /// By environment: the executions listed and whether the list was read to its end;
    /// `None` when the look failed. Held while an environment is looked up, so that the
    /// pipelines sharing it wait for one look instead of sending their own.
    shelves: Mutex<HashMap<String, Option<Shelf>>>,
}

/// The ended runs of exactly `pipeline` in `environment` in `listed`, newest first, each
/// with both times readable, at most [`history::LIMIT`]; never the run `own` itself (a
/// short run may have ended before the list is read).
fn past_runs(
    listed: &[Listed],
    pipeline: &str,
    environment: &str,
    own: Option<&str>,
) -> Vec<PastRun> {
    listed
        .iter()
        .filter(|e| e.pipeline_name == pipeline && e.environment_name == environment)
        .filter(|e| phase_of(&e.status) != Phase::Running)
        .filter(|e| own != Some(e.pipeline_execution_id.as_str()))
        .filter_map(|e| {
            Some(PastRun {
                took: timefmt::between(e.started_at.as_deref(), e.finished_at.as_deref())?,
                succeeded: phase_of(&e.status) == Phase::Succeeded,
            })
        })
        .take(history::LIMIT)
        .collect()
}

/// What the shared look says of `pipeline` in `environment`: its past runs when the look
/// serves it (see the module documentation), `Some(empty)` when the look failed, `None`
/// when it needs its own request.
fn served(
    shelf: Option<&Shelf>,
    pipeline: &str,
    environment: &str,
    own: Option<&str>,
) -> Option<Vec<PastRun>> {
    let Some((listed, complete)) = shelf else {
        return Some(Vec::new());
    };
    let mine = listed
        .iter()
        .filter(|e| e.pipeline_name == pipeline && e.environment_name == environment)
        .count();
    (*complete || mine >= history::LIMIT).then(|| past_runs(listed, pipeline, environment, own))
}

impl Matillion {
    /// One page of the list of executions, newest first: this pipeline in this
    /// environment, ended.
    pub(super) fn own_history(&self, budget: Budget) -> Vec<PastRun> {
        let (pipeline, environment) = self.pipeline_and_environment();
        let own = self.known_id();
        let req = Request::get(
            self.url("/v1/pipeline-executions"),
            "the list of past executions",
        )
        .query("projectId", self.project())
        .query("pipelineName", pipeline)
        .query("environmentName", environment)
        .query("limit", history::LIMIT.to_string());
        match self.get::<super::wire::ListReply>(&req, budget) {
            Ok(reply) => past_runs(&reply.results, pipeline, environment, own.as_deref()),
            Err(e) => {
                history::unavailable("Matillion", &e);
                Vec::new()
            }
        }
    }

    /// The past runs from the step's shared look at the environment (made now by the
    /// first pipeline to ask), or `None` when it does not serve this pipeline.
    pub(super) fn shared_history(
        &self,
        book: &HistoryBook,
        budget: Budget,
    ) -> Option<Vec<PastRun>> {
        let (pipeline, environment) = self.pipeline_and_environment();
        let mut shelves = book.shelves.lock().unwrap_or_else(|e| e.into_inner());
        let shelf = shelves.entry(environment.to_string()).or_insert_with(|| {
            match self.environment_executions(environment, budget) {
                Ok(found) => {
                    log::debug!(
                        "the past runs of every pipeline in '{}' read from one list of {} executions",
                        crate::text::clean(environment),
                        found.0.len()
                    );
                    Some(found)
                }
                Err(e) => {
                    history::unavailable("Matillion", &e);
                    None
                }
            }
        });
        served(
            shelf.as_ref(),
            pipeline,
            environment,
            self.known_id().as_deref(),
        )
    }

    /// The newest executions of `environment`, every pipeline's (at most
    /// [`SHARED_PAGES`] pages), and whether that is all of them.
    fn environment_executions(
        &self,
        environment: &str,
        budget: Budget,
    ) -> Result<Shelf, HttpError> {
        let filters = [("environmentName", environment.to_string())];
        let look = ListLook {
            pages: SHARED_PAGES,
            what: "the list of past executions",
            retried: true,
        };
        self.list_executions_upto(&filters, &look, budget)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(pipeline: &str, environment: &str, status: &str, took: u64) -> Listed {
        Listed {
            pipeline_execution_id: format!("{pipeline}-{took}"),
            pipeline_name: pipeline.into(),
            environment_name: environment.into(),
            status: status.into(),
            started_at: Some("2026-01-01T00:00:00Z".into()),
            finished_at: (status != "RUNNING")
                .then(|| format!("2026-01-01T00:{:02}:{:02}Z", took / 60, took % 60)),
            trigger: None,
        }
    }

    #[test]
    fn a_complete_list_serves_every_pipeline_by_its_exact_name() {
        let list = vec![
            listed("load", "prod", "RUNNING", 0),
            listed("load", "prod", "SUCCESS", 60),
            listed("load v2", "prod", "SUCCESS", 70),
            listed("load", "dev", "SUCCESS", 80),
            listed("load", "prod", "FAILED", 90),
            listed("other", "prod", "SUCCESS", 100),
        ];
        let shelf = (list, true);
        let load = served(Some(&shelf), "load", "prod", None).unwrap();
        let took: Vec<u64> = load.iter().map(|r| r.took.as_secs()).collect();
        assert_eq!(took, [60, 90]);
        assert_eq!(
            load.iter().map(|r| r.succeeded).collect::<Vec<_>>(),
            [true, false]
        );
        assert_eq!(
            served(Some(&shelf), "other", "prod", None).unwrap().len(),
            1
        );
        // A pipeline with no run in a complete list has no history, as on its own.
        assert_eq!(served(Some(&shelf), "new", "prod", None), Some(Vec::new()));
    }

    #[test]
    fn a_list_cut_short_serves_only_the_pipelines_it_holds_enough_of() {
        let mut list: Vec<Listed> = (0..history::LIMIT as u64)
            .map(|i| listed("busy", "prod", "SUCCESS", 60 + i))
            .collect();
        list.push(listed("rare", "prod", "SUCCESS", 60));
        let shelf = (list, false);
        assert_eq!(
            served(Some(&shelf), "busy", "prod", None).map(|r| r.len()),
            Some(history::LIMIT)
        );
        assert_eq!(served(Some(&shelf), "rare", "prod", None), None);
        // A failed look: no history, and no request of its own either.
        assert_eq!(served(None, "rare", "prod", None), Some(Vec::new()));
    }
}
