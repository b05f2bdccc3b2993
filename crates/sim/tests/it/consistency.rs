//! Faults of timing and order (issue 11): replicas that do not know a new execution yet,
//! a list that lags behind a lost trigger reply, a 201 that arrives late, a long
//! `Retry-After`, and a Datalab list in another order than newest first.

use crate::common::*;

#[test]
fn a_new_execution_is_unknown_to_lagging_replicas() {
    let t = T::start(world().replica_lag(secs(5)));
    let id = t.trigger(json!({"pipelineName": "nightly-load", "environmentName": "dev"}));
    let base = format!("/v1/projects/{PID}/pipeline-executions/{id}");
    for path in [
        base.clone(),
        format!("{base}/status"),
        format!("{base}/steps"),
    ] {
        let r = t.get(&path);
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.json()["title"], "Pipeline Execution not Found");
    }
    // The list and the store know it.
    let list = t
        .get(&format!("/v1/pipeline-executions?projectId={PID}"))
        .json();
    assert_eq!(execution_ids(&list), [id.as_str()]);
    t.clock.advance(Duration::from_millis(4999));
    assert_eq!(t.get(&format!("{base}/status")).status, 404);
    t.clock.advance(Duration::from_millis(1));
    assert_eq!(t.status(&id), "RUNNING");
    assert_eq!(t.get(&base).status, 200);
    assert_eq!(t.get(&format!("{base}/steps")).status, 200);

    // Cancel goes to the primary: it works during the lag.
    let other = t.trigger(json!({"pipelineName": "nightly-load", "environmentName": "dev"}));
    let r = t.patch(
        &format!("/v1/projects/{PID}/pipeline-executions/{other}"),
        &json!({"status": "CANCELLED", "forceUpdate": false}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(t.sim.execution(&other).unwrap().cancel_requested);
}

#[test]
fn a_lagging_list_and_a_lost_reply_make_a_retry_conflict() {
    let t = T::start(world().list_lag(secs(8)));
    t.sim
        .add_fault(Fault::once(Route::Trigger, FaultAction::LoseReply));
    let path = format!("/v1/projects/{PID}/pipeline-executions");
    let body =
        json!({"pipelineName": "nightly-load", "environmentName": "dev", "executionTag": "ci-7"});
    assert!(t.try_post(&path, &body).is_err());
    let created = t.sim.executions();
    assert_eq!(created.len(), 1);
    let list = || {
        execution_ids(
            &t.get(&format!("/v1/pipeline-executions?projectId={PID}"))
                .json(),
        )
    };
    assert!(list().is_empty());
    // The retry: our own run holds the tag.
    let r = t.post(&path, &body);
    assert_eq!(r.status, 409, "{}", r.body);
    t.clock.advance(secs(7));
    assert!(list().is_empty());
    t.clock.advance(secs(1));
    assert_eq!(list(), [created[0].id.clone()]);
    assert_eq!(t.sim.executions().len(), 1);
}

#[test]
fn a_delayed_trigger_reply_arrives_after_the_run_exists() {
    let t = T::start(world());
    t.sim.add_fault(Fault::once(
        Route::Trigger,
        FaultAction::delay_reply(secs(60)),
    ));
    std::thread::scope(|s| {
        let post = s.spawn(|| {
            t.post(
                &format!("/v1/projects/{PID}/pipeline-executions"),
                &json!({"pipelineName": "nightly-load", "environmentName": "dev"}),
            )
        });
        wait_until("the execution", || t.sim.executions().len() == 1);
        let id = t.sim.executions()[0].id.clone();
        // Running, and its reply still held.
        assert_eq!(t.status(&id), "QUEUED");
        let rec = t.sim.requests_to(Route::Trigger);
        assert_eq!((rec[0].status, rec[0].fault), (None, Some("delay-reply")));
        assert!(!post.is_finished());
        t.sim.release_delayed();
        let r = post.join().unwrap();
        assert_eq!(r.status, 201);
        assert_eq!(r.json()["pipelineExecutionId"], id.as_str());
    });
    assert_eq!(t.sim.requests_to(Route::Trigger)[0].status, Some(201));
}

#[test]
fn a_delayed_request_takes_effect_only_after_the_delay() {
    let t = T::start(world());
    t.sim
        .add_fault(Fault::once(Route::Trigger, FaultAction::Delay(secs(60))));
    std::thread::scope(|s| {
        let post = s.spawn(|| {
            t.post(
                &format!("/v1/projects/{PID}/pipeline-executions"),
                &json!({"pipelineName": "nightly-load", "environmentName": "dev"}),
            )
        });
        wait_until("the request", || {
            !t.sim.requests_to(Route::Trigger).is_empty()
        });
        assert!(t.sim.executions().is_empty());
        t.sim.release_delayed();
        assert_eq!(post.join().unwrap().status, 201);
    });
    assert_eq!(t.sim.executions().len(), 1);
}

#[test]
fn a_long_retry_after_is_sent_as_given() {
    let t = T::start(world());
    t.sim.add_fault(Fault::once(
        Route::Projects,
        FaultAction::too_many_requests(3600),
    ));
    let r = t.get("/v1/projects");
    assert_eq!(r.status, 429);
    assert!(
        r.headers
            .iter()
            .any(|(k, v)| k == "retry-after" && v == "3600")
    );
}

#[test]
fn datalab_lists_in_other_orders_page_consistently() {
    let runs = |order: ListOrder| {
        let t = T::start(world().datalab_list_order(order));
        let ids: Vec<String> = (0..5)
            .map(|_| {
                let id = t.datalab_run();
                t.clock.advance(secs(1));
                id
            })
            .collect();
        let mut paged = Vec::new();
        for offset in [0, 2, 4] {
            let v = t.datalab_list(&format!("limit=2&offset={offset}"));
            assert_eq!(v["total"], 5);
            paged.extend(datalab_ids(&v));
        }
        assert_eq!(paged, datalab_ids(&t.datalab_list("limit=10")));
        (ids, paged)
    };
    let (ids, newest) = runs(ListOrder::NewestFirst);
    assert_eq!(newest, ids.iter().rev().cloned().collect::<Vec<_>>());
    let (ids, oldest) = runs(ListOrder::OldestFirst);
    assert_eq!(oldest, ids);
    let (ids, shuffled) = runs(ListOrder::Shuffled(7));
    let mut sorted = shuffled.clone();
    sorted.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(sorted, expected, "every run once");
    assert_ne!(shuffled, ids.iter().rev().cloned().collect::<Vec<_>>());
}

#[test]
fn the_datalab_list_lags_too() {
    let t = T::start(world().list_lag(secs(3)));
    let id = t.datalab_run();
    assert!(datalab_ids(&t.datalab_list("")).is_empty());
    t.clock.advance(secs(3));
    assert_eq!(datalab_ids(&t.datalab_list("")), [id]);
}

#[test]
fn seeded_datalab_runs_are_listed_as_old_history() {
    let t = T::start(world().datalab_list_order(ListOrder::OldestFirst));
    t.clock.advance(secs(7200));
    let seeded = t
        .sim
        .add_datalab_runs("pl_x", "https://example.com/a.pdf", 3, secs(3600));
    assert_eq!(seeded.len(), 3);
    assert!(
        t.sim
            .add_datalab_runs("pl_nope", "x", 3, secs(1))
            .is_empty()
    );
    let id = t.datalab_run();
    let v = t.datalab_list("limit=10");
    assert_eq!(v["total"], 4);
    let mut expected = seeded.clone();
    expected.push(id);
    assert_eq!(
        datalab_ids(&v),
        expected,
        "oldest first: the seeded runs, then ours"
    );
    let created: Vec<&str> = v["executions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["created"].as_str().unwrap())
        .collect();
    assert!(created.windows(2).all(|w| w[0] < w[1]), "{created:?}");
}
