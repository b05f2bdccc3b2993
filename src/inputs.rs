//! The one table of inputs: every input's id, default, scope and help text, and how its
//! value is looked up in the environment. `action.yml` and docs/inputs.md mirror this table (a
//! test checks that `action.yml` agrees).

/// Which platform an input belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Used whatever the platform.
    Common,
    /// Only with `platform: matillion`.
    Matillion,
    /// Only with `platform: datalab`.
    Datalab,
}

/// One input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Input {
    /// The kebab-case id, as in `action.yml`.
    pub id: &'static str,
    /// The default used when the input is not given (`None`: no default).
    pub default: Option<&'static str>,
    /// The platform it belongs to.
    pub(crate) scope: Scope,
    /// Whether the value is a secret (never shown, in any message).
    pub(crate) secret: bool,
    /// Whether the value is `true` or `false` (as a flag it may then stand alone:
    /// `--wait`, `--no-wait`).
    pub(crate) boolean: bool,
    /// One or two sentences for `action.yml` and docs/inputs.md.
    pub(crate) help: &'static str,
}

const fn input(
    id: &'static str,
    default: Option<&'static str>,
    scope: Scope,
    help: &'static str,
) -> Input {
    Input {
        id,
        default,
        scope,
        secret: false,
        boolean: false,
        help,
    }
}

const fn boolean(
    id: &'static str,
    default: Option<&'static str>,
    scope: Scope,
    help: &'static str,
) -> Input {
    Input {
        boolean: true,
        ..input(id, default, scope, help)
    }
}

const fn secret(id: &'static str, scope: Scope, help: &'static str) -> Input {
    Input {
        id,
        default: None,
        scope,
        secret: true,
        boolean: false,
        help,
    }
}

use Scope::{Common, Datalab, Matillion};

/// Default for `timeout`.
pub(crate) const DEFAULT_TIMEOUT: &str = "2h";
/// Default for `poll-interval`.
pub(crate) const DEFAULT_POLL_INTERVAL: &str = "5s";
/// Default for `max-poll-interval`.
pub(crate) const DEFAULT_MAX_POLL_INTERVAL: &str = "30s";

/// Default for `max-parallel`.
pub(crate) const DEFAULT_MAX_PARALLEL: &str = "4";

/// Default `rate-limit` on Matillion: the documented limit, requests a minute.
pub(crate) const DEFAULT_RATE_LIMIT_MATILLION: u32 = 1000;
/// Default `rate-limit` on Datalab: the documented limit, requests a minute.
pub(crate) const DEFAULT_RATE_LIMIT_DATALAB: u32 = 400;
/// The largest `rate-limit` (1,000 a second).
pub(crate) const MAX_RATE_LIMIT: u32 = 60_000;

/// Every input, once.
pub const INPUTS: &[Input] = &[
    input(
        "platform",
        Some("matillion"),
        Common,
        "Which platform runs the pipeline: `matillion` or `datalab`.",
    ),
    secret(
        "client-id",
        Matillion,
        "OAuth client id of a Matillion API credential. Give it with `client-secret`, or give `access-token` instead.",
    ),
    secret(
        "client-secret",
        Matillion,
        "OAuth client secret of the Matillion API credential.",
    ),
    secret(
        "access-token",
        Matillion,
        "A ready Matillion bearer token, instead of `client-id` and `client-secret`.",
    ),
    input(
        "region",
        None,
        Matillion,
        "Matillion region, `eu1`, `us1` or `au1`; picks the API base URL. Give this or `api-url`.",
    ),
    input(
        "api-url",
        None,
        Common,
        "Overrides the API base URL (e.g. `https://eu1.api.matillion.com/dpc`, or `https://www.datalab.to` for Datalab).",
    ),
    input(
        "token-url",
        None,
        Matillion,
        "Overrides the OAuth token endpoint (default `https://id.core.matillion.com/oauth/dpc/token`).",
    ),
    input(
        "project",
        None,
        Matillion,
        "Matillion project id (UUID) or exact project name.",
    ),
    input(
        "environment",
        None,
        Matillion,
        "Matillion environment the pipeline is published to.",
    ),
    input(
        "pipeline",
        None,
        Common,
        "The published pipeline's name (Matillion) or id `pl_...` (Datalab). Matillion: several names, one a line, run side by side with the same settings.",
    ),
    input(
        "pipelines",
        None,
        Matillion,
        "Several pipelines, each with its own settings: a JSON array of objects with `pipeline` and optionally `environment`, `variables`, `grid-variables`, `execution-tag`, `version`, `agent-id` (instead of `pipeline`).",
    ),
    input(
        "version",
        None,
        Matillion,
        "Published artifact version to run (`versionName`); default: the latest. For `publish` and `promote`, the version to create or promote (publish's default: the CI commit, 12 characters).",
    ),
    input(
        "agent-id",
        None,
        Matillion,
        "Agent to run on (`agentId`); default: the environment's agent.",
    ),
    input(
        "execution-tag",
        None,
        Matillion,
        "Execution tag: only one execution per tag runs at a time in an environment.",
    ),
    input(
        "variables",
        None,
        Matillion,
        "Scalar variable overrides: a JSON object of strings, or `name=value` lines.",
    ),
    input(
        "grid-variables",
        None,
        Matillion,
        "Grid variable overrides: a JSON object, name to an array of rows, each an array of strings.",
    ),
    input(
        "on-conflict",
        Some("wait"),
        Matillion,
        "When the execution tag is held by another run: `wait` for it, or `fail` at once.",
    ),
    input(
        "max-parallel",
        Some(DEFAULT_MAX_PARALLEL),
        Matillion,
        "With several pipelines: how many run at once, from 1 to 50; the others wait for a free place.",
    ),
    input(
        "rate-limit",
        None,
        Common,
        "The most requests a minute this step sends, all pipelines together (a whole number); default: the documented limit, `1000` on Matillion, `400` on Datalab. An account on Matillion's older limit sets `60`. The limit is the account's: leave room for other jobs.",
    ),
    boolean(
        "fail-fast",
        Some("false"),
        Matillion,
        "With several pipelines: `true` cancels the others as soon as one ends in failure.",
    ),
    boolean(
        "wait",
        Some("true"),
        Common,
        "`true`: wait for the run to end. `false`: trigger, print the execution id, exit 0.",
    ),
    input(
        "timeout",
        Some(DEFAULT_TIMEOUT),
        Common,
        "How long to wait in all (e.g. `90m`, `1h 30m`); on GitLab, when not given, a minute under the job's timeout.",
    ),
    input(
        "poll-interval",
        Some(DEFAULT_POLL_INTERVAL),
        Common,
        "Without history, the wait between status polls; with history, the mean detection latency it aims at is 0.45 × this.",
    ),
    input(
        "max-poll-interval",
        Some(DEFAULT_MAX_POLL_INTERVAL),
        Common,
        "Largest wait between two status polls, with or without history.",
    ),
    boolean(
        "cancel-on-timeout",
        Some("true"),
        Common,
        "Cancel the execution when `timeout` passes (`true` or `false`). `wait` never cancels a run it did not start unless this is given `true` explicitly.",
    ),
    boolean(
        "progress",
        Some("true"),
        Common,
        "`true`: while waiting, log each step as it ends (a failed one with its message); the steps are read at most once a minute at the default `poll-interval`. `false`: only at the end.",
    ),
    boolean(
        "dry-run",
        Some("false"),
        Common,
        "`true`: check credentials, project, environment and pipeline, print what would be sent, trigger nothing.",
    ),
    input(
        "dotenv-file",
        None,
        Common,
        "Write a GitLab dotenv report (`PIPELINE_RUN_*` variables) to this path.",
    ),
    input(
        "junit-file",
        None,
        Common,
        "Write a JUnit XML report (one test case per step) to this path.",
    ),
    input(
        "result-file",
        None,
        Common,
        "Write the whole result as JSON to this path.",
    ),
    input(
        "ca-bundle",
        None,
        Common,
        "A PEM file of root certificates to trust instead of the bundled ones (for a proxy that inspects TLS); default: `SSL_CERT_FILE` if set.",
    ),
    boolean(
        "log-timestamps",
        None,
        Common,
        "Start every log line with an RFC 3339 UTC time; default: `true`, except on GitHub Actions and GitLab CI, which stamp lines themselves.",
    ),
    input(
        "execution-id",
        None,
        Common,
        "The execution to follow (`wait`), look at (`status`) or cancel (`cancel`; else read from `result-file` or `dotenv-file`): a Matillion execution id is a UUID.",
    ),
    secret(
        "api-key",
        Datalab,
        "Datalab API key (also read from `DATALAB_API_KEY`).",
    ),
    input(
        "file",
        None,
        Datalab,
        "Datalab: path of the document to upload. Give this or `file-url`.",
    ),
    input(
        "file-url",
        None,
        Datalab,
        "Datalab: URL of the document to process. Give this or `file`.",
    ),
    input(
        "pipeline-version",
        None,
        Datalab,
        "Datalab: pipeline version to run (`0` = draft); default: the active published version.",
    ),
    input(
        "output-format",
        None,
        Datalab,
        "Datalab: `json`, `html`, `markdown` or `chunks`.",
    ),
    input(
        "page-range",
        None,
        Datalab,
        "Datalab: pages to process, e.g. `0,2-4`.",
    ),
    boolean(
        "skip-cache",
        None,
        Datalab,
        "Datalab: `true` to skip the cache.",
    ),
    boolean(
        "run-evals",
        None,
        Datalab,
        "Datalab: `true` to run evaluations.",
    ),
    input(
        "webhook-url",
        None,
        Datalab,
        "Datalab: URL to call when the execution ends.",
    ),
    input(
        "result-dir",
        None,
        Datalab,
        "Datalab: download each completed step's result into this directory.",
    ),
    boolean(
        "allow-completed-with-errors",
        Some("false"),
        Datalab,
        "Datalab: `true` to exit 0 when the execution ends `completed_with_errors`.",
    ),
    input(
        "command",
        Some("run"),
        Common,
        "What to do: `run` (trigger and wait), `wait` (follow a run already going), `status` (one look at a run), `publish` (publish `artifact-dir` as an artifact version), `promote` (copy a version from `from-environment` to `environment`) or `cancel`. On the command line, the subcommand.",
    ),
    input(
        "artifact-dir",
        Some("."),
        Matillion,
        "For `publish`: the project's directory; every file under it is sent (`.git` left out).",
    ),
    input(
        "from-environment",
        None,
        Matillion,
        "For `promote`: the environment the version is promoted from (`environment` is the target).",
    ),
    boolean(
        "wait-for-start",
        Some("false"),
        Matillion,
        "For `wait` by `pipeline`: when none of its runs is going, `true` waits (within `timeout`) for the next one to start; `false` exits 4.",
    ),
];

/// The input with this id.
pub(crate) fn find(id: &str) -> Option<&'static Input> {
    INPUTS.iter().find(|i| i.id == id)
}

/// The environment variable names an input is read from, in order of precedence:
/// `INPUT_<ID>` with dashes kept (GitHub), the same with underscores, then
/// `MATILLION_<ID>` (or `DATALAB_<ID>` for Datalab inputs) in upper snake case.
pub(crate) fn env_names(input: &Input) -> Vec<String> {
    let upper = input.id.to_ascii_uppercase();
    let snake = upper.replace('-', "_");
    let mut names = vec![format!("INPUT_{upper}")];
    if snake != upper {
        names.push(format!("INPUT_{snake}"));
    }
    match input.scope {
        Scope::Datalab => names.push(format!("DATALAB_{snake}")),
        Scope::Common => {
            names.push(format!("MATILLION_{snake}"));
            names.push(format!("DATALAB_{snake}"));
        }
        Scope::Matillion => names.push(format!("MATILLION_{snake}")),
    }
    names
}

/// The flag that gives an input on the command line: `--<id>`. It is also the name the
/// input is looked up by first (see [`source_names`]): the command-line layer answers it.
pub(crate) fn flag(input: &Input) -> String {
    format!("--{}", input.id)
}

/// Every name an input is looked up by, in order of precedence: its flag, then
/// [`env_names`]. A lookup function that is only the environment never answers the flag.
pub(crate) fn source_names(input: &Input) -> Vec<String> {
    let mut names = vec![flag(input)];
    names.extend(env_names(input));
    names
}

impl Input {
    /// The description in `action.yml`: the help text, then the default, if any (the
    /// runner is given no default: the binary applies it, so an explicit `MATILLION_*`
    /// variable is never overridden by one).
    pub fn description(&self) -> String {
        match self.default {
            Some(d) => format!("{} Default: `{d}`.", self.help),
            None => self.help.to_string(),
        }
    }
}

/// Where a value came from, for messages: the flag or the variable's name.
#[derive(Debug, Clone)]
pub(crate) struct Given {
    /// The trimmed, non-empty value.
    pub(crate) value: String,
    /// The flag (`--timeout`) or environment variable it was read from.
    pub(crate) from: String,
}

/// Read an input through `lookup` (the command line over the environment in production, a
/// map in tests): trimmed, and an empty value counts as not given.
pub(crate) fn read(input: &Input, lookup: &dyn Fn(&str) -> Option<String>) -> Option<Given> {
    source_names(input).into_iter().find_map(|name| {
        let v = lookup(&name)?;
        let v = v.trim();
        (!v.is_empty()).then(|| Given {
            value: v.to_string(),
            from: name,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn ids_are_unique_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for i in INPUTS {
            assert!(seen.insert(i.id), "duplicate {}", i.id);
            assert!(
                i.id.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{}",
                i.id
            );
            assert!(!(i.secret && i.default.is_some()), "{}", i.id);
            assert!(!(i.secret && i.boolean), "{}", i.id);
            if i.boolean {
                assert!(
                    i.default.is_none_or(|d| d == "true" || d == "false"),
                    "{}",
                    i.id
                );
            }
        }
    }

    #[test]
    fn env_names_follow_the_runner_and_fallbacks() {
        let i = find("client-id").unwrap();
        assert_eq!(
            env_names(i),
            ["INPUT_CLIENT-ID", "INPUT_CLIENT_ID", "MATILLION_CLIENT_ID"]
        );
        let i = find("api-key").unwrap();
        assert_eq!(
            env_names(i),
            ["INPUT_API-KEY", "INPUT_API_KEY", "DATALAB_API_KEY"]
        );
        let i = find("timeout").unwrap();
        assert_eq!(
            env_names(i),
            ["INPUT_TIMEOUT", "MATILLION_TIMEOUT", "DATALAB_TIMEOUT"]
        );
    }

    #[test]
    fn read_trims_and_treats_empty_as_absent() {
        let env: HashMap<&str, &str> = [
            ("INPUT_CLIENT-ID", "   "),
            ("MATILLION_CLIENT_ID", "  abc \n"),
        ]
        .into();
        let look = |k: &str| env.get(k).map(|v| v.to_string());
        let g = read(find("client-id").unwrap(), &look).unwrap();
        assert_eq!(g.value, "abc");
        assert_eq!(g.from, "MATILLION_CLIENT_ID");
        assert!(read(find("project").unwrap(), &look).is_none());
    }

    #[test]
    fn the_flag_is_looked_up_first() {
        let env: HashMap<&str, &str> = [("--timeout", "5m"), ("INPUT_TIMEOUT", "1h")].into();
        let look = |k: &str| env.get(k).map(|v| v.to_string());
        let g = read(find("timeout").unwrap(), &look).unwrap();
        assert_eq!((g.value.as_str(), g.from.as_str()), ("5m", "--timeout"));
    }

    #[test]
    fn descriptions_name_the_default() {
        assert_eq!(
            find("on-conflict").unwrap().description(),
            "When the execution tag is held by another run: `wait` for it, or `fail` at once. Default: `wait`."
        );
        assert_eq!(
            find("project").unwrap().description(),
            find("project").unwrap().help
        );
    }
}
