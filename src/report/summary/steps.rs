//! The steps in the job summary: a block for each failed step (its message cut to a
//! common cap when the budget is short) and the table of all steps.

use super::markdown::{clean_block, code_block, fence_for, inline, push_inline};
use super::{TEXT_CHARS, non_empty, plural};
use crate::report::{RunReport, Step, humanize_duration, truncate_bytes};
use std::fmt::Write as _;

/// Above this many steps the table of all steps is folded.
const FOLD_AFTER_STEPS: usize = 20;
/// Characters of a step message shown in the table of all steps.
const CELL_MESSAGE_CHARS: usize = 120;

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

/// Every failed step as a block: the section's header, and the blocks with their
/// messages cut to a common cap.
pub(super) struct FailedSection {
    pub(super) header: &'static str,
    blocks: Vec<FailedBlock>,
    /// Bytes of the section besides the messages themselves.
    pub(super) overhead: usize,
}

impl FailedSection {
    pub(super) fn new(report: &RunReport) -> Self {
        let blocks: Vec<FailedBlock> = report.failed_steps().map(FailedBlock::new).collect();
        let header = if blocks.is_empty() {
            ""
        } else {
            "### Failed steps\n\n"
        };
        let overhead = header.len() + blocks.iter().map(FailedBlock::overhead).sum::<usize>();
        Self {
            header,
            blocks,
            overhead,
        }
    }

    /// How many failed steps there are.
    pub(super) fn count(&self) -> usize {
        self.blocks.len()
    }

    /// The largest message cap with which the section fits in `avail` bytes.
    pub(super) fn cap_within(&self, avail: usize) -> Option<usize> {
        message_cap(&self.blocks, avail)
    }

    /// Appends the section with every message cut to at most `cap` bytes.
    pub(super) fn push(&self, out: &mut String, cap: usize) {
        out.push_str(self.header);
        for b in &self.blocks {
            b.render(out, cap);
        }
    }
}

/// The table of all steps: every failed row, and successful rows while they fit.
pub(super) struct StepsTable<'a> {
    /// Heading, `<details>` when folded, and the header row.
    open: String,
    close: &'static str,
    /// The failed rows, rendered up front: they are always shown.
    failed_rows: Vec<String>,
    /// Room kept for the line that says how many rows were left out.
    omitted_reserve: usize,
    limit: &'a str,
}

impl<'a> StepsTable<'a> {
    pub(super) fn new(report: &RunReport, limit: &'a str) -> Self {
        let mut buf = String::with_capacity(256);
        let failed_rows: Vec<String> = report
            .failed_steps()
            .map(|s| {
                table_row(&mut buf, s);
                buf.clone()
            })
            .collect();
        let folded = report.steps.len() > FOLD_AFTER_STEPS;
        let mut open = String::from("### All steps\n\n");
        if folded {
            let _ = write!(
                open,
                "<details><summary>{} ({} failed)</summary>\n\n",
                plural(report.steps.len(), "step", "steps"),
                failed_rows.len()
            );
        }
        open.push_str(
            "| Step | Status | Duration | Message | Child pipeline |\n| --- | --- | --- | --- | --- |\n",
        );
        let mut table = Self {
            open,
            close: if folded { "\n</details>\n\n" } else { "\n" },
            failed_rows,
            omitted_reserve: 0,
            limit,
        };
        table.omitted_reserve = table.omitted_line(report.steps.len()).len();
        table
    }

    fn omitted_line(&self, n: usize) -> String {
        format!(
            "{} not shown (the summary is limited to {}).\n\n",
            plural(n, "successful step", "successful steps"),
            self.limit
        )
    }

    /// Bytes of the table whatever the successful rows: frame, failed rows, reserve.
    pub(super) fn fixed_len(&self) -> usize {
        self.open.len()
            + self.close.len()
            + self.omitted_reserve
            + self.failed_rows.iter().map(String::len).sum::<usize>()
    }

    /// Appends the table, with successful rows in at most `room` bytes.
    pub(super) fn push(&self, out: &mut String, steps: &[Step], mut room: usize) {
        out.push_str(&self.open);
        let mut buf = String::with_capacity(256);
        let mut omitted = 0;
        let mut failed_rows = self.failed_rows.iter();
        for step in steps {
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
        out.push_str(self.close);
        if omitted > 0 {
            out.push_str(&self.omitted_line(omitted));
        }
    }
}
