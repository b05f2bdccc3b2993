//! The GitHub job summary: GitHub-flavoured Markdown for `GITHUB_STEP_SUMMARY`.
//!
//! Layout: a headline with the outcome, a table of facts, the notes, the run's message
//! when it is long, every failed step with its whole message, then a table of all steps
//! (folded in `<details>` when there are many).
//!
//! Platform text is data, never Markup: single-line text goes through [`escape_inline`]
//! (HTML-significant characters and `|` as entities, Markdown punctuation backslash-escaped,
//! control characters as spaces); multi-line messages go in fenced code blocks whose fence
//! is longer than any backtick run inside.
//!
//! GitHub refuses a summary over 1 MiB and then shows nothing, so [`render`] never exceeds
//! its byte budget: it keeps every failed step (cutting their messages evenly if need be)
//! and drops successful rows from the table, saying how many it left out.

use super::{RunReport, Step, describe_cancel, humanize_duration, truncate_bytes};
use crate::model::Outcome;
use std::fmt::Write as _;

/// The budget for one step's summary: GitHub refuses more than 1 MiB (1,048,576 bytes);
/// this leaves room for anything else appended to the same step's summary.
pub const GITHUB_SUMMARY_LIMIT: usize = 1_000_000;

/// Above this many steps the table of all steps is folded.
const FOLD_AFTER_STEPS: usize = 20;
/// Characters of a step message shown in the table of all steps.
const CELL_MESSAGE_CHARS: usize = 120;
/// Characters of a name or fact shown on one line.
const TEXT_CHARS: usize = 300;
/// Notes shown, and characters of each.
const MAX_NOTES: usize = 20;
const NOTE_CHARS: usize = 500;
/// Bytes of the run's own message shown in its block.
const RUN_MESSAGE_BYTES: usize = 10_000;

/// Escapes one line of untrusted text for Markdown inline content (paragraphs, headings,
/// table cells). `& < > " ' |` become entities (`|` would split a table cell, and an
/// entity cannot); Markdown punctuation is backslash-escaped, as are `$` (GitHub renders
/// `$…$` as math), `.` (`1.` would start a list) and the characters that trigger GFM
/// autolinks (`:` of `http://`, `.` of `www.`, `@` of an e-mail address: inside an
/// autolink the backslashes would show); control characters become spaces. The raw text
/// is noisy (`05\:00`), the rendered text is exactly the input.
pub fn escape_inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        '\'' => out.push_str("&#39;"),
        '|' => out.push_str("&#124;"),
        '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '!' | '~' | '{'
        | '}' | '$' | '.' | ':' | '@' => {
            out.push('\\');
            out.push(c);
        }
        c if c.is_control() => out.push(' '),
        c => out.push(c),
    }
}

/// Appends untrusted text on one line (whitespace and control characters collapsed to
/// single spaces, ends trimmed), cut to `max_chars` with `…`, escaped. One pass and no
/// allocation, because it runs for every cell of a table that may have 30,000 rows.
fn push_inline(out: &mut String, s: &str, max_chars: usize) {
    let (mut count, mut pending_space) = (0, false);
    for c in s.chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = count > 0;
            continue;
        }
        let needed = if pending_space { 2 } else { 1 };
        if count + needed > max_chars {
            out.push('…');
            return;
        }
        if pending_space {
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        push_escaped(out, c);
        count += 1;
    }
}

/// Untrusted text on one line, cut to `max_chars`, escaped.
fn inline(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars * 2) + 8);
    push_inline(&mut out, s, max_chars);
    out
}

/// A multi-line message cleaned for a code block: line endings become `\n`, other control
/// characters (except tab) spaces.
fn clean_block(s: &str) -> String {
    let s = s.replace("\r\n", "\n").replace('\r', "\n");
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                ' '
            } else {
                c
            }
        })
        .collect::<String>()
        .trim_end()
        .to_string()
}

/// A backtick fence longer than any backtick run in `text` (at least three).
fn fence_for(text: &str) -> String {
    let (mut longest, mut run) = (0, 0);
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

fn code_block(out: &mut String, fence: &str, text: &str) {
    let _ = write!(out, "{fence}\n{text}\n{fence}\n\n");
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

fn headline(report: &RunReport) -> String {
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
    }
}

/// Headline, facts, notes and the run's long message: everything before the steps.
fn render_head(report: &RunReport) -> String {
    let mut out = String::new();
    let _ = write!(out, "## {}\n\n", headline(report));

    let mut subtitle = format!("**{}**", report.platform.display_name());
    if let Some(env) = non_empty(&report.environment) {
        let _ = write!(subtitle, " · environment **{}**", inline(env, TEXT_CHARS));
    }
    if let Some(version) = non_empty(&report.version) {
        let _ = write!(subtitle, " · version **{}**", inline(version, TEXT_CHARS));
    }
    let _ = write!(out, "{subtitle}\n\n");

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
        ("Steps", steps),
        ("Message", esc(report.message.as_deref())),
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
        Outcome::Interrupted { signal, cancel } => {
            facts.push(("Signal", esc(Some(signal.name()))));
            let what = capitalise(&describe_cancel(cancel, report.platform));
            facts.push(("After the interruption", esc(Some(&what))));
        }
        _ => {}
    }
    let facts: Vec<(&str, String)> = facts
        .into_iter()
        .filter_map(|(label, value)| value.map(|v| (label, v)))
        .collect();
    if !facts.is_empty() {
        out.push_str("| Fact | Value |\n| --- | --- |\n");
        for (label, value) in facts {
            let _ = writeln!(out, "| {label} | {value} |");
        }
        out.push('\n');
    }

    if !report.notes.is_empty() {
        for note in report.notes.iter().take(MAX_NOTES) {
            let _ = writeln!(out, "- {}", inline(note, NOTE_CHARS));
        }
        if report.notes.len() > MAX_NOTES {
            let _ = writeln!(out, "- … and {} more notes", report.notes.len() - MAX_NOTES);
        }
        out.push('\n');
    }

    // The facts table shows one line; a message with more to it is shown whole.
    if let Some(message) = non_empty(&report.message) {
        let clean = clean_block(message);
        if clean.contains('\n') || clean.chars().count() > TEXT_CHARS {
            let mut shown = truncate_bytes(&clean, RUN_MESSAGE_BYTES).to_string();
            if shown.len() < clean.len() {
                shown.push('…');
            }
            out.push_str("### Message\n\n");
            code_block(&mut out, &fence_for(&clean), &shown);
        }
    }
    out
}

fn status_icon(step: &Step) -> &'static str {
    if step.failed {
        return "❌";
    }
    let s = step.status.to_ascii_lowercase();
    if matches!(
        s.as_str(),
        "success" | "succeeded" | "successful" | "completed" | "complete" | "done" | "ok"
    ) {
        "✅"
    } else if s.contains("skip") {
        "⏭"
    } else if s.contains("cancel") {
        "⏹"
    } else if matches!(
        s.as_str(),
        "running" | "queued" | "pending" | "executing" | "in_progress"
    ) {
        "⏳"
    } else {
        "❔"
    }
}

/// Writes the table row of `step` into `out` (cleared first).
fn table_row(out: &mut String, step: &Step) {
    out.clear();
    out.push_str("| ");
    push_inline(out, &step.name, TEXT_CHARS);
    let _ = write!(out, " | {} ", status_icon(step));
    push_inline(out, &step.status, TEXT_CHARS);
    out.push_str(" | ");
    if let Some(d) = step.duration {
        out.push_str(&humanize_duration(d));
    }
    out.push_str(" | ");
    if let Some(m) = &step.message {
        push_inline(out, m, CELL_MESSAGE_CHARS);
    }
    out.push_str(" | ");
    if let Some(c) = &step.child_pipeline {
        push_inline(out, c, TEXT_CHARS);
    }
    out.push_str(" |\n");
}

/// One failed step, split so its message can be cut to fit.
struct FailedBlock {
    /// Heading and meta line.
    prefix: String,
    /// The cleaned message, if any; shown in a code block with `fence`.
    message: Option<String>,
    fence: String,
}

impl FailedBlock {
    fn new(step: &Step) -> Self {
        let mut prefix = format!("#### ❌ {}\n\n", inline(&step.name, TEXT_CHARS));
        let mut meta = vec![inline(&step.status, TEXT_CHARS)];
        if let Some(d) = step.duration {
            meta.push(humanize_duration(d));
        }
        if let Some(child) = non_empty(&step.child_pipeline) {
            meta.push(format!("child pipeline {}", inline(child, TEXT_CHARS)));
        }
        let _ = write!(prefix, "{}\n\n", meta.join(" · "));
        let message = non_empty(&step.message)
            .map(clean_block)
            .filter(|m| !m.is_empty());
        let fence = message.as_deref().map(fence_for).unwrap_or_default();
        Self {
            prefix,
            message,
            fence,
        }
    }

    /// Bytes besides the message itself.
    fn overhead(&self) -> usize {
        match self.message {
            Some(_) => self.prefix.len() + 2 * self.fence.len() + 4,
            None => self.prefix.len() + NO_MESSAGE.len(),
        }
    }

    fn message_len(&self) -> usize {
        self.message.as_ref().map_or(0, String::len)
    }

    /// Appends the block with its message cut to at most `cap` bytes (plus `…`).
    fn render(&self, out: &mut String, cap: usize) {
        out.push_str(&self.prefix);
        match &self.message {
            Some(m) if m.len() <= cap => code_block(out, &self.fence, m),
            Some(m) => {
                let shown = format!("{}…", truncate_bytes(m, cap));
                code_block(out, &self.fence, &shown);
            }
            None => out.push_str(NO_MESSAGE),
        }
    }
}

const NO_MESSAGE: &str = "No message.\n\n";
const ELLIPSIS_LEN: usize = '…'.len_utf8();

/// The largest per-message byte cap with which all messages fit in `avail` bytes (messages
/// shorter than the cap keep their full length), or None when even empty ones do not.
fn message_cap(blocks: &[FailedBlock], avail: usize) -> Option<usize> {
    let cost = |cap: usize| -> usize {
        blocks
            .iter()
            .map(|b| {
                let len = b.message_len();
                if len <= cap { len } else { cap + ELLIPSIS_LEN }
            })
            .sum()
    };
    let longest = blocks
        .iter()
        .map(FailedBlock::message_len)
        .max()
        .unwrap_or(0);
    if cost(longest) <= avail {
        return Some(longest);
    }
    if cost(0) > avail {
        return None;
    }
    // cost is monotonic in cap: binary search the largest cap that fits.
    let (mut lo, mut hi) = (0, longest);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if cost(mid) <= avail {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Some(lo)
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

/// The job summary for `report`, never longer than `max_bytes` (use
/// [`GITHUB_SUMMARY_LIMIT`]). Linear in the number of steps.
pub fn render(report: &RunReport, max_bytes: usize) -> String {
    let head = render_head(report);
    if head.len() > max_bytes {
        return headline_only(report, max_bytes);
    }
    let blocks: Vec<FailedBlock> = report.failed_steps().map(FailedBlock::new).collect();
    let failed_header = if blocks.is_empty() {
        ""
    } else {
        "### Failed steps\n\n"
    };
    let blocks_overhead: usize = blocks.iter().map(FailedBlock::overhead).sum();
    let limit = limit_label(max_bytes);

    // Plan A: the failed steps, and a table with every failed row and as many successful
    // rows as fit.
    if !report.steps.is_empty() {
        // Failed rows are always shown; successful ones are rendered only while they fit.
        let mut buf = String::with_capacity(256);
        let failed_rows: Vec<String> = report
            .failed_steps()
            .map(|s| {
                table_row(&mut buf, s);
                buf.clone()
            })
            .collect();
        let folded = report.steps.len() > FOLD_AFTER_STEPS;
        let mut table_open = String::from("### All steps\n\n");
        if folded {
            let _ = write!(
                table_open,
                "<details><summary>{} ({} failed)</summary>\n\n",
                plural(report.steps.len(), "step", "steps"),
                blocks.len()
            );
        }
        table_open.push_str(
            "| Step | Status | Duration | Message | Child pipeline |\n| --- | --- | --- | --- | --- |\n",
        );
        let table_close = if folded { "\n</details>\n\n" } else { "\n" };
        let omitted_line = |n: usize| {
            format!(
                "{} not shown (the summary is limited to {limit}).\n\n",
                plural(n, "successful step", "successful steps")
            )
        };
        let omitted_reserve = omitted_line(report.steps.len()).len();
        let failed_rows_len: usize = failed_rows.iter().map(String::len).sum();
        let fixed = head.len()
            + failed_header.len()
            + blocks_overhead
            + table_open.len()
            + table_close.len()
            + omitted_reserve
            + failed_rows_len;
        if let Some(cap) = max_bytes
            .checked_sub(fixed)
            .and_then(|avail| message_cap(&blocks, avail))
        {
            let mut out = String::with_capacity(max_bytes.min(fixed + report.steps.len() * 64));
            out.push_str(&head);
            out.push_str(failed_header);
            for b in &blocks {
                b.render(&mut out, cap);
            }
            let mut room = max_bytes.saturating_sub(
                out.len()
                    + table_open.len()
                    + table_close.len()
                    + omitted_reserve
                    + failed_rows_len,
            );
            out.push_str(&table_open);
            let mut omitted = 0;
            let mut failed_rows = failed_rows.iter();
            for step in &report.steps {
                if step.failed {
                    if let Some(row) = failed_rows.next() {
                        out.push_str(row);
                    }
                    continue;
                }
                if omitted == 0 {
                    table_row(&mut buf, step);
                }
                if omitted == 0 && buf.len() <= room {
                    room -= buf.len();
                    out.push_str(&buf);
                } else {
                    // Once one successful row is left out, so are all later ones: the
                    // table shows a prefix of the successful steps, which reads better
                    // than a sample with holes.
                    omitted += 1;
                }
            }
            out.push_str(table_close);
            if omitted > 0 {
                out.push_str(&omitted_line(omitted));
            }
            return out;
        }
    }

    // Plan B: the failed steps without the table.
    let no_table = if report.steps.is_empty() {
        String::new()
    } else {
        format!("The table of all steps is not shown (the summary is limited to {limit}).\n\n")
    };
    let fixed = head.len() + failed_header.len() + blocks_overhead + no_table.len();
    if let Some(cap) = max_bytes
        .checked_sub(fixed)
        .and_then(|avail| message_cap(&blocks, avail))
    {
        let mut out = String::with_capacity(fixed);
        out.push_str(&head);
        out.push_str(failed_header);
        for b in &blocks {
            b.render(&mut out, cap);
        }
        out.push_str(&no_table);
        return out;
    }

    // Plan C: the names of as many failed steps as fit.
    let mut out = head;
    out.push_str(failed_header);
    let more_reserve = format!(
        "{} not shown (the summary is limited to {limit}).\n",
        plural(blocks.len(), "more failed step", "more failed steps")
    )
    .len();
    let mut shown = 0;
    for step in report.failed_steps() {
        let line = format!("- ❌ {}\n", inline(&step.name, TEXT_CHARS));
        if out.len() + line.len() + more_reserve > max_bytes {
            break;
        }
        out.push_str(&line);
        shown += 1;
    }
    if shown < blocks.len() {
        let line = format!(
            "{} not shown (the summary is limited to {limit}).\n",
            plural(
                blocks.len() - shown,
                "more failed step",
                "more failed steps"
            )
        );
        if out.len() + line.len() <= max_bytes {
            out.push_str(&line);
        }
    }
    if out.len() > max_bytes {
        return headline_only(report, max_bytes);
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CancelResult, PlatformKind, sample};
    use comrak::nodes::{AstNode, NodeValue};
    use comrak::{Arena, Options, parse_document};
    use std::time::{Duration, Instant};

    fn gfm() -> Options<'static> {
        let mut o = Options::default();
        o.extension.table = true;
        o.extension.strikethrough = true;
        o.extension.autolink = true;
        o
    }

    /// The text of a node as a reader sees it (entities and escapes resolved).
    fn text_of<'a>(node: &'a AstNode<'a>) -> String {
        let mut s = String::new();
        for d in node.descendants() {
            match &d.data().value {
                NodeValue::Text(t) => s.push_str(t),
                NodeValue::Code(c) => s.push_str(&c.literal),
                NodeValue::SoftBreak | NodeValue::LineBreak => s.push(' '),
                _ => {}
            }
        }
        s
    }

    /// Every table in the document, as rows of cell texts (header row first).
    fn tables(md: &str) -> Vec<Vec<Vec<String>>> {
        let arena = Arena::new();
        let root = parse_document(&arena, md, &gfm());
        let mut out = Vec::new();
        for node in root.descendants() {
            if matches!(node.data().value, NodeValue::Table(_)) {
                let rows = node
                    .children()
                    .map(|row| row.children().map(text_of).collect())
                    .collect();
                out.push(rows);
            }
        }
        out
    }

    /// The raw HTML in the document (blocks and inline).
    fn raw_html(md: &str) -> Vec<String> {
        let arena = Arena::new();
        let root = parse_document(&arena, md, &gfm());
        root.descendants()
            .filter_map(|n| match &n.data().value {
                NodeValue::HtmlInline(h) => Some(h.clone()),
                NodeValue::HtmlBlock(b) => Some(b.literal.clone()),
                _ => None,
            })
            .collect()
    }

    fn code_blocks(md: &str) -> Vec<String> {
        let arena = Arena::new();
        let root = parse_document(&arena, md, &gfm());
        root.descendants()
            .filter_map(|n| match &n.data().value {
                NodeValue::CodeBlock(c) => Some(c.literal.clone()),
                _ => None,
            })
            .collect()
    }

    const HOSTILE: [&str; 12] = [
        "<script>alert(1)</script>",
        "| x |",
        "a\\|b",
        "**bold**",
        "`tick`",
        "[link](http://evil.example)",
        "![img](x.png)",
        "# not a heading &amp; $x$ ~~s~~ _e_ 1. {b}",
        "<details><summary>x</summary>",
        "see http://evil.example/a_b) now",
        "www.evil.example\\",
        "mail me@evil.example",
    ];

    fn hostile_report() -> RunReport {
        let mut r = sample();
        r.steps = HOSTILE
            .iter()
            .enumerate()
            .map(|(i, name)| Step {
                name: name.to_string(),
                status: if i == 0 { "FAILED" } else { "SUCCESS" }.into(),
                failed: i == 0,
                message: Some(format!("{name}\n</details>\n```\n::error::x")),
                child_pipeline: Some(name.to_string()),
                ..Step::default()
            })
            .collect();
        r
    }

    #[test]
    fn hostile_names_render_as_text() {
        let md = render(&hostile_report(), GITHUB_SUMMARY_LIMIT);
        let tables = tables(&md);
        assert_eq!(tables.len(), 2);
        let steps = &tables[1];
        assert_eq!(
            steps[0],
            ["Step", "Status", "Duration", "Message", "Child pipeline"]
        );
        assert_eq!(steps.len(), HOSTILE.len() + 1);
        for (row, name) in steps[1..].iter().zip(HOSTILE) {
            assert_eq!(row.len(), 5, "{row:?}");
            assert_eq!(row[0], name);
            assert_eq!(row[4], name);
            assert_eq!(row[3], format!("{name} </details> ``` ::error::x"));
        }
        for table in &tables {
            for row in table {
                assert_eq!(row.len(), table[0].len());
            }
        }
        let arena = Arena::new();
        let root = parse_document(&arena, &md, &gfm());
        let mut strong = 0;
        for node in root.descendants() {
            let v = &node.data().value;
            assert!(
                !matches!(
                    v,
                    NodeValue::Link(_)
                        | NodeValue::Image(_)
                        | NodeValue::Emph
                        | NodeValue::Strikethrough
                        | NodeValue::Code(_)
                ),
                "{v:?}"
            );
            strong += usize::from(matches!(v, NodeValue::Strong));
        }
        // Only the subtitle's own bold: platform and environment.
        assert_eq!(strong, 2);
        for html in raw_html(&md) {
            assert!(
                !html.contains("script") && !html.contains("details"),
                "raw html {html:?}"
            );
        }
        // The failed step's whole message is one code block, hostile fence and all.
        assert_eq!(
            code_blocks(&md),
            vec![format!("{}\n</details>\n```\n::error::x\n", HOSTILE[0])]
        );
    }

    #[test]
    fn escape_inline_exact() {
        assert_eq!(
            escape_inline("<a href='x'>|*_`[]()#+-!~{}$\\&\u{7}"),
            "&lt;a href=&#39;x&#39;&gt;&#124;\\*\\_\\`\\[\\]\\(\\)\\#\\+\\-\\!\\~\\{\\}\\$\\\\&amp; "
        );
        assert_eq!(
            escape_inline("1. see http://a.b www.c.d e@f.g"),
            "1\\. see http\\://a\\.b www\\.c\\.d e\\@f\\.g"
        );
    }

    #[test]
    fn fences_outgrow_backticks() {
        assert_eq!(fence_for("no ticks"), "```");
        assert_eq!(fence_for("a ```` b ` c"), "`````");
    }

    #[test]
    fn failure_snapshot() {
        let md = render(&sample(), GITHUB_SUMMARY_LIMIT);
        assert_eq!(
            md,
            "## ❌ Load orders failed

**Matillion** · environment **prod**

| Fact | Value |
| --- | --- |
| Execution id | 7c4c0f5e\\-0a1b\\-4a8e\\-9d3c\\-1f2e3d4c5b6a |
| Status | FAILED |
| Trigger | API |
| Started | 2026\\-11\\-22T05\\:00\\:00Z |
| Finished | 2026\\-11\\-22T05\\:01\\:30Z |
| Duration | 1m 30s |
| Steps | 2 (1 failed) |
| Message | &quot;Load&quot;\\: table missing |
| Project | Analytics |
| Overridden variables | region |

### Failed steps

#### ❌ Load

FAILED · 1m 29s · child pipeline load\\-child

```
table missing
```

### All steps

| Step | Status | Duration | Message | Child pipeline |
| --- | --- | --- | --- | --- |
| Start | ✅ SUCCESS | 1s |  |  |
| Load | ❌ FAILED | 1m 29s | table missing | load\\-child |

"
        );
    }

    #[test]
    fn success_snapshot() {
        let mut r = sample();
        r.outcome = Outcome::Succeeded;
        r.status = Some("SUCCESS".into());
        r.message = None;
        r.version = Some("v2".into());
        r.execution_tag = Some("ci-42".into());
        r.overridden_variables = vec!["region".into(), "day".into()];
        r.notes = vec!["Adopted the running execution started by tag ci-42.".into()];
        r.steps[1].failed = false;
        r.steps[1].status = "SUCCESS".into();
        r.steps[1].message = None;
        r.steps[1].child_pipeline = None;
        assert_eq!(
            render(&r, GITHUB_SUMMARY_LIMIT),
            "## ✅ Load orders succeeded

**Matillion** · environment **prod** · version **v2**

| Fact | Value |
| --- | --- |
| Execution id | 7c4c0f5e\\-0a1b\\-4a8e\\-9d3c\\-1f2e3d4c5b6a |
| Status | SUCCESS |
| Trigger | API |
| Started | 2026\\-11\\-22T05\\:00\\:00Z |
| Finished | 2026\\-11\\-22T05\\:01\\:30Z |
| Duration | 1m 30s |
| Steps | 2 |
| Execution tag | ci\\-42 |
| Project | Analytics |
| Overridden variables | region, day |

- Adopted the running execution started by tag ci\\-42\\.

### All steps

| Step | Status | Duration | Message | Child pipeline |
| --- | --- | --- | --- | --- |
| Start | ✅ SUCCESS | 1s |  |  |
| Load | ✅ SUCCESS | 1m 29s |  |  |

"
        );
    }

    #[test]
    fn timeout_snapshot() {
        let mut r = RunReport::new(PlatformKind::Datalab, "pl_orders");
        r.execution_id = Some("ex_1".into());
        r.outcome = Outcome::TimedOut {
            cancel: CancelResult::Unsupported,
        };
        r.status = Some("running".into());
        r.message = Some("step 2 of 3\nstill loading".into());
        r.duration = Some(Duration::from_secs(7500));
        r.steps = vec![Step {
            name: "extract".into(),
            status: "running".into(),
            ..Step::default()
        }];
        assert_eq!(
            render(&r, GITHUB_SUMMARY_LIMIT),
            "## ⏱ pl\\_orders timed out

**Datalab**

| Fact | Value |
| --- | --- |
| Execution id | ex\\_1 |
| Status | running |
| Duration | 2h 5m 0s |
| Steps | 1 |
| Message | step 2 of 3 still loading |
| After the timeout | The execution continues on Datalab |

### Message

```
step 2 of 3
still loading
```

### All steps

| Step | Status | Duration | Message | Child pipeline |
| --- | --- | --- | --- | --- |
| extract | ⏳ running |  |  |  |

"
        );
    }

    #[test]
    fn headlines() {
        let mut r = RunReport::new(PlatformKind::Matillion, "p");
        let head = |r: &RunReport| {
            render(r, GITHUB_SUMMARY_LIMIT)
                .lines()
                .next()
                .map(String::from)
        };
        r.outcome = Outcome::DryRun;
        assert_eq!(
            head(&r).as_deref(),
            Some("## 🔎 Dry run of p: every check passed, nothing was triggered")
        );
        r.outcome = Outcome::Triggered;
        assert_eq!(
            head(&r).as_deref(),
            Some("## 🚀 p was triggered (not waited for)")
        );
        r.outcome = Outcome::Refused {
            reason: "HTTP 401".into(),
        };
        let md = render(&r, GITHUB_SUMMARY_LIMIT);
        assert!(md.starts_with("## ❌ p was refused\n"));
        assert!(md.contains("| Reason | HTTP 401 |\n"));
        r.outcome = Outcome::Interrupted {
            signal: crate::clock::Signal::Int,
            cancel: CancelResult::Cancelled,
        };
        let md = render(&r, GITHUB_SUMMARY_LIMIT);
        assert!(md.starts_with("## ⏹ p was interrupted\n"));
        assert!(md.contains(
            "| Signal | SIGINT |\n| After the interruption | The execution was cancelled |\n"
        ));
    }

    fn many_steps(n: usize, every_failed: usize, message_bytes: usize) -> RunReport {
        let mut r = sample();
        r.steps = (0..n)
            .map(|i| {
                let failed = i % every_failed == every_failed - 1;
                Step {
                    name: format!("Step number {i} <with> | hostile `text`"),
                    status: if failed { "FAILED" } else { "SUCCESS" }.into(),
                    failed,
                    message: Some(if failed {
                        format!("failure {i}\n{}", "x".repeat(message_bytes))
                    } else {
                        format!("ok {i} all rows loaded into the target table")
                    }),
                    duration: Some(Duration::from_secs(i as u64)),
                    child_pipeline: Some(format!("child-{i}")),
                    ..Step::default()
                }
            })
            .collect();
        r
    }

    #[test]
    fn folds_long_tables() {
        let r = many_steps(25, 10, 10);
        let md = render(&r, GITHUB_SUMMARY_LIMIT);
        assert!(md.contains(
            "### All steps\n\n<details><summary>25 steps (2 failed)</summary>\n\n| Step |"
        ));
        assert!(md.ends_with("\n\n</details>\n\n"));
        assert_eq!(tables(&md)[1].len(), 26);
        assert!(!md.contains("not shown"));
    }

    #[test]
    fn thirty_thousand_steps_fit_the_cap() {
        let r = many_steps(30_000, 100, 2_000);
        let start = Instant::now();
        let md = render(&r, GITHUB_SUMMARY_LIMIT);
        let elapsed = start.elapsed();
        assert!(md.len() <= GITHUB_SUMMARY_LIMIT, "{} bytes", md.len());
        // Linear time: a few milliseconds in release; debug builds are much slower.
        eprintln!("rendered 30,000 steps in {elapsed:?}");
        let budget = if cfg!(debug_assertions) { 5_000 } else { 100 };
        assert!(elapsed < Duration::from_millis(budget), "{elapsed:?}");

        let tables = tables(&md);
        let rows = &tables[1][1..];
        let failed_rows = rows.iter().filter(|r| r[1] == "❌ FAILED").count();
        assert_eq!(failed_rows, 300);
        let shown_ok = rows.len() - failed_rows;
        assert!(shown_ok > 1000, "{shown_ok}");
        assert!(md.contains(&format!(
            "\n{} successful steps not shown (the summary is limited to 1 MiB).\n",
            29_700 - shown_ok
        )));
        // Every failed step keeps its whole message.
        let blocks = code_blocks(&md);
        assert_eq!(blocks.len(), 300);
        assert!(blocks.iter().all(|b| b.len() > 2_000 && !b.contains('…')));
        assert!(md.contains("#### ❌ Step number 29999 &lt;with&gt; &#124; hostile \\`text\\`\n"));
    }

    #[test]
    fn failed_messages_are_cut_evenly_when_they_do_not_fit() {
        let r = many_steps(1_000, 10, 50_000);
        let md = render(&r, GITHUB_SUMMARY_LIMIT);
        assert!(md.len() <= GITHUB_SUMMARY_LIMIT);
        let blocks = code_blocks(&md);
        assert_eq!(blocks.len(), 100);
        assert!(blocks.iter().all(|b| b.ends_with("…\n") && b.len() > 3_000));
        // All failed rows are in the table; successful ones are dropped.
        let rows = &tables(&md)[1];
        assert_eq!(rows.len(), 1 + 100 + (900 - not_shown(&md)));
    }

    fn not_shown(md: &str) -> usize {
        md.lines()
            .find_map(|l| l.split_once(" successful steps not shown"))
            .and_then(|(n, _)| n.parse().ok())
            .unwrap_or(0)
    }

    #[test]
    fn small_budgets_degrade_but_stay_valid() {
        let r = many_steps(200, 10, 500);
        for max in [
            0, 10, 100, 1_000, 1_500, 2_000, 3_000, 5_000, 10_000, 20_000,
        ] {
            let md = render(&r, max);
            assert!(md.len() <= max, "{max}: {} bytes", md.len());
            assert!(std::str::from_utf8(md.as_bytes()).is_ok());
        }
        // With 20 KB every failed step is still there, without the table.
        let md = render(&r, 20_000);
        assert_eq!(code_blocks(&md).len(), 20);
        // With 3 KB every failed step is there, messages cut to a few bytes.
        let md = render(&r, 3_000);
        let blocks = code_blocks(&md);
        assert_eq!(blocks.len(), 20);
        assert!(blocks.iter().all(|b| b.ends_with("…\n")));
        // With 1.5 KB only some names fit, and the rest are counted.
        let md = render(&r, 1_500);
        assert!(md.contains("### Failed steps\n\n- ❌ Step number 9 &lt;with&gt;"));
        assert!(
            md.contains(" more failed steps not shown (the summary is limited to 1500 bytes).\n")
        );
    }
}
