//! The execution's details and its steps: after the run, every page of steps (the complete
//! pages read while it ran are not read again); while it runs, one page for live progress.

use super::lists::PAGE_SIZE;
use super::wire::{Details, Page, StepItem};
use super::{Matillion, auth_hint};
use crate::http::{Budget, Request, enc};
use crate::model::{RunReport, Step};
use crate::progress::StepPage;
use crate::timefmt;
use crate::wait::Failure;

impl Matillion {
    fn steps_path(&self, id: &str) -> String {
        format!(
            "/v1/projects/{}/pipeline-executions/{}/steps",
            enc(self.project()),
            enc(id)
        )
    }

    /// Page `page` of the steps of `id` while it runs (live progress).
    pub(super) fn running_step_page(
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

    /// The execution's details, then its steps from the page after `complete` (the pages
    /// read while it ran), into `report`.
    pub(super) fn collect_details_and_steps(
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
