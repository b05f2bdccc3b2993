//! Replica lag: a status or details request for the execution this program created may
//! answer 404 until the replica it reaches catches up, right after the trigger or at any
//! later time (a load balancer can switch to a lagging replica mid-run). Such a 404 is
//! asked again within a grace period counted from the first 404 of the streak; after it,
//! the execution is cancelled (it may exist where this replica cannot see it) and the
//! failure names it.

use super::Matillion;
use crate::http::{Budget, HttpError};
use crate::platform::Platform;
use crate::text::clean;
use crate::wait::Failure;
use std::time::{Duration, Instant};

/// At most this many times a 404 for a known execution is asked again in one streak (the
/// grace period bounds it by time too).
pub(crate) const NOT_FOUND_TRIES: u32 = 40;

/// After giving up on a not-found execution, how long its cancel request may take.
pub(crate) const CANCEL_AFTER_NOT_FOUND: Duration = Duration::from_secs(10);

/// The execution this program created (or adopted).
#[derive(Debug, Clone)]
pub(super) struct Known {
    id: String,
    /// Since when it has not been found: its creation, or the first 404 after it was found.
    since: Instant,
    /// Whether the platform has found it since `since`.
    found: bool,
    /// Whether it was found once before the current streak of 404s.
    found_before: bool,
}

impl Matillion {
    /// Remember `id` as the execution this program created (or adopted), created now.
    pub(super) fn just_created(&self, id: &str) {
        *self.created.lock().unwrap_or_else(|e| e.into_inner()) = Some(Known {
            id: id.to_string(),
            since: self.http.clock().now(),
            found: false,
            found_before: false,
        });
    }

    /// The id of the execution this program created, adopted or follows.
    pub(super) fn known_id(&self) -> Option<String> {
        let created = self.created.lock().unwrap_or_else(|e| e.into_inner());
        created.as_ref().map(|k| k.id.clone())
    }

    /// A 404 for `id`: when this program created it, since when it has not been found (a
    /// 404 after it was found starts a new streak now).
    fn not_found_since(&self, id: &str) -> Option<Instant> {
        let now = self.http.clock().now();
        let mut created = self.created.lock().unwrap_or_else(|e| e.into_inner());
        let known = created.as_mut().filter(|k| k.id == id)?;
        if known.found {
            log::warn!(
                "execution {} answered 404 after it was found (a replica that lags behind?); asking again for up to {}",
                clean(id),
                humantime::format_duration(self.not_found_grace)
            );
            known.since = now;
            known.found = false;
            known.found_before = true;
        }
        Some(known.since)
    }

    fn found(&self, id: &str) {
        let mut created = self.created.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = created.as_mut().filter(|k| k.id == id) {
            known.found = true;
        }
    }

    /// `f`, asked again while it answers 404 for `id`, the execution this program just
    /// created, within the grace period (a replica that has not caught up yet). `Ok`, or
    /// the last error with whether the grace ran out on a 404.
    pub(super) fn through_replica_lag<T>(
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
                    let Some(at) = self.not_found_since(id) else {
                        return Err(Box::new((HttpError::Refused(p), false)));
                    };
                    let now = clock.now();
                    let end = (at + self.not_found_grace).min(budget.deadline);
                    if now >= end {
                        return Err(Box::new((HttpError::Refused(p), true)));
                    }
                    log::debug!(
                        "execution {} is not found (404), {} into the grace; asking again",
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

    /// The execution this program created is still not found after the grace period: try
    /// to cancel it (it may exist where this replica cannot see it), and say so, naming it.
    pub(super) fn not_found_after_grace(&self, id: &str, e: HttpError, budget: Budget) -> Failure {
        let now = self.http.clock().now();
        let cancel_budget = Budget {
            deadline: budget.deadline.max(now).min(now + CANCEL_AFTER_NOT_FOUND),
            interruptible: false,
        };
        let cancel = match self.cancel(id, cancel_budget) {
            Ok(_) => "asked the platform to cancel it".to_string(),
            Err(f) => format!("could not ask the platform to cancel it ({f})"),
        };
        let grace = humantime::format_duration(self.not_found_grace);
        let when = if self.found_before(id) {
            format!("was found earlier but has not been found for {grace}")
        } else {
            format!("was created by this run but was still not found {grace} later")
        };
        Failure::Refused(format!(
            "Matillion refused the status poll: {e}; execution {} {when}; {cancel} — check it in the Matillion console",
            clean(id),
        ))
    }

    /// Whether `id`, which this program created, was found before its current streak of
    /// 404s.
    fn found_before(&self, id: &str) -> bool {
        let created = self.created.lock().unwrap_or_else(|e| e.into_inner());
        created
            .as_ref()
            .is_some_and(|k| k.id == id && k.found_before)
    }
}
