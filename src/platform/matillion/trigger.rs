//! The trigger, sent at most once. Its POST is not idempotent: when the reply is lost the
//! run may or may not exist, so the list of executions is read (and the run adopted)
//! before any second attempt. A 409 means another execution holds the execution tag: the
//! holder is found in the list of running executions and waited for. The body holds
//! exactly the fields given.

use super::wire::{Listed, TriggerReply};
use super::{Matillion, auth_hint, phase_of};
use crate::config::OnConflict;
use crate::http::{Body, Budget, HttpError, Method, Problem, Request, clean, enc};
use crate::model::RunReport;
use crate::platform::Platform;
use crate::platform::once::{
    ADOPT_SKEW, Adopted, Attempts, LookUp, Once, adopt, look_for_own, trigger_at_most_once,
};
use crate::timefmt;
use crate::wait::{Failure, Phase, Seen, WaitStop, Waiter, still_line};
use serde_json::{Map, Value};
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
            urgent: false,
            what: "the trigger".into(),
        };
        let how = Once {
            platform: "Matillion",
            what: "the trigger",
            again: "triggering again",
            look_up: LookUp::AfterRetryWait,
        };
        trigger_at_most_once(
            w,
            report,
            how,
            |budget| {
                self.http
                    .json::<TriggerReply>(&req, &self.auth, budget)
                    .map(|r| r.pipeline_execution_id)
            },
            |first, budget| Ok(self.find_own(first, budget)?.map(adopted)),
            |e, attempts, report| match e {
                HttpError::Refused(p) if p.status == 409 => self.tag_held(w, &p, attempts, report),
                e => Err(Failure::from_http(e, "Matillion", "the trigger", |s| {
                    self.trigger_hint(s)
                })),
            },
        )
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

    /// What to check when the trigger is refused with `status`.
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

    /// A 409: another execution holds the execution tag. Our own lost trigger may hold it
    /// (adopted); else the holder is waited for (`Ok(None)`: trigger again), or refused.
    fn tag_held(
        &self,
        w: &Waiter<'_>,
        p: &Problem,
        attempts: &mut Attempts,
        report: &mut RunReport,
    ) -> Result<Option<String>, Failure> {
        if attempts.maybe_created {
            // A 409 after a lost reply: the tag is probably held by the run our lost
            // trigger created, which a lagging list may not show yet. Keep looking for it.
            log::info!(
                "the trigger was answered 409 after a lost reply: the run it created probably holds the tag; looking for it"
            );
            let mut find = |first, budget| Ok(self.find_own(first, budget)?.map(adopted));
            if let Some(found) = look_for_own(w, attempts.first, &mut find)? {
                return Ok(Some(adopt(found, report)));
            }
        }
        let tag = self.cfg.execution_tag.clone().unwrap_or_default();
        let holder = self.find_holder(w.budget())?;
        if holder.is_some() {
            // The list shows who holds the tag, and it is not the run of our lost reply.
            attempts.maybe_created = false;
        } else if attempts.maybe_created {
            return unlisted_holder(w, attempts, &tag);
        }
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
            Some((e, _)) => self.follow_holder(w, &e.pipeline_execution_id, &tag, &said)?,
            None => w
                .sleep(attempts.next_wait())
                .map_err(Failure::Interrupted)?,
        }
        if w.clock.now() >= w.deadline {
            return Err(Failure::TimedOut(format!(
                "timed out waiting for the execution tag: {said}"
            )));
        }
        Ok(None)
    }

    /// Follow the execution `id` that holds the tag until it ends (or the deadline).
    fn follow_holder(
        &self,
        w: &Waiter<'_>,
        id: &str,
        tag: &str,
        said: &str,
    ) -> Result<(), Failure> {
        let waited = w.until_end(
            |budget| self.status(id, budget),
            |seen| match seen {
                Seen::Changed(s) => log::info!("holder {}: {}", clean(id), clean(&s.status)),
                Seen::Still { status, after } => log::info!("{}", still_line(status, after)),
                Seen::Unread(_) => {}
            },
        );
        match waited {
            Ok(_) => {
                log::info!("execution tag '{}' is free; triggering", clean(tag));
                Ok(())
            }
            Err(WaitStop::TimedOut(_)) => Err(Failure::TimedOut(format!(
                "timed out waiting for the execution tag: {said}"
            ))),
            Err(WaitStop::Failed(f)) => Err(f),
        }
    }

    /// After a lost trigger reply: the execution it created, if any. `first_attempt` is
    /// when the first trigger was sent, by this machine's clock.
    pub(super) fn find_own(
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

/// The adoption of a run our lost trigger created, with the sentence that says so.
fn adopted(e: Listed) -> Adopted {
    Adopted {
        note: format!(
            "The trigger's reply was lost; adopted execution {} (started {}), which it created.",
            clean(&e.pipeline_execution_id),
            e.started_at.as_deref().map(clean).unwrap_or_default()
        ),
        id: e.pipeline_execution_id,
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

/// Nobody is listed as the holder of `tag` after a lost reply: most likely the run of that
/// reply, which the list does not show yet. Ask again later (a 409 again means the same).
fn unlisted_holder(
    w: &Waiter<'_>,
    attempts: &mut Attempts,
    tag: &str,
) -> Result<Option<String>, Failure> {
    log::info!(
        "no holder of execution tag '{}' is listed yet (probably the run of the lost reply); trying again",
        clean(tag)
    );
    w.sleep(attempts.next_wait())
        .map_err(Failure::Interrupted)?;
    if w.clock.now() >= w.deadline {
        return Err(Failure::TimedOut(format!(
            "timed out looking for the run of the lost trigger reply, which probably holds execution tag '{}'",
            clean(tag)
        )));
    }
    Ok(None)
}
