//! Argv dispatch: `run` (the default, or the `command` input's), `wait`, `status`,
//! `publish`, `promote`, `cancel`, `post`, `--help`, `--version`. `run()` reads as the
//! recipe: inputs → validated config → trigger (for `wait`, find the execution) and wait
//! (on worker threads under one supervisor, see [`crate::run`]) → reporters → exit code.

use crate::clock::{Clock, RealClock, Signal, SignalState};
use crate::config::Purpose;
use crate::config::artifact::ArtifactCommand;
use crate::config::load::process_env;
use crate::exit::Exit;
use crate::http::Http;
use crate::timings::Timings;
use crate::{config, emit, logging, run};
use std::sync::Arc;
use std::sync::mpsc;

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
    let command = match invocation.command_with(&env) {
        Ok(c) => c,
        Err(e) => {
            crate::logging::init(&env, crate::ci::detect(&env));
            log::error!("{e}");
            log::error!("nothing was sent: fix the input above.");
            return Exit::BadInput.code();
        }
    };
    match command {
        crate::args::Command::Run => run(&env, Purpose::Run).code(),
        crate::args::Command::Wait => run(&env, Purpose::Wait).code(),
        crate::args::Command::Status => crate::status::run(&env).code(),
        crate::args::Command::Publish => {
            crate::artifact::run(ArtifactCommand::Publish, &env).code()
        }
        crate::args::Command::Promote => {
            crate::artifact::run(ArtifactCommand::Promote, &env).code()
        }
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

/// `pipeline-run run` (`Purpose::Run`), and `pipeline-run wait`, which follows an
/// execution that exists instead of triggering one.
pub(crate) fn run(env: &dyn Fn(&str) -> Option<String>, purpose: Purpose) -> Exit {
    let ci = crate::ci::detect(env);
    logging::init(env, ci);
    let cfg = match config::load::load_for(env, ci, purpose) {
        Ok(c) => c,
        Err(e) => return e,
    };
    log::info!("{}", cfg.timeout_line());
    for w in cfg.warnings() {
        log::warn!("{w}");
    }

    let signals = SignalState::new();
    let (sig_tx, sig_rx) = mpsc::channel::<Signal>();
    if let Err(e) = crate::signals::install(signals.clone(), sig_tx) {
        log::warn!(
            "could not install signal handlers ({e}); a cancelled job may leave the run going"
        );
    }
    let timings = Timings::from_env(env);
    let clock: Arc<dyn Clock> = Arc::new(RealClock::new(signals.clone()));
    let http = Http::new(clock.clone());
    let workers = run::Workers::build(&cfg, http, clock.clone(), (&timings, ci), env);
    let report = run::supervise(&cfg, workers, clock, &timings, sig_rx, env, ci);
    if let Some(bad) = config::load::unusable_ca_bundle(&cfg, ci) {
        return bad;
    }
    emit::all(&cfg, &report, ci, env);
    report.exit()
}
