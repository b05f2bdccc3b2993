//! Where the result of several pipelines goes: the same places as one pipeline's (the
//! log, the job summary, step outputs, annotations, `GITHUB_STATE`, the dotenv, JUnit and
//! JSON files), with the aggregate reporters of [`crate::report::aggregate`]. While the
//! pipelines run, every execution id is saved as soon as it is known
//! ([`save_ids`]), so that the post step and `pipeline-run cancel` find them all.

use super::{
    STATE_DONE, STATE_EXECUTION_ID, append_file, log_for, now_unix, one_line_result, out,
    rest_of_the_steps, step_lines, write_file, write_file_saying,
};
use crate::ci::CiKind;
use crate::config::Config;
use crate::report::aggregate::{self, FleetReport, succeeded};
use crate::report::{self, Outcome, workflow};
use std::path::Path;

/// GitHub shows at most this many error annotations per step.
const MAX_ANNOTATIONS: usize = 10;

/// Called each time an execution id becomes known: saves every id known so far in
/// `GITHUB_STATE` (one a line, for the post step; with `wait`), and the dotenv and JSON
/// files with the pipelines as far as known. The first call opens the log group the wait
/// is shown in.
pub(crate) fn save_ids(
    cfg: &Config,
    ci: CiKind,
    env: &dyn Fn(&str) -> Option<String>,
) -> impl Fn(&FleetReport, bool) + 'static {
    let state = (ci == CiKind::GitHub)
        .then(|| env("GITHUB_STATE"))
        .flatten()
        .filter(|p| !p.is_empty());
    let files = cfg.files.clone();
    let wait = cfg.wait;
    // After `wait`, the post step has nothing to clean up: no id is saved for it.
    let started = cfg.attach.is_none();
    move |so_far: &FleetReport, first: bool| {
        let ids = so_far.execution_ids().join("\n");
        if let (Some(path), true) = (&state, wait && started) {
            if let Err(e) = report::outputs::write_state(Path::new(path), STATE_EXECUTION_ID, &ids)
            {
                log::warn!("could not save the execution ids in GITHUB_STATE: {e}");
            }
        }
        // Said once, not at every trigger.
        if let Some(p) = &files.dotenv {
            write_file_saying("execution ids", p, &aggregate::dotenv(so_far), first);
        }
        if let Some(p) = &files.result {
            write_file_saying("execution ids", p, &aggregate::json(so_far), first);
        }
        if first && wait {
            let mut log = log_for(ci).lock().unwrap_or_else(|e| e.into_inner());
            out(&log.group_start(
                &format!("Waiting for {} pipelines", so_far.runs.len()),
                now_unix(),
            ));
        }
    }
}

/// The annotations of every pipeline, at most [`MAX_ANNOTATIONS`] in all (the last slot
/// says how many more there were).
fn annotations(f: &FleetReport) -> Vec<String> {
    let all: Vec<String> = f.runs.iter().flat_map(workflow::annotations).collect();
    if all.len() <= MAX_ANNOTATIONS {
        return all;
    }
    let mut shown: Vec<String> = all.iter().take(MAX_ANNOTATIONS - 1).cloned().collect();
    shown.push(format!(
        "::error::{} more annotations (see the job summary)",
        all.len() - shown.len()
    ));
    shown
}

/// Write every report asked for, for several pipelines.
pub(crate) fn all(cfg: &Config, f: &FleetReport, ci: CiKind, env: &dyn Fn(&str) -> Option<String>) {
    let ts = now_unix();
    {
        let mut log = log_for(ci).lock().unwrap_or_else(|e| e.into_inner());
        out(&log.group_end(ts));
        for r in f.runs.iter().filter(|r| !r.steps.is_empty()) {
            out(&log.group_start(
                &format!(
                    "Steps of {} ({}, {} failed)",
                    crate::text::one_line(&r.pipeline),
                    r.steps.len(),
                    r.steps_failed()
                ),
                ts,
            ));
            out(&log.remote_text(&step_lines(r, &rest_of_the_steps(cfg, ci))));
            out(&log.group_end(ts));
        }
    }
    for r in &f.runs {
        crate::logging::set_context(Some(&r.pipeline));
        let line = one_line_result(r);
        if succeeded(&r.outcome) {
            log::info!("{line}");
        } else {
            log::error!("{line}");
        }
        crate::logging::set_context(None);
    }
    let summary = format!(
        "result: {} of {} pipelines succeeded; exit code {}",
        f.succeeded(),
        f.runs.len(),
        f.exit().code()
    );
    if succeeded(&f.outcome()) {
        log::info!("{summary}");
    } else {
        log::error!("{summary}");
    }
    if let (Outcome::Triggered, false) = (f.outcome(), ci == CiKind::GitHub) {
        for id in f.execution_ids() {
            out(&crate::http::clean(id));
        }
    }
    let github = |name: &str| env(name).filter(|p| !p.is_empty());
    if ci == CiKind::GitHub {
        for a in annotations(f) {
            out(&a);
        }
    }
    if let Some(p) = github("GITHUB_STEP_SUMMARY") {
        let s = report::summary::render_fleet(f, report::summary::GITHUB_SUMMARY_LIMIT);
        append_file("job summary", Path::new(&p), &s);
    }
    if let Some(p) = github("GITHUB_OUTPUT") {
        if let Err(e) = report::outputs::write_pairs(Path::new(&p), aggregate::output_values(f)) {
            log::error!("could not write the step outputs: {e}");
        }
    }
    if let Some(p) = github("GITHUB_STATE") {
        if let Err(e) = report::outputs::write_state(Path::new(&p), STATE_DONE, "true") {
            log::warn!("could not write GITHUB_STATE: {e}");
        }
    }
    if let Some(p) = &cfg.files.dotenv {
        write_file("dotenv report", p, &aggregate::dotenv(f));
    }
    if let Some(p) = &cfg.files.junit {
        let why = |r: &report::RunReport| {
            (!succeeded(&r.outcome)).then(|| {
                aggregate::message_of(r)
                    .unwrap_or_else(|| report::outcome_name(&r.outcome).to_string())
            })
        };
        write_file(
            "JUnit report",
            p,
            &report::junit::render_suites(&f.runs, why),
        );
    }
    if let Some(p) = &cfg.files.result {
        write_file("JSON result", p, &aggregate::json(f));
    }
}
