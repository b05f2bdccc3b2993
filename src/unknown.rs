//! Warnings for what looks like an input but will not act as one: an `INPUT_*`,
//! `MATILLION_*` or `DATALAB_*` variable that no input is read from (a typo such as
//! `MATILLION_VARIABLE` or `MATILLION_EXECUTON_TAG` would otherwise be ignored without a
//! word), named with the closest input when one is near; and a secret given as a flag. Not
//! errors: other tools use those prefixes too. One line each, logged before the inputs are
//! checked.

use crate::inputs::{self, INPUTS, Input};
use crate::suggest;

/// The prefixes of the names inputs are read from.
pub(crate) const PREFIXES: &[&str] = &["INPUT_", "MATILLION_", "DATALAB_"];

/// The name to suggest for `input`, in the style of the one typed (`prefix`, and for
/// `INPUT_` whether it kept dashes).
fn suggested_name(input: &Input, prefix: &str, dashes: bool) -> String {
    let names = inputs::env_names(input);
    let pick = if prefix == "INPUT_" {
        names
            .iter()
            .filter(|n| n.starts_with(prefix))
            .find(|n| n.contains('-') == dashes)
    } else {
        names.iter().find(|n| n.starts_with(prefix))
    };
    // A prefix the input is not read from (`DATALAB_REGION`): its own.
    pick.or(names.last()).cloned().unwrap_or_default()
}

/// One warning for each name in `names` that has an input's prefix but is no input's name.
pub(crate) fn unknown_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let known: Vec<String> = INPUTS.iter().flat_map(inputs::env_names).collect();
    let mut names: Vec<&str> = names.into_iter().collect();
    names.sort_unstable();
    names.dedup();
    let mut out = Vec::new();
    for name in names {
        let Some(prefix) = PREFIXES.iter().find(|p| name.starts_with(*p)) else {
            continue;
        };
        if known.iter().any(|k| k == name) {
            continue;
        }
        let rest = &name[prefix.len()..];
        let id_like = rest.to_ascii_lowercase().replace('_', "-");
        let shown = crate::text::clean(name);
        let hint = suggest::closest(&id_like, INPUTS.iter().map(|i| i.id))
            .and_then(inputs::find)
            .map(|i| {
                format!(
                    " Did you mean {} (input '{}')?",
                    suggested_name(i, prefix, rest.contains('-')),
                    i.id
                )
            })
            .unwrap_or_else(|| " (See pipeline-run --help for the inputs.)".into());
        out.push(format!(
            "{shown} is set, but no input is read from it: it is ignored.{hint}"
        ));
    }
    out
}

/// Every warning about how inputs were given: secrets given as flags (read through
/// `lookup`), then unknown names among `env_names`.
pub(crate) fn warnings<'a>(
    lookup: &dyn Fn(&str) -> Option<String>,
    env_names: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let mut out = crate::args::secret_flag_warnings(lookup);
    out.extend(unknown_names(env_names));
    out
}

/// Log [`warnings`] for the process environment's names.
pub(crate) fn log_warnings(lookup: &dyn Fn(&str) -> Option<String>) {
    let names: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .collect();
    for w in warnings(lookup, names.iter().map(String::as_str)) {
        log::warn!("{w}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_are_named_with_the_closest_input() {
        let w = unknown_names([
            "MATILLION_VARIABLE",
            "MATILLION_EXECUTON_TAG",
            "INPUT_PIPELNE",
            "INPUT_EXECUTON-TAG",
            "DATALAB_REGION",
            "MATILLION_HOME",
            "PATH",
            "MATILLION_TIMEOUT",
            "INPUT_CLIENT-ID",
            "INPUT_CLIENT_ID",
            "DATALAB_API_KEY",
            "DATALAB_TIMEOUT",
        ]);
        assert_eq!(
            w,
            [
                "DATALAB_REGION is set, but no input is read from it: it is ignored. Did you mean MATILLION_REGION (input 'region')?",
                "INPUT_EXECUTON-TAG is set, but no input is read from it: it is ignored. Did you mean INPUT_EXECUTION-TAG (input 'execution-tag')?",
                "INPUT_PIPELNE is set, but no input is read from it: it is ignored. Did you mean INPUT_PIPELINE (input 'pipeline')?",
                "MATILLION_EXECUTON_TAG is set, but no input is read from it: it is ignored. Did you mean MATILLION_EXECUTION_TAG (input 'execution-tag')?",
                "MATILLION_HOME is set, but no input is read from it: it is ignored. (See pipeline-run --help for the inputs.)",
                "MATILLION_VARIABLE is set, but no input is read from it: it is ignored. Did you mean MATILLION_VARIABLES (input 'variables')?",
            ]
        );
    }

    #[test]
    fn every_input_name_is_known() {
        let names: Vec<String> = INPUTS.iter().flat_map(inputs::env_names).collect();
        assert!(unknown_names(names.iter().map(String::as_str)).is_empty());
    }
}
