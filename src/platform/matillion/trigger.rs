//! The trigger, sent at most once. Its POST is not idempotent: when the reply is lost the
//! run may or may not exist, so the list of executions is read (and the run adopted)
//! before any second attempt. A 409 means another execution holds the execution tag: the
//! holder is found in the list of running executions and waited for.

use super::wire::{ListReply, Listed, TriggerReply};
use super::{ADOPT_SKEW, Matillion, PAGE_SIZE, auth_hint, phase_of};
use crate::config::OnConflict;
use crate::http::{Body, Budget, HttpError, Method, Request, clean, enc};
use crate::orchestrate::Waiter;
use crate::platform::{Failure, Phase};
use crate::report::RunReport;
use crate::timefmt;
use serde_json::Value;
use std::time::Duration;

impl Matillion {
    /// Trigger at most once: a lost reply is looked up (and the run adopted) before any
    /// second attempt; a held execution tag is waited out (or refused, with `on-conflict: fail`).
    pub(super) fn trigger_once(
        &self,
        w: &Waiter<'_>,
        report: &mut RunReport,
    ) -> Result<String, Failure> {
        let req = Request {
            method: Method::Post,
            url: self.url(&format!(
                "/v1/projects/{}/pipeline-executions",
                enc(self.project())
            )),
            query: Vec::new(),
            body: Body::Json(self.trigger_body()),
            repeatable: false,
            what: "the trigger".into(),
        };
        let first_attempt = w.clock.wall();
        let mut retry_wait = w.intervals();
        // Whether an earlier attempt may have created a run whose id we never got.
        let mut maybe_created = false;
        let adopt = |e: Listed, report: &mut RunReport| {
            let note = format!(
                "The trigger's reply was lost; adopted execution {} (started {}), which it created.",
                clean(&e.pipeline_execution_id),
                e.started_at.as_deref().map(clean).unwrap_or_default()
            );
            log::warn!("{note}");
            report.notes.push(note);
            e.pipeline_execution_id
        };
        loop {
            match self.http.json::<TriggerReply>(&req, &self.auth, w.budget()) {
                Ok(r) => return Ok(r.pipeline_execution_id),
                Err(HttpError::Ambiguous(m)) => {
                    maybe_created = true;
                    log::warn!(
                        "{m}; checking whether the execution was created before trying again"
                    );
                    // Wait first, then look: a request that reached the platform late is
                    // then more likely to be listed.
                    w.sleep(retry_wait()).map_err(Failure::Interrupted)?;
                    match self.find_own(first_attempt, w.budget())? {
                        Some(e) => return Ok(adopt(e, report)),
                        None => {
                            if w.clock.now() >= w.deadline {
                                return Err(Failure::Unreachable(format!(
                                    "Matillion could not take the trigger before the deadline; last error: {m}"
                                )));
                            }
                            log::info!("no execution was created; triggering again");
                        }
                    }
                }
                Err(HttpError::Refused(p)) if p.status == 409 => {
                    if maybe_created {
                        // The tag may be held by the run our lost trigger created.
                        if let Some(e) = self.find_own(first_attempt, w.budget())? {
                            return Ok(adopt(e, report));
                        }
                        maybe_created = false;
                    }
                    let tag = self.cfg.execution_tag.clone().unwrap_or_default();
                    let holder = self.find_holder(w.budget())?;
                    let said = match &holder {
                        Some((e, guess)) => Self::describe(e, &tag, *guess),
                        None => format!(
                            "execution tag '{}' is held by another execution (none could be identified)",
                            clean(&tag)
                        ),
                    };
                    if self.cfg.on_conflict == OnConflict::Fail {
                        return Err(Failure::Refused(format!(
                            "Matillion refused the trigger: {p} — {said}."
                        )));
                    }
                    log::info!("{said}; waiting for it");
                    report
                        .notes
                        .push(format!("Waited for another run: {said}."));
                    match holder {
                        Some((e, _)) => {
                            match w.until_end(self, &e.pipeline_execution_id, |s| {
                                log::info!(
                                    "holder {}: {}",
                                    clean(&e.pipeline_execution_id),
                                    clean(&s.status)
                                );
                            }) {
                                Ok(_) => log::info!(
                                    "execution tag '{}' is free; triggering",
                                    clean(&tag)
                                ),
                                Err(crate::orchestrate::WaitStop::TimedOut(_)) => {
                                    return Err(Failure::TimedOut(format!(
                                        "timed out waiting for the execution tag: {said}"
                                    )));
                                }
                                Err(crate::orchestrate::WaitStop::Failed(f)) => return Err(f),
                            }
                        }
                        None => {
                            w.sleep(retry_wait()).map_err(Failure::Interrupted)?;
                        }
                    }
                    if w.clock.now() >= w.deadline {
                        return Err(Failure::TimedOut(format!(
                            "timed out waiting for the execution tag: {said}"
                        )));
                    }
                }
                Err(e) => {
                    return Err(Failure::from_http(e, "Matillion", "the trigger", |s| {
                        self.trigger_hint(s)
                    }));
                }
            }
        }
    }

    /// The executions of this project matching the filters, newest first (a few pages).
    fn list_executions(
        &self,
        filters: &[(&str, String)],
        budget: Budget,
    ) -> Result<Vec<Listed>, HttpError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..5 {
            let mut req = Request::get(
                self.url("/v1/pipeline-executions"),
                "the list of executions",
            )
            .query("projectId", self.project())
            .query("limit", PAGE_SIZE.to_string());
            for (k, v) in filters {
                req = req.query(k, v.clone());
            }
            if let Some(t) = &token {
                req = req.query("paginationToken", t.clone());
            }
            let reply: ListReply = self.get(&req, budget)?;
            out.extend(reply.results);
            token = match reply.more {
                Some(Value::String(s)) if !s.is_empty() => Some(s),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            if token.is_none() {
                break;
            }
        }
        Ok(out)
    }

    /// After a lost trigger reply: the execution it created, if any. `first_attempt` is
    /// when the first trigger was sent, by this machine's clock.
    fn find_own(
        &self,
        first_attempt: std::time::SystemTime,
        budget: Budget,
    ) -> Result<Option<Listed>, Failure> {
        let since = first_attempt - ADOPT_SKEW;
        let filters = [
            ("pipelineName", self.cfg.pipeline.clone()),
            ("environmentName", self.cfg.environment.clone()),
            ("startedAfter", timefmt::format_rfc3339(since)),
        ];
        let listed = self
            .list_executions(&filters, budget)
            .map_err(|e| Failure::from_http(e, "Matillion", "the list of executions", auth_hint))?;
        Ok(pick_own(
            listed,
            &self.cfg.pipeline,
            &self.cfg.environment,
            first_attempt,
        ))
    }

    /// The execution that holds the tag, and whether the match is a guess.
    fn find_holder(&self, budget: Budget) -> Result<Option<(Listed, bool)>, Failure> {
        let mut running = Vec::new();
        for status in ["RUNNING", "CANCELLING"] {
            let filters = [
                ("environmentName", self.cfg.environment.clone()),
                ("status", status.to_string()),
            ];
            running.extend(self.list_executions(&filters, budget).map_err(|e| {
                Failure::from_http(e, "Matillion", "the list of executions", auth_hint)
            })?);
        }
        running.retain(|e| {
            e.environment_name == self.cfg.environment && phase_of(&e.status) == Phase::Running
        });
        if let Some(same) = running
            .iter()
            .find(|e| e.pipeline_name == self.cfg.pipeline)
        {
            // Another run of the same pipeline is the likely holder, but the tag itself is
            // not returned: it is a guess when other runs are going too.
            return Ok(Some((same.clone(), running.len() > 1)));
        }
        Ok(running.into_iter().next().map(|e| (e, true)))
    }

    fn describe(e: &Listed, tag: &str, guess: bool) -> String {
        format!(
            "execution tag '{}' is held by execution {} (pipeline {}, started {}, by {}){}",
            clean(tag),
            clean(&e.pipeline_execution_id),
            clean(&e.pipeline_name),
            e.started_at
                .as_deref()
                .map(clean)
                .unwrap_or_else(|| "at an unknown time".into()),
            e.trigger
                .as_deref()
                .map(clean)
                .unwrap_or_else(|| "an unknown trigger".into()),
            if guess {
                " — a guess: the platform does not say which run holds a tag"
            } else {
                ""
            }
        )
    }
}

/// Of the listed executions, the one a lost trigger most likely created: exact pipeline
/// and environment (the platform's name filter is a partial match), triggered through the
/// API, started within [`ADOPT_SKEW`] of `first_attempt`; of those, the one that started
/// nearest to it. Nearest, not oldest: an API run of the same pipeline that another job
/// started a minute earlier is inside the skew window, but further away than ours.
pub fn pick_own(
    listed: Vec<Listed>,
    pipeline: &str,
    environment: &str,
    first_attempt: std::time::SystemTime,
) -> Option<Listed> {
    let distance = |e: &Listed| {
        let t = e.started_at.as_deref().and_then(timefmt::parse_rfc3339)?;
        Some(match t.duration_since(first_attempt) {
            Ok(after) => after,
            Err(before) => before.duration(),
        })
    };
    listed
        .into_iter()
        .filter(|e| {
            e.pipeline_name == pipeline
                && e.environment_name == environment
                && e.trigger.as_deref().is_none_or(|t| t == "API")
                // A start time that cannot be read is kept, but ranked last.
                && distance(e).is_none_or(|d| d <= ADOPT_SKEW)
        })
        .min_by_key(|e| distance(e).unwrap_or(Duration::MAX))
}
