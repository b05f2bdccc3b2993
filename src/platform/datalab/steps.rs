//! An execution's steps as the report shows them, and the download of each completed
//! step's result into `result-dir`: the API key goes only to the API's own origin.

use super::Datalab;
use super::wire::Execution;
use crate::http::{Authorizer, Budget, NoAuth, Request};
use crate::model::{RunReport, Step};
use crate::timefmt;
use std::path::Path;

impl Datalab {
    /// Each completed step's result, downloaded into `dir` (`03-extract.json`); what
    /// could not be is noted in `report`.
    pub(super) fn download_results(
        &self,
        exec: &Execution,
        dir: &Path,
        budget: Budget,
        report: &mut RunReport,
    ) {
        if let Err(e) = std::fs::create_dir_all(dir) {
            let note = format!("Could not create result-dir {}: {e}", dir.display());
            log::warn!("{note}");
            report.notes.push(note);
            return;
        }
        let mut saved = 0;
        for (i, s) in exec.steps.iter().enumerate() {
            let Some(url) = s.result_url.as_deref().filter(|_| s.status == "completed") else {
                continue;
            };
            let url = if url.starts_with("http://") || url.starts_with("https://") {
                url.to_string()
            } else {
                self.url(&format!("/{}", url.trim_start_matches('/')))
            };
            let index = s.step_index.unwrap_or(i as i64);
            // The key goes only to the API's own origin: a result URL elsewhere (storage,
            // a CDN) is fetched without it, so the platform's data cannot send it away.
            let auth: &dyn Authorizer = if origin(&url) == origin(&self.cfg.base_url) {
                &self.auth
            } else {
                &NoAuth
            };
            let req = Request::get(url, format!("the result of step {index}"));
            match self.http.send(&req, auth, budget) {
                Ok(r) => {
                    let ext = if serde_json::from_str::<serde_json::Value>(&r.body).is_ok() {
                        "json"
                    } else {
                        "txt"
                    };
                    let path = dir.join(result_file_name(index, &s.step_type, ext));
                    match std::fs::write(&path, r.body.as_bytes()) {
                        Ok(()) => saved += 1,
                        Err(e) => log::warn!("could not write {}: {e}", path.display()),
                    }
                }
                Err(e) => {
                    let note = format!("Could not download the result of step {index}: {e}");
                    log::warn!("{note}");
                    report.notes.push(note);
                }
            }
        }
        log::info!("saved {saved} step result(s) in {}", dir.display());
    }
}

/// The steps of an execution, named `<index>. <type>`.
pub(super) fn steps_of(e: &Execution) -> Vec<Step> {
    e.steps
        .iter()
        .enumerate()
        .map(|(i, s)| Step {
            name: format!("{}. {}", s.step_index.unwrap_or(i as i64), s.step_type),
            status: s.status.clone(),
            failed: s.status == "failed",
            message: s.error_message.clone().filter(|m| !m.is_empty()),
            duration: timefmt::between(s.started_at.as_deref(), s.finished_at.as_deref()),
            started_at: s.started_at.clone(),
            finished_at: s.finished_at.clone(),
            child_pipeline: None,
        })
        .collect()
}

/// `scheme://host:port` of a URL, lower-cased; `None` when it has no scheme.
pub(super) fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    Some(format!("{scheme}://{authority}").to_ascii_lowercase())
}

/// `03-extract.json`: the index, then the step type reduced to safe characters.
pub(crate) fn result_file_name(index: i64, step_type: &str, ext: &str) -> String {
    let safe: String = step_type
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(60)
        .collect();
    format!(
        "{index:02}-{}.{ext}",
        if safe.is_empty() { "step".into() } else { safe }
    )
}
