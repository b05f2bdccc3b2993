//! The execution ids, saved as soon as each is known, so that the GitHub post step and
//! `pipeline-run cancel` find them even when the job is killed before the final reports
//! (a cancelled GitLab job is killed before the reports are written, and its
//! `after_script` finds the ids only here): in `GITHUB_STATE` (one a line, for the post
//! step; with `wait`), and in the dotenv and JSON result files, which the final reports
//! overwrite. The first save opens the log group the wait is shown in.

use super::{STATE_EXECUTION_ID, log_for, now_unix, out, write_file_saying};
use crate::ci::CiKind;
use crate::config::Config;
use crate::report::fleet::{self, FleetReport};
use crate::report::{self, RunReport};
use std::path::Path;

/// Saves the ids known so far; shared by the supervisor and the clean-up after a signal.
pub(crate) struct IdSaver {
    /// `GITHUB_STATE`, on GitHub, when this step starts the runs (after `wait`, the post
    /// step has nothing to clean up: no id is saved for it).
    state: Option<String>,
    files: crate::config::ReportFiles,
    wait: bool,
    ci: CiKind,
    /// One pipeline's files: the report `cfg` asks for, with the id (schema v1).
    one: RunReport,
}

impl IdSaver {
    /// The saver for the run `cfg` describes.
    pub(crate) fn new(cfg: &Config, ci: CiKind, env: &dyn Fn(&str) -> Option<String>) -> Self {
        Self {
            state: (ci == CiKind::GitHub && cfg.attach.is_none())
                .then(|| env("GITHUB_STATE"))
                .flatten()
                .filter(|p| !p.is_empty()),
            files: cfg.files.clone(),
            wait: cfg.wait,
            ci,
            one: RunReport::for_config(cfg),
        }
    }

    /// Save every id of `so_far`; `first`: the first save (it is said in the log, and
    /// opens the waiting group).
    pub(crate) fn save(&self, so_far: &FleetReport, first: bool) {
        let ids = so_far.execution_ids().join("\n");
        let several = so_far.runs.len() > 1;
        let what = if several {
            "execution ids"
        } else {
            "execution id"
        };
        if let (Some(path), true) = (&self.state, self.wait) {
            if let Err(e) = report::outputs::write_state(Path::new(path), STATE_EXECUTION_ID, &ids)
            {
                log::warn!("could not save the {what} in GITHUB_STATE: {e}");
            }
        }
        let (dotenv, json) = if several {
            (fleet::dotenv(so_far), fleet::json(so_far))
        } else {
            let mut r = self.one.clone();
            r.execution_id = Some(ids.clone());
            (
                report::dotenv::render(&r),
                report::json::render(&r, so_far.rejected_requests),
            )
        };
        if let Some(p) = &self.files.dotenv {
            write_file_saying(what, p, &dotenv, first);
        }
        if let Some(p) = &self.files.result {
            write_file_saying(what, p, &json, first);
        }
        if first && self.wait {
            let title = if several {
                format!("Waiting for {} pipelines", so_far.runs.len())
            } else {
                format!("Waiting for execution {ids}")
            };
            let mut log = log_for(self.ci).lock().unwrap_or_else(|e| e.into_inner());
            out(&log.group_start(&title, now_unix()));
        }
    }
}
