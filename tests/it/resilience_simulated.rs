//! Failure handling where the waiting is long (a token that expires mid-run, a platform that
//! answers 503 for an hour, a signal ten minutes in): the production code path in-process,
//! over real loopback HTTP, with one `SimClock` shared by the simulator and the program,
//! so hours of simulated time take milliseconds.

use pipeline_run::ci::CiKind;
use pipeline_run::clock::{Clock, Signal, SimClock};
use pipeline_run::config::{self, Config};
use pipeline_run::exit::Exit;
use pipeline_run::http::Http;
use pipeline_run::model::{CancelResult, Outcome, RunReport};
use pipeline_run::platform::matillion::{Listed, pick_own};
use pipeline_run::platform::{Platform, build};
use pipeline_run::run::{self as run_path, Workers, worker};
use pipeline_run::timings::Timings;
use pipeline_run::wait::Waiter;
use pipeline_run_sim::{
    Environment, Fault, FaultAction, Project, PublishedPipeline, Route, RunScript, SimConfig,
    SimHandle, Simulator,
};
use std::collections::HashMap;
use std::sync::{Arc, mpsc};
use std::time::{Duration, SystemTime};

const PROJECT_ID: &str = "5d0e7a2c-1111-4222-8333-944455556666";
const HOUR: Duration = Duration::from_secs(3600);
const MINUTE: Duration = Duration::from_secs(60);

/// `nightly` runs two hours, `quick` a minute.
fn sim(clock: &Arc<SimClock>, faults: Vec<Fault>) -> SimHandle {
    let mut c = SimConfig::new()
        .token_ttl(30 * MINUTE)
        .cancel_delay(Duration::from_millis(500))
        .project(
            Project::new(PROJECT_ID, "Warehouse").environment(
                Environment::new("prod")
                    .pipeline(PublishedPipeline::new(
                        "nightly",
                        RunScript::new(2 * HOUR, 5).phase(MINUTE, "QUEUED"),
                    ))
                    .pipeline(PublishedPipeline::new("quick", RunScript::new(MINUTE, 2))),
            ),
        );
    for f in faults {
        c = c.fault(f);
    }
    Simulator::start(c, crate::sim_time::for_sim(clock)).expect("start simulator")
}

fn config(sim: &SimHandle, pipeline: &str, extra: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = [
        ("MATILLION_API_URL", sim.base_url()),
        ("MATILLION_TOKEN_URL", sim.token_url()),
        ("MATILLION_CLIENT_ID", "sim-client".into()),
        ("MATILLION_CLIENT_SECRET", "sim-secret".into()),
        ("MATILLION_PROJECT", "Warehouse".into()),
        ("MATILLION_ENVIRONMENT", "prod".into()),
        ("MATILLION_PIPELINE", pipeline.into()),
        ("MATILLION_POLL_INTERVAL", "30s".into()),
        ("MATILLION_MAX_POLL_INTERVAL", "5m".into()),
        ("MATILLION_TIMEOUT", "3h".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    config::from_lookup(&|k: &str| vars.get(k).cloned()).expect("valid config")
}

fn platform(cfg: &Config, clock: &Arc<SimClock>) -> Arc<dyn Platform> {
    build::client(
        cfg,
        Http::new(clock.clone()),
        &Timings::DEFAULT,
        CiKind::Plain,
    )
}

/// The whole flow, on the worker path `run::worker::run` (no signals).
fn run(cfg: &Config, clock: &Arc<SimClock>, http_setup: impl FnOnce(&mut Http)) -> RunReport {
    let mut http = Http::new(clock.clone());
    http_setup(&mut http);
    let p = build::client(cfg, http, &Timings::DEFAULT, CiKind::Plain);
    worker::run(p.as_ref(), cfg, clock.as_ref(), &Timings::DEFAULT, &|_| {})
}

#[test]
fn token_expiring_mid_wait_is_replaced_before_it_expires() {
    let clock = SimClock::new();
    let sim = sim(&clock, vec![]);
    let cfg = config(&sim, "nightly", &[]);
    let report = run(&cfg, &clock, |_| {});
    assert_eq!(report.outcome, Outcome::Succeeded, "{:?}", report.notes);
    assert_eq!(report.status.as_deref(), Some("SUCCESS"));
    assert!(clock.elapsed() >= 2 * HOUR);
    // 30-minute tokens over a two-hour run: each replaced at the first request after 25
    // minutes (polls are at most 5 minutes apart), so always before it expires.
    let times = token_times(&sim);
    assert!(times.len() >= 5, "tokens at {times:?}");
    assert_eq!(times.len(), sim.issued_tokens().len());
    for (a, b) in times.windows(2).map(|w| (w[0], w[1])) {
        assert!(
            b - a >= 25 * MINUTE && b - a < 30 * MINUTE,
            "a token replaced after {:?}",
            b - a
        );
    }
    // Never refused: every request carried a live token.
    let refused: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.status == Some(401))
        .collect();
    assert!(refused.is_empty(), "{} requests got 401", refused.len());
}

fn token_times(sim: &SimHandle) -> Vec<Duration> {
    sim.requests_to(Route::Token)
        .iter()
        .map(|r| r.elapsed)
        .collect()
}

#[test]
fn token_revoked_mid_wait_gets_one_new_token() {
    // The platform forgets the token before its time: the 401 costs one new token and one
    // repeat of the same poll; the run is followed to its end.
    let clock = SimClock::new();
    let sim = sim(&clock, vec![]);
    let cfg = config(&sim, "quick", &[]);
    let p = platform(&cfg, &clock);
    let mut report = RunReport::for_config(&cfg);
    let w = Waiter {
        clock: clock.as_ref(),
        deadline: clock.now() + HOUR,
        initial: cfg.poll_interval,
        max: cfg.max_poll_interval,
        heartbeat: Timings::DEFAULT.heartbeat,
        seed: 1,
        lookup: Timings::DEFAULT.lost_reply_lookup,
    };
    p.prepare(w.budget(), &mut report).expect("prepare");
    let id = p.trigger(&w, &mut report).expect("trigger");
    sim.expire_tokens();
    let end = w
        .until_end(|budget| p.status(&id, budget), |_| {})
        .expect("the run ends");
    assert_eq!(end.status, "SUCCESS");
    assert_eq!(sim.issued_tokens().len(), 2);
    let polls: Vec<_> = sim
        .requests_to(Route::Status)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(polls[..2], [Some(401), Some(200)]);
}

#[test]
fn deadline_while_the_platform_answers_503_times_out_with_the_last_error() {
    // Every status poll answers 503 for the whole hour: the retries stop at the deadline,
    // the run is cancelled, exit 3, and the report says what kept failing.
    let clock = SimClock::new();
    let sim = sim(
        &clock,
        vec![Fault::always(
            Route::Status,
            FaultAction::unavailable_json(),
        )],
    );
    let cfg = config(&sim, "nightly", &[("MATILLION_TIMEOUT", "1h")]);
    let report = run(&cfg, &clock, |_| {});
    assert!(
        matches!(report.outcome, Outcome::TimedOut { .. }),
        "{:?}",
        report.outcome
    );
    assert_eq!(Exit::from(&report.outcome), Exit::TimedOut);
    assert!(
        report.notes.iter().any(|n| n.contains(
            "last error: the status poll answered 503 Service Unavailable: Try again later"
        )),
        "{:?}",
        report.notes
    );
    // Bounded: the polls stopped at the deadline; then came the cancel.
    let cancels = sim.requests_to(Route::Cancel);
    assert_eq!(cancels.len(), 1);
    let polls: Vec<_> = sim
        .requests_to(Route::Status)
        .into_iter()
        .filter(|r| r.id < cancels[0].id)
        .collect();
    let last_poll = polls.last().expect("polled").elapsed;
    assert!(last_poll <= HOUR, "polled until {last_poll:?}");
    assert!(last_poll >= HOUR - 2 * MINUTE, "gave up at {last_poll:?}");
    // Retries back off to the 30 s cap, not hammering: about two a minute.
    assert!(polls.len() < 150, "{} polls in an hour", polls.len());
    assert!(cancels[0].elapsed <= HOUR + MINUTE);
    assert!(sim.executions()[0].cancel_requested);
}

#[test]
fn deadline_while_the_platform_answers_503_before_the_trigger_exits_4() {
    let clock = SimClock::new();
    let sim = sim(
        &clock,
        vec![Fault::always(
            Route::Projects,
            FaultAction::unavailable_json(),
        )],
    );
    let cfg = config(&sim, "nightly", &[("MATILLION_TIMEOUT", "1h")]);
    let report = run(&cfg, &clock, |_| {});
    assert_eq!(Exit::from(&report.outcome), Exit::Refused);
    let Outcome::Refused { reason } = &report.outcome else {
        panic!("{:?}", report.outcome)
    };
    assert!(
        reason.contains("Matillion could not be reached for the project list before the deadline; last error: the project list answered 503 Service Unavailable: Try again later"),
        "{reason}"
    );
    assert!(sim.requests_to(Route::Trigger).is_empty());
    assert!(clock.elapsed() <= HOUR);
    assert!(clock.elapsed() >= HOUR - MINUTE);
}

#[test]
fn a_stalled_reply_is_cut_by_the_attempt_timeout_not_the_deadline() {
    // The deadline is hours away; one poll stalls. The attempt is abandoned after its own
    // timeout and the poll is sent again.
    let clock = SimClock::new();
    let sim = sim(
        &clock,
        vec![Fault::once(
            Route::Status,
            FaultAction::Delay(Duration::from_secs(5)),
        )],
    );
    let cfg = config(&sim, "quick", &[]);
    let report = run(&cfg, &clock, |h| {
        h.attempt_timeout = Duration::from_millis(300)
    });
    assert_eq!(report.outcome, Outcome::Succeeded, "{:?}", report.notes);
    let polls = sim.requests_to(Route::Status);
    assert_eq!(polls[0].fault, Some("delay"));
    assert!(polls.len() >= 2);
    assert_eq!(sim.executions().len(), 1);
}

#[test]
fn signal_ten_minutes_in_cancels_within_seconds() {
    // SIGTERM at 10 minutes of simulated time, through the same path as the binary
    // (`run::supervise`): the cancel is sent at once, the report says so.
    let clock = SimClock::new();
    let sim = sim(&clock, vec![]);
    let cfg = config(&sim, "nightly", &[]);
    let p = platform(&cfg, &clock);
    clock.signal_at(10 * MINUTE, Signal::Term);
    let (_tx, rx) = mpsc::channel();
    let mut reports = run_path::supervise(
        &cfg,
        Workers::one(&cfg, p, clock.clone()),
        clock.clone(),
        &Timings::DEFAULT,
        rx,
        &|_| None,
        CiKind::Plain,
    );
    assert_eq!(reports.runs.len(), 1);
    let report = reports.runs.remove(0);
    assert_eq!(Exit::from(&report.outcome), Exit::Terminated);
    assert_eq!(
        report.outcome,
        Outcome::Interrupted {
            signal: Signal::Term,
            cancel: CancelResult::Cancelled
        }
    );
    let exec = &sim.executions()[0];
    assert_eq!(report.execution_id.as_deref(), Some(exec.id.as_str()));
    assert_eq!(exec.status, "CANCELLED");
    let cancels = sim.requests_to(Route::Cancel);
    assert_eq!(cancels.len(), 1);
    let lag = cancels[0].elapsed - 10 * MINUTE;
    assert!(
        lag < Duration::from_secs(5),
        "cancel sent {lag:?} after the signal"
    );
}

#[test]
fn lost_reply_on_simulated_time_adopts_the_run_it_created() {
    // With the platform's clock and ours the same, the run our lost trigger created is
    // found through the startedAfter filter and adopted; no second trigger.
    let clock = SimClock::new();
    let sim = sim(
        &clock,
        vec![Fault::once(Route::Trigger, FaultAction::LoseReply)],
    );
    let cfg = config(&sim, "quick", &[]);
    let report = run(&cfg, &clock, |_| {});
    assert_eq!(report.outcome, Outcome::Succeeded, "{:?}", report.notes);
    assert_eq!(sim.executions().len(), 1);
    assert_eq!(sim.requests_to(Route::Trigger).len(), 1);
    assert_eq!(
        report.execution_id.as_deref(),
        Some(sim.executions()[0].id.as_str())
    );
    let list = &sim.requests_to(Route::ListExecutions)[0];
    let after = list
        .query_pairs()
        .into_iter()
        .find(|(k, _)| k == "startedAfter")
        .map(|(_, v)| v)
        .expect("startedAfter sent");
    let after = pipeline_run::timefmt::parse_rfc3339(&after).expect("RFC 3339");
    assert!(after <= sim.executions()[0].started_wall);
}

fn listed(id: &str, pipeline: &str, trigger: &str, started: SystemTime) -> Listed {
    Listed {
        pipeline_execution_id: id.into(),
        pipeline_name: pipeline.into(),
        environment_name: "prod".into(),
        status: "RUNNING".into(),
        started_at: Some(pipeline_run::timefmt::format_rfc3339(started)),
        finished_at: None,
        trigger: Some(trigger.into()),
    }
}

#[test]
fn adoption_picks_the_run_nearest_the_first_attempt() {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    let s = Duration::from_secs;
    // Newest first, as the platform lists them.
    let all = vec![
        listed("later-job", "nightly", "API", t0 + s(40)),
        listed("partial-name", "nightly-extra", "API", t0 + s(1)),
        listed("scheduled", "nightly", "SCHEDULE", t0 + s(1)),
        listed("ours", "nightly", "API", t0 + s(2)),
        listed("earlier-job", "nightly", "API", t0 - s(60)),
    ];
    let got = pick_own(all.clone(), "nightly", "prod", t0).map(|e| e.pipeline_execution_id);
    assert_eq!(got.as_deref(), Some("ours"));
    // The platform's clock 30 s behind ours: ours seems to start before the first attempt.
    let skewed = vec![
        listed("ours", "nightly", "API", t0 - s(29)),
        listed("earlier-job", "nightly", "API", t0 - s(110)),
    ];
    let got = pick_own(skewed, "nightly", "prod", t0).map(|e| e.pipeline_execution_id);
    assert_eq!(got.as_deref(), Some("ours"));
    // Outside the skew window, or another environment: not ours; nothing is adopted.
    let mut other_env = listed("elsewhere", "nightly", "API", t0 + s(1));
    other_env.environment_name = "dev".into();
    let none = vec![
        listed("old", "nightly", "API", t0 - s(600)),
        other_env,
        listed("partial-name", "nightly-extra", "API", t0 + s(1)),
    ];
    assert!(pick_own(none, "nightly", "prod", t0).is_none());
}
