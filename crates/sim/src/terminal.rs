//! The demo's job summary for a terminal: the JSON result that `pipeline-run` wrote
//! (`result-file`), rendered as plain text: the headline, the facts, the failed steps with
//! their messages, and a table of the steps. No Markdown syntax, and no control character
//! from the platform reaches the terminal (they become spaces), so a hostile step name
//! cannot move the cursor or change colours.
//!
//! The simulator does not depend on the product: this reads the documented JSON shape.

use serde_json::Value;
use std::fmt::Write as _;

/// Characters of a step name in the table.
const NAME_CHARS: usize = 40;
/// Lines of a failed step's message shown.
const MESSAGE_LINES: usize = 12;
/// Characters of one message line shown.
const LINE_CHARS: usize = 160;

/// `s` with control characters (escape sequences, line breaks) as spaces, cut to
/// `max_chars` with `…`.
fn clean(s: &str, max_chars: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max_chars)
        .collect();
    if s.chars().count() > max_chars {
        out.push('…');
    }
    out
}

/// Seconds as people read them: `<0.1s`, `0.4s`, `45s`, `1m 30s`, `2h 5m 0s`.
pub fn duration(secs: f64) -> String {
    if secs <= 0.0 {
        return "0s".into();
    }
    if secs < 0.1 {
        return "<0.1s".into();
    }
    if secs < 1.0 {
        return format!("0.{}s", ((secs * 10.0) as u64).min(9));
    }
    let s = secs as u64;
    let (h, m, s) = (s / 3600, (s % 3600) / 60, s % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m {s}s"),
    }
}

/// The run against its past successful runs, from the result's `history`: "about as long
/// as the median of the last 8 successful runs (6s)"; `None` when they were not compared.
fn against_history(h: &Value) -> Option<String> {
    let n = h.get("successful_runs")?.as_u64()?;
    let median = h.get("median_seconds")?.as_f64()?;
    let change = h.get("change_percent")?.as_i64()?;
    let how = match change {
        -5..=5 => "about as long as".to_string(),
        c if c > 0 => format!("{c}% longer than"),
        c => format!("{}% shorter than", c.unsigned_abs()),
    };
    Some(format!(
        "{how} the median of the last {n} successful runs ({})",
        duration(median)
    ))
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn icon(step: &Value) -> &'static str {
    if step.get("failed").and_then(Value::as_bool) == Some(true) {
        return "❌";
    }
    match str_of(step, "status")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("success" | "succeeded" | "completed" | "complete" | "done" | "ok") => "✅",
        Some(s) if s.contains("skip") => "⏭",
        Some(s) if s.contains("cancel") => "⏹",
        Some("running" | "queued" | "pending" | "executing" | "in_progress") => "⏳",
        _ => "❔",
    }
}

fn headline(doc: &Value) -> String {
    let p = clean(str_of(doc, "pipeline").unwrap_or("?"), 120);
    let kind = doc
        .get("outcome")
        .and_then(|o| str_of(o, "kind"))
        .unwrap_or("");
    match kind {
        "succeeded" => format!("✅ {p} succeeded"),
        "failed" => format!("❌ {p} failed"),
        "refused" => format!("❌ {p} was refused"),
        "timed-out" => format!("⏱ {p} timed out"),
        "interrupted" => format!("⏹ {p} was interrupted"),
        "triggered" => format!("🚀 {p} was triggered (not waited for)"),
        "dry-run" => format!("🔎 Dry run of {p}: nothing was triggered"),
        other => format!("{p}: {}", clean(other, 40)),
    }
}

/// Whether the run's message only repeats a failed step's (`"<step>": <message>`).
fn repeats_a_failed_step(doc: &Value, steps: &[Value]) -> bool {
    let Some(run) = str_of(doc, "message").map(one_line) else {
        return false;
    };
    steps.iter().filter(|s| s["failed"] == true).any(|s| {
        str_of(s, "message").is_some_and(|m| {
            let m = one_line(m);
            let name = one_line(str_of(s, "name").unwrap_or(""));
            run == m || run == format!("\"{name}\": {m}")
        })
    })
}

/// The summary of the JSON result `doc` for a terminal.
pub fn render(doc: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", headline(doc));
    if let Some(url) = str_of(doc, "execution_url") {
        let _ = writeln!(out, "   {}", clean(url, 300));
    }
    out.push('\n');
    let steps: Vec<Value> = doc
        .get("steps")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let failed: Vec<&Value> = steps.iter().filter(|s| s["failed"] == true).collect();
    let mut facts: Vec<(&str, String)> = Vec::new();
    for (label, key) in [
        ("Platform", "platform"),
        ("Environment", "environment"),
        ("Execution id", "execution_id"),
        ("Status", "status"),
        ("Started", "started_at"),
        ("Finished", "finished_at"),
    ] {
        if let Some(v) = str_of(doc, key) {
            facts.push((label, clean(v, 200)));
        }
    }
    if let Some(d) = doc.get("duration_seconds").and_then(Value::as_f64) {
        facts.push(("Duration", duration(d)));
    }
    if !steps.is_empty() {
        facts.push((
            "Steps",
            format!("{} ({} failed)", steps.len(), failed.len()),
        ));
    }
    if let Some(m) = str_of(doc, "message").filter(|_| !repeats_a_failed_step(doc, &steps)) {
        facts.push(("Message", clean(&one_line(m), 300)));
    }
    if let Some(r) = doc.get("outcome").and_then(|o| str_of(o, "reason")) {
        facts.push(("Reason", clean(&one_line(r), 300)));
    }
    if let Some(h) = doc.get("history").and_then(against_history) {
        facts.push(("History", h));
    }
    for (label, value) in &facts {
        let _ = writeln!(out, "  {label:<13} {value}");
    }
    if !failed.is_empty() {
        let _ = writeln!(out, "\nFailed steps");
        for s in &failed {
            let name = clean(&one_line(str_of(s, "name").unwrap_or("?")), 120);
            let status = clean(str_of(s, "status").unwrap_or(""), 40);
            let took = s
                .get("duration_seconds")
                .and_then(Value::as_f64)
                .map(|d| format!(" · {}", duration(d)))
                .unwrap_or_default();
            let _ = writeln!(out, "  ❌ {name}   {status}{took}");
            let message = str_of(s, "message").unwrap_or("(no message)");
            let lines: Vec<&str> = message.lines().collect();
            for line in lines.iter().take(MESSAGE_LINES) {
                let _ = writeln!(out, "     {}", clean(line, LINE_CHARS));
            }
            if lines.len() > MESSAGE_LINES {
                let _ = writeln!(out, "     … {} more lines", lines.len() - MESSAGE_LINES);
            }
        }
    }
    if !steps.is_empty() {
        out.push_str(&step_table(&steps));
    }
    out
}

/// Terminal columns of `s`: a character each, two for the wide status icons.
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            if matches!(c, '✅' | '❌' | '⏳' | '❔') {
                2
            } else {
                1
            }
        })
        .sum()
}

/// The table of steps, columns padded to their widest cell.
fn step_table(steps: &[Value]) -> String {
    let rows: Vec<[String; 4]> = steps
        .iter()
        .map(|s| {
            [
                clean(&one_line(str_of(s, "name").unwrap_or("")), NAME_CHARS),
                format!(
                    "{} {}",
                    icon(s),
                    clean(str_of(s, "status").unwrap_or(""), 30)
                ),
                s.get("duration_seconds")
                    .and_then(Value::as_f64)
                    .map(duration)
                    .unwrap_or_default(),
                clean(str_of(s, "child_pipeline").unwrap_or(""), NAME_CHARS),
            ]
        })
        .collect();
    let child = rows.iter().any(|r| !r[3].is_empty());
    let header = ["Step", "Status", "Duration", "Child pipeline"];
    let columns = if child { 4 } else { 3 };
    let column_width = |i: usize| {
        rows.iter()
            .map(|r| width(&r[i]))
            .chain([header[i].len()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..columns).map(column_width).collect();
    let mut out = String::from("\nSteps\n");
    let mut line = |cells: &[&str]| {
        let mut l = String::new();
        for (i, cell) in cells.iter().enumerate().take(columns) {
            let pad = widths[i].saturating_sub(width(cell));
            let _ = write!(l, "  {cell}{}", " ".repeat(pad));
        }
        let _ = writeln!(out, "{}", l.trim_end());
    };
    line(&header);
    for r in &rows {
        line(&[&r[0], &r[1], &r[2], &r[3]]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations() {
        assert_eq!(duration(0.0), "0s");
        assert_eq!(duration(0.05), "<0.1s");
        assert_eq!(duration(0.42), "0.4s");
        assert_eq!(duration(90.0), "1m 30s");
        assert_eq!(duration(7500.0), "2h 5m 0s");
    }

    #[test]
    fn a_failed_run() {
        let doc = json!({
            "platform": "matillion", "pipeline": "broken-load",
            "execution_id": "e-1", "execution_url": "https://x/e-1",
            "outcome": {"kind": "failed"}, "status": "FAILED",
            "message": "\"Load\": no table\u{1b}[2J", "duration_seconds": 5.0,
            "history": {"successful_runs": 8, "median_seconds": 4.0, "change_percent": 25},
            "steps": [
                {"name": "Start", "status": "SUCCESS", "failed": false, "duration_seconds": 0.6},
                {"name": "Load", "status": "FAILED", "failed": true,
                 "message": "no table\u{1b}[2J", "duration_seconds": 61.0}
            ]
        });
        assert_eq!(
            render(&doc),
            "❌ broken-load failed
   https://x/e-1

  Platform      matillion
  Execution id  e-1
  Status        FAILED
  Duration      5s
  Steps         2 (1 failed)
  History       25% longer than the median of the last 8 successful runs (4s)

Failed steps
  ❌ Load   FAILED · 1m 1s
     no table [2J

Steps
  Step   Status      Duration
  Start  ✅ SUCCESS  0.6s
  Load   ❌ FAILED   1m 1s
"
        );
    }
}
