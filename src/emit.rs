//! The one writer of the result, for one pipeline and for several: the log (grouped for
//! the CI system), the GitHub job summary, step outputs, annotations and state, and the
//! dotenv, JUnit and JSON files, each in the shape of the count (one pipeline: schema v1;
//! several: schema v2). While the pipelines run, [`IdSaver`] saves each execution id as
//! soon as it is known. Stdout carries workflow commands and the step list; the log
//! (stderr) carries progress.

use crate::ci::{CiKind, Log};
use crate::config::Config;
use crate::report::fleet::{self, FleetReport, succeeded};
use crate::report::{self, Outcome, RunReport, workflow};
use crate::text;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use std::time::{SystemTime, UNIX_EPOCH};

mod ids;

pub(crate) use ids::IdSaver;

/// In the log, at most this many steps that did not fail are listed (all failed ones are).
pub(crate) const LOG_STEPS: usize = 200;
/// `GITHUB_STATE` name of the execution id (the post step cancels it if still running).
pub(crate) const STATE_EXECUTION_ID: &str = "execution_id";
/// `GITHUB_STATE` name set when the main step finished its own clean-up.
pub(crate) const STATE_DONE: &str = "done";

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Print lines to stdout at once.
pub(crate) fn out(lines: &str) {
    crate::ci::print(lines);
}

/// The log decoration shared by the waiting group and the final report.
fn log_for(ci: CiKind) -> &'static Mutex<Log> {
    static LOG: std::sync::OnceLock<Mutex<Log>> = std::sync::OnceLock::new();
    LOG.get_or_init(|| Mutex::new(Log::new(ci)))
}

fn one_line_result(r: &RunReport) -> String {
    let status = r.status.as_deref().map(text::clean).unwrap_or_default();
    let dur = r
        .duration
        .map(|d| format!(" in {}", report::humanize_duration(d)))
        .unwrap_or_default();
    let steps = if r.steps.is_empty() {
        String::new()
    } else {
        format!(" ({} steps, {} failed)", r.steps.len(), r.steps_failed())
    };
    match &r.outcome {
        Outcome::Succeeded => format!("result: {status}{dur}{steps}"),
        Outcome::Failed => format!(
            "result: {status}{dur}{steps}{}",
            r.message
                .as_deref()
                .map(|m| format!(": {}", text::clean(m)))
                .unwrap_or_default()
        ),
        Outcome::Triggered => format!(
            "result: triggered execution {} (not waiting)",
            r.execution_id.as_deref().unwrap_or("?")
        ),
        Outcome::TimedOut { cancel } => format!(
            "result: timed out; {}",
            report::describe_cancel(cancel, r.platform)
        ),
        Outcome::Interrupted { signal, cancel } => format!(
            "result: interrupted by {signal}; {}",
            report::describe_cancel(cancel, r.platform)
        ),
        // The reason is a sentence of its own ("Matillion refused the trigger: …").
        Outcome::Refused { reason } => text::clean(reason),
        Outcome::DryRun => "result: dry run passed; nothing was triggered".into(),
        Outcome::CancelRequested => "result: cancel requested".into(),
        Outcome::Running => format!(
            "result: execution {} is still running ({status})",
            r.execution_id
                .as_deref()
                .map(crate::text::clean)
                .unwrap_or_default()
        ),
        Outcome::Stopped { cancel } => format!(
            "result: stopped (fail-fast: another pipeline failed); {}",
            report::describe_cancel(cancel, r.platform)
        ),
    }
}

/// Where the steps the log leaves out can be read: only the reports that were asked for.
fn rest_of_the_steps(cfg: &Config, ci: CiKind) -> String {
    let mut places = Vec::new();
    if ci == CiKind::GitHub {
        places.push("the job summary".to_string());
    }
    if let Some(p) = &cfg.files.junit {
        places.push(format!("the JUnit report {}", p.display()));
    }
    if let Some(p) = &cfg.files.result {
        places.push(format!("the JSON result {}", p.display()));
    }
    if places.is_empty() {
        "not listed; `result-file` or `junit-file` would hold every step".into()
    } else {
        format!("see {}", places.join(" or "))
    }
}

/// The step list for the log: failed steps first, then up to [`LOG_STEPS`] others; `rest`
/// says where the others are.
fn step_lines(r: &RunReport, rest: &str) -> String {
    let mut s = String::new();
    let line = |s: &mut String, st: &report::Step| {
        let mark = if st.failed { "✗" } else { "•" };
        s.push_str(&format!(
            "{mark} {} [{}]{}{}\n",
            text::one_line(&st.name),
            text::one_line(&st.status),
            st.duration
                .map(|d| format!(" {}", report::humanize_duration(d)))
                .unwrap_or_default(),
            st.message
                .as_deref()
                .map(|m| format!(": {}", report::truncate_chars(&text::one_line(m), 500)))
                .unwrap_or_default()
        ));
    };
    let failed: Vec<_> = r.failed_steps().collect();
    if !failed.is_empty() {
        s.push_str(&format!("Failed steps ({}):\n", failed.len()));
        for st in failed {
            line(&mut s, st);
        }
    }
    let others: Vec<_> = r.steps.iter().filter(|s| !s.failed).collect();
    if !others.is_empty() {
        s.push_str(&format!("Other steps ({}):\n", others.len()));
        for st in others.iter().take(LOG_STEPS) {
            line(&mut s, st);
        }
        if others.len() > LOG_STEPS {
            s.push_str(&format!(
                "… and {} more ({rest})\n",
                others.len() - LOG_STEPS
            ));
        }
    }
    s
}

pub(crate) fn write_file(what: &str, path: &Path, content: &str) {
    write_file_saying(what, path, content, true);
}

/// [`write_file`]; `say` false leaves success out of the log (errors are always said).
fn write_file_saying(what: &str, path: &Path, content: &str, say: bool) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    // Written beside it, then renamed: a job killed mid-write (GitLab's cancel) leaves the
    // previous file whole, and `pipeline-run cancel` can still read the execution id.
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let written = std::fs::write(&tmp, content).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    match written {
        Ok(()) if say => log::info!("wrote the {what} to {}", path.display()),
        Ok(()) => {}
        Err(e) => log::error!("could not write the {what} to {}: {e}", path.display()),
    }
}

pub(crate) fn append_file(what: &str, path: &Path, content: &str) {
    let r = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(content.as_bytes()));
    if let Err(e) = r {
        log::error!("could not write the {what} to {}: {e}", path.display());
    }
}

/// GitHub shows at most this many error annotations per step (several pipelines share
/// them; one pipeline's own are already within it).
const MAX_ANNOTATIONS: usize = 10;

/// The annotations of every pipeline; for several, at most [`MAX_ANNOTATIONS`] in all
/// (the last slot says how many more there were).
fn annotations(f: &FleetReport) -> Vec<String> {
    if let Some(one) = f.single() {
        return workflow::annotations(one);
    }
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

/// Write every report asked for: the same places for one pipeline and for several, each
/// in the shape of its count (one pipeline: schema v1, its own summary and outputs;
/// several: schema v2, [`crate::report::fleet`]).
pub(crate) fn all(cfg: &Config, f: &FleetReport, ci: CiKind, env: &dyn Fn(&str) -> Option<String>) {
    log_steps(cfg, f, ci);
    log_results(f);
    // `wait: false` in a script: `id=$(pipeline-run)`. The ids are the only thing on
    // stdout then. On GitHub they are the `execution-id` output instead (stdout is the log
    // there).
    if let (Outcome::Triggered, false) = (f.outcome(), ci == CiKind::GitHub) {
        for id in f.execution_ids() {
            out(&text::clean(id));
        }
    }
    // The runner's files are written whenever they are named (also outside GitHub, e.g.
    // by the demo); workflow commands only on GitHub.
    if ci == CiKind::GitHub {
        for a in annotations(f) {
            out(&a);
        }
    }
    github_files(f, env);
    report_files(cfg, f);
}

/// The end of the waiting group, then each pipeline's steps in a group of their own.
fn log_steps(cfg: &Config, f: &FleetReport, ci: CiKind) {
    let ts = now_unix();
    let mut log = log_for(ci).lock().unwrap_or_else(|e| e.into_inner());
    out(&log.group_end(ts));
    let several = f.runs.len() > 1;
    for r in f.runs.iter().filter(|r| !r.steps.is_empty()) {
        let of = if several {
            format!(" of {}", text::one_line(&r.pipeline))
        } else {
            String::new()
        };
        out(&log.group_start(
            &format!("Steps{of} ({}, {} failed)", r.steps.len(), r.steps_failed()),
            ts,
        ));
        out(&log.remote_text(&step_lines(r, &rest_of_the_steps(cfg, ci))));
        out(&log.group_end(ts));
    }
}

/// Each pipeline's result line (marked with its name when there are several), then, for
/// one, how it compares with its past runs, and for several, the step's line. The notes
/// were logged as they happened; the summary and the JSON result list them.
fn log_results(f: &FleetReport) {
    let say = |ok: bool, line: &str| {
        if ok {
            log::info!("{line}");
        } else {
            log::error!("{line}");
        }
    };
    // A run still going (`status`) is news, not an error.
    let fine = |o: &Outcome| succeeded(o) || matches!(o, Outcome::Running);
    if let Some(r) = f.single() {
        say(fine(&r.outcome), &one_line_result(r));
        if let Some(line) = report::history_line(r) {
            log::info!("{line}");
        }
        return;
    }
    for r in &f.runs {
        crate::logging::set_context(Some(&r.pipeline));
        say(fine(&r.outcome), &one_line_result(r));
        crate::logging::set_context(None);
    }
    say(
        succeeded(&f.outcome()),
        &format!(
            "result: {} of {} pipelines succeeded; exit code {}",
            f.succeeded(),
            f.runs.len(),
            f.exit().code()
        ),
    );
}

/// The job summary, the step outputs and the `done` mark in `GITHUB_STATE`, when the
/// runner names their files.
fn github_files(f: &FleetReport, env: &dyn Fn(&str) -> Option<String>) {
    let github = |name: &str| env(name).filter(|p| !p.is_empty());
    if let Some(p) = github("GITHUB_STEP_SUMMARY") {
        let limit = report::summary::GITHUB_SUMMARY_LIMIT;
        let s = match f.single() {
            Some(one) => report::summary::render(one, limit),
            None => report::summary::render_fleet(f, limit),
        };
        append_file("job summary", Path::new(&p), &s);
    }
    if let Some(p) = github("GITHUB_OUTPUT") {
        let written = match f.single() {
            Some(one) => report::outputs::write(Path::new(&p), one).map(|_| ()),
            None => {
                report::outputs::write_pairs(Path::new(&p), fleet::output_values(f)).map(|_| ())
            }
        };
        if let Err(e) = written {
            log::error!("could not write the step outputs: {e}");
        }
    }
    if let Some(p) = github("GITHUB_STATE") {
        if let Err(e) = report::outputs::write_state(Path::new(&p), STATE_DONE, "true") {
            log::warn!("could not write GITHUB_STATE: {e}");
        }
    }
}

/// The dotenv, JUnit and JSON files asked for.
fn report_files(cfg: &Config, f: &FleetReport) {
    let one = f.single();
    if let Some(p) = &cfg.files.dotenv {
        let text = one.map_or_else(|| fleet::dotenv(f), report::dotenv::render);
        write_file("dotenv report", p, &text);
    }
    if let Some(p) = &cfg.files.junit {
        let text = one.map_or_else(|| fleet::junit(f), report::junit::render);
        write_file("JUnit report", p, &text);
    }
    if let Some(p) = &cfg.files.result {
        let text = one.map_or_else(
            || fleet::json(f),
            |r| report::json::render(r, f.rejected_requests),
        );
        write_file("JSON result", p, &text);
    }
}
