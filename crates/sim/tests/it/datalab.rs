//! The Datalab API: multipart upload, progress on the clock, step results, validation.

use crate::common::*;

#[test]
fn datalab_upload_and_progress() {
    let t = T::start(world());
    let url = |p: &str| format!("{}{p}", t.sim.datalab_url());
    let file: Vec<u8> = b"%PDF-1.7\r\n--not-a-boundary\r\n\x00\x01\xff binary"
        .iter()
        .copied()
        .chain((0..=255u8).cycle().take(5000))
        .collect();
    let form = ureq::unversioned::multipart::Form::new()
        .part(
            "file",
            ureq::unversioned::multipart::Part::bytes(&file).file_name("report q3.pdf"),
        )
        .text("page_range", "0,2-4")
        .text("output_format", "markdown");
    let r = to_resp(
        t.agent
            .post(url("/api/v1/pipelines/pl_x/run"))
            .header("X-API-Key", "dl-key")
            .send(form),
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let o = r.json();
    assert_eq!(o["status"], "pending");
    assert_eq!(o["pipeline_id"], "pl_x");
    assert_eq!(o["pipeline_version"], 1);
    assert!(o["started_at"].is_null());
    assert!(o["created"].is_string());
    assert_eq!(o["steps"].as_array().unwrap().len(), 2);
    let id = o["execution_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("pex_"));

    let runs = t.sim.datalab_runs();
    assert_eq!(runs.len(), 1);
    let up = runs[0].file.as_ref().unwrap();
    assert_eq!(up.bytes, file);
    assert_eq!(up.filename.as_deref(), Some("report q3.pdf"));
    assert!(
        runs[0]
            .fields
            .contains(&("page_range".into(), "0,2-4".into()))
    );

    let get = || {
        let r = to_resp(
            t.agent
                .get(url(&format!("/api/v1/pipelines/executions/{id}")))
                .header("X-API-Key", "dl-key")
                .call(),
        )
        .unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    };
    t.clock.advance(secs(3));
    let o = get();
    assert_eq!(o["status"], "running");
    assert_eq!(o["steps"][0]["status"], "running");
    assert_eq!(o["steps"][1]["status"], "pending");
    assert!(o["steps"][0]["result_url"].is_null());
    t.clock.advance(secs(7));
    let o = get();
    assert_eq!(o["status"], "completed");
    assert!(o["completed_at"].is_string());
    let step = &o["steps"][1];
    assert_eq!(step["status"], "completed");
    assert_eq!(step["step_index"], 1);
    assert_eq!(step["step_type"], "extract");
    assert!(step["finished_at"].is_string());
    let result_url = step["result_url"].as_str().unwrap();
    let res = to_resp(t.agent.get(result_url).header("X-API-Key", "dl-key").call()).unwrap();
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["step_index"], 1);

    let r = to_resp(
        t.agent
            .get(url(&format!("/api/v1/pipelines/executions/{id}")))
            .header("X-API-Key", "wrong")
            .call(),
    )
    .unwrap();
    assert_eq!(r.status, 401);
    assert!(r.json()["detail"].is_string());
}

#[test]
fn datalab_validation() {
    let t = T::start(world());
    let post = |pipeline: &str, body: Vec<u8>| {
        to_resp(
            t.agent
                .post(format!(
                    "{}/api/v1/pipelines/{pipeline}/run",
                    t.sim.datalab_url()
                ))
                .header("X-API-Key", "dl-key")
                .header("Content-Type", "multipart/form-data; boundary=BND")
                .send(&body[..]),
        )
        .unwrap()
    };
    let both = multipart_body(
        "BND",
        &[
            ("file", Some("a.pdf"), b"abc"),
            ("file_url", None, b"https://example.com/a.pdf"),
        ],
    );
    let r = post("pl_x", both.clone());
    assert_eq!(r.status, 422);
    let d = &r.json()["detail"][0];
    assert!(d["loc"].is_array() && d["msg"].is_string() && d["type"].is_string());
    assert_eq!(
        post("pl_x", multipart_body("BND", &[("page_range", None, b"1")])).status,
        422
    );
    let r = post("pl_nope", both);
    assert_eq!(r.status, 404);
    assert!(r.json()["detail"].is_string());
    let url_only = multipart_body(
        "BND",
        &[
            ("file_url", None, b"https://example.com/a.pdf"),
            ("version", None, b"0"),
        ],
    );
    let r = post("pl_x", url_only);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["pipeline_version"], 0);
    assert_eq!(
        t.sim.datalab_runs()[0].file_url.as_deref(),
        Some("https://example.com/a.pdf")
    );
    assert_eq!(post("pl_x", b"not multipart".to_vec()).status, 422);

    t.sim.add_fault(Fault::once(
        Route::DatalabRun,
        FaultAction::too_many_requests(1),
    ));
    let url_only = multipart_body("BND", &[("file_url", None, b"https://example.com/a.pdf")]);
    assert_eq!(post("pl_x", url_only).status, 429);
}
