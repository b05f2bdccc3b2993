//! After a lost reply to the run request: the execution it created, if any, found in the
//! pipeline's list of executions by time and input, so that it is adopted rather than run
//! twice.

use super::wire::{ExecList, Execution};
use super::{Datalab, hint};
use crate::config::DatalabInput;
use crate::http::{Budget, Request, enc};
use crate::platform::once::ADOPT_SKEW;
use crate::platform::pager::{Next, Pager};
use crate::timefmt;
use crate::wait::Failure;

/// When a lost run is looked for: executions per page of the list.
pub(crate) const LOOKUP_PAGE_SIZE: usize = 100;
/// When a lost run is looked for: at most this many pages of the list are read.
pub(crate) const LOOKUP_PAGES: usize = 10;

impl Datalab {
    /// After a lost reply: the execution the request created, if any. The list's order
    /// is not documented, so it is not taken to be newest first: every page is read
    /// (bounded: [`LOOKUP_PAGES`] pages of [`LOOKUP_PAGE_SIZE`], a repeated page ends it),
    /// and the run is matched by time — created within [`ADOPT_SKEW`] of
    /// `first_attempt` — and input; of those, the nearest in time.
    pub(super) fn find_own(
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
            DatalabInput::Attached => false,
        }
    }
}
