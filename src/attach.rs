//! The start step of `wait`, and the look of `status`: which execution to follow, instead
//! of triggering one. By id, it is read once (an id the platform does not know is refused,
//! naming it). By pipeline, the running execution of the pipeline in its environment (for
//! `status`, the latest, running or not); of several, the most recent, and the log says
//! which. When none is running, `wait` ends (exit 4) or, with `wait-for-start`, looks
//! again until one starts or the timeout passes.

use crate::config::Attach;
use crate::model::RunReport;
use crate::platform::{Found, Platform};
use crate::timefmt;
use crate::wait::{Failure, RunState, Waiter};
use std::time::Instant;

/// With `wait-for-start`, at most this many looks at the list (the timeout bounds them
/// too; the wait between looks grows from `poll-interval` to `max-poll-interval`).
pub(crate) const MAX_LOOKS: u32 = 10_000;

/// The execution `attach` names, read once: its id and state; `report` holds what the
/// platform says of it (pipeline, environment, trigger, start) and its id.
pub(crate) fn find(
    platform: &dyn Platform,
    attach: &Attach,
    w: &Waiter<'_>,
    report: &mut RunReport,
) -> Result<(String, RunState), Failure> {
    let id = match &attach.id {
        Some(id) => id.clone(),
        None => by_pipeline(platform, attach, w, report)?,
    };
    let state = platform.attach(&id, w.budget(), report)?;
    report.execution_id = Some(id.clone());
    Ok((id, state))
}

/// When the execution `report` describes started, on `w`'s clock (now, when its start
/// time is not known): the polling schedule and the heartbeat count from there.
pub(crate) fn started_at(report: &RunReport, w: &Waiter<'_>) -> Instant {
    let now = w.clock.now();
    let running_for = report
        .started_at
        .as_deref()
        .and_then(timefmt::parse_rfc3339)
        .and_then(|t| w.clock.wall().duration_since(t).ok())
        .unwrap_or_default();
    now.checked_sub(running_for).unwrap_or(now)
}

/// "pipeline 'p' in environment 'e'" (or without the environment where there is none).
fn pipeline_in(report: &RunReport) -> String {
    let p = crate::text::clean(&report.pipeline);
    match report.environment.as_deref().filter(|e| !e.is_empty()) {
        Some(e) => format!("pipeline '{p}' in environment '{}'", crate::text::clean(e)),
        None => format!("pipeline '{p}'"),
    }
}

/// The id of the pipeline's execution to follow: the most recent running one (`status`:
/// the latest), looked for again while none runs when `wait-for-start` says so.
fn by_pipeline(
    platform: &dyn Platform,
    attach: &Attach,
    w: &Waiter<'_>,
    report: &mut RunReport,
) -> Result<String, Failure> {
    let what = pipeline_in(report);
    let mut pause = w.initial;
    for look in 0..MAX_LOOKS {
        let found = platform.executions_of_pipeline(!attach.once, w.budget())?;
        if let Some((chosen, others)) = newest(found) {
            say_which(&chosen, &others, &what, attach.once, report);
            return Ok(chosen.id);
        }
        if attach.once {
            return Err(Failure::Refused(format!("{what} has no execution")));
        }
        if !attach.wait_for_start {
            return Err(Failure::Refused(format!(
                "no run of {what} is going (`wait-for-start: true` waits for the next one)"
            )));
        }
        if look == 0 {
            log::info!("no run of {what} is going; waiting for the next one to start");
        }
        w.sleep(pause).map_err(Failure::Interrupted)?;
        if w.clock.now() >= w.deadline {
            break;
        }
        pause = (pause * 2).min(w.max);
    }
    Err(Failure::TimedOut(format!(
        "timed out waiting for a run of {what} to start"
    )))
}

/// The most recent of `found` by start time (the list's order among equals, and for a
/// start time that cannot be read, which ranks last), and the others.
pub(crate) fn newest(mut found: Vec<Found>) -> Option<(Found, Vec<Found>)> {
    let started = |f: &Found| f.started_at.as_deref().and_then(timefmt::parse_rfc3339);
    let best = (0..found.len()).fold(None, |best: Option<usize>, i| match best {
        Some(b) if started(&found[i]) <= started(&found[b]) => Some(b),
        _ => Some(i),
    })?;
    let chosen = found.remove(best);
    Some((chosen, found))
}

/// Say which execution is followed, when that was a choice.
fn say_which(chosen: &Found, others: &[Found], what: &str, once: bool, report: &mut RunReport) {
    let clean = crate::text::clean;
    let started = chosen
        .started_at
        .as_deref()
        .map(|t| format!(", started {}", clean(t)))
        .unwrap_or_default();
    let id = clean(&chosen.id);
    if once {
        log::info!("the latest execution of {what} is {id}{started}");
        return;
    }
    if others.is_empty() {
        log::info!("found the running execution of {what}: {id}{started}");
        return;
    }
    let rest: Vec<String> = others.iter().take(10).map(|f| clean(&f.id)).collect();
    let more = match others.len() {
        n if n > rest.len() => format!(" and {} more", n - rest.len()),
        _ => String::new(),
    };
    let note = format!(
        "{} runs of {what} were going; following the most recent, execution {id}{started} (not followed: {}{more}).",
        others.len() + 1,
        rest.join(", ")
    );
    log::info!("{note}");
    report.notes.push(note);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(id: &str, started: Option<&str>) -> Found {
        Found {
            id: id.into(),
            status: "RUNNING".into(),
            started_at: started.map(str::to_string),
            trigger: None,
        }
    }

    #[test]
    fn the_most_recent_start_wins_and_the_list_order_breaks_ties() {
        let (chosen, others) = newest(vec![
            found("a", Some("2026-12-02T10:00:00Z")),
            found("b", Some("2026-12-02T11:00:00.5Z")),
            found("c", None),
            found("d", Some("2026-12-02T11:00:00.5Z")),
        ])
        .expect("one");
        assert_eq!(chosen.id, "b");
        let rest: Vec<&str> = others.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(rest, ["a", "c", "d"]);
        assert_eq!(
            newest(vec![found("x", None)]).map(|c| c.0.id),
            Some("x".into())
        );
        assert_eq!(newest(Vec::new()), None);
    }
}
