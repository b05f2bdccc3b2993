//! The recipe: read inputs → validated config → trigger and wait (on a worker thread, so
//! a signal can be answered even while a request is in flight) → reporters → exit code.

use crate::auth::BearerAuth;
use crate::ci::CiKind;
use crate::clock::{Clock, RealClock, Signal, SignalState};
use crate::config::{self, Config, MatillionAuth, PlatformConfig};
use crate::exit::Exit;
use crate::http::Http;
use crate::orchestrate::{self, Progress, SharedProgress};
use crate::platform::Platform;
use crate::platform::matillion::Matillion;
use crate::report::{CancelResult, Outcome, RunReport};
use crate::{emit, logging};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// After a signal, how long to wait for the worker to stop by itself.
pub const SIGNAL_SETTLE: Duration = Duration::from_millis(1500);
/// After a signal, how long the cancel request may take (SIGTERM follows SIGINT by 7.5 s).
pub const SIGNAL_CANCEL_BUDGET: Duration = Duration::from_secs(4);
/// After a signal's cancel, how long to follow the run to CANCELLED.
pub const SIGNAL_CANCEL_FOLLOW: Duration = Duration::from_millis(1500);
/// After a signal, when the worker is still busy and no execution is known, it may be
/// waiting for the trigger's reply: how much longer to wait, so the run it creates is known
/// and cancelled rather than left running.
pub const SIGNAL_TRIGGER_WAIT: Duration = Duration::from_millis(1500);
/// The whole clean-up after a signal should fit in this (a cancelled GitHub job sends
/// SIGTERM 7.5 s after SIGINT, and a second signal ends the process at once).
pub const SIGNAL_WINDOW: Duration = Duration::from_secs(7);

/// The process environment as a lookup function.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Entry point: returns the exit code.
pub fn main_entry() -> i32 {
    // `args_os`: a non-UTF-8 argument is reported as unknown, never a panic.
    let mut argv = std::env::args_os().map(|a| a.to_string_lossy().into_owned());
    let argv0 = argv.next().unwrap_or_default();
    let args: Vec<String> = argv.collect();
    let env = process_env;
    // The GitHub post step is chosen by the program's name, before any argument: the
    // runner passes `runs.args` to the post entrypoint too, and it must never trigger.
    if crate::post::invoked_as_post(&argv0) {
        return crate::post::run(&env).code();
    }
    let invocation = match crate::args::parse(&args) {
        Ok(i) => i,
        Err(errors) => return crate::args::refuse(&errors, &env).code(),
    };
    let env = invocation.lookup(&env);
    match invocation.command {
        crate::args::Command::Run => run(&env).code(),
        crate::args::Command::Cancel => crate::cancel::run(&env).code(),
        crate::args::Command::Post => crate::post::run(&env).code(),
        crate::args::Command::Version => {
            println!("pipeline-run {}", env!("CARGO_PKG_VERSION"));
            0
        }
        crate::args::Command::Help => {
            print!("{}", crate::args::help());
            0
        }
    }
}

/// Build the platform client for `cfg`.
pub fn platform_for(cfg: &Config, http: Http, ci: CiKind) -> Arc<dyn Platform> {
    let http = match &cfg.ca_bundle {
        Some(b) => {
            log::info!(
                "trusting the {} root certificate(s) in {} instead of the bundled ones",
                b.certs.len(),
                b.path.display()
            );
            http.with_root_certs(&b.certs)
        }
        None => http,
    };
    match &cfg.platform {
        PlatformConfig::Matillion(m) => {
            let auth = match &m.auth {
                MatillionAuth::Token(t) => BearerAuth::token(t.clone()),
                MatillionAuth::ClientCredentials {
                    client_id,
                    client_secret,
                    token_url,
                } => BearerAuth::client_credentials(
                    client_id.clone(),
                    client_secret.clone(),
                    token_url.clone(),
                )
                .with_hook(emit::mask_hook(ci)),
            };
            Arc::new(Matillion::new(m.clone(), http, auth))
        }
        PlatformConfig::Datalab(d) => {
            Arc::new(crate::platform::datalab::Datalab::new(d.clone(), http))
        }
    }
}

/// Read and validate the inputs; print every problem (exit 2) when they are bad.
pub fn load_config(env: &dyn Fn(&str) -> Option<String>, ci: CiKind) -> Result<Config, Exit> {
    crate::unknown::log_warnings(env);
    config::from_lookup(env).map_err(|errs| {
        for e in &errs.0 {
            log::error!("input '{}': {}", e.input, e.message);
        }
        emit::input_errors(ci, &errs);
        log::error!("nothing was triggered: fix the input(s) above.");
        Exit::BadInput
    })
}

/// The exit code for a finished report.
pub fn exit_for(report: &RunReport) -> Exit {
    match &report.outcome {
        Outcome::Succeeded | Outcome::Triggered | Outcome::DryRun | Outcome::CancelRequested => {
            Exit::Success
        }
        Outcome::Failed => Exit::RunFailed,
        Outcome::TimedOut { .. } => Exit::TimedOut,
        Outcome::Refused { .. } => Exit::Refused,
        Outcome::Interrupted { signal, .. } if signal == "SIGINT" => Exit::Interrupted,
        Outcome::Interrupted { .. } => Exit::Terminated,
    }
}

/// `pipeline-run run`.
pub fn run(env: &dyn Fn(&str) -> Option<String>) -> Exit {
    let ci = crate::ci::detect(env);
    logging::init(env, ci);
    let cfg = match load_config(env, ci) {
        Ok(c) => c,
        Err(e) => return e,
    };
    log::info!("{}", cfg.timeout_line());

    let signals = SignalState::new();
    let (sig_tx, sig_rx) = mpsc::channel::<Signal>();
    if let Err(e) = crate::signals::install(signals.clone(), sig_tx) {
        log::warn!(
            "could not install signal handlers ({e}); a cancelled job may leave the run going"
        );
    }
    let clock: Arc<dyn Clock> = Arc::new(RealClock::new(signals.clone()));
    let http = Http::new(clock.clone());
    let platform = platform_for(&cfg, http, ci);
    let progress: SharedProgress = Arc::new(Mutex::new(Progress::default()));

    let report = run_with(platform, &cfg, clock, progress, sig_rx, env, ci);
    emit::all(&cfg, &report, ci, env);
    exit_for(&report)
}

/// The run on a worker thread; the calling thread answers signals.
pub fn run_with(
    platform: Arc<dyn Platform>,
    cfg: &Config,
    clock: Arc<dyn Clock>,
    progress: SharedProgress,
    sig_rx: mpsc::Receiver<Signal>,
    env: &dyn Fn(&str) -> Option<String>,
    ci: CiKind,
) -> RunReport {
    let (done_tx, done_rx) = mpsc::channel::<RunReport>();
    let state_file = emit::state_saver(ci, env, cfg.wait);
    let id_files = emit::id_saver(cfg);
    {
        let platform = platform.clone();
        let worker_cfg = cfg.clone();
        let clock = clock.clone();
        let progress = progress.clone();
        let spawned = std::thread::Builder::new()
            .name("run".into())
            .spawn(move || {
                let on_triggered = |id: &str| {
                    id_files(id);
                    state_file(id);
                };
                let report = orchestrate::run(
                    platform.as_ref(),
                    &worker_cfg,
                    clock.as_ref(),
                    &progress,
                    &on_triggered,
                );
                let _ = done_tx.send(report);
            });
        if let Err(e) = spawned {
            let mut r = orchestrate::initial_report(cfg);
            r.outcome = Outcome::Refused {
                reason: format!("could not start the worker thread: {e}"),
            };
            return r;
        }
    }

    // Wait for the worker, or for a signal. The worker wakes from its sleeps on a signal
    // and may well report first: its report is then the start of the clean-up, not the end.
    let (signal, early) = loop {
        match done_rx.recv_timeout(Duration::from_millis(100)) {
            Ok(report) => match &report.outcome {
                Outcome::Interrupted { signal, .. } => {
                    let s = if signal == "SIGINT" {
                        Signal::Int
                    } else {
                        Signal::Term
                    };
                    break (s, Some(report));
                }
                _ => return report,
            },
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let mut r = orchestrate::initial_report(cfg);
                r.outcome = Outcome::Refused {
                    reason: "the run stopped unexpectedly".into(),
                };
                return r;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if let Ok(s) = sig_rx.try_recv() {
            break (s, None);
        }
        if let Some(s) = clock.pending_signal() {
            break (s, None);
        }
    };
    let name = orchestrate::signal_name(signal);
    log::warn!("received {name}: stopping");
    let signalled = std::time::Instant::now();

    // Give the worker a moment to stop by itself (it wakes from any sleep at once).
    let mut finished = early.or_else(|| done_rx.recv_timeout(SIGNAL_SETTLE).ok());
    if finished.is_none() && cfg.wait && known_execution(&progress).is_none() {
        log::info!(
            "waiting a moment for the trigger's reply, so that a run it created is cancelled"
        );
        finished = done_rx.recv_timeout(SIGNAL_TRIGGER_WAIT).ok();
    }
    if let Some(r) = &finished {
        if !matches!(r.outcome, Outcome::Interrupted { .. }) {
            // It ended on its own (the run finished just as the signal came).
            return r.clone();
        }
    }
    let (snapshot, running) = {
        let p = progress.lock().unwrap_or_else(|e| e.into_inner());
        (p.report.clone(), p.running.clone())
    };
    let mut report = finished
        .or(snapshot)
        .unwrap_or_else(|| orchestrate::initial_report(cfg));

    // A run still going is cancelled (never with wait: false).
    let cancel = match running.filter(|_| cfg.wait) {
        Some(id) if !platform.can_cancel() => {
            log::warn!("{}", orchestrate::no_cancel(platform.as_ref(), &id));
            CancelResult::Unsupported
        }
        Some(id) => {
            log::warn!("cancelling execution {id}");
            // What is left of the window pays for the follow first, then the request.
            let left = SIGNAL_WINDOW
                .saturating_sub(signalled.elapsed())
                .saturating_sub(SIGNAL_CANCEL_FOLLOW);
            orchestrate::cancel_and_follow(
                platform.as_ref(),
                &id,
                clock.as_ref(),
                SIGNAL_CANCEL_BUDGET.min(left).max(Duration::from_secs(1)),
                SIGNAL_CANCEL_FOLLOW,
                false,
            )
        }
        None => CancelResult::NotAttempted,
    };
    if matches!(cancel, CancelResult::Cancelled) {
        report.status = Some("CANCELLED".into());
    }
    report.outcome = Outcome::Interrupted {
        signal: name.into(),
        cancel,
    };
    report
}

/// The execution id the worker has published, if any.
fn known_execution(progress: &SharedProgress) -> Option<String> {
    let p = progress.lock().unwrap_or_else(|e| e.into_inner());
    p.running
        .clone()
        .or_else(|| p.report.as_ref().and_then(|r| r.execution_id.clone()))
}
