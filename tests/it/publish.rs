//! `publish` and `promote` against the simulator, with the real binary: what is sent
//! (files, part shapes, headers), what is left out and ignored, the reports, the answers
//! that may hide a success (a lost reply, a 5xx, a duplicate version with the same and
//! with another commit), promotions (done, already there, unknown version), dry runs,
//! bad input refused before any request, and running the version published.

use crate::common::*;
use pipeline_run_sim::{
    Environment, FaultAction, Project, PublishedPipeline, Route, RunScript, SimConfig, SimHandle,
};
use std::time::Duration;

const PROJECT_ID: &str = "5e6f7081-92a3-4b4c-8d5e-6f708192a3b4";
const SHA: &str = "9c1e7b3d5a6f8e0c2b4d6f8a0c2e4b6d8f0a4f2a";
const VERSION: &str = "9c1e7b3d5a6f";

fn sim() -> SimHandle {
    let pipeline = || PublishedPipeline::new("load", RunScript::new(Duration::from_millis(200), 2));
    start_sim(
        SimConfig::new().project(
            Project::new(PROJECT_ID, "Warehouse")
                .environment(
                    Environment::new("test")
                        .pipeline(pipeline())
                        .artifact("seeded", Some("1111111")),
                )
                .environment(Environment::new("prod").pipeline(pipeline())),
        ),
    )
}

/// A part as received: name, filename, content type, content.
type Part<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [u8]);

/// The environment of a publish to `test` from a GitHub job.
fn publish_env(sim: &SimHandle, dir: &Scratch) -> Vec<(String, String)> {
    let mut env = matillion_env(sim, "Warehouse", "test", "");
    unset(&mut env, "MATILLION_PIPELINE");
    set(
        &mut env,
        "MATILLION_ARTIFACT_DIR",
        dir.path("project").display().to_string(),
    );
    set(&mut env, "GITHUB_SHA", SHA);
    set(&mut env, "GITHUB_REF_NAME", "main");
    env
}

/// The environment of a promotion of `seeded` from `test` to `prod`.
fn promote_env(sim: &SimHandle) -> Vec<(String, String)> {
    let mut env = matillion_env(sim, "Warehouse", "prod", "");
    unset(&mut env, "MATILLION_PIPELINE");
    set(&mut env, "MATILLION_FROM_ENVIRONMENT", "test");
    set(&mut env, "MATILLION_VERSION", "seeded");
    env
}

fn write(dir: &Scratch, rel: &str, content: &[u8]) {
    let p = dir.path("project").join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, content).expect("write");
}

/// A project: two assets in folders, a README the service ignores, a file that is not
/// UTF-8, a name that is not ASCII, and `.git` folders at two depths.
fn project(dir: &Scratch) {
    write(dir, "load.orch.yaml", b"type: orchestration\n");
    write(dir, "staging/sql/orders.sql", b"select 1;\n");
    write(dir, "r\u{e9}sum\u{e9}.py", "print('é')\n".as_bytes());
    write(dir, "README.md", b"# Warehouse\n");
    write(dir, "logo.png", b"\x89PNG\r\n\x1a\n\xff\xfe");
    write(dir, ".git/HEAD", b"ref: refs/heads/main\n");
    write(dir, "vendor/.git/config", b"[core]\n");
}

/// The status of every upload the simulator answered, in order.
fn create_statuses(sim: &SimHandle) -> Vec<Option<u16>> {
    sim.requests_to(Route::ArtifactCreate)
        .iter()
        .map(|r| r.status)
        .collect()
}

/// No secret reaches anything the program wrote (but the `::add-mask::` line that hides
/// a token from the GitHub log, which must come first).
fn no_secrets(sim: &SimHandle, texts: &[&str]) {
    let mut secrets = sim.issued_tokens();
    assert!(!secrets.is_empty());
    secrets.push(sim.config().client_secret.clone());
    for t in texts {
        for line in t.lines().filter(|l| !l.starts_with("::add-mask::")) {
            for s in &secrets {
                assert!(!line.contains(s.as_str()), "a secret leaked into: {t}");
            }
        }
    }
}

#[test]
fn publishes_every_text_file_with_its_headers_and_reports_it() {
    let sim = sim();
    let dir = Scratch::new("publish");
    project(&dir);
    let mut env = publish_env(&sim, &dir);
    // As the Action runs it: no argument, the command as an input.
    set(&mut env, "GITHUB_ACTIONS", "true");
    set(&mut env, "INPUT_COMMAND", "publish");
    for (k, f) in [
        ("GITHUB_OUTPUT", "out.txt"),
        ("GITHUB_STEP_SUMMARY", "summary.md"),
        ("MATILLION_RESULT_FILE", "result.json"),
        ("MATILLION_DOTENV_FILE", "publish.env"),
    ] {
        set(&mut env, k, dir.path(f).display().to_string());
    }
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.stdout.lines().next(),
        Some(format!("::add-mask::{}", sim.issued_tokens()[0]).as_str())
    );
    has_line(
        &out.stdout,
        "::warning title=Ignored by Matillion::README.md: Unsupported file type",
    );
    has_line(
        &out.stdout,
        "::warning title=Left out of the artifact::logo.png: its content is not UTF-8 text",
    );

    let published: Vec<_> = sim
        .artifacts()
        .into_iter()
        .filter(|a| a.version == VERSION)
        .collect();
    assert_eq!(published.len(), 1);
    let a = &published[0];
    assert_eq!(
        (
            a.environment.as_str(),
            a.commit_hash.as_deref(),
            a.branch.as_deref()
        ),
        ("test", Some(SHA), Some("main"))
    );
    let parts: Vec<Part<'_>> = a
        .files
        .iter()
        .map(|f| {
            (
                f.name.as_str(),
                f.filename.as_deref(),
                f.content_type.as_deref(),
                f.bytes.as_slice(),
            )
        })
        .collect();
    assert_eq!(
        parts,
        [
            (
                "README.md",
                Some("README.md"),
                Some("text/plain"),
                &b"# Warehouse\n"[..]
            ),
            (
                "load.orch.yaml",
                Some("load.orch.yaml"),
                Some("text/plain"),
                b"type: orchestration\n"
            ),
            (
                "résumé.py",
                Some("résumé.py"),
                Some("text/plain"),
                "print('é')\n".as_bytes()
            ),
            (
                "staging/sql/orders.sql",
                Some("orders.sql"),
                Some("text/plain"),
                b"select 1;\n"
            ),
        ]
    );
    let create = sim.requests_to(Route::ArtifactCreate);
    assert_eq!(create.len(), 1);
    let raw = &create[0];
    assert_eq!(raw.header("versionName"), Some(VERSION));
    assert_eq!(raw.header("environmentName"), Some("test"));
    // The non-ASCII name goes as UTF-8 in a plain `name=`, as curl sends it.
    let body = String::from_utf8_lossy(&raw.body);
    assert!(
        body.contains("Content-Disposition: form-data; name=\"résumé.py\"; filename=\"résumé.py\"\r\nContent-Type: text/plain\r\n\r\n"),
        "{body}"
    );

    has_line(
        &out.stderr,
        "pipeline-run: warning: left out 'logo.png': its content is not UTF-8 text",
    );
    has_line(
        &out.stderr,
        "pipeline-run: warning: Matillion left 'README.md' out of the artifact: Unsupported file type",
    );
    has_line(
        &out.stderr,
        &format!(
            "pipeline-run: result: published version '{VERSION}' to 'test' (4 file(s), 1 ignored by Matillion)"
        ),
    );
    let outputs = parse_outputs(&dir.read("out.txt"));
    assert_eq!(output(&outputs, "version").as_deref(), Some(VERSION));
    assert_eq!(output(&outputs, "ignored-resources").as_deref(), Some("1"));
    let summary = dir.read("summary.md");
    assert!(
        summary.starts_with(&format!("## 📦 Published version {VERSION} to test\n")),
        "{summary}"
    );
    assert!(
        summary.contains("| Files sent | 4 (54 B) |\n| Ignored resources | 1 |"),
        "{summary}"
    );
    assert!(
        summary.contains("- README.md: Unsupported file type\n"),
        "{summary}"
    );
    assert!(
        summary.contains("- logo.png: its content is not UTF-8 text\n"),
        "{summary}"
    );
    assert_eq!(
        dir.read("publish.env"),
        format!(
            "PIPELINE_RUN_VERSION={VERSION}\nPIPELINE_RUN_ENVIRONMENT=test\nPIPELINE_RUN_IGNORED_RESOURCES=1\nPIPELINE_RUN_OUTCOME=published\n"
        )
    );
    let json: serde_json::Value = serde_json::from_str(&dir.read("result.json")).expect("json");
    assert_eq!(json["schema"], "pipeline-run/artifact/v1");
    assert_eq!(json["outcome"], serde_json::json!({"kind": "published"}));
    assert_eq!(json["project"], format!("Warehouse ({PROJECT_ID})"));
    assert_eq!(json["files"].as_array().map(Vec::len), Some(4));
    assert_eq!(json["ignored_resources"][0]["name"], "README.md");
    no_secrets(
        &sim,
        &[
            &out.stdout,
            &out.stderr,
            &dir.read("out.txt"),
            &summary,
            &dir.read("result.json"),
        ],
    );
}

#[test]
fn a_lost_reply_to_the_upload_is_settled_by_the_details() {
    let sim = sim();
    sim.add_fault(pipeline_run_sim::Fault::once(
        Route::ArtifactCreate,
        FaultAction::LoseReply,
    ));
    let dir = Scratch::new("publish-lost");
    project(&dir);
    let out = run(&publish_env(&sim, &dir), &["publish"]);
    assert_eq!(out.code, 0, "{out:?}");
    // Created by the one upload whose reply was lost; never sent again.
    assert_eq!(sim.requests_to(Route::ArtifactCreate).len(), 1);
    assert_eq!(sim.requests_to(Route::ArtifactDetails).len(), 1);
    assert_eq!(
        sim.artifacts()
            .iter()
            .filter(|a| a.version == VERSION)
            .count(),
        1
    );
    has_line(
        &out.stderr,
        &format!(
            "pipeline-run: Version '{VERSION}' was already published to 'test' with the same commit: nothing new was created."
        ),
    );
    has_line(
        &out.stderr,
        &format!(
            "pipeline-run: result: version '{VERSION}' was already published to 'test' (same commit)"
        ),
    );
}

#[test]
fn a_5xx_that_created_nothing_is_sent_again_once_the_details_say_so() {
    let sim = sim();
    sim.add_fault(pipeline_run_sim::Fault::once(
        Route::ArtifactCreate,
        FaultAction::unavailable_json(),
    ));
    let dir = Scratch::new("publish-503");
    project(&dir);
    let out = run(&publish_env(&sim, &dir), &["publish"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(create_statuses(&sim), [Some(503), Some(201)]);
    assert_eq!(sim.requests_to(Route::ArtifactDetails).len(), 1);
    assert!(
        out.stderr.contains(&format!(
            "pipeline-run: warning: version '{VERSION}' is not in environment 'test': the upload did not create it; sending it again in "
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn a_duplicate_version_with_the_same_commit_is_already_published() {
    let sim = sim();
    let dir = Scratch::new("publish-again");
    project(&dir);
    let env = publish_env(&sim, &dir);
    assert_eq!(run(&env, &["publish"]).code, 0);
    // The CI job runs again: 409, then the details show the same commit.
    let mut env = env;
    set(
        &mut env,
        "MATILLION_RESULT_FILE",
        dir.path("again.json").display().to_string(),
    );
    let out = run(&env, &["publish"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(create_statuses(&sim), [Some(201), Some(409)]);
    let json: serde_json::Value = serde_json::from_str(&dir.read("again.json")).expect("json");
    assert_eq!(json["outcome"]["kind"], "already-published");
}

#[test]
fn a_duplicate_version_with_another_commit_is_refused_naming_both() {
    let sim = sim();
    let dir = Scratch::new("publish-conflict");
    project(&dir);
    let mut env = publish_env(&sim, &dir);
    set(&mut env, "MATILLION_VERSION", "seeded");
    let out = run(&env, &["publish"]);
    assert_eq!(out.code, 4, "{out:?}");
    has_line(
        &out.stderr,
        &format!(
            "pipeline-run: error: publish refused: version 'seeded' already exists in environment 'test' with commit 1111111, and this publish is of commit {SHA}: versions cannot be overwritten; give another version."
        ),
    );
    assert_eq!(sim.requests_to(Route::ArtifactCreate).len(), 1);
}

#[test]
fn the_version_published_is_the_one_that_runs_and_others_are_not_found() {
    let sim = sim();
    let dir = Scratch::new("publish-run");
    project(&dir);
    assert_eq!(run(&publish_env(&sim, &dir), &["publish"]).code, 0);
    let mut env = matillion_env(&sim, "Warehouse", "test", "load");
    set(&mut env, "MATILLION_VERSION", VERSION);
    let out = run(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(sim.executions()[0].version_name.as_deref(), Some(VERSION));
    set(&mut env, "MATILLION_VERSION", "never-published");
    let out = run(&env, &[]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(
        out.stderr
            .contains("Version never-published of pipeline load not found"),
        "{}",
        out.stderr
    );
}

#[test]
fn promote_copies_a_version_once_and_refuses_one_the_source_lacks() {
    let sim = sim();
    let dir = Scratch::new("promote");
    let mut env = promote_env(&sim);
    set(
        &mut env,
        "MATILLION_RESULT_FILE",
        dir.path("r.json").display().to_string(),
    );
    let out = run(&env, &["promote"]);
    assert_eq!(out.code, 0, "{out:?}");
    has_line(
        &out.stderr,
        "pipeline-run: result: promoted version 'seeded' from 'test' to 'prod'",
    );
    let prod: Vec<_> = sim
        .artifacts()
        .into_iter()
        .filter(|a| a.environment == "prod")
        .collect();
    assert_eq!(prod.len(), 1);
    assert!(prod[0].promoted);
    let body: serde_json::Value =
        serde_json::from_slice(&sim.requests_to(Route::ArtifactPromotion)[0].body).expect("json");
    assert_eq!(
        body,
        serde_json::json!({"sourceEnvironmentName": "test", "targetEnvironmentName": "prod", "versionName": "seeded"})
    );

    // Again: already there, nothing sent.
    let out = run(&env, &["promote"]);
    assert_eq!(out.code, 0, "{out:?}");
    has_line(
        &out.stderr,
        "pipeline-run: result: version 'seeded' was already in 'prod'",
    );
    assert_eq!(sim.requests_to(Route::ArtifactPromotion).len(), 1);
    let json: serde_json::Value = serde_json::from_str(&dir.read("r.json")).expect("json");
    assert_eq!(json["outcome"]["kind"], "already-promoted");

    set(&mut env, "MATILLION_VERSION", "v9");
    let out = run(&env, &["promote"]);
    assert_eq!(out.code, 4, "{out:?}");
    has_line(
        &out.stderr,
        "pipeline-run: error: promote refused: version 'v9' is not in environment 'test', so it cannot be promoted to 'prod': publish it there first, or check the version and `from-environment`.",
    );
    assert_eq!(sim.requests_to(Route::ArtifactPromotion).len(), 1);
}

#[test]
fn dry_runs_list_what_would_be_sent_and_send_nothing() {
    let sim = sim();
    let dir = Scratch::new("publish-dry");
    project(&dir);
    let mut env = publish_env(&sim, &dir);
    set(&mut env, "MATILLION_DRY_RUN", "true");
    let out = run(&env, &["publish"]);
    assert_eq!(out.code, 0, "{out:?}");
    for line in [
        "pipeline-run: dry run: would send README.md (12 B)",
        "pipeline-run: dry run: would send staging/sql/orders.sql (10 B)",
        &format!("pipeline-run: dry run: with header versionName: {VERSION}"),
        "pipeline-run: dry run: with header environmentName: test",
        &format!("pipeline-run: dry run: with header commitHash: {SHA}"),
        "pipeline-run: dry run: with header branch: main",
        &format!(
            "pipeline-run: dry run: would send POST {}/v1/projects/{PROJECT_ID}/artifacts (multipart/form-data, one text/plain part per file)",
            sim.base_url()
        ),
        &format!("pipeline-run: dry run: version '{VERSION}' does not exist in 'test' yet"),
        "pipeline-run: result: dry run of publish passed; nothing was sent",
    ] {
        has_line(&out.stderr, line);
    }
    assert!(sim.requests_to(Route::ArtifactCreate).is_empty());

    let env = promote_env(&sim);
    let out = run(&env, &["promote", "--dry-run"]);
    assert_eq!(out.code, 0, "{out:?}");
    has_line(
        &out.stderr,
        &format!(
            "pipeline-run: dry run: would send POST {}/v1/projects/{PROJECT_ID}/artifacts/promotions with {{\"sourceEnvironmentName\":\"test\",\"targetEnvironmentName\":\"prod\",\"versionName\":\"seeded\"}}",
            sim.base_url()
        ),
    );
    assert!(sim.requests_to(Route::ArtifactPromotion).is_empty());
}

/// Run `args` with `env` against `sim`: refused with exit 2 before any request; the
/// binary's output.
fn refused(sim: &SimHandle, env: &[(String, String)], args: &[&str]) -> Output {
    let out = run(env, args);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(sim.requests().is_empty(), "{:?}", sim.requests());
    out
}

#[test]
fn bad_input_is_refused_before_any_request_no_directory() {
    let sim = sim();
    let dir = Scratch::new("publish-bad");
    let out = refused(&sim, &publish_env(&sim, &dir), &["publish"]);
    assert!(
        out.stderr.contains(&format!(
            "pipeline-run: error: input 'artifact-dir': got '{}'; it cannot be read",
            dir.path("project").display()
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_input_is_refused_before_any_request_a_name_a_part_cannot_carry() {
    let sim = sim();
    let dir = Scratch::new("publish-bad-name");
    write(&dir, "ok.sql", b"x");
    write(&dir, "say \"hi\".sql", b"x");
    let out = refused(&sim, &publish_env(&sim, &dir), &["publish"]);
    has_line(
        &out.stderr,
        "pipeline-run: error: input 'artifact-dir': 1 file name(s) cannot be sent as a multipart part's name: 'say \"hi\".sql' (a double quote). Names are sent as UTF-8 without quotes, backslashes, line breaks or control characters: rename them.",
    );
}

#[test]
fn bad_input_is_refused_before_any_request_no_version_and_no_ci_commit() {
    let sim = sim();
    let dir = Scratch::new("publish-bad-version");
    write(&dir, "ok.sql", b"x");
    let mut env = publish_env(&sim, &dir);
    unset(&mut env, "GITHUB_SHA");
    let out = refused(&sim, &env, &["publish"]);
    has_line(
        &out.stderr,
        "pipeline-run: error: input 'version': is required: give the version to publish (no CI commit was found in GITHUB_SHA or CI_COMMIT_SHA to name it after).",
    );
}

#[test]
fn bad_input_is_refused_before_any_request_a_command_the_input_does_not_know() {
    let sim = sim();
    let dir = Scratch::new("publish-bad-command");
    write(&dir, "ok.sql", b"x");
    let mut env = publish_env(&sim, &dir);
    set(&mut env, "INPUT_COMMAND", "deploy");
    let out = refused(&sim, &env, &[]);
    has_line(
        &out.stderr,
        "pipeline-run: error: input 'command': got 'deploy' (from INPUT_COMMAND); expected `run`, `wait`, `status`, `publish`, `promote` or `cancel`.",
    );
}

#[test]
fn bad_input_is_refused_before_any_request_more_files_than_the_cap() {
    let sim = sim();
    let dir = Scratch::new("publish-bad-many");
    write(&dir, "ok.sql", b"x");
    // 5,001 more names for one file (hard links: each is a file to send, and they cost a
    // directory entry each rather than a file each to write and remove).
    let project = dir.path("project");
    for i in 0..5_001 {
        std::fs::hard_link(project.join("ok.sql"), project.join(format!("f{i}.sql")))
            .expect("link");
    }
    let out = refused(&sim, &publish_env(&sim, &dir), &["publish"]);
    has_line(
        &out.stderr,
        "pipeline-run: error: input 'artifact-dir': it holds more than 5000 files to send (the most sent in one artifact); give the project's own directory.",
    );
}

#[test]
fn on_gitlab_the_version_is_the_commit_and_the_dotenv_carries_it() {
    let sim = sim();
    let dir = Scratch::new("publish-gitlab");
    project(&dir);
    let mut env = publish_env(&sim, &dir);
    for k in ["GITHUB_SHA", "GITHUB_REF_NAME"] {
        unset(&mut env, k);
    }
    set(&mut env, "GITLAB_CI", "true");
    set(
        &mut env,
        "CI_COMMIT_SHA",
        "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
    );
    set(&mut env, "CI_COMMIT_REF_NAME", "main");
    set(
        &mut env,
        "MATILLION_DOTENV_FILE",
        dir.path("publish.env").display().to_string(),
    );
    let out = run(&env, &["publish"]);
    assert_eq!(out.code, 0, "{out:?}");
    let a = sim
        .artifacts()
        .into_iter()
        .find(|a| a.version == "0a1b2c3d4e5f")
        .expect("published");
    assert_eq!(
        a.commit_hash.as_deref(),
        Some("0a1b2c3d4e5f60718293a4b5c6d7e8f901234567")
    );
    assert_eq!(a.branch.as_deref(), Some("main"));
    assert_eq!(
        dir.read("publish.env"),
        "PIPELINE_RUN_VERSION=0a1b2c3d4e5f\nPIPELINE_RUN_ENVIRONMENT=test\nPIPELINE_RUN_IGNORED_RESOURCES=1\nPIPELINE_RUN_OUTCOME=published\n"
    );
    // No GitHub workflow command on GitLab.
    assert!(!out.stdout.contains("::"), "{}", out.stdout);
}

#[test]
fn a_lost_reply_to_the_promotion_is_settled_by_the_target() {
    let sim = sim();
    sim.add_fault(pipeline_run_sim::Fault::once(
        Route::ArtifactPromotion,
        FaultAction::LoseReply,
    ));
    let out = run(&promote_env(&sim), &["promote"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(sim.requests_to(Route::ArtifactPromotion).len(), 1);
    assert!(
        out.stderr
            .contains("pipeline-run: The promotion's answer was no usable reply"),
        "{}",
        out.stderr
    );
    has_line(
        &out.stderr,
        "pipeline-run: result: promoted version 'seeded' from 'test' to 'prod'",
    );
}
