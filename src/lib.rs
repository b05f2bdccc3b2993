//! pipeline-run: trigger a published data pipeline from CI, wait for it, report its steps.
//!
//! `run()` in [`cli`] reads as the recipe: inputs → validated [`config::Config`] → trigger
//! and wait ([`orchestrate`]) → reporters ([`report`]) → exit code ([`exit::Exit`]).

pub mod args;
pub mod auth;
pub mod cancel;
pub mod ci;
pub mod cli;
pub mod clock;
pub mod config;
pub mod emit;
pub mod exit;
pub mod http;
pub mod inputs;
pub mod lenient;
pub mod logging;
pub mod orchestrate;
pub mod platform;
pub mod post;
pub mod redact;
pub mod report;
pub mod secret;
pub mod signals;
pub mod suggest;
pub mod timefmt;
pub mod unknown;

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
