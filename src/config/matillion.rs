//! Matillion's inputs: credentials, where the API is, the project, and the trigger's
//! fields (variables and grid variables parsed here).

use super::DEFAULT_TOKEN_URL;
use super::fleet::{self, Fleet};
use super::reader::{Reader, show};
use crate::secret::Secret;
use std::collections::BTreeMap;
use std::fmt;

/// How to authenticate to Matillion.
#[derive(Debug, Clone)]
pub(crate) enum MatillionAuth {
    /// OAuth client credentials: a token is fetched (and fetched again before it expires).
    ClientCredentials {
        /// Client id.
        client_id: Secret,
        /// Client secret.
        client_secret: Secret,
        /// Token endpoint.
        token_url: String,
    },
    /// A ready bearer token.
    Token(Secret),
}

/// A project, by id or by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProjectRef {
    /// A UUID.
    Id(String),
    /// A name, resolved through the project list (exact match).
    Name(String),
}

impl fmt::Display for ProjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProjectRef::Id(s) | ProjectRef::Name(s) => f.write_str(s),
        }
    }
}

/// What to do when the execution tag is held by another run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnConflict {
    /// Wait for the holder to end, then trigger.
    Wait,
    /// Fail at once (exit 4), naming the holder.
    Fail,
}

/// What one run of a Matillion pipeline asks for: the config of one pipeline holds one,
/// and each entry of `pipelines` is one (the common inputs applied).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RunSpec {
    /// Pipeline name.
    pub(crate) pipeline: String,
    /// Environment name.
    pub(crate) environment: String,
    /// `scalarVariables`.
    pub(crate) variables: BTreeMap<String, String>,
    /// `gridVariables`.
    pub(crate) grid_variables: BTreeMap<String, Vec<Vec<String>>>,
    /// `executionTag`.
    pub(crate) execution_tag: Option<String>,
    /// `versionName`.
    pub(crate) version: Option<String>,
    /// `agentId`.
    pub(crate) agent_id: Option<String>,
}

/// Matillion-specific configuration.
#[derive(Debug, Clone)]
pub(crate) struct MatillionConfig {
    /// API base URL, without a trailing slash (e.g. `https://eu1.api.matillion.com/dpc`).
    pub(crate) base_url: String,
    /// Credentials.
    pub(crate) auth: MatillionAuth,
    /// Project id or name.
    pub(crate) project: ProjectRef,
    /// The run asked for (with several pipelines, each run's own: [`super::Config::runs`]).
    pub(crate) run: RunSpec,
    /// 409 handling.
    pub(crate) on_conflict: OnConflict,
}

/// The run's fields read as the config's own (`cfg.pipeline`, `cfg.execution_tag`), as
/// the platform client reads them.
impl std::ops::Deref for MatillionConfig {
    type Target = RunSpec;
    fn deref(&self) -> &RunSpec {
        &self.run
    }
}

pub(super) fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Parse `variables`: a JSON object of strings, or `name=value` lines.
pub(super) fn parse_variables(v: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    if v.starts_with('{') {
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(v)
            .map_err(|e| {
                format!("is not a valid JSON object ({e}); expected {{\"name\": \"value\", ...}} or name=value lines.")
            })?;
        for (k, val) in map {
            match val {
                serde_json::Value::String(s) => {
                    check_var_name(&k)?;
                    out.insert(k, s);
                }
                _ => {
                    return Err(format!(
                        "variable '{k}' is not a string; every value must be a JSON string (quote numbers and booleans)."
                    ));
                }
            }
        }
        return Ok(out);
    }
    for (n, line) in v.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            return Err(format!(
                "line {} has no `=`; expected name=value lines (or a JSON object).",
                n + 1
            ));
        };
        // White space around `=` and at the ends of a value is not part of it (the JSON
        // form keeps a value exactly as written).
        let (name, value) = (name.trim(), value.trim());
        check_var_name(name)?;
        if out.insert(name.to_string(), value.to_string()).is_some() {
            return Err(format!("variable '{name}' is given twice."));
        }
    }
    Ok(out)
}

fn check_var_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a variable has an empty name.".into());
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "variable name {} contains white space; names are single words.",
            show(name)
        ));
    }
    Ok(())
}

/// Parse `grid-variables`: name → array of rows, each an array of strings.
pub(super) fn parse_grid(v: &str) -> Result<BTreeMap<String, Vec<Vec<String>>>, String> {
    let map: BTreeMap<String, serde_json::Value> = serde_json::from_str(v).map_err(|e| {
        format!("is not a valid JSON object ({e}); expected {{\"grid\": [[\"a\", \"b\"], [\"c\", \"d\"]]}}.")
    })?;
    let mut out = BTreeMap::new();
    for (k, val) in map {
        check_var_name(&k)?;
        let rows: Vec<Vec<String>> = serde_json::from_value(val).map_err(|_| {
            format!("grid variable '{k}' must be an array of rows, each an array of strings.")
        })?;
        out.insert(k, rows);
    }
    Ok(out)
}

/// Matillion's config, and the [`Fleet`] when several pipelines are given. `by_id`: the
/// execution is given by id (`wait`, `status`): no pipeline or environment is needed, and
/// none is read as several.
pub(super) fn matillion(
    r: &mut Reader<'_>,
    by_id: bool,
) -> Option<(MatillionConfig, Option<Fleet>)> {
    let (base_url, auth) = connection(r);
    let project = project(r);
    // With `pipelines`, each entry may name its environment, and `pipeline` is not given.
    let list = r.get("pipelines").filter(|_| !by_id);
    let run = run_spec(r, list.is_some(), by_id);
    let on_conflict = on_conflict(r);
    let max_parallel = fleet::max_parallel(r);
    let fail_fast = r.boolean("fail-fast").unwrap_or(false);
    let mut m = MatillionConfig {
        base_url: base_url?,
        auth: auth?,
        project,
        run,
        on_conflict,
    };
    let entries = fleet::read(r, &m, list);
    let fleet = match entries {
        Some(entries) => {
            m.run = entries.first()?.clone();
            (entries.len() > 1).then_some(Fleet {
                entries,
                max_parallel,
                fail_fast,
            })
        }
        None if r.raw("pipelines").is_some() => return None,
        None => None,
    };
    Some((m, fleet))
}

/// Where the API is and how to authenticate: `api-url` or `region`, `token-url`, and
/// `client-id` with `client-secret` or `access-token` (shared by every Matillion command).
pub(super) fn connection(r: &mut Reader<'_>) -> (Option<String>, Option<MatillionAuth>) {
    (api_url(r), credentials(r))
}

/// `api-url`, else the URL of `region`.
fn api_url(r: &mut Reader<'_>) -> Option<String> {
    match (r.get("api-url"), r.get("region")) {
        (Some(u), _) => r.url("api-url", &u),
        (None, Some(region)) => match region.to_ascii_lowercase().as_str() {
            reg @ ("eu1" | "us1" | "au1") => Some(format!("https://{reg}.api.matillion.com/dpc")),
            _ => {
                r.err(
                    "region",
                    format!(
                        "got {}; expected `eu1`, `us1` or `au1` (or give `api-url`).",
                        show(&region)
                    ),
                );
                None
            }
        },
        (None, None) => {
            r.err(
                "region",
                "is required: give `region` (`eu1`, `us1` or `au1`) or `api-url`.",
            );
            None
        }
    }
}

/// `client-id` and `client-secret` (with `token-url`), or `access-token`: exactly one way.
fn credentials(r: &mut Reader<'_>) -> Option<MatillionAuth> {
    let token_url = match r.get("token-url") {
        Some(u) => r.url("token-url", &u),
        None => Some(DEFAULT_TOKEN_URL.to_string()),
    };
    let client_id = r.secret("client-id");
    let client_secret = r.secret("client-secret");
    let token = r.secret("access-token");
    match (client_id, client_secret, token) {
        (Some(_), Some(_), Some(_)) | (Some(_), None, Some(_)) | (None, Some(_), Some(_)) => {
            r.err(
                "access-token",
                "is given together with client credentials; give either `access-token` or `client-id` and `client-secret`.",
            );
            None
        }
        (None, None, Some(t)) => Some(MatillionAuth::Token(t)),
        (Some(id), Some(secret), None) => {
            token_url.map(|token_url| MatillionAuth::ClientCredentials {
                client_id: id,
                client_secret: secret,
                token_url,
            })
        }
        (Some(_), None, None) => {
            r.err("client-secret", "is required with `client-id`.");
            None
        }
        (None, Some(_), None) => {
            r.err("client-id", "is required with `client-secret`.");
            None
        }
        (None, None, None) => {
            r.err(
                "client-id",
                "is required: give `client-id` and `client-secret`, or `access-token`.",
            );
            None
        }
    }
}

/// `project`: an id (UUID) or an exact name.
pub(super) fn project(r: &mut Reader<'_>) -> ProjectRef {
    let project = r.required("project", "the project's id (UUID) or exact name");
    if is_uuid(&project) {
        ProjectRef::Id(project.to_ascii_lowercase())
    } else {
        ProjectRef::Name(project)
    }
}

/// The run's fields from the common inputs. With `pipelines` (`listed`), `pipeline` is
/// not given and `environment` may be left to the entries; `by_id` (`wait`, `status`),
/// neither is needed: they are read from the execution.
fn run_spec(r: &mut Reader<'_>, listed: bool, by_id: bool) -> RunSpec {
    let environment = if by_id {
        // Read from the execution's details.
        String::new()
    } else if listed {
        r.get("environment").unwrap_or_default()
    } else {
        r.required(
            "environment",
            "the environment the pipeline is published to",
        )
    };
    let pipeline = match (listed, r.get("pipeline")) {
        (true, Some(_)) => {
            r.err(
                "pipelines",
                "is given together with `pipeline`; give one of them: `pipeline` (a name, or several one a line) or `pipelines` (a JSON array).",
            );
            String::new()
        }
        (true, None) => String::new(),
        (false, _) if by_id => String::new(),
        (false, _) => r.required("pipeline", "the published pipeline's name"),
    };
    if environment.chars().count() > 255 {
        r.err("environment", "is longer than 255 characters.");
    }
    let version = r.string("version");
    let agent_id = r.string("agent-id");
    let execution_tag = r.string("execution-tag");
    let variables = parsed(r, "variables", parse_variables);
    let grid_variables = parsed(r, "grid-variables", parse_grid);
    RunSpec {
        pipeline,
        environment,
        variables,
        grid_variables,
        execution_tag,
        version,
        agent_id,
    }
}

/// Input `id` parsed by `parse`; empty when not given or bad (the error reported).
fn parsed<T: Default>(
    r: &mut Reader<'_>,
    id: &'static str,
    parse: fn(&str) -> Result<T, String>,
) -> T {
    match r.get(id) {
        Some(v) => parse(&v).unwrap_or_else(|e| {
            r.err(id, e);
            T::default()
        }),
        None => T::default(),
    }
}

/// `on-conflict`: `wait` or `fail`.
fn on_conflict(r: &mut Reader<'_>) -> OnConflict {
    match r
        .get("on-conflict")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .as_str()
    {
        "wait" => OnConflict::Wait,
        "fail" => OnConflict::Fail,
        _ => {
            let v = r.get("on-conflict").unwrap_or_default();
            r.err(
                "on-conflict",
                format!("got {}; expected `wait` or `fail`.", show(&v)),
            );
            OnConflict::Wait
        }
    }
}
