//! Inputs → a validated [`Config`]. Every check happens here, before any request: a bad
//! input becomes an [`InputErrors`] naming each input, its value (never a secret's) and
//! what is accepted. The environment is read through a lookup function, so tests never
//! touch the process environment.
//!
//! Here: the [`Config`] type, the input errors and [`from_lookup`] with the common inputs.
//! Reading one input is in `config/reader.rs`, the CA bundle in `config/ca_bundle.rs`,
//! each platform's inputs in `config/matillion.rs` and `config/datalab.rs`, several
//! pipelines in `config/fleet.rs`, `publish` and `promote` in `config/artifact.rs`, the
//! execution `wait` and `status` follow in `config/attach.rs`.

use crate::inputs::{self, Scope};
use crate::model::{PlatformKind, RunReport};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub(crate) mod artifact;
mod attach;
mod ca_bundle;
mod datalab;
mod fleet;
pub(crate) mod load;
mod matillion;
mod reader;

pub(crate) use attach::{Attach, Purpose};
pub(crate) use ca_bundle::CaBundle;
pub(crate) use datalab::{DatalabConfig, DatalabInput};
pub(crate) use fleet::{Fleet, MAX_PIPELINES};
pub(crate) use matillion::{MatillionAuth, MatillionConfig, OnConflict, ProjectRef};
use reader::{Reader, show};

/// Default OAuth token endpoint.
pub(crate) const DEFAULT_TOKEN_URL: &str = "https://id.core.matillion.com/oauth/dpc/token";
/// Default Datalab base URL.
pub(crate) const DEFAULT_DATALAB_URL: &str = "https://www.datalab.to";
/// `timeout` on GitLab, when not given, is the job's timeout less this margin.
pub(crate) const GITLAB_TIMEOUT_MARGIN: Duration = Duration::from_secs(60);

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// What to run, on which platform.
    pub(crate) platform: PlatformConfig,
    /// Wait for the run to end (`false`: trigger and exit).
    pub(crate) wait: bool,
    /// The overall deadline for triggering and waiting.
    pub(crate) timeout: Duration,
    /// Where `timeout` came from (for messages).
    pub(crate) timeout_source: TimeoutSource,
    /// First wait between status polls.
    pub poll_interval: Duration,
    /// Largest wait between status polls.
    pub max_poll_interval: Duration,
    /// Cancel the execution when the timeout passes.
    pub(crate) cancel_on_timeout: bool,
    /// Log the steps that end while waiting (`progress`).
    pub(crate) progress: bool,
    /// Check everything, trigger nothing.
    pub(crate) dry_run: bool,
    /// Report files asked for.
    pub(crate) files: ReportFiles,
    /// For `cancel` mode: the execution id given as an input.
    pub(crate) execution_id: Option<String>,
    /// Root certificates (DER) to trust instead of the bundled ones, from `ca-bundle` or
    /// `SSL_CERT_FILE`.
    pub(crate) ca_bundle: Option<CaBundle>,
    /// Several pipelines (Matillion), each run as a [`Config`] of its own
    /// ([`Config::runs`]); `None` for one pipeline.
    pub(crate) fleet: Option<Fleet>,
    /// `wait` and `status`: the execution to follow instead of triggering one.
    pub(crate) attach: Option<Attach>,
    /// The request budget: the most requests a minute (`rate-limit`, else the platform's
    /// documented limit).
    pub(crate) rate_limit: u32,
}
/// Where the timeout came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TimeoutSource {
    /// The `timeout` input.
    Input,
    /// GitLab's `CI_JOB_TIMEOUT` (`job`), less a margin.
    GitLabJob {
        /// The job's timeout.
        job: Duration,
    },
    /// The built-in default.
    Default,
}

/// Report files to write.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReportFiles {
    /// GitLab dotenv report.
    pub(crate) dotenv: Option<PathBuf>,
    /// JUnit XML.
    pub(crate) junit: Option<PathBuf>,
    /// JSON result.
    pub(crate) result: Option<PathBuf>,
}

/// The platform and everything specific to it.
#[derive(Debug, Clone)]
pub(crate) enum PlatformConfig {
    /// Matillion DPC.
    Matillion(MatillionConfig),
    /// Datalab pipelines.
    Datalab(DatalabConfig),
}

impl Config {
    /// The effective timeout and where it came from, for the log (a GitLab user must be
    /// able to see that the run will be cancelled before the job is killed).
    pub(crate) fn timeout_line(&self) -> String {
        let t = humantime::format_duration(self.timeout);
        match &self.timeout_source {
            TimeoutSource::Input => format!("timeout {t} (input 'timeout')"),
            TimeoutSource::GitLabJob { job } => format!(
                "timeout {t} (GitLab CI_JOB_TIMEOUT {}, less a margin to cancel the run cleanly)",
                humantime::format_duration(*job)
            ),
            TimeoutSource::Default => format!("timeout {t} (the default)"),
        }
    }

    /// One config per pipeline to run: this one alone, or one for each of [`Config::fleet`]
    /// (each without a fleet, with its entry's pipeline and settings).
    pub(crate) fn runs(&self) -> Vec<Config> {
        match (&self.fleet, &self.platform) {
            (Some(f), PlatformConfig::Matillion(m)) => f
                .entries
                .iter()
                .map(|run| Config {
                    platform: PlatformConfig::Matillion(MatillionConfig {
                        run: run.clone(),
                        ..m.clone()
                    }),
                    fleet: None,
                    ..self.clone()
                })
                .collect(),
            _ => vec![self.clone()],
        }
    }

    /// Warnings about the configuration as a whole, for the start of the log: a fixed
    /// `access-token` with a timeout longer than such a token usually lives; inputs only a
    /// trigger uses, given to `wait` or `status`.
    pub(crate) fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let (Some(_), PlatformConfig::Matillion(m)) = (&self.attach, &self.platform) {
            let unused: Vec<&str> = [
                ("variables", !m.variables.is_empty()),
                ("grid-variables", !m.grid_variables.is_empty()),
                ("version", m.version.is_some()),
                ("agent-id", m.agent_id.is_some()),
                ("execution-tag", m.execution_tag.is_some()),
            ]
            .into_iter()
            .filter_map(|(id, given)| given.then_some(id))
            .collect();
            if !unused.is_empty() {
                out.push(format!(
                    "input(s) {} only shape a trigger, and this command sends none: not used",
                    unused.join(", ")
                ));
            }
        }
        if let PlatformConfig::Matillion(m) = &self.platform {
            if matches!(m.auth, MatillionAuth::Token(_))
                && self.wait
                && !self.dry_run
                && self.timeout > crate::auth::FIXED_TOKEN_LIFETIME
            {
                out.push(format!(
                    "the timeout is {} but {}",
                    humantime::format_duration(self.timeout),
                    crate::auth::FIXED_TOKEN_NOTE
                ));
            }
        }
        out
    }

    /// The pipeline, whatever the platform.
    pub(crate) fn pipeline(&self) -> &str {
        match &self.platform {
            PlatformConfig::Matillion(m) => &m.pipeline,
            PlatformConfig::Datalab(d) => &d.pipeline,
        }
    }
}

impl RunReport {
    /// The report before anything is sent: what `cfg` asks for.
    pub fn for_config(cfg: &Config) -> Self {
        match &cfg.platform {
            PlatformConfig::Matillion(m) => {
                let mut r = RunReport::new(PlatformKind::Matillion, m.pipeline.clone());
                r.project = Some(m.project.to_string());
                r.environment = Some(m.environment.clone());
                r.version = m.version.clone();
                r.execution_tag = m.execution_tag.clone();
                r.overridden_variables = m
                    .variables
                    .keys()
                    .chain(m.grid_variables.keys())
                    .cloned()
                    .collect();
                r
            }
            PlatformConfig::Datalab(d) => {
                let mut r = RunReport::new(PlatformKind::Datalab, d.pipeline.clone());
                r.version = d.version.clone();
                r
            }
        }
    }
}

/// One bad input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// The input's id.
    pub(crate) input: &'static str,
    /// A sentence: the bad value (never a secret) and what is accepted.
    pub(crate) message: String,
}

/// Every bad input found (all are reported at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputErrors(pub Vec<InputError>);

impl fmt::Display for InputErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "input '{}': {}", e.input, e.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for InputErrors {}

/// Build and validate the configuration from inputs read through `lookup`.
pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config, InputErrors> {
    from_lookup_for(lookup, Purpose::Run)
}

/// [`from_lookup`] for `purpose`: `wait` and `status` need no trigger's inputs (a pipeline
/// only to find its execution, no document), and cancel on timeout only when
/// `cancel-on-timeout` is given `true`.
pub(crate) fn from_lookup_for(
    lookup: &dyn Fn(&str) -> Option<String>,
    purpose: Purpose,
) -> Result<Config, InputErrors> {
    let mut r = Reader {
        lookup,
        errors: Vec::new(),
    };
    let scope = platform_scope(&mut r);
    let wait = r.boolean("wait").unwrap_or(true);
    // A run this step did not start is cancelled only when asked explicitly (the
    // default, `true`, is for the runs it starts).
    let explicit = purpose == Purpose::Run || r.raw("cancel-on-timeout").is_some();
    let cancel_on_timeout = r.boolean("cancel-on-timeout").unwrap_or(true) && explicit;
    let dry_run = r.boolean("dry-run").unwrap_or(false);
    let progress = r.boolean("progress").unwrap_or(true);
    // Applied by the logger, which starts before the inputs are checked: only checked here.
    let _ = r.boolean("log-timestamps");
    let (timeout, timeout_source) = timeout(&mut r);
    let (poll_interval, max_poll_interval) = poll_intervals(&mut r);
    let files = ReportFiles {
        dotenv: r.path("dotenv-file"),
        junit: r.path("junit-file"),
        result: r.path("result-file"),
    };
    let execution_id = r.string("execution-id");
    let ca_bundle = ca_bundle(&mut r);
    let rate_limit = rate_limit(&mut r, scope);
    let attach = scope.and_then(|scope| {
        let given = attach::TriggerOnly { dry_run, wait };
        attach::read(&mut r, purpose, scope, given)
    });
    // Following an execution by id needs neither its pipeline nor a document (and with
    // neither an id nor a pipeline, the one error says both).
    let given = r.raw("pipeline").is_some() || r.raw("pipelines").is_some();
    let by_id = attach.as_ref().is_some_and(|a| a.id.is_some() || !given);
    let (platform, fleet) = match scope {
        Some(Scope::Datalab) => (
            datalab::datalab(&mut r, attach.is_some()).map(PlatformConfig::Datalab),
            None,
        ),
        Some(_) => match matillion::matillion(&mut r, by_id) {
            Some((m, fleet)) => (Some(PlatformConfig::Matillion(m)), fleet),
            None => (None, None),
        },
        None => (None, None),
    };
    match (platform, timeout, poll_interval, max_poll_interval) {
        (Some(platform), Some(timeout), Some(poll_interval), Some(max_poll_interval))
            if r.errors.is_empty() =>
        {
            Ok(Config {
                platform,
                wait,
                timeout,
                timeout_source,
                poll_interval,
                max_poll_interval,
                cancel_on_timeout,
                progress,
                dry_run,
                files,
                execution_id,
                ca_bundle,
                fleet,
                attach,
                rate_limit,
            })
        }
        _ => Err(InputErrors(r.errors)),
    }
}

/// `platform`: which inputs apply. An input of the other platform is an error, whoever
/// gave it: `action.yml` passes no defaults, so the runner never sets one that was not
/// asked for.
fn platform_scope(r: &mut Reader<'_>) -> Option<Scope> {
    let platform_name = r.get("platform").unwrap_or_default().to_ascii_lowercase();
    let scope = match platform_name.as_str() {
        "matillion" => Scope::Matillion,
        "datalab" => Scope::Datalab,
        _ => {
            let shown = r.get("platform").unwrap_or_default();
            r.err(
                "platform",
                format!("got {}; expected `matillion` or `datalab`.", show(&shown)),
            );
            return None;
        }
    };
    for i in inputs::INPUTS {
        if i.scope == Scope::Common || i.scope == scope {
            continue;
        }
        if let Some(g) = inputs::read(i, r.lookup) {
            r.err(
                i.id,
                format!(
                    "does not apply to platform '{platform_name}' (set by {}); remove it or choose another platform.",
                    g.from
                ),
            );
        }
    }
    Some(scope)
}

/// `timeout`, else (on GitLab) the job's timeout less a margin, else the default; and
/// where it came from.
fn timeout(r: &mut Reader<'_>) -> (Option<Duration>, TimeoutSource) {
    if r.raw("timeout").is_some() {
        (r.duration("timeout"), TimeoutSource::Input)
    } else if let Some((t, job)) = gitlab_job_timeout(r.lookup) {
        (Some(t), TimeoutSource::GitLabJob { job })
    } else {
        (r.duration("timeout"), TimeoutSource::Default)
    }
}

/// `poll-interval` and `max-poll-interval`, the second at least the first.
fn poll_intervals(r: &mut Reader<'_>) -> (Option<Duration>, Option<Duration>) {
    let poll_interval = r.duration("poll-interval");
    let max_poll_interval = r.duration("max-poll-interval");
    if let (Some(p), Some(m)) = (poll_interval, max_poll_interval) {
        if m < p {
            r.err(
                "max-poll-interval",
                format!(
                    "is {} but poll-interval is {}; it must be at least poll-interval.",
                    humantime::format_duration(m),
                    humantime::format_duration(p)
                ),
            );
        }
    }
    (poll_interval, max_poll_interval)
}

/// `rate-limit`: a whole number of requests a minute, from 1 to
/// [`inputs::MAX_RATE_LIMIT`]; by default the platform's documented limit.
fn rate_limit(r: &mut Reader<'_>, scope: Option<Scope>) -> u32 {
    let default = match scope {
        Some(Scope::Datalab) => inputs::DEFAULT_RATE_LIMIT_DATALAB,
        _ => inputs::DEFAULT_RATE_LIMIT_MATILLION,
    };
    let Some(given) = r.raw("rate-limit") else {
        return default;
    };
    match given.value.parse::<u32>() {
        Ok(n) if (1..=inputs::MAX_RATE_LIMIT).contains(&n) => n,
        _ => {
            r.err(
                "rate-limit",
                format!(
                    "got {}; expected a whole number of requests a minute, from 1 to {} (Matillion documents {}, Datalab {}; an account on Matillion's older limit sets 60).",
                    show(&given.value),
                    inputs::MAX_RATE_LIMIT,
                    inputs::DEFAULT_RATE_LIMIT_MATILLION,
                    inputs::DEFAULT_RATE_LIMIT_DATALAB,
                ),
            );
            default
        }
    }
}

/// `ca-bundle`, else `SSL_CERT_FILE`: a PEM file of root certificates, named here and read
/// when first needed ([`CaBundle::certs`]).
fn ca_bundle(r: &mut Reader<'_>) -> Option<CaBundle> {
    match r.raw("ca-bundle") {
        Some(g) => Some(CaBundle::new(g.value, "input 'ca-bundle'")),
        None => {
            let v = (r.lookup)("SSL_CERT_FILE")?;
            let v = v.trim();
            (!v.is_empty()).then(|| CaBundle::new(v, "SSL_CERT_FILE"))
        }
    }
}

/// On GitLab, a timeout a little under the job's own (`CI_JOB_TIMEOUT`, seconds).
/// Returns the timeout and the job's timeout.
fn gitlab_job_timeout(lookup: &dyn Fn(&str) -> Option<String>) -> Option<(Duration, Duration)> {
    if lookup("GITLAB_CI").is_none_or(|v| v.trim() != "true") {
        return None;
    }
    let secs: u64 = lookup("CI_JOB_TIMEOUT")?.trim().parse().ok()?;
    let job = Duration::from_secs(secs);
    // A minute under the job's timeout, or 90% of it for very short jobs.
    let t = job
        .checked_sub(GITLAB_TIMEOUT_MARGIN)
        .filter(|t| *t >= job / 2)
        .unwrap_or(job * 9 / 10);
    (!t.is_zero()).then_some((t, job))
}

#[cfg(test)]
mod tests;
