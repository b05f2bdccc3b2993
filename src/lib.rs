//! pipeline-run: trigger a published data pipeline from CI, wait for it, report its steps.
//!
//! `run()` in [`cli`] reads as the recipe: inputs → validated [`config::Config`] → the
//! pipelines on worker threads under one supervisor ([`run`]; one pipeline is a run of
//! one) → the one writer of every report (`emit`, over [`report`]) → exit code
//! ([`exit::Exit`]).
//!
//! # Layers
//!
//! The import graph runs one way. A module imports only modules of a lower layer, or
//! modules listed before it in its own layer. The names before each colon are the layer
//! table that `tests/it/architecture.rs` checks every `crate::` path of `src/` against,
//! so a drift fails the tests:
//!
//! 1. `clock`, `timings`, `secret`, `timefmt`, `token`, `suggest`, `poll`, `inputs`,
//!    `redact`, `lenient`, `text`: the leaves (time, durations, secrets, dates, random
//!    tokens, the polling schedule, the inputs table, redaction); the lenient JSON reader
//!    and the text cleaner use redaction.
//! 2. `http`, `ci`, `model`, `links`, `progress`, `wait`: the HTTP client; the CI system
//!    (log groups, masking); the run model, the web page of a run, the bookkeeping of
//!    live progress; the wait primitive (on the HTTP client's budgets).
//! 3. `auth`, `exit`, `logging`, `report`: tokens; exit codes; the logger; the reporters
//!    (pure renderers of the run model: summary, outputs, dotenv, JUnit, JSON).
//! 4. `args`, `unknown`: the command line, and the warnings about inputs nobody reads.
//! 5. `config`: inputs → validated config (`config::load` reads and refuses them as a
//!    command does).
//! 6. `platform`: the platform clients behind one trait (`platform::build` makes them).
//! 7. `emit`, `signals`: the one writer of every report; the signal handlers.
//! 8. `attach`, `run`, `artifact`: which execution `wait` and `status` follow instead of
//!    triggering one; the run path (the worker, the worker threads, the supervisor, the
//!    clean-up); `publish` and `promote`.
//! 9. `cancel`, `status`, `post`: cancel mode, one look at an execution, then the GitHub
//!    post step (on cancel mode).
//! 10. `cli`: argv dispatch, on top.

pub mod args;
mod artifact;
mod attach;
mod auth;
mod cancel;
pub mod ci;
pub mod cli;
pub mod clock;
pub mod config;
mod emit;
pub mod exit;
pub mod http;
pub mod inputs;
mod lenient;
mod links;
mod logging;
pub mod model;
pub mod platform;
pub mod poll;
pub mod post;
pub mod progress;
mod redact;
pub mod report;
pub mod run;
mod secret;
mod signals;
mod status;
mod suggest;
mod text;
pub mod timefmt;
pub mod timings;
mod token;
mod unknown;
pub mod wait;

/// Helpers shared by the unit tests.
#[cfg(test)]
pub(crate) mod testing {
    /// A lookup function over fixed `(name, value)` pairs, standing in for the environment.
    pub fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }
}
