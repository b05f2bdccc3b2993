//! Tests of the readable raw Markdown (only what would change the rendering is escaped,
//! and a real GFM parser still reads hostile text back as itself), the run's message
//! shown once, the optional columns, and the timeline (a strict check of the Mermaid
//! `gantt` grammar the summary relies on, with hostile names).

use super::markdown::{Place, push_escaped};
use super::tests::escape_inline;
use super::timeline::MAX_TIMELINE_STEPS;
use super::*;
use crate::model::{PlatformKind, sample};
use crate::report::Step;
use comrak::nodes::NodeValue;
use comrak::{Arena, Options, parse_document};
use std::time::Duration;

/// Nasty strings: Markdown, HTML, entities, autolinks, shortcodes, Mermaid directives
/// and keywords, line breaks, fences.
const NASTY: [&str; 30] = [
    "a | b",
    "\\|",
    "ends with \\",
    "**bold** __b__ _e_ *e*",
    "~~strike~~ ~x~",
    "`code` ``x``",
    "[x](http://e.example) ![i](x.png) [^1]",
    "<b>x</b> <!-- c --> <?p?> <!D>",
    "<https://e.example> <a@b.example>",
    "&amp; &#124; &#x7c; R&D & co",
    "http://e.example https://e.example/x_y ftp://e",
    "www.e.example WWW.E.EXAMPLE",
    "me@e.example @here",
    ":smile: :+1: ::error:: :100:",
    "$x$ $$y$$",
    "# h",
    "- item",
    "+ item",
    "> quote",
    "1. one",
    "2) two",
    "---",
    "===",
    "%%{init: {'theme':'dark'}}%%",
    "click s0 call alert(1)",
    "title x; section y # z",
    "a:b;c#d",
    "line\nbreak\r\nend",
    "} %% x",
    "2026-11-22 run",
];

fn gfm() -> Options<'static> {
    let mut o = Options::default();
    o.extension.table = true;
    o.extension.strikethrough = true;
    o.extension.autolink = true;
    o.extension.footnotes = true;
    o
}

/// The text a reader sees in `md` (entities and escapes resolved), and whether anything
/// but paragraphs, tables, list items and text was made.
fn read_back(md: &str) -> (String, Vec<String>) {
    let arena = Arena::new();
    let root = parse_document(&arena, md, &gfm());
    let mut text = String::new();
    let mut markup = Vec::new();
    for node in root.descendants() {
        match &node.data().value {
            NodeValue::Text(t) => text.push_str(t),
            NodeValue::SoftBreak | NodeValue::LineBreak => text.push(' '),
            NodeValue::Document
            | NodeValue::Paragraph
            | NodeValue::Table(_)
            | NodeValue::TableRow(_)
            | NodeValue::TableCell
            | NodeValue::List(_)
            | NodeValue::Item(_)
            | NodeValue::Heading(_) => {}
            other => markup.push(format!("{other:?}")),
        }
    }
    (text, markup)
}

#[test]
fn nasty_text_reads_back_as_itself_everywhere() {
    for s in NASTY {
        let want = crate::text::one_line(s);
        let inline = escape_inline(&want);
        let mut start = String::new();
        push_escaped(&mut start, &want, Place::LineStart);
        let places = [
            ("cell", format!("| a |\n| --- |\n| {inline} |\n"), "a"),
            ("heading", format!("#### ❌ {inline}\n"), "❌ "),
            ("list item", format!("- {start}\n"), ""),
            ("paragraph", format!("{start}\n"), ""),
        ];
        for (place, md, prefix) in places {
            let (text, markup) = read_back(&md);
            assert_eq!(text, format!("{prefix}{want}"), "{place}: {s:?} as {md:?}");
            assert!(
                markup.is_empty(),
                "{place}: {s:?} as {md:?} made {markup:?}"
            );
        }
    }
}

#[test]
fn only_what_matters_is_escaped() {
    let cases = [
        ("2026-11-25T12:19:15.958Z", "2026-11-25T12:19:15.958Z"),
        (
            "7c4c0f5e-0a1b-4a8e-9d3c-1f2e3d4c5b6a",
            "7c4c0f5e-0a1b-4a8e-9d3c-1f2e3d4c5b6a",
        ),
        ("nightly-load", "nightly-load"),
        ("run_date", "run_date"),
        (
            "\"Load\": it's (1.5) {ok} 50% done!",
            "\"Load\": it's (1.5) {ok} 50% done!",
        ),
        ("a | b", "a \\| b"),
        ("_x_ *y*", "\\_x\\_ \\*y\\*"),
        ("`c`", "\\`c\\`"),
        ("[l](u)", "\\[l](u)"),
        ("<b> a < b a<1", "\\<b> a < b a<1"),
        ("&amp; R&D", "\\&amp; R&D"),
        ("see http://x", "see http\\://x"),
        ("www.x", "www\\.x"),
        ("a:smile:b 12:19:15 :100:", "a\\:smile:b 12:19:15 \\:100:"),
        ("me@x", "me\\@x"),
        ("C# #tag", "C# \\#tag"),
        ("$5", "\\$5"),
        ("a\\b a\\*", "a\\b a\\\\\\*"),
    ];
    for (input, want) in cases {
        assert_eq!(escape_inline(input), want, "{input:?}");
    }
    let start = |s: &str| {
        let mut out = String::new();
        push_escaped(&mut out, s, Place::LineStart);
        out
    };
    assert_eq!(start("- x"), "\\- x");
    assert_eq!(start("1. x"), "1\\. x");
    assert_eq!(start("12) x"), "12\\) x");
    assert_eq!(start("> x"), "\\> x");
    assert_eq!(start("x - y"), "x - y");
}

#[test]
fn the_run_message_is_shown_once() {
    // Matillion's run message repeats the failed step's: only the step's block shows it.
    let md = render(&sample(), GITHUB_SUMMARY_LIMIT);
    assert_eq!(md.matches("table missing").count(), 1, "{md}");
    // Compared on one line: the step's message over two lines is still the same message.
    let mut r = sample();
    r.steps[1].message = Some("table\r\n  missing".into());
    let md = render(&r, GITHUB_SUMMARY_LIMIT);
    assert!(!md.contains("| Message |"), "{md}");
    r.message = Some("table missing".into());
    let md = render(&r, GITHUB_SUMMARY_LIMIT);
    assert!(!md.contains("| Message |"), "{md}");
    r.message = Some("table missing!".into());
    let md = render(&r, GITHUB_SUMMARY_LIMIT);
    assert!(md.contains("| Message | table missing! |\n"), "{md}");
    // A message of its own, short: in the facts only.
    let mut r = sample();
    r.message = Some("Agent lost".into());
    let md = render(&r, GITHUB_SUMMARY_LIMIT);
    assert_eq!(md.matches("Agent lost").count(), 1, "{md}");
    assert!(md.contains("| Message | Agent lost |\n"));
    // Long: in its own block only.
    r.message = Some("Agent lost\nwhile loading".into());
    let md = render(&r, GITHUB_SUMMARY_LIMIT);
    assert_eq!(md.matches("Agent lost").count(), 1, "{md}");
    assert!(md.contains("### Message\n\n```\nAgent lost\nwhile loading\n```\n"));
    assert!(!md.contains("| Message |"));
}

#[test]
fn optional_columns() {
    let mut r = sample();
    r.steps[0].message = Some("ok".into());
    let md = render(&r, GITHUB_SUMMARY_LIMIT);
    assert!(md.contains(
        "| Step | Status | Duration | Message | Child pipeline |\n| --- | --- | --- | --- | --- |\n\
         | Start | ✅\u{a0}SUCCESS | 1s | ok |  |\n\
         | Load | ❌\u{a0}FAILED | 1m 29s | see above | load-child |\n"
    ));
    r.steps[1].child_pipeline = None;
    r.steps[0].message = None;
    let md = render(&r, GITHUB_SUMMARY_LIMIT);
    assert!(md.contains(
        "| Step | Status | Duration |\n| --- | --- | --- |\n\
         | Start | ✅\u{a0}SUCCESS | 1s |\n| Load | ❌\u{a0}FAILED | 1m 29s |\n"
    ));
}

fn timed(names: &[&str], failed: usize) -> RunReport {
    let mut r = RunReport::new(PlatformKind::Datalab, "p");
    r.steps = names
        .iter()
        .enumerate()
        .map(|(i, name)| Step {
            name: name.to_string(),
            status: if i == failed { "FAILED" } else { "SUCCESS" }.into(),
            failed: i == failed,
            started_at: Some(format!("2026-11-22T05:00:{:02}.000Z", i)),
            duration: Some(Duration::from_millis(500 + 10 * i as u64)),
            ..Step::default()
        })
        .collect();
    r
}

/// The mermaid blocks of `md`.
fn mermaid_blocks(md: &str) -> Vec<String> {
    let arena = Arena::new();
    let root = parse_document(&arena, md, &gfm());
    root.descendants()
        .filter_map(|n| match &n.data().value {
            NodeValue::CodeBlock(c) if c.info == "mermaid" => Some(c.literal.clone()),
            _ => None,
        })
        .collect()
}

/// The strict grammar the timeline is written in, a subset of Mermaid's gantt: the
/// header, then task lines `    <label>: [crit, |done, |active, ]s<n>, <ms>, <ms>` whose
/// label is of the safe alphabet and cannot start like a keyword or a date. Returns the
/// (label, tag, start, end) of each task.
fn strict_gantt(block: &str) -> Vec<(String, String, u64, u64)> {
    let mut lines = block.lines();
    assert_eq!(lines.next(), Some("gantt"));
    assert_eq!(lines.next(), Some("    dateFormat x"));
    assert_eq!(lines.next(), Some("    axisFormat %H:%M:%S"));
    lines
        .map(|line| {
            let task = line.strip_prefix("    ").expect("indented");
            let (label, data) = task.split_once(": ").expect("label: data");
            assert!(!label.is_empty() && label.trim() == label, "{line:?}");
            assert!(
                label.chars().all(|c| c.is_alphanumeric()
                    || matches!(
                        c,
                        ' ' | '-' | '_' | '.' | ',' | '(' | ')' | '/' | '+' | '\''
                    )),
                "{line:?}"
            );
            let lower = label.to_lowercase();
            for k in [
                "click", "call", "href", "title", "section", "gantt", "date", "acc",
            ] {
                assert!(
                    !lower.starts_with(k) || lower.starts_with("step "),
                    "{line:?}"
                );
            }
            assert!(!label.starts_with(|c: char| c.is_ascii_digit()), "{line:?}");
            let parts: Vec<&str> = data.split(", ").collect();
            let (tag, rest) = match parts.as_slice() {
                [t @ ("crit" | "done" | "active"), rest @ ..] => (t.to_string(), rest),
                rest => (String::new(), rest),
            };
            let [id, start, end] = rest else {
                panic!("{line:?}")
            };
            assert!(
                id.strip_prefix('s')
                    .is_some_and(|n| n.parse::<usize>().is_ok())
            );
            let (start, end): (u64, u64) = (start.parse().unwrap(), end.parse().unwrap());
            assert!(end > start, "{line:?}");
            (label.to_string(), tag, start, end)
        })
        .collect()
}

#[test]
fn timeline_snapshot() {
    let md = render(
        &timed(&["Start", "Load: orders", "End"], 1),
        GITHUB_SUMMARY_LIMIT,
    );
    assert!(
        md.contains(
            "### Timeline\n\n```mermaid\ngantt\n    dateFormat x\n    axisFormat %H:%M:%S\n\
         \x20   Start: done, s0, 1795323600000, 1795323600500\n\
         \x20   Load orders: crit, s1, 1795323601000, 1795323601510\n\
         \x20   End: done, s2, 1795323602000, 1795323602520\n```\n\n### All steps\n"
        ),
        "{md}"
    );
}

#[test]
fn hostile_names_stay_labels() {
    let mut names: Vec<&str> = NASTY.to_vec();
    names.extend(["", "   ", "```", "%%", ":::", "Titles", "🚀 launch"]);
    let r = timed(&names, 3);
    let md = render(&r, GITHUB_SUMMARY_LIMIT);
    if let Ok(path) = std::env::var("PIPELINE_RUN_TIMELINE_DUMP") {
        std::fs::write(path, &md).unwrap();
    }
    let blocks = mermaid_blocks(&md);
    assert_eq!(blocks.len(), 1, "{md}");
    let tasks = strict_gantt(&blocks[0]);
    assert_eq!(tasks.len(), names.len());
    assert_eq!(tasks[3].1, "crit");
    assert!(
        tasks
            .iter()
            .enumerate()
            .all(|(i, t)| i == 3 || t.1 == "done")
    );
    let labels: Vec<&str> = tasks.iter().map(|t| t.0.as_str()).collect();
    assert_eq!(
        labels[..],
        [
            "a b",
            "step 2",
            "ends with",
            "bold __b__ _e_ e",
            "strike x",
            "code x",
            "x (http //e.example) i (x.png) 1",
            "b x /b -- c -- p D",
            "https //e.example a b.example",
            "amp 124 x7c R D co",
            "http //e.example https //e.example/x_y ftp //e",
            "www.e.example WWW.E.EXAMPLE",
            "me e.example here",
            "smile +1 error 100",
            "x y",
            "h",
            "- item",
            "+ item",
            "quote",
            "step 1. one",
            "step 2) two",
            "---",
            "step 23",
            "init 'theme' 'dark'",
            "step click s0 call alert(1)",
            "step title x section y z",
            "a b c d",
            "line break end",
            "x",
            "step 2026-11-22 run",
            "step 31",
            "step 32",
            "step 33",
            "step 34",
            "step 35",
            "step Titles",
            "launch",
        ]
    );
}

#[test]
fn many_steps_show_the_longest() {
    let mut r = RunReport::new(PlatformKind::Datalab, "p");
    r.steps = (0..120u64)
        .map(|i| Step {
            name: format!("s{i}"),
            status: "SUCCESS".into(),
            started_at: Some(format!("2026-11-22T05:{:02}:{:02}Z", i / 60, i % 60)),
            // Steps 0..60 take i seconds (mod 7 shuffles the order a little).
            duration: Some(Duration::from_secs((i * 37) % 120)),
            ..Step::default()
        })
        .collect();
    let md = render(&r, GITHUB_SUMMARY_LIMIT);
    let tasks = strict_gantt(&mermaid_blocks(&md)[0]);
    assert_eq!(tasks.len(), MAX_TIMELINE_STEPS);
    // In start order, and exactly the 50 longest (durations 70..=119 s).
    assert!(tasks.windows(2).all(|w| w[0].2 < w[1].2));
    let mut secs: Vec<u64> = tasks.iter().map(|t| (t.3 - t.2) / 1000).collect();
    secs.sort_unstable();
    assert_eq!(secs, (70..120).collect::<Vec<u64>>());
    assert!(md.contains("```\n\nThe 50 longest of 120 timed steps (each 1m 10s or more).\n\n"));
}

#[test]
fn untimed_steps_make_no_timeline() {
    let md = render(&sample(), GITHUB_SUMMARY_LIMIT);
    assert!(!md.contains("mermaid"));
}
