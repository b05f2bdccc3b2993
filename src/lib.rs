//! pipeline-run: trigger a published data pipeline from CI, wait for it, report its steps.
//!
//! `run()` in [`cli`] reads as the recipe: inputs → validated [`config::Config`] → trigger
//! and wait ([`supervise`] over [`orchestrate`]) → reporters ([`report`]) → exit code
//! ([`exit::Exit`]).
//!
//! The import graph runs one way. A module imports only modules of a lower layer (or of
//! its own layer, where the list says so):
//!
//! 1. leaves, importing nothing of the crate: `clock`, `timings`, `secret`, `timefmt`,
//!    `text`, `token`, `suggest`, `poll`, `inputs`, `redact`; then `lenient` (on
//!    `redact`) and `unknown` (on `inputs`, `suggest`);
//! 2. `http`; then `auth` and `config` (both on `http`);
//! 3. the run model `model` (and `links`, the web page of a run, and `progress`, the
//!    bookkeeping of live progress) and the wait primitive `wait`;
//! 4. `exit`, `report` and `ci` (reporters and the CI system), `logging`; `report`'s
//!    `aggregate` (several pipelines) ranks outcomes with `exit`;
//! 5. `platform` (on `wait` and `model`); then `orchestrate`, the wait loop on it;
//! 6. `emit` (writes the reports; never the wait loop);
//! 7. `wiring` (config, platform client); `signals`;
//! 8. `supervise`, `fleet` (several pipelines: N runs of `orchestrate` under one
//!    supervisor; its progress lines are `supervise`'s), `cancel`; then `post` (on
//!    `cancel`); `args` (the command line, on `inputs` and `exit`);
//! 9. `cli`, argv dispatch, on top.

pub mod args;
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
