//! Several Matillion pipelines in one step: `pipeline` with one name a line (each run
//! with the same settings), or `pipelines`, a JSON array of objects with settings of
//! their own; and `max-parallel`, `fail-fast`. Everything is checked here, before any
//! request: an entry that cannot be used names its place in the array and the field.
//!
//! Each entry is a [`RunSpec`], the common inputs applied, as one pipeline's config holds
//! one; [`Config::runs`](super::Config::runs) gives each a [`Config`](super::Config) of
//! its own, and the run path runs them as N slots (one pipeline is N = 1). Two entries that would share an execution tag in one environment are
//! refused (the second would only wait for the first), and so is one pipeline listed
//! twice in one environment (a lost trigger reply could not be told apart from its twin's).

use super::MatillionConfig;
use super::matillion::RunSpec;
use super::matillion::{parse_grid, parse_variables};
use super::reader::{Reader, show};
use serde_json::Value;

/// At most this many pipelines in one step.
pub(crate) const MAX_PIPELINES: usize = 50;
/// `max-parallel` is at most this (one worker thread each).
pub(crate) const MAX_PARALLEL: usize = 50;

/// The fields an entry of `pipelines` may have.
pub(crate) const ENTRY_FIELDS: [&str; 7] = [
    "pipeline",
    "environment",
    "variables",
    "grid-variables",
    "execution-tag",
    "version",
    "agent-id",
];

/// Several pipelines, run side by side.
#[derive(Debug, Clone)]
pub(crate) struct Fleet {
    /// The pipelines, in the order given (two or more), each with the common inputs
    /// applied.
    pub(crate) entries: Vec<RunSpec>,
    /// How many run at once.
    pub(crate) max_parallel: usize,
    /// Cancel the others as soon as one ends in failure.
    pub(crate) fail_fast: bool,
}

/// How the pipelines were given, for messages.
enum Given {
    /// `pipeline`, one name a line.
    Lines,
    /// `pipelines`, a JSON array.
    Array,
}

/// The pipelines to run from `pipelines` (`list`) or a multi-line `pipeline`, applied to
/// the common settings in `m`; `None` for one pipeline given as today (nothing changes).
/// On errors, reports them to `r` and gives `None`.
pub(super) fn read(
    r: &mut Reader<'_>,
    m: &MatillionConfig,
    list: Option<String>,
) -> Option<Vec<RunSpec>> {
    let (entries, given) = match list {
        Some(text) => (from_array(r, m, &text)?, Given::Array),
        None if m.pipeline.contains('\n') => {
            let names: Vec<&str> = m
                .pipeline
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            if names.len() > MAX_PIPELINES {
                r.err(
                    "pipeline",
                    format!(
                        "lists {} pipelines; at most {MAX_PIPELINES} run in one step.",
                        names.len()
                    ),
                );
                return None;
            }
            let entries: Vec<RunSpec> = names
                .iter()
                .map(|n| RunSpec {
                    pipeline: n.to_string(),
                    ..m.run.clone()
                })
                .collect();
            if entries.len() > 1 && m.execution_tag.is_some() {
                r.err(
                    "execution-tag",
                    format!(
                        "would be shared by the {} pipelines given in `pipeline`, which would then wait for each other; give each pipeline its own tag with `pipelines`, or no tag.",
                        entries.len()
                    ),
                );
                return None;
            }
            (entries, Given::Lines)
        }
        None => return None,
    };
    distinct(r, &entries, given).then_some(entries)
}

/// No pipeline twice in one environment, and no execution tag twice in one environment.
fn distinct(r: &mut Reader<'_>, entries: &[RunSpec], given: Given) -> bool {
    let mut ok = true;
    for (i, e) in entries.iter().enumerate() {
        let Some(j) = entries[..i]
            .iter()
            .position(|o| o.pipeline == e.pipeline && o.environment == e.environment)
        else {
            continue;
        };
        ok = false;
        match given {
            Given::Lines => r.err(
                "pipeline",
                format!(
                    "lists {} twice; each pipeline runs once per step (the lookup of a lost trigger reply could not tell the two runs apart).",
                    show(&e.pipeline)
                ),
            ),
            Given::Array => r.err(
                "pipelines",
                format!(
                    "{} runs pipeline {} in environment {}, as {} does; each pipeline runs once per environment and step (the lookup of a lost trigger reply could not tell the two runs apart).",
                    at(i, &e.pipeline),
                    show(&e.pipeline),
                    show(&e.environment),
                    at(j, &entries[j].pipeline)
                ),
            ),
        }
    }
    if !ok {
        return false;
    }
    for (i, e) in entries.iter().enumerate() {
        let Some(tag) = &e.execution_tag else {
            continue;
        };
        let shared = entries[..i]
            .iter()
            .position(|o| o.execution_tag.as_ref() == Some(tag) && o.environment == e.environment);
        if let Some(j) = shared {
            ok = false;
            r.err(
                "pipelines",
                format!(
                    "{} and {} would share execution tag {} in environment {}: the second would only wait for the first. Give each its own `execution-tag`.",
                    at(j, &entries[j].pipeline),
                    at(i, &e.pipeline),
                    show(tag),
                    show(&e.environment)
                ),
            );
        }
    }
    ok
}

/// `pipelines[2] ('load')`.
fn at(i: usize, pipeline: &str) -> String {
    if pipeline.is_empty() {
        format!("pipelines[{i}]")
    } else {
        format!("pipelines[{i}] ({})", show(pipeline))
    }
}

/// Every entry of the JSON array, each checked whole; `None` when any is bad (every
/// problem reported).
fn from_array(r: &mut Reader<'_>, m: &MatillionConfig, text: &str) -> Option<Vec<RunSpec>> {
    const SHAPE: &str = "expected a JSON array of objects such as [{\"pipeline\": \"load-orders\", \"execution-tag\": \"orders\"}]";
    let items = match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => items,
        Ok(_) => {
            r.err("pipelines", format!("got {}; {SHAPE}.", show(text)));
            return None;
        }
        Err(e) => {
            r.err("pipelines", format!("is not valid JSON ({e}); {SHAPE}."));
            return None;
        }
    };
    if items.is_empty() {
        r.err("pipelines", format!("is an empty array; {SHAPE}."));
        return None;
    }
    if items.len() > MAX_PIPELINES {
        r.err(
            "pipelines",
            format!(
                "holds {} pipelines; at most {MAX_PIPELINES} run in one step.",
                items.len()
            ),
        );
        return None;
    }
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match entry(m, i, item) {
            Ok(e) => out.push(e),
            Err(errors) => {
                ok = false;
                for e in errors {
                    r.err("pipelines", e);
                }
            }
        }
    }
    ok.then_some(out)
}

/// One entry, or every problem with it (each a sentence naming the entry and the field).
fn entry(m: &MatillionConfig, i: usize, item: &Value) -> Result<RunSpec, Vec<String>> {
    let Value::Object(o) = item else {
        return Err(vec![format!(
            "{}: is not an object; each entry is {{\"pipeline\": \"name\", ...}}.",
            at(i, "")
        )]);
    };
    let name = o.get("pipeline").and_then(Value::as_str).unwrap_or("");
    let here = at(i, name.trim());
    let mut errors = unknown_fields(o, &here);
    let mut text = |field: &str| -> Option<String> {
        match o.get(field) {
            None => None,
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(_) => {
                errors.push(format!(
                    "{here}: field '{field}' must be a non-empty string."
                ));
                None
            }
        }
    };
    let pipeline = text("pipeline");
    let environment = text("environment");
    let version = text("version");
    let agent_id = text("agent-id");
    let execution_tag = text("execution-tag");
    if pipeline.is_none() && !o.contains_key("pipeline") {
        errors.push(format!(
            "{here}: field 'pipeline' is required: the published pipeline's name."
        ));
    }
    check_environment(m, environment.as_deref(), &here, &mut errors);
    let variables = own_variables(m, o, &here, &mut errors);
    let grid_variables = own_grid_variables(m, o, &here, &mut errors);
    match (pipeline, errors.is_empty()) {
        (Some(pipeline), true) => Ok(RunSpec {
            pipeline,
            environment: environment.unwrap_or_else(|| m.environment.clone()),
            version: version.or_else(|| m.version.clone()),
            agent_id: agent_id.or_else(|| m.agent_id.clone()),
            execution_tag: execution_tag.or_else(|| m.execution_tag.clone()),
            variables,
            grid_variables,
        }),
        _ => Err(errors),
    }
}

/// A sentence for each field of `o` that an entry cannot have (with the closest one).
fn unknown_fields(o: &serde_json::Map<String, Value>, here: &str) -> Vec<String> {
    let mut errors = Vec::new();
    for key in o.keys() {
        if !ENTRY_FIELDS.contains(&key.as_str()) {
            let hint = crate::suggest::closest(key, ENTRY_FIELDS)
                .map(|k| format!(" Did you mean '{k}'?"))
                .unwrap_or_else(|| format!(" The fields are: {}.", ENTRY_FIELDS.join(", ")));
            errors.push(format!("{here}: unknown field {}.{hint}", show(key)));
        }
    }
    errors
}

/// The entry's environment, or the common one: one of them given, within 255 characters.
fn check_environment(
    m: &MatillionConfig,
    environment: Option<&str>,
    here: &str,
    errors: &mut Vec<String>,
) {
    if environment.is_none() && m.environment.is_empty() {
        errors.push(format!(
            "{here}: field 'environment' is required: no `environment` input is given for every pipeline."
        ));
    }
    if environment.is_some_and(|e| e.chars().count() > 255) {
        errors.push(format!(
            "{here}: field 'environment' is longer than 255 characters."
        ));
    }
}

/// The common `variables`, then the entry's (an entry's wins): an object of strings, or
/// `name=value` lines.
fn own_variables(
    m: &MatillionConfig,
    o: &serde_json::Map<String, Value>,
    here: &str,
    errors: &mut Vec<String>,
) -> std::collections::BTreeMap<String, String> {
    let mut variables = m.variables.clone();
    match o.get("variables") {
        None => {}
        Some(v @ Value::Object(_)) => match parse_variables(&v.to_string()) {
            Ok(own) => variables.extend(own),
            Err(e) => errors.push(format!("{here}: field 'variables' {e}")),
        },
        Some(Value::String(s)) => match parse_variables(s.trim()) {
            Ok(own) => variables.extend(own),
            Err(e) => errors.push(format!("{here}: field 'variables': {e}")),
        },
        Some(_) => errors.push(format!(
            "{here}: field 'variables' must be an object of strings (or `name=value` lines)."
        )),
    }
    variables
}

/// The common `grid-variables`, then the entry's (an entry's wins).
fn own_grid_variables(
    m: &MatillionConfig,
    o: &serde_json::Map<String, Value>,
    here: &str,
    errors: &mut Vec<String>,
) -> std::collections::BTreeMap<String, Vec<Vec<String>>> {
    let mut grid_variables = m.grid_variables.clone();
    match o.get("grid-variables") {
        None => {}
        Some(v @ Value::Object(_)) => match parse_grid(&v.to_string()) {
            Ok(own) => grid_variables.extend(own),
            Err(e) => errors.push(format!("{here}: field 'grid-variables': {e}")),
        },
        Some(_) => errors.push(format!(
            "{here}: field 'grid-variables' must be an object, name to an array of rows, each an array of strings."
        )),
    }
    grid_variables
}

/// `max-parallel`: a whole number from 1 to [`MAX_PARALLEL`].
pub(super) fn max_parallel(r: &mut Reader<'_>) -> usize {
    let v = r.get("max-parallel").unwrap_or_default();
    match v.parse::<usize>() {
        Ok(n) if (1..=MAX_PARALLEL).contains(&n) => n,
        _ => {
            r.err(
                "max-parallel",
                format!(
                    "got {}; expected a whole number from 1 to {MAX_PARALLEL}.",
                    show(&v)
                ),
            );
            1
        }
    }
}

#[cfg(test)]
mod tests;
