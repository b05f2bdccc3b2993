//! The job summary of several pipelines: a headline, a line of context, a table of the
//! pipelines (outcome, status, duration, steps, failed steps, a link to each run), their
//! notes, then, for each pipeline that did not succeed, why (its message or reason) and
//! its failed steps with their messages. Never more than the byte budget: the failed
//! steps' messages are cut evenly, and a pipeline whose steps no longer fit is listed by
//! name only.

use super::markdown::{inline, inline_at_line_start};
use super::steps::FailedSection;
use super::{TEXT_CHARS, headline_only, limit_label, plural};
use crate::model::Outcome;
use crate::report::fleet::{FleetReport, message_of, succeeded};
use crate::report::{RunReport, humanize_duration, outcome_name, truncate_bytes};
use std::fmt::Write as _;

/// Notes listed under the table, in all.
const MAX_NOTES: usize = 20;

fn icon(o: &Outcome) -> &'static str {
    match o {
        Outcome::Succeeded => "✅",
        Outcome::Triggered => "🚀",
        Outcome::DryRun => "🔎",
        Outcome::TimedOut { .. } => "⏱",
        Outcome::Running => "⏳",
        Outcome::Interrupted { .. } | Outcome::Stopped { .. } | Outcome::CancelRequested => "⏹",
        Outcome::Failed | Outcome::Refused { .. } => "❌",
    }
}

fn headline(f: &FleetReport) -> String {
    let n = f.runs.len();
    let all = |pred: fn(&Outcome) -> bool| f.runs.iter().all(|r| pred(&r.outcome));
    if all(|o| matches!(o, Outcome::Succeeded)) {
        format!("✅ All {n} pipelines succeeded")
    } else if all(|o| matches!(o, Outcome::Triggered)) {
        format!("🚀 {n} pipelines were triggered (not waited for)")
    } else if all(|o| matches!(o, Outcome::DryRun)) {
        format!("🔎 Dry run of {n} pipelines: every check passed, nothing was triggered")
    } else {
        let outcome = f.outcome();
        let bad = n - f.succeeded();
        match outcome {
            Outcome::Interrupted { signal, .. } => {
                format!("⏹ {bad} of {n} pipelines did not finish: interrupted by {signal}")
            }
            other => format!(
                "{} {bad} of {n} pipelines did not succeed",
                icon(&other).replace('⏹', "❌")
            ),
        }
    }
}

fn context(f: &FleetReport) -> String {
    let mut line = String::new();
    if let Some(first) = f.runs.first() {
        let _ = write!(line, "**{}**", first.platform.display_name());
        if let Some(p) = f.runs.iter().find_map(|r| r.project.as_deref()) {
            let _ = write!(line, " · project **{}**", inline(p, TEXT_CHARS));
        }
    }
    let _ = write!(
        line,
        " · {}, at most {} at a time{}",
        plural(f.runs.len(), "pipeline", "pipelines"),
        f.max_parallel,
        if f.fail_fast { " (fail-fast)" } else { "" }
    );
    line
}

fn row(out: &mut String, r: &RunReport) {
    let status = r
        .status
        .as_deref()
        .map(|s| inline(s, 60))
        .unwrap_or_default();
    let duration = r.duration.map(humanize_duration).unwrap_or_default();
    let steps = if r.steps.is_empty() {
        String::new()
    } else {
        r.steps.len().to_string()
    };
    let failed = match r.steps_failed() {
        0 if r.steps.is_empty() => String::new(),
        n => n.to_string(),
    };
    let link = crate::links::execution_url_of(r)
        .map(|u| format!("[open]({u})"))
        .unwrap_or_default();
    let env = r
        .environment
        .as_deref()
        .map(|e| format!(" ({})", inline(e, 60)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "| {}{env} | {}\u{a0}{} | {status} | {duration} | {steps} | {failed} | {link} |",
        inline(&r.pipeline, TEXT_CHARS),
        icon(&r.outcome),
        outcome_name(&r.outcome),
    );
}

/// Everything but the failed pipelines' sections.
fn head(f: &FleetReport) -> String {
    let mut out = format!("## {}\n\n{}\n\n", headline(f), context(f));
    out.push_str(
        "| Pipeline | Outcome | Status | Duration | Steps | Failed steps | Run |\n| --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for r in &f.runs {
        row(&mut out, r);
    }
    out.push('\n');
    let notes: Vec<String> = f
        .runs
        .iter()
        .flat_map(|r| r.notes.iter().map(move |n| (r, n)))
        .map(|(r, n)| format!("{}: {n}", r.pipeline))
        .collect();
    for n in notes.iter().take(MAX_NOTES) {
        let _ = writeln!(out, "- {}", inline_at_line_start(n, 500));
    }
    if notes.len() > MAX_NOTES {
        let _ = writeln!(out, "- … and {} more notes", notes.len() - MAX_NOTES);
    }
    if !notes.is_empty() {
        out.push('\n');
    }
    out
}

/// A pipeline that did not succeed: its heading and why.
fn section_head(r: &RunReport) -> String {
    let mut out = format!(
        "### {} {}: {}\n\n",
        icon(&r.outcome),
        inline(&r.pipeline, TEXT_CHARS),
        outcome_name(&r.outcome)
    );
    if let Some(m) = message_of(r) {
        let _ = write!(out, "{}\n\n", inline_at_line_start(&m, 1_000));
    }
    out
}

/// The job summary of several pipelines, never longer than `max_bytes`.
pub(crate) fn render_fleet(f: &FleetReport, max_bytes: usize) -> String {
    let mut out = head(f);
    if out.len() > max_bytes {
        let line = format!("## {}\n", headline(f));
        return if line.len() <= max_bytes {
            line
        } else {
            truncate_bytes(&line, max_bytes).to_string()
        };
    }
    let troubled: Vec<&RunReport> = f.runs.iter().filter(|r| !succeeded(&r.outcome)).collect();
    let limit = limit_label(max_bytes);
    for (k, r) in troubled.iter().enumerate() {
        let head = section_head(r);
        let failed = FailedSection::new(r);
        // What is left, shared evenly by the sections still to come.
        let share = max_bytes.saturating_sub(out.len()) / (troubled.len() - k);
        let cap = share
            .checked_sub(head.len() + failed.overhead)
            .and_then(|avail| failed.cap_within(avail));
        match cap {
            Some(cap) => {
                out.push_str(&head);
                failed.push(&mut out, cap);
            }
            None => {
                let line = format!(
                    "- {}: {} ({} not shown: the summary is limited to {limit})\n",
                    inline_at_line_start(&r.pipeline, TEXT_CHARS),
                    outcome_name(&r.outcome),
                    plural(r.steps_failed(), "failed step", "failed steps"),
                );
                if out.len() + line.len() <= max_bytes {
                    out.push_str(&line);
                }
            }
        }
    }
    if out.len() > max_bytes {
        return headline_only(&f.runs[0], max_bytes);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CancelResult, PlatformKind, Step, sample};

    fn fleet() -> FleetReport {
        let mut ok = sample();
        ok.pipeline = "load-a".into();
        ok.outcome = Outcome::Succeeded;
        ok.status = Some("SUCCESS".into());
        ok.steps.truncate(1);
        let mut failed = sample();
        failed.pipeline = "load-b".into();
        let mut stopped = RunReport::new(PlatformKind::Matillion, "load-c");
        stopped.environment = Some("prod".into());
        stopped.outcome = Outcome::Stopped {
            cancel: CancelResult::Cancelled,
        };
        FleetReport {
            runs: vec![ok, failed, stopped],
            max_parallel: 4,
            fail_fast: true,
            rejected_requests: 0,
        }
    }

    #[test]
    fn headline_table_then_the_failed_steps() {
        let s = render_fleet(&fleet(), super::super::GITHUB_SUMMARY_LIMIT);
        let url = "https://app.matillion.com/observability-dashboard/pipeline/7c4c0f5e-0a1b-4a8e-9d3c-1f2e3d4c5b6a";
        let want = format!(
            "## ❌ 2 of 3 pipelines did not succeed\n\n\
             **Matillion** · project **Analytics** · 3 pipelines, at most 4 at a time (fail-fast)\n\n\
             | Pipeline | Outcome | Status | Duration | Steps | Failed steps | Run |\n\
             | --- | --- | --- | --- | --- | --- | --- |\n\
             | load-a (prod) | ✅\u{a0}succeeded | SUCCESS | 1m 30s | 1 | 0 | [open]({url}) |\n\
             | load-b (prod) | ❌\u{a0}failed | FAILED | 1m 30s | 2 | 1 | [open]({url}) |\n\
             | load-c (prod) | ⏹\u{a0}stopped |  |  |  |  |  |\n\n\
             ### ❌ load-b: failed\n\n\
             \"Load\": table missing\n\n\
             ### Failed steps\n\n\
             #### ❌ Load\n\n\
             FAILED · 1m 29s · child pipeline load-child\n\n\
             ```\ntable missing\n```\n\n\
             ### ⏹ load-c: stopped\n\n"
        );
        assert_eq!(s, want);
    }

    #[test]
    fn all_succeeded() {
        let mut f = fleet();
        for r in &mut f.runs {
            r.outcome = Outcome::Succeeded;
        }
        assert!(render_fleet(&f, 10_000).starts_with("## ✅ All 3 pipelines succeeded\n"));
    }

    #[test]
    fn never_over_the_budget() {
        let mut f = fleet();
        f.runs[1].steps = (0..3000)
            .map(|i| Step {
                name: format!("step {i}"),
                status: "FAILED".into(),
                failed: true,
                message: Some("x".repeat(2_000)),
                ..Step::default()
            })
            .collect();
        for budget in [200, 2_000, 20_000, 1_000_000] {
            let s = render_fleet(&f, budget);
            assert!(s.len() <= budget, "{budget}: {}", s.len());
            assert!(s.starts_with("## "), "{s}");
        }
        let s = render_fleet(&f, 20_000);
        assert!(s.contains("- load-b: failed (3000 failed steps not shown: the summary is limited to 20000 bytes)"), "{s}");
    }
}
