//! Matillion Data Productivity Cloud: resolve the project, trigger a published pipeline at
//! most once (adopting a run whose reply was lost, waiting out a held execution tag),
//! poll its status, read its details and steps, cancel it.

use super::pages::{fetch_pages, window};
use super::{CancelAck, PastRun, Platform, history};
use crate::auth::BearerAuth;
use crate::config::{MatillionConfig, ProjectRef};
use crate::http::{Body, Budget, Http, HttpError, Method, Request, clean, enc};
use crate::model::{PlatformKind, RunReport, Step};
use crate::progress::StepPage;
use crate::timefmt;
use crate::wait::{Failure, Phase, RunState, Waiter};
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

mod trigger;
mod wire;

use crate::platform::pager::{MAX_PAGES, Next, Pager};

pub use trigger::pick_own;
pub use wire::Listed;
use wire::*;

/// Page size for every paged list (the API's maximum).
pub(crate) const PAGE_SIZE: usize = 100;

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
    /// The execution this program created (or adopted), when it learnt its id, and
    /// whether it has been found since (after that, a 404 is not replica lag).
    created: Mutex<Option<(String, Instant, bool)>>,
    not_found_grace: Duration,
}

/// At most this many times a 404 for a just-created execution is asked again (the grace
/// period bounds it by time too).
pub(crate) const NOT_FOUND_TRIES: u32 = 40;

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

    /// When `id` was created by this program, if it was and has not been found since.
    fn fresh_since(&self, id: &str) -> Option<Instant> {
        let created = self.created.lock().unwrap_or_else(|e| e.into_inner());
        created
            .as_ref()
            .filter(|(c, _, found)| c == id && !found)
            .map(|(_, at, _)| *at)
    }

    fn found(&self, id: &str) {
        let mut created = self.created.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((c, _, found)) = created.as_mut() {
            if c == id {
                *found = true;
            }
        }
    }

    /// `f`, asked again while it answers 404 for `id`, the execution this program just
    /// created, within the grace period (a replica that has not caught up yet). `Ok`, or
    /// the last error with whether the grace ran out on a 404.
    fn through_replica_lag<T>(
        &self,
        id: &str,
        budget: Budget,
        mut f: impl FnMut() -> Result<T, HttpError>,
    ) -> Result<T, Box<(HttpError, bool)>> {
        let clock = self.http.clock().clone();
        let mut wait = self.http.retry_initial.max(Duration::from_millis(10));
        for _ in 0..NOT_FOUND_TRIES {
            match f() {
                Err(HttpError::Refused(p)) if p.status == 404 => {
                    let Some(at) = self.fresh_since(id) else {
                        return Err(Box::new((HttpError::Refused(p), false)));
                    };
                    let now = clock.now();
                    let end = (at + self.not_found_grace).min(budget.deadline);
                    if now >= end {
                        return Err(Box::new((HttpError::Refused(p), true)));
                    }
                    log::debug!(
                        "execution {} is not found yet (404), {} after it was created; asking again",
                        clean(id),
                        humantime::format_duration(Duration::from_millis(
                            (now - at).as_millis() as u64
                        ))
                    );
                    if let crate::clock::Wake::Signal(s) = clock.sleep(wait.min(end - now)) {
                        return Err(Box::new((HttpError::Interrupted(s), false)));
                    }
                    wait = (wait * 2).min(self.not_found_grace / 4 + Duration::from_millis(10));
                }
                Ok(v) => {
                    self.found(id);
                    return Ok(v);
                }
                Err(e) => return Err(Box::new((e, false))),
            }
        }
        Err(Box::new((
            HttpError::Deadline(format!(
                "execution {} was still not found after {NOT_FOUND_TRIES} tries",
                clean(id)
            )),
            true,
        )))
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

    fn steps_path(&self, id: &str) -> String {
        format!(
            "/v1/projects/{}/pipeline-executions/{}/steps",
            enc(self.project()),
            enc(id)
        )
    }

    fn get<T: serde::de::DeserializeOwned>(
        &self,
        req: &Request,
        budget: Budget,
    ) -> Result<T, HttpError> {
        self.http.json(req, &self.auth, budget)
    }

    /// Every page of a paged list, bounded ([`Pager`]): the items, and why the list was
    /// cut short, if it was (also logged). Once page 0 gave a `total`, the next pages are
    /// fetched a window at a time ([`fetch_pages`]: up to [`super::pages::IN_FLIGHT`] pages, fewer when
    /// pages are large) and read in order, so a server that repeats its pages costs at
    /// most one window of requests before the repeat is seen.
    fn all_pages_cut<T: serde::de::DeserializeOwned + Send>(
        &self,
        path: &str,
        extra: &[(&str, &str)],
        what: &str,
        budget: Budget,
    ) -> Result<(Vec<T>, Option<String>), HttpError> {
        self.pages_from(path, extra, what, budget, 0, 0)
    }

    /// [`Matillion::all_pages_cut`] from page `first` on, the `before` items of the pages
    /// before it being known already (read while the run went on): they count towards the
    /// list's `total` and its bounds.
    fn pages_from<T: serde::de::DeserializeOwned + Send>(
        &self,
        path: &str,
        extra: &[(&str, &str)],
        what: &str,
        budget: Budget,
        first: usize,
        before: usize,
    ) -> Result<(Vec<T>, Option<String>), HttpError> {
        let request = |page: usize| {
            let mut req = Request::get(self.url(path), what)
                .query("page", page.to_string())
                .query("size", PAGE_SIZE.to_string());
            for (k, v) in extra {
                req = req.query(k, *v);
            }
            req
        };
        let fetch = |page: usize| -> Result<(Page<T>, u64, usize), HttpError> {
            self.http.json_page(&request(page), &self.auth, budget)
        };
        let mut out = Vec::new();
        let mut pager = Pager::new(PAGE_SIZE).after(first, before as u64);
        let mut ahead = std::collections::VecDeque::new();
        let mut pages_in_total: Option<usize> = None;
        let mut largest = 0;
        for page in first..MAX_PAGES {
            if let (true, Some(end)) = (ahead.is_empty() && page > first, pages_in_total) {
                let stop = end.min(page + window(largest)).min(MAX_PAGES);
                ahead = fetch_pages(page, stop, fetch).into();
            }
            let (p, fingerprint, len) = match ahead.pop_front() {
                Some(fetched) => fetched?,
                None => fetch(page)?,
            };
            largest = largest.max(len);
            if page == first {
                pages_in_total = p
                    .total
                    .map(|t| usize::try_from(t.div_ceil(PAGE_SIZE as u64)).unwrap_or(usize::MAX));
            }
            let next = pager.page(fingerprint, len, p.results.len(), p.total);
            if !matches!(next, Next::Repeated(_)) {
                out.extend(p.results);
            }
            match next {
                Next::More => {}
                Next::Done => break,
                Next::Cut(why) | Next::Repeated(why) => {
                    let why = format!("{what} was cut at {} items: {why}", before + out.len());
                    log::warn!("{why}");
                    return Ok((out, Some(why)));
                }
            }
        }
        Ok((out, None))
    }

    /// Every page of a paged list (bounded; a cut is logged).
    fn all_pages<T: serde::de::DeserializeOwned + Send>(
        &self,
        path: &str,
        extra: &[(&str, &str)],
        what: &str,
        budget: Budget,
    ) -> Result<Vec<T>, HttpError> {
        self.all_pages_cut(path, extra, what, budget)
            .map(|(v, _)| v)
    }

    fn resolve_project(&self, budget: Budget) -> Result<String, Failure> {
        let name = match &self.cfg.project {
            ProjectRef::Id(id) => return Ok(id.clone()),
            ProjectRef::Name(n) => n,
        };
        // Another pipeline's client may be looking it up: wait for its answer (its lookup
        // is bounded by its budget), and look it up here only if it found none.
        let _one_at_a_time = self.resolving.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(id) = self.project_id.get() {
            return Ok(id.clone());
        }
        let id = self.look_up_project(name, budget)?;
        let _ = self.project_id.set(id.clone());
        Ok(id)
    }

    fn look_up_project(&self, name: &str, budget: Budget) -> Result<String, Failure> {
        let projects: Vec<ProjectItem> = self
            .all_pages("/v1/projects", &[], "the project list", budget)
            .map_err(|e| Failure::from_http(e, "Matillion", "the project list", auth_hint))?;
        let matches: Vec<&ProjectItem> = projects.iter().filter(|p| p.name == name).collect();
        match matches.as_slice() {
            [one] => {
                log::info!("project '{name}' is {}", one.id);
                Ok(one.id.clone())
            }
            [] => Err(Failure::Refused(format!(
                "no project is named '{name}'. {}",
                candidates(
                    "Projects these credentials can see",
                    projects.iter().map(|p| p.name.as_str())
                )
            ))),
            several => Err(Failure::Refused(format!(
                "{} projects are named '{name}' (ids {}); give the project's id instead.",
                several.len(),
                several
                    .iter()
                    .map(|p| clean(&p.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// The trigger body: exactly the fields given.
    pub(crate) fn trigger_body(&self) -> Value {
        let c = &self.cfg;
        let mut m = Map::new();
        m.insert("pipelineName".into(), c.pipeline.clone().into());
        m.insert("environmentName".into(), c.environment.clone().into());
        if let Some(v) = &c.version {
            m.insert("versionName".into(), v.clone().into());
        }
        if let Some(v) = &c.agent_id {
            m.insert("agentId".into(), v.clone().into());
        }
        if let Some(v) = &c.execution_tag {
            m.insert("executionTag".into(), v.clone().into());
        }
        if !c.variables.is_empty() {
            m.insert(
                "scalarVariables".into(),
                Value::Object(
                    c.variables
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                        .collect(),
                ),
            );
        }
        if !c.grid_variables.is_empty() {
            m.insert(
                "gridVariables".into(),
                serde_json::to_value(&c.grid_variables).unwrap_or(Value::Null),
            );
        }
        Value::Object(m)
    }

    fn trigger_hint(&self, status: u16) -> Option<String> {
        let c = &self.cfg;
        let version = c
            .version
            .as_ref()
            .map(|v| format!(" (version '{v}')"))
            .unwrap_or_default();
        match status {
            404 => Some(format!(
                "is pipeline '{}'{version} published to environment '{}' in project '{}'?",
                c.pipeline, c.environment, c.project
            )),
            410 => Some(format!("pipeline '{}' is disabled.", c.pipeline)),
            400 => Some("check the pipeline, environment, agent and variables given.".into()),
            other => auth_hint(other),
        }
    }

    /// Dry run: the environment list said the project id does not exist.
    fn unknown_project_id(&self, id: &str, budget: Budget) -> Failure {
        let listed: Result<Vec<ProjectItem>, _> =
            self.all_pages("/v1/projects", &[], "the project list", budget);
        let seen = match listed {
            Ok(projects) => candidates(
                "Projects these credentials can see",
                projects
                    .iter()
                    .map(|p| format!("{} (id {})", p.name, p.id))
                    .collect::<Vec<_>>()
                    .iter()
                    .map(String::as_str),
            ),
            Err(e) => format!("The project list could not be read either: {e}."),
        };
        Failure::Refused(format!(
            "project id '{}' does not exist (or these credentials cannot see it). {seen}",
            clean(id)
        ))
    }
}

/// A step as the step list gives it.
fn step_of(s: StepItem) -> Step {
    let r = s.result.unwrap_or_default();
    let status = r.status.unwrap_or_else(|| "UNKNOWN".into());
    Step {
        name: s.name.unwrap_or_default(),
        failed: status == "FAILED",
        status,
        message: r.message.filter(|m| !m.is_empty()),
        duration: timefmt::between(r.started_at.as_deref(), r.finished_at.as_deref()),
        started_at: r.started_at,
        finished_at: r.finished_at,
        child_pipeline: s.child_pipeline.and_then(|c| c.name.or(c.id)),
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

fn candidates<'a>(label: &str, names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.map(|n| format!("'{}'", clean(n))).collect();
    if names.is_empty() {
        return format!("{label}: none.");
    }
    let shown: Vec<String> = names.iter().take(20).cloned().collect();
    let more = names.len().saturating_sub(shown.len());
    format!(
        "{label}: {}{}.",
        shown.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    )
}

impl Matillion {
    /// The execution this program created is still not found after the grace period: try
    /// to cancel it (it may exist where this replica cannot see it), and say so, naming it.
    fn not_found_after_grace(&self, id: &str, e: HttpError, budget: Budget) -> Failure {
        let now = self.http.clock().now();
        let cancel_budget = Budget {
            deadline: budget.deadline.max(now).min(now + CANCEL_AFTER_NOT_FOUND),
            interruptible: false,
        };
        let cancel = match self.cancel(id, cancel_budget) {
            Ok(_) => "asked the platform to cancel it".to_string(),
            Err(f) => format!("could not ask the platform to cancel it ({f})"),
        };
        Failure::Refused(format!(
            "Matillion refused the status poll: {e}; execution {} was created by this run but was still not found {} later; {cancel} — check it in the Matillion console",
            clean(id),
            humantime::format_duration(self.not_found_grace)
        ))
    }
}

/// After giving up on a not-found execution, how long its cancel request may take.
pub(crate) const CANCEL_AFTER_NOT_FOUND: Duration = Duration::from_secs(10);

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
        *self.created.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((id.clone(), self.http.clock().now(), false));
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
        let c = &self.cfg;
        let envs: Vec<NameItem> = self
            .all_pages(
                &format!("/v1/projects/{}/environments", enc(self.project())),
                &[],
                "the environment list",
                budget,
            )
            .map_err(|e| match (e, &c.project) {
                // A project id nobody can see: say so, and list the projects that exist.
                (HttpError::Refused(p), ProjectRef::Id(id)) if p.status == 404 => {
                    self.unknown_project_id(id, budget)
                }
                (e, _) => Failure::from_http(e, "Matillion", "the environment list", auth_hint),
            })?;
        if !envs.iter().any(|e| e.name == c.environment) {
            return Err(Failure::Refused(format!(
                "environment '{}' does not exist in project '{}'. {}",
                c.environment,
                c.project,
                candidates("Its environments", envs.iter().map(|e| e.name.as_str()))
            )));
        }
        let published: Vec<NameItem> = self
            .all_pages(
                &format!("/v1/projects/{}/published-pipelines", enc(self.project())),
                &[("environmentName", c.environment.as_str())],
                "the published pipeline list",
                budget,
            )
            .map_err(|e| {
                Failure::from_http(e, "Matillion", "the published pipeline list", auth_hint)
            })?;
        if !published.iter().any(|p| p.name == c.pipeline) {
            return Err(Failure::Refused(format!(
                "pipeline '{}' is not published to environment '{}'. {}",
                c.pipeline,
                c.environment,
                candidates(
                    "Pipelines published there",
                    published.iter().map(|p| p.name.as_str())
                )
            )));
        }
        let mut lines = vec![format!(
            "dry run: project '{}', environment '{}' and pipeline '{}' exist",
            c.project, c.environment, c.pipeline
        )];
        if let Some(v) = &c.version {
            // The API lists published pipelines by name and time only, and has no way to
            // list an artifact's versions: only the trigger itself would say (404).
            log::warn!(
                "dry run: version '{}' was NOT checked: Matillion's API does not list the versions of a published pipeline, so an unknown version only shows when the run is triggered (404)",
                clean(v)
            );
        }
        let mut body = self.trigger_body();
        if let Some(Value::Object(vars)) = body.get_mut("scalarVariables") {
            // Values may be secret: show names only.
            for v in vars.values_mut() {
                *v = Value::String("***".into());
            }
        }
        if let Some(Value::Object(vars)) = body.get_mut("gridVariables") {
            for v in vars.values_mut() {
                *v = Value::String("***".into());
            }
        }
        lines.push(format!(
            "dry run: would send POST {} with {}",
            self.url(&format!(
                "/v1/projects/{}/pipeline-executions",
                enc(self.project())
            )),
            body
        ));
        Ok(lines)
    }

    /// One page of the list of executions, newest first: this pipeline (the name filter is
    /// a partial match, so the exact name is checked here) in this environment, ended.
    fn history(&self, budget: Budget) -> Vec<PastRun> {
        let c = &self.cfg;
        let req = Request::get(
            self.url("/v1/pipeline-executions"),
            "the list of past executions",
        )
        .query("projectId", self.project())
        .query("pipelineName", c.pipeline.as_str())
        .query("environmentName", c.environment.as_str())
        .query("limit", history::LIMIT.to_string());
        match self.get::<ListReply>(&req, budget) {
            Ok(reply) => reply
                .results
                .iter()
                .filter(|e| e.pipeline_name == c.pipeline && e.environment_name == c.environment)
                .filter(|e| phase_of(&e.status) != Phase::Running)
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

    fn step_page(
        &self,
        id: &str,
        page: usize,
        budget: Budget,
    ) -> Result<Option<StepPage>, Failure> {
        let req = Request::get(self.url(&self.steps_path(id)), "the step list")
            .query("page", page.to_string())
            .query("size", PAGE_SIZE.to_string());
        let p: Page<StepItem> = self
            .get(&req, budget)
            .map_err(|e| Failure::from_http(e, "Matillion", "the step list", auth_hint))?;
        Ok(Some(StepPage {
            steps: p.results.into_iter().map(step_of).collect(),
            total: p.total,
            size: PAGE_SIZE,
        }))
    }

    fn collect_reusing(
        &self,
        id: &str,
        budget: Budget,
        report: &mut RunReport,
        complete: Vec<Vec<Step>>,
    ) -> Result<(), Failure> {
        let details = Request::get(self.exec_url(id), "the execution details");
        let d: Details = self
            .through_replica_lag(id, budget, || self.get(&details, budget))
            .map_err(|b| {
                let (e, _) = *b;
                Failure::from_http(e, "Matillion", "the execution details", auth_hint)
            })?;
        if let Some(s) = d.status {
            report.status = Some(s);
        }
        report.message = d.message;
        report.trigger = d.trigger;
        report.started_at = d.started_at;
        report.finished_at = d.finished_at;
        report.duration =
            timefmt::between(report.started_at.as_deref(), report.finished_at.as_deref());
        // Complete pages read while the run went on are not read again.
        let steps_path = self.steps_path(id);
        let first = complete.len();
        let mut steps: Vec<Step> = complete.into_iter().flatten().collect();
        let (items, cut): (Vec<StepItem>, _) = self
            .through_replica_lag(id, budget, || {
                self.pages_from(
                    &steps_path,
                    &[],
                    "the step list",
                    budget,
                    first,
                    steps.len(),
                )
            })
            .map_err(|b| Failure::from_http(b.0, "Matillion", "the step list", auth_hint))?;
        if let Some(why) = cut {
            let note = format!("Not every step is shown: {why}.");
            if !report.notes.contains(&note) {
                report.notes.push(note);
            }
        }
        steps.extend(items.into_iter().map(step_of));
        report.steps = steps;
        Ok(())
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
