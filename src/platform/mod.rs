//! The platforms behind one small trait. The wait loop, retry policy, signals and
//! reporters are shared; a platform only knows its own endpoints.

pub mod datalab;
pub mod matillion;

use crate::clock::Signal;
use crate::http::{Budget, HttpError};
use crate::report::{PlatformKind, RunReport};
use std::fmt;

/// Why a platform call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The platform refused (bad credentials, unknown project, 4xx): a full sentence.
    Refused(String),
    /// The deadline passed while the platform kept failing: a full sentence.
    Unreachable(String),
    /// A signal arrived.
    Interrupted(Signal),
    /// The wait for something else (a held execution tag) passed the deadline.
    TimedOut(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Refused(m) | Failure::Unreachable(m) | Failure::TimedOut(m) => f.write_str(m),
            Failure::Interrupted(Signal::Int) => f.write_str("interrupted by SIGINT"),
            Failure::Interrupted(Signal::Term) => f.write_str("interrupted by SIGTERM"),
        }
    }
}

impl Failure {
    /// A failure from an HTTP error: `platform` ("Matillion") and `what` ("the trigger")
    /// make the sentence, and `hint` may add advice for a refusal's status.
    pub fn from_http(
        e: HttpError,
        platform: &str,
        what: &str,
        hint: impl FnOnce(u16) -> Option<String>,
    ) -> Self {
        match e {
            HttpError::Refused(p) => {
                let hint = hint(p.status)
                    .map(|h| format!(" — {h}"))
                    .unwrap_or_default();
                Failure::Refused(format!("{platform} refused {what}: {p}{hint}"))
            }
            HttpError::CredentialsRefused(p) => Failure::Refused(format!(
                "{platform} refused the credentials: the token endpoint answered {p} — check client-id and client-secret."
            )),
            HttpError::Untrusted(m) => Failure::Refused(format!(
                "{platform}'s TLS certificate is not trusted ({m}) — if a proxy inspects TLS, give its root certificate in `ca-bundle` (or SSL_CERT_FILE)."
            )),
            HttpError::Ambiguous(m) => {
                Failure::Unreachable(format!("{platform} gave no usable reply to {what}: {m}"))
            }
            HttpError::Deadline(m) => Failure::Unreachable(format!(
                "{platform} could not be reached for {what} before the deadline; last error: {m}"
            )),
            HttpError::Interrupted(s) => Failure::Interrupted(s),
            HttpError::Unusable(m) => {
                Failure::Unreachable(format!("{platform} gave no usable reply to {what}: {m}"))
            }
            HttpError::Unreachable(m) => {
                Failure::Unreachable(format!("{platform} could not be reached for {what}: {m}"))
            }
        }
    }
}

/// Where an execution is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunState {
    /// The platform's status, as sent.
    pub status: String,
    /// Whether it has ended, and how.
    pub phase: Phase,
}

/// Running, or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Anything not known to be terminal (including statuses not documented).
    Running,
    /// Ended successfully.
    Succeeded,
    /// Ended in another terminal status.
    Failed,
}

/// Whether a cancel request was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelAck {
    /// The platform accepted it.
    Accepted,
    /// The execution had already ended.
    AlreadyEnded,
    /// The platform has no way to cancel.
    Unsupported,
}

/// One platform's API, as the wait loop uses it. Implementations are shared between the
/// worker thread and the signal handler's clean-up, hence `Send + Sync` and `&self`.
pub trait Platform: Send + Sync {
    /// Which platform.
    fn kind(&self) -> PlatformKind;
    /// Authenticate and resolve names (e.g. the project) before anything is triggered.
    fn prepare(&self, budget: Budget, report: &mut RunReport) -> Result<(), Failure>;
    /// Dry run: check that what would be triggered exists; lines saying what would be sent.
    fn check(&self, budget: Budget) -> Result<Vec<String>, Failure>;
    /// Trigger at most once (handling conflicts and lost replies); the execution id.
    fn trigger(
        &self,
        ctx: &crate::orchestrate::Waiter<'_>,
        report: &mut RunReport,
    ) -> Result<String, Failure>;
    /// The execution's current state.
    fn status(&self, id: &str, budget: Budget) -> Result<RunState, Failure>;
    /// After it ended (or when giving up): details and steps into `report`.
    fn collect(&self, id: &str, budget: Budget, report: &mut RunReport) -> Result<(), Failure>;
    /// Ask the platform to cancel.
    fn cancel(&self, id: &str, budget: Budget) -> Result<CancelAck, Failure>;
    /// Whether the platform can cancel at all. When it cannot, a timeout or a signal says
    /// that the execution goes on instead of announcing a cancel.
    fn can_cancel(&self) -> bool {
        true
    }
}
