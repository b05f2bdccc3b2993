//! Artifacts: create (multipart, headers), its refusals, ignored resources, details of a
//! version, promotions, and executing a version an environment lacks.

use crate::common::*;
use serde_json::json;

/// A multipart body of file parts, each with its content type.
fn body(boundary: &str, parts: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    for (name, ctype, data) in parts {
        let file = name.rsplit('/').next().unwrap_or(name);
        b.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: {ctype}\r\n\r\n"
            )
            .bytes(),
        );
        b.extend_from_slice(data);
        b.extend(b"\r\n");
    }
    b.extend(format!("--{boundary}--\r\n").bytes());
    b
}

fn create(t: &T, headers: &[(&str, &str)], parts: &[(&str, &str, &[u8])]) -> Resp {
    let mut req = t
        .agent
        .post(t.url(&format!("/v1/projects/{PID}/artifacts")))
        .header("Authorization", format!("Bearer {}", t.token))
        .header("Content-Type", "multipart/form-data; boundary=XyZ");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    to_resp(req.send(&body("XyZ", parts)[..])).unwrap()
}

const V1: [(&str, &str); 3] = [
    ("versionName", "v1"),
    ("environmentName", "dev"),
    ("commitHash", "abc123"),
];

#[test]
fn a_version_is_created_once_with_its_ignored_resources() {
    let t = T::start(world());
    let parts: [(&str, &str, &[u8]); 2] = [
        (
            "flows/nightly-load.orch.yaml",
            "text/plain",
            b"type: orchestration\n",
        ),
        ("README.md", "text/plain", b"# hi\n"),
    ];
    let r = create(&t, &V1, &parts);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"versionName": "v1", "ignoredResources": [{"name": "README.md", "reason": "Unsupported file type"}]})
    );
    let again = create(&t, &V1, &parts);
    assert_eq!(again.status, 409, "{}", again.body);
    let d = t.get(&format!(
        "/v1/projects/{PID}/artifacts/details?environmentName=dev&versionName=v1"
    ));
    assert_eq!(d.status, 200);
    assert_eq!(d.json()["details"]["commitHash"], "abc123");
    assert_eq!(d.json()["assets"], json!(["flows/nightly-load.orch.yaml"]));
    let none = t.get(&format!(
        "/v1/projects/{PID}/artifacts/details?environmentName=prod&versionName=v1"
    ));
    assert_eq!(none.status, 404);
    let a = t.sim.artifacts();
    assert_eq!(a.len(), 1);
    assert_eq!(
        a[0].files[0].filename.as_deref(),
        Some("nightly-load.orch.yaml")
    );
}

#[test]
fn archives_other_content_types_and_missing_headers_are_refused() {
    let t = T::start(world());
    let zip: [(&str, &str, &[u8]); 1] = [("project.zip", "text/plain", b"PK")];
    let r = create(&t, &V1, &zip);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["violations"],
        json!(["project.zip: archives are not supported"])
    );
    let yaml: [(&str, &str, &[u8]); 1] = [("a.orch.yaml", "application/x-yaml", b"x")];
    let r = create(&t, &V1, &yaml);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["violations"],
        json!(["a.orch.yaml: only text/plain files are accepted"])
    );
    let ok: [(&str, &str, &[u8]); 1] = [("a.sql", "text/plain", b"x")];
    let r = create(&t, &[("versionName", "v1")], &ok);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["violations"],
        json!(["environmentName: header is required"])
    );
    let r = create(&t, &[("versionName", "v1"), ("environmentName", "qa")], &ok);
    assert_eq!(r.status, 404);
    assert!(t.sim.artifacts().is_empty());
}

#[test]
fn promotions_and_the_versions_an_environment_runs() {
    let t = T::start(world());
    let parts: [(&str, &str, &[u8]); 1] = [("nightly-load.orch.yaml", "text/plain", b"x")];
    assert_eq!(create(&t, &V1, &parts).status, 201);
    let promote = |v: &str| {
        t.post(
            &format!("/v1/projects/{PID}/artifacts/promotions"),
            &json!({"sourceEnvironmentName": "dev", "targetEnvironmentName": "prod", "versionName": v}),
        )
    };
    assert_eq!(promote("v9").status, 404);
    let r = promote("v1");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"environmentName": "prod", "versionName": "v1"})
    );
    assert_eq!(promote("v1").status, 409);
    // prod holds artifacts now: it runs their versions, and no other.
    let run = |v: &str| {
        t.try_post(
            &format!("/v1/projects/{PID}/pipeline-executions"),
            &json!({"pipelineName": "nightly-load", "environmentName": "prod", "versionName": v}),
        )
        .unwrap()
    };
    assert_eq!(run("v1").status, 201);
    let r = run("v2");
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json()["detail"],
        "Version v2 of pipeline nightly-load not found"
    );
}
