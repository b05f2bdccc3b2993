//! The GitHub job summary: GitHub-flavoured Markdown for `GITHUB_STEP_SUMMARY`.
//!
//! Layout: a headline with the outcome (and a link to the execution in the platform's web
//! app, when it has one), a table of facts, the notes, the run's message when it is long,
//! every failed step with its whole message, a timeline of the steps (a Mermaid `gantt`,
//! `timeline`), then a table of all steps (folded in `<details>` when there are many).
//!
//! The run's message is shown once: as a fact when it is short, in its own block when it
//! is long, and not at all when it only repeats a failed step's message (Matillion's run
//! message is `"<step>": <step message>`), which the failed step's block shows.
//!
//! Platform text is data, never markup: the escaping is in `markdown` (single-line text
//! escaped where it would change the rendering, multi-line messages in fenced code
//! blocks); the timeline keeps step names to a safe alphabet.
//!
//! GitHub refuses a summary over 1 MiB and then shows nothing, so [`render`] never exceeds
//! its byte budget: it keeps every failed step (cutting their messages evenly if need be)
//! and drops successful rows from the table, saying how many it left out.

mod artifact;
mod fleet;
mod markdown;
mod steps;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_readable;
mod timeline;

use super::{RunReport, describe_cancel, humanize_duration, truncate_bytes};
use crate::model::Outcome;
use crate::text::{one_line, one_line_chars};
use markdown::{clean_block, code_block, fence_for, inline, inline_at_line_start};
use std::fmt::Write as _;
use steps::{FailedSection, StepsTable};

pub(crate) use artifact::{render_artifact, size};
pub(crate) use fleet::render_fleet;

/// The budget for one step's summary: GitHub refuses more than 1 MiB (1,048,576 bytes);
/// this leaves room for anything else appended to the same step's summary.
pub(crate) const GITHUB_SUMMARY_LIMIT: usize = 1_000_000;

/// Characters of a name or fact shown on one line.
const TEXT_CHARS: usize = 300;
/// Notes shown, and characters of each.
const MAX_NOTES: usize = 20;
const NOTE_CHARS: usize = 500;
/// Bytes of the run's own message shown in its block.
const RUN_MESSAGE_BYTES: usize = 10_000;

/// The job summary for `report`, never longer than `max_bytes` (use
/// [`GITHUB_SUMMARY_LIMIT`]). Linear in the number of steps.
///
/// The first layout that fits wins: the failed steps and the table of all steps; the
/// failed steps alone; the names of as many failed steps as fit; the headline alone.
pub(crate) fn render(report: &RunReport, max_bytes: usize) -> String {
    let head = render_head(report);
    if head.len() > max_bytes {
        return headline_only(report, max_bytes);
    }
    let layout = Layout {
        report,
        head,
        failed: FailedSection::new(report),
        timeline: timeline::render(&report.steps),
        max_bytes,
        limit: limit_label(max_bytes),
    };
    layout
        .with_table()
        .or_else(|| layout.without_table())
        .unwrap_or_else(|| layout.failed_names())
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.trim().is_empty())
}

/// The headline, with a link to the execution's page when there is one.
fn headline(report: &RunReport) -> String {
    let mut line = outcome_line(report);
    if let Some(url) = crate::links::execution_url_of(report) {
        // The URL is made of a fixed prefix and an id of `A-Za-z0-9-_.` (see `links`):
        // nothing in it can end the link.
        let _ = write!(
            line,
            " · [open in {}]({url})",
            report.platform.display_name()
        );
    }
    line
}

fn outcome_line(report: &RunReport) -> String {
    let p = inline(&report.pipeline, TEXT_CHARS);
    match &report.outcome {
        Outcome::Succeeded => format!("✅ {p} succeeded"),
        Outcome::Failed => format!("❌ {p} failed"),
        Outcome::Refused { .. } => format!("❌ {p} was refused"),
        Outcome::TimedOut { .. } => format!("⏱ {p} timed out"),
        Outcome::Interrupted { .. } => format!("⏹ {p} was interrupted"),
        Outcome::Triggered => format!("🚀 {p} was triggered (not waited for)"),
        Outcome::DryRun => format!("🔎 Dry run of {p}: every check passed, nothing was triggered"),
        Outcome::CancelRequested => format!("⏹ Cancel requested for {p}"),
        Outcome::Stopped { .. } => format!("⏹ {p} was stopped (another pipeline failed)"),
        Outcome::Running => format!("⏳ {p} is still running"),
    }
}

/// Headline, facts, notes and the run's long message: everything before the steps.
fn render_head(report: &RunReport) -> String {
    let mut out = String::new();
    let _ = write!(out, "## {}\n\n", headline(report));
    let _ = write!(out, "{}\n\n", subtitle(report));
    push_facts(&mut out, report);
    push_notes(&mut out, &report.notes);
    push_long_message(&mut out, report);
    out
}

/// The platform in bold, then the environment and the version when known.
fn subtitle(report: &RunReport) -> String {
    let mut subtitle = format!("**{}**", report.platform.display_name());
    if let Some(env) = non_empty(&report.environment) {
        let _ = write!(subtitle, " · environment **{}**", inline(env, TEXT_CHARS));
    }
    if let Some(version) = non_empty(&report.version) {
        let _ = write!(subtitle, " · version **{}**", inline(version, TEXT_CHARS));
    }
    subtitle
}

/// The table of facts (those that are known), if there is any.
fn push_facts(out: &mut String, report: &RunReport) {
    let facts = facts(report);
    if !facts.is_empty() {
        out.push_str("| Fact | Value |\n| --- | --- |\n");
        for (label, value) in facts {
            let _ = writeln!(out, "| {label} | {value} |");
        }
        out.push('\n');
    }
}

/// The known facts of the run, in table order, as (label, escaped value).
fn facts(report: &RunReport) -> Vec<(&'static str, String)> {
    // Values are escaped here, except the ones this program writes (durations, counts).
    let esc = |v: Option<&str>| {
        v.filter(|v| !v.trim().is_empty())
            .map(|v| inline(v, TEXT_CHARS))
    };
    let steps = (!report.steps.is_empty()).then(|| match report.steps_failed() {
        0 => format!("{}", report.steps.len()),
        n => format!("{} ({n} failed)", report.steps.len()),
    });
    let variables = report.overridden_variables.join(", ");
    let mut facts: Vec<(&str, Option<String>)> = vec![
        ("Execution id", esc(report.execution_id.as_deref())),
        ("Status", esc(report.status.as_deref())),
        ("Trigger", esc(report.trigger.as_deref())),
        ("Started", esc(report.started_at.as_deref())),
        ("Finished", esc(report.finished_at.as_deref())),
        ("Duration", report.duration.map(humanize_duration)),
        ("Against past runs", super::against_history(report)),
        ("Steps", steps),
        ("Message", esc(short_message(report))),
        ("Execution tag", esc(report.execution_tag.as_deref())),
        ("Project", esc(report.project.as_deref())),
        ("Overridden variables", esc(Some(&variables))),
    ];
    match &report.outcome {
        Outcome::Refused { reason } => facts.push(("Reason", esc(Some(reason)))),
        Outcome::TimedOut { cancel } => {
            let what = capitalise(&describe_cancel(cancel, report.platform));
            facts.push(("After the timeout", esc(Some(&what))));
        }
        Outcome::Stopped { cancel } => {
            let what = capitalise(&describe_cancel(cancel, report.platform));
            facts.push(("After fail-fast", esc(Some(&what))));
        }
        Outcome::Interrupted { signal, cancel } => {
            facts.push(("Signal", esc(Some(signal.name()))));
            let what = capitalise(&describe_cancel(cancel, report.platform));
            facts.push(("After the interruption", esc(Some(&what))));
        }
        _ => {}
    }
    facts
        .into_iter()
        .filter_map(|(label, value)| value.map(|v| (label, v)))
        .collect()
}

/// The notes as a list, at most [`MAX_NOTES`] of them.
fn push_notes(out: &mut String, notes: &[String]) {
    if !notes.is_empty() {
        for note in notes.iter().take(MAX_NOTES) {
            let _ = writeln!(out, "- {}", inline_at_line_start(note, NOTE_CHARS));
        }
        if notes.len() > MAX_NOTES {
            let _ = writeln!(out, "- … and {} more notes", notes.len() - MAX_NOTES);
        }
        out.push('\n');
    }
}

/// The run's message, unless it only repeats a failed step's: the message itself, or
/// `"<step name>": <message>` (compared on one line).
fn run_message(report: &RunReport) -> Option<&str> {
    let message = non_empty(&report.message)?;
    let run = one_line(message);
    // Compared character by character, stopping at the first difference: a run with
    // thousands of long step messages costs a few characters each, not a copy of each.
    let same = |chars: &mut dyn Iterator<Item = char>| chars.eq(run.chars());
    let repeats = report.failed_steps().any(|step| {
        non_empty(&step.message).is_some_and(|m| {
            same(&mut one_line_chars(m))
                || same(
                    &mut "\""
                        .chars()
                        .chain(one_line_chars(&step.name))
                        .chain("\": ".chars())
                        .chain(one_line_chars(m)),
                )
        })
    });
    (!repeats).then_some(message)
}

/// Whether a message is too long for the facts table: a line break, or more than
/// [`TEXT_CHARS`] characters.
fn is_long(message: &str) -> bool {
    let clean = clean_block(message);
    clean.contains('\n') || clean.chars().count() > TEXT_CHARS
}

/// The run's message for the facts table: shown there when it is short.
fn short_message(report: &RunReport) -> Option<&str> {
    run_message(report).filter(|m| !is_long(m))
}

/// The run's message in a code block, when it is too long for the facts table.
fn push_long_message(out: &mut String, report: &RunReport) {
    if let Some(message) = run_message(report).filter(|m| is_long(m)) {
        let clean = clean_block(message);
        let mut shown = truncate_bytes(&clean, RUN_MESSAGE_BYTES).to_string();
        if shown.len() < clean.len() {
            shown.push('…');
        }
        out.push_str("### Message\n\n");
        code_block(out, &fence_for(&clean), &shown);
    }
}

/// What [`render`] lays out within its budget, and the layouts it tries in turn.
struct Layout<'a> {
    report: &'a RunReport,
    head: String,
    failed: FailedSection,
    /// The timeline section, or empty.
    timeline: String,
    max_bytes: usize,
    limit: String,
}

impl Layout<'_> {
    /// The failed steps, and a table with every failed row and as many successful rows
    /// as fit; `None` when there are no steps or even the failed rows do not fit.
    fn with_table(&self) -> Option<String> {
        let steps = &self.report.steps;
        if steps.is_empty() {
            return None;
        }
        let table = StepsTable::new(self.report, &self.limit);
        let fixed =
            self.head.len() + self.failed.overhead + self.timeline.len() + table.fixed_len();
        let cap = self
            .max_bytes
            .checked_sub(fixed)
            .and_then(|avail| self.failed.cap_within(avail))?;
        let mut out = String::with_capacity(self.max_bytes.min(fixed + steps.len() * 64));
        out.push_str(&self.head);
        self.failed.push(&mut out, cap);
        out.push_str(&self.timeline);
        let room = self.max_bytes.saturating_sub(out.len() + table.fixed_len());
        table.push(&mut out, steps, room);
        Some(out)
    }

    /// The failed steps without the table; `None` when even empty messages do not fit.
    fn without_table(&self) -> Option<String> {
        let no_table = if self.report.steps.is_empty() {
            String::new()
        } else {
            format!(
                "The table of all steps is not shown (the summary is limited to {}).\n\n",
                self.limit
            )
        };
        let fixed = self.head.len() + self.failed.overhead + no_table.len();
        let cap = self
            .max_bytes
            .checked_sub(fixed)
            .and_then(|avail| self.failed.cap_within(avail))?;
        let mut out = String::with_capacity(fixed);
        out.push_str(&self.head);
        self.failed.push(&mut out, cap);
        out.push_str(&no_table);
        Some(out)
    }

    /// The names of as many failed steps as fit, else the headline alone.
    fn failed_names(&self) -> String {
        let not_shown = |n: usize| {
            format!(
                "{} not shown (the summary is limited to {}).\n",
                plural(n, "more failed step", "more failed steps"),
                self.limit
            )
        };
        let failed = self.failed.count();
        let more_reserve = not_shown(failed).len();
        let mut out = self.head.clone();
        out.push_str(self.failed.header);
        let mut shown = 0;
        for step in self.report.failed_steps() {
            let line = format!("- ❌ {}\n", inline(&step.name, TEXT_CHARS));
            if out.len() + line.len() + more_reserve > self.max_bytes {
                break;
            }
            out.push_str(&line);
            shown += 1;
        }
        if shown < failed {
            let line = not_shown(failed - shown);
            if out.len() + line.len() <= self.max_bytes {
                out.push_str(&line);
            }
        }
        if out.len() > self.max_bytes {
            return headline_only(self.report, self.max_bytes);
        }
        out
    }
}

fn limit_label(max_bytes: usize) -> String {
    if max_bytes >= GITHUB_SUMMARY_LIMIT {
        "1 MiB".to_string()
    } else {
        format!("{max_bytes} bytes")
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The last resort for a tiny budget: the headline, cut to fit.
fn headline_only(report: &RunReport, max_bytes: usize) -> String {
    let line = format!("## {}\n", headline(report));
    if line.len() <= max_bytes {
        line
    } else {
        truncate_bytes(&line, max_bytes).to_string()
    }
}
