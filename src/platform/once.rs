//! The trigger, sent at most once, for every platform. Its POST is not idempotent: when the
//! reply is lost the run may or may not exist, so the platform's list of executions is read
//! (and the run adopted) before any second attempt — for a while ([`Waiter::lookup`]),
//! since a list can lag behind: a second POST is sent only when the list showed no run
//! created by the first for that whole window. The platform supplies the request, the
//! look-up, and what to do with any other error (Matillion waits out a held execution tag).

use crate::http::{Budget, HttpError};
use crate::model::RunReport;
use crate::wait::{Failure, Waiter};
use std::time::{Duration, SystemTime};

/// When looking for a run whose reply was lost: how far before the first attempt to look
/// (the platform's clock may be behind this machine's).
pub(crate) const ADOPT_SKEW: Duration = Duration::from_secs(120);

/// A run that a lost request created, found in the platform's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Adopted {
    /// Its execution id.
    pub(crate) id: String,
    /// The sentence for the log and the report's notes.
    pub(crate) note: String,
}

/// When a lost reply is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LookUp {
    /// Wait the retry interval first, then look: a request that reached the platform late
    /// is then more likely to be listed (Matillion).
    AfterRetryWait,
    /// Look at once, and wait the retry interval only before sending again (Datalab).
    BeforeRetryWait,
}

/// How one platform words and orders its trigger.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Once<'a> {
    /// "Matillion".
    pub(crate) platform: &'a str,
    /// "the trigger".
    pub(crate) what: &'a str,
    /// "triggering again".
    pub(crate) again: &'a str,
    /// When a lost reply is looked up.
    pub(crate) look_up: LookUp,
}

/// The attempts so far, for the platform's own error handling.
pub(crate) struct Attempts {
    /// When the first attempt was sent, by this machine's clock.
    pub(crate) first: SystemTime,
    /// Whether an earlier attempt may have created a run whose id we never got.
    pub(crate) maybe_created: bool,
    retry_wait: Box<dyn FnMut() -> Duration>,
}

impl Attempts {
    /// The next retry interval (growing, as the poll intervals do).
    pub(crate) fn next_wait(&mut self) -> Duration {
        (self.retry_wait)()
    }
}

/// At most this many looks at the list for one lost reply (the window bounds it by time).
pub(crate) const MAX_LOOKUPS: u32 = 30;

/// After a lost reply (or a 409 that follows one): look for the run the first attempt
/// created, again and again, for [`Waiter::lookup`] (a list can lag behind the run it
/// lists), and not past the deadline. `None` only when the list showed no such run for
/// the whole window.
pub(crate) fn look_for_own(
    w: &Waiter<'_>,
    first: SystemTime,
    find_own: &mut dyn FnMut(SystemTime, Budget) -> Result<Option<Adopted>, Failure>,
) -> Result<Option<Adopted>, Failure> {
    let start = w.clock.now();
    let end = (start + w.lookup).min(w.deadline);
    let mut gaps = w.intervals();
    for n in 1..=MAX_LOOKUPS {
        if let Some(found) = find_own(first, w.budget())? {
            return Ok(Some(found));
        }
        let now = w.clock.now();
        if now >= end {
            break;
        }
        if n == 1 {
            log::info!(
                "the run is not listed (yet): the list can lag behind; looking again for up to {}",
                humantime::format_duration(Duration::from_millis(
                    (end - now).as_millis() as u64 / 100 * 100
                ))
            );
        }
        w.sleep(gaps().min(end - now))
            .map_err(Failure::Interrupted)?;
    }
    Ok(None)
}

/// Log `found`'s note, keep it in the report, and give its id.
pub(crate) fn adopt(found: Adopted, report: &mut RunReport) -> String {
    log::warn!("{}", found.note);
    report.notes.push(found.note);
    found.id
}

/// Send the trigger at most once: `send` posts it; after a lost reply `find_own` looks
/// for the run it created (given the first attempt's time) and adopts it, else the trigger
/// is sent again while the deadline allows. Any other error goes to `other`, which gives
/// the id (a run it adopted), `None` to send again, or the failure.
pub(crate) fn trigger_at_most_once(
    w: &Waiter<'_>,
    report: &mut RunReport,
    how: Once<'_>,
    mut send: impl FnMut(Budget) -> Result<String, HttpError>,
    mut find_own: impl FnMut(SystemTime, Budget) -> Result<Option<Adopted>, Failure>,
    mut other: impl FnMut(HttpError, &mut Attempts, &mut RunReport) -> Result<Option<String>, Failure>,
) -> Result<String, Failure> {
    let mut attempts = Attempts {
        first: w.clock.wall(),
        maybe_created: false,
        retry_wait: Box::new(w.intervals()),
    };
    loop {
        match send(w.budget()) {
            Ok(id) => return Ok(id),
            Err(HttpError::Ambiguous(m)) => {
                attempts.maybe_created = true;
                log::warn!("{m}; checking whether the execution was created before trying again");
                let give_up = || {
                    Failure::Unreachable(format!(
                        "{} could not take {} before the deadline; last error: {m}",
                        how.platform, how.what
                    ))
                };
                if how.look_up == LookUp::AfterRetryWait {
                    w.sleep(attempts.next_wait())
                        .map_err(Failure::Interrupted)?;
                }
                if let Some(found) = look_for_own(w, attempts.first, &mut find_own)? {
                    return Ok(adopt(found, report));
                }
                match how.look_up {
                    LookUp::AfterRetryWait => {
                        if w.clock.now() >= w.deadline {
                            return Err(give_up());
                        }
                        log::info!("no execution was created; {}", how.again);
                    }
                    LookUp::BeforeRetryWait => {
                        log::info!("no execution was created; {}", how.again);
                        w.sleep(attempts.next_wait())
                            .map_err(Failure::Interrupted)?;
                        if w.clock.now() >= w.deadline {
                            return Err(give_up());
                        }
                    }
                }
            }
            Err(e) => {
                if let Some(id) = other(e, &mut attempts, report)? {
                    return Ok(id);
                }
            }
        }
    }
}
