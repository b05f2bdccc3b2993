//! Cancel mode and the post step after several pipelines: every execution id the main
//! step saved (the `execution-id` input, one a line; `pipelines[].execution_id` in a
//! `result-file` of schema v2; `PIPELINE_RUN_EXECUTION_IDS` in a `dotenv-file`; one a line
//! in `GITHUB_STATE`), each cancelled at once beside the others, on one client (one token).

use super::{Target, cancel_on, find_target};
use crate::ci::CiKind;
use crate::clock::{Clock, RealClock, SignalState};
use crate::config::{Config, PlatformConfig};
use crate::http::Http;
use crate::report::aggregate::FleetReport;
use crate::timings::Timings;
use std::sync::Arc;

/// Every id of `text`, one a line (blank lines skipped), from `source`.
pub(crate) fn lines_of(text: &str, source: &str) -> Vec<Target> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take(crate::config::MAX_PIPELINES)
        .map(|id| Target {
            id: id.to_string(),
            source: source.to_string(),
            pipeline: None,
        })
        .collect()
}

/// Every execution to cancel (several after several pipelines); empty when there is none.
/// The sources are read in the order of [`find_target`], whose answer is used when none
/// holds several ids.
pub(crate) fn find_targets(cfg: &Config) -> Result<Vec<Target>, String> {
    if let Some(ids) = &cfg.execution_id {
        return Ok(lines_of(ids, "input 'execution-id'"));
    }
    if let Some(path) = &cfg.files.result {
        let source = format!("result-file {}", path.display());
        let doc = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
        if let Some(entries) = doc.as_ref().and_then(|v| v.get("pipelines")?.as_array()) {
            let found: Vec<Target> = entries
                .iter()
                .filter_map(|e| {
                    Some(Target {
                        id: e.get("execution_id")?.as_str()?.to_string(),
                        source: source.clone(),
                        pipeline: e.get("pipeline").and_then(|p| p.as_str()).map(String::from),
                    })
                })
                .take(crate::config::MAX_PIPELINES)
                .collect();
            if !found.is_empty() {
                return Ok(found);
            }
        }
    }
    if let Some(path) = &cfg.files.dotenv {
        let ids = std::fs::read_to_string(path).ok().and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PIPELINE_RUN_EXECUTION_IDS="))
                .map(|v| v.replace(',', "\n"))
        });
        if let Some(ids) = ids {
            let found = lines_of(&ids, &format!("dotenv-file {}", path.display()));
            if !found.is_empty() {
                return Ok(found);
            }
        }
    }
    Ok(find_target(cfg)?.into_iter().collect())
}

/// Cancel every target at once and follow each to its end (within
/// `timings.cancel_mode`), on one client: one report per target, as
/// [`super::cancel_target`] makes it.
pub(crate) fn cancel_targets(
    cfg: &Config,
    targets: &[Target],
    ci: CiKind,
    timings: &Timings,
) -> FleetReport {
    let clock: Arc<dyn Clock> = Arc::new(RealClock::new(SignalState::new()));
    let runs = cfg.runs();
    // Each target with the config of its pipeline, when the source named it.
    let cfgs: Vec<Config> = targets
        .iter()
        .map(|t| {
            runs.iter()
                .find(|r| Some(r.pipeline()) == t.pipeline.as_deref())
                .unwrap_or(cfg)
                .clone()
        })
        .collect();
    let clocks: Vec<Arc<dyn Clock>> = cfgs.iter().map(|_| clock.clone()).collect();
    let platforms =
        crate::wiring::platforms_for(&cfgs, Http::new(clock.clone()), &clocks, timings, ci);
    let reports = std::thread::scope(|scope| {
        let handles: Vec<_> = targets
            .iter()
            .zip(&cfgs)
            .zip(&platforms)
            .map(|((t, c), p)| {
                let clock = clock.as_ref();
                scope.spawn(move || {
                    let mut r = cancel_on(p.as_ref(), c, t, clock, timings);
                    match (&t.pipeline, &c.platform) {
                        (Some(name), _) => r.pipeline = name.clone(),
                        // Which pipeline ran it is not known here.
                        (None, PlatformConfig::Matillion(_)) if cfg.fleet.is_some() => {
                            r.pipeline = format!("execution {}", t.id);
                        }
                        _ => {}
                    }
                    r
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().ok())
            .collect::<Vec<_>>()
    });
    FleetReport {
        runs: reports,
        max_parallel: cfg.fleet.as_ref().map_or(1, |f| f.max_parallel),
        fail_fast: false,
    }
}
