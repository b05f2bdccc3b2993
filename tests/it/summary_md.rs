//! The job summary and the link to the run, with the real binary against the simulator's
//! demo world (`SimConfig::demo`, what `pipeline-run-sim demo` serves): the execution URL
//! in the outputs, the dotenv report, the JSON result and the summary's headline; the
//! raw Markdown readable (no backslash before a date, a UUID or a hyphen); the run's
//! message once; the Mermaid timeline present, in the strict shape the summary writes,
//! and the hostile demo's step names kept to labels.

use crate::common::*;
use pipeline_run_sim::{DEMO_PROJECT_NAME, Scenario, SimConfig, SimHandle};
use serde_json::Value;

const URL_PREFIX: &str = "https://app.matillion.com/observability-dashboard/pipeline/";

/// What a GitHub run of `pipeline` in the demo world wrote.
struct Run {
    code: i32,
    id: String,
    summary: String,
    outputs: Vec<(String, String)>,
    dotenv: String,
    result: Value,
    log: String,
}

fn run_demo(sim: &SimHandle, pipeline: &str) -> Run {
    let dir = Scratch::new("summary-md");
    let mut env = matillion_env(sim, DEMO_PROJECT_NAME, "dev", pipeline);
    for (k, file) in [
        ("GITHUB_STEP_SUMMARY", "summary.md"),
        ("GITHUB_OUTPUT", "output"),
        ("MATILLION_DOTENV_FILE", "run.env"),
        ("MATILLION_RESULT_FILE", "result.json"),
    ] {
        set(&mut env, k, dir.path(file).to_string_lossy());
    }
    set(&mut env, "GITHUB_ACTIONS", "true");
    set(&mut env, "MATILLION_VARIABLES", "run_date=2026-11-22");
    let out = run(&env, &[]);
    let id = sim
        .executions()
        .iter()
        .find(|e| e.pipeline == pipeline)
        .map(|e| e.id.clone())
        .expect("an execution");
    Run {
        code: out.code,
        id,
        summary: dir.read("summary.md"),
        outputs: parse_outputs(&dir.read("output")),
        dotenv: dir.read("run.env"),
        result: serde_json::from_str(&dir.read("result.json")).expect("JSON"),
        log: out.stdout + &out.stderr,
    }
}

fn demo_sim() -> SimHandle {
    start_sim_fast(SimConfig::demo(Scenario::Success), 10.0)
}

#[test]
fn the_link_to_the_run_is_everywhere() {
    let sim = demo_sim();
    let r = run_demo(&sim, "nightly-load");
    assert_eq!(r.code, 0);
    let url = format!("{URL_PREFIX}{}", r.id);
    assert_eq!(output(&r.outputs, "execution-url"), Some(url.clone()));
    // In the log at once, right after the trigger's line.
    let triggered = format!(
        "pipeline-run: triggered Matillion 'nightly-load': execution {}\n",
        r.id
    );
    assert!(
        r.log
            .contains(&format!("{triggered}pipeline-run: follow it at {url}\n")),
        "{}",
        r.log
    );
    assert!(
        r.dotenv
            .contains(&format!("\nPIPELINE_RUN_EXECUTION_URL={url}\n")),
        "{}",
        r.dotenv
    );
    assert_eq!(r.result["execution_url"], url.as_str());
    let headline = r.summary.lines().next().unwrap();
    assert_eq!(
        headline,
        format!("## ✅ nightly-load succeeded · [open in Matillion]({url})")
    );
}

/// The characters right before each occurrence of `needle` in `md`.
fn preceded_by_backslash(md: &str, needle: &str) -> bool {
    md.match_indices(needle)
        .any(|(i, _)| md[..i].ends_with('\\'))
}

#[test]
fn the_raw_markdown_of_the_success_demo_reads_cleanly() {
    let sim = demo_sim();
    let r = run_demo(&sim, "nightly-load");
    let md = &r.summary;
    // No backslash anywhere inside a date, a UUID or a hyphenated name.
    let started = r.result["started_at"].as_str().unwrap();
    assert!(md.contains(&format!("| Started | {started} |\n")), "{md}");
    let project_id = r.result["project_id"].as_str().unwrap();
    for text in [
        started,
        r.id.as_str(),
        project_id,
        "nightly-load",
        "join-order-lines",
        "run_date",
    ] {
        assert!(md.contains(text), "{text} not in {md}");
    }
    for needle in ["-", ":", ".", "_", "(", ")", "\""] {
        assert!(!preceded_by_backslash(md, needle), "\\{needle} in {md}");
    }
    assert!(!md.contains('\\'), "{md}");
    assert!(!md.contains("&quot;") && !md.contains("&#"), "{md}");
    // The message, once; the child-pipeline column, since one step has a child.
    let message = r.result["message"].as_str().unwrap();
    assert_eq!(md.matches(message).count(), 1, "{md}");
    assert!(
        md.contains("| Step | Status | Duration | Child pipeline |\n"),
        "{md}"
    );
    assert!(
        md.contains("| Join order lines | ✅\u{a0}SUCCESS | "),
        "{md}"
    );
}

/// The task lines of the summary's one Mermaid gantt: (label, tag, start, end).
fn gantt_tasks(md: &str) -> Vec<(String, String, u64, u64)> {
    let start = md.find("### Timeline\n\n```mermaid\n").expect("a timeline");
    let block = &md[start..];
    let block = &block[..block.find("\n```\n").expect("closed")];
    let mut lines = block.lines().skip(3);
    assert_eq!(lines.next(), Some("gantt"));
    assert_eq!(lines.next(), Some("    dateFormat x"));
    assert_eq!(lines.next(), Some("    axisFormat %H:%M:%S"));
    lines
        .map(|l| {
            let (label, data) = l
                .strip_prefix("    ")
                .and_then(|t| t.split_once(": "))
                .unwrap_or_else(|| panic!("{l:?}"));
            assert!(
                label.chars().all(|c| c.is_alphanumeric()
                    || matches!(
                        c,
                        ' ' | '-' | '_' | '.' | ',' | '(' | ')' | '/' | '+' | '\''
                    )),
                "{l:?}"
            );
            let parts: Vec<&str> = data.split(", ").collect();
            let [tag, id, a, b] = parts[..] else {
                panic!("{l:?}")
            };
            assert!(id.starts_with('s'), "{l:?}");
            (
                label.to_string(),
                tag.to_string(),
                a.parse().unwrap(),
                b.parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_timeline_draws_every_step_and_marks_the_failed_one() {
    let sim = demo_sim();
    let r = run_demo(&sim, "broken-load");
    assert_eq!(r.code, 1);
    let tasks = gantt_tasks(&r.summary);
    assert_eq!(tasks.len(), 8);
    assert_eq!(tasks[0].0, "Start");
    assert_eq!(tasks[7].0, "Load orders");
    assert_eq!(tasks[7].1, "crit");
    assert!(tasks[..7].iter().all(|t| t.1 == "done"));
    assert!(
        tasks
            .windows(2)
            .all(|w| w[0].3 <= w[1].2 && w[0].2 < w[0].3)
    );
    // The run's message only repeats the failed step's: shown once, in its block.
    let message =
        "SQL compilation error: Object 'ANALYTICS.PUBLIC.ORDERS' does not exist or not authorized.";
    assert_eq!(r.summary.matches(message).count(), 1, "{}", r.summary);
    assert!(r.summary.contains(&format!("```\n{message}\n```\n")));
    assert!(!r.summary.contains("| Message |"));
}

#[test]
fn hostile_names_stay_labels_in_the_timeline() {
    let sim = demo_sim();
    let r = run_demo(&sim, "hostile");
    assert_eq!(r.code, 1);
    let labels: Vec<String> = gantt_tasks(&r.summary).into_iter().map(|t| t.0).collect();
    assert_eq!(
        labels,
        [
            "script alert(1) /script",
            "x",
            "error pwned",
            "step click (https //evil.example)",
            "Line break",
            "code bold -- comment --",
            "step 0A 25 secrets.TOKEN",
            "End",
        ]
    );
    // One Mermaid block, and nothing of a name outside the labels.
    assert_eq!(r.summary.matches("```mermaid").count(), 1);
    assert!(!r.summary.contains("%%"));
}
