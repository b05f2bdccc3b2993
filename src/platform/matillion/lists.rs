//! The paged lists (projects, environments, published pipelines, steps): every page,
//! bounded by the [`Pager`], fetched a window at a time once the total is known, and why a
//! list was cut short when it was. The list of executions, paged by a token (`more`), a
//! bounded number of pages at a time.

use super::Matillion;
use super::wire::{ListReply, Listed, Page};
use crate::http::{Budget, HttpError, Request};
use crate::platform::pager::{MAX_PAGES, Next, Pager};
use crate::platform::pages::{fetch_pages, window};

/// Page size for every paged list (the API's maximum).
pub(crate) const PAGE_SIZE: usize = 100;

/// Pages of the list of executions read at most by one look at it.
pub(crate) const EXECUTION_PAGES: usize = 5;

/// How a look at the list of executions reads it.
pub(super) struct ListLook<'a> {
    /// Pages at most.
    pub(super) pages: usize,
    /// What its requests are, for messages.
    pub(super) what: &'a str,
    /// Whether a request that failed is sent again within the budget (else a failure
    /// other than a `429` is the answer at once).
    pub(super) retried: bool,
}

impl Matillion {
    /// Every page of a paged list, bounded ([`Pager`]): the items, and why the list was
    /// cut short, if it was (also logged). Once page 0 gave a `total`, the next pages are
    /// fetched a window at a time ([`fetch_pages`]: up to
    /// [`crate::platform::pages::IN_FLIGHT`] pages, fewer when pages are large) and read in
    /// order, so a server that repeats its pages costs at most one window of requests
    /// before the repeat is seen.
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
    pub(super) fn pages_from<T: serde::de::DeserializeOwned + Send>(
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
    pub(super) fn all_pages<T: serde::de::DeserializeOwned + Send>(
        &self,
        path: &str,
        extra: &[(&str, &str)],
        what: &str,
        budget: Budget,
    ) -> Result<Vec<T>, HttpError> {
        self.all_pages_cut(path, extra, what, budget)
            .map(|(v, _)| v)
    }

    /// The executions of this project matching the filters, newest first (at most
    /// [`EXECUTION_PAGES`] pages).
    pub(super) fn list_executions(
        &self,
        filters: &[(&str, String)],
        budget: Budget,
    ) -> Result<Vec<Listed>, HttpError> {
        let look = ListLook {
            pages: EXECUTION_PAGES,
            what: "the list of executions",
            retried: true,
        };
        self.list_executions_upto(filters, &look, budget)
            .map(|(listed, _)| listed)
    }

    /// [`Matillion::list_executions`] as `look` says; and whether the list was read to its
    /// end (no `more` token left).
    pub(super) fn list_executions_upto(
        &self,
        filters: &[(&str, String)],
        look: &ListLook<'_>,
        budget: Budget,
    ) -> Result<(Vec<Listed>, bool), HttpError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..look.pages {
            let mut req = Request::get(self.url("/v1/pipeline-executions"), look.what)
                .query("projectId", self.project())
                .query("limit", PAGE_SIZE.to_string());
            // Not `retried`: an error is at once an answer (a 429 is still waited out).
            req.repeatable = look.retried;
            for (k, v) in filters {
                req = req.query(k, v.clone());
            }
            if let Some(t) = &token {
                req = req.query("paginationToken", t.clone());
            }
            let reply: ListReply = self.get(&req, budget)?;
            out.extend(reply.results);
            token = match reply.more {
                Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s),
                Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            if token.is_none() {
                return Ok((out, true));
            }
        }
        Ok((out, false))
    }
}
