//! The retry loop every request goes through ([`Http::send_with`]): wait for its turn in
//! the request budget ([`Bucket`](super::Bucket)), send one attempt, read what it gave, and
//! let the pure decision (`decide.rs`) say whether to return, send again after a delay, or
//! give up. The policy itself is described in [`super`]. A failure repeated is logged once
//! per streak, with its count (`streak.rs`); the platform rate-limiting is said once for
//! the process.

use super::attempt::Attempt;
use super::bucket::{Lowered, Turn};
use super::decide::{Failed, Rules, Tally, Verdict, decide, round_ms};
use super::{Authorizer, Budget, Http, HttpError, Problem, Request, Response};
use crate::clock::Wake;
use crate::secret::Secret;
use backoff::backoff::Backoff;
use std::time::{Duration, Instant};

/// What a request that was never sent says at its deadline.
const NOT_SENT: &str = "the deadline had passed before it could be sent";

impl Http {
    fn backoff(&self) -> backoff::ExponentialBackoff {
        backoff::ExponentialBackoff {
            initial_interval: self.retry_initial,
            current_interval: self.retry_initial,
            randomization_factor: 0.3,
            multiplier: 2.0,
            max_interval: self.retry_max,
            max_elapsed_time: None,
            ..backoff::ExponentialBackoff::default()
        }
    }

    fn mark_reached(&self, origin: &str) {
        let mut r = self.reached.lock().unwrap_or_else(|e| e.into_inner());
        if !r.iter().any(|o| o == origin) && r.len() < 64 {
            r.push(origin.to_string());
        }
    }

    fn has_reached(&self, origin: &str) -> bool {
        let r = self.reached.lock().unwrap_or_else(|e| e.into_inner());
        r.iter().any(|o| o == origin)
    }

    /// The policy. `accept` turns a 2xx into a value, or says why the body is unusable.
    /// With `secret_reply`, no reply body is quoted in any message.
    pub(super) fn send_with<T>(
        &self,
        req: &Request,
        auth: &dyn Authorizer,
        budget: Budget,
        secret_reply: bool,
        accept: impl Fn(&Response) -> Result<T, String>,
    ) -> Result<T, HttpError> {
        let mut backoff = self.backoff();
        let mut tally = Tally::default();
        let mut refreshed = false;
        let origin = origin(&req.url);
        let mut last = String::from(NOT_SENT);
        loop {
            let (header, sent) = self.ready(req, auth, budget, &last)?;
            let limit = budget.deadline.saturating_duration_since(sent);
            let attempt = self.attempt(req, header, limit.min(self.attempt_timeout));
            let failed = match self.read(req, attempt, &origin, secret_reply, auth, &accept) {
                Ok(v) => {
                    self.end_streak(req);
                    return Ok(v);
                }
                Err(f) => f,
            };
            let fresh_credential = answered(&failed, 401) && !refreshed && auth.invalidate();
            let rejected = answered(&failed, 429);
            let kind = failed.kind();
            let rules = Rules {
                repeatable: req.repeatable,
                fresh_credential,
                reached: self.has_reached(&origin),
                origin: &origin,
                connect_window: self.connect_window,
                sent,
                now: self.clock.now(),
                deadline: budget.deadline,
                // The jitter never stretches a wait past the documented maximum.
                step: backoff
                    .next_backoff()
                    .unwrap_or(self.retry_max)
                    .min(self.retry_max),
            };
            let verdict = decide(failed, &rules, &mut tally);
            if rejected {
                self.rejected(sent, &verdict);
            }
            match self.act(req, budget, &kind, verdict)? {
                Some(why) => last = why,
                None => refreshed = true,
            }
        }
    }

    /// Carry out a verdict: `Some(what failed)` once the wait before the next attempt is
    /// over, `None` to send again at once with a new credential, or the error to stop with.
    fn act(
        &self,
        req: &Request,
        budget: Budget,
        kind: &str,
        verdict: Verdict,
    ) -> Result<Option<String>, HttpError> {
        match verdict {
            Verdict::Refresh => {
                log::debug!(
                    "{}: 401; fetching a new token and trying once more",
                    req.what
                );
                Ok(None)
            }
            Verdict::Retry { after, why, .. } => {
                self.note_retry(req, kind, &why, after);
                self.wait_or_stop(budget, after)?;
                Ok(Some(why))
            }
            Verdict::WaitOut { wait, why, .. } => {
                self.end_streak(req);
                log::warn!(
                    "{why}: waiting until the deadline, {} from now",
                    humantime::format_duration(round_ms(wait))
                );
                self.wait_or_stop(budget, wait)?;
                Err(HttpError::Deadline(why))
            }
            Verdict::GiveUp(HttpError::Deadline(why)) => {
                // Said by the caller, with the count of the streak (this failure too),
                // which a next call of the same request goes on counting.
                self.streaks.failed(&req.what, kind, &why, self.clock.now());
                let why = self.streaks.so_far(&req.what).unwrap_or(why);
                Err(HttpError::Deadline(why))
            }
            Verdict::GiveUp(e @ HttpError::Unusable(_)) => Err(e),
            Verdict::GiveUp(e) => {
                self.end_streak(req);
                Err(e)
            }
        }
    }

    /// Before an attempt: no signal, time left, its turn in the request budget, then the
    /// authorization header. The header and when the attempt goes.
    fn ready(
        &self,
        req: &Request,
        auth: &dyn Authorizer,
        budget: Budget,
        last: &str,
    ) -> Result<(Option<(String, Secret)>, Instant), HttpError> {
        self.take_turn(req, budget, last)?;
        let header = auth.header(self, budget)?;
        // Fetching a token takes time: a signal that came meanwhile stops this request
        // before it is sent (nothing new starts after a signal).
        self.check(req, budget, last)?;
        Ok((header, self.clock.now()))
    }

    /// Wait for the request's turn: the platform's `Retry-After` (when that fits), then a
    /// token of the bucket, reserved and waited for (again when a 429 voided it meanwhile).
    /// A cancel, and a request a signal cannot stop (the clean-up after one), takes a token
    /// without waiting. A turn that would come after the deadline is waited for until the
    /// deadline, then given up.
    fn take_turn(&self, req: &Request, budget: Budget, last: &str) -> Result<(), HttpError> {
        let urgent = req.urgent || !budget.interruptible;
        loop {
            self.check(req, budget, last)?;
            let now = self.clock.now();
            // A 429 told every request to wait: this one waits too, when that fits.
            if let Some(left) = self
                .bucket
                .held(now)
                .filter(|l| now + *l <= budget.deadline)
            {
                log::debug!(
                    "{}: waiting {} (the platform's Retry-After)",
                    req.what,
                    humantime::format_duration(round_ms(left))
                );
                self.wait_or_stop(budget, left)?;
                continue;
            }
            match self.bucket.turn(now, budget.deadline, urgent) {
                Turn::Go => return Ok(()),
                Turn::Wait { wait, epoch } => {
                    log::trace!(
                        "{}: waiting {} for its turn in the request budget",
                        req.what,
                        humantime::format_duration(round_ms(wait))
                    );
                    self.wait_or_stop(budget, wait)?;
                    if self.bucket.still_valid(epoch) {
                        return Ok(());
                    }
                }
                Turn::TooLate { left, per_minute } => {
                    self.wait_or_stop(budget, left)?;
                    let turn = format!(
                        "its turn in the request budget ({per_minute} requests a minute) would have come after its deadline"
                    );
                    // What failed before, with the count of its streak, comes first.
                    let earlier = self
                        .streaks
                        .so_far(&req.what)
                        .or_else(|| (last != NOT_SENT).then(|| last.to_string()));
                    return Err(HttpError::Deadline(match earlier {
                        Some(e) => format!("{e}; {turn}"),
                        None => format!("{}: {turn}", req.what),
                    }));
                }
            }
        }
    }

    /// Sleep `d` (see [`Http::wait`]); a signal is an error.
    fn wait_or_stop(&self, budget: Budget, d: Duration) -> Result<(), HttpError> {
        self.wait(budget, d)
            .or_signal()
            .map_err(HttpError::Interrupted)
    }

    /// A 429 to the attempt sent at `sent`: counted, the budget lowered and held back for
    /// the `Retry-After` the verdict carries; the first lowering said once for the
    /// process, later ones quietly.
    fn rejected(&self, sent: Instant, verdict: &Verdict) {
        let hold = match verdict {
            Verdict::Retry { hold, .. } | Verdict::WaitOut { hold, .. } => *hold,
            _ => None,
        };
        let Some(Lowered {
            per_minute,
            first,
            platform,
        }) = self.bucket.rejected(self.clock.now(), sent, hold)
        else {
            return;
        };
        if first {
            log::warn!(
                "{platform} is rate-limiting (429); this step now sends at most {per_minute} requests a minute"
            );
        } else {
            log::debug!(
                "{platform} is still rate-limiting (429); at most {per_minute} requests a minute now"
            );
        }
    }

    /// A signal (when the budget is interruptible) or a deadline passed stops the request
    /// (saying what kept failing, with the count of its streak).
    fn check(&self, req: &Request, budget: Budget, last_said: &str) -> Result<(), HttpError> {
        if budget.interruptible {
            if let Some(s) = self.clock.pending_signal() {
                return Err(HttpError::Interrupted(s));
            }
        }
        if self.clock.now() >= budget.deadline {
            let last = self.streaks.so_far(&req.what);
            return Err(HttpError::Deadline(
                last.unwrap_or_else(|| last_said.to_string()),
            ));
        }
        Ok(())
    }

    /// What an attempt gave: the value of a usable 2xx, or how it failed.
    fn read<T>(
        &self,
        req: &Request,
        attempt: Attempt,
        origin: &str,
        secret_reply: bool,
        auth: &dyn Authorizer,
        accept: &impl Fn(&Response) -> Result<T, String>,
    ) -> Result<T, Failed> {
        match attempt {
            Attempt::Reply(r, retry_after) => {
                self.mark_reached(origin);
                read_reply(req, &r, retry_after, secret_reply, auth, accept)
            }
            Attempt::NotSent(m) => Err(Failed::NotSent(format!(
                "{} could not reach {}: {m}",
                req.what,
                host(origin)
            ))),
            Attempt::Lost(m) => Err(Failed::Lost(format!(
                "{} lost its reply from {}: {m}",
                req.what,
                host(origin)
            ))),
            Attempt::Untrusted(m) => Err(Failed::Untrusted(m)),
            Attempt::TooLarge(m) => {
                self.mark_reached(origin);
                Err(Failed::Unusable(format!("{}: {m}", req.what)))
            }
        }
    }

    /// Say a retry: in full when it starts a streak of its kind, quietly after that.
    fn note_retry(&self, req: &Request, kind: &str, why: &str, after: Duration) {
        let noted = self.streaks.failed(&req.what, kind, why, self.clock.now());
        if let Some(ended) = noted.ended {
            log::warn!("{ended}");
        }
        let line = format!(
            "{why}; retrying in {}",
            humantime::format_duration(round_ms(after))
        );
        if noted.first {
            log::warn!("{line}");
        } else {
            log::debug!("{line}");
        }
    }

    /// The request succeeded or gave up: the count of its streak of failures, if any.
    fn end_streak(&self, req: &Request) {
        if let Some(ended) = self.streaks.end(&req.what) {
            log::warn!("{ended}");
        }
    }

    /// Sleep `d`: woken by a signal when the budget is interruptible.
    fn wait(&self, budget: Budget, d: Duration) -> Wake {
        if budget.interruptible {
            self.clock.sleep(d)
        } else {
            self.clock.pause(d);
            Wake::Elapsed
        }
    }
}

/// A reply: the value of a usable 2xx, or how it failed.
fn read_reply<T>(
    req: &Request,
    r: &Response,
    retry_after: Option<Duration>,
    secret_reply: bool,
    auth: &dyn Authorizer,
    accept: &impl Fn(&Response) -> Result<T, String>,
) -> Result<T, Failed> {
    if (200..=299).contains(&r.status) {
        return accept(r).map_err(Failed::Unusable);
    }
    let mut problem = match r.status {
        300..=399 => Problem::redirect(r.status, r.location.as_deref()),
        s if secret_reply => Problem::oauth(s, &r.body),
        s => Problem::parse(s, &r.body),
    };
    let said = format!("{} answered {problem}", req.what);
    if r.status == 401 && !secret_reply {
        problem.hint = auth.refusal_hint();
    }
    Err(Failed::Status {
        problem: Box::new(problem),
        said,
        retry_after,
    })
}

/// Whether the attempt was answered with HTTP `status`.
fn answered(failed: &Failed, status: u16) -> bool {
    matches!(failed, Failed::Status { problem, .. } if problem.status == status)
}

/// The `host[:port]` of an origin, for messages.
fn host(origin: &str) -> String {
    super::clean(origin.split_once("://").map_or(origin, |(_, h)| h))
}

/// `scheme://host[:port]` of a URL, lower-cased: what "the same origin" compares.
pub(crate) fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    format!("{scheme}://{authority}").to_ascii_lowercase()
}
