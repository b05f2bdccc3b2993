//! `wait` and `status`: which execution to follow instead of triggering one. By id
//! (`execution-id`, checked to be an id of the platform's form), or the running (for
//! `status`, the latest) execution of `pipeline` in `environment` (Matillion only: Datalab
//! cannot list the running executions of a pipeline in a documented order).

use super::reader::{Reader, show};
use crate::inputs::Scope;

/// What the configuration is read for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Trigger a run (`run`, and `cancel`, which reads the same inputs).
    Run,
    /// Follow a run this step did not start (`wait`).
    Wait,
    /// Look at a run once (`status`).
    Status,
}

/// The execution to follow, instead of triggering one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attach {
    /// `execution-id`; `None`: the pipeline's running execution (for `status`, its latest).
    pub(crate) id: Option<String>,
    /// `status`: one look, no wait.
    pub(crate) once: bool,
    /// `wait-for-start`: when none of the pipeline's runs is going, wait for the next one.
    pub(crate) wait_for_start: bool,
}

/// The longest execution id accepted (ids are path segments; a UUID is 36 characters).
const MAX_ID_CHARS: usize = 200;

/// Whether `id` has the form of an execution id on the platform of `scope`: a UUID on
/// Matillion; letters, digits, `_` and `-` on Datalab (`pex_...`).
fn id_form_ok(id: &str, scope: Scope) -> bool {
    match scope {
        Scope::Datalab => {
            !id.is_empty()
                && id.chars().count() <= MAX_ID_CHARS
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        }
        _ => super::matillion::is_uuid(id),
    }
}

/// What a trigger would do that following an execution cannot: `dry-run: true`, and
/// `wait: false`.
pub(super) struct TriggerOnly {
    /// `dry-run`.
    pub(super) dry_run: bool,
    /// `wait`.
    pub(super) wait: bool,
}

/// The attachment asked for by `purpose` (`None` for [`Purpose::Run`]), its inputs
/// checked: one execution id of the platform's form, or (Matillion) a pipeline; a dry run
/// or `wait: false` refused (they ask for what only a trigger does).
pub(super) fn read(
    r: &mut Reader<'_>,
    purpose: Purpose,
    scope: Scope,
    given: TriggerOnly,
) -> Option<Attach> {
    let command = match purpose {
        Purpose::Run => return None,
        Purpose::Wait => "wait",
        Purpose::Status => "status",
    };
    let id = r.string("execution-id");
    if let Some(id) = &id {
        let expected = match scope {
            Scope::Datalab => "a Datalab execution id such as `pex_…` (letters, digits, `_`, `-`)",
            _ => "a Matillion execution id, a UUID such as `0f6e1c2a-…`",
        };
        if id.lines().count() > 1 {
            r.err(
                "execution-id",
                format!(
                    "lists several ids, one a line; `{command}` follows one execution by id (to follow several, give their pipelines in `pipeline`)."
                ),
            );
        } else if !id_form_ok(id, scope) {
            r.err(
                "execution-id",
                format!("got {}; expected {expected}.", show(id)),
            );
        }
    }
    let by_pipeline = r.raw("pipeline").is_some() || r.raw("pipelines").is_some();
    match (&id, scope) {
        (None, Scope::Datalab) => r.err(
            "execution-id",
            format!(
                "is required for `{command}` on Datalab: its API reads an execution by id, but cannot list a pipeline's running executions in a known order. Give the `pex_…` id the run printed."
            ),
        ),
        (None, _) if !by_pipeline => r.err(
            "execution-id",
            format!(
                "or `pipeline` is required for `{command}`: give the execution's id, or `pipeline` and `environment` to follow its running execution."
            ),
        ),
        _ => {}
    }
    for (input, value) in [("dry-run", given.dry_run), ("wait", given.wait)] {
        if value == (input == "dry-run") {
            r.err(
                input,
                format!(
                    "is {value} but `{command}` triggers nothing: it follows an execution that exists. Remove it."
                ),
            );
        }
    }
    let wait_for_start = r.boolean("wait-for-start").unwrap_or(false);
    Some(Attach {
        id,
        once: purpose == Purpose::Status,
        wait_for_start,
    })
}
