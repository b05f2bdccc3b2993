//! Tests of the job summary: exact snapshots, the Markdown read back with a real GFM
//! parser (comrak) the way GitHub will read it, hostile text, and the byte budget.

use super::markdown::{Place, clean_block, fence_for, push_escaped};
use super::*;
use crate::model::{CancelResult, PlatformKind, sample};
use crate::report::Step;
use comrak::nodes::{AstNode, NodeValue};
use comrak::{Arena, Options, parse_document};
use std::time::Duration;

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
    for (i, (row, name)) in steps[1..].iter().zip(HOSTILE).enumerate() {
        assert_eq!(row.len(), 5, "{row:?}");
        assert_eq!(row[0], name);
        assert_eq!(row[4], name);
        // The failed step's message is in its block above.
        let message = if i == 0 {
            "see above".to_string()
        } else {
            format!("{name} </details> ``` ::error::x")
        };
        assert_eq!(row[3], message);
    }
    for table in &tables {
        for row in table {
            assert_eq!(row.len(), table[0].len());
        }
    }
    let arena = Arena::new();
    let root = parse_document(&arena, &md, &gfm());
    let mut strong = 0;
    let mut links = Vec::new();
    for node in root.descendants() {
        let v = &node.data().value;
        if let NodeValue::Link(link) = v {
            links.push(link.url.clone());
            continue;
        }
        assert!(
            !matches!(
                v,
                NodeValue::Image(_)
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
    // Only the headline's own link.
    assert_eq!(
        links,
        [crate::links::execution_url_of(&hostile_report()).unwrap()]
    );
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

/// `s` escaped inside a line, nothing collapsed or cut: the escaping rule alone.
pub(super) fn escape_inline(s: &str) -> String {
    let mut out = String::new();
    push_escaped(&mut out, s, Place::Inline);
    out
}

#[test]
fn escape_inline_exact() {
    assert_eq!(
        escape_inline("<a href='x'>|*_`[]()#+-!~{}$\\&\u{7}"),
        "\\<a href='x'>\\|\\*\\_\\`\\[]()#+-!\\~{}\\$\\\\& "
    );
    assert_eq!(
        escape_inline("1. see http://a.b www.c.d e@f.g"),
        "1. see http\\://a.b www\\.c.d e\\@f.g"
    );
}

#[test]
fn fences_outgrow_backticks() {
    assert_eq!(fence_for("no ticks"), "```");
    assert_eq!(fence_for("a ```` b ` c"), "`````");
    assert_eq!(fence_for("é`` ``` ü"), "````");
}

#[test]
fn code_block_text_is_cleaned_whichever_path_it_takes() {
    // Nothing to rewrite (a tab, a no-break space, accents): only the end is trimmed.
    assert_eq!(
        clean_block("plain\n\ttext é\u{a0}ü  \n"),
        "plain\n\ttext é\u{a0}ü"
    );
    // Line endings, ESC, DEL and a C1 control rewritten.
    assert_eq!(
        clean_block("a\r\nb\rc\u{1b}d\u{7f}e\u{85}f \r\n"),
        "a\nb\nc d e f"
    );
}

#[test]
fn failure_snapshot() {
    let md = render(&sample(), GITHUB_SUMMARY_LIMIT);
    assert_eq!(
        md,
        "## ❌ Load orders failed · [open in Matillion](https://app.matillion.com/observability-dashboard/pipeline/7c4c0f5e-0a1b-4a8e-9d3c-1f2e3d4c5b6a)

**Matillion** · environment **prod**

| Fact | Value |
| --- | --- |
| Execution id | 7c4c0f5e-0a1b-4a8e-9d3c-1f2e3d4c5b6a |
| Status | FAILED |
| Trigger | API |
| Started | 2026-11-22T05:00:00Z |
| Finished | 2026-11-22T05:01:30Z |
| Duration | 1m 30s |
| Steps | 2 (1 failed) |
| Project | Analytics |
| Overridden variables | region |

### Failed steps

#### ❌ Load

FAILED · 1m 29s · child pipeline load-child

```
table missing
```

### All steps

| Step | Status | Duration | Child pipeline |
| --- | --- | --- | --- |
| Start | ✅\u{a0}SUCCESS | 1s |  |
| Load | ❌\u{a0}FAILED | 1m 29s | load-child |

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
        "## ✅ Load orders succeeded · [open in Matillion](https://app.matillion.com/observability-dashboard/pipeline/7c4c0f5e-0a1b-4a8e-9d3c-1f2e3d4c5b6a)

**Matillion** · environment **prod** · version **v2**

| Fact | Value |
| --- | --- |
| Execution id | 7c4c0f5e-0a1b-4a8e-9d3c-1f2e3d4c5b6a |
| Status | SUCCESS |
| Trigger | API |
| Started | 2026-11-22T05:00:00Z |
| Finished | 2026-11-22T05:01:30Z |
| Duration | 1m 30s |
| Steps | 2 |
| Execution tag | ci-42 |
| Project | Analytics |
| Overridden variables | region, day |

- Adopted the running execution started by tag ci-42.

### All steps

| Step | Status | Duration |
| --- | --- | --- |
| Start | ✅\u{a0}SUCCESS | 1s |
| Load | ✅\u{a0}SUCCESS | 1m 29s |

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
        "## ⏱ pl_orders timed out

**Datalab**

| Fact | Value |
| --- | --- |
| Execution id | ex_1 |
| Status | running |
| Duration | 2h 5m 0s |
| Steps | 1 |
| After the timeout | The execution continues on Datalab |

### Message

```
step 2 of 3
still loading
```

### All steps

| Step | Status | Duration |
| --- | --- | --- |
| extract | ⏳\u{a0}running |  |

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
    assert!(
        md.contains("### All steps\n\n<details><summary>25 steps (2 failed)</summary>\n\n| Step |")
    );
    assert!(md.ends_with("\n\n</details>\n\n"));
    assert_eq!(tables(&md)[1].len(), 26);
    assert!(!md.contains("not shown"));
}

#[test]
fn thirty_thousand_steps_fit_the_cap() {
    let r = many_steps(30_000, 100, 2_000);
    let md = render(&r, GITHUB_SUMMARY_LIMIT);
    assert!(md.len() <= GITHUB_SUMMARY_LIMIT, "{} bytes", md.len());
    // How long it takes is the budgets bench's to say (benches/budgets), not a test's: a
    // loaded machine makes any time limit here fail now and then.

    let tables = tables(&md);
    let rows = &tables[1][1..];
    let failed_rows = rows.iter().filter(|r| r[1] == "❌\u{a0}FAILED").count();
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
    assert!(md.contains("#### ❌ Step number 29999 \\<with> \\| hostile \\`text\\`\n"));
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
    assert!(md.contains("### Failed steps\n\n- ❌ Step number 9 \\<with>"));
    assert!(md.contains(" more failed steps not shown (the summary is limited to 1500 bytes).\n"));
}
