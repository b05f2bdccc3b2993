//! Datalab pipelines: run a pipeline on one document (uploaded, or by URL), poll the
//! execution until it ends, read its steps, optionally download each step's result.
//! Datalab has no cancel endpoint: a timeout or signal says so instead of pretending.

use super::{CancelAck, Failure, Phase, Platform, RunState};
use crate::auth::ApiKeyAuth;
use crate::config::{DatalabConfig, DatalabInput};
use crate::http::{Body, Budget, Http, HttpError, Method, Part, Request, clean};
use crate::orchestrate::Waiter;
use crate::platform::matillion::enc;
use crate::report::{PlatformKind, RunReport, Step};
use crate::timefmt;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// When looking for a run whose reply was lost: how far before the first attempt to look.
pub const ADOPT_SKEW: Duration = Duration::from_secs(120);

/// The Datalab client.
pub struct Datalab {
    cfg: DatalabConfig,
    http: Http,
    auth: ApiKeyAuth,
}

/// An execution, as `GET /api/v1/pipelines/executions/{id}` returns it.
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(default)]
pub struct Execution {
    /// `pex_...`.
    pub execution_id: String,
    /// Status.
    pub status: String,
    /// Steps.
    pub steps: Vec<ExecStep>,
    /// Started.
    pub started_at: Option<String>,
    /// Completed.
    pub completed_at: Option<String>,
    /// Created.
    pub created: Option<String>,
    /// Version that ran.
    pub pipeline_version: Option<i64>,
}

/// One step of an execution.
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(default)]
pub struct ExecStep {
    /// Index from 0.
    pub step_index: Option<i64>,
    /// Type (the step's name).
    pub step_type: String,
    /// Status.
    pub status: String,
    /// Where its result is.
    pub result_url: Option<String>,
    /// Started.
    pub started_at: Option<String>,
    /// Finished.
    pub finished_at: Option<String>,
    /// Error.
    pub error_message: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ExecList {
    executions: Vec<Execution>,
}

impl Datalab {
    /// A client for `cfg`.
    pub fn new(cfg: DatalabConfig, http: Http) -> Self {
        let auth = ApiKeyAuth(cfg.api_key.clone());
        Self { cfg, http, auth }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.cfg.base_url, path)
    }

    fn run_request(&self) -> Request {
        let c = &self.cfg;
        let mut parts = Vec::new();
        match &c.input {
            DatalabInput::File(p) => parts.push(Part::File("file".into(), p.clone())),
            DatalabInput::Url(u) => parts.push(Part::Text("file_url".into(), u.clone())),
        }
        let mut text = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                parts.push(Part::Text(k.into(), v.clone()));
            }
        };
        text("version", &c.version);
        text("output_format", &c.output_format);
        text("page_range", &c.page_range);
        text("webhook_url", &c.webhook_url);
        text("skip_cache", &c.skip_cache.map(|b| b.to_string()));
        text("run_evals", &c.run_evals.map(|b| b.to_string()));
        Request {
            method: Method::Post,
            url: self.url(&format!("/api/v1/pipelines/{}/run", enc(&c.pipeline))),
            query: Vec::new(),
            body: Body::Multipart(parts),
            repeatable: false,
            what: "the run request".into(),
        }
    }

    fn execution(&self, id: &str, budget: Budget) -> Result<Execution, Failure> {
        let req = Request::get(
            self.url(&format!("/api/v1/pipelines/executions/{}", enc(id))),
            "the execution poll",
        );
        self.http
            .json(&req, &self.auth, budget)
            .map_err(|e| Failure::from_http(e, "Datalab refused the execution poll", hint))
    }

    fn phase(&self, status: &str) -> Phase {
        match status {
            "completed" => Phase::Succeeded,
            "completed_with_errors" if self.cfg.allow_completed_with_errors => Phase::Succeeded,
            "completed_with_errors" | "failed" => Phase::Failed,
            _ => Phase::Running,
        }
    }

    /// After a lost reply: the execution the request created, if any.
    fn find_own(
        &self,
        since: std::time::SystemTime,
        budget: Budget,
    ) -> Result<Option<Execution>, Failure> {
        let req = Request::get(
            self.url(&format!(
                "/api/v1/pipelines/{}/executions",
                enc(&self.cfg.pipeline)
            )),
            "the list of executions",
        )
        .query("limit", "20")
        .query("offset", "0");
        let list: ExecList = self
            .http
            .json(&req, &self.auth, budget)
            .map_err(|e| Failure::from_http(e, "Datalab refused the list of executions", hint))?;
        Ok(list
            .executions
            .into_iter()
            .filter(|e| {
                e.created
                    .as_deref()
                    .or(e.started_at.as_deref())
                    .and_then(timefmt::parse_rfc3339)
                    .is_some_and(|t| t >= since)
            })
            .min_by_key(|e| e.created.clone()))
    }

    fn download_results(
        &self,
        exec: &Execution,
        dir: &Path,
        budget: Budget,
        report: &mut RunReport,
    ) {
        if let Err(e) = std::fs::create_dir_all(dir) {
            report.notes.push(format!(
                "Could not create result-dir {}: {e}",
                dir.display()
            ));
            return;
        }
        let mut saved = 0;
        for (i, s) in exec.steps.iter().enumerate() {
            let Some(url) = s.result_url.as_deref().filter(|_| s.status == "completed") else {
                continue;
            };
            let url = if url.starts_with("http://") || url.starts_with("https://") {
                url.to_string()
            } else {
                self.url(&format!("/{}", url.trim_start_matches('/')))
            };
            let index = s.step_index.unwrap_or(i as i64);
            let req = Request::get(url, format!("the result of step {index}"));
            match self.http.send(&req, &self.auth, budget) {
                Ok(r) => {
                    let ext = if serde_json::from_str::<serde_json::Value>(&r.body).is_ok() {
                        "json"
                    } else {
                        "txt"
                    };
                    let path = dir.join(result_file_name(index, &s.step_type, ext));
                    match std::fs::write(&path, r.body.as_bytes()) {
                        Ok(()) => saved += 1,
                        Err(e) => log::warn!("could not write {}: {e}", path.display()),
                    }
                }
                Err(e) => log::warn!("could not download the result of step {index}: {e}"),
            }
        }
        log::info!("saved {saved} step result(s) in {}", dir.display());
    }
}

/// `03-extract.json`: the index, then the step type reduced to safe characters.
pub fn result_file_name(index: i64, step_type: &str, ext: &str) -> String {
    let safe: String = step_type
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    format!(
        "{index:02}-{}.{ext}",
        if safe.is_empty() { "step".into() } else { safe }
    )
}

fn hint(status: u16) -> Option<String> {
    match status {
        401 | 403 => Some("check the api-key.".into()),
        404 => Some("check the pipeline id.".into()),
        _ => None,
    }
}

impl Platform for Datalab {
    fn kind(&self) -> PlatformKind {
        PlatformKind::Datalab
    }

    fn prepare(&self, _: Budget, _: &mut RunReport) -> Result<(), Failure> {
        Ok(())
    }

    fn check(&self, budget: Budget) -> Result<Vec<String>, Failure> {
        // Listing the pipeline's executions proves the key works and the pipeline exists.
        let req = Request::get(
            self.url(&format!(
                "/api/v1/pipelines/{}/executions",
                enc(&self.cfg.pipeline)
            )),
            "the list of executions",
        )
        .query("limit", "1")
        .query("offset", "0");
        self.http
            .send(&req, &self.auth, budget)
            .map_err(|e| Failure::from_http(e, "Datalab refused the dry run's check", hint))?;
        let what = match &self.cfg.input {
            DatalabInput::File(p) => format!("file {}", p.display()),
            DatalabInput::Url(u) => format!("file_url {u}"),
        };
        Ok(vec![format!(
            "dry run: pipeline '{}' exists; would send POST {} with {what}",
            self.cfg.pipeline,
            self.run_request().url
        )])
    }

    fn trigger(&self, w: &Waiter<'_>, report: &mut RunReport) -> Result<String, Failure> {
        let req = self.run_request();
        let first_attempt = w.clock.wall();
        let mut retry_wait = w.intervals();
        loop {
            match self.http.json::<Execution>(&req, &self.auth, w.budget()) {
                Ok(e) => return Ok(e.execution_id),
                Err(HttpError::Ambiguous(m)) => {
                    log::warn!(
                        "{m}; checking whether the execution was created before trying again"
                    );
                    if let Some(e) = self.find_own(first_attempt - ADOPT_SKEW, w.budget())? {
                        let note = format!(
                            "The run request's reply was lost; adopted execution {}, which it created.",
                            clean(&e.execution_id)
                        );
                        log::warn!("{note}");
                        report.notes.push(note);
                        return Ok(e.execution_id);
                    }
                    log::info!("no execution was created; sending the run request again");
                    w.sleep(retry_wait()).map_err(Failure::Interrupted)?;
                    if w.clock.now() >= w.deadline {
                        return Err(Failure::Unreachable(format!(
                            "Datalab could not take the run request before the deadline; last error: {m}"
                        )));
                    }
                }
                Err(e) => {
                    return Err(Failure::from_http(
                        e,
                        "Datalab refused the run request",
                        hint,
                    ));
                }
            }
        }
    }

    fn status(&self, id: &str, budget: Budget) -> Result<RunState, Failure> {
        let e = self.execution(id, budget)?;
        Ok(RunState {
            phase: self.phase(&e.status),
            status: e.status,
        })
    }

    fn collect(&self, id: &str, budget: Budget, report: &mut RunReport) -> Result<(), Failure> {
        let e = self.execution(id, budget)?;
        report.status = Some(e.status.clone());
        report.started_at = e.started_at.clone().or(e.created.clone());
        report.finished_at = e.completed_at.clone();
        report.duration =
            timefmt::between(report.started_at.as_deref(), report.finished_at.as_deref());
        if let Some(v) = e.pipeline_version {
            report.version.get_or_insert_with(|| v.to_string());
        }
        report.steps = e
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| Step {
                name: format!("{}. {}", s.step_index.unwrap_or(i as i64), s.step_type),
                status: s.status.clone(),
                failed: s.status == "failed",
                message: s.error_message.clone().filter(|m| !m.is_empty()),
                duration: timefmt::between(s.started_at.as_deref(), s.finished_at.as_deref()),
                started_at: s.started_at.clone(),
                finished_at: s.finished_at.clone(),
                child_pipeline: None,
            })
            .collect();
        report.message = report
            .steps
            .iter()
            .find(|s| s.failed)
            .and_then(|s| s.message.clone().map(|m| format!("{}: {m}", s.name)));
        if let Some(dir) = &self.cfg.result_dir {
            self.download_results(&e, &PathBuf::from(dir), budget, report);
        }
        Ok(())
    }

    fn cancel(&self, _: &str, _: Budget) -> Result<CancelAck, Failure> {
        Ok(CancelAck::Unsupported)
    }
}
