//! Datalab pipelines: run a pipeline on one document (uploaded, or by URL), poll the
//! execution until it ends, read its steps, optionally download each step's result.
//! Datalab has no cancel endpoint: a timeout or signal says so instead of pretending.

use super::once::{ADOPT_SKEW, Adopted, LookUp, Once, trigger_at_most_once};
use super::pager::{Next, Pager};
use super::{CancelAck, PastRun, Platform, history};
use crate::auth::ApiKeyAuth;
use crate::config::{DatalabConfig, DatalabInput};
use crate::http::{
    Authorizer, Body, Budget, Http, HttpError, Method, NoAuth, Part, Request, clean, enc,
};
use crate::model::{PlatformKind, RunReport, Step};
use crate::progress::StepPage;
use crate::timefmt;
use crate::wait::{Failure, Phase, RunState, Waiter};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The Datalab client.
pub(crate) struct Datalab {
    cfg: DatalabConfig,
    http: Http,
    auth: ApiKeyAuth,
    /// The steps the last status poll saw (the execution poll carries them), for live
    /// progress at no extra request.
    last_steps: std::sync::Mutex<Vec<Step>>,
}

/// An execution, as `GET /api/v1/pipelines/executions/{id}` returns it.
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(default)]
pub(crate) struct Execution {
    /// `pex_...`.
    pub(crate) execution_id: String,
    /// Status.
    pub(crate) status: String,
    /// Steps.
    pub(crate) steps: Vec<ExecStep>,
    /// Started.
    pub(crate) started_at: Option<String>,
    /// Completed.
    pub(crate) completed_at: Option<String>,
    /// Created.
    pub(crate) created: Option<String>,
    /// Version that ran.
    pub(crate) pipeline_version: Option<i64>,
    /// What it was asked to process (`file_name` or `file_url`, and the options).
    pub(crate) input_config: Option<serde_json::Value>,
}

/// One step of an execution.
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(default)]
pub(crate) struct ExecStep {
    /// Index from 0.
    pub(crate) step_index: Option<i64>,
    /// Type (the step's name).
    pub(crate) step_type: String,
    /// Status.
    pub(crate) status: String,
    /// Where its result is.
    pub(crate) result_url: Option<String>,
    /// Started.
    pub(crate) started_at: Option<String>,
    /// Finished.
    pub(crate) finished_at: Option<String>,
    /// Error.
    pub(crate) error_message: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ExecList {
    #[serde(deserialize_with = "crate::lenient::de::list")]
    executions: Vec<Execution>,
    #[serde(deserialize_with = "crate::lenient::de::opt_count")]
    total: Option<u64>,
}

/// When a lost run is looked for: executions per page of the list.
pub(crate) const LOOKUP_PAGE_SIZE: usize = 100;
/// When a lost run is looked for: at most this many pages of the list are read.
pub(crate) const LOOKUP_PAGES: usize = 10;

impl Datalab {
    /// A client for `cfg`.
    pub(crate) fn new(cfg: DatalabConfig, http: Http) -> Self {
        let auth = ApiKeyAuth(cfg.api_key.clone());
        Self {
            cfg,
            http,
            auth,
            last_steps: std::sync::Mutex::new(Vec::new()),
        }
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

    /// After a lost reply: the execution the request created, if any. The list's order
    /// is not documented, so it is not taken to be newest first: every page is read
    /// (bounded: [`LOOKUP_PAGES`] pages of [`LOOKUP_PAGE_SIZE`], a repeated page ends it),
    /// and the run is matched by time — created within [`ADOPT_SKEW`] of
    /// `first_attempt` — and input; of those, the nearest in time.
    fn find_own(
        &self,
        first_attempt: std::time::SystemTime,
        budget: Budget,
    ) -> Result<Option<Execution>, Failure> {
        let distance = |e: &Execution| {
            let t = e
                .created
                .as_deref()
                .or(e.started_at.as_deref())
                .and_then(timefmt::parse_rfc3339)?;
            Some(match t.duration_since(first_attempt) {
                Ok(after) => after,
                Err(before) => before.duration(),
            })
        };
        let mut best: Option<(std::time::Duration, Execution)> = None;
        let mut pager = Pager::new(LOOKUP_PAGE_SIZE);
        for page in 0..LOOKUP_PAGES {
            let req = Request::get(
                self.url(&format!(
                    "/api/v1/pipelines/{}/executions",
                    enc(&self.cfg.pipeline)
                )),
                "the list of executions",
            )
            .query("limit", LOOKUP_PAGE_SIZE.to_string())
            .query("offset", (page * LOOKUP_PAGE_SIZE).to_string());
            let (list, fingerprint, len): (ExecList, _, _) = self
                .http
                .json_page(&req, &self.auth, budget)
                .map_err(|e| Failure::from_http(e, "Datalab", "the list of executions", hint))?;
            let next = pager.page(fingerprint, len, list.executions.len(), list.total);
            if matches!(next, Next::Repeated(_)) {
                break;
            }
            for e in list.executions {
                let Some(d) = distance(&e) else { continue };
                if d <= ADOPT_SKEW
                    && self.same_input(&e)
                    && best.as_ref().is_none_or(|(b, _)| d < *b)
                {
                    best = Some((d, e));
                }
            }
            if next != Next::More {
                break;
            }
        }
        Ok(best.map(|(_, e)| e))
    }

    /// Whether an execution was asked to process our document (another job may run the
    /// same pipeline at the same time). Missing fields do not rule it out.
    fn same_input(&self, e: &Execution) -> bool {
        let Some(input) = e.input_config.as_ref().and_then(|v| v.as_object()) else {
            return true;
        };
        let text = |k: &str| input.get(k).and_then(|v| v.as_str());
        match &self.cfg.input {
            DatalabInput::Url(u) => text("file_url").is_none_or(|x| x == u),
            DatalabInput::File(p) => {
                text("file_name").is_none_or(|x| x == crate::http::upload_file_name(p))
            }
        }
    }

    fn download_results(
        &self,
        exec: &Execution,
        dir: &Path,
        budget: Budget,
        report: &mut RunReport,
    ) {
        if let Err(e) = std::fs::create_dir_all(dir) {
            let note = format!("Could not create result-dir {}: {e}", dir.display());
            log::warn!("{note}");
            report.notes.push(note);
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
            // The key goes only to the API's own origin: a result URL elsewhere (storage,
            // a CDN) is fetched without it, so the platform's data cannot send it away.
            let auth: &dyn Authorizer = if origin(&url) == origin(&self.cfg.base_url) {
                &self.auth
            } else {
                &NoAuth
            };
            let req = Request::get(url, format!("the result of step {index}"));
            match self.http.send(&req, auth, budget) {
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
                Err(e) => {
                    let note = format!("Could not download the result of step {index}: {e}");
                    log::warn!("{note}");
                    report.notes.push(note);
                }
            }
        }
        log::info!("saved {saved} step result(s) in {}", dir.display());
    }
}

/// The steps of an execution, named `<index>. <type>`.
fn steps_of(e: &Execution) -> Vec<Step> {
    e.steps
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
        .collect()
}

/// `scheme://host:port` of a URL, lower-cased; `None` when it has no scheme.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    Some(format!("{scheme}://{authority}").to_ascii_lowercase())
}

/// `03-extract.json`: the index, then the step type reduced to safe characters.
pub(crate) fn result_file_name(index: i64, step_type: &str, ext: &str) -> String {
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

/// A refusal of the run request. A 422 is Datalab's validation error: its messages make
/// the sentence, each naming the input it is about.
fn run_refused(e: HttpError) -> Failure {
    match e {
        HttpError::Refused(p) if p.status == 422 && !p.violations.is_empty() => {
            let items: Vec<String> = p.violations.iter().map(|v| name_input(v)).collect();
            Failure::Refused(format!(
                "Datalab refused the run request as invalid (422): {}.",
                items.join("; ").trim_end_matches('.')
            ))
        }
        e => Failure::from_http(e, "Datalab", "the run request", hint),
    }
}

/// `body.page_range: msg` → `page_range: msg (input 'page-range')`.
fn name_input(violation: &str) -> String {
    const FIELDS: &[(&str, &str)] = &[
        ("file", "file"),
        ("file_url", "file-url"),
        ("version", "pipeline-version"),
        ("output_format", "output-format"),
        ("page_range", "page-range"),
        ("skip_cache", "skip-cache"),
        ("run_evals", "run-evals"),
        ("webhook_url", "webhook-url"),
    ];
    let Some((loc, msg)) = violation.split_once(": ") else {
        return violation.to_string();
    };
    let field = loc.rsplit('.').next().unwrap_or(loc);
    match FIELDS.iter().find(|(f, _)| *f == field) {
        Some((f, input)) => format!("{f}: {} (input '{input}')", msg.trim_end_matches('.')),
        None => violation.to_string(),
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
        };
        Ok(vec![format!(
            "dry run: pipeline '{}' exists; would send POST {} with {what}",
            self.cfg.pipeline,
            self.run_request().url
        )])
    }

    fn trigger(&self, w: &Waiter<'_>, report: &mut RunReport) -> Result<String, Failure> {
        let req = self.run_request();
        let how = Once {
            platform: "Datalab",
            what: "the run request",
            again: "sending the run request again",
            look_up: LookUp::BeforeRetryWait,
        };
        trigger_at_most_once(
            w,
            report,
            how,
            |budget| {
                self.http
                    .json::<Execution>(&req, &self.auth, budget)
                    .map(|e| e.execution_id)
            },
            |first, budget| {
                Ok(self.find_own(first, budget)?.map(|e| Adopted {
                    note: format!(
                        "The run request's reply was lost; adopted execution {}, which it created.",
                        clean(&e.execution_id)
                    ),
                    id: e.execution_id,
                }))
            },
            |e, _, _| Err(run_refused(e)),
        )
    }

    /// One page of the pipeline's executions (their order is not documented: the newest
    /// of the page by start time come first), ended, from `started_at` to `completed_at`.
    fn history(&self, budget: Budget) -> Vec<PastRun> {
        let req = Request::get(
            self.url(&format!(
                "/api/v1/pipelines/{}/executions",
                enc(&self.cfg.pipeline)
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, SimClock};
    use crate::secret::Secret;
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
