//! `wait` and `status`: an execution this program did not start. By id, its details are
//! read once (what it runs, where, what started it), through the same replica-lag grace a
//! new run gets ([`super::lag`]): an id still unknown after it is refused, naming it. By
//! pipeline, the list of executions is read (the name filter is a partial match, so the
//! exact pipeline and environment are checked here).

use super::wire::Details;
use super::{Matillion, auth_hint, phase_of};
use crate::http::{Budget, HttpError};
use crate::model::RunReport;
use crate::platform::Found;
use crate::text::clean;
use crate::wait::{Failure, RunState};

/// The execution `wait` or `status` follows, as its details name it.
#[derive(Debug)]
pub(super) struct Followed {
    id: String,
    pipeline: String,
    environment: String,
}

impl Matillion {
    /// The details of `id`, an execution this program did not start, into `report`; its
    /// state now.
    pub(super) fn attach_to(
        &self,
        id: &str,
        budget: Budget,
        report: &mut RunReport,
    ) -> Result<RunState, Failure> {
        // A run started a moment ago (by the job before this one) may not be on every
        // replica yet: the grace counts from now, as for a run this program created.
        self.just_created(id);
        let req = crate::http::Request::get(self.exec_url(id), "the execution details");
        let d: Details = self
            .through_replica_lag(id, budget, || self.get(&req, budget))
            .map_err(|b| match *b {
                (e, true) => Failure::Refused(format!(
                    "Matillion does not know execution {} in project '{}' ({e}, still {} later): check the id and the project",
                    clean(id),
                    self.cfg.project,
                    humantime::format_duration(self.not_found_grace)
                )),
                (e, false) => {
                    Failure::from_http(e, "Matillion", "the execution details", auth_hint)
                }
            })?;
        if let Some(p) = d.pipeline_name {
            report.pipeline = p;
        }
        if let Some(e) = d.environment_name {
            report.environment = Some(e);
        }
        let _ = self.attached.set(Followed {
            id: id.to_string(),
            pipeline: report.pipeline.clone(),
            environment: report.environment.clone().unwrap_or_default(),
        });
        report.trigger = d.trigger;
        report.started_at = d.started_at;
        let status = d.status.unwrap_or_else(|| "UNKNOWN".into());
        report.status = Some(status.clone());
        Ok(RunState {
            phase: phase_of(&status),
            status,
        })
    }

    /// Whether `id` is the execution `wait` or `status` follows.
    pub(super) fn is_attached(&self, id: &str) -> bool {
        self.attached.get().is_some_and(|a| a.id == id)
    }

    /// The pipeline and environment whose past runs the run is compared with: the
    /// followed execution's (an id names neither), else the configured ones.
    pub(super) fn pipeline_and_environment(&self) -> (&str, &str) {
        match self.attached.get() {
            Some(f) => (&f.pipeline, &f.environment),
            None => (&self.cfg.pipeline, &self.cfg.environment),
        }
    }

    /// The execution followed is not found after the grace: said, never cancelled.
    pub(super) fn attached_not_found(&self, id: &str, e: HttpError) -> Failure {
        Failure::Refused(format!(
            "Matillion refused the status poll: {e}; execution {} has not been found for {}; this step did not start it and does not cancel it — check it in the Matillion console",
            clean(id),
            humantime::format_duration(self.not_found_grace)
        ))
    }

    /// The executions of the configured pipeline in its environment, newest first (only
    /// the running ones when `running`), from a few pages of the list.
    pub(super) fn of_pipeline(&self, running: bool, budget: Budget) -> Result<Vec<Found>, Failure> {
        let c = &self.cfg;
        let mut filters = vec![
            ("pipelineName", c.pipeline.clone()),
            ("environmentName", c.environment.clone()),
        ];
        if running {
            filters.push(("status", "RUNNING".to_string()));
        }
        let listed = self
            .list_executions(&filters, budget)
            .map_err(|e| Failure::from_http(e, "Matillion", "the list of executions", auth_hint))?;
        Ok(listed
            .into_iter()
            .filter(|e| e.pipeline_name == c.pipeline && e.environment_name == c.environment)
            .filter(|e| !running || e.status == "RUNNING")
            .filter(|e| !e.pipeline_execution_id.is_empty())
            .map(|e| Found {
                id: e.pipeline_execution_id,
                status: e.status,
                started_at: e.started_at,
                trigger: e.trigger,
            })
            .collect())
    }
}
