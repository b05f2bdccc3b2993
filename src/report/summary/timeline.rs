//! The timeline: a Mermaid `gantt` of the steps for the job summary (GitHub renders
//! Mermaid code blocks), failed steps marked `crit`, successful ones `done`, running ones
//! `active`.
//!
//! Times are absolute (`dateFormat x`, milliseconds since the epoch), so the axis reads
//! in the viewer's own time zone. Only timed steps are drawn: a start time that parses,
//! and an end (the finish time, else start + duration). At most [`MAX_TIMELINE_STEPS`]
//! bars: beyond that, the longest ones (that is where the time went), in start order,
//! and a line under the chart says so.
//!
//! Step names are data, never diagram text: [`task_name`] keeps letters, digits, spaces
//! and `- _ . , ( ) / + '` (everything else becomes a space), so no `:` (task data), `;`
//! or `#` (end of data, comments), `%` (comments, `%%{init}%%` directives), backtick (the
//! fence), `{}`, `<>`, quotes or line break survives; and a name that starts like one of
//! the diagram's keywords (`click`, `title`, `section`, `dateFormat`, …) or like a date
//! is prefixed with `step `, so the lexer reads it as a task name.

use crate::report::{Step, humanize_duration};
use crate::timefmt::parse_rfc3339;
use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

/// The most bars drawn; beyond it, the longest steps.
pub(crate) const MAX_TIMELINE_STEPS: usize = 50;
/// Characters of a step name kept in a bar's label.
const NAME_CHARS: usize = 60;

/// Words the gantt lexer reads as keywords at the start of a line (case-insensitive).
const KEYWORDS: [&str; 19] = [
    "acctitle",
    "accdescr",
    "href",
    "call",
    "click",
    "gantt",
    "dateformat",
    "inclusiveenddates",
    "topaxis",
    "axisformat",
    "tickinterval",
    "includes",
    "excludes",
    "todaymarker",
    "weekday",
    "weekend",
    "title",
    "section",
    "displaymode",
];

/// One bar: the step's index, start and end in milliseconds since the epoch.
struct Bar<'a> {
    step: &'a Step,
    start: u64,
    end: u64,
}

fn millis(t: std::time::SystemTime) -> Option<u64> {
    u64::try_from(t.duration_since(UNIX_EPOCH).ok()?.as_millis()).ok()
}

fn bar(step: &Step) -> Option<Bar<'_>> {
    let start_t = parse_rfc3339(step.started_at.as_deref()?)?;
    let end_t = match step.finished_at.as_deref().and_then(parse_rfc3339) {
        Some(t) => t,
        None => start_t.checked_add(step.duration?)?,
    };
    let (start, end) = (millis(start_t)?, millis(end_t)?);
    // A bar of zero width would not show; one millisecond does no harm.
    (end >= start).then(|| Bar {
        step,
        start,
        end: end.max(start + 1),
    })
}

/// A step name as a gantt task's label: a safe alphabet, on one line, cut, never empty,
/// never read as a keyword or a date (see the module documentation).
fn task_name(name: &str, index: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    for c in name.chars() {
        let keep = c.is_alphanumeric()
            || matches!(c, '-' | '_' | '.' | ',' | '(' | ')' | '/' | '+' | '\'');
        let c = if keep { c } else { ' ' };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        if count == NAME_CHARS {
            break;
        }
        out.push(c);
        count += 1;
    }
    let out = out.trim_end().to_string();
    if out.is_empty() {
        return format!("step {}", index + 1);
    }
    let lower = out.to_lowercase();
    let risky = KEYWORDS.iter().any(|k| lower.starts_with(k))
        || out.starts_with(|c: char| c.is_ascii_digit());
    if risky { format!("step {out}") } else { out }
}

fn tag(step: &Step) -> &'static str {
    match super::steps::status_icon(step) {
        "❌" => "crit, ",
        "✅" => "done, ",
        "⏳" => "active, ",
        _ => "",
    }
}

/// The `### Timeline` section for `steps`, or nothing when no step is timed.
pub(super) fn render(steps: &[Step]) -> String {
    let mut bars: Vec<(usize, Bar)> = steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| bar(s).map(|b| (i, b)))
        .collect();
    if bars.is_empty() {
        return String::new();
    }
    let timed = bars.len();
    if timed > MAX_TIMELINE_STEPS {
        // The longest steps, earliest first among equals; then back in start order.
        bars.sort_by(|(ia, a), (ib, b)| (b.end - b.start).cmp(&(a.end - a.start)).then(ia.cmp(ib)));
        bars.truncate(MAX_TIMELINE_STEPS);
    }
    bars.sort_by(|(ia, a), (ib, b)| a.start.cmp(&b.start).then(ia.cmp(ib)));
    let mut out = String::from(
        "### Timeline\n\n```mermaid\ngantt\n    dateFormat x\n    axisFormat %H:%M:%S\n",
    );
    for (i, b) in &bars {
        let _ = writeln!(
            out,
            "    {}: {}s{i}, {}, {}",
            task_name(&b.step.name, *i),
            tag(b.step),
            b.start,
            b.end
        );
    }
    out.push_str("```\n\n");
    if timed > MAX_TIMELINE_STEPS {
        let shortest = bars
            .iter()
            .map(|(_, b)| Duration::from_millis(b.end - b.start))
            .min()
            .unwrap_or_default();
        let _ = write!(
            out,
            "The {MAX_TIMELINE_STEPS} longest of {timed} timed steps (each {} or more).\n\n",
            humanize_duration(shortest)
        );
    }
    out
}
