//! The integration tests, in one binary (one link step; the tests share its threads).
//! Each module drives the real `pipeline-run` binary (or the library on simulated time)
//! against the bundled simulator over loopback HTTP; `common` holds the shared helpers.

mod action_yml;
mod architecture;
mod attach;
mod attach_status;
mod cancel_mode;
mod ci_logs;
#[allow(dead_code)]
mod common;
mod datalab_common;
mod datalab_failures;
mod datalab_inputs;
mod datalab_run;
mod docs;
mod documented;
mod dry_run;
mod flags;
mod fleet;
mod github;
mod gitlab_reports;
mod hostile_api;
mod hostile_wait;
mod log_phrases;
mod missed_polls;
mod polling;
mod progress;
mod publish;
mod rate_limits;
mod resilience_cancel;
mod resilience_common;
mod resilience_faults;
mod resilience_simulated;
mod resilience_trigger;
mod result_json;
mod run_matillion;
mod shared_poll;
mod sim_time;
mod summary_md;
mod tls_proxy;
