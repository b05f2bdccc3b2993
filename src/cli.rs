//! Argv dispatch: `run` (the default), `cancel`, `post`, `--help`, `--version`. `run()`
//! reads as the recipe: inputs → validated config → trigger and wait (on a worker thread,
//! see [`crate::supervise`]) → reporters → exit code.

use crate::clock::{Clock, RealClock, Signal, SignalState};
use crate::exit::Exit;
use crate::http::Http;
use crate::timings::Timings;
use crate::wiring::{load_config, platform_for, process_env};
use crate::{emit, inputs, logging, supervise};
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
    match args.first().map(String::as_str) {
        None | Some("run") => run(&env).code(),
        Some("cancel") => crate::cancel::run(&env).code(),
        Some("post") => crate::post::run(&env).code(),
        Some("--version" | "-V" | "version") => {
            println!("pipeline-run {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Some("--help" | "-h" | "help") => {
            print!("{}", help());
            0
        }
        Some(other) => {
            eprintln!(
                "pipeline-run: unknown command '{}'; expected `run` (the default), `cancel` or `post`. Inputs come from environment variables: see --help.",
                crate::http::clean(other)
            );
            Exit::BadInput.code()
        }
    }
}

fn help() -> String {
    let mut s = format!(
        "pipeline-run {}: trigger a published data pipeline, wait for it, report its steps.\n\n\
         Usage: pipeline-run [run|cancel|post|--help|--version]\n\n\
         Inputs are environment variables: INPUT_<ID> (GitHub Actions), or MATILLION_<ID> /\n\
         DATALAB_<ID> with the id in upper snake case (e.g. MATILLION_CLIENT_ID).\n\n",
        env!("CARGO_PKG_VERSION")
    );
    for i in inputs::INPUTS {
        s.push_str(&format!(
            "  {:<28} {}{}\n",
            i.id,
            i.help,
            i.default
                .map(|d| format!(" [default: {d}]"))
                .unwrap_or_default()
        ));
    }
    s.push_str("\nExit codes: 0 success, 1 the run failed, 2 bad input, 3 timed out, 4 refused or unreachable, 130/143 interrupted.\n");
    s
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
    let timings = Timings::from_env(env);
    let clock: Arc<dyn Clock> = Arc::new(RealClock::new(signals.clone()));
    let platform = platform_for(&cfg, Http::new(clock.clone()), &timings, ci);

    let report = supervise::run_with(platform, &cfg, clock, &timings, sig_rx, env, ci);
    emit::all(&cfg, &report, ci, env);
    Exit::from(&report.outcome)
}
