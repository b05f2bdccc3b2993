//! The retry loop every request goes through ([`Http::send_with`]): attempts until the
//! budget's deadline, each reply or failure classified (retried, refused, ambiguous,
//! unusable, unreachable), `Retry-After` and the shared [`Pace`](super::Pace) honoured,
//! exponential backoff with jitter otherwise. The policy itself is described in
//! [`super`].

use super::attempt::Attempt;
use super::{
    Authorizer, Budget, Http, HttpError, Problem, Request, Response, UNUSABLE_BODY_ATTEMPTS, clean,
};
use crate::clock::Wake;
use backoff::backoff::Backoff;
use std::time::{Duration, Instant};

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
        let mut refreshed = false;
        let mut unusable = 0u32;
        // Since when connecting to a host that never answered has been failing.
        let mut unreached_since: Option<Instant> = None;
        let origin = origin(&req.url);
        let describe = |r: &Response| -> String {
            if secret_reply {
                Problem::oauth(r.status, &r.body).to_string()
            } else {
                Problem::parse(r.status, &r.body).to_string()
            }
        };
        let mut last = String::from("the deadline had passed before it could be sent");
        loop {
            if budget.interruptible {
                if let Some(s) = self.clock.pending_signal() {
                    return Err(HttpError::Interrupted(s));
                }
            }
            let now = self.clock.now();
            if now >= budget.deadline {
                return Err(HttpError::Deadline(last));
            }
            // A 429 told every request to wait: this one waits too, when that fits.
            if let Some(left) = self.pace.left(now).filter(|l| now + *l <= budget.deadline) {
                log::debug!(
                    "{}: waiting {} (the platform's Retry-After)",
                    req.what,
                    humantime::format_duration(round_ms(left))
                );
                let wake = if budget.interruptible {
                    self.clock.sleep(left)
                } else {
                    self.clock.pause(left);
                    Wake::Elapsed
                };
                if let Wake::Signal(s) = wake {
                    return Err(HttpError::Interrupted(s));
                }
                continue;
            }
            let header = auth.header(self, budget)?;
            // Fetching a token takes time: a signal that came meanwhile stops this request
            // before it is sent (nothing new starts after a signal).
            if budget.interruptible {
                if let Some(s) = self.clock.pending_signal() {
                    return Err(HttpError::Interrupted(s));
                }
            }
            let now = self.clock.now();
            if now >= budget.deadline {
                return Err(HttpError::Deadline(last));
            }
            let remaining = budget.deadline - now;
            let (retry_after, problem) = match self.attempt(
                req,
                header,
                remaining.min(self.attempt_timeout),
            ) {
                Attempt::Reply(r, retry_after) => {
                    self.mark_reached(&origin);
                    match r.status {
                        200..=299 => match accept(&r) {
                            Ok(v) => return Ok(v),
                            Err(m) if req.repeatable => {
                                unusable += 1;
                                if unusable >= UNUSABLE_BODY_ATTEMPTS {
                                    return Err(HttpError::Unusable(format!(
                                        "{m}; {unusable} replies in a row could not be used"
                                    )));
                                }
                                (None, m)
                            }
                            Err(m) => return Err(HttpError::Ambiguous(m)),
                        },
                        300..=399 => {
                            return Err(HttpError::Refused(Problem::redirect(
                                r.status,
                                r.location.as_deref(),
                            )));
                        }
                        401 if !refreshed && auth.invalidate() => {
                            refreshed = true;
                            log::debug!(
                                "{}: 401; fetching a new token and trying once more",
                                req.what
                            );
                            continue;
                        }
                        401 if !secret_reply => {
                            let mut p = Problem::parse(401, &r.body);
                            p.hint = auth.refusal_hint();
                            return Err(HttpError::Refused(p));
                        }
                        429 => (
                            retry_after.inspect(|d| self.pace.hold_until(self.clock.now() + *d)),
                            format!("{} answered {}", req.what, describe(&r)),
                        ),
                        500..=599 => {
                            let m = format!("{} answered {}", req.what, describe(&r));
                            if !req.repeatable {
                                return Err(HttpError::Ambiguous(m));
                            }
                            (retry_after, m)
                        }
                        s if secret_reply => {
                            return Err(HttpError::Refused(Problem::oauth(s, &r.body)));
                        }
                        s => return Err(HttpError::Refused(Problem::parse(s, &r.body))),
                    }
                }
                Attempt::NotSent(m) => {
                    let m = format!("{} failed: {m}", req.what);
                    if !self.has_reached(&origin) {
                        let since = *unreached_since.get_or_insert(now);
                        let tried = self.clock.now().saturating_duration_since(since);
                        if tried >= self.connect_window {
                            return Err(HttpError::Unreachable(format!(
                                "could not connect to {} for {} ({m}); it has not answered once, so this does not look like something that heals by waiting: check the URL and the network",
                                clean(&origin),
                                humantime::format_duration(round_s(tried))
                            )));
                        }
                    }
                    (None, m)
                }
                Attempt::Untrusted(m) => return Err(HttpError::Untrusted(m)),
                Attempt::Lost(m) => {
                    let m = format!("{} failed: {m}", req.what);
                    if !req.repeatable {
                        return Err(HttpError::Ambiguous(m));
                    }
                    (None, m)
                }
                Attempt::TooLarge(m) => {
                    self.mark_reached(&origin);
                    let m = format!("{}: {m}", req.what);
                    if !req.repeatable {
                        return Err(HttpError::Ambiguous(m));
                    }
                    unusable += 1;
                    if unusable >= UNUSABLE_BODY_ATTEMPTS {
                        return Err(HttpError::Unusable(format!(
                            "{m}; {unusable} replies in a row could not be used"
                        )));
                    }
                    (None, m)
                }
            };
            last = problem;
            let now = self.clock.now();
            let delay = match retry_after {
                Some(asked) => {
                    if now + asked > budget.deadline {
                        // The platform asked to wait longer than the time left. A rate
                        // limit is no reason to stop before the deadline: wait until it,
                        // then stop there, saying what was asked.
                        let m = format!(
                            "{last}; the platform asked to wait {} (Retry-After), longer than the time left",
                            humantime::format_duration(round_ms(asked))
                        );
                        log::warn!(
                            "{m}: waiting until the deadline, {} from now",
                            humantime::format_duration(round_ms(budget.deadline - now))
                        );
                        if let Wake::Signal(s) = self.wait(budget, budget.deadline - now) {
                            return Err(HttpError::Interrupted(s));
                        }
                        return Err(HttpError::Deadline(m));
                    }
                    asked
                }
                // The jitter never stretches a wait past the documented maximum.
                None => backoff
                    .next_backoff()
                    .unwrap_or(self.retry_max)
                    .min(self.retry_max),
            };
            // A host that never answered gets one last attempt at the end of its window.
            let delay = match unreached_since {
                Some(since) if !self.has_reached(&origin) => {
                    let window_end = since + self.connect_window;
                    delay.min(window_end.saturating_duration_since(now))
                }
                _ => delay,
            };
            if now + delay > budget.deadline {
                // Waiting would pass the deadline: give up now with what kept failing.
                return Err(HttpError::Deadline(last));
            }
            log::warn!(
                "{last}; retrying in {}",
                humantime::format_duration(round_ms(delay))
            );
            if let Wake::Signal(s) = self.wait(budget, delay) {
                return Err(HttpError::Interrupted(s));
            }
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

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

fn round_s(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}
