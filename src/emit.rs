//! Writes the run's result everywhere it was asked for: the log (grouped for the CI
//! system), the GitHub job summary, step outputs, annotations and state, and the dotenv,
//! JUnit and JSON files. Stdout carries workflow commands and the step list; the log
//! (stderr) carries progress.

use crate::auth::TokenHook;
use crate::ci::{CiKind, Log};
use crate::config::{Config, InputErrors};
use crate::report::{self, Outcome, RunReport, workflow};
use crate::text;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) mod fleet;

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
    if lines.is_empty() {
        return;
    }
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{lines}");
    let _ = o.flush();
}

/// The log decoration shared by the waiting group and the final report.
fn log_for(ci: CiKind) -> &'static Mutex<Log> {
    static LOG: std::sync::OnceLock<Mutex<Log>> = std::sync::OnceLock::new();
    LOG.get_or_init(|| Mutex::new(Log::new(ci)))
}

/// On GitHub, every token fetched is masked before anything could print it.
pub(crate) fn mask_hook(ci: CiKind) -> TokenHook {
    match ci {
        CiKind::GitHub => Arc::new(|t| out(&workflow::add_mask(t.expose()))),
        _ => Arc::new(|_| {}),
    }
}

/// Annotations for bad inputs (GitHub).
pub(crate) fn input_errors(ci: CiKind, errs: &InputErrors) {
    if ci != CiKind::GitHub {
        return;
    }
    for e in errs.0.iter().take(10) {
        out(&format!(
            "::error title={}::{}",
            text::escape_property(&format!("Invalid input '{}'", e.input)),
            text::escape_data(&e.message)
        ));
    }
}

/// Called once the execution id is known: on GitHub saves it in `GITHUB_STATE` (for the
/// post step), and opens the group the wait is shown in.
pub(crate) fn state_saver(
    ci: CiKind,
    env: &dyn Fn(&str) -> Option<String>,
    wait: bool,
) -> impl Fn(&str) + Send + 'static {
    let state = (ci == CiKind::GitHub)
        .then(|| env("GITHUB_STATE"))
        .flatten()
        .filter(|p| !p.is_empty());
    move |id: &str| {
        if let (Some(path), true) = (&state, wait) {
            if let Err(e) = report::outputs::write_state(Path::new(path), STATE_EXECUTION_ID, id) {
                log::warn!("could not save the execution id in GITHUB_STATE: {e}");
            }
        }
        if wait {
            let mut log = log_for(ci).lock().unwrap_or_else(|e| e.into_inner());
            out(&log.group_start(&format!("Waiting for execution {id}"), now_unix()));
        }
    }
}

/// Called once the execution id is known: writes the dotenv and JSON result files at once,
/// with the id and outcome `triggered`. A GitLab job that is cancelled is killed before
/// [`all`] runs, and its `after_script` (`pipeline-run cancel`) finds the id only here.
/// [`all`] overwrites both files with the final result.
pub(crate) fn id_saver(cfg: &Config) -> impl Fn(&str) + Send + 'static {
    let files = cfg.files.clone();
    let report = RunReport::for_config(cfg);
    move |id: &str| {
        let mut r = report.clone();
        r.execution_id = Some(id.to_string());
        if let Some(p) = &files.dotenv {
            write_file("execution id", p, &report::dotenv::render(&r));
        }
        if let Some(p) = &files.result {
            write_file("execution id", p, &report::json::render(&r));
        }
    }
}

fn one_line_result(r: &RunReport) -> String {
    let status = r
        .status
        .as_deref()
        .map(crate::http::clean)
        .unwrap_or_default();
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
                .map(|m| format!(": {}", crate::http::clean(m)))
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
        Outcome::Refused { reason } => crate::http::clean(reason),
        Outcome::DryRun => "result: dry run passed; nothing was triggered".into(),
        Outcome::CancelRequested => "result: cancel requested".into(),
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

/// Write every report asked for.
pub(crate) fn all(cfg: &Config, r: &RunReport, ci: CiKind, env: &dyn Fn(&str) -> Option<String>) {
    let ts = now_unix();
    {
        let mut log = log_for(ci).lock().unwrap_or_else(|e| e.into_inner());
        out(&log.group_end(ts));
        if !r.steps.is_empty() {
            out(&log.group_start(
                &format!("Steps ({}, {} failed)", r.steps.len(), r.steps_failed()),
                ts,
            ));
            out(&log.remote_text(&step_lines(r, &rest_of_the_steps(cfg, ci))));
            out(&log.group_end(ts));
        }
    }
    // The notes were logged as they happened; the summary and the JSON result list them.
    let result = one_line_result(r);
    match r.outcome {
        Outcome::Succeeded | Outcome::Triggered | Outcome::DryRun | Outcome::CancelRequested => {
            log::info!("{result}")
        }
        _ => log::error!("{result}"),
    }
    if let Some(line) = report::history_line(r) {
        log::info!("{line}");
    }
    // `wait: false` in a script: `id=$(pipeline-run)`. The id is the only thing on stdout
    // then. On GitHub it is the `execution-id` output instead (stdout is the log there).
    if let (Outcome::Triggered, Some(id), false) =
        (&r.outcome, &r.execution_id, ci == CiKind::GitHub)
    {
        out(&crate::http::clean(id));
    }

    // The runner's files are written whenever they are named (also outside GitHub, e.g.
    // by the demo); workflow commands only on GitHub.
    let github = |name: &str| env(name).filter(|p| !p.is_empty());
    if ci == CiKind::GitHub {
        for a in workflow::annotations(r) {
            out(&a);
        }
    }
    if let Some(p) = github("GITHUB_STEP_SUMMARY") {
        let s = report::summary::render(r, report::summary::GITHUB_SUMMARY_LIMIT);
        append_file("job summary", Path::new(&p), &s);
    }
    if let Some(p) = github("GITHUB_OUTPUT") {
        if let Err(e) = report::outputs::write(Path::new(&p), r) {
            log::error!("could not write the step outputs: {e}");
        }
    }
    if let Some(p) = github("GITHUB_STATE") {
        if let Err(e) = report::outputs::write_state(Path::new(&p), STATE_DONE, "true") {
            log::warn!("could not write GITHUB_STATE: {e}");
        }
    }
    if let Some(p) = &cfg.files.dotenv {
        write_file("dotenv report", p, &report::dotenv::render(r));
    }
    if let Some(p) = &cfg.files.junit {
        write_file("JUnit report", p, &report::junit::render(r));
    }
    if let Some(p) = &cfg.files.result {
        write_file("JSON result", p, &report::json::render(r));
    }
}
