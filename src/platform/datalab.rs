//! Datalab pipelines: run a pipeline on one document (uploaded, or by URL), poll the
//! execution until it ends, read its steps, optionally download each step's result.
//! Datalab has no cancel endpoint: a timeout or signal says so instead of pretending.
//!
//! This file holds the client and its [`Platform`] implementation; beside it are the run
//! request ([`run`]), the look-up of a run whose reply was lost ([`lookup`]), the steps
//! and the download of their results ([`steps`]), and the wire shapes ([`wire`]).

use super::{CancelAck, PastRun, Platform, history};
use crate::auth::ApiKeyAuth;
use crate::config::{DatalabConfig, DatalabInput};
use crate::http::{Budget, Http, Request, enc};
use crate::model::{PlatformKind, RunReport, Step};
use crate::progress::StepPage;
use crate::timefmt;
use crate::wait::{Failure, Phase, RunState, Waiter};
use std::path::PathBuf;

mod lookup;
mod run;
mod steps;
mod wire;

use steps::steps_of;
use wire::{ExecList, Execution};

/// The Datalab client.
pub(crate) struct Datalab {
    cfg: DatalabConfig,
    http: Http,
    auth: ApiKeyAuth,
    /// The steps the last status poll saw (the execution poll carries them), for live
    /// progress at no extra request.
    last_steps: std::sync::Mutex<Vec<Step>>,
    /// The pipeline of the execution `wait` or `status` follows (an id names none), as the
    /// execution says.
    followed_pipeline: std::sync::OnceLock<String>,
    /// The execution this program started, adopted or follows: never one of its own past
    /// runs.
    own: std::sync::OnceLock<String>,
}

impl Datalab {
    /// A client for `cfg`.
    pub(crate) fn new(cfg: DatalabConfig, http: Http) -> Self {
        let auth = ApiKeyAuth(cfg.api_key.clone());
        Self {
            cfg,
            http,
            auth,
            last_steps: std::sync::Mutex::new(Vec::new()),
            followed_pipeline: std::sync::OnceLock::new(),
            own: std::sync::OnceLock::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.cfg.base_url, path)
    }

    fn execution(&self, id: &str, budget: Budget) -> Result<Execution, Failure> {
        let req = Request::get(
            self.url(&format!("/api/v1/pipelines/executions/{}", enc(id))),
            "the execution poll",
        );
        self.http
            .json(&req, &self.auth, budget)
            .map_err(|e| Failure::from_http(e, "Datalab", "the execution poll", hint))
    }

    fn phase(&self, status: &str) -> Phase {
        match status {
            "completed" => Phase::Succeeded,
            "completed_with_errors" if self.cfg.allow_completed_with_errors => Phase::Succeeded,
            "completed_with_errors" | "failed" => Phase::Failed,
            _ => Phase::Running,
        }
    }
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
            .map_err(|e| Failure::from_http(e, "Datalab", "the dry run's check", hint))?;
        let what = match &self.cfg.input {
            DatalabInput::File(p) => format!("file {}", p.display()),
            DatalabInput::Url(u) => format!("file_url {u}"),
            DatalabInput::Attached => "no document".into(),
        };
        Ok(vec![format!(
            "dry run: pipeline '{}' exists; would send POST {} with {what}",
            self.cfg.pipeline,
            self.run_request().url
        )])
    }

    fn trigger(&self, w: &Waiter<'_>, report: &mut RunReport) -> Result<String, Failure> {
        let id = self.trigger_once(w, report)?;
        let _ = self.own.set(id.clone());
        Ok(id)
    }

    /// One page of the pipeline's executions (their order is not documented: the newest
    /// of the page by start time come first), ended, from `started_at` to `completed_at`,
    /// and not the run itself (a short run may have ended before the list is read).
    fn history(&self, budget: Budget) -> Vec<PastRun> {
        let req = Request::get(
            self.url(&format!(
                "/api/v1/pipelines/{}/executions",
                enc(self.followed_pipeline.get().unwrap_or(&self.cfg.pipeline))
            )),
            "the list of past executions",
        )
        .query("limit", history::LIMIT.to_string())
        .query("offset", "0");
        let list: ExecList = match self.http.json(&req, &self.auth, budget) {
            Ok(l) => l,
            Err(e) => {
                history::unavailable("Datalab", &e);
                return Vec::new();
            }
        };
        let mut ended: Vec<(std::time::SystemTime, PastRun)> = list
            .executions
            .iter()
            .filter(|e| self.phase(&e.status) != Phase::Running)
            .filter(|e| self.own.get() != Some(&e.execution_id))
            .filter_map(|e| {
                let started = timefmt::parse_rfc3339(e.started_at.as_deref()?)?;
                let took = timefmt::between(e.started_at.as_deref(), e.completed_at.as_deref())?;
                let succeeded = self.phase(&e.status) == Phase::Succeeded;
                Some((started, PastRun { took, succeeded }))
            })
            .collect();
        ended.sort_by_key(|e| std::cmp::Reverse(e.0));
        ended
            .into_iter()
            .map(|(_, d)| d)
            .take(history::LIMIT)
            .collect()
    }

    fn status(&self, id: &str, budget: Budget) -> Result<RunState, Failure> {
        let e = self.execution(id, budget)?;
        *self.last_steps.lock().unwrap_or_else(|p| p.into_inner()) = steps_of(&e);
        Ok(RunState {
            phase: self.phase(&e.status),
            status: e.status,
        })
    }

    /// One read of the execution; a 404 names the id (Datalab has no replicas that lag).
    fn attach(
        &self,
        id: &str,
        budget: Budget,
        report: &mut RunReport,
    ) -> Result<RunState, Failure> {
        let req = Request::get(
            self.url(&format!("/api/v1/pipelines/executions/{}", enc(id))),
            "the execution poll",
        );
        let e: Execution = match self.http.json(&req, &self.auth, budget) {
            Ok(e) => e,
            Err(crate::http::HttpError::Refused(p)) if p.status == 404 => {
                return Err(Failure::Refused(format!(
                    "Datalab does not know execution {} ({p}): check the id and the api-key's account",
                    crate::text::clean(id)
                )));
            }
            Err(e) => return Err(Failure::from_http(e, "Datalab", "the execution poll", hint)),
        };
        let _ = self.own.set(id.to_string());
        if let Some(p) = e.pipeline_id.clone().filter(|p| !p.is_empty()) {
            let _ = self.followed_pipeline.set(p.clone());
            report.pipeline = p;
        }
        report.started_at = e.started_at.clone().or(e.created.clone());
        report.status = Some(e.status.clone());
        *self.last_steps.lock().unwrap_or_else(|p| p.into_inner()) = steps_of(&e);
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
        report.steps = steps_of(&e);
        if e.status == "completed_with_errors" && self.cfg.allow_completed_with_errors {
            let note = "The execution ended completed_with_errors; the job passes because allow-completed-with-errors is true.";
            log::info!("{note}");
            report.notes.push(note.into());
        }
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

    /// The steps the last status poll saw: no request.
    fn step_page(&self, _: &str, page: usize, _: Budget) -> Result<Option<StepPage>, Failure> {
        let steps = match page {
            0 => self
                .last_steps
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            _ => Vec::new(),
        };
        Ok(Some(StepPage {
            total: Some(steps.len() as u64),
            steps,
            size: usize::MAX,
        }))
    }

    fn steps_come_with_status(&self) -> bool {
        true
    }

    fn cancel(&self, _: &str, _: Budget) -> Result<CancelAck, Failure> {
        Ok(CancelAck::Unsupported)
    }

    fn can_cancel(&self) -> bool {
        false
    }

    fn rejected_requests(&self) -> u64 {
        self.http.rejected_requests()
    }
}

#[cfg(test)]
mod tests {
    use super::run::run_refused;
    use super::steps::{origin, result_file_name};
    use super::*;
    use crate::clock::{Clock, SimClock};
    use crate::http::HttpError;
    use crate::secret::Secret;
    use std::path::Path;
    use std::time::Duration;

    fn client(base_url: &str, result_dir: Option<PathBuf>) -> (Datalab, std::sync::Arc<SimClock>) {
        let clock = SimClock::new();
        let cfg = DatalabConfig {
            base_url: base_url.into(),
            api_key: Secret::new("dl-unit-key"),
            pipeline: "pl_1".into(),
            input: DatalabInput::Url("https://docs.example.com/a.pdf".into()),
            version: None,
            output_format: None,
            page_range: None,
            skip_cache: None,
            run_evals: None,
            webhook_url: None,
            result_dir,
            allow_completed_with_errors: false,
        };
        (Datalab::new(cfg, Http::new(clock.clone())), clock)
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin("https://WWW.datalab.to/api/v1/x?y=1").as_deref(),
            Some("https://www.datalab.to")
        );
        assert_eq!(
            origin("http://127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_ne!(
            origin("http://www.datalab.to/a"),
            origin("https://www.datalab.to/a")
        );
        assert_ne!(
            origin("https://www.datalab.to.evil.example/a"),
            origin("https://www.datalab.to")
        );
        assert_eq!(origin("/relative"), None);
    }

    #[test]
    fn validation_errors_name_the_input() {
        let p = crate::http::Problem::parse(
            422,
            r#"{"detail":[{"loc":["body","output_format"],"msg":"Input should be 'json' or 'html'","type":"enum"},{"loc":["body"],"msg":"Provide exactly one of file or file_url.","type":"value_error"}]}"#,
        );
        assert_eq!(
            run_refused(HttpError::Refused(p)),
            Failure::Refused(
                "Datalab refused the run request as invalid (422): output_format: Input should be 'json' or 'html' (input 'output-format'); body: Provide exactly one of file or file_url.".into()
            )
        );
        let p = crate::http::Problem::parse(401, r#"{"detail":"Invalid API key"}"#);
        assert_eq!(
            run_refused(HttpError::Refused(p)),
            Failure::Refused(
                "Datalab refused the run request: 401 Invalid API key — check the api-key.".into()
            )
        );
    }

    #[test]
    fn result_and_upload_file_names_are_safe() {
        assert_eq!(result_file_name(3, "extract", "json"), "03-extract.json");
        assert_eq!(
            result_file_name(12, "../../etc/passwd", "txt"),
            "12-______etc_passwd.txt"
        );
        assert_eq!(result_file_name(0, "", "json"), "00-step.json");
        assert_eq!(
            crate::http::upload_file_name(Path::new("/w/in voice\"\r\n.pdf")),
            "in voice%22%0D%0A.pdf"
        );
        assert_eq!(
            crate::http::upload_file_name(Path::new("dir/résumé.pdf")),
            "résumé.pdf"
        );
    }

    #[test]
    fn the_key_goes_only_to_the_apis_own_origin() {
        let mut api = mockito::Server::new();
        let mut elsewhere = mockito::Server::new();
        let own = api
            .mock("GET", "/api/v1/pipelines/executions/pex_1/steps/1/result")
            .match_header("x-api-key", "dl-unit-key")
            .with_body(r#"{"own":true}"#)
            .expect(1)
            .create();
        let foreign = elsewhere
            .mock("GET", "/bucket/r0")
            .match_header("x-api-key", mockito::Matcher::Missing)
            .with_body("plain text result")
            .expect(1)
            .create();
        let body = serde_json::json!({
            "execution_id": "pex_1",
            "status": "completed",
            "steps": [
                {"step_index": 0, "step_type": "convert", "status": "completed",
                 "result_url": format!("{}/bucket/r0", elsewhere.url())},
                {"step_index": 1, "step_type": "extract", "status": "completed",
                 "result_url": "/api/v1/pipelines/executions/pex_1/steps/1/result"},
                {"step_index": 2, "step_type": "check", "status": "failed",
                 "result_url": null, "error_message": "bad"},
            ],
        });
        api.mock("GET", "/api/v1/pipelines/executions/pex_1")
            .with_body(body.to_string())
            .create();
        let dir = std::env::temp_dir().join(format!("pipeline-run-unit-dl-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (dl, clock) = client(&api.url(), Some(dir.clone()));
        let mut report = RunReport::new(PlatformKind::Datalab, "pl_1");
        dl.collect(
            "pex_1",
            Budget::until(clock.now() + Duration::from_secs(30)),
            &mut report,
        )
        .unwrap();
        own.assert();
        foreign.assert();
        assert_eq!(
            std::fs::read_to_string(dir.join("00-convert.txt")).unwrap(),
            "plain text result"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("01-extract.json")).unwrap(),
            r#"{"own":true}"#
        );
        assert!(!dir.join("02-check.json").exists());
        assert_eq!(report.steps.len(), 3);
        assert_eq!(report.message.as_deref(), Some("2. check: bad"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
