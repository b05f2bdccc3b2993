//! Artifacts, as the API documents them (`/work/shared/api`, "Artifacts"): create
//! (`POST .../artifacts`, multipart with one text file part per file and the version and
//! environment as headers), details (`GET .../artifacts/details?environmentName=&
//! versionName=`, 404 when there is none) and promotions (`POST .../artifacts/promotions`).
//! Versions are immutable: creating or promoting one that exists answers 409. A file
//! whose name is not a pipeline, a script or a YAML/JSON file is ignored
//! (`ignoredResources`, reason "Unsupported file type"), as the service leaves out what is
//! not an asset; an archive is refused (400).

use super::{Project, Query, problem, problem_with};
use crate::State;
use crate::http::{Request, Response};
use crate::util::{rfc3339_millis, truncate_millis};
use serde_json::{Value, json};
use std::time::SystemTime;

/// The names the simulator takes for assets; anything else is ignored.
const ASSET_SUFFIXES: [&str; 8] = [
    ".orch.yaml",
    ".tran.yaml",
    ".sql",
    ".py",
    ".sh",
    ".yaml",
    ".yml",
    ".json",
];
/// Names refused as archives.
const ARCHIVE_SUFFIXES: [&str; 5] = [".zip", ".tar", ".gz", ".tgz", ".jar"];

/// One file of an artifact, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactFile {
    /// The part's name (the path in the project).
    pub name: String,
    /// The part's `filename`.
    pub filename: Option<String>,
    /// The part's `Content-Type`.
    pub content_type: Option<String>,
    /// The content.
    pub bytes: Vec<u8>,
}

/// An artifact version in one environment, as tests see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactInfo {
    /// The project's id.
    pub project_id: String,
    /// The environment it is in.
    pub environment: String,
    /// `versionName`.
    pub version: String,
    /// `commitHash`, if sent.
    pub commit_hash: Option<String>,
    /// `branch`, if sent.
    pub branch: Option<String>,
    /// The assets it holds (the files not ignored), by name.
    pub assets: Vec<String>,
    /// Every file received, ignored ones included (empty for a seeded version).
    pub files: Vec<ArtifactFile>,
    /// Whether it came by a promotion.
    pub promoted: bool,
    /// When it was created (wall time).
    pub created: SystemTime,
}

impl ArtifactInfo {
    fn details(&self) -> Value {
        json!({
            "details": {
                "versionName": self.version,
                "commitHash": self.commit_hash,
                "branch": self.branch,
                "createdAt": rfc3339_millis(self.created),
                "deployedAt": rfc3339_millis(self.created),
                "enabled": true,
                "provider": "API",
            },
            "assets": self.assets,
        })
    }
}

/// A version to seed in an environment (see `Environment::artifact`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedArtifact {
    /// `versionName`.
    pub version: String,
    /// `commitHash`.
    pub commit_hash: Option<String>,
}

/// The artifacts of the configured environments, at start.
pub(crate) fn seeded(state_projects: &[Project], now: SystemTime) -> Vec<ArtifactInfo> {
    let mut out = Vec::new();
    for p in state_projects {
        for e in &p.environments {
            for a in &e.artifacts {
                out.push(ArtifactInfo {
                    project_id: p.id.clone(),
                    environment: e.name.clone(),
                    version: a.version.clone(),
                    commit_hash: a.commit_hash.clone(),
                    branch: None,
                    assets: Vec::new(),
                    files: Vec::new(),
                    promoted: false,
                    created: truncate_millis(now),
                });
            }
        }
    }
    out
}

/// Whether `version` is an artifact version in `environment` of `project`.
pub(crate) fn has_version(state: &State, project: &str, environment: &str, version: &str) -> bool {
    state
        .lock()
        .artifacts
        .iter()
        .any(|a| a.project_id == project && a.environment == environment && a.version == version)
}

/// Whether `environment` of `project` holds any artifact version.
pub(crate) fn has_any(state: &State, project: &str, environment: &str) -> bool {
    state
        .lock()
        .artifacts
        .iter()
        .any(|a| a.project_id == project && a.environment == environment)
}

fn bad(violations: &[String], instance: &str) -> Response {
    problem_with(400, "Bad Request", "Invalid request", instance, violations)
}

fn no_environment(name: &str, instance: &str) -> Response {
    problem(
        404,
        "Environment not Found",
        &format!("Environment {name} not found"),
        instance,
    )
}

/// The files of a create, or the 400 that refuses them.
fn files_of(req: &Request, instance: &str) -> Result<Vec<ArtifactFile>, Response> {
    let ct = req.header("content-type").unwrap_or_default();
    let parts = crate::multipart::parse(ct, &req.body).map_err(|e| bad(&[e], instance))?;
    if parts.is_empty() {
        return Err(bad(&["at least one file is required".into()], instance));
    }
    let mut violations = Vec::new();
    for p in &parts {
        let lower = p.name.to_ascii_lowercase();
        if p.filename.is_none() {
            violations.push(format!("{}: must be a file", p.name));
        } else if ARCHIVE_SUFFIXES.iter().any(|s| lower.ends_with(s)) {
            violations.push(format!("{}: archives are not supported", p.name));
        } else if p.content_type.as_deref().map(str::trim) != Some("text/plain") {
            violations.push(format!("{}: only text/plain files are accepted", p.name));
        }
    }
    if !violations.is_empty() {
        return Err(bad(&violations, instance));
    }
    Ok(parts
        .into_iter()
        .map(|p| ArtifactFile {
            name: p.name,
            filename: p.filename,
            content_type: p.content_type,
            bytes: p.data,
        })
        .collect())
}

/// `POST /v1/projects/{projectId}/artifacts`.
pub(super) fn create(state: &State, project: &Project, req: &Request, instance: &str) -> Response {
    let header = |n: &str| req.header(n).map(str::trim).filter(|v| !v.is_empty());
    let version = header("versionName");
    let env_name = header("environmentName");
    let mut violations = Vec::new();
    if version.is_none() {
        violations.push("versionName: header is required".to_string());
    }
    if env_name.is_none() {
        violations.push("environmentName: header is required".to_string());
    }
    let (Some(version), Some(env_name)) = (version, env_name) else {
        return bad(&violations, instance);
    };
    if !project.environments.iter().any(|e| e.name == env_name) {
        return no_environment(env_name, instance);
    }
    let files = match files_of(req, instance) {
        Ok(f) => f,
        Err(resp) => return resp,
    };
    if has_version(state, &project.id, env_name, version) {
        return problem(
            409,
            "Conflict",
            &format!("Artifact version {version} already exists in environment {env_name}"),
            instance,
        );
    }
    let (assets, ignored): (Vec<&ArtifactFile>, Vec<&ArtifactFile>) = files.iter().partition(|f| {
        let lower = f.name.to_ascii_lowercase();
        ASSET_SUFFIXES.iter().any(|s| lower.ends_with(s))
    });
    let ignored: Vec<Value> = ignored
        .iter()
        .map(|f| json!({"name": f.name, "reason": "Unsupported file type"}))
        .collect();
    let info = ArtifactInfo {
        project_id: project.id.clone(),
        environment: env_name.to_string(),
        version: version.to_string(),
        commit_hash: header("commitHash").map(str::to_string),
        branch: header("branch").map(str::to_string),
        assets: assets.iter().map(|f| f.name.clone()).collect(),
        files: files.clone(),
        promoted: false,
        created: truncate_millis(state.clock.wall()),
    };
    state.lock().artifacts.push(info);
    Response::json(
        201,
        &json!({"versionName": version, "ignoredResources": ignored}),
    )
}

/// `GET /v1/projects/{projectId}/artifacts/details`.
pub(super) fn details(state: &State, project: &Project, q: &Query, instance: &str) -> Response {
    let Some(env_name) = q.get("environmentName").filter(|e| !e.is_empty()) else {
        return bad(&["environmentName: must not be blank".into()], instance);
    };
    if !project.environments.iter().any(|e| e.name == env_name) {
        return no_environment(env_name, instance);
    }
    let version = q.get("versionName").filter(|v| !v.is_empty());
    let inner = state.lock();
    let found = inner
        .artifacts
        .iter()
        .rev()
        .filter(|a| a.project_id == project.id && a.environment == env_name)
        .find(|a| version.is_none_or(|v| a.version == v));
    match found {
        Some(a) => Response::json(200, &a.details()),
        None => problem(
            404,
            "Artifact not Found",
            &format!("No artifact found in environment {env_name}"),
            instance,
        ),
    }
}

/// `POST /v1/projects/{projectId}/artifacts/promotions`.
pub(super) fn promote(state: &State, project: &Project, req: &Request, instance: &str) -> Response {
    let body: serde_json::Map<String, Value> = match serde_json::from_slice(&req.body) {
        Ok(Value::Object(m)) => m,
        _ => return problem(400, "Bad Request", "Malformed JSON request body", instance),
    };
    let field = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let (from, to, version) = (
        field("sourceEnvironmentName"),
        field("targetEnvironmentName"),
        field("versionName"),
    );
    let (Some(from), Some(to), Some(version)) = (from, to, version) else {
        let violations: Vec<String> = [
            "sourceEnvironmentName",
            "targetEnvironmentName",
            "versionName",
        ]
        .iter()
        .filter(|k| field(k).is_none())
        .map(|k| format!("{k}: must not be blank"))
        .collect();
        return bad(&violations, instance);
    };
    for e in [from, to] {
        if !project.environments.iter().any(|x| x.name == e) {
            return no_environment(e, instance);
        }
    }
    let mut inner = state.lock();
    let in_env = |env: &str| {
        inner
            .artifacts
            .iter()
            .find(|a| a.project_id == project.id && a.environment == env && a.version == version)
            .cloned()
    };
    if in_env(to).is_some() {
        return problem(
            409,
            "Conflict",
            &format!("Artifact version {version} already exists in environment {to}"),
            instance,
        );
    }
    let Some(source) = in_env(from) else {
        return problem(
            404,
            "Artifact not Found",
            &format!("Artifact version {version} not found in environment {from}"),
            instance,
        );
    };
    inner.artifacts.push(ArtifactInfo {
        environment: to.to_string(),
        promoted: true,
        created: truncate_millis(state.clock.wall()),
        ..source
    });
    Response::json(200, &json!({"environmentName": to, "versionName": version}))
}
