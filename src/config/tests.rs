//! Tests of reading the inputs into a `Config`: every input, its defaults and its
//! errors, and the messages a user sees.

use super::*;
use std::collections::HashMap;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn base() -> HashMap<String, String> {
    env(&[
        ("MATILLION_CLIENT_ID", "id-1"),
        ("MATILLION_CLIENT_SECRET", "s3cr3t-value"),
        ("MATILLION_REGION", "eu1"),
        ("MATILLION_PROJECT", "Analytics"),
        ("MATILLION_ENVIRONMENT", "prod"),
        ("MATILLION_PIPELINE", "Load orders"),
    ])
}

fn parse(e: &HashMap<String, String>) -> Result<Config, InputErrors> {
    from_lookup(&|k: &str| e.get(k).cloned())
}

fn ok(e: &HashMap<String, String>) -> Config {
    match parse(e) {
        Ok(c) => c,
        Err(errs) => panic!("unexpected input errors: {errs}"),
    }
}

fn errors(e: &HashMap<String, String>) -> Vec<String> {
    match parse(e) {
        Ok(_) => panic!("expected input errors"),
        Err(errs) => errs
            .0
            .iter()
            .map(|e| format!("{}: {}", e.input, e.message))
            .collect(),
    }
}

fn mat(c: &Config) -> &MatillionConfig {
    match &c.platform {
        PlatformConfig::Matillion(m) => m,
        PlatformConfig::Datalab(_) => panic!("expected matillion"),
    }
}

#[test]
fn minimal_matillion_config_and_defaults() {
    let c = ok(&base());
    assert!(c.wait);
    assert!(c.cancel_on_timeout);
    assert!(!c.dry_run);
    assert_eq!(c.timeout, Duration::from_secs(7200));
    assert_eq!(c.timeout_source, TimeoutSource::Default);
    assert_eq!(c.poll_interval, Duration::from_secs(5));
    assert_eq!(c.max_poll_interval, Duration::from_secs(30));
    let m = mat(&c);
    assert_eq!(m.base_url, "https://eu1.api.matillion.com/dpc");
    assert_eq!(m.project, ProjectRef::Name("Analytics".into()));
    assert_eq!(m.environment, "prod");
    assert_eq!(m.pipeline, "Load orders");
    assert_eq!(m.on_conflict, OnConflict::Wait);
    match &m.auth {
        MatillionAuth::ClientCredentials {
            client_id,
            client_secret,
            token_url,
        } => {
            assert_eq!(client_id.expose(), "id-1");
            assert_eq!(client_secret.expose(), "s3cr3t-value");
            assert_eq!(token_url, DEFAULT_TOKEN_URL);
        }
        MatillionAuth::Token(_) => panic!("expected client credentials"),
    }
}

#[test]
fn github_names_win_and_underscore_form_is_accepted() {
    let mut e = base();
    e.insert("INPUT_PIPELINE".into(), "  from-github  ".into());
    e.insert("INPUT_POLL_INTERVAL".into(), "7s".into());
    e.insert("INPUT_MAX-POLL-INTERVAL".into(), "1m".into());
    let c = ok(&e);
    assert_eq!(mat(&c).pipeline, "from-github");
    assert_eq!(c.poll_interval, Duration::from_secs(7));
    assert_eq!(c.max_poll_interval, Duration::from_secs(60));
}

#[test]
fn project_uuid_is_an_id() {
    let mut e = base();
    e.insert(
        "MATILLION_PROJECT".into(),
        "4A8A6162-702B-4EFC-B2EC-C986E0BC95E4".into(),
    );
    assert_eq!(
        mat(&ok(&e)).project,
        ProjectRef::Id("4a8a6162-702b-4efc-b2ec-c986e0bc95e4".into())
    );
}

#[test]
fn regions_and_api_url_override() {
    let mut e = base();
    e.insert("MATILLION_REGION".into(), "US1".into());
    assert_eq!(mat(&ok(&e)).base_url, "https://us1.api.matillion.com/dpc");
    e.insert("MATILLION_REGION".into(), "au1".into());
    assert_eq!(mat(&ok(&e)).base_url, "https://au1.api.matillion.com/dpc");
    e.insert("MATILLION_API_URL".into(), "http://127.0.0.1:9/dpc/".into());
    assert_eq!(mat(&ok(&e)).base_url, "http://127.0.0.1:9/dpc");
}

#[test]
fn optional_fields_and_access_token() {
    let mut e = base();
    e.remove("MATILLION_CLIENT_ID");
    e.remove("MATILLION_CLIENT_SECRET");
    e.insert("MATILLION_ACCESS_TOKEN".into(), "tok".into());
    e.insert("MATILLION_VERSION".into(), "1.2.3".into());
    e.insert("MATILLION_AGENT_ID".into(), "agent".into());
    e.insert("MATILLION_EXECUTION_TAG".into(), "main".into());
    e.insert("MATILLION_ON_CONFLICT".into(), "FAIL".into());
    let c = ok(&e);
    let m = mat(&c);
    assert!(matches!(&m.auth, MatillionAuth::Token(t) if t.expose() == "tok"));
    assert_eq!(m.version.as_deref(), Some("1.2.3"));
    assert_eq!(m.agent_id.as_deref(), Some("agent"));
    assert_eq!(m.execution_tag.as_deref(), Some("main"));
    assert_eq!(m.on_conflict, OnConflict::Fail);
}

#[test]
fn variables_as_lines_split_on_first_equals() {
    let mut e = base();
    e.insert(
        "MATILLION_VARIABLES".into(),
        "a=1\n\n# comment\nurl=https://x/?q=1&r=2\nempty=\n".into(),
    );
    let c = ok(&e);
    let v = &mat(&c).variables;
    assert_eq!(v.len(), 3);
    assert_eq!(v["a"], "1");
    assert_eq!(v["url"], "https://x/?q=1&r=2");
    assert_eq!(v["empty"], "");
}

#[test]
fn variables_lines_trim_around_the_equals_sign_and_the_value() {
    let mut e = base();
    e.insert(
        "MATILLION_VARIABLES".into(),
        "  run_date = 2026-11-22  \nmode =\tfull load \t\nblank =   \nq= a = b \n".into(),
    );
    let c = ok(&e);
    let v = &mat(&c).variables;
    assert_eq!(v["run_date"], "2026-11-22");
    assert_eq!(v["mode"], "full load", "inner white space stays");
    assert_eq!(v["blank"], "");
    assert_eq!(v["q"], "a = b", "only the first `=` splits");
    // The JSON form keeps a value exactly as written.
    e.insert("MATILLION_VARIABLES".into(), r#"{"pad": "  x  "}"#.into());
    assert_eq!(mat(&ok(&e)).variables["pad"], "  x  ");
}

#[test]
fn variables_as_json_and_grid_variables() {
    let mut e = base();
    e.insert(
        "MATILLION_VARIABLES".into(),
        r#"{"a": "1", "b": "x=y"}"#.into(),
    );
    e.insert(
        "MATILLION_GRID_VARIABLES".into(),
        r#"{"g": [["a", "b"], ["c", "d"]]}"#.into(),
    );
    let c = ok(&e);
    let m = mat(&c);
    assert_eq!(m.variables["b"], "x=y");
    assert_eq!(
        m.grid_variables["g"],
        vec![
            vec!["a".to_string(), "b".into()],
            vec!["c".into(), "d".into()]
        ]
    );
}

#[test]
fn bad_variables_name_the_problem_without_values() {
    let mut e = base();
    e.insert("MATILLION_VARIABLES".into(), "a=1\npassword hunter2".into());
    let errs = errors(&e);
    assert_eq!(
        errs,
        ["variables: line 2 has no `=`; expected name=value lines (or a JSON object)."]
    );
    e.insert("MATILLION_VARIABLES".into(), r#"{"n": 5}"#.into());
    assert_eq!(
        errors(&e),
        [
            "variables: variable 'n' is not a string; every value must be a JSON string (quote numbers and booleans)."
        ]
    );
    e.insert("MATILLION_VARIABLES".into(), "a=1\na=2".into());
    assert_eq!(errors(&e), ["variables: variable 'a' is given twice."]);
    e.remove("MATILLION_VARIABLES");
    e.insert("MATILLION_GRID_VARIABLES".into(), r#"{"g": [[1]]}"#.into());
    assert_eq!(
        errors(&e),
        ["grid-variables: grid variable 'g' must be an array of rows, each an array of strings."]
    );
}

#[test]
fn booleans_accept_only_true_and_false() {
    let mut e = base();
    e.insert("MATILLION_WAIT".into(), "FALSE".into());
    assert!(!ok(&e).wait);
    e.insert("MATILLION_WAIT".into(), "yes".into());
    assert_eq!(errors(&e), ["wait: got 'yes'; expected `true` or `false`."]);
}

#[test]
fn durations_need_a_unit_and_order() {
    let mut e = base();
    e.insert("MATILLION_TIMEOUT".into(), "90".into());
    assert_eq!(
        errors(&e),
        ["timeout: got '90'; expected a duration with a unit, such as `30s`, `90m` or `2h`."]
    );
    e.insert("MATILLION_TIMEOUT".into(), "0s".into());
    assert_eq!(
        errors(&e),
        ["timeout: got '0s'; it must be longer than zero."]
    );
    e.insert("MATILLION_TIMEOUT".into(), "90m".into());
    e.insert("MATILLION_POLL_INTERVAL".into(), "1m".into());
    e.insert("MATILLION_MAX_POLL_INTERVAL".into(), "10s".into());
    assert_eq!(
        errors(&e),
        ["max-poll-interval: is 10s but poll-interval is 1m; it must be at least poll-interval."]
    );
}

#[test]
fn required_inputs_and_alternatives() {
    let e = env(&[]);
    assert_eq!(
        errors(&e),
        [
            "region: is required: give `region` (`eu1`, `us1` or `au1`) or `api-url`.",
            "client-id: is required: give `client-id` and `client-secret`, or `access-token`.",
            "project: is required: the project's id (UUID) or exact name.",
            "environment: is required: the environment the pipeline is published to.",
            "pipeline: is required: the published pipeline's name.",
        ]
    );
}

#[test]
fn secrets_are_never_shown() {
    let mut e = base();
    e.insert("MATILLION_CLIENT_SECRET".into(), "has space-s3cr3t".into());
    e.insert("MATILLION_ACCESS_TOKEN".into(), "tok-s3cr3t".into());
    let errs = errors(&e).join("\n");
    assert!(!errs.contains("s3cr3t"), "{errs}");
    assert!(
        errs.contains("client-secret: contains white space"),
        "{errs}"
    );
    assert!(
        errs.contains("access-token: is given together with client credentials"),
        "{errs}"
    );
}

#[test]
fn credentials_must_come_in_pairs() {
    let mut e = base();
    e.remove("MATILLION_CLIENT_SECRET");
    assert_eq!(errors(&e), ["client-secret: is required with `client-id`."]);
}

#[test]
fn bad_region_url_and_enum_values() {
    let mut e = base();
    e.insert("MATILLION_REGION".into(), "ap1".into());
    e.insert("MATILLION_ON_CONFLICT".into(), "retry".into());
    e.insert("MATILLION_PLATFORM".into(), "Matillion".into());
    assert_eq!(
        errors(&e),
        [
            "region: got 'ap1'; expected `eu1`, `us1` or `au1` (or give `api-url`).",
            "on-conflict: got 'retry'; expected `wait` or `fail`.",
        ]
    );
    e.insert("MATILLION_API_URL".into(), "ftp://x".into());
    assert_eq!(
        errors(&e)[0],
        "api-url: got 'ftp://x'; expected an http:// or https:// URL with a host."
    );
    e.insert("MATILLION_PLATFORM".into(), "airflow".into());
    assert_eq!(
        errors(&e)[0],
        "platform: got 'airflow'; expected `matillion` or `datalab`."
    );
}

#[test]
fn inputs_of_the_other_platform_are_errors_even_with_their_default() {
    // The runner passes no defaults (action.yml declares none): whoever set one meant it.
    let mut e = base();
    e.insert("INPUT_FILE".into(), "doc.pdf".into());
    e.insert("--allow-completed-with-errors".into(), "false".into());
    assert_eq!(
        errors(&e),
        [
            "file: does not apply to platform 'matillion' (set by INPUT_FILE); remove it or choose another platform.",
            "allow-completed-with-errors: does not apply to platform 'matillion' (set by --allow-completed-with-errors); remove it or choose another platform.",
        ]
    );
}

#[test]
fn flags_win_over_input_variables_which_win_over_platform_variables() {
    let mut e = base();
    e.insert("MATILLION_TIMEOUT".into(), "10m".into());
    assert_eq!(ok(&e).timeout, Duration::from_secs(600));
    e.insert("INPUT_TIMEOUT".into(), "20m".into());
    assert_eq!(ok(&e).timeout, Duration::from_secs(1200));
    e.insert("--timeout".into(), "30m".into());
    let c = ok(&e);
    assert_eq!(c.timeout, Duration::from_secs(1800));
    assert_eq!(c.timeout_source, TimeoutSource::Input);
    e.insert("--timeout".into(), "soon".into());
    assert_eq!(
        errors(&e),
        ["timeout: got 'soon'; expected a duration with a unit, such as `30s`, `90m` or `2h`."]
    );
}

#[test]
fn log_timestamps_is_checked_with_the_other_inputs() {
    let mut e = base();
    e.insert("MATILLION_LOG_TIMESTAMPS".into(), "false".into());
    ok(&e);
    e.insert("MATILLION_LOG_TIMESTAMPS".into(), "off".into());
    assert_eq!(
        errors(&e),
        ["log-timestamps: got 'off'; expected `true` or `false`."]
    );
}

#[test]
fn gitlab_job_timeout_is_the_default_there() {
    let mut e = base();
    e.insert("GITLAB_CI".into(), "true".into());
    e.insert("CI_JOB_TIMEOUT".into(), "3600".into());
    let c = ok(&e);
    assert_eq!(c.timeout, Duration::from_secs(3540));
    assert_eq!(
        c.timeout_source,
        TimeoutSource::GitLabJob {
            job: Duration::from_secs(3600)
        }
    );
    assert_eq!(
        c.timeout_line(),
        "timeout 59m (GitLab CI_JOB_TIMEOUT 1h, less a margin to cancel the run cleanly)"
    );
    e.insert("CI_JOB_TIMEOUT".into(), "60".into());
    assert_eq!(ok(&e).timeout, Duration::from_secs(54));
    e.insert("MATILLION_TIMEOUT".into(), "10m".into());
    let c = ok(&e);
    assert_eq!(c.timeout, Duration::from_secs(600));
    assert_eq!(c.timeout_source, TimeoutSource::Input);
}

#[test]
fn datalab_config() {
    let dir = std::env::temp_dir().join(format!("pr-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("doc.pdf");
    std::fs::write(&file, b"%PDF").unwrap();
    let mut e = env(&[
        ("INPUT_PLATFORM", "datalab"),
        ("DATALAB_API_KEY", "key-s3cr3t"),
        ("INPUT_PIPELINE", "pl_abc"),
        ("INPUT_FILE", file.to_str().unwrap()),
        ("INPUT_PIPELINE-VERSION", "3"),
        ("INPUT_OUTPUT-FORMAT", "markdown"),
        ("INPUT_PAGE-RANGE", "0,2-4"),
    ]);
    let c = ok(&e);
    match &c.platform {
        PlatformConfig::Datalab(d) => {
            assert_eq!(d.base_url, DEFAULT_DATALAB_URL);
            assert_eq!(d.pipeline, "pl_abc");
            assert_eq!(d.input, DatalabInput::File(file.clone()));
            assert_eq!(d.version.as_deref(), Some("3"));
            assert_eq!(d.page_range.as_deref(), Some("0,2-4"));
        }
        PlatformConfig::Matillion(_) => panic!("expected datalab"),
    }
    e.insert("INPUT_FILE-URL".into(), "https://x/doc.pdf".into());
    e.insert("INPUT_PAGE-RANGE".into(), "1-".into());
    e.insert("INPUT_PROJECT".into(), "p".into());
    e.insert("INPUT_PIPELINE".into(), "nightly".into());
    let errs = errors(&e);
    assert_eq!(
        errs,
        [
            "project: does not apply to platform 'datalab' (set by INPUT_PROJECT); remove it or choose another platform.",
            "pipeline: got 'nightly'; a Datalab pipeline id starts with `pl_`.",
            "file-url: is given together with `file`; give exactly one.",
            "page-range: got '1-'; expected page numbers and ranges such as `0,2-4`.",
        ]
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn every_id_used_in_config_is_in_the_table() {
    // Every input the reader is asked for (`r.get("id")`, `r.err("id", ..)`, ...) must be
    // in the inputs table: an id missing there would silently read the wrong input.
    let sources = [
        include_str!("../config.rs"),
        include_str!("matillion.rs"),
        include_str!("datalab.rs"),
    ];
    let methods = [
        "get", "raw", "string", "required", "secret", "boolean", "duration", "url", "path", "err",
    ];
    let mut seen = 0;
    for src in sources {
        for m in methods {
            let call = format!("r.{m}(\"");
            for rest in src.split(call.as_str()).skip(1) {
                let id = rest.split('"').next().unwrap_or_default();
                assert!(
                    crate::inputs::find(id).is_some(),
                    "config reads '{id}' (r.{m}), which is not in the inputs table"
                );
                seen += 1;
            }
        }
    }
    assert!(
        seen > 40,
        "only {seen} reader calls found: has the reader changed?"
    );
}

fn for_purpose(e: &HashMap<String, String>, purpose: Purpose) -> Result<Config, Vec<String>> {
    from_lookup_for(&|k: &str| e.get(k).cloned(), purpose).map_err(|errs| {
        errs.0
            .iter()
            .map(|e| format!("{}: {}", e.input, e.message))
            .collect()
    })
}

#[test]
fn wait_by_id_needs_no_pipeline_and_never_cancels_by_default() {
    let mut e = base();
    e.remove("MATILLION_PIPELINE");
    e.remove("MATILLION_ENVIRONMENT");
    let id = "0F6E1C2A-3b4d-4e5f-8a9b-0c1d2e3f4a5b";
    e.insert("INPUT_EXECUTION-ID".into(), id.into());
    let c = for_purpose(&e, Purpose::Wait).expect("valid");
    let a = c.attach.as_ref().expect("attached");
    assert_eq!(
        (a.id.as_deref(), a.once, a.wait_for_start),
        (Some(id), false, false)
    );
    assert!(!c.cancel_on_timeout);
    assert_eq!(mat(&c).pipeline, "");
    // Given explicitly, it cancels on timeout; `run` keeps its default.
    e.insert("INPUT_CANCEL-ON-TIMEOUT".into(), "true".into());
    assert!(
        for_purpose(&e, Purpose::Wait)
            .expect("valid")
            .cancel_on_timeout
    );
    assert!(ok(&base()).cancel_on_timeout);
    assert!(ok(&base()).attach.is_none());
    // The inputs of a trigger are not used, and the log says so.
    e.insert("MATILLION_VARIABLES".into(), "a=1".into());
    e.insert("MATILLION_EXECUTION_TAG".into(), "t".into());
    assert_eq!(
        for_purpose(&e, Purpose::Wait).expect("valid").warnings(),
        [
            "input(s) variables, execution-tag only shape a trigger, and this command sends none: not used"
        ]
    );
    assert!(ok(&base()).warnings().is_empty());
}

#[test]
fn wait_and_status_refuse_what_they_cannot_follow() {
    let mut e = base();
    e.remove("MATILLION_PIPELINE");
    assert_eq!(
        for_purpose(&e, Purpose::Wait).err().unwrap_or_default(),
        [
            "execution-id: or `pipeline` is required for `wait`: give the execution's id, or `pipeline` and `environment` to follow its running execution."
        ]
    );
    e.insert("MATILLION_EXECUTION_ID".into(), "pex_1".into());
    e.insert("MATILLION_WAIT".into(), "false".into());
    assert_eq!(
        for_purpose(&e, Purpose::Status).err().unwrap_or_default(),
        [
            "execution-id: got 'pex_1'; expected a Matillion execution id, a UUID such as `0f6e1c2a-…`.",
            "wait: is false but `status` triggers nothing: it follows an execution that exists. Remove it.",
        ]
    );
    // By pipeline: the environment is needed to find its run.
    let mut e = base();
    e.remove("MATILLION_ENVIRONMENT");
    let errs = for_purpose(&e, Purpose::Wait).err().unwrap_or_default();
    assert!(
        errs.iter().any(|m| m.starts_with("environment: ")),
        "{errs:?}"
    );
}

#[test]
fn rate_limit_defaults_to_each_platforms_documented_limit() {
    assert_eq!(ok(&base()).rate_limit, 1000);
    let mut e = base();
    e.insert("INPUT_RATE-LIMIT".into(), " 60 ".into());
    assert_eq!(ok(&e).rate_limit, 60);
    let datalab = env(&[
        ("INPUT_PLATFORM", "datalab"),
        ("DATALAB_API_KEY", "key-s3cr3t"),
        ("INPUT_PIPELINE", "pl_abc"),
        ("INPUT_FILE-URL", "https://example.com/a.pdf"),
    ]);
    assert_eq!(ok(&datalab).rate_limit, 400);
    let mut e = datalab.clone();
    e.insert("DATALAB_RATE_LIMIT".into(), "100".into());
    assert_eq!(ok(&e).rate_limit, 100);
}

#[test]
fn rate_limit_is_a_positive_whole_number() {
    for bad in ["0", "-1", "1.5", "sixty", "60/min", "60001", "99999999999"] {
        let mut e = base();
        e.insert("MATILLION_RATE_LIMIT".into(), bad.into());
        assert_eq!(
            errors(&e),
            [format!(
                "rate-limit: got '{bad}'; expected a whole number of requests a minute, from 1 to 60000 (Matillion documents 1000, Datalab 400; an account on Matillion's older limit sets 60)."
            )],
            "{bad}"
        );
    }
    for good in ["1", "60000"] {
        let mut e = base();
        e.insert("MATILLION_RATE_LIMIT".into(), good.into());
        assert_eq!(ok(&e).rate_limit.to_string(), good);
    }
}
