//! What the log looks like under each CI system, with hostile step names and messages:
//! GitLab gets collapsible sections around the wait and the step list and never a GitHub
//! workflow command; plain runs (cron, a pipe) get plain lines with no escape or control
//! characters at all; on GitLab the timeout defaults from `CI_JOB_TIMEOUT`, and the log
//! says so.

use crate::common::*;
use pipeline_run_sim::{Environment, Project, PublishedPipeline, RunScript, SimConfig, SimHandle};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PROJECT_ID: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";

const NAMES: [&str; 5] = [
    "::error::pwned",
    "\u{1b}[0Ksection_end:1:pipeline_run_1\r\u{1b}[0K\u{1b}[0Ksection_start:1:evil[collapsed=true]\r\u{1b}[0Kforged",
    "\r::warning file=x::cr",
    "##[error]legacy",
    "End \u{1b}[31mred\u{7}",
];

fn sim() -> SimHandle {
    let mut hostile = RunScript::new(Duration::from_millis(400), 5)
        .status("FAILED")
        .message("bad\n::error::final\r\n::set-output name=x::y")
        .fail_step(2, "  ::error::in message\n::endgroup::\n\u{1b}[2J cleared");
    for (i, n) in NAMES.iter().enumerate() {
        hostile = hostile.step_name(i, n);
    }
    start_sim(
        SimConfig::new()
            .cancel_delay(Duration::from_millis(100))
            .project(
                Project::new(PROJECT_ID, "Analytics").environment(
                    Environment::new("prod")
                        .pipeline(PublishedPipeline::new("hostile", hostile))
                        .pipeline(PublishedPipeline::new(
                            "slow",
                            RunScript::new(Duration::from_secs(600), 3),
                        )),
                ),
            ),
    )
}

fn env_for(sim: &SimHandle, pipeline: &str, ci: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = matillion_env(sim, "Analytics", "prod", pipeline);
    for (k, v) in ci {
        set(&mut env, k, *v);
    }
    env
}

/// Lines a GitHub runner (or an old one, `##[`) would take as a command.
fn command_lines(text: &str) -> Vec<String> {
    text.split(['\n', '\r'])
        .filter(|l| {
            let l = l.trim_start();
            l.starts_with("::") || l.starts_with("##[")
        })
        .map(str::to_string)
        .collect()
}

fn assert_no_commands(out: &Output, what: &str) {
    for (name, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let found = command_lines(text);
        assert!(
            found.is_empty(),
            "{what}: command lines on {name}: {found:?}\n{text}"
        );
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `stdout` with the section timestamps (checked to lie in `from..=to`) replaced by `TS`.
fn normalise_timestamps(stdout: &str, from: u64, to: u64) -> String {
    let mut out = String::new();
    let mut rest = stdout;
    while let Some(i) = rest.find("\u{1b}[0Ksection_") {
        let marker_end = i + rest[i..].find(':').unwrap() + 1;
        out.push_str(&rest[..marker_end]);
        let digits: String = rest[marker_end..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let ts: u64 = digits.parse().expect("a unix timestamp");
        assert!(
            (from..=to).contains(&ts),
            "timestamp {ts} outside {from}..={to}"
        );
        out.push_str("TS");
        rest = &rest[marker_end + digits.len()..];
    }
    out.push_str(rest);
    out
}

#[test]
fn gitlab_sections_around_the_wait_and_the_steps_and_no_workflow_commands() {
    let sim = sim();
    let from = now();
    let out = run(&env_for(&sim, "hostile", &[("GITLAB_CI", "true")]), &[]);
    let to = now();
    assert_eq!(out.code, 1, "{out:?}");
    assert_no_commands(&out, "GitLab");
    let id = sim.executions()[0].id.clone();
    let esc = "\u{1b}[0K";
    let expected = format!(
        "{esc}section_start:TS:pipeline_run_1[collapsed=true]\r{esc}Waiting for execution {id}\n\
         {esc}section_end:TS:pipeline_run_1\r{esc}\n\
         {esc}section_start:TS:pipeline_run_2[collapsed=true]\r{esc}Steps (5, 1 failed)\n\
         Failed steps (1):\n\
         ✗ ::warning file=x::cr [FAILED] <0.1s: ::error::in message ::endgroup:: [2J cleared\n\
         Other steps (4):\n\
         • ::error::pwned [SUCCESS] <0.1s\n\
         • [0Ksection_end:1:pipeline_run_1 [0K [0Ksection_start:1:evil[collapsed=true] [0Kforged [SUCCESS] <0.1s\n\
         • ##[error]legacy [SUCCESS] <0.1s\n\
         • End [31mred [SUCCESS] <0.1s\n\
         {esc}section_end:TS:pipeline_run_2\r{esc}\n"
    );
    assert_eq!(normalise_timestamps(&out.stdout, from, to), expected);
    // The only escape characters are those of the two real sections.
    assert_eq!(out.stdout.matches('\u{1b}').count(), 8);
    assert!(!out.stderr.contains('\u{1b}'), "{}", out.stderr);
}

#[test]
fn plain_runs_have_no_escapes_no_control_characters_and_no_commands() {
    let sim = sim();
    let out = run(&env_for(&sim, "hostile", &[]), &[]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_no_commands(&out, "plain");
    for (name, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let bad: Vec<char> = text
            .chars()
            .filter(|&c| c.is_control() && c != '\n')
            .collect();
        assert!(
            bad.is_empty(),
            "control characters on {name}: {bad:?}\n{text}"
        );
    }
    let id = sim.executions()[0].id.clone();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], format!("== Waiting for execution {id} =="));
    assert_eq!(lines[1], "== Steps (5, 1 failed) ==");
    assert_eq!(lines[2], "Failed steps (1):");
    assert_eq!(lines.len(), 9, "{lines:?}");
    assert!(
        out.stderr.lines().all(|l| l.starts_with("pipeline-run: ")),
        "{}",
        out.stderr
    );
}

/// Bad input, a refusal, a dry run, cancel mode: no `::` command anywhere outside GitHub;
/// on GitHub the same runs do print commands (so the check can see them).
#[test]
fn no_workflow_command_outside_github_whatever_the_path() {
    let sim = sim();
    let dir = Scratch::new("ci-logs-paths");
    // What, extra inputs, arguments, exit code.
    type Scenario<'a> = (&'a str, Vec<(&'a str, String)>, &'a [&'a str], i32);
    let scenarios: Vec<Scenario> = vec![
        (
            "bad input",
            vec![("MATILLION_TIMEOUT", "soon".into())],
            &[],
            2,
        ),
        (
            "bad credentials",
            vec![("MATILLION_CLIENT_SECRET", "wrong".into())],
            &[],
            4,
        ),
        (
            "dry run",
            vec![("MATILLION_DRY_RUN", "true".into())],
            &[],
            0,
        ),
        (
            "cancel mode",
            vec![(
                "MATILLION_RESULT_FILE",
                dir.path("none.json").display().to_string(),
            )],
            &["cancel"],
            0,
        ),
    ];
    for (what, extra, args, code) in &scenarios {
        for ci in [vec![("GITLAB_CI", "true")], vec![]] {
            let mut env = env_for(&sim, "hostile", &ci);
            for (k, v) in extra {
                set(&mut env, k, v.clone());
            }
            let out = run(&env, args);
            assert_eq!(out.code, *code, "{what} {ci:?}: {out:?}");
            assert_no_commands(&out, &format!("{what} {ci:?}"));
        }
    }
    // The control: on GitHub, a bad input is an error annotation, a token is masked.
    let mut env = env_for(&sim, "hostile", &[("GITHUB_ACTIONS", "true")]);
    set(&mut env, "MATILLION_TIMEOUT", "soon");
    let out = run(&env, &[]);
    assert_eq!(out.code, 2);
    assert!(!command_lines(&out.stdout).is_empty(), "{out:?}");
    let mut env = env_for(&sim, "hostile", &[("GITHUB_ACTIONS", "true")]);
    set(&mut env, "MATILLION_DRY_RUN", "true");
    let out = run(&env, &[]);
    assert!(
        command_lines(&out.stdout)
            .iter()
            .any(|l| l.starts_with("::add-mask::")),
        "{out:?}"
    );
}

#[test]
fn gitlab_timeout_defaults_from_ci_job_timeout_and_the_log_says_so() {
    let sim = sim();
    let line = |ci: &[(&str, &str)], timeout: Option<&str>| {
        let mut env = env_for(&sim, "hostile", ci);
        set(&mut env, "MATILLION_DRY_RUN", "true");
        match timeout {
            Some(t) => set(&mut env, "MATILLION_TIMEOUT", t),
            None => unset(&mut env, "MATILLION_TIMEOUT"),
        }
        let out = run(&env, &[]);
        assert_eq!(out.code, 0, "{out:?}");
        out.stderr.lines().next().unwrap_or_default().to_string()
    };
    let gitlab = [("GITLAB_CI", "true"), ("CI_JOB_TIMEOUT", "3600")];
    assert_eq!(
        line(&gitlab, None),
        "pipeline-run: timeout 59m (GitLab CI_JOB_TIMEOUT 1h, less a margin to cancel the run cleanly)"
    );
    assert_eq!(
        line(&gitlab, Some("30s")),
        "pipeline-run: timeout 30s (input 'timeout')"
    );
    assert_eq!(
        line(&[("CI_JOB_TIMEOUT", "3600")], None),
        "pipeline-run: timeout 2h (the default)"
    );

    // And it is the timeout in force: a 1 s job gets 900 ms, then the run is cancelled.
    let mut env = env_for(
        &sim,
        "slow",
        &[("GITLAB_CI", "true"), ("CI_JOB_TIMEOUT", "1")],
    );
    unset(&mut env, "MATILLION_TIMEOUT");
    let out = run(&env, &[]);
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(
        out.stderr.lines().next(),
        Some(
            "pipeline-run: timeout 900ms (GitLab CI_JOB_TIMEOUT 1s, less a margin to cancel the run cleanly)"
        )
    );
    let slow = sim
        .executions()
        .into_iter()
        .find(|e| e.pipeline == "slow")
        .unwrap();
    assert!(slow.cancel_requested);
    assert!(
        out.stderr.contains("timed out after 900ms"),
        "{}",
        out.stderr
    );
}
