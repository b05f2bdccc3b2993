//! The inputs of `publish` and `promote`: the connection and project as for a run, the
//! environment (the target), the version (for `publish`, by default the CI commit cut to
//! [`VERSION_FROM_COMMIT`] characters), `artifact-dir` or `from-environment`, and the
//! commit and branch the CI names. Every check happens here, before any request; a value
//! that goes into an HTTP header must be visible ASCII.

use super::matillion::RunSpec;
use super::reader::{Reader, show};
use super::{
    Config, InputError, InputErrors, MatillionConfig, OnConflict, PlatformConfig, ReportFiles,
    TimeoutSource,
};
use std::path::PathBuf;
use std::time::Duration;

/// `publish`'s default version is the CI commit cut to this many characters.
pub(crate) const VERSION_FROM_COMMIT: usize = 12;
/// How long `publish` and `promote` may take in all (retries included) when `timeout` is
/// not given.
pub(crate) const DEFAULT_ARTIFACT_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// The longest version name accepted.
const MAX_VERSION_CHARS: usize = 255;

/// Which artifact command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArtifactCommand {
    /// Publish `artifact-dir` as a new version in `environment`.
    Publish,
    /// Promote a version from `from-environment` to `environment`.
    Promote,
}

impl ArtifactCommand {
    /// The command's name, as typed.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ArtifactCommand::Publish => "publish",
            ArtifactCommand::Promote => "promote",
        }
    }
}

/// The validated inputs of `publish` or `promote`.
#[derive(Debug, Clone)]
pub(crate) struct ArtifactConfig {
    /// Which command.
    pub(crate) command: ArtifactCommand,
    /// The connection, project and (target) environment, the timeout, `dry-run`, the
    /// report files and the CA bundle, in the shape every Matillion client is built from
    /// (its pipeline is empty: no pipeline is run).
    pub(crate) base: Config,
    /// The version to create or promote.
    pub(crate) version: String,
    /// Where the version came from, for the log ("input 'version'", "GITHUB_SHA").
    pub(crate) version_from: String,
    /// `publish`: the directory to send.
    pub(crate) dir: PathBuf,
    /// `publish`: the commit (`commitHash`), from the CI's variables.
    pub(crate) commit: Option<String>,
    /// `publish`: the branch (`branch`), from the CI's variables.
    pub(crate) branch: Option<String>,
    /// `promote`: the source environment.
    pub(crate) from_environment: String,
    /// Warnings for the start of the log (a CI value left out of the headers).
    pub(crate) warnings: Vec<String>,
}

impl ArtifactConfig {
    /// The Matillion part of [`ArtifactConfig::base`].
    pub(crate) fn matillion(&self) -> Option<&MatillionConfig> {
        match &self.base.platform {
            PlatformConfig::Matillion(m) => Some(m),
            PlatformConfig::Datalab(_) => None,
        }
    }

    /// The target environment.
    pub(crate) fn environment(&self) -> &str {
        self.matillion()
            .map(|m| m.environment.as_str())
            .unwrap_or_default()
    }
}

/// Whether `v` can be sent as an HTTP header value as it is: visible ASCII and spaces.
pub(crate) fn header_safe(v: &str) -> bool {
    v.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// The first CI variable of `names` that is set and not empty, with its name.
fn ci_var(
    lookup: &dyn Fn(&str) -> Option<String>,
    names: &[&'static str],
) -> Option<(&'static str, String)> {
    names.iter().find_map(|n| {
        let v = lookup(n)?;
        let v = v.trim();
        (!v.is_empty()).then(|| (*n, v.to_string()))
    })
}

/// A CI value for a header: kept when header-safe, else left out with a warning.
fn ci_header(
    lookup: &dyn Fn(&str) -> Option<String>,
    names: &[&'static str],
    header: &str,
    warnings: &mut Vec<String>,
) -> Option<String> {
    let (name, v) = ci_var(lookup, names)?;
    if header_safe(&v) {
        return Some(v);
    }
    warnings.push(format!(
        "{name} is {} and holds characters an HTTP header cannot carry (only visible ASCII): `{header}` is not sent.",
        show(&v)
    ));
    None
}

/// A name that goes into a header: required, visible ASCII, at most 255 characters.
fn header_name(r: &mut Reader<'_>, id: &'static str, what: &str) -> String {
    let v = r.required(id, what);
    if v.is_empty() {
        return v;
    }
    if !header_safe(&v) {
        r.err(
            id,
            format!(
                "got {}; it is sent in an HTTP header, which carries visible ASCII only (no accents, no line breaks).",
                show(&v)
            ),
        );
    } else if v.chars().count() > MAX_VERSION_CHARS {
        r.err(id, "is longer than 255 characters.");
    }
    v
}

/// `version`, or for `publish` the CI commit cut to [`VERSION_FROM_COMMIT`] characters.
fn version(r: &mut Reader<'_>, command: ArtifactCommand) -> (String, String) {
    if r.raw("version").is_some() {
        let v = header_name(r, "version", "the artifact version");
        return (v, "input 'version'".into());
    }
    let commit = ci_var(r.lookup, &["GITHUB_SHA", "CI_COMMIT_SHA"]);
    match (command, commit) {
        (ArtifactCommand::Publish, Some((name, sha))) if header_safe(&sha) => {
            let v: String = sha.chars().take(VERSION_FROM_COMMIT).collect();
            (
                v,
                format!("{name}, cut to {VERSION_FROM_COMMIT} characters"),
            )
        }
        (ArtifactCommand::Publish, _) => {
            r.err(
                "version",
                "is required: give the version to publish (no CI commit was found in GITHUB_SHA or CI_COMMIT_SHA to name it after).",
            );
            (String::new(), String::new())
        }
        (ArtifactCommand::Promote, _) => {
            r.err("version", "is required: give the version to promote.");
            (String::new(), String::new())
        }
    }
}

/// The run-shaped part: connection, project, environment, timeout, files, CA bundle.
fn base(r: &mut Reader<'_>, command: ArtifactCommand, dry_run: bool) -> Option<Config> {
    let (base_url, auth) = super::matillion::connection(r);
    let project = super::matillion::project(r);
    let what = match command {
        ArtifactCommand::Publish => "the environment to publish to",
        ArtifactCommand::Promote => "the environment to promote to",
    };
    let environment = header_name(r, "environment", what);
    let timeout = match r.raw("timeout") {
        Some(_) => r.duration("timeout"),
        None => Some(DEFAULT_ARTIFACT_TIMEOUT),
    };
    let rate_limit = super::rate_limit(r, Some(crate::inputs::Scope::Matillion));
    let m = MatillionConfig {
        base_url: base_url?,
        auth: auth?,
        project,
        run: RunSpec {
            environment,
            ..RunSpec::default()
        },
        on_conflict: OnConflict::Fail,
    };
    Some(Config {
        platform: PlatformConfig::Matillion(m),
        wait: true,
        timeout: timeout?,
        timeout_source: TimeoutSource::Input,
        poll_interval: Duration::from_secs(5),
        max_poll_interval: Duration::from_secs(30),
        cancel_on_timeout: false,
        progress: false,
        dry_run,
        files: ReportFiles {
            dotenv: r.path("dotenv-file"),
            junit: None,
            result: r.path("result-file"),
        },
        execution_id: None,
        ca_bundle: super::ca_bundle(r),
        fleet: None,
        attach: None,
        rate_limit,
    })
}

/// Build and validate the inputs of `command` from `lookup`.
pub(crate) fn from_lookup(
    command: ArtifactCommand,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<ArtifactConfig, InputErrors> {
    let mut r = Reader {
        lookup,
        errors: Vec::new(),
    };
    let platform = r.get("platform").unwrap_or_default();
    if !platform.eq_ignore_ascii_case("matillion") {
        r.err(
            "platform",
            format!(
                "got {}; `{}` publishes Matillion artifacts: give `matillion` (the default).",
                show(&platform),
                command.name()
            ),
        );
    }
    let dry_run = r.boolean("dry-run").unwrap_or(false);
    let _ = r.boolean("log-timestamps");
    let base = base(&mut r, command, dry_run);
    let (version, version_from) = version(&mut r, command);
    let mut warnings = Vec::new();
    let (dir, commit, branch, from_environment) = match command {
        ArtifactCommand::Publish => (
            r.path("artifact-dir").unwrap_or_else(|| PathBuf::from(".")),
            ci_header(
                lookup,
                &["GITHUB_SHA", "CI_COMMIT_SHA"],
                "commitHash",
                &mut warnings,
            ),
            ci_header(
                lookup,
                &["GITHUB_REF_NAME", "CI_COMMIT_REF_NAME"],
                "branch",
                &mut warnings,
            ),
            String::new(),
        ),
        ArtifactCommand::Promote => {
            let from = header_name(
                &mut r,
                "from-environment",
                "the environment to promote from",
            );
            (PathBuf::new(), None, None, from)
        }
    };
    if let (Some(b), ArtifactCommand::Promote) = (&base, command) {
        if let PlatformConfig::Matillion(m) = &b.platform {
            if !from_environment.is_empty() && m.environment == from_environment {
                r.err(
                    "from-environment",
                    format!(
                        "is {} like `environment`; promote copies a version from one environment to another.",
                        show(&from_environment)
                    ),
                );
            }
        }
    }
    match base {
        Some(base) if r.errors.is_empty() => Ok(ArtifactConfig {
            command,
            base,
            version,
            version_from,
            dir,
            commit,
            branch,
            from_environment,
            warnings,
        }),
        _ => Err(InputErrors(r.errors)),
    }
}

/// An input error of its own (used by `publish` for `artifact-dir`, checked once the
/// directory is read).
pub(crate) fn input_error(input: &'static str, message: String) -> InputErrors {
    InputErrors(vec![InputError { input, message }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::env;

    const BASE: &[(&str, &str)] = &[
        ("MATILLION_API_URL", "http://127.0.0.1:9/dpc"),
        ("MATILLION_ACCESS_TOKEN", "t0k3n"),
        ("MATILLION_PROJECT", "Analytics"),
        ("MATILLION_ENVIRONMENT", "test"),
    ];

    fn with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        BASE.iter().chain(extra).copied().collect()
    }

    fn errors(command: ArtifactCommand, pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        match from_lookup(command, &env(pairs)) {
            Ok(c) => panic!("accepted: {c:?}"),
            Err(e) => {
                e.0.into_iter()
                    .map(|e| (e.input.into(), e.message))
                    .collect()
            }
        }
    }

    #[test]
    fn publish_names_the_version_after_the_ci_commit() {
        let pairs = with(&[
            ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
            ("GITHUB_REF_NAME", "main"),
        ]);
        let c = from_lookup(ArtifactCommand::Publish, &env(&pairs)).expect("valid");
        assert_eq!(c.version, "0123456789ab");
        assert_eq!(c.version_from, "GITHUB_SHA, cut to 12 characters");
        assert_eq!(
            c.commit.as_deref(),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
        assert_eq!(c.branch.as_deref(), Some("main"));
        assert_eq!(c.dir, PathBuf::from("."));
        assert_eq!(c.environment(), "test");
        assert_eq!(c.base.timeout, DEFAULT_ARTIFACT_TIMEOUT);
        let gitlab = with(&[
            ("CI_COMMIT_SHA", "fedcba9876543210"),
            ("CI_COMMIT_REF_NAME", "dév"),
        ]);
        let c = from_lookup(ArtifactCommand::Publish, &env(&gitlab)).expect("valid");
        assert_eq!(c.version, "fedcba987654");
        assert_eq!(c.branch, None);
        assert_eq!(
            c.warnings,
            [
                "CI_COMMIT_REF_NAME is 'dév' and holds characters an HTTP header cannot carry (only visible ASCII): `branch` is not sent."
            ]
        );
    }

    #[test]
    fn without_a_version_or_a_commit_publish_asks_for_one() {
        assert_eq!(
            errors(ArtifactCommand::Publish, BASE),
            [(
                "version".to_string(),
                "is required: give the version to publish (no CI commit was found in GITHUB_SHA or CI_COMMIT_SHA to name it after).".to_string()
            )]
        );
    }

    #[test]
    fn promote_needs_a_source_a_version_and_two_environments() {
        let e = errors(ArtifactCommand::Promote, BASE);
        let inputs: Vec<&str> = e.iter().map(|(i, _)| i.as_str()).collect();
        assert_eq!(inputs, ["version", "from-environment"]);
        let same = with(&[
            ("MATILLION_VERSION", "v1"),
            ("MATILLION_FROM_ENVIRONMENT", "test"),
        ]);
        assert_eq!(
            errors(ArtifactCommand::Promote, &same),
            [(
                "from-environment".to_string(),
                "is 'test' like `environment`; promote copies a version from one environment to another.".to_string()
            )]
        );
        let ok = with(&[
            ("MATILLION_VERSION", "v1"),
            ("MATILLION_FROM_ENVIRONMENT", "dev"),
        ]);
        let c = from_lookup(ArtifactCommand::Promote, &env(&ok)).expect("valid");
        assert_eq!(
            (c.from_environment.as_str(), c.version.as_str()),
            ("dev", "v1")
        );
    }

    #[test]
    fn header_values_must_be_visible_ascii() {
        let bad = with(&[("MATILLION_VERSION", "v1\nx: y")]);
        let e = errors(ArtifactCommand::Publish, &bad);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0, "version");
        assert!(
            e[0].1
                .starts_with("got 'v1 x: y'; it is sent in an HTTP header"),
            "{}",
            e[0].1
        );
        let platform = with(&[
            ("MATILLION_VERSION", "v1"),
            ("MATILLION_PLATFORM", "datalab"),
        ]);
        assert_eq!(errors(ArtifactCommand::Publish, &platform)[0].0, "platform");
    }
}
