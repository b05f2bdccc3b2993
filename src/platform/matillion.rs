//! Matillion Data Productivity Cloud: resolve the project, trigger a published pipeline at
//! most once (adopting a run whose reply was lost, waiting out a held execution tag),
//! poll its status, read its details and steps, cancel it.
//!
//! This file holds the client and its [`Platform`] implementation; the work is in the
//! files beside it: the catalog and the dry run ([`catalog`]), the trigger ([`trigger`]),
//! the artifacts, for `publish` and `promote` ([`artifacts`]), the paged lists ([`lists`]), details and steps ([`steps`]), the grace given to a
//! replica that has not seen a new execution yet ([`lag`]), and the wire shapes ([`wire`]).

use super::{CancelAck, PastRun, Platform, history};
use crate::auth::BearerAuth;
use crate::config::{MatillionConfig, ProjectRef};
use crate::http::{Body, Budget, Http, HttpError, Method, Request, enc};
use crate::model::{PlatformKind, RunReport, Step};
use crate::progress::StepPage;
use crate::timefmt;
use crate::wait::{Failure, Phase, RunState, Waiter};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

pub(crate) mod artifacts;
mod attach;
mod catalog;
mod lag;
mod lists;
mod steps;
mod trigger;
mod wire;

pub use trigger::pick_own;
pub use wire::Listed;
use wire::{ListReply, StatusReply};

/// Statuses that end an execution.
pub(crate) fn phase_of(status: &str) -> Phase {
    match status {
        "SUCCESS" => Phase::Succeeded,
        "FAILED" | "CANCELLED" | "SKIPPED" | "FORBIDDEN" => Phase::Failed,
        _ => Phase::Running,
    }
}

/// The Matillion client.
pub(crate) struct Matillion {
    cfg: MatillionConfig,
    http: Http,
    auth: BearerAuth,
    /// The project's id once resolved: shared with the clients of the pipelines run beside
    /// this one ([`Matillion::sharing_project_with`]), so a name is looked up once.
    project_id: Arc<OnceLock<String>>,
    /// Held while the project is resolved, so that clients sharing it look it up once.
    resolving: Arc<Mutex<()>>,
    /// The execution this program created (or adopted), and since when it has not been
    /// found (a 404 for it is replica lag for a while).
    created: Mutex<Option<lag::Known>>,
    /// The execution `wait` or `status` follows (this program did not start it: it is
    /// never cancelled, not even when it cannot be found).
    attached: OnceLock<attach::Followed>,
    not_found_grace: Duration,
}

impl Matillion {
    /// A client for `cfg`, over `http`, authenticating with `auth`.
    pub(crate) fn new(cfg: MatillionConfig, http: Http, auth: BearerAuth) -> Self {
        Self {
            cfg,
            http,
            auth,
            project_id: Arc::default(),
            resolving: Arc::default(),
            created: Mutex::new(None),
            attached: OnceLock::new(),
            not_found_grace: crate::timings::Timings::DEFAULT.not_found_grace,
        }
    }

    /// This client, resolving its project once with `other` (same project, several
    /// pipelines): whichever asks first looks it up; the others use its answer.
    pub(crate) fn sharing_project_with(mut self, other: &Matillion) -> Self {
        self.project_id = other.project_id.clone();
        self.resolving = other.resolving.clone();
        self
    }

    /// How long a 404 for the execution this program just created is asked again
    /// (`Timings::not_found_grace`).
    pub(crate) fn with_not_found_grace(mut self, grace: Duration) -> Self {
        self.not_found_grace = grace;
        self
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.cfg.base_url, path)
    }

    fn project(&self) -> &str {
        self.project_id
            .get()
            .map(String::as_str)
            .unwrap_or_default()
    }

    fn exec_url(&self, id: &str) -> String {
        self.url(&format!(
            "/v1/projects/{}/pipeline-executions/{}",
            enc(self.project()),
            enc(id)
        ))
    }

    fn get<T: serde::de::DeserializeOwned>(
        &self,
        req: &Request,
        budget: Budget,
    ) -> Result<T, HttpError> {
        self.http.json(req, &self.auth, budget)
    }
}

fn auth_hint(status: u16) -> Option<String> {
    match status {
        401 => Some(
            "authentication failed: check client-id and client-secret (or access-token).".into(),
        ),
        403 => Some(
            "the credentials lack access: check the API credential's role and project access."
                .into(),
        ),
        _ => None,
    }
}

impl Platform for Matillion {
    fn find_triggered(
        &self,
        first_attempt: std::time::SystemTime,
        budget: Budget,
    ) -> Option<String> {
        match self.find_own(first_attempt, budget) {
            Ok(found) => found.map(|e| e.pipeline_execution_id),
            Err(f) => {
                log::warn!("could not look for the run the trigger created: {f}");
                None
            }
        }
    }

    fn trigger(&self, w: &Waiter<'_>, report: &mut RunReport) -> Result<String, Failure> {
        let id = self.trigger_once(w, report)?;
        self.just_created(&id);
        Ok(id)
    }

    fn kind(&self) -> PlatformKind {
        PlatformKind::Matillion
    }

    fn prepare(&self, budget: Budget, report: &mut RunReport) -> Result<(), Failure> {
        let id = self.resolve_project(budget)?;
        report.project = Some(match &self.cfg.project {
            ProjectRef::Id(id) => id.clone(),
            ProjectRef::Name(n) => format!("{n} ({id})"),
        });
        report.project_id = Some(id.clone());
        let _ = self.project_id.set(id);
        Ok(())
    }

    fn check(&self, budget: Budget) -> Result<Vec<String>, Failure> {
        self.dry_run(budget)
    }

    /// One page of the list of executions, newest first: this pipeline (the name filter is
    /// a partial match, so the exact name is checked here) in this environment, ended, and
    /// not the run itself (a short run may have ended before the list is read).
    fn history(&self, budget: Budget) -> Vec<PastRun> {
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
        match self.get::<ListReply>(&req, budget) {
            Ok(reply) => reply
                .results
                .iter()
                .filter(|e| e.pipeline_name == pipeline && e.environment_name == environment)
                .filter(|e| phase_of(&e.status) != Phase::Running)
                .filter(|e| own.as_deref() != Some(e.pipeline_execution_id.as_str()))
                .filter_map(|e| {
                    Some(PastRun {
                        took: timefmt::between(e.started_at.as_deref(), e.finished_at.as_deref())?,
                        succeeded: phase_of(&e.status) == Phase::Succeeded,
                    })
                })
                .take(history::LIMIT)
                .collect(),
            Err(e) => {
                history::unavailable("Matillion", &e);
                Vec::new()
            }
        }
    }

    fn status(&self, id: &str, budget: Budget) -> Result<RunState, Failure> {
        let req = Request::get(format!("{}/status", self.exec_url(id)), "the status poll");
        let r: StatusReply = match self.through_replica_lag(id, budget, || self.get(&req, budget)) {
            Ok(r) => r,
            Err(b) => {
                return Err(match *b {
                    (e, true) if self.is_attached(id) => self.attached_not_found(id, e),
                    (e, true) => self.not_found_after_grace(id, e, budget),
                    (e, false) => Failure::from_http(e, "Matillion", "the status poll", auth_hint),
                });
            }
        };
        let status = r
            .status
            .or(r.result.and_then(|n| n.status))
            .unwrap_or_else(|| "UNKNOWN".into());
        Ok(RunState {
            phase: phase_of(&status),
            status,
        })
    }

    fn collect(&self, id: &str, budget: Budget, report: &mut RunReport) -> Result<(), Failure> {
        self.collect_reusing(id, budget, report, Vec::new())
    }

    fn attach(
        &self,
        id: &str,
        budget: Budget,
        report: &mut RunReport,
    ) -> Result<RunState, Failure> {
        self.attach_to(id, budget, report)
    }

    fn executions_of_pipeline(
        &self,
        running: bool,
        budget: Budget,
    ) -> Result<Vec<super::Found>, Failure> {
        self.of_pipeline(running, budget)
    }

    fn step_page(
        &self,
        id: &str,
        page: usize,
        budget: Budget,
    ) -> Result<Option<StepPage>, Failure> {
        self.running_step_page(id, page, budget)
    }

    fn collect_reusing(
        &self,
        id: &str,
        budget: Budget,
        report: &mut RunReport,
        complete: Vec<Vec<Step>>,
    ) -> Result<(), Failure> {
        self.collect_details_and_steps(id, budget, report, complete)
    }

    fn cancel(&self, id: &str, budget: Budget) -> Result<CancelAck, Failure> {
        let req = Request {
            method: Method::Patch,
            url: self.exec_url(id),
            query: Vec::new(),
            body: Body::Json(serde_json::json!({"status": "CANCELLED", "forceUpdate": false})),
            // Asking twice to cancel is harmless.
            repeatable: true,
            what: "the cancel request".into(),
        };
        match self.http.send(&req, &self.auth, budget) {
            Ok(_) => Ok(CancelAck::Accepted),
            Err(HttpError::Refused(p)) if p.status == 400 || p.status == 409 => {
                // Refused because it already ended? Check before calling it a failure.
                match self.status(id, budget) {
                    Ok(s) if s.phase != Phase::Running => Ok(CancelAck::AlreadyEnded),
                    _ => Err(Failure::Refused(format!(
                        "Matillion refused the cancel request: {p}"
                    ))),
                }
            }
            Err(e) => Err(Failure::from_http(
                e,
                "Matillion",
                "the cancel request",
                auth_hint,
            )),
        }
    }
}
