//! The GitHub Action's post step (`runs.post-entrypoint`): when the main step was killed
//! before it could clean up (a runner that lost its patience, a `SIGKILL`, an OOM), the
//! execution it started may still be running. The main step saves the execution id in
//! `GITHUB_STATE` once it has triggered, and `done=true` when it has finished its own
//! clean-up; the runner hands both back to the post step as `STATE_execution_id` and
//! `STATE_done`. An id without `done` means nobody stopped the run: cancel it.
//!
//! This mode can never trigger anything: it only reaches [`crate::cancel::cancel_targets`].
//! The runner passes `runs.args` to the main, pre *and* post entrypoints alike, so the post
//! step is chosen by the program's name (`/pipeline-run-post`, a link to the same binary in
//! the image) before any argument is looked at; `pipeline-run post` does the same by hand.

use crate::cancel::{cancel_targets, lines_of};
use crate::config::load;
use crate::exit::Exit;
use crate::text;
use crate::timings::Timings;
use crate::{ci, emit, inputs};

/// The program name that selects the post step whatever the arguments say.
pub(crate) const POST_PROGRAM: &str = "pipeline-run-post";

/// Whether `argv0` (the program as it was invoked) names the post step.
pub fn invoked_as_post(argv0: &str) -> bool {
    std::path::Path::new(argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n == POST_PROGRAM)
}

/// What the post step should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Nothing; why, for the log.
    Nothing(&'static str),
    /// Cancel this execution: the main step started it and did not finish.
    Cancel(String),
}

/// Decide from the saved state and the `wait` input alone (no request is made).
pub(crate) fn decide(env: &dyn Fn(&str) -> Option<String>) -> Decision {
    let state = |name: &str| {
        env(&format!("STATE_{name}"))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let Some(id) = state(emit::STATE_EXECUTION_ID) else {
        return Decision::Nothing("no execution was started by the main step: nothing to clean up");
    };
    if state(emit::STATE_DONE).is_some() {
        return Decision::Nothing("the main step finished its own clean-up: nothing to do");
    }
    // With `wait: false` the run is meant to outlive the job (the main step does not save
    // the id then; this guards against a state written by something else).
    let wait = inputs::find("wait")
        .and_then(|i| inputs::read(i, env))
        .map(|g| !g.value.eq_ignore_ascii_case("false"))
        .unwrap_or(true);
    if !wait {
        return Decision::Nothing("`wait` is false: the execution is left running");
    }
    // `wait` and `status` follow a run they did not start (and save no id; this guards
    // against a state written by something else).
    let command = inputs::find("command").and_then(|i| inputs::read(i, env));
    if command.is_some_and(|g| ["wait", "status"].contains(&g.value.to_ascii_lowercase().as_str()))
    {
        return Decision::Nothing("`wait` and `status` never cancel a run they did not start");
    }
    Decision::Cancel(id)
}

/// Run the post step.
pub(crate) fn run(env: &dyn Fn(&str) -> Option<String>) -> Exit {
    let ci = ci::detect(env);
    crate::logging::init(env, ci);
    let id = match decide(env) {
        Decision::Nothing(why) => {
            log::debug!("post step: {why}");
            return Exit::Success;
        }
        Decision::Cancel(id) => id,
    };
    log::warn!(
        "the main step stopped before it could clean up; execution {} may still be running",
        crate::text::clean(&id)
    );
    let cfg = match load::load(env, ci) {
        Ok(c) => c,
        Err(e) => return e,
    };
    // Several pipelines saved one id a line: each is cancelled.
    let targets = lines_of(&id, "GITHUB_STATE");
    let report = cancel_targets(&cfg, &targets, ci, &Timings::from_env(env));
    if let Some(bad) = load::unusable_ca_bundle(&cfg, ci) {
        return bad;
    }
    for r in &report.runs {
        if let crate::model::Outcome::Refused { reason } = &r.outcome {
            log::error!("{reason}");
        }
        if ci == ci::CiKind::GitHub {
            let id = r.execution_id.as_deref().unwrap_or_default();
            let ok = Exit::from(&r.outcome) == Exit::Success;
            println!("{}", annotation(id, ok));
        }
    }
    report.exit()
}

/// The annotation that tells the job's reader what the post step did.
fn annotation(id: &str, ok: bool) -> String {
    let (kind, title, message) = if ok {
        (
            "warning",
            "Execution cancelled by the post step",
            format!(
                "The main step stopped before it could clean up, so the post step cancelled execution {id} (or found it already ended)."
            ),
        )
    } else {
        (
            "error",
            "Execution may still be running",
            format!(
                "The main step stopped before it could clean up, and the post step could not cancel execution {id}: see the log."
            ),
        )
    };
    format!(
        "::{kind} title={}::{}",
        text::escape_property(title),
        text::escape_data(&message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::env;

    #[test]
    fn chosen_by_program_name() {
        assert!(invoked_as_post("/pipeline-run-post"));
        assert!(invoked_as_post("pipeline-run-post"));
        assert!(invoked_as_post("/usr/local/bin/pipeline-run-post"));
        assert!(!invoked_as_post("/pipeline-run"));
        assert!(!invoked_as_post("pipeline-run-post-x"));
        assert!(!invoked_as_post(""));
    }

    #[test]
    fn decisions() {
        assert_eq!(
            decide(&env(&[("STATE_execution_id", "e1")])),
            Decision::Cancel("e1".into())
        );
        assert!(matches!(decide(&env(&[])), Decision::Nothing(_)));
        assert!(matches!(
            decide(&env(&[("STATE_execution_id", "  ")])),
            Decision::Nothing(_)
        ));
        assert!(matches!(
            decide(&env(&[
                ("STATE_execution_id", "e1"),
                ("STATE_done", "true")
            ])),
            Decision::Nothing(_)
        ));
        assert!(matches!(
            decide(&env(&[
                ("STATE_execution_id", "e1"),
                ("INPUT_WAIT", "False")
            ])),
            Decision::Nothing(_)
        ));
        assert_eq!(
            decide(&env(&[
                ("STATE_execution_id", "e1"),
                ("INPUT_WAIT", "true")
            ])),
            Decision::Cancel("e1".into())
        );
        // `wait` and `status` never cancel what they did not start, whatever the state.
        for command in ["wait", "Status"] {
            assert_eq!(
                decide(&env(&[
                    ("STATE_execution_id", "e1"),
                    ("INPUT_COMMAND", command)
                ])),
                Decision::Nothing("`wait` and `status` never cancel a run they did not start")
            );
        }
        assert_eq!(
            decide(&env(&[
                ("STATE_execution_id", "e1"),
                ("INPUT_COMMAND", "run")
            ])),
            Decision::Cancel("e1".into())
        );
    }
}
