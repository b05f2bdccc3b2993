//! Several pipelines: the two ways to give them, the common settings applied to each, and
//! every refusal naming the entry and the field.

use crate::config::{Config, InputErrors, PlatformConfig, from_lookup};
use std::collections::HashMap;

fn base(extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut m: HashMap<String, String> = [
        ("MATILLION_ACCESS_TOKEN", "t"),
        ("MATILLION_REGION", "eu1"),
        ("MATILLION_PROJECT", "Analytics"),
        ("MATILLION_ENVIRONMENT", "prod"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        m.insert(k.to_string(), v.to_string());
    }
    m
}

fn parse(e: &HashMap<String, String>) -> Result<Config, InputErrors> {
    from_lookup(&|k: &str| e.get(k).cloned())
}

fn errors(extra: &[(&str, &str)]) -> Vec<String> {
    match parse(&base(extra)) {
        Ok(_) => panic!("expected input errors"),
        Err(errs) => errs
            .0
            .iter()
            .map(|e| format!("{}: {}", e.input, e.message))
            .collect(),
    }
}

fn pipelines_of(c: &Config) -> Vec<(String, String, Option<String>)> {
    c.runs()
        .iter()
        .map(|r| match &r.platform {
            PlatformConfig::Matillion(m) => (
                m.pipeline.clone(),
                m.environment.clone(),
                m.execution_tag.clone(),
            ),
            PlatformConfig::Datalab(_) => panic!("matillion"),
        })
        .collect()
}

#[test]
fn one_pipeline_is_no_fleet() {
    let c = parse(&base(&[("MATILLION_PIPELINE", "load")])).expect("valid");
    assert!(c.fleet.is_none());
    assert_eq!(c.runs().len(), 1);
    // One entry in `pipelines` is one pipeline too.
    let c = parse(&base(&[(
        "MATILLION_PIPELINES",
        r#"[{"pipeline": "load", "execution-tag": "t"}]"#,
    )]))
    .expect("valid");
    assert!(c.fleet.is_none());
    assert_eq!(
        pipelines_of(&c),
        [("load".into(), "prod".into(), Some("t".into()))]
    );
}

#[test]
fn names_one_a_line_share_the_settings() {
    let c = parse(&base(&[
        ("MATILLION_PIPELINE", "load-a\n\n  load-b \nload-c\n"),
        ("MATILLION_VARIABLES", "day=1"),
        ("MATILLION_MAX_PARALLEL", "2"),
    ]))
    .expect("valid");
    let f = c.fleet.as_ref().expect("a fleet");
    assert_eq!((f.max_parallel, f.fail_fast), (2, false));
    assert_eq!(
        pipelines_of(&c),
        [
            ("load-a".into(), "prod".into(), None),
            ("load-b".into(), "prod".into(), None),
            ("load-c".into(), "prod".into(), None),
        ]
    );
    assert_eq!(c.pipeline(), "load-a");
    for r in c.runs() {
        assert!(r.fleet.is_none());
        let PlatformConfig::Matillion(m) = &r.platform else {
            panic!()
        };
        assert_eq!(m.variables.get("day").map(String::as_str), Some("1"));
    }
}

#[test]
fn entries_override_and_merge_the_common_settings() {
    let c = parse(&base(&[
        (
            "MATILLION_PIPELINES",
            r#"[
              {"pipeline": "a", "execution-tag": "ta", "variables": {"x": "2"}},
              {"pipeline": "b", "environment": "test", "version": "1.0",
               "agent-id": "ag", "variables": "y = 3",
               "grid-variables": {"g": [["1", "2"]]}}
            ]"#,
        ),
        ("MATILLION_VARIABLES", "x=1\nz=9"),
        ("MATILLION_FAIL_FAST", "true"),
    ]))
    .expect("valid");
    assert!(c.fleet.as_ref().is_some_and(|f| f.fail_fast));
    assert_eq!(c.fleet.as_ref().map(|f| f.max_parallel), Some(4));
    let runs = c.runs();
    let m = |i: usize| match &runs[i].platform {
        PlatformConfig::Matillion(m) => m.clone(),
        PlatformConfig::Datalab(_) => panic!(),
    };
    assert_eq!(m(0).variables.get("x").map(String::as_str), Some("2"));
    assert_eq!(m(0).variables.get("z").map(String::as_str), Some("9"));
    assert_eq!(m(0).execution_tag.as_deref(), Some("ta"));
    assert_eq!(m(1).environment, "test");
    assert_eq!(m(1).version.as_deref(), Some("1.0"));
    assert_eq!(m(1).agent_id.as_deref(), Some("ag"));
    assert_eq!(m(1).variables.get("y").map(String::as_str), Some("3"));
    assert_eq!(m(1).variables.get("x").map(String::as_str), Some("1"));
    assert_eq!(m(1).grid_variables.len(), 1);
    assert_eq!(m(1).execution_tag, None);
}

#[test]
fn every_bad_entry_is_named_with_its_field() {
    let got = errors(&[(
        "MATILLION_PIPELINES",
        r#"[{"pipeline": "a", "variable": {"x": "1"}},
            {"environment": "dev"},
            {"pipeline": "c", "variables": {"n": 1}, "version": 3},
            "d"]"#,
    )]);
    assert_eq!(
        got,
        [
            "pipelines: pipelines[0] ('a'): unknown field 'variable'. Did you mean 'variables'?",
            "pipelines: pipelines[1]: field 'pipeline' is required: the published pipeline's name.",
            "pipelines: pipelines[2] ('c'): field 'version' must be a non-empty string.",
            "pipelines: pipelines[2] ('c'): field 'variables' variable 'n' is not a string; every value must be a JSON string (quote numbers and booleans).",
            "pipelines: pipelines[3]: is not an object; each entry is {\"pipeline\": \"name\", ...}.",
        ]
    );
}

#[test]
fn shapes_and_limits_of_the_array() {
    assert_eq!(
        errors(&[("MATILLION_PIPELINES", "{\"pipeline\": \"a\"}")]),
        [
            "pipelines: got '{\"pipeline\": \"a\"}'; expected a JSON array of objects such as [{\"pipeline\": \"load-orders\", \"execution-tag\": \"orders\"}]."
        ]
    );
    assert!(
        errors(&[("MATILLION_PIPELINES", "[")])[0].starts_with("pipelines: is not valid JSON (")
    );
    assert!(
        errors(&[("MATILLION_PIPELINES", "[]")])[0].starts_with("pipelines: is an empty array;")
    );
    let many: Vec<String> = (0..51)
        .map(|i| format!("{{\"pipeline\": \"p{i}\"}}"))
        .collect();
    assert_eq!(
        errors(&[("MATILLION_PIPELINES", &format!("[{}]", many.join(",")))]),
        ["pipelines: holds 51 pipelines; at most 50 run in one step."]
    );
    assert_eq!(
        errors(&[
            ("MATILLION_PIPELINES", r#"[{"pipeline": "a"}]"#),
            ("MATILLION_PIPELINE", "b")
        ]),
        [
            "pipelines: is given together with `pipeline`; give one of them: `pipeline` (a name, or several one a line) or `pipelines` (a JSON array)."
        ]
    );
    for bad in ["0", "51", "four", "-1"] {
        assert_eq!(
            errors(&[
                ("MATILLION_PIPELINE", "a\nb"),
                ("MATILLION_MAX_PARALLEL", bad)
            ]),
            [format!(
                "max-parallel: got '{bad}'; expected a whole number from 1 to 50."
            )]
        );
    }
}

#[test]
fn shared_tags_and_twins_are_refused_up_front() {
    assert_eq!(
        errors(&[(
            "MATILLION_PIPELINES",
            r#"[{"pipeline": "a", "execution-tag": "t"},
                {"pipeline": "b", "execution-tag": "t", "environment": "dev"},
                {"pipeline": "c", "execution-tag": "t"}]"#,
        )]),
        [
            "pipelines: pipelines[0] ('a') and pipelines[2] ('c') would share execution tag 't' in environment 'prod': the second would only wait for the first. Give each its own `execution-tag`."
        ]
    );
    assert_eq!(
        errors(&[
            ("MATILLION_PIPELINE", "a\nb"),
            ("MATILLION_EXECUTION_TAG", "t")
        ]),
        [
            "execution-tag: would be shared by the 2 pipelines given in `pipeline`, which would then wait for each other; give each pipeline its own tag with `pipelines`, or no tag."
        ]
    );
    assert_eq!(
        errors(&[("MATILLION_PIPELINE", "a\nb\na")]),
        [
            "pipeline: lists 'a' twice; each pipeline runs once per step (the lookup of a lost trigger reply could not tell the two runs apart)."
        ]
    );
    // The same pipeline in two environments is two pipelines.
    let ok = parse(&base(&[(
        "MATILLION_PIPELINES",
        r#"[{"pipeline": "a"}, {"pipeline": "a", "environment": "dev"}]"#,
    )]));
    assert!(ok.is_ok());
}

#[test]
fn environment_may_come_from_every_entry() {
    let mut e = base(&[(
        "MATILLION_PIPELINES",
        r#"[{"pipeline": "a", "environment": "x"}, {"pipeline": "b"}]"#,
    )]);
    e.remove("MATILLION_ENVIRONMENT");
    let errs = parse(&e).expect_err("b has no environment");
    assert_eq!(
        errs.to_string(),
        "input 'pipelines': pipelines[1] ('b'): field 'environment' is required: no `environment` input is given for every pipeline."
    );
}

#[test]
fn datalab_runs_one_pipeline() {
    let e: HashMap<String, String> = [
        ("MATILLION_PLATFORM", "datalab"),
        ("DATALAB_API_KEY", "k"),
        ("DATALAB_PIPELINE", "pl_a\npl_b"),
        ("DATALAB_FILE_URL", "https://example.com/x.pdf"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let errs = parse(&e).expect_err("several Datalab pipelines");
    assert!(
        errs.to_string().starts_with(
            "input 'pipeline': lists several pipelines, one a line: that is for Matillion only."
        ),
        "{errs}"
    );
}
