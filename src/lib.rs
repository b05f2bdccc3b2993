//! pipeline-run: trigger a published data pipeline from CI, wait for it, report its steps.
//!
//! `run()` in [`cli`] reads as the recipe: inputs → validated [`config::Config`] → trigger
//! and wait ([`orchestrate`]) → reporters ([`report`]) → exit code ([`exit::Exit`]).

pub mod ci;
pub mod clock;
pub mod exit;
pub mod report;
pub mod sim;
pub mod config;
pub mod inputs;
pub mod auth;
pub mod http;
pub mod secret;
pub mod orchestrate;
pub mod platform;
pub mod timefmt;
