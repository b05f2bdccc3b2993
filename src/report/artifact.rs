//! What `publish` and `promote` did ([`ArtifactReport`]), and its reports but the job
//! summary's section (in `summary/artifact.rs`): the step outputs `version` and
//! `ignored-resources`, the GitLab dotenv variables, and the JSON result.
//!
//! JSON shape (`"schema": "pipeline-run/artifact/v1"`; fields marked ? are left out when
//! unknown):
//!
//! ```text
//! { "schema", "command" ("publish"|"promote"), "project"?, "project_id"?, "environment",
//!   "from_environment"?, "version", "version_from", "commit"?, "branch"?,
//!   "outcome" { "kind": "published"|"already-published"|"promoted"|"already-promoted"|
//!               "dry-run"|"refused"|"interrupted", "reason"? },
//!   "files" [{ "name", "bytes" }], "bytes", "left_out" [{ "name", "why" }],
//!   "ignored_resources" [{ "name", "reason" }], "notes" [strings] }
//! ```

use super::dotenv;
use crate::clock::Signal;
use serde::Serialize;

/// The schema identifier of the JSON result of `publish` and `promote`.
pub(crate) const SCHEMA: &str = "pipeline-run/artifact/v1";

/// How `publish` or `promote` ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub(crate) enum ArtifactOutcome {
    /// The version was created.
    Published,
    /// The version was there already, with the same commit.
    AlreadyPublished,
    /// The version was promoted.
    Promoted,
    /// The version was in the target already.
    AlreadyPromoted,
    /// Nothing was sent.
    DryRun,
    /// The platform refused, could not be reached, or holds a conflicting version.
    Refused {
        /// Why, a sentence.
        reason: String,
    },
    /// A signal arrived.
    Interrupted {
        /// Which.
        #[serde(skip)]
        signal: Signal,
    },
}

impl ArtifactOutcome {
    /// The machine name (`kind` in the JSON result, `PIPELINE_RUN_OUTCOME`).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            ArtifactOutcome::Published => "published",
            ArtifactOutcome::AlreadyPublished => "already-published",
            ArtifactOutcome::Promoted => "promoted",
            ArtifactOutcome::AlreadyPromoted => "already-promoted",
            ArtifactOutcome::DryRun => "dry-run",
            ArtifactOutcome::Refused { .. } => "refused",
            ArtifactOutcome::Interrupted { .. } => "interrupted",
        }
    }

    /// Whether it is a success (exit 0).
    pub(crate) fn succeeded(&self) -> bool {
        !matches!(
            self,
            ArtifactOutcome::Refused { .. } | ArtifactOutcome::Interrupted { .. }
        )
    }
}

/// A file sent (or, in a dry run, that would be).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct SentFile {
    /// The part's name (the path relative to `artifact-dir`).
    pub(crate) name: String,
    /// Its size.
    pub(crate) bytes: u64,
}

/// A file left out by `publish`, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct LeftOutFile {
    /// Its path relative to `artifact-dir`.
    pub(crate) name: String,
    /// Why.
    pub(crate) why: String,
}

/// A resource the platform left out of the artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct IgnoredResource {
    /// Its name, as the platform sent it (empty when it sent none).
    pub(crate) name: String,
    /// Why (empty when it did not say).
    pub(crate) reason: String,
}

/// What `publish` or `promote` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ArtifactReport {
    /// `publish` or `promote`.
    pub(crate) command: &'static str,
    /// The project as given, with its id when looked up by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) project: Option<String>,
    /// The project's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) project_id: Option<String>,
    /// The (target) environment.
    pub(crate) environment: String,
    /// `promote`: the source environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) from_environment: Option<String>,
    /// The version.
    pub(crate) version: String,
    /// Where the version came from.
    pub(crate) version_from: String,
    /// `publish`: the commit sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) commit: Option<String>,
    /// `publish`: the branch sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) branch: Option<String>,
    /// How it ended.
    pub(crate) outcome: ArtifactOutcome,
    /// `publish`: the files sent (or that would be).
    pub(crate) files: Vec<SentFile>,
    /// `publish`: their bytes.
    pub(crate) bytes: u64,
    /// `publish`: the files left out.
    pub(crate) left_out: Vec<LeftOutFile>,
    /// `publish`: what the platform left out of the artifact.
    pub(crate) ignored_resources: Vec<IgnoredResource>,
    /// Things worth knowing, one sentence each.
    pub(crate) notes: Vec<String>,
}

/// The names of the step outputs of `publish` and `promote` (after a run's, in
/// `action.yml`).
pub const OUTPUT_NAMES: [&str; 2] = ["version", "ignored-resources"];

/// The step outputs: `version` and `ignored-resources` (their count).
pub(crate) fn output_values(r: &ArtifactReport) -> Vec<(&'static str, String)> {
    let [version, ignored] = OUTPUT_NAMES;
    vec![
        (version, crate::text::one_line(&r.version)),
        (ignored, r.ignored_resources.len().to_string()),
    ]
}

/// The GitLab dotenv report: `PIPELINE_RUN_VERSION`, `PIPELINE_RUN_ENVIRONMENT`,
/// `PIPELINE_RUN_IGNORED_RESOURCES`, `PIPELINE_RUN_OUTCOME` (values cleaned as for a run).
pub(crate) fn render_dotenv(r: &ArtifactReport) -> String {
    let fields = [
        ("PIPELINE_RUN_VERSION", r.version.clone()),
        ("PIPELINE_RUN_ENVIRONMENT", r.environment.clone()),
        (
            "PIPELINE_RUN_IGNORED_RESOURCES",
            r.ignored_resources.len().to_string(),
        ),
        ("PIPELINE_RUN_OUTCOME", r.outcome.name().to_string()),
    ];
    let mut out = String::new();
    for (key, value) in fields {
        let value = dotenv::clean(&value, 300);
        if !value.is_empty() {
            out.push_str(&format!("{key}={value}\n"));
        }
    }
    out
}

#[derive(Serialize)]
struct Document<'a> {
    schema: &'static str,
    #[serde(flatten)]
    report: &'a ArtifactReport,
}

/// The JSON result (pretty-printed, no trailing newline).
pub(crate) fn render_json(r: &ArtifactReport) -> String {
    serde_json::to_string_pretty(&Document {
        schema: SCHEMA,
        report: r,
    })
    .unwrap_or_else(|e| {
        format!(
            "{{\"schema\": \"{SCHEMA}\", \"error\": {:?}}}",
            e.to_string()
        )
    })
}

/// A report for tests.
#[cfg(test)]
pub(crate) fn sample() -> ArtifactReport {
    ArtifactReport {
        command: "publish",
        project: Some("Analytics (4d5e)".into()),
        project_id: Some("4d5e".into()),
        environment: "test".into(),
        from_environment: None,
        version: "0123456789ab".into(),
        version_from: "GITHUB_SHA, cut to 12 characters".into(),
        commit: Some("0123456789abcdef".into()),
        branch: Some("main".into()),
        outcome: ArtifactOutcome::Published,
        files: vec![
            SentFile {
                name: "load.orch.yaml".into(),
                bytes: 120,
            },
            SentFile {
                name: "README.md".into(),
                bytes: 30,
            },
        ],
        bytes: 150,
        left_out: vec![LeftOutFile {
            name: "logo.png".into(),
            why: "its content is not UTF-8 text".into(),
        }],
        ignored_resources: vec![IgnoredResource {
            name: "README.md".into(),
            reason: "Unsupported file type".into(),
        }],
        notes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outputs_and_dotenv() {
        let r = sample();
        assert_eq!(
            output_values(&r),
            [
                ("version", "0123456789ab".to_string()),
                ("ignored-resources", "1".to_string())
            ]
        );
        assert_eq!(
            render_dotenv(&r),
            "PIPELINE_RUN_VERSION=0123456789ab\nPIPELINE_RUN_ENVIRONMENT=test\nPIPELINE_RUN_IGNORED_RESOURCES=1\nPIPELINE_RUN_OUTCOME=published\n"
        );
    }

    #[test]
    fn json_shape() {
        let mut r = sample();
        r.outcome = ArtifactOutcome::Refused {
            reason: "no".into(),
        };
        let v: serde_json::Value = serde_json::from_str(&render_json(&r)).expect("json");
        assert_eq!(
            v,
            json!({
                "schema": "pipeline-run/artifact/v1",
                "command": "publish",
                "project": "Analytics (4d5e)",
                "project_id": "4d5e",
                "environment": "test",
                "version": "0123456789ab",
                "version_from": "GITHUB_SHA, cut to 12 characters",
                "commit": "0123456789abcdef",
                "branch": "main",
                "outcome": {"kind": "refused", "reason": "no"},
                "files": [{"name": "load.orch.yaml", "bytes": 120}, {"name": "README.md", "bytes": 30}],
                "bytes": 150,
                "left_out": [{"name": "logo.png", "why": "its content is not UTF-8 text"}],
                "ignored_resources": [{"name": "README.md", "reason": "Unsupported file type"}],
                "notes": []
            })
        );
    }
}
